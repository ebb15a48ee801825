//! What every endpoint shares: documents, health, headers, bad requests.

use crate::common::*;

#[tokio::test]
async fn openapi_document_is_pinned() {
    let document = serde_json::to_value(pss::openapi()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}

db_test!(health_is_public_at_three_paths, |app| {
    for path in ["/api/health/", "/", "/api/"] {
        let r = app.get(path).send().await;
        r.assert_status(200);
        assert_eq!(
            r.body,
            br#"{"status":"healthy","message":"PSS Backend API is running"}"#
        );
    }
});

db_test!(docs_are_served_from_the_binary, |app| {
    let r = app.get("/api/schema/").send().await;
    r.assert_status(200);
    assert!(r.json["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(r.json["paths"]["/api/users/{id}/profile/"].is_object());
    assert!(r.json["paths"]["/api/intake/submit/"]["post"].is_object());
    let r = app.get("/api/docs/").send().await;
    r.assert_status(200);
    let r = app.get("/api/redoc/").send().await;
    r.assert_status(200);
});

db_test!(personal_data_is_never_cached, |app| {
    let candidate = app.candidate().await;
    for path in [
        "/api/users/me/".to_owned(),
        format!("/api/users/{}/profile/", candidate.id),
        format!("/api/intake/{}/", candidate.id),
        "/api/journal/".to_owned(),
        "/api/journal/stats/".to_owned(),
        "/api/dashboard/candidate-stats/".to_owned(),
    ] {
        let r = app.get(&path).bearer(&candidate.access).send().await;
        r.assert_status(200);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": candidate.email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
});

db_test!(every_response_is_never_cached, |app| {
    let candidate = app.candidate().await;
    let mut answers = vec![
        (404, app.get("/api/no/such/thing/").send().await),
        (
            404,
            app.get("/nothing-here")
                .bearer(&candidate.access)
                .send()
                .await,
        ),
        (405, app.delete("/api/health/").send().await),
        (405, app.post("/api/schema/").send().await),
        (401, app.get("/api/users/me/").send().await),
        (200, app.get("/api/schema/").send().await),
        (200, app.get("/api/redoc/redoc.standalone.js").send().await),
    ];
    let preflight = app
        .request(axum::http::Method::OPTIONS, "/api/users/")
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "GET")
        .send()
        .await;
    let status = preflight.status.as_u16();
    answers.push((status, preflight));
    for (status, r) in answers {
        r.assert_status(status);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{status}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{status}");
    }
});

db_test!(bad_requests_are_drf_shaped_and_change_nothing, |app| {
    let candidate = app.candidate().await;
    let before = app.audit_count().await;
    let r = app.get("/api/no/such/thing/").send().await;
    r.assert_status(404);
    assert_eq!(r.json, json!({"detail": "Not found.", "code": "not_found"}));

    let r = app.delete("/api/health/").send().await;
    r.assert_status(405);
    assert_eq!(r.json["detail"], "Method \"DELETE\" not allowed.");
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = app
        .get("/api/intake/submit/")
        .bearer(&candidate.access)
        .send()
        .await;
    r.assert_status(405);

    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .raw("text/plain", "title=x")
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(
        r.json["detail"],
        "Unsupported media type \"text/plain\" in request."
    );
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .raw("application/json", "{\"title\": ")
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .raw("application/json", "[1, 2]")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(11 * 1024 * 1024));
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .raw("application/json", huge)
        .send()
        .await;
    r.assert_status(413);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    app.post("/api/intake/submit/")
        .bearer(&candidate.access)
        .raw("application/json", nested)
        .send()
        .await
        .assert_status(400);
    let r = app
        .get("/api/journal/")
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0, "no bad request wrote anything");
    assert_eq!(app.audit_count().await, before);
});

db_test!(null_characters_are_refused_not_a_server_error, |app| {
    let root = app.superuser().await;
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "nul@example.org", "password": PASSWORD, "first_name": "a\u{0}b"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"first_name": ["Null characters are not allowed."]})
    );
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "a\u{0}@example.org", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(400);
    for path in [
        "/api/users/?search=%00",
        "/api/audit-logs/?object_type=a%00b",
        "/api/admin-notes/?search=x%00",
    ] {
        let r = app.get(path).bearer(&root.access).send().await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Null characters are not allowed.");
    }
    let candidate = app.candidate().await;
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({"title": "t\u{0}", "content": "c", "mood": "good", "energy_level": 5}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"title": ["Null characters are not allowed."]})
    );
});

db_test!(far_dates_in_filters_are_refused_not_a_server_error, |app| {
    let root = app.superuser().await;
    for path in [
        "/api/journal/?date_after=99999-01-01",
        "/api/journal/?date=0000-01-01",
        "/api/audit-logs/?created_after=99999-01-01",
    ] {
        let r = app.get(path).bearer(&root.access).send().await;
        r.assert_status(400);
    }
    let r = app
        .get("/api/journal/?date_before=9999-12-31&date_after=1900-01-01")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
});

db_test!(permission_is_checked_before_the_body, |app| {
    let superuser = app.superuser().await;
    let admin = app.admin(&superuser).await;
    let candidate = app.candidate().await;
    let note = app.note(&admin, candidate.id, "Settling in").await;
    let r = app
        .post("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .json(&json!({"version": "1.0", "title": "Privacy", "content": "We hold your data to support you."}))
        .send()
        .await;
    r.assert_status(201);
    let policy = r.json["id"].as_i64().unwrap();
    let r = app
        .post("/api/popia/deletion-requests/create/")
        .bearer(&candidate.access)
        .json(&json!({"reason": "Leaving"}))
        .send()
        .await;
    r.assert_status(201);
    let request = r.json["id"].as_i64().unwrap();

    use axum::http::Method;
    let (post, put, patch) = (Method::POST, Method::PUT, Method::PATCH);
    let staff_only = [
        (&post, "/api/admin-notes/".to_owned()),
        (&put, format!("/api/admin-notes/{note}/")),
        (&patch, format!("/api/admin-notes/{note}/")),
        (&post, "/api/popia/privacy-policies/".to_owned()),
        (
            &post,
            format!("/api/popia/privacy-policies/{policy}/activate/"),
        ),
        (
            &post,
            format!("/api/popia/deletion-requests/{request}/review/"),
        ),
        (
            &post,
            format!("/api/popia/deletion-requests/{request}/execute/"),
        ),
        (&post, "/api/auth/admin/force-logout/".to_owned()),
    ];
    let bodies = [
        ("malformed", r#"{"bogus": ["#.to_owned()),
        ("not an object", "[1, 2]".to_owned()),
        (
            "wrong types",
            json!({
                "candidate": "someone", "title": [], "note_text": {}, "category": 4,
                "is_important": "very", "version": [], "content": 5, "is_active": "yes",
                "action": 1, "notes": [], "user_id": "x", "reason": {},
            })
            .to_string(),
        ),
    ];
    let before = app.audit_count().await;
    for (method, path) in &staff_only {
        for (kind, body) in &bodies {
            let r = app
                .request((*method).clone(), path)
                .bearer(&candidate.access)
                .raw("application/json", body.clone())
                .send()
                .await;
            assert_eq!(
                r.status, 403,
                "{method} {path} with a {kind} body: {}",
                r.json
            );
            let r = app
                .request((*method).clone(), path)
                .raw("application/json", body.clone())
                .send()
                .await;
            assert_eq!(r.status, 401, "{method} {path} anonymous: {}", r.json);
        }
    }
    assert_eq!(app.audit_count().await, before, "nothing was written");

    // The object comes before the body: a missing one is 404 for an
    // administrator, however bad the body.
    for path in [
        "/api/admin-notes/999999/".to_owned(),
        "/api/journal/999999/".to_owned(),
        "/api/users/999999/".to_owned(),
        "/api/users/999999/profile/".to_owned(),
    ] {
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .raw("application/json", r#"{"bogus": ["#)
            .send()
            .await;
        assert_eq!(r.status, 404, "PATCH {path}: {}", r.json);
    }
    let r = app
        .post("/api/popia/deletion-requests/999999/review/")
        .bearer(&admin.access)
        .raw("application/json", r#"{"bogus": ["#)
        .send()
        .await;
    assert_eq!(r.status, 404, "{}", r.json);
    // A candidate reaches only their own account: another's is 404 first.
    let r = app
        .patch(&format!("/api/users/{}/", admin.id))
        .bearer(&candidate.access)
        .raw("application/json", r#"{"bogus": ["#)
        .send()
        .await;
    assert_eq!(r.status, 404, "{}", r.json);
});

db_test!(every_documented_endpoint_conforms, |app| {
    let root = app.superuser().await;
    kernel::conformance::check::<pss::Pss>(&app, &root.access).await;
});

db_test!(bad_bodies_are_refused_and_change_nothing, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let note = app.note(&admin, candidate.id, "Settling in").await;
    let entry = app
        .journal_entry(
            &root,
            json!({"title": "Day one", "content": "Calm", "mood": "good", "energy_level": 5}),
        )
        .await;
    let r = app
        .post("/api/popia/deletion-requests/create/")
        .bearer(&candidate.access)
        .json(&json!({"reason": "Leaving"}))
        .send()
        .await;
    r.assert_status(201);
    let request = r.json["id"].as_i64().unwrap();
    let c = candidate.id;
    let rows = [
        format!("/api/admin-notes/{note}/"),
        format!("/api/journal/{entry}/"),
        format!("/api/popia/deletion-requests/{request}/review/"),
        format!("/api/users/{c}/"),
        format!("/api/users/{c}/profile/"),
    ];
    kernel::conformance::check_bad_bodies::<pss::Pss>(&app, &root.access, &rows).await;
});
