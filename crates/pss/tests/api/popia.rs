//! POPIA: privacy-policy versions, consents, the data export, and deletion
//! requests through review to erasure.

use std::time::Duration;

use kernel::testing::SmtpSink;
use sea_orm::{FromQueryResult, JsonValue, Statement};

use super::common::*;

/// A policy published by `admin`; returns its id.
async fn publish(app: &TestApp, admin: &Actor, version: &str, active: bool) -> i64 {
    let r = app
        .post("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .json(&json!({"version": version, "title": format!("Privacy policy {version}"), "content": "We hold your data to support you.", "effective_date": "2026-01-01", "is_active": active}))
        .send()
        .await;
    r.assert_status(201);
    r.json["id"].as_i64().unwrap()
}

async fn grant(app: &TestApp, who: &Actor, body: Value) -> kernel::testing::TestResponse {
    app.post("/api/popia/consents/grant/")
        .bearer(&who.access)
        .header("x-forwarded-for", "196.21.4.7")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
        )
        .json(&body)
        .send()
        .await
}

/// A refusal answers the original's `error` beside DRF's `detail`.
#[track_caller]
fn refused(r: &kernel::testing::TestResponse, status: u16, message: &str) {
    r.assert_status(status);
    assert_eq!(r.json["error"], message, "{}", r.json);
    assert_eq!(r.json["detail"], message, "{}", r.json);
    assert!(r.json["code"].is_string(), "{}", r.json);
}

db_test!(privacy_policy_versions, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;

    let r = app.get("/api/popia/privacy-policy/").send().await;
    refused(&r, 404, "No active privacy policy found");

    // Only staff publish, with every field checked at once.
    app.post("/api/popia/privacy-policies/")
        .bearer(&candidate.access)
        .json(&json!({"version": "1.0", "title": "t", "content": "c"}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .post("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .json(&json!({"version": "", "effective_date": "01/02/2026"}))
        .send()
        .await;
    r.assert_status(400);
    for field in ["version", "title", "content", "effective_date"] {
        assert!(r.json[field].is_array(), "{field}: {}", r.json);
    }
    for date in ["10000-01-01", "0999-12-31", "2026-02-30"] {
        let r = app
            .post("/api/popia/privacy-policies/")
            .bearer(&admin.access)
            .json(&json!({"version": "9.9", "title": "t", "content": "c", "effective_date": date}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["effective_date"].is_array(), "{date}: {}", r.json);
    }

    let draft = publish(&app, &admin, "1.0", false).await;
    app.get("/api/popia/privacy-policy/")
        .send()
        .await
        .assert_status(404);
    let first = publish(&app, &admin, "1.1", true).await;
    let r = app.get("/api/popia/privacy-policy/").send().await;
    r.assert_status(200);
    assert_eq!(r.json["id"], first);
    assert_eq!(r.json["version"], "1.1");
    assert_eq!(r.json["effective_date"], "2026-01-01");
    assert_eq!(r.json["is_active"], true);

    let r = app
        .post("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .json(&json!({"version": "1.1", "title": "again", "content": "x"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["version"][0],
        "privacy policy with this version already exists."
    );

    // A new active version replaces the one in force; activating an older
    // one brings it back; only ever one is active.
    let second = publish(&app, &admin, "2.0", true).await;
    let r = app.get("/api/popia/privacy-policy/").send().await;
    assert_eq!(r.json["id"], second);
    let r = app
        .post(&format!("/api/popia/privacy-policies/{draft}/activate/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_active"], true);
    let r = app
        .get("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 3);
    let active: Vec<i64> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_active"] == true)
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(active, vec![draft]);

    for path in [
        "/api/popia/privacy-policies/999999/activate/",
        "/api/popia/privacy-policies/abc/activate/",
    ] {
        app.post(path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get("/api/popia/privacy-policies/")
        .bearer(&candidate.access)
        .send()
        .await
        .assert_status(403);
    assert_eq!(app.audit_rows("PrivacyPolicyVersion", draft).await.len(), 2);
});

db_test!(
    consents_are_granted_and_withdrawn_with_when_and_where,
    settings = &[("CAMPUS_TRUSTED_PROXIES", "1")],
    |app| {
        let root = app.superuser().await;
        let me = app.candidate().await;
        let other = app.candidate().await;

        // Nothing to consent to before a policy is published.
        let r = grant(&app, &me, json!({"consent_type": "medical_data"})).await;
        refused(&r, 400, "Invalid privacy policy version");

        let old = publish(&app, &root, "1.0", true).await;
        let policy = publish(&app, &root, "1.1", true).await;

        let r = grant(
            &app,
            &me,
            json!({"consent_type": "marketing", "version": "1.0"}),
        )
        .await;
        r.assert_status(400);
        assert_eq!(
            r.json["consent_type"][0],
            "\"marketing\" is not a valid choice."
        );
        let r = grant(&app, &me, json!({"privacy_policy_version_id": policy})).await;
        r.assert_status(400);
        assert!(r.json["consent_type"].is_array());
        let r = grant(
            &app,
            &me,
            json!({"consent_type": "medical_data", "privacy_policy_version_id": "x"}),
        )
        .await;
        r.assert_status(400);
        // Only the version in force can be consented to.
        for body in [
            json!({"consent_type": "medical_data", "privacy_policy_version_id": old}),
            json!({"consent_type": "medical_data", "privacy_policy_version_id": 999_999}),
            json!({"consent_type": "medical_data", "version": "1.0"}),
        ] {
            refused(
                &grant(&app, &me, body).await,
                400,
                "Invalid privacy policy version",
            );
        }
        let r = app
            .get("/api/popia/consents/")
            .bearer(&me.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 0);

        let r = grant(&app, &me, json!({"consent_type": "medical_data", "privacy_policy_version_id": policy, "ip_address": "1.2.3.4"})).await;
        r.assert_status(201);
        let consent = r.json["id"].as_i64().unwrap();
        assert_eq!(
            r.json["consent_type_display"],
            "Medical Information Processing"
        );
        assert_eq!(r.json["privacy_policy_version"], policy);
        assert_eq!(r.json["privacy_policy_version_number"], "1.1");
        assert_eq!(r.json["granted"], true);
        assert!(r.json["granted_at"].is_string());
        assert!(r.json["withdrawn_at"].is_null());
        // The address is the request's own, never the body's.
        assert_eq!(
            app.raw("pss_consents", "ip_address", consent)
                .await
                .as_deref(),
            Some("196.21.4.7")
        );
        assert!(
            app.raw("pss_consents", "user_agent", consent)
                .await
                .unwrap()
                .contains("Firefox")
        );
        grant(
            &app,
            &me,
            json!({"consent_type": "communications", "version": "1.1"}),
        )
        .await
        .assert_status(201);

        // Another person sees and withdraws none of mine.
        let r = app
            .get("/api/popia/consents/")
            .bearer(&other.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 0);
        let r = app
            .post(&format!("/api/popia/consents/{consent}/withdraw/"))
            .bearer(&other.access)
            .send()
            .await;
        refused(&r, 404, "Consent record not found");

        let r = app
            .post(&format!("/api/popia/consents/{consent}/withdraw/"))
            .bearer(&me.access)
            .header("x-forwarded-for", "41.13.9.9")
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["granted"], false);
        assert!(r.json["withdrawn_at"].is_string());
        assert_eq!(
            app.raw("pss_consents", "ip_address", consent)
                .await
                .as_deref(),
            Some("41.13.9.9")
        );
        let r = app
            .post(&format!("/api/popia/consents/{consent}/withdraw/"))
            .bearer(&me.access)
            .send()
            .await;
        refused(&r, 400, "Consent already withdrawn");

        let r = app
            .get("/api/popia/consents/?granted=false")
            .bearer(&me.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        assert_eq!(r.json["results"][0]["id"], consent);
        app.get("/api/popia/consents/?consent_type=marketing")
            .bearer(&me.access)
            .send()
            .await
            .assert_status(400);

        // Granting again renews the same record.
        let r = grant(&app, &me, json!({"consent_type": "medical_data"})).await;
        r.assert_status(200);
        assert_eq!(r.json["id"], consent);
        assert_eq!(r.json["granted"], true);
        assert!(r.json["withdrawn_at"].is_null());
        let r = app
            .get("/api/popia/consents/")
            .bearer(&me.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 2);

        // Each grant and withdrawal is in the audit log, with its address.
        let rows = app.audit_rows("UserConsent", consent).await;
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["create", "update", "update"]);
        assert_eq!(rows[1].ip_address.as_deref(), Some("41.13.9.9"));
        assert_eq!(
            rows[0].actor_id.as_deref(),
            Some(me.id.to_string().as_str())
        );

        app.get("/api/popia/consents/")
            .send()
            .await
            .assert_status(401);
        app.post("/api/popia/consents/abc/withdraw/")
            .bearer(&me.access)
            .send()
            .await
            .assert_status(404);
    }
);

db_test!(data_export_holds_everything_about_the_caller_only, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let me = app.candidate().await;
    let other = app.candidate().await;
    publish(&app, &root, "1.0", true).await;
    app.post("/api/intake/submit/")
        .bearer(&me.access)
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await
        .assert_status(201);
    app.journal_entry(&me, json!({"title": "First week", "content": "Met my mentor", "mood": "good", "energy_level": 7}))
        .await;
    app.journal_entry(&other, json!({"title": "Someone else's", "content": "Not yours", "mood": "okay", "energy_level": 5}))
        .await;
    app.note(&admin, me.id, "Needs a quiet room for exams")
        .await;
    grant(&app, &me, json!({"consent_type": "data_processing"}))
        .await
        .assert_status(201);

    let r = app
        .get("/api/popia/data-export/")
        .bearer(&me.access)
        .send()
        .await;
    r.assert_status(200);
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"my_data_{}_{today}.json\"", me.id).as_str())
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let data: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(data["export_metadata"]["user_id"], me.id);
    assert_eq!(data["export_metadata"]["popia_compliance"], true);
    assert_eq!(data["user_account"]["email"], me.email);
    assert_eq!(data["user_account"]["has_completed_intake"], true);
    // Decrypted for the caller.
    assert_eq!(data["profile"]["diagnosis"], "Dyslexia and ADHD");
    assert_eq!(data["profile"]["emergency_contact_name"], "Zanele Nkosi");
    assert_eq!(data["intake_forms"].as_array().unwrap().len(), 1);
    let journal = data["journal_entries"].as_array().unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0]["content"], "Met my mentor");
    assert_eq!(
        data["admin_notes"][0]["content"],
        "Needs a quiet room for exams"
    );
    assert_eq!(data["admin_notes"][0]["created_by"], admin.email);
    assert_eq!(data["consents"][0]["consent_type"], "data_processing");
    assert_eq!(data["consents"][0]["privacy_policy_version"], "1.0");
    assert!(!data["sessions"].as_array().unwrap().is_empty());
    assert_eq!(data["two_factor"]["enabled"], false);
    assert_eq!(data["export_requests"].as_array().unwrap().len(), 1);
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(!text.contains("Not yours"));
    assert!(!text.contains(&other.email));
    assert!(!text.contains("\"password\""));

    // Each export is logged and audited.
    let r = app
        .get("/api/popia/data-export/")
        .bearer(&me.access)
        .send()
        .await;
    let data: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(data["export_requests"].as_array().unwrap().len(), 2);
    use pss::entities::export_request;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let logged = export_request::Entity::find()
        .filter(export_request::Column::UserId.eq(me.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(logged.len(), 2);
    assert!(
        logged
            .iter()
            .all(|e| e.status == "completed" && e.download_count == 1)
    );
    assert_eq!(
        app.audit_rows("DataExportRequest", logged[0].id).await[0].action,
        "read"
    );

    // Another person's export holds nothing of mine.
    let r = app
        .get("/api/popia/data-export/")
        .bearer(&other.access)
        .send()
        .await;
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        !text.contains("Met my mentor") && !text.contains("Dyslexia") && !text.contains(&me.email)
    );
    assert!(text.contains("Not yours"));
    app.get("/api/popia/data-export/")
        .send()
        .await
        .assert_status(401);
});

db_test!(
    deletion_requests_are_reviewed_before_anything_is_erased,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let me = app.candidate().await;
        let other = app.candidate().await;

        let r = app
            .post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({"reason": "Leaving the programme", "feedback": "ignored"}))
            .send()
            .await;
        r.assert_status(201);
        let id = r.json["id"].as_i64().unwrap();
        assert_eq!(r.json["status"], "pending");
        assert_eq!(r.json["status_display"], "Pending Review");
        assert_eq!(r.json["reason"], "Leaving the programme");
        assert!(r.json["reviewed_by"].is_null());
        let r = app
            .post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({}))
            .send()
            .await;
        refused(&r, 400, "You already have a pending deletion request");
        assert_eq!(r.json["request_id"], id);
        app.post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({"reason": 12}))
            .send()
            .await
            .assert_status(400);

        // Candidates see their own; staff see everyone's they reach.
        let r = app
            .get("/api/popia/deletion-requests/")
            .bearer(&other.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 0);
        let r = app
            .get("/api/popia/deletion-requests/")
            .bearer(&me.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        let r = app
            .get("/api/popia/deletion-requests/?status=pending")
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        assert_eq!(r.json["results"][0]["user_email"], me.email);

        // Only staff review; a rejection needs a reason; nothing is erased yet.
        let review = |who: &Actor, body: Value| {
            app.post(&format!("/api/popia/deletion-requests/{id}/review/"))
                .bearer(&who.access)
                .json(&body)
                .send()
        };
        refused(
            &review(&other, json!({"action": "approve"})).await,
            403,
            "Only admins can review deletion requests",
        );
        let r = review(&admin, json!({"action": "reject"})).await;
        r.assert_status(400);
        assert_eq!(
            r.json["notes"][0],
            "Rejection reason is required when rejecting a deletion request."
        );
        let r = review(&admin, json!({"action": "erase"})).await;
        r.assert_status(400);
        assert_eq!(r.json["action"][0], "\"erase\" is not a valid choice.");
        let r = app
            .post("/api/popia/deletion-requests/999999/review/")
            .bearer(&admin.access)
            .json(&json!({"action": "approve"}))
            .send()
            .await;
        refused(&r, 404, "Deletion request not found");
        let r = app
            .post(&format!("/api/popia/deletion-requests/{id}/execute/"))
            .bearer(&admin.access)
            .send()
            .await;
        refused(&r, 400, "Only approved requests can be executed");

        let r = review(
            &admin,
            json!({"action": "reject", "notes": "Records must be kept until the bursary audit"}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "rejected");
        assert_eq!(r.json["reviewed_by"], admin.id);
        assert_eq!(r.json["reviewed_by_email"], admin.email);
        assert_eq!(
            r.json["admin_notes"],
            "Records must be kept until the bursary audit"
        );
        refused(
            &review(&admin, json!({"action": "approve"})).await,
            400,
            "Request is already rejected",
        );
        app.get("/api/auth/me/")
            .bearer(&me.access)
            .send()
            .await
            .assert_status(200);

        // A new request may follow; its owner may cancel it while pending.
        let r = app
            .post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(201);
        let second = r.json["id"].as_i64().unwrap();
        app.post(&format!("/api/popia/deletion-requests/{second}/cancel/"))
            .bearer(&other.access)
            .send()
            .await
            .assert_status(404);
        let r = app
            .post(&format!("/api/popia/deletion-requests/{second}/cancel/"))
            .bearer(&me.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "cancelled");
        refused(
            &app.post(&format!("/api/popia/deletion-requests/{second}/cancel/"))
                .bearer(&me.access)
                .send()
                .await,
            400,
            "Request is already cancelled",
        );
        let actions: Vec<String> = app
            .audit_rows("DataDeletionRequest", id)
            .await
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(actions, ["create", "update"]);
    }
);

db_test!(
    reviewers_never_act_on_their_own_or_on_those_above_them,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let colleague = app.admin(&root).await;
        let other_root = app.superuser().await;

        let create = |who: &Actor| {
            app.post("/api/popia/deletion-requests/create/")
                .bearer(&who.access)
                .json(&json!({}))
                .send()
        };
        let own = create(&admin).await.json["id"].as_i64().unwrap();
        let colleagues = create(&colleague).await.json["id"].as_i64().unwrap();
        let roots = create(&other_root).await.json["id"].as_i64().unwrap();

        let review = |who: &Actor, id: i64| {
            app.post(&format!("/api/popia/deletion-requests/{id}/review/"))
                .bearer(&who.access)
                .json(&json!({"action": "approve"}))
                .send()
        };
        refused(
            &review(&admin, own).await,
            403,
            "You cannot review your own deletion request",
        );
        // Administrators reach candidates only; another administrator's or a
        // superuser's request is not theirs to see.
        review(&admin, colleagues).await.assert_status(404);
        review(&admin, roots).await.assert_status(404);
        let r = app
            .get("/api/popia/deletion-requests/")
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        // A superuser reaches them all, but not their own.
        review(&root, colleagues).await.assert_status(200);
        review(&root, roots).await.assert_status(200);
        review(&other_root, roots).await.assert_status(403);
        app.post(&format!(
            "/api/popia/deletion-requests/{colleagues}/execute/"
        ))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    }
);

/// Every row of every table PSS and the kernel keep, as one text.
pub async fn everything_stored(app: &TestApp) -> String {
    let backend = app.state.db.get_database_backend();
    let mut all = String::new();
    for table in [
        "pss_users",
        "pss_user_profiles",
        "pss_intake_forms",
        "pss_journal_entries",
        "pss_admin_notes",
        "pss_sessions",
        "pss_two_factor",
        "pss_backup_codes",
        "pss_password_history",
        "pss_password_reset_tokens",
        "pss_privacy_policies",
        "pss_consents",
        "pss_deletion_requests",
        "pss_export_requests",
        "campus_audit_log",
        "campus_jobs",
        "campus_token_blacklist",
    ] {
        let rows = JsonValue::find_by_statement(Statement::from_string(
            backend,
            format!("SELECT * FROM {table}"),
        ))
        .all(&app.state.db)
        .await
        .unwrap();
        all.push_str(&serde_json::to_string(&rows).unwrap());
    }
    all
}

db_test!(
    executed_erasure_leaves_nothing_of_the_person_readable,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let sink = SmtpSink::start().await;
        let node = TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        publish(&app, &root, "1.0", true).await;

        // A person with a full record: intake, journal, notes about them,
        // consents, 2FA, a past password and sessions on two devices.
        let surname = format!("Zwane{}", tag());
        let email = format!("nomvula-{}@example.org", tag());
        let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Nomvula", "last_name": surname}))
        .send()
        .await;
        r.assert_status(201);
        let me = app.sign_in(&email, PASSWORD).await;
        let phone = app.sign_in(&email, PASSWORD).await;
        app.post("/api/intake/submit/")
            .bearer(&me.access)
            .json(&json!({"responses": intake_answers()}))
            .send()
            .await
            .assert_status(201);
        let entry = app
        .journal_entry(&me, json!({"title": "Hard week", "content": "Panic attack before the test", "mood": "difficult", "energy_level": 3}))
        .await;
        let note = app.note(&admin, me.id, "Referred to counselling").await;
        let kept = app
            .note(&admin, app.candidate().await.id, "Someone else's note")
            .await;
        grant(&app, &me, json!({"consent_type": "medical_data"}))
            .await
            .assert_status(201);
        let r = app
            .post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({"reason": "Please erase my records"}))
            .send()
            .await;
        let id = r.json["id"].as_i64().unwrap();
        node.post(&format!("/api/popia/deletion-requests/{id}/review/"))
            .bearer(&admin.access)
            .json(&json!({"action": "approve"}))
            .send()
            .await
            .assert_status(200);
        // Approval erases nothing.
        app.get(&format!("/api/journal/{entry}/"))
            .bearer(&me.access)
            .send()
            .await
            .assert_status(200);
        refused(
            &app.post("/api/popia/deletion-requests/create/")
                .bearer(&me.access)
                .json(&json!({}))
                .send()
                .await,
            400,
            "Your deletion request has been approved and is awaiting execution",
        );

        let r = node
            .post(&format!("/api/popia/deletion-requests/{id}/execute/"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["message"], "User data deleted successfully");
        let summary: Value =
            serde_json::from_str(r.json["deletion_summary"].as_str().unwrap()).unwrap();
        assert_eq!(summary["user_id"], me.id);
        assert_eq!(summary["email"], format!("deleted_{}@deleted.local", me.id));
        assert_eq!(summary["user_anonymized"], true);
        let items = &summary["items_deleted"];
        assert_eq!(items["journal_entries"], 1);
        assert_eq!(items["admin_notes"], 1);
        assert_eq!(items["profile"], 1);
        assert_eq!(items["consents"], 1);
        assert_eq!(items["intake_forms"], 1);
        // Registration, and sign-ins on two devices.
        assert_eq!(items["sessions"], 3);

        // Executing twice erases nothing more.
        refused(
            &app.post(&format!("/api/popia/deletion-requests/{id}/execute/"))
                .bearer(&admin.access)
                .send()
                .await,
            400,
            "Only approved requests can be executed",
        );

        // Signed out everywhere at once, and no way back in.
        for token in [&me.access, &phone.access] {
            app.get("/api/auth/me/")
                .bearer(token)
                .send()
                .await
                .assert_status(401);
        }
        app.post("/api/auth/refresh/")
            .json(&json!({"refresh": phone.refresh}))
            .send()
            .await
            .assert_status(401);
        app.post("/api/auth/login/")
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .assert_status(401);

        // What staff still see is an anonymous, empty, inactive account.
        let r = app
            .get(&format!("/api/users/{}/", me.id))
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["email"], format!("deleted_{}@deleted.local", me.id));
        assert_eq!(r.json["first_name"], "[DELETED]");
        assert_eq!(r.json["is_active"], false);
        assert_eq!(r.json["has_completed_intake"], false);
        assert_eq!(r.json["profile"]["diagnosis"], "");
        app.get(&format!("/api/journal/{entry}/"))
            .bearer(&root.access)
            .send()
            .await
            .assert_status(404);
        app.get(&format!("/api/admin-notes/{note}/"))
            .bearer(&root.access)
            .send()
            .await
            .assert_status(404);
        app.get(&format!("/api/admin-notes/{kept}/"))
            .bearer(&root.access)
            .send()
            .await
            .assert_status(200);
        let r = app
            .get(&format!("/api/intake/{}/", me.id))
            .bearer(&root.access)
            .send()
            .await;
        r.assert_status(200);
        assert!(r.json["intake"].is_null());
        assert_eq!(r.json["submissions"], 0);
        assert_eq!(r.json["medications"], "");

        // Nothing of the person is left in any table: not their address or name,
        // nor (with the key in hand) any sealed row of theirs.
        let stored = everything_stored(&app).await;
        for gone in [email.as_str(), surname.as_str(), "Nomvula"] {
            assert!(!stored.contains(gone), "{gone} is still stored");
        }
        for (table, column) in [
            ("pss_journal_entries", "user_id"),
            ("pss_intake_forms", "user_id"),
            ("pss_consents", "user_id"),
            ("pss_sessions", "user_id"),
            ("pss_admin_notes", "candidate_id"),
        ] {
            let count = JsonValue::find_by_statement(Statement::from_string(
                app.state.db.get_database_backend(),
                format!("SELECT id FROM {table} WHERE {column} = {}", me.id),
            ))
            .all(&app.state.db)
            .await
            .unwrap()
            .len();
            assert_eq!(count, 0, "{table}");
        }
        let profile_id = r.json["id"].as_i64().unwrap();
        for column in [
            "diagnosis",
            "medications",
            "emergency_contact_name",
            "id_number",
        ] {
            assert_eq!(app.raw("pss_user_profiles", column, profile_id).await, None);
        }

        // The proof is kept, without personal data, for two years.
        let r = app
            .get("/api/popia/deletion-requests/?status=completed")
            .bearer(&root.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 1);
        let retention = chrono::DateTime::parse_from_rfc3339(
            r.json["results"][0]["retention_until"].as_str().unwrap(),
        )
        .unwrap();
        let days = (retention.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
        assert!((729..=730).contains(&days), "{days}");
        let rows = app.audit_rows("User", me.id).await;
        let erased = rows.last().unwrap();
        assert_eq!(erased.action, "delete");
        assert_eq!(
            erased.actor_id.as_deref(),
            Some(admin.id.to_string().as_str())
        );
        // The erasure's one row also names the request it completed.
        let changes = erased.changes.as_ref().unwrap();
        assert_eq!(
            changes["deletion_request"]["status"],
            json!(["approved", "completed"])
        );
        assert_eq!(changes["user_anonymized"], true);

        // The person heard of the approval and of the erasure at their old address.
        pss::job_worker(&node.state)
            .run_due(&node.state.db)
            .await
            .unwrap();
        let messages = sink.wait_for(2, Duration::from_secs(10)).await;
        assert!(messages.iter().all(|m| m.contains(&email)));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("Your personal data has been deleted"))
        );
        // Sent, the messages leave the queue: the address is gone from it too.
        assert!(!everything_stored(&app).await.contains(&email));

        // What reaches the account afterwards (a write already under way, a
        // note written by someone who had not heard) is swept within the hour.
        app.note(&admin, me.id, "Written after the erasure").await;
        {
            use pss::entities::journal_entry;
            use sea_orm::{ActiveModelTrait, ActiveValue::Set};
            let now = chrono::Utc::now();
            journal_entry::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                user_id: Set(me.id),
                date: Set(now.date_naive()),
                title: Set(None),
                content: Set(Some("in flight".to_owned())),
                mood: Set("okay".to_owned()),
                energy_level: Set(5),
                activities: Set(None),
                challenges: Set(None),
                achievements: Set(None),
                barriers_faced: Set(None),
                barrier_count: Set(0),
                notes: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&app.state.db)
            .await
            .unwrap();
        }
        pss::purge_stale(&app.state.db).await.unwrap();
        for (table, column) in [
            ("pss_journal_entries", "user_id"),
            ("pss_admin_notes", "candidate_id"),
        ] {
            let left = JsonValue::find_by_statement(Statement::from_string(
                app.state.db.get_database_backend(),
                format!("SELECT id FROM {table} WHERE {column} = {}", me.id),
            ))
            .all(&app.state.db)
            .await
            .unwrap();
            assert!(left.is_empty(), "{table}");
        }
        app.get(&format!("/api/admin-notes/{kept}/"))
            .bearer(&root.access)
            .send()
            .await
            .assert_status(200);
        let swept = app.audit_rows("ErasedAccountLeftovers", 0).await;
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].changes.as_ref().unwrap()["rows"], 2);
        pss::purge_stale(&app.state.db).await.unwrap();
        assert_eq!(app.audit_rows("ErasedAccountLeftovers", 0).await.len(), 1);

        // The address is free again: the person may come back as someone new.
        app.post("/api/auth/register/")
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Nomvula", "last_name": surname}))
        .send()
        .await
        .assert_status(201);
    }
);

db_test!(bad_input_is_refused_and_changes_nothing, |app| {
    let root = app.superuser().await;
    let me = app.candidate().await;
    publish(&app, &root, "1.0", true).await;
    let before = app.audit_count().await;
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "/api/popia/consents/grant/",
            "consent_type",
            json!({"consent_type": 7}),
        ),
        (
            "/api/popia/consents/grant/",
            "consent_type",
            json!({"consent_type": null}),
        ),
        (
            "/api/popia/consents/grant/",
            "consent_type",
            json!({"consent_type": ["medical_data"]}),
        ),
        (
            "/api/popia/consents/grant/",
            "privacy_policy_version_id",
            json!({"consent_type": "medical_data", "privacy_policy_version_id": 1.5}),
        ),
        (
            "/api/popia/deletion-requests/create/",
            "reason",
            json!({"reason": "x".repeat(2001)}),
        ),
        (
            "/api/popia/deletion-requests/create/",
            "reason",
            json!({"reason": {"text": "x"}}),
        ),
        (
            "/api/popia/privacy-policies/",
            "version",
            json!({"version": "v".repeat(21), "title": "t", "content": "c"}),
        ),
        (
            "/api/popia/privacy-policies/",
            "is_active",
            json!({"version": "2.0", "title": "t", "content": "c", "is_active": "yes please"}),
        ),
    ];
    for (path, field, body) in cases {
        let r = app.post(path).bearer(&root.access).json(&body).send().await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{path} {body}: {}", r.json);
    }
    for raw in [
        "{",
        "[]",
        "\"text\"",
        "{\"consent_type\": \"medical_data\",}",
    ] {
        let r = app
            .post("/api/popia/consents/grant/")
            .bearer(&me.access)
            .raw("application/json", raw)
            .send()
            .await;
        r.assert_status(400);
        assert!(
            r.json["detail"].is_string() || r.json["non_field_errors"].is_array(),
            "{raw}: {}",
            r.json
        );
    }
    let r = app
        .post("/api/popia/consents/grant/")
        .bearer(&me.access)
        .raw(
            "application/json",
            r#"{"consent_type": "medical_data", "privacy_policy_version_id": 99999999999999999999}"#,
        )
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post("/api/popia/consents/grant/")
        .bearer(&me.access)
        .raw("text/plain", "consent_type=medical_data")
        .send()
        .await;
    r.assert_status(415);
    for path in [
        "/api/popia/consents/99999999999999999999/withdraw/",
        "/api/popia/consents/-1/withdraw/",
        "/api/popia/deletion-requests/0/review/",
        "/api/popia/deletion-requests/1e3/execute/",
        "/api/popia/deletion-requests/%00/cancel/",
    ] {
        let r = app
            .post(path)
            .bearer(&root.access)
            .json(&json!({"action": "approve"}))
            .send()
            .await;
        r.assert_status(404);
    }
    // Forged and expired tokens change nothing either.
    app.post("/api/popia/deletion-requests/create/")
        .bearer("not-a-token")
        .json(&json!({}))
        .send()
        .await
        .assert_status(401);
    assert_eq!(app.audit_count().await, before);
    let r = app
        .get("/api/popia/consents/")
        .bearer(&me.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
});

db_test!(concurrent_requests_never_double_up, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let me = app.candidate().await;
    publish(&app, &root, "1.0", true).await;

    // Two grants of one type at once: one record.
    let (a, b) = tokio::join!(
        grant(&app, &me, json!({"consent_type": "communications"})),
        grant(&app, &me, json!({"consent_type": "communications"}))
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);

    // Two requests at once: one open request.
    let create = || {
        app.post("/api/popia/deletion-requests/create/")
            .bearer(&me.access)
            .json(&json!({}))
            .send()
    };
    let (a, b) = tokio::join!(create(), create());
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400]);
    let id = if a.status == 201 { &a } else { &b }.json["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/popia/deletion-requests/{id}/review/"))
        .bearer(&admin.access)
        .json(&json!({"action": "approve"}))
        .send()
        .await
        .assert_status(200);

    // Two executions at once: one erasure.
    let execute = |who: &Actor| {
        app.post(&format!("/api/popia/deletion-requests/{id}/execute/"))
            .bearer(&who.access)
            .send()
    };
    let (a, b) = tokio::join!(execute(&admin), execute(&root));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
    let erasures = app
        .audit_rows("User", me.id)
        .await
        .into_iter()
        .filter(|r| r.action == "delete")
        .count();
    assert_eq!(erasures, 1);
});
