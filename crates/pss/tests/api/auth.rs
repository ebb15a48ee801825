//! `/api/auth/…`: registration, sign-in, refresh rotation, logout.

use crate::common::*;

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

db_test!(register_creates_a_candidate_with_a_profile, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "Thandi.Nkosi@Example.org", "password": PASSWORD, "first_name": "Thandi", "last_name": "Nkosi"}))
        .send()
        .await;
    r.assert_status(201);
    let user = &r.json["user"];
    assert_eq!(user["email"], "thandi.nkosi@example.org");
    assert_eq!(user["role"], "candidate");
    assert_eq!(user["first_name"], "Thandi");
    assert_eq!(user["is_staff"], false);
    assert_eq!(user["has_completed_intake"], false);
    assert_eq!(user["profile"]["user"], user["id"]);
    assert_eq!(user["profile"]["diagnosis"], "");
    assert_eq!(user["profile"]["date_of_birth"], Value::Null);
    assert!(
        user.get("password").is_none(),
        "the hash never leaves the server"
    );
    let access = r.json["access"].as_str().unwrap();
    for path in ["/api/users/me/", "/api/auth/me/"] {
        let me = app.get(path).bearer(access).send().await;
        me.assert_status(200);
        assert_eq!(me.json["email"], "thandi.nkosi@example.org");
        assert_eq!(me.header("cache-control"), Some("no-store"));
    }
    let rows = app.audit_rows("User", user["id"].as_i64().unwrap()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "create");
    assert_eq!(
        rows[0].actor_id.as_deref(),
        Some(user["id"].to_string().as_str())
    );
    let text = serde_json::to_string(&rows[0].changes).unwrap();
    assert!(
        !text.contains("Thandi") && !text.contains("example.org"),
        "{text}"
    );
});

db_test!(register_refuses_bad_input_and_creates_nothing, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["This field is required."], "password": ["This field is required."]})
    );

    // The original's 11-character Postman sample fails the 12-character minimum.
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "sam@example.org", "password": "NewUser123!"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["password"],
        json!(["This password is too short. It must contain at least 12 characters."])
    );

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "x@example.org", "password": "alllowercaseletters"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["password"],
        json!([
            "Password must contain at least one uppercase letter.",
            "Password must contain at least one number.",
            "Password must contain at least one special character."
        ])
    );

    let r = app
        .post("/api/auth/register/")
        .json(
            &json!({"email": "x@example.org", "password": "password1234", "first_name": "Thandi"}),
        )
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["password"]
            .as_array()
            .unwrap()
            .contains(&json!("This password is too common."))
    );

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "thandi@example.org", "password": "Thandi-Rocks-2024", "first_name": "Thandi"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["password"].as_array().unwrap().contains(&json!(
        "Password must not contain your email address or name."
    )));

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "boss@example.org", "password": PASSWORD, "role": "admin"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"role": ["Self-registration can only create candidate accounts."]})
    );

    let r = app
        .post("/api/auth/register/")
        .json(
            &json!({"email": "not-an-email", "password": PASSWORD, "first_name": "x".repeat(151)}),
        )
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["email"], json!(["Enter a valid email address."]));
    assert_eq!(
        r.json["first_name"],
        json!(["Ensure this field has no more than 150 characters."])
    );

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": 5, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["Not a valid string."]})
    );

    let root = app.superuser().await;
    let users = app.get("/api/users/").bearer(&root.access).send().await;
    assert_eq!(users.json["count"], 1, "only the superuser exists");
});

db_test!(register_refuses_a_taken_email_whatever_its_case, |app| {
    let first = app.candidate().await;
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": first.email.to_uppercase(), "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["User with this email already exists."]})
    );
});

db_test!(
    register_keeps_to_the_allowed_domains,
    settings = &[("CAMPUS_PSS_ALLOWED_EMAIL_DOMAINS", "capaciti.org.za")],
    |app| {
        let r = app
            .post("/api/auth/register/")
            .json(&json!({"email": "someone@example.org", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(
            field_map(&r.json),
            json!({"email": ["Email domain must be one of: capaciti.org.za"]})
        );
        app.post("/api/auth/register/")
            .json(&json!({"email": "someone@capaciti.org.za", "password": PASSWORD}))
            .send()
            .await
            .assert_status(201);
    }
);

db_test!(login_answers_tokens_or_the_originals_401, |app| {
    let candidate = app.candidate().await;
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": candidate.email.to_uppercase(), "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["access"].is_string() && r.json["refresh"].is_string());
    assert_eq!(r.json["user"]["id"], candidate.id);
    assert_eq!(r.json["user"]["profile"]["user"], candidate.id);

    for body in [
        json!({"email": candidate.email, "password": "Wrong-Password-99"}),
        json!({"email": "nobody@example.org", "password": PASSWORD}),
    ] {
        let r = app.post("/api/auth/login/").json(&body).send().await;
        r.assert_status(401);
        assert_eq!(r.json["detail"], "Invalid email or password");
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    }

    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": candidate.email}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"password": ["This field is required."]})
    );
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "", "password": ""}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"email": ["This field may not be blank."], "password": ["This field may not be blank."]})
    );

    // A deactivated account cannot sign in, and its tokens stop working.
    let root = app.superuser().await;
    app.patch(&format!("/api/users/{}/", candidate.id))
        .bearer(&root.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": candidate.email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(r.json["detail"], "Invalid email or password");
    app.get("/api/users/me/")
        .bearer(&candidate.access)
        .send()
        .await
        .assert_status(401);
});

db_test!(
    tokens_last_15_minutes_and_7_days_and_carry_no_personal_data,
    |app| {
        let candidate = app.candidate().await;
        let access = claims(&candidate.access);
        assert_eq!(access["token_type"], "access");
        assert_eq!(
            access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
            15 * 60
        );
        assert_eq!(access["user_id"], candidate.id.to_string());
        let refresh = claims(&candidate.refresh);
        assert_eq!(
            refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
            7 * 24 * 3600
        );
        let text = access.to_string();
        assert!(!text.contains("example.org") && !text.contains("Thandi"));
    }
);

db_test!(refresh_rotates_and_blacklists, |app| {
    let candidate = app.candidate().await;
    let r = app
        .post("/api/auth/refresh/")
        .json(&json!({"refresh": candidate.refresh}))
        .send()
        .await;
    r.assert_status(200);
    let next = r.json["refresh"].as_str().unwrap().to_owned();
    assert_ne!(next, candidate.refresh);
    app.get("/api/users/me/")
        .bearer(r.json["access"].as_str().unwrap())
        .send()
        .await
        .assert_status(200);

    let r = app
        .post("/api/auth/refresh/")
        .json(&json!({"refresh": candidate.refresh}))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(r.json["detail"], "Token is blacklisted");

    // SimpleJWT's path is an alias.
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": next}))
        .send()
        .await;
    r.assert_status(200);

    for bad in [
        json!({"refresh": candidate.access}),
        json!({"refresh": "garbage"}),
    ] {
        let r = app.post("/api/auth/refresh/").json(&bad).send().await;
        r.assert_status(401);
        assert_eq!(r.json["detail"], "Token is invalid or expired");
    }
    let r = app.post("/api/auth/refresh/").json(&json!({})).send().await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"refresh": ["This field is required."]})
    );
});

db_test!(logout_blacklists_and_ends_every_token, |app| {
    let candidate = app.candidate().await;
    let second = app.sign_in(&candidate.email, PASSWORD).await;
    let other = app.candidate().await;

    app.post("/api/auth/logout/")
        .json(&json!({"refresh": candidate.refresh}))
        .send()
        .await
        .assert_status(401);
    let r = app
        .post("/api/auth/logout/")
        .bearer(&candidate.access)
        .json(&json!({"refresh": other.refresh}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "Invalid token");
    let r = app
        .post("/api/auth/logout/")
        .bearer(&candidate.access)
        .json(&json!({"refresh": "garbage"}))
        .send()
        .await;
    r.assert_status(400);

    let r = app
        .post("/api/auth/logout/")
        .bearer(&candidate.access)
        .json(&json!({"refresh": candidate.refresh}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"detail": "Successfully logged out"}));
    for access in [&candidate.access, &second.access] {
        app.get("/api/users/me/")
            .bearer(access)
            .send()
            .await
            .assert_status(401);
    }
    for refresh in [&candidate.refresh, &second.refresh] {
        app.post("/api/auth/refresh/")
            .json(&json!({"refresh": refresh}))
            .send()
            .await
            .assert_status(401);
    }
    // Other accounts are untouched, and signing in again works.
    app.get("/api/users/me/")
        .bearer(&other.access)
        .send()
        .await
        .assert_status(200);
    let again = app.sign_in(&candidate.email, PASSWORD).await;
    app.get("/api/users/me/")
        .bearer(&again.access)
        .send()
        .await
        .assert_status(200);
});

db_test!(bad_access_tokens_are_401, |app| {
    let r = app.get("/api/users/me/").send().await;
    r.assert_status(401);
    assert_eq!(
        r.json["detail"],
        "Authentication credentials were not provided."
    );
    let r = app.get("/api/users/me/").bearer("not-a-token").send().await;
    r.assert_status(401);
    assert_eq!(r.json["code"], "token_not_valid");
    let candidate = app.candidate().await;
    app.get("/api/users/me/")
        .bearer(&candidate.refresh)
        .send()
        .await
        .assert_status(401);
});

db_test!(parallel_changes_with_one_old_password_succeed_once, |app| {
    use pss::entities::password_history as history;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let candidate = app.candidate().await;
    let news: Vec<String> = (0..10)
        .map(|i| format!("Parallel-Secret-{i:02}!"))
        .collect();
    let sent: Vec<_> = news
        .iter()
        .map(|new| {
            let client = app.client.clone();
            let access = candidate.access.clone();
            let body = json!({"old_password": PASSWORD, "new_password": new});
            tokio::spawn(async move {
                client
                    .post("/api/auth/password-change/")
                    .bearer(&access)
                    .json(&body)
                    .send()
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (new, response) in news.iter().zip(sent) {
        let r = response.await.unwrap();
        match r.status.as_u16() {
            200 => winners.push(new.clone()),
            400 => assert_eq!(
                field_map(&r.json),
                json!({"old_password": ["Old password is incorrect"]})
            ),
            // Arrived after the winner had ended every earlier token.
            401 => {}
            other => panic!("unexpected {other}: {}", r.json),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    app.sign_in(&candidate.email, &winners[0]).await;
    // (Four of the others: a fifth failure would lock the address out.)
    for new in news.iter().filter(|n| **n != winners[0]).take(4) {
        app.post("/api/auth/login/")
            .json(&json!({"email": candidate.email, "password": new}))
            .send()
            .await
            .assert_status(401);
    }
    // The original password and the one new one, nothing else.
    let kept = history::Entity::find()
        .filter(history::Column::UserId.eq(candidate.id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept, 2);
});

db_test!(changing_the_password_ends_earlier_tokens, |app| {
    let candidate = app.candidate().await;
    let other_device = app.sign_in(&candidate.email, PASSWORD).await;
    let path = "/api/auth/password-change/";
    app.post(path)
        .json(&json!({"old_password": PASSWORD, "new_password": "Brand-New-Secret-77"}))
        .send()
        .await
        .assert_status(401);
    let r = app
        .post(path)
        .bearer(&candidate.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"old_password": ["This field is required."], "new_password": ["This field is required."]})
    );
    let r = app
        .post(path)
        .bearer(&candidate.access)
        .json(&json!({"old_password": "Wrong-Password-99", "new_password": "short"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["old_password"], json!(["Old password is incorrect"]));
    assert!(r.json["new_password"].as_array().unwrap().len() >= 2);
    let r = app
        .post(path)
        .bearer(&candidate.access)
        .json(&json!({"old_password": PASSWORD, "new_password": PASSWORD}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        field_map(&r.json),
        json!({"new_password": ["New password cannot be the same as your old password."]})
    );
    app.sign_in(&candidate.email, PASSWORD).await;

    let r = app
        .post(path)
        .bearer(&candidate.access)
        .json(&json!({"old_password": PASSWORD, "new_password": "Brand-New-Secret-77"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Password changed successfully");
    let fresh = r.json["access"].as_str().unwrap().to_owned();
    for old in [&candidate.access, &other_device.access] {
        app.get("/api/users/me/")
            .bearer(old)
            .send()
            .await
            .assert_status(401);
    }
    app.get("/api/users/me/")
        .bearer(&fresh)
        .send()
        .await
        .assert_status(200);
    app.post("/api/auth/login/")
        .json(&json!({"email": candidate.email, "password": PASSWORD}))
        .send()
        .await
        .assert_status(401);
    app.sign_in(&candidate.email, "Brand-New-Secret-77").await;
    let rows = app.audit_rows("User", candidate.id).await;
    assert_eq!(
        rows.last().unwrap().changes,
        Some(json!({"password": "changed"}))
    );
});
