//! What the original's clients send and read (issue 18): journal entries in
//! the original's shape, its `detail`/`errors` beside campus's field maps,
//! session keys, its profile names, account activation and its
//! `/api/auth/create-admin|create-superuser/`. Requests follow the original's
//! documented ones (its Postman collection and views).

use super::common::*;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// The original's journal entry, as its Postman collection posts it (with a
/// mood of its choices).
fn original_entry() -> Value {
    json!({
        "date": "2025-01-15",
        "mood": "good",
        "energy_level": 7,
        "activities": "Attended classes, completed assignment",
        "challenges": "Difficulty focusing in afternoon",
        "achievements": "Submitted assignment on time",
        "notes": "Good productive day overall",
        "barriers_faced": "Crowded classroom environment",
        "barrier_count": 2
    })
}

async fn journal_count(app: &TestApp, actor: &Actor) -> i64 {
    let r = app.get("/api/journal/").bearer(&actor.access).send().await;
    r.assert_status(200);
    r.json["count"].as_i64().unwrap()
}

db_test!(journal_entries_in_the_originals_shape, |app| {
    let cand = app.candidate().await;
    let r = app
        .post("/api/journal/")
        .bearer(&cand.access)
        .json(&original_entry())
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_i64().unwrap();
    // Both shapes: the spec's fields (empty title and content) and the original's.
    assert_eq!(r.json["title"], "");
    assert_eq!(r.json["content"], "");
    assert_eq!(r.json["date"], "2025-01-15");
    assert_eq!(r.json["mood"], "good");
    assert_eq!(r.json["energy_level"], 7);
    assert_eq!(
        r.json["activities"],
        "Attended classes, completed assignment"
    );
    assert_eq!(r.json["challenges"], "Difficulty focusing in afternoon");
    assert_eq!(r.json["achievements"], "Submitted assignment on time");
    assert_eq!(r.json["notes"], "Good productive day overall");
    assert_eq!(r.json["barriers_faced"], "Crowded classroom environment");
    assert_eq!(r.json["barrier_count"], 2);

    // Persisted: read back.
    let r = app
        .get(&format!("/api/journal/{id}/"))
        .bearer(&cand.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["activities"],
        "Attended classes, completed assignment"
    );
    assert_eq!(r.json["barriers_faced"], "Crowded classroom environment");

    // The original's PATCH (with a mood of its choices) keeps the rest.
    let r = app
        .patch(&format!("/api/journal/{id}/"))
        .bearer(&cand.access)
        .json(&json!({"mood": "okay", "notes": "Updated notes"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["mood"], "okay");
    assert_eq!(r.json["notes"], "Updated notes");
    assert_eq!(
        r.json["activities"],
        "Attended classes, completed assignment"
    );

    // PUT in the original's shape leaves title and content alone.
    app.put(&format!("/api/journal/{id}/"))
        .bearer(&cand.access)
        .json(&json!({"title": "Mine", "content": "Spec shape", "mood": "good", "energy_level": 5}))
        .send()
        .await
        .assert_status(200);
    let mut body = original_entry();
    body["energy_level"] = json!(9);
    let r = app
        .put(&format!("/api/journal/{id}/"))
        .bearer(&cand.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["title"], "Mine");
    assert_eq!(r.json["content"], "Spec shape");
    assert_eq!(r.json["energy_level"], 9);
    assert_eq!(journal_count(&app, &cand).await, 1);
});

db_test!(
    journal_entries_in_the_originals_shape_are_validated,
    |app| {
        let cand = app.candidate().await;
        let refused = |field: &'static str, value: Value| {
            let mut body = original_entry();
            body[field] = value;
            body
        };
        // The Postman sample's "happy" is not one of the original's moods.
        for (body, field) in [
            (refused("mood", json!("happy")), "mood"),
            (refused("energy_level", json!(0)), "energy_level"),
            (refused("energy_level", json!(11)), "energy_level"),
            (refused("barrier_count", json!(101)), "barrier_count"),
            (refused("barrier_count", json!(-1)), "barrier_count"),
            (refused("activities", json!("  ")), "activities"),
            (refused("activities", Value::Null), "activities"),
            (refused("date", json!("15/01/2025")), "date"),
        ] {
            let r = app
                .post("/api/journal/")
                .bearer(&cand.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(400);
            assert!(r.json[field].is_array(), "{field}: {}", r.json);
        }
        let mut body = original_entry();
        body.as_object_mut().unwrap().remove("activities");
        let r = app
            .post("/api/journal/")
            .bearer(&cand.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["activities"], json!(["This field is required."]));
        // The spec's shape still needs both title and content.
        let mut body = original_entry();
        body["title"] = json!("Only a title");
        let r = app
            .post("/api/journal/")
            .bearer(&cand.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["content"], json!(["This field is required."]));
        assert_eq!(journal_count(&app, &cand).await, 0);
    }
);

db_test!(
    registration_errors_carry_the_originals_error_and_errors,
    |app| {
        let r = app
            .post("/api/auth/register/")
            .json(&json!({"email": "newuser@example.org"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["password"], json!(["This field is required."]));
        assert_eq!(r.json["error"], "Email and password are required");
        assert_eq!(r.json["detail"], "Email and password are required");
        assert_eq!(
            r.json["errors"],
            json!({"email": [], "password": ["This field is required."]})
        );

        let r = app
            .post("/api/auth/register/")
            .json(&json!({"email": "not-an-email", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "Invalid email");
        assert!(r.json["errors"]["email"].is_array());
        assert!(r.json["email"].is_array());

        let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "newuser@example.org", "password": "short", "first_name": "New", "last_name": "User"}))
        .send()
        .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "Invalid password");
        assert!(!r.json["errors"]["password"].as_array().unwrap().is_empty());

        let taken = app.candidate().await;
        let r = app
            .post("/api/auth/register/")
            .json(&json!({"email": taken.email, "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "User already exists");
        assert_eq!(r.json["errors"], json!({"email": ["Email already in use"]}));
        assert!(r.json["email"].is_array());
        let found = pss::entities::user::Entity::find()
            .filter(pss::entities::user::Column::Email.eq("newuser@example.org"))
            .one(&app.state.db)
            .await
            .unwrap();
        assert!(found.is_none());
    }
);

/// A reset token for `user_id`, stored as the request endpoint stores one.
async fn reset_token(app: &TestApp, user_id: i64) -> String {
    let secret = format!("compat-{}", tag());
    let now = chrono_now();
    pss::entities::password_reset_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(hex_sha256(&secret)),
        created_at: Set(now),
        expires_at: Set(now + std::time::Duration::from_secs(3600)),
        used_at: Set(None),
        ip_address: Set(None),
        user_agent: Set(String::new()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    secret
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    kernel::time::now()
}

/// SHA-256 in lowercase hex: how a reset token is stored.
fn hex_sha256(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

db_test!(
    password_reset_errors_carry_the_originals_detail_and_errors,
    |app| {
        let r = app
            .post("/api/auth/password-reset/request/")
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Email is required");
        assert_eq!(
            r.json["errors"]["email"],
            json!(["This field is required."])
        );
        assert_eq!(r.json["email"], json!(["This field is required."]));

        let r = app
            .post("/api/auth/password-reset/request/")
            .json(&json!({"email": "nope"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Invalid email");
        assert!(r.json["errors"]["email"].is_array());

        let r = app
            .post("/api/auth/password-reset/validate-token/")
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Token is required");
        assert_eq!(r.json["valid"], false);
        assert!(r.json["token"].is_array());

        let r = app
            .post("/api/auth/password-reset/confirm/")
            .json(&json!({"token": "abc"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Token and new password are required");
        assert!(r.json["errors"]["new_password"].is_array());

        let cand = app.candidate().await;
        let token = reset_token(&app, cand.id).await;
        let r = app
            .post("/api/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": "short"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Invalid password");
        assert!(
            !r.json["errors"]["new_password"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(r.json["new_password"].is_array());

        let r = app
            .post("/api/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": PASSWORD}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "New password cannot be old password");
        assert!(r.json["errors"]["new_password"].is_array());
        // Nothing was written: the token still works.
        let r = app
            .post("/api/auth/password-reset/validate-token/")
            .json(&json!({"token": token}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["valid"], true);
    }
);

db_test!(
    password_change_errors_carry_the_originals_detail_and_errors,
    |app| {
        let cand = app.candidate().await;
        let change = |body: Value| {
            app.post("/api/auth/password-change/")
                .bearer(&cand.access)
                .json(&body)
                .send()
        };
        let r = change(
            json!({"old_password": "Wrong-Password-1!", "new_password": "NewPassword456!x"}),
        )
        .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Old password is incorrect");
        assert_eq!(
            r.json["errors"],
            json!({"old_password": ["Password is incorrect"]})
        );
        assert!(r.json["old_password"].is_array());

        let r = change(json!({"old_password": PASSWORD, "new_password": PASSWORD})).await;
        r.assert_status(400);
        assert_eq!(
            r.json["detail"],
            "New password cannot be the same as your old password"
        );
        assert_eq!(
            r.json["errors"],
            json!({"new_password": ["Please choose a different password."]})
        );

        let r = change(json!({"old_password": PASSWORD})).await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Password change validation failed");
        assert_eq!(
            r.json["errors"]["new_password"],
            json!(["This field is required."])
        );

        let r = change(json!({"old_password": PASSWORD, "new_password": "weak"})).await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Password change validation failed");
        assert!(r.json["errors"]["new_password"].is_array());
        // Nothing changed: the old password still signs in.
        app.sign_in(&cand.email, PASSWORD).await;
    }
);

db_test!(sessions_carry_a_key_and_end_by_it, |app| {
    let first = app.candidate().await;
    let second = app.sign_in(&first.email, PASSWORD).await;
    let r = app
        .get("/api/auth/sessions/")
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(200);
    let sessions = r.json["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        let key = s["session_key"].as_str().unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(s.get("country").unwrap().is_null());
        assert!(s.get("city").unwrap().is_null());
    }
    assert_ne!(sessions[0]["session_key"], sessions[1]["session_key"]);
    let current = sessions.iter().find(|s| s["is_current"] == true).unwrap();
    let other = sessions.iter().find(|s| s["is_current"] == false).unwrap();

    // The original's DELETE /api/auth/sessions/{session_key}/.
    let r = app
        .delete(&format!(
            "/api/auth/sessions/{}/",
            current["session_key"].as_str().unwrap()
        ))
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "Cannot delete current session. Use /auth/logout/ to logout."
    );
    let r = app
        .delete(&format!("/api/auth/sessions/{}/", "ab".repeat(32)))
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Session not found");
    let r = app
        .delete("/api/auth/sessions/not-a-key!/")
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(404);
    // Someone else's key is not found either.
    let stranger = app.candidate().await;
    app.delete(&format!(
        "/api/auth/sessions/{}/",
        other["session_key"].as_str().unwrap()
    ))
    .bearer(&stranger.access)
    .send()
    .await
    .assert_status(404);

    let r = app
        .delete(&format!(
            "/api/auth/sessions/{}/",
            other["session_key"].as_str().unwrap()
        ))
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Session terminated successfully");
    // Its tokens stopped working; the list lost it.
    app.get("/api/users/me/")
        .bearer(&first.access)
        .send()
        .await
        .assert_status(401);
    let r = app
        .get("/api/auth/sessions/")
        .bearer(&second.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    // Ended already: not found again.
    app.delete(&format!(
        "/api/auth/sessions/{}/",
        other["session_key"].as_str().unwrap()
    ))
    .bearer(&second.access)
    .send()
    .await
    .assert_status(404);
});

db_test!(profiles_carry_and_accept_the_originals_names, |app| {
    let cand = app.candidate().await;
    let r = app
        .patch(&format!("/api/users/{}/profile/", cand.id))
        .bearer(&cand.access)
        .json(&json!({
            "contact_number": "+27123456789",
            "emergency_contact": "Jane Doe",
            "emergency_phone": "+27987654321",
            "address": "123 Test Street, Cape Town"
        }))
        .send()
        .await;
    r.assert_status(200);
    let profile = if r.json.get("profile").is_some() {
        r.json["profile"].clone()
    } else {
        r.json.clone()
    };
    assert_eq!(profile["contact_number"], "+27123456789");
    assert_eq!(profile["phone_number"], "+27123456789");
    assert_eq!(profile["emergency_contact"], "Jane Doe");
    assert_eq!(profile["emergency_contact_name"], "Jane Doe");
    assert_eq!(profile["emergency_phone"], "+27987654321");
    assert_eq!(profile["emergency_contact_phone"], "+27987654321");

    let r = app
        .get(&format!("/api/users/{}/", cand.id))
        .bearer(&cand.access)
        .send()
        .await;
    r.assert_status(200);
    for name in [
        "id_number",
        "contact_number",
        "address",
        "emergency_contact",
        "emergency_phone",
        "diagnosis",
        "medications",
        "allergies",
        "medical_notes",
        "doctor_name",
        "doctor_phone",
        "accommodations",
        "assistive_technology",
        "learning_style",
        "support_needs",
        "communication_preferences",
        "created_at",
        "updated_at",
    ] {
        assert!(r.json["profile"].get(name).is_some(), "profile.{name}");
    }
    assert_eq!(r.json["profile"]["contact_number"], "+27123456789");

    // Validated under the original's names too; nothing written.
    let r = app
        .patch(&format!("/api/users/{}/profile/", cand.id))
        .bearer(&cand.access)
        .json(&json!({"contact_number": "12", "emergency_contact": "Someone Else"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get(&format!("/api/users/{}/", cand.id))
        .bearer(&cand.access)
        .send()
        .await;
    assert_eq!(r.json["profile"]["emergency_contact"], "Jane Doe");
});

db_test!(accounts_are_activated_and_deactivated, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let cand = app.candidate().await;
    let other = app.candidate().await;

    // Candidates may not.
    app.patch(&format!("/api/users/{}/deactivate/", other.id))
        .bearer(&cand.access)
        .send()
        .await
        .assert_status(403);
    app.patch(&format!("/api/users/{}/deactivate/", cand.id))
        .send()
        .await
        .assert_status(401);

    let r = app
        .patch(&format!("/api/users/{}/deactivate/", admin.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "You cannot deactivate your own account.");
    let r = app
        .patch(&format!("/api/users/{}/activate/", admin.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "You cannot activate your own account.");
    // An administrator reaches candidates only: other administrators and
    // superusers are not found, as on every other account route.
    let peer = app.admin(&root).await;
    for target in [root.id, peer.id] {
        app.patch(&format!("/api/users/{target}/deactivate/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
    // A superuser reaches everyone, but no superuser is deactivated.
    let other_root = app.superuser().await;
    let r = app
        .patch(&format!("/api/users/{}/deactivate/", other_root.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(r.json["detail"], "Superusers cannot be deactivated.");
    app.patch("/api/users/999999/deactivate/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);

    let before = app.audit_rows("User", cand.id).await.len();
    let r = app
        .patch(&format!("/api/users/{}/deactivate/", cand.id))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"status": "deactivated"}));
    let rows = app.audit_rows("User", cand.id).await;
    assert_eq!(rows.len(), before + 1);
    assert_eq!(
        rows.last().unwrap().actor_id.as_deref(),
        Some(admin.id.to_string().as_str())
    );
    // Signed out and unable to sign in.
    app.get("/api/users/me/")
        .bearer(&cand.access)
        .send()
        .await
        .assert_status(401);
    app.post("/api/auth/login/")
        .json(&json!({"email": cand.email, "password": PASSWORD}))
        .send()
        .await
        .assert_status(401);

    let r = app
        .patch(&format!("/api/users/{}/activate/", cand.id))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"status": "activated"}));
    app.sign_in(&cand.email, PASSWORD).await;
    let r = app
        .get(&format!("/api/users/{}/", cand.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["is_active"], true);
});

db_test!(superusers_create_admins_and_superusers_under_auth, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let email = format!("new-admin-{}@example.org", tag());
    let body = json!({"email": email, "password": "Strong-Admin-Pass-42!", "first_name": "Lerato", "last_name": "Dlamini"});

    for path in ["/api/auth/create-admin/", "/api/auth/create-superuser/"] {
        let r = app
            .post(path)
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(403);
        assert!(
            r.json["error"]
                .as_str()
                .unwrap()
                .starts_with("Only superusers can create")
        );
        app.post(path).json(&body).send().await.assert_status(401);
    }

    let r = app
        .post("/api/auth/create-admin/")
        .bearer(&root.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["message"], "Admin user created successfully");
    assert_eq!(r.json["user"]["email"], email.as_str());
    assert_eq!(r.json["user"]["first_name"], "Lerato");
    assert_eq!(r.json["user"]["last_name"], "Dlamini");
    assert_eq!(r.json["user"]["role"], "admin");
    assert!(r.json["user"]["id"].is_i64());

    let r = app
        .post("/api/auth/create-admin/")
        .bearer(&root.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["error"], "User with this email already exists");
    assert!(r.json["email"].is_array());

    let su_email = format!("new-root-{}@example.org", tag());
    let r = app
        .post("/api/auth/create-superuser/")
        .bearer(&root.access)
        .json(&json!({"email": su_email, "password": "Strong-Root-Pass-42!"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["message"], "Superuser created successfully");
    assert_eq!(r.json["user"]["role"], "superuser");
    assert_eq!(r.json["user"]["first_name"], "");
    app.sign_in(&su_email, "Strong-Root-Pass-42!").await;

    let weak = format!("weak-{}@example.org", tag());
    for (body, error) in [
        (json!({"email": weak}), "Email and password are required"),
        (
            json!({"password": "Strong-Root-Pass-42!"}),
            "Email and password are required",
        ),
        (
            json!({"email": weak, "password": "password"}),
            "Invalid password",
        ),
        (
            json!({"email": "nope", "password": "Strong-Root-Pass-42!"}),
            "Invalid email",
        ),
    ] {
        let r = app
            .post("/api/auth/create-superuser/")
            .bearer(&root.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], error, "{body}");
        assert!(r.json["errors"].is_object());
    }
    let found = pss::entities::user::Entity::find()
        .filter(pss::entities::user::Column::Email.eq(weak.as_str()))
        .one(&app.state.db)
        .await
        .unwrap();
    assert!(found.is_none());
});
