//! Intake: the submitted form is kept (sealed), its profile answers copied.

use crate::common::*;

db_test!(
    submitting_intake_fills_the_profile_and_keeps_the_form,
    |app| {
        let candidate = app.candidate().await;
        let r = app
            .post("/api/intake/submit/")
            .bearer(&candidate.access)
            .json(&json!({"responses": intake_answers()}))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["detail"], "Intake completed successfully");
        assert_eq!(r.json["intake"]["user"], candidate.id);
        assert_eq!(r.json["intake"]["status"], "submitted");
        assert_eq!(r.json["intake"]["responses"], intake_answers());
        let profile = &r.json["profile"];
        assert_eq!(profile["has_completed_intake"], true);
        assert_eq!(profile["diagnosis"], "Dyslexia and ADHD");
        assert_eq!(profile["phone_number"], "0821234567");
        assert_eq!(profile["date_of_birth"], "2001-04-17");
        let first_form = r.json["intake"]["id"].as_i64().unwrap();

        let me = app
            .get("/api/users/me/")
            .bearer(&candidate.access)
            .send()
            .await;
        assert_eq!(me.json["has_completed_intake"], true);
        assert_eq!(me.json["profile"]["support_needs"], "Weekly check-ins");

        let r = app
            .get(&format!("/api/intake/{}/", candidate.id))
            .bearer(&candidate.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["diagnosis"], "Dyslexia and ADHD");
        assert_eq!(r.json["submissions"], 1);
        assert_eq!(r.json["intake"]["responses"]["preferred_name"], "Thandi");

        // Re-submitting keeps both forms and overwrites only what it answers.
        let r = app
            .post("/api/intake/")
            .bearer(&candidate.access)
            .json(
                &json!({"intake_data": {"medications": "None", "contact_number": "+27821112222"}}),
            )
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["profile"]["medications"], "None");
        assert_eq!(r.json["profile"]["phone_number"], "+27821112222");
        assert_eq!(r.json["profile"]["diagnosis"], "Dyslexia and ADHD");
        let r = app
            .get(&format!("/api/intake/{}/", candidate.id))
            .bearer(&candidate.access)
            .send()
            .await;
        assert_eq!(r.json["submissions"], 2);
        assert_eq!(
            r.json["intake"]["responses"],
            json!({"medications": "None", "contact_number": "+27821112222"})
        );

        // One audit row per submission: the form, and which profile fields
        // it set (values only for the intake flag).
        let form_id = r.json["intake"]["id"].as_i64().unwrap();
        let rows = app.audit_rows("IntakeForm", form_id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, "create");
        assert_eq!(
            rows[0].changes,
            Some(
                json!({"responses": "changed", "profile": {"medications": "changed", "phone_number": "changed"}})
            )
        );
        let first = app.audit_rows("IntakeForm", first_form).await;
        assert_eq!(first.len(), 1);
        let profile_changes = &first[0].changes.as_ref().unwrap()["profile"];
        assert_eq!(
            profile_changes["has_completed_intake"],
            json!([false, true])
        );
        assert_eq!(profile_changes["diagnosis"], "changed");
        assert!(
            app.audit_rows("UserProfile", profile["id"].as_i64().unwrap())
                .await
                .iter()
                .all(|r| r.action != "update"),
            "the submission's row is the form's"
        );
    }
);

db_test!(bad_intake_is_refused_and_changes_nothing, |app| {
    let candidate = app.candidate().await;
    for body in [
        json!({}),
        json!({"responses": {}}),
        json!({"responses": null}),
        json!({"intake_data": {}}),
    ] {
        let r = app
            .post("/api/intake/submit/")
            .bearer(&candidate.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "No intake data provided", "{body}");
    }
    let r = app
        .post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&json!({"responses": [1, 2]}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"responses": ["Expected a dictionary of items but got type \"list\"."]})
    );
    let r = app
        .post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&json!({"responses": {"phone_number": "12", "id_number": "x", "diagnosis": 7, "favourite_colour": "blue"}}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"responses.diagnosis": ["Not a valid string."]})
    );
    let r = app
        .post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&json!({"intake_data": {"phone_number": "12", "id_number": "x"}}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "intake_data.phone_number": ["Invalid phone number format. Use format: +27XXXXXXXXX or 0XXXXXXXXX"],
            "intake_data.id_number": ["Invalid South African ID number. Must be 13 digits."],
        })
    );
    let huge = json!({"responses": {"story": "x".repeat(100_001)}});
    let r = app
        .post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&huge)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"responses": ["Ensure this field has no more than 100000 characters."]})
    );

    let r = app
        .get(&format!("/api/intake/{}/", candidate.id))
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["submissions"], 0);
    assert_eq!(r.json["intake"], Value::Null);
    assert_eq!(r.json["has_completed_intake"], false);
    app.post("/api/intake/submit/")
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await
        .assert_status(401);
});

db_test!(intake_is_read_by_its_owner_and_administrators_only, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let other = app.candidate().await;
    app.post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await
        .assert_status(201);
    let path = format!("/api/intake/{}/", candidate.id);
    app.get(&path).send().await.assert_status(401);
    app.get(&path)
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    let r = app.get(&path).bearer(&admin.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["medications"], "Methylphenidate 10mg");
    let form = r.json["intake"]["id"].as_i64().unwrap();
    let reads: Vec<_> = app
        .audit_rows("IntakeForm", form)
        .await
        .into_iter()
        .filter(|r| r.action == "read")
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(
        reads[0].actor_id.as_deref(),
        Some(admin.id.to_string().as_str())
    );
    app.get(&path)
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    for bad in ["/api/intake/abc/", "/api/intake/0/", "/api/intake/424242/"] {
        app.get(bad)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
    // An administrator's own intake is not for other administrators.
    let other_admin = app.admin(&root).await;
    app.get(&format!("/api/intake/{}/", other_admin.id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});
