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

/// Sends one sign-in per password for `email`, all at once.
async fn at_once(
    app: &TestApp,
    email: &str,
    passwords: &[&str],
) -> Vec<kernel::testing::TestResponse> {
    let sent: Vec<_> = passwords
        .iter()
        .map(|password| {
            let client = app.client.clone();
            let body = json!({"email": email, "password": password});
            tokio::spawn(async move { client.post("/api/auth/login/").json(&body).send().await })
        })
        .collect();
    let mut responses = Vec::new();
    for response in sent {
        responses.push(response.await.unwrap());
    }
    responses
}

/// Parallel guesses with the right password among them: at most one
/// succeeds; without a success exactly `limit` were evaluated. A success
/// forgets the failures settled before it (as django-axes does), so a guess
/// that reaches the guard only after it gets a fresh count: never more than
/// `2 * limit` evaluated in all. Everyone else was locked out.
fn assert_bounded(responses: &[kernel::testing::TestResponse], limit: usize) {
    let (ok, wrong) = (count(responses, 200), count(responses, 401));
    assert!(ok <= 1, "{ok} successes");
    if ok == 0 {
        assert_eq!(wrong, limit);
    }
    assert!(ok + wrong <= 2 * limit, "{ok} + {wrong} evaluated");
    assert_eq!(count(responses, 429), responses.len() - ok - wrong);
}

fn count(responses: &[kernel::testing::TestResponse], status: u16) -> usize {
    responses
        .iter()
        .filter(|r| r.status.as_u16() == status)
        .count()
}

/// Refusals beyond the limit are the lockout's own 429.
fn assert_locked_out(responses: &[kernel::testing::TestResponse]) {
    for r in responses.iter().filter(|r| r.status.as_u16() == 429) {
        assert_eq!(r.json["detail"], LOCKED);
        assert!(r.header("retry-after").is_some());
    }
}

db_test!(
    parallel_wrong_passwords_are_evaluated_at_most_five_times,
    |app| {
        let candidate = app.candidate().await;
        let responses = at_once(&app, &candidate.email, &["Wrong-Password-99"; 100]).await;
        assert_eq!(count(&responses, 401), 5);
        assert_eq!(count(&responses, 429), 95);
        assert_locked_out(&responses);
        attempt(&app, &candidate.email, PASSWORD, "")
            .await
            .assert_status(429);
    }
);

db_test!(
    a_right_password_among_parallel_guesses_gets_no_extra_tries,
    |app| {
        let candidate = app.candidate().await;
        let mut passwords = vec!["Wrong-Password-99"; 29];
        passwords.insert(13, PASSWORD);
        let responses = at_once(&app, &candidate.email, &passwords).await;
        // Whether or not the right one was among them, five were evaluated.
        assert_bounded(&responses, 5);
        assert_locked_out(&responses);
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

/// Parallel guesses spread over two nodes sharing Redis are evaluated at
/// most five times between them.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bounds_parallel_guesses_across_nodes() {
    let redis = std::env::var("CAMPUS_TEST_REDIS_URL").unwrap();
    let settings = [("CAMPUS_REDIS_URL", redis.as_str())];
    let first = TestApp::with_settings(TestBackend::Sqlite, &settings).await;
    let second = TestApp::on(&first.url, &settings).await;
    let candidate = first.candidate().await;
    let mut passwords = vec!["Wrong-Password-99"; 29];
    passwords.insert(7, PASSWORD);
    let (a, b) = tokio::join!(
        at_once(&first, &candidate.email, &passwords[..15]),
        at_once(&second, &candidate.email, &passwords[15..]),
    );
    let responses: Vec<_> = a.into_iter().chain(b).collect();
    assert_bounded(&responses, 5);
    assert_locked_out(&responses);

    let other = first.candidate().await;
    let (a, b) = tokio::join!(
        at_once(&first, &other.email, &["Wrong-Password-99"; 50]),
        at_once(&second, &other.email, &["Wrong-Password-99"; 50]),
    );
    let responses: Vec<_> = a.into_iter().chain(b).collect();
    assert_eq!(count(&responses, 401), 5);
    assert_eq!(count(&responses, 429), 95);
    attempt(&second, &other.email, PASSWORD, "")
        .await
        .assert_status(429);
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
