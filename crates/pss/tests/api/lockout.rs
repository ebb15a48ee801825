//! Brute-force protection as django-axes was configured: 5 failures for one
//! email from one address lock that pair; success forgets; the lock ends.

use std::time::Duration;

use crate::common::*;

const LOCKED: &str = "Account locked: too many login attempts. Please try again later.";

async fn attempt(
    app: &TestApp,
    email: &str,
    password: &str,
    from: &str,
) -> kernel::testing::TestResponse {
    app.post("/api/auth/login/")
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
}

db_test!(
    five_failures_lock_the_email_and_address,
    settings = &[("CAMPUS_TRUSTED_PROXIES", "1")],
    |app| {
        let candidate = app.candidate().await;
        for _ in 0..5 {
            attempt(&app, &candidate.email, "Wrong-Password-99", "10.0.0.1")
                .await
                .assert_status(401);
        }
        // The right password no longer helps from there.
        let r = attempt(&app, &candidate.email, PASSWORD, "10.0.0.1").await;
        r.assert_status(429);
        assert_eq!(r.json["detail"], LOCKED);
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((890..=900).contains(&wait), "{wait}");
        // Same email, the case differing: still locked.
        attempt(&app, &candidate.email.to_uppercase(), PASSWORD, "10.0.0.1")
            .await
            .assert_status(429);
        // Another address, or another account from the same address, is not locked.
        attempt(&app, &candidate.email, PASSWORD, "10.0.0.2")
            .await
            .assert_status(200);
        let other = app.candidate().await;
        attempt(&app, &other.email, PASSWORD, "10.0.0.1")
            .await
            .assert_status(200);
    }
);

db_test!(
    success_forgets_earlier_failures,
    settings = &[("CAMPUS_TRUSTED_PROXIES", "1")],
    |app| {
        let candidate = app.candidate().await;
        for _ in 0..4 {
            attempt(&app, &candidate.email, "Wrong-Password-99", "10.0.0.1")
                .await
                .assert_status(401);
        }
        attempt(&app, &candidate.email, PASSWORD, "10.0.0.1")
            .await
            .assert_status(200);
        for _ in 0..4 {
            attempt(&app, &candidate.email, "Wrong-Password-99", "10.0.0.1")
                .await
                .assert_status(401);
        }
        attempt(&app, &candidate.email, PASSWORD, "10.0.0.1")
            .await
            .assert_status(200);
    }
);

db_test!(
    unknown_accounts_lock_too_and_the_lock_releases,
    settings = &[("CAMPUS_LOGIN_LOCKOUT_SECONDS", "2")],
    |app| {
        for _ in 0..5 {
            attempt(&app, "ghost@example.org", PASSWORD, "")
                .await
                .assert_status(401);
        }
        attempt(&app, "ghost@example.org", PASSWORD, "")
            .await
            .assert_status(429);

        let candidate = app.candidate().await;
        for _ in 0..5 {
            attempt(&app, &candidate.email, "Wrong-Password-99", "")
                .await
                .assert_status(401);
        }
        attempt(&app, &candidate.email, PASSWORD, "")
            .await
            .assert_status(429);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        attempt(&app, &candidate.email, PASSWORD, "")
            .await
            .assert_status(200);
    }
);

db_test!(
    the_limit_is_a_setting,
    settings = &[("CAMPUS_LOGIN_MAX_FAILURES", "2")],
    |app| {
        let candidate = app.candidate().await;
        for _ in 0..2 {
            attempt(&app, &candidate.email, "Wrong-Password-99", "")
                .await
                .assert_status(401);
        }
        attempt(&app, &candidate.email, PASSWORD, "")
            .await
            .assert_status(429);
    }
);

/// With `CAMPUS_REDIS_URL`, every node shares the counts: failures on one
/// node lock the pair on another, and a success anywhere forgets them.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_shares_the_lockout_across_nodes() {
    let redis = std::env::var("CAMPUS_TEST_REDIS_URL").unwrap();
    let settings = [
        ("CAMPUS_REDIS_URL", redis.as_str()),
        ("CAMPUS_LOGIN_LOCKOUT_SECONDS", "2"),
    ];
    let first = TestApp::with_settings(TestBackend::Sqlite, &settings).await;
    let second = TestApp::on(&first.url, &settings).await;
    let candidate = first.candidate().await;

    for _ in 0..4 {
        attempt(&first, &candidate.email, "Wrong-Password-99", "")
            .await
            .assert_status(401);
    }
    attempt(&second, &candidate.email, PASSWORD, "")
        .await
        .assert_status(200);
    for node in [&first, &second, &first, &second, &first] {
        attempt(node, &candidate.email, "Wrong-Password-99", "")
            .await
            .assert_status(401);
    }
    let r = attempt(&second, &candidate.email, PASSWORD, "").await;
    r.assert_status(429);
    assert_eq!(r.json["detail"], LOCKED);
    attempt(&first, &candidate.email, PASSWORD, "")
        .await
        .assert_status(429);
    // A node without Redis keeps its own counts.
    let alone = TestApp::on(&first.url, &[]).await;
    attempt(&alone, &candidate.email, PASSWORD, "")
        .await
        .assert_status(200);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    attempt(&first, &candidate.email, PASSWORD, "")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn an_unreachable_redis_refuses_sign_in_instead_of_dropping_the_lockout() {
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[("CAMPUS_REDIS_URL", "redis://127.0.0.1:1/")],
    )
    .await;
    let candidate = app.candidate().await;
    let r = attempt(&app, &candidate.email, PASSWORD, "").await;
    r.assert_status(503);
    assert_eq!(
        r.json["detail"],
        "Sign-in is temporarily unavailable. Please try again later."
    );
}
