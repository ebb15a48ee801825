//! The OpenAPI document says what the server does: the bodies of its
//! answers, the parameters it reads, the fields it refuses null for.
//! `.ci/schemathesis.sh` checks the same at large.

use crate::common::*;

fn document() -> Value {
    serde_json::to_value(pss::openapi()).unwrap()
}

#[test]
fn the_document_keeps_the_kernels_promises() {
    assert_eq!(kernel::docs::lint(&pss::openapi()), Vec::<String>::new());
}

db_test!(validate_token_answers_its_documented_bodies, |app| {
    let doc = document();
    let refused =
        &doc["paths"]["/api/auth/password-reset/validate-token/"]["post"]["responses"]["400"];
    assert_eq!(
        refused["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenRefusedOut"
    );
    let either = &doc["components"]["schemas"]["TokenRefusedOut"]["anyOf"];
    assert_eq!(either[0]["$ref"], "#/components/schemas/TokenValidityOut");
    assert_eq!(either[1]["$ref"], "#/components/schemas/ValidationError");
    // A token that does not work: the verdict.
    let r = app
        .post("/api/auth/password-reset/validate-token/")
        .json(&json!({"token": "not-a-token"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["valid"], false);
    // No token to judge: the field map the document names too.
    let r = app
        .post("/api/auth/password-reset/validate-token/")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"token": ["This field is required."]})
    );
});

db_test!(
    admin_session_filters_read_query_strings_as_drf_does,
    |app| {
        let root = app.superuser().await;
        // The last of a repeated parameter wins, and a blank one is absent,
        // where they used to be a 400 `{".": ["Invalid value."]}`.
        let r = app
            .get("/api/auth/admin/sessions/?suspicious_only=null&suspicious_only=true&active_only=")
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["filters"]["suspicious_only"], true);
        assert_eq!(r.json["filters"]["active_only"], false);
        // Any other value leaves a filter off, as documented.
        let r = app
            .get("/api/auth/admin/sessions/?suspicious_only=AAA")
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["filters"]["suspicious_only"], false);
        let doc = document();
        let parameters = &doc["paths"]["/api/auth/admin/sessions/"]["get"]["parameters"];
        assert_eq!(parameters[2]["name"], "suspicious_only");
        assert_eq!(parameters[2]["schema"]["type"], "string");
    }
);

db_test!(journal_fields_are_what_the_document_says, |app| {
    let candidate = app.candidate().await;
    let doc = document();
    let entry = &doc["components"]["schemas"]["JournalEntryIn"];
    assert_eq!(
        entry["required"],
        json!(["title", "content", "mood", "energy_level"])
    );
    assert_eq!(entry["properties"]["energy_level"]["minimum"], 1);
    assert_eq!(entry["properties"]["date"]["type"], "string", "never null");
    // A whole float is an integer, as in JSON Schema and DRF.
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({"title": "Day", "content": "Fine", "mood": "good", "energy_level": 5.0, "barrier_count": 0.0}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["energy_level"], 5);
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({"title": "Day", "content": "Fine", "mood": "good", "energy_level": 5, "date": null}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"date": ["This field may not be null."]}));
});

db_test!(a_password_sign_in_documents_both_of_its_answers, |app| {
    let doc = document();
    let answers = &doc["components"]["schemas"]["LoginOut"]["oneOf"];
    assert_eq!(answers[0]["$ref"], "#/components/schemas/SessionOut");
    assert_eq!(
        answers[1]["$ref"],
        "#/components/schemas/TwoFactorChallengeOut"
    );
    let challenge = &doc["components"]["schemas"]["TwoFactorChallengeOut"];
    let mut documented: Vec<&str> = challenge["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    assert_eq!(
        documented,
        ["challenge", "email", "message", "requires_2fa"]
    );
    // Without 2FA the answer is a session.
    let candidate = app.candidate().await;
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": candidate.email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["access"].is_string() && r.json["user"].is_object());
});
