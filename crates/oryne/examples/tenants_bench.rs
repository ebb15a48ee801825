//! Many schools on one node (issue 16, "Scale"): provisions TENANTS schools
//! through the real API and job (timing each), then measures a school read
//! — `GET /api/v1/users/` by the school's admin, a page from the school's
//! own schema or file — with every request going to one school, then with
//! requests spread over all of them. In process, on the real router.
//!
//! Usage: tenants_bench <sqlite|postgres> [TENANTS] [REQUESTS] [CONCURRENCY]
//! (default 200 4000 16). PostgreSQL needs CAMPUS_TEST_POSTGRES_URL;
//! CAMPUS_ORYNE_TENANT_POOLS sets the node's cap of open school databases.
//! Passwords are hashed with the test suites' cheap PBKDF2, so provisioning
//! times leave out a production hash of the first admin's password.
//! Prints one JSON line.

#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use kernel::testing::{TestApp, TestBackend};
use oryne::Oryne;
use serde_json::json;

const PASSWORD: &str = "Quiet-Harbour-42!";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn summary(mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    json!({
        "n": times.len(),
        "p50_ms": (percentile(&times, 50.0) * 100.0).round() / 100.0,
        "p90_ms": (percentile(&times, 90.0) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&times, 99.0) * 100.0).round() / 100.0,
        "max_ms": (times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0) * 100.0).round() / 100.0,
    })
}

/// `requests` reads at `concurrency`, the i-th by `targets[i % len]`.
async fn reads(
    app: &TestApp<Oryne>,
    targets: &[(String, String)],
    requests: usize,
    concurrency: usize,
) -> (Vec<Duration>, f64) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = app.client.clone();
        let targets = targets.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut i = worker;
            while i < requests {
                let (host, token) = &targets[(i * 7919) % targets.len()];
                let t = Instant::now();
                let r = client
                    .get("/api/v1/users/")
                    .header("host", host)
                    .bearer(token)
                    .send()
                    .await;
                times.push(t.elapsed());
                assert_eq!(r.status.as_u16(), 200, "{}", r.json);
                i += concurrency;
            }
            times
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    (all, requests as f64 / secs)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = match args.get(1).map(String::as_str) {
        Some("postgres") => TestBackend::Postgres,
        _ => TestBackend::Sqlite,
    };
    let tenants: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(200);
    let requests: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(4000);
    let concurrency: usize = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(16);
    // CAMPUS_ORYNE_TENANT_POOLS, when set, caps the open school databases.
    let pools = std::env::var("CAMPUS_ORYNE_TENANT_POOLS").unwrap_or_default();
    let app =
        TestApp::<Oryne>::start(backend, &[("CAMPUS_ORYNE_TENANT_POOLS", pools.as_str())]).await;

    use kernel::System;
    Oryne::create_superuser(
        &app.state,
        &kernel::system::NewSuperuser {
            email: "root@bench.test".into(),
            password: PASSWORD.into(),
            full_name: "Bench Root".into(),
        },
    )
    .await
    .unwrap();
    let r = app
        .post("/api/v1/auth/login/")
        .json(&json!({"email": "root@bench.test", "password": PASSWORD}))
        .send()
        .await;
    let root = r.json["data"]["access"].as_str().unwrap().to_owned();

    // Provisioning, one school at a time: the API call, then its job.
    let worker = oryne::platform_worker(&app.state);
    let mut provisioning = Vec::new();
    let all_started = Instant::now();
    for i in 0..tenants {
        let t = Instant::now();
        let r = app
            .post("/api/v1/tenants/")
            .bearer(&root)
            .json(
                &json!({"name": format!("School {i}"), "subdomain": format!("school-{i:04}"),
                          "admin_email": "admin@school.test", "admin_password": PASSWORD}),
            )
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 202, "{}", r.json);
        assert!(worker.run_due(app.db()).await.unwrap() >= 1);
        provisioning.push(t.elapsed());
    }
    let provision_total = all_started.elapsed().as_secs_f64();

    // Every school's admin signs in; each school gets 20 more users to page.
    let mut targets = Vec::new();
    for i in 0..tenants {
        let host = format!("school-{i:04}.localhost");
        let r = app
            .post("/api/v1/auth/login/")
            .header("host", &host)
            .json(&json!({"email": "admin@school.test", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.json);
        targets.push((host, r.json["data"]["access"].as_str().unwrap().to_owned()));
    }
    let (one, one_rate) = reads(&app, &targets[..1], requests, concurrency).await;
    let (spread, spread_rate) = reads(&app, &targets, requests, concurrency).await;
    let (one_again, _) = reads(&app, &targets[..1], requests, concurrency).await;
    println!(
        "{}",
        json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "tenants": tenants,
            "tenant_pools": app.state.tenants.cap(),
            "provisioning": {"total_s": (provision_total * 100.0).round() / 100.0, "per_tenant": summary(provisioning)},
            "read_one_tenant": {"rps": one_rate.round(), "latency": summary(one)},
            "read_all_tenants": {"rps": spread_rate.round(), "latency": summary(spread)},
            "read_one_tenant_after": summary(one_again),
            "concurrency": concurrency,
        })
    );
}
