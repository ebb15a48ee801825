//! `/api/users/{id}/profile/`: validation, partial writes, audit of reads.

use crate::common::*;

db_test!(profile_fields_are_validated_as_the_original_did, |app| {
    let candidate = app.candidate().await;
    let path = format!("/api/users/{}/profile/", candidate.id);
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({
            "phone_number": "12345",
            "doctor_phone": "+44 20 7946 0958",
            "id_number": "123",
            "date_of_birth": "2999-01-01",
            "diagnosis": "x".repeat(5001),
            "address": "y".repeat(501),
            "learning_style": "z".repeat(101),
            "medical_notes": "m".repeat(10_000),
        }))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "date_of_birth": ["Date of birth cannot be in the future."],
            "phone_number": ["Invalid phone number format. Use format: +27XXXXXXXXX or 0XXXXXXXXX"],
            "address": ["Ensure this field has no more than 500 characters."],
            "id_number": ["Invalid South African ID number. Must be 13 digits."],
            "diagnosis": ["Ensure this field has no more than 5000 characters."],
            "doctor_phone": ["Invalid phone number format. Use format: +27XXXXXXXXX or 0XXXXXXXXX"],
            "learning_style": ["Ensure this field has no more than 100 characters."],
        })
    );
    for (body, field, message) in [
        (
            json!({"date_of_birth": "17/04/2001"}),
            "date_of_birth",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        (
            json!({"date_of_birth": "1850-01-01"}),
            "date_of_birth",
            "Date of birth cannot be before 1900-01-01.",
        ),
        (
            json!({"id_number": "0113175009087"}),
            "id_number",
            "Invalid South African ID number. Must be 13 digits.",
        ),
        (
            json!({"id_number": "0104325009087"}),
            "id_number",
            "Invalid South African ID number. Must be 13 digits.",
        ),
        (json!({"diagnosis": 42}), "diagnosis", "Not a valid string."),
    ] {
        let r = app
            .patch(&path)
            .bearer(&candidate.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json, json!({field: [message]}), "{body}");
    }
    // Nothing above was stored.
    let r = app.get(&path).bearer(&candidate.access).send().await;
    assert_eq!(r.json["phone_number"], "");
    assert_eq!(r.json["medical_notes"], "");
    assert!(
        app.audit_rows("UserProfile", r.json["id"].as_i64().unwrap())
            .await
            .is_empty()
    );
});

db_test!(
    profile_writes_keep_absent_fields_and_clear_null_ones,
    |app| {
        let candidate = app.candidate().await;
        let path = format!("/api/users/{}/profile/", candidate.id);
        let r = app
            .put(&path)
            .bearer(&candidate.access)
            .json(&json!({
                "date_of_birth": "2001-04-17",
                "contact_number": "+27 82 123-4567",
                "emergency_contact": "Zanele Nkosi",
                "emergency_phone": "0831234567",
                "diagnosis": "  Dyslexia  ",
                "allergies": "Penicillin",
                "has_completed_intake": true,
                "user": 999,
            }))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["date_of_birth"], "2001-04-17");
        assert_eq!(r.json["phone_number"], "+27821234567");
        assert_eq!(r.json["emergency_contact_name"], "Zanele Nkosi");
        assert_eq!(r.json["emergency_contact_phone"], "0831234567");
        assert_eq!(r.json["diagnosis"], "Dyslexia");
        assert_eq!(r.json["user"], candidate.id);
        assert_eq!(r.json["has_completed_intake"], false, "only intake sets it");
        assert_eq!(r.header("cache-control"), Some("no-store"));

        let r = app
            .patch(&path)
            .bearer(&candidate.access)
            .json(&json!({"allergies": null, "medications": "Ritalin"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["allergies"], "");
        assert_eq!(r.json["medications"], "Ritalin");
        assert_eq!(r.json["diagnosis"], "Dyslexia", "absent fields are kept");

        // The audit says which fields changed, never their values.
        let profile_id = r.json["id"].as_i64().unwrap();
        let rows = app.audit_rows("UserProfile", profile_id).await;
        let last = rows.last().unwrap();
        assert_eq!(last.action, "update");
        assert_eq!(
            last.changes,
            Some(json!({"allergies": "changed", "medications": "changed"}))
        );
        let all =
            serde_json::to_string(&rows.iter().map(|r| &r.changes).collect::<Vec<_>>()).unwrap();
        for secret in ["Dyslexia", "Ritalin", "Penicillin", "0831234567", "Zanele"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }

        // The detail view shows the profile too.
        let r = app
            .get(&format!("/api/users/{}/", candidate.id))
            .bearer(&candidate.access)
            .send()
            .await;
        assert_eq!(r.json["profile"]["medications"], "Ritalin");
    }
);

db_test!(reading_someone_elses_profile_is_audited, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let other = app.candidate().await;
    let path = format!("/api/users/{}/profile/", candidate.id);

    let own = app.get(&path).bearer(&candidate.access).send().await;
    own.assert_status(200);
    let profile_id = own.json["id"].as_i64().unwrap();
    let reads = |rows: Vec<kernel::audit_log::entity::Model>| {
        rows.into_iter()
            .filter(|r| r.action == "read")
            .collect::<Vec<_>>()
    };
    assert!(reads(app.audit_rows("UserProfile", profile_id).await).is_empty());

    app.get(&path)
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.patch(&path)
        .bearer(&other.access)
        .json(&json!({"diagnosis": "x"}))
        .send()
        .await
        .assert_status(404);
    app.get(&path).send().await.assert_status(401);

    app.get(&path)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("/api/users/{}/", candidate.id))
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    let rows = reads(app.audit_rows("UserProfile", profile_id).await);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].actor_id.as_deref(),
        Some(admin.id.to_string().as_str())
    );
    assert_eq!(
        rows[1].actor_id.as_deref(),
        Some(root.id.to_string().as_str())
    );
    assert_eq!(rows[0].changes, None);

    // An administrator may edit a candidate's profile.
    let r = app
        .patch(&path)
        .bearer(&admin.access)
        .json(&json!({"accommodations": "Extra time"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["accommodations"], "Extra time");
});
