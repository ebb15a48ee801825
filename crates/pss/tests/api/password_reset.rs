//! Password reset by emailed link, password change with history, and the
//! email they send (through a real SMTP sink and the file transport).

use std::time::Duration;

use kernel::testing::{SmtpSink, TestResponse};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::common::*;

const NEW: &str = "Brighter-Morning-77!";

/// A second node on the same database that mails to an SMTP sink.
async fn mailing(app: &TestApp) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let node = TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
    (node, sink)
}

/// Runs the queued jobs, then returns the sink's messages once `n` arrived.
async fn deliver(node: &TestApp, sink: &SmtpSink, n: usize) -> Vec<String> {
    pss::job_worker(&node.state)
        .run_due(&node.state.db)
        .await
        .expect("jobs run");
    sink.wait_for(n, Duration::from_secs(10)).await
}

/// The token of the reset link in a message (quoted-printable undone).
fn link_token(message: &str) -> String {
    let message = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = message
        .find("http://localhost:3000/reset-password?token=")
        .expect("a reset link")
        + "http://localhost:3000/reset-password?token=".len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn request(app: &TestApp, email: &str) -> TestResponse {
    app.post("/api/auth/password-reset/request/")
        .json(&json!({"email": email}))
        .send()
        .await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.post("/api/auth/password-reset/confirm/")
        .json(&json!({"token": token, "new_password": password}))
        .send()
        .await
}

async fn token_rows(app: &TestApp) -> Vec<pss::entities::password_reset_token::Model> {
    pss::entities::password_reset_token::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
}

db_test!(full_reset_flow_through_the_emailed_link, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.candidate().await;
    let r = request(&node, &user.email).await;
    r.assert_status(200);
    assert_eq!(
        r.json["message"],
        "If an account with that email exists, a password reset link has been sent."
    );
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains(&user.email));
    assert!(messages[0].contains("Subject: Reset your PSS password"));
    let token = link_token(&messages[0]);
    assert_eq!(token.len(), 43, "32 bytes in URL-safe base64: {token}");

    // Only the digest is stored, and the audit row holds no token.
    let rows = token_rows(&node).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash.len(), 64);
    assert_ne!(rows[0].token_hash, token);
    let audit = node.audit_rows("PasswordResetToken", rows[0].id).await;
    assert_eq!(audit.len(), 1);
    assert!(!format!("{audit:?}").contains(&token));

    let r = node
        .post("/api/auth/password-reset/validate-token/")
        .json(&json!({"token": token}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["valid"], true);
    assert_eq!(r.json["email"], user.email.as_str());

    let r = confirm(&node, &token, NEW).await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Password has been reset successfully");

    // The old tokens are over; the new password works, the old one not.
    node.get("/api/auth/me/")
        .bearer(&user.access)
        .send()
        .await
        .assert_status(401);
    node.post("/api/auth/refresh/")
        .json(&json!({"refresh": user.refresh}))
        .send()
        .await
        .assert_status(401);
    node.post("/api/auth/login/")
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .assert_status(401);
    node.sign_in(&user.email, NEW).await;

    // A confirmation email follows.
    let messages = deliver(&node, &sink, 2).await;
    assert_eq!(messages.len(), 2);
    assert!(messages[1].contains("Subject: Your PSS password was changed"));

    // Single use.
    let r = confirm(&node, &token, "Another-Fresh-Pass-9!").await;
    r.assert_status(400);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid, expired, or already used")
    );
    let r = node
        .post("/api/auth/password-reset/validate-token/")
        .json(&json!({"token": token}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["valid"], false);
});

db_test!(unknown_email_gets_the_same_answer_and_no_mail, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.candidate().await;
    let known = request(&node, &user.email).await;
    let unknown = request(&node, "nobody-here@example.org").await;
    known.assert_status(200);
    unknown.assert_status(200);
    assert_eq!(known.json, unknown.json);
    let messages = deliver(&node, &sink, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1);
    assert!(messages[0].contains(&user.email));
    assert_eq!(token_rows(&node).await.len(), 1);
});

db_test!(bad_input_is_a_drf_400, |app| {
    let r = app
        .post("/api/auth/password-reset/request/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["email"].is_array(), "{}", r.json);
    request(&app, "not-an-email").await.assert_status(400);
    let r = app
        .post("/api/auth/password-reset/validate-token/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["token"].is_array(), "{}", r.json);
    let r = app
        .post("/api/auth/password-reset/confirm/")
        .json(&json!({"token": "x"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["new_password"].is_array(), "{}", r.json);
    let r = confirm(&app, "no-such-token", NEW).await;
    r.assert_status(400);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid, expired, or already used")
    );
    let r = confirm(&app, &"x".repeat(5000), NEW).await;
    r.assert_status(400);
});

db_test!(expired_and_wrong_tokens_fail, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.candidate().await;
    request(&node, &user.email).await.assert_status(200);
    let token = link_token(&deliver(&node, &sink, 1).await[0]);

    // A wrong token (one character changed) does not work.
    let mut wrong = token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    confirm(&node, &wrong, NEW).await.assert_status(400);

    // A weak password is refused without using the token up.
    let r = confirm(&node, &token, "short").await;
    r.assert_status(400);
    assert!(r.json["new_password"].is_array(), "{}", r.json);
    // The current password is refused.
    let r = confirm(&node, &token, PASSWORD).await;
    r.assert_status(400);
    assert!(
        r.json.to_string().contains("same as your old password"),
        "{}",
        r.json
    );

    use pss::entities::password_reset_token as t;
    t::Entity::update_many()
        .col_expr(
            t::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&node.state.db)
        .await
        .unwrap();
    let r = node
        .post("/api/auth/password-reset/validate-token/")
        .json(&json!({"token": token}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["valid"], false);
    confirm(&node, &token, NEW).await.assert_status(400);
    node.sign_in(&user.email, PASSWORD).await;
});

db_test!(reset_requests_are_throttled, |app| {
    let user = app.candidate().await;
    for _ in 0..5 {
        request(&app, &user.email).await.assert_status(200);
    }
    let r = request(&app, &user.email).await;
    r.assert_status(429);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Request was throttled.")
    );
    // Per address: 20 an hour whatever the email.
    for i in 0..14 {
        request(&app, &format!("other{i}@example.org"))
            .await
            .assert_status(200);
    }
    request(&app, "one-more@example.org")
        .await
        .assert_status(429);
    assert_eq!(token_rows(&app).await.len(), 5);
});

/// With `CAMPUS_REDIS_URL`, every node shares the reset limits.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_shares_reset_limits_across_nodes() {
    let redis = std::env::var("CAMPUS_TEST_REDIS_URL").unwrap();
    let settings = [
        ("CAMPUS_REDIS_URL", redis.as_str()),
        ("CAMPUS_TRUSTED_PROXIES", "1"),
    ];
    let first = TestApp::with_settings(TestBackend::Sqlite, &settings).await;
    let second = TestApp::on(&first.url, &settings).await;
    let user = first.candidate().await;
    // An address of this run's own, so earlier runs' counts do not matter.
    let bytes = Uuid::new_v4().into_bytes();
    let address = format!("10.{}.{}.{}", bytes[0], bytes[1], bytes[2]);
    let from = |node: &TestApp, email: &str| {
        node.post("/api/auth/password-reset/request/")
            .header("x-forwarded-for", &address)
            .json(&json!({"email": email}))
            .send()
    };
    for node in [&first, &second, &first, &second, &first] {
        from(node, &user.email).await.assert_status(200);
    }
    let r = from(&second, &user.email).await;
    r.assert_status(429);
    assert!(r.header("retry-after").is_some());
    for i in 0..14 {
        let node = if i % 2 == 0 { &first } else { &second };
        from(node, &format!("shared{i}-{}@example.org", tag()))
            .await
            .assert_status(200);
    }
    from(&first, "one-more@example.org")
        .await
        .assert_status(429);
    assert_eq!(token_rows(&first).await.len(), 5);
}

#[tokio::test]
async fn an_unreachable_redis_refuses_resets_instead_of_dropping_the_limits() {
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[("CAMPUS_REDIS_URL", "redis://127.0.0.1:1/")],
    )
    .await;
    let r = request(&app, "someone@example.org").await;
    r.assert_status(503);
    assert_eq!(
        r.json["detail"],
        "Password reset is temporarily unavailable. Please try again later."
    );
    assert!(token_rows(&app).await.is_empty());
}

async fn change(app: &TestApp, actor: &Actor, old: &str, new: &str) -> TestResponse {
    app.post("/api/auth/password-change/")
        .bearer(&actor.access)
        .json(&json!({"old_password": old, "new_password": new}))
        .send()
        .await
}

db_test!(history_blocks_the_last_five_passwords, |app| {
    let mut user = app.candidate().await;
    let passwords: Vec<String> = (1..=5).map(|i| format!("Rotating-Pass-{i}{i}!x")).collect();
    let mut current = PASSWORD.to_owned();
    for next in &passwords {
        let r = change(&app, &user, &current, next).await;
        r.assert_status(200);
        user.access = r.json["access"].as_str().unwrap().to_owned();
        current = next.clone();
    }
    // The current one and the four before it cannot be reused...
    for old in &passwords {
        let r = change(&app, &user, &current, old).await;
        r.assert_status(400);
        assert!(r.json["new_password"].is_array(), "{}", r.json);
    }
    let r = change(&app, &user, &current, &passwords[1]).await;
    assert!(
        r.json
            .to_string()
            .contains("Cannot reuse your last 5 passwords"),
        "{}",
        r.json
    );
    // ...and at most five are kept.
    let kept = pss::entities::password_history::Entity::find()
        .filter(pss::entities::password_history::Column::UserId.eq(user.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept.len(), 5);
    // The sixth-oldest (the registration password) is allowed again.
    change(&app, &user, &current, PASSWORD)
        .await
        .assert_status(200);
});

db_test!(reset_applies_the_history_rule, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.candidate().await;
    let r = change(&node, &user, PASSWORD, NEW).await;
    r.assert_status(200);
    request(&node, &user.email).await.assert_status(200);
    let messages = deliver(&node, &sink, 2).await;
    let reset = messages
        .iter()
        .find(|m| m.contains("reset-password?token="))
        .unwrap();
    let token = link_token(reset);
    let r = confirm(&node, &token, PASSWORD).await;
    r.assert_status(400);
    assert!(
        r.json
            .to_string()
            .contains("Cannot reuse your last 5 passwords"),
        "{}",
        r.json
    );
    confirm(&node, &token, "Entirely-New-Pass-5!")
        .await
        .assert_status(200);
});

db_test!(password_change_sends_a_confirmation, |app| {
    let (node, sink) = mailing(&app).await;
    let user = node.candidate().await;
    let r = change(&node, &user, "wrong-password-1A!", NEW).await;
    r.assert_status(400);
    assert!(r.json.to_string().contains("Old password is incorrect"));
    let r = change(&node, &user, PASSWORD, NEW).await;
    r.assert_status(200);
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains(&user.email));
    assert!(messages[0].contains("Subject: Your PSS password was changed"));
    assert!(!messages[0].contains(NEW));
    // The job is gone once sent: nothing is sent twice.
    deliver(&node, &sink, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1);
});

db_test!(file_transport_writes_eml_files, |app| {
    let dir = std::env::temp_dir().join(format!("campus_test_pss_mail_{}", tag()));
    let url = format!("file://{}", dir.display());
    let node = TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &url)]).await;
    let user = node.candidate().await;
    request(&node, &user.email).await.assert_status(200);
    pss::job_worker(&node.state)
        .run_due(&node.state.db)
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        headers.contains(&format!("To: {}", user.email)),
        "{headers}"
    );
    assert!(headers.contains("Subject: Reset your PSS password"));
    assert_eq!(link_token(body).len(), 43);
    std::fs::remove_dir_all(&dir).unwrap();
});

#[test]
fn a_bad_email_url_stops_start_up() {
    let error = pss::Config::from_lookup(|key| match key {
        "CAMPUS_EMAIL_URL" => Some("mail.example.org:25".to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        "CAMPUS_FIELD_ENCRYPTION_KEY" => Some(KEY.to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_EMAIL_URL");
    assert!(!error.to_string().contains('\n'));
    let error = pss::Config::from_lookup(|key| match key {
        "CAMPUS_FRONTEND_URL" => Some("localhost:3000".to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        "CAMPUS_FIELD_ENCRYPTION_KEY" => Some(KEY.to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_FRONTEND_URL");
}

db_test!(known_and_unknown_emails_take_about_as_long, |app| {
    let user = app.candidate().await;
    let started = std::time::Instant::now();
    request(&app, &user.email).await.assert_status(200);
    let known = started.elapsed();
    let started = std::time::Instant::now();
    request(&app, "nobody-at-all@example.org")
        .await
        .assert_status(200);
    let unknown = started.elapsed();
    assert!(known >= Duration::from_millis(100) && unknown >= Duration::from_millis(100));
});
