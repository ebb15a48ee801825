//! Several nodes of one system: two applications on one database (and one
//! Redis) must behave as one — shared throttles and lockout, live events
//! heard on every node, a job run once — and each node answers its
//! operator (`/livez`, `/readyz`, `/metrics`).

use super::*;

/// A Redis prefix of this test's own: Redis outlives test databases.
#[cfg(campus_redis)]
fn redis_settings() -> (String, String) {
    (
        std::env::var("CAMPUS_TEST_REDIS_URL").unwrap(),
        format!("test{}", uuid::Uuid::new_v4().simple()),
    )
}

/// 12 anonymous requests alternating between two nodes under a limit of 5
/// a minute: exactly 5 pass, whichever node they reach.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_holds_across_nodes() {
    let (redis, prefix) = redis_settings();
    let settings = [
        ("CAMPUS_REDIS_URL", redis.as_str()),
        ("CAMPUS_REDIS_PREFIX", prefix.as_str()),
        ("CAMPUS_THROTTLE_ANON", "5/min"),
    ];
    let a = TestApp::<Example>::start(TestBackend::Sqlite, &settings).await;
    let b = TestApp::<Example>::on(&a.url, &settings).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(node.get("/api/projects/").send().await.status);
    }
    // Anonymous: 401 when admitted, 429 when throttled.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let refused = b.get("/api/projects/").send().await;
    refused.assert_status(429);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Each node counted the refusals it answered.
    let metrics = a.get("/metrics").send().await;
    metrics.assert_status(200);
    assert!(
        metrics
            .text()
            .contains("campus_throttled_requests_total{system=\"example\",scope=\"anon\"} 3"),
        "{}",
        metrics.text()
    );
}

/// Wrong passwords spread over two nodes lock the account after exactly
/// the configured number, on both.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_holds_across_nodes() {
    let (redis, prefix) = redis_settings();
    let settings = [
        ("CAMPUS_REDIS_URL", redis.as_str()),
        ("CAMPUS_REDIS_PREFIX", prefix.as_str()),
        ("CAMPUS_LOGIN_MAX_FAILURES", "4"),
    ];
    let a = TestApp::<Example>::start(TestBackend::Sqlite, &settings).await;
    let b = TestApp::<Example>::on(&a.url, &settings).await;
    account(&a, "ada@example.org").await;
    let wrong = json!({"email": "ada@example.org", "password": "wrong-wrong-wrong"});
    for i in 0..4 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.post("/api/token/")
            .json(&wrong)
            .send()
            .await
            .assert_status(401);
    }
    let right = json!({"email": "ada@example.org", "password": PASSWORD});
    a.post("/api/token/")
        .json(&right)
        .send()
        .await
        .assert_status(429);
    b.post("/api/token/")
        .json(&right)
        .send()
        .await
        .assert_status(429);
    let metrics = b.get("/metrics").send().await;
    assert!(
        metrics
            .text()
            .contains("campus_login_lockouts_total{system=\"example\"} 1"),
        "{}",
        metrics.text()
    );
}

/// With Redis unreachable: throttled requests pass (`open`, the default)
/// or answer 503 (`closed`); sign-in answers 503, never unguarded; the
/// node is not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_handled_as_documented() {
    // Nothing listens on port 1.
    let down = [
        ("CAMPUS_REDIS_URL", "redis://127.0.0.1:1/"),
        ("CAMPUS_THROTTLE_ANON", "2/min"),
    ];
    let open = TestApp::<Example>::start(TestBackend::Sqlite, &down).await;
    for _ in 0..4 {
        open.get("/api/projects/").send().await.assert_status(401);
    }
    let closed = TestApp::<Example>::on(
        &open.url,
        &[
            ("CAMPUS_REDIS_URL", "redis://127.0.0.1:1/"),
            ("CAMPUS_THROTTLE_ANON", "2/min"),
            ("CAMPUS_THROTTLE_FAIL", "closed"),
        ],
    )
    .await;
    let r = closed.get("/api/projects/").send().await;
    r.assert_status(503);
    assert_eq!(r.json["error"]["code"], "service_unavailable", "{}", r.json);
    let sign_in = open
        .post("/api/token/")
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await;
    sign_in.assert_status(503);
    let ready = open.get("/readyz").send().await;
    ready.assert_status(503);
    assert_eq!(ready.json["checks"]["redis"], "unreachable");
    assert_eq!(ready.json["checks"]["database"], "ok");
    open.get("/livez").send().await.assert_status(200);
    // Four reads and the sign-in met the unreachable store.
    let metrics = open.get("/metrics").send().await;
    assert!(
        metrics
            .text()
            .contains("campus_throttle_store_errors_total{system=\"example\"} 5"),
        "{}",
        metrics.text()
    );
}

db_test!(a_node_answers_its_operator, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (token, _) = account(&app, "ada@example.org").await;
    app.get("/api/projects/")
        .bearer(&token)
        .send()
        .await
        .assert_status(200);
    app.get("/api/projects/").send().await.assert_status(401);
    app.get("/no/such/path").send().await.assert_status(404);
    let ready = app.get("/readyz").send().await;
    ready.assert_status(200);
    assert_eq!(
        ready.json,
        json!({"status": "ready", "checks": {"database": "ok"}})
    );
    app.get("/livez").send().await.assert_status(200);

    let metrics = app.get("/metrics").send().await;
    metrics.assert_status(200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        metrics.header("content-type")
    );
    let text = &metrics.text();
    for series in [
        "campus_http_requests_total{system=\"example\",method=\"GET\",route=\"/api/projects/\",status=\"200\"} 1",
        "campus_http_requests_total{system=\"example\",method=\"GET\",route=\"/api/projects/\",status=\"401\"} 1",
        "campus_http_requests_total{system=\"example\",method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "campus_http_request_duration_seconds_count{system=\"example\",route=\"/api/projects/\"} 2",
        "campus_job_queue_depth{system=\"example\"} 0",
        "campus_http_requests_in_flight{system=\"example\"} 1",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
    assert!(
        text.contains("# TYPE campus_db_pool_connections gauge"),
        "{text}"
    );

    // Through a proxy (forwarded) or from another machine: administrators only.
    let forwarded = app
        .get("/metrics")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await;
    forwarded.assert_status(401);
    assert!(
        forwarded.json.get("error").is_some() || forwarded.json.get("detail").is_some(),
        "{}",
        forwarded.json
    );
    app.get("/metrics")
        .header("x-forwarded-for", "203.0.113.9")
        .bearer(&token)
        .send()
        .await
        .assert_status(403);
});

/// A wake-up on node A reaches a stream's subscription on node B
/// (PostgreSQL's LISTEN/NOTIFY); node A's own streams hear it at once.
#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_every_node() {
    let a = TestApp::<Example>::start(TestBackend::Postgres, &[]).await;
    let b = TestApp::<Example>::on(&a.url, &[]).await;
    let mut on_b = b.state.kernel().hub.subscribe();
    let mut on_a = a.state.kernel().hub.subscribe();
    // B's listener starts with its node; wait until it hears anything.
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            a.state.kernel().hub.notify("ada");
            match tokio::time::timeout(std::time::Duration::from_millis(200), on_b.recv()).await {
                Ok(Ok(user)) if &*user == "ada" => return,
                _ => continue,
            }
        }
    })
    .await;
    assert!(heard.is_ok(), "node B never heard node A");
    assert_eq!(&*on_a.recv().await.unwrap(), "ada");
    // Once listening, every wake-up crosses, in order.
    while on_b.try_recv().is_ok() {}
    for user in ["bob", "cy", "dee"] {
        a.state.kernel().hub.notify(user);
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let user = tokio::time::timeout(std::time::Duration::from_secs(5), on_b.recv())
            .await
            .expect("a wake-up within 5 s")
            .unwrap();
        if &*user != "ada" && &*user != "*" {
            got.push(user.to_string());
        }
    }
    assert_eq!(got, ["bob", "cy", "dee"], "in order");
}

/// A stream ends cleanly when its node closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_when_the_node_closes() {
    use futures_util::StreamExt;
    let app = TestApp::<Example>::start(TestBackend::Sqlite, &[]).await;
    let kernel = app.state.kernel().clone();
    let sse = kernel::events::live(&kernel.hub, "ada".into(), (), |()| async {
        ((), Vec::new())
    });
    let response = axum::response::IntoResponse::into_response(sse);
    let mut body = response.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));
    kernel.lifecycle.close();
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .expect("the stream ends at once");
    assert!(end.is_none(), "{end:?}");
}

/// `campus check`: nothing to say when everything answers; one line per
/// problem, naming its setting, when something does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_problem_by_its_setting() {
    use kernel::testing::test_settings;
    let app = TestApp::<Example>::start(TestBackend::Sqlite, &[]).await;
    let (settings, config) = test_settings::<Example>(&app.url, &[]).unwrap();
    let problems = kernel::system::check::<Example>(settings, config).await;
    assert!(problems.is_empty(), "{problems:?}");

    // Nothing listens on port 1.
    let (settings, config) = test_settings::<Example>(
        "postgres://postgres@127.0.0.1:1/nothing",
        &[("CAMPUS_REDIS_URL", "redis://127.0.0.1:1/")],
    )
    .unwrap();
    let problems = kernel::system::check::<Example>(settings, config).await;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("CAMPUS_DATABASE_URL: cannot connect"),
        "{problems:?}"
    );
    assert_eq!(problems[1], "CAMPUS_REDIS_URL: Redis does not answer");
}
