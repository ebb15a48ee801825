//! Signing in (contract §1): tokens, the verification gate, rotation, logout.

use crate::common::*;
use sea_orm::EntityTrait;

db_test!(sign_in_and_me, |app| {
    let admin = app.admin().await;
    let r = app.get("/api/auth/me/").bearer(&admin.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["role"], "admin");
    assert_eq!(r.json["email"], admin.email.as_str());
    assert_eq!(r.json["email_verified"], true);

    let anonymous = app.get("/api/auth/me/").send().await;
    anonymous.assert_status(401);
    assert!(anonymous.header("www-authenticate").is_some());

    let health = app.get("/api/health/").send().await;
    health.assert_status(200);
    assert_eq!(
        health.json,
        json!({"status": "healthy", "service": "Smart Roster API"})
    );
});

db_test!(wrong_password_and_unverified_email_are_refused, |app| {
    let trainer = app.user("trainer").await;
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": trainer.email, "password": "not-the-password"}))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(
        r.json["detail"],
        "No active account found with the given credentials"
    );

    let missing = app
        .post("/api/auth/token/")
        .json(&json!({"email": trainer.email}))
        .send()
        .await;
    missing.assert_status(400);
    assert!(missing.json["password"].is_array());

    let mut row: roster::entities::user::ActiveModel = app.user_row(trainer.id).await.into();
    row.email_verified = sea_orm::ActiveValue::Set(false);
    sea_orm::ActiveModelTrait::update(row, app.db())
        .await
        .unwrap();
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": trainer.email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(r.json["code"], "email_not_verified");
    assert_eq!(
        r.json["detail"],
        "Verify your email address before signing in."
    );
});

db_test!(refresh_rotates_and_logout_ends_tokens, |app| {
    let user = app.user("trainee").await;
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": user.refresh}))
        .send()
        .await;
    r.assert_status(200);
    let again = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": user.refresh}))
        .send()
        .await;
    again.assert_status(401);

    let verify = app
        .post("/api/auth/token/verify/")
        .json(&json!({"token": user.access}))
        .send()
        .await;
    verify.assert_status(200);
    assert_eq!(verify.json, json!({}));

    let fresh = r.json["refresh"].as_str().unwrap();
    let out = app
        .post("/api/auth/logout/")
        .bearer(&user.access)
        .json(&json!({"refresh": fresh}))
        .send()
        .await;
    out.assert_status(200);
    assert_eq!(out.json["detail"], "Successfully logged out.");
    app.get("/api/auth/me/")
        .bearer(&user.access)
        .send()
        .await
        .assert_status(401);
});

// ---------------------------------------------------------------------------
// Registration, email verification, password change and reset, self-edit
// ---------------------------------------------------------------------------

const NEW_PASSWORD: &str = "Brighter-Morning-77!";

fn registration(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "first_name": "Ann", "last_name": "Otieno",
           "role": "admin", "email_verified": true})
}

db_test!(register_verify_then_sign_in, |app| {
    let (node, sink) = mailing(&app).await;
    let email = format!("Ann-{}@Example.org", tag());
    let r = node
        .post("/api/auth/register/")
        .json(&registration(&email))
        .send()
        .await;
    r.assert_status(201);
    assert!(r.json.get("access").is_none());
    assert_eq!(r.json["user"]["role"], "trainee");
    assert_eq!(r.json["user"]["email"], email.to_lowercase());
    assert_eq!(r.json["user"]["email_verified"], false);
    assert!(r.json["detail"].is_string());
    // Unverified: sign-in refused with the contract's code.
    let refused = node
        .post("/api/auth/token/")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    refused.assert_status(403);
    assert_eq!(refused.json["code"], "email_not_verified");
    // The job mints the token: nothing secret sits in the queue.
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains(&email.to_lowercase()));
    let token = link_param(&messages[0], "token");
    let stored = roster::entities::email_token::Entity::find()
        .all(node.db())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, token);
    assert_eq!(
        kernel::testing::rows_containing(node.db(), "campus_jobs", &token).await,
        0
    );
    node.post("/api/auth/verify-email/")
        .json(&json!({"token": token}))
        .send()
        .await
        .assert_status(200);
    // Single use.
    let again = node
        .post("/api/auth/verify-email/")
        .json(&json!({"token": token}))
        .send()
        .await;
    again.assert_status(400);
    assert!(again.json["token"].is_array());
    node.sign_in(&email, PASSWORD).await;
});

db_test!(register_refuses_bad_input_and_writes_nothing, |app| {
    let before = app.user("trainee").await;
    let count = || async {
        roster::entities::user::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .len()
    };
    let users = count().await;
    for (body, field) in [
        (
            json!({"email": "x@example.org", "first_name": "A", "last_name": "B", "password": "12345678901"}),
            "password",
        ),
        (
            json!({"email": "x@example.org", "first_name": "A", "last_name": "B", "password": "password"}),
            "password",
        ),
        (
            json!({"email": "x@example.org", "first_name": "A", "last_name": "B", "password": "Ab1!"}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "first_name": "A", "last_name": "B", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": before.email.to_uppercase(), "first_name": "A", "last_name": "B", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"first_name": "A", "last_name": "B", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "y@example.org", "last_name": "B", "password": PASSWORD}),
            "first_name",
        ),
        (
            json!({"email": "y@example.org", "first_name": "A", "last_name": "B"}),
            "password",
        ),
        (
            json!({"email": "y@example.org", "first_name": 5, "last_name": "B", "password": PASSWORD, "phone": "abc"}),
            "phone",
        ),
    ] {
        let r = app.post("/api/auth/register/").json(&body).send().await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{field} in {}", r.json);
    }
    let similar = app
        .post("/api/auth/register/")
        .json(&json!({"email": "samantha.k@example.org", "first_name": "S", "last_name": "K", "password": "samantha.k"}))
        .send()
        .await;
    similar.assert_status(400);
    assert_eq!(count().await, users);
    app.post("/api/auth/register/")
        .raw("application/json", "{")
        .send()
        .await
        .assert_status(400);
});

db_test!(resend_and_reset_answer_200_for_anyone, |app| {
    let (node, sink) = mailing(&app).await;
    for path in [
        "/api/auth/resend-verification/",
        "/api/auth/password/reset/",
    ] {
        let r = node
            .post(path)
            .json(&json!({"email": "nobody@example.org"}))
            .send()
            .await;
        r.assert_status(200);
        node.post(path)
            .json(&json!({}))
            .send()
            .await
            .assert_status(400);
    }
    // A verified user gets no verification email; nothing was sent at all.
    let user = node.user("trainer").await;
    node.post("/api/auth/resend-verification/")
        .json(&json!({"email": user.email}))
        .send()
        .await
        .assert_status(200);
    assert_eq!(node.run_jobs().await, 0);
    assert!(sink.messages().is_empty());
});

db_test!(password_change_ends_tokens, |app| {
    let user = app.user("trainer").await;
    let url = "/api/auth/password/change/";
    app.post(url)
        .json(&json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(401);
    let wrong = app
        .post(url)
        .bearer(&user.access)
        .json(&json!({"old_password": "nope", "new_password": NEW_PASSWORD}))
        .send()
        .await;
    wrong.assert_status(400);
    assert!(wrong.json["old_password"].is_array());
    let weak = app
        .post(url)
        .bearer(&user.access)
        .json(&json!({"old_password": PASSWORD, "new_password": "123"}))
        .send()
        .await;
    weak.assert_status(400);
    assert!(weak.json["new_password"].is_array());
    app.post(url)
        .bearer(&user.access)
        .json(&json!({"old_password": PASSWORD}))
        .send()
        .await
        .assert_status(400);
    app.post(url)
        .bearer(&user.access)
        .json(&json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(200);
    app.get("/api/auth/me/")
        .bearer(&user.access)
        .send()
        .await
        .assert_status(401);
    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": user.refresh}))
        .send()
        .await
        .assert_status(401);
    app.sign_in(&user.email, NEW_PASSWORD).await;
    let notes = roster::entities::notification::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.user_id == user.id && n.notification_type == "account")
    );
});

db_test!(password_reset_through_the_emailed_link, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.user("trainee").await;
    node.post("/api/auth/password/reset/")
        .json(&json!({"email": user.email.to_uppercase()}))
        .send()
        .await
        .assert_status(200);
    let messages = deliver(&node, &sink, 1).await;
    let token = link_param(&messages[0], "token");
    let uid = link_param(&messages[0], "uid");
    assert_eq!(uid, user.id.to_string());
    let url = "/api/auth/password/reset/confirm/";
    let other = Uuid::new_v4().to_string();
    node.post(url)
        .json(&json!({"uid": other, "token": token, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(400);
    node.post(url)
        .json(&json!({"uid": "x", "token": token, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(400);
    node.post(url)
        .json(&json!({"uid": uid, "token": "forged", "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(400);
    node.post(url)
        .json(&json!({"uid": uid, "token": token, "new_password": "short"}))
        .send()
        .await
        .assert_status(400);
    node.post(url)
        .json(&json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(200);
    node.post(url)
        .json(&json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .assert_status(400);
    node.get("/api/auth/me/")
        .bearer(&user.access)
        .send()
        .await
        .assert_status(401);
    node.sign_in(&user.email, NEW_PASSWORD).await;
});

db_test!(self_edit_at_me_and_its_alias, |app| {
    let user = app.user("trainer").await;
    app.patch("/api/auth/me/")
        .json(&json!({"first_name": "X"}))
        .send()
        .await
        .assert_status(401);
    let r = app.patch("/api/auth/me/").bearer(&user.access)
        .json(&json!({"first_name": "Grace", "phone": "+254 712 345678", "role": "admin", "is_active": false,
                       "email": "other@example.org", "profile": {"qualifications": "BSc", "staff_number": "HACK"}}))
        .send().await;
    r.assert_status(200);
    assert_eq!(r.json["first_name"], "Grace");
    assert_eq!(r.json["role"], "trainer");
    assert_eq!(r.json["email"], user.email);
    assert_eq!(r.json["is_active"], true);
    assert_eq!(r.json["profile"]["qualifications"], "BSc");
    assert_ne!(r.json["profile"]["staff_number"], "HACK");
    let bad = app
        .patch("/api/users/me/")
        .bearer(&user.access)
        .json(&json!({"phone": "call me", "gender": "x", "date_of_birth": "2999-01-01"}))
        .send()
        .await;
    bad.assert_status(400);
    for field in ["phone", "gender", "date_of_birth"] {
        assert!(bad.json[field].is_array(), "{field}");
    }
    let alias = app.get("/api/users/me/").bearer(&user.access).send().await;
    alias.assert_status(200);
    assert_eq!(alias.json["first_name"], "Grace");
    app.patch("/api/users/me/")
        .bearer(&user.access)
        .json(&json!([1]))
        .send()
        .await
        .assert_status(400);
});
