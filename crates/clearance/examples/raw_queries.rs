//! The database's own limit for a benchmark scenario (issue 11, item 4): the
//! SQL statements campus issues for one request, replayed straight through
//! sqlx — no HTTP, no router, no ORM — on a pool of the size campus uses.
//!
//! It builds clearance's real application over the seeded database (`campus
//! seed-bench clearance`), signs in, serves one request of the scenario in
//! process while recording every statement the ORM sends (SQL and bound
//! values), then replays that sequence from CONNECTIONS tasks for DURATION
//! seconds, each round for a student chosen uniformly, the ids in the
//! statements rewritten to that student's (the seed's ids encode the
//! student, see `bench_seed::bid`). Prints one JSON object.
//!
//! ```sh
//! CAMPUS_DATABASE_URL=sqlite:///tmp/bench.db CAMPUS_SECRET_KEY=... \
//!   cargo run --release -p clearance --example raw_queries -- \
//!   clearance_detail 10000 64 10
//! ```
//! Arguments: SCENARIO (`clearance_detail` or `student_clearances_list`),
//! STUDENTS, CONNECTIONS, DURATION (seconds).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use clearance::Clearance;
use clearance::bench_seed::{PASSWORD, bid};
use http_body_util::BodyExt;
use kernel::System;
use sea_orm::sea_query::{Value, Values};
use sea_orm::{DatabaseConnection, DbBackend, Statement};
use sea_query_sqlx::SqlxValues;
use tower::ServiceExt;
use uuid::Uuid;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: raw_queries SCENARIO STUDENTS CONNECTIONS DURATION";
    let [scenario, students, connections, duration] = args.as_slice() else {
        anyhow::bail!(usage);
    };
    let students: u64 = students.parse()?;
    let connections: usize = connections.parse()?;
    let duration = Duration::from_secs(duration.parse()?);

    let (settings, config) = kernel::system::configure::<Clearance>(&kernel::system::environment())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut kernel = kernel::Kernel::connect(settings)
        .await
        .map_err(anyhow::Error::msg)?;
    let recorded: Arc<Mutex<Vec<Statement>>> = Arc::default();
    let recording = Arc::new(AtomicBool::new(false));
    {
        let (recorded, recording) = (recorded.clone(), recording.clone());
        kernel.db.set_metric_callback(move |info| {
            if recording.load(Ordering::Relaxed)
                && let Ok(mut recorded) = recorded.lock()
            {
                recorded.push(info.statement.clone());
            }
        });
    }
    let db = kernel.db.clone();
    let state = Clearance::state(kernel, config).map_err(anyhow::Error::msg)?;
    let app = kernel::system::app::<Clearance>(state);

    // The driver's callers: the admin for the detail, a student for the list.
    let (email, path, student) = match scenario.as_str() {
        "clearance_detail" => {
            let i = students / 2;
            let path = format!("/api/clearances/{}/", bid(6, i));
            ("admin@bench.test".to_owned(), path, i)
        }
        "student_clearances_list" => {
            let i = 7919 % students;
            let email = format!("student{i}@bench.test");
            (email, "/api/clearances/".to_owned(), i)
        }
        other => anyhow::bail!("unknown scenario {other}; {usage}"),
    };
    let token = sign_in(&app, &email).await?;
    recording.store(true, Ordering::Relaxed);
    let status = get(&app, &path, &token).await?;
    recording.store(false, Ordering::Relaxed);
    anyhow::ensure!(status == 200, "GET {path} answered {status}");
    let statements = std::mem::take(
        &mut *recorded
            .lock()
            .map_err(|_| anyhow::anyhow!("the recording was poisoned"))?,
    );

    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..connections {
        let (db, statements, done) = (db.clone(), statements.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ (task as u64 + 1));
            while Instant::now() < deadline {
                let i = random.below(students);
                for statement in &statements {
                    replay(&db, statement, student, i).await?;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let rounds = done.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "scenario": scenario,
            "statements_per_request": statements.len(),
            "statements": statements.iter().map(|s| s.sql.clone()).collect::<Vec<_>>(),
            "connections": connections,
            "pool_size": pool_size(&db),
            "seconds": seconds,
            "requests": rounds,
            "requests_per_sec": rounds as f64 / seconds,
        })
    );
    Ok(())
}

/// The connection pool's size, as campus opens it.
fn pool_size(db: &DatabaseConnection) -> u32 {
    match db.get_database_backend() {
        DbBackend::Sqlite => db
            .get_sqlite_connection_pool()
            .options()
            .get_max_connections(),
        DbBackend::Postgres => db
            .get_postgres_connection_pool()
            .options()
            .get_max_connections(),
        _ => 0,
    }
}

/// A small deterministic generator (xorshift), one per task.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The recorded statement for student `from`, rewritten for student `to`, run
/// through sqlx on the connection pool; its rows are read and dropped.
async fn replay(
    db: &DatabaseConnection,
    statement: &Statement,
    from: u64,
    to: u64,
) -> anyhow::Result<()> {
    let values = Values(
        statement
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|value| match value {
                Value::Uuid(Some(id)) => Value::Uuid(Some(for_student(*id, from, to))),
                other => other.clone(),
            })
            .collect(),
    );
    let sql = sea_orm::sqlx::AssertSqlSafe(statement.sql.clone());
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            sea_orm::sqlx::query_with(sql, SqlxValues(values))
                .fetch_all(pool)
                .await?;
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            sea_orm::sqlx::query_with(sql, SqlxValues(values))
                .fetch_all(pool)
                .await?;
        }
        other => anyhow::bail!("{other:?} is not measured"),
    }
    Ok(())
}

/// A seed id of student `from` (kinds 2, 3, 5, 6: n = i; kinds 7, 8, 9: n =
/// 10·i + j) as the same row of student `to`; other ids are unchanged.
fn for_student(id: Uuid, from: u64, to: u64) -> Uuid {
    for kind in [2, 3, 5, 6] {
        if id == bid(kind, from) {
            return bid(kind, to);
        }
    }
    for kind in [7, 8, 9] {
        for j in 0..10 {
            if id == bid(kind, 10 * from + j) {
                return bid(kind, 10 * to + j);
            }
        }
    }
    id
}

async fn sign_in(app: &axum::Router, email: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"email": email, "password": PASSWORD}).to_string();
    let request = axum::http::Request::post("/api/auth/token/")
        .header("content-type", "application/json")
        .body(Body::from(body))?;
    let response = app.clone().oneshot(request).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes)?;
    json["access"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("sign-in as {email} failed: {json}"))
}

async fn get(app: &axum::Router, path: &str, token: &str) -> anyhow::Result<u16> {
    let request = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())?;
    let response = app.clone().oneshot(request).await?;
    Ok(response.status().as_u16())
}
