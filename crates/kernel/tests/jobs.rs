//! The database job queue: periodic kinds are enqueued once per period however
//! many workers run, and a job runs once.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kernel::jobs::Worker;
use kernel::testing::{TestBackend, fresh_database};
use sea_orm::{Database, DatabaseConnection};

async fn database() -> DatabaseConnection {
    let url = fresh_database(TestBackend::Sqlite).await;
    let db = Database::connect(&url).await.expect("connect");
    kernel::migration::migrate(&db).await.expect("migrate");
    db
}

fn counting(kind: &str, period: Duration, runs: &Arc<AtomicUsize>) -> Worker {
    let runs = runs.clone();
    Worker::new().every(kind, period, move |_| {
        let runs = runs.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

#[tokio::test]
async fn a_periodic_job_runs_once_per_period_across_workers() {
    let db = database().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let one = counting("test.tick", Duration::from_secs(3600), &runs);
    let two = counting("test.tick", Duration::from_secs(3600), &runs);

    // The first pass records the schedule; the kind is due at once.
    let (a, b) = tokio::join!(one.run_due(&db), two.run_due(&db));
    a.expect("worker one");
    b.expect("worker two");
    let (a, b) = tokio::join!(one.run_due(&db), two.run_due(&db));
    a.expect("worker one");
    b.expect("worker two");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one run for the period");

    // Nothing more until the period is over...
    one.run_due(&db).await.expect("again");
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // ...and then exactly one more, whichever worker sees it first.
    let later = chrono::TimeDelta::hours(1) + chrono::TimeDelta::seconds(1);
    kernel::time::shifted(later, async {
        let (a, b) = tokio::join!(one.run_due(&db), two.run_due(&db));
        a.expect("worker one");
        b.expect("worker two");
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_delayed_job_waits_for_its_time() {
    let db = database().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let worker = {
        let runs = runs.clone();
        Worker::new().on("test.later", move |_| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
    };
    let at = kernel::time::now() + chrono::TimeDelta::minutes(30);
    kernel::jobs::enqueue_at(&db, "test.later", serde_json::json!({}), at)
        .await
        .expect("enqueue");
    assert_eq!(worker.run_due(&db).await.expect("run"), 0);
    let ran = kernel::time::shifted(chrono::TimeDelta::minutes(31), worker.run_due(&db))
        .await
        .expect("run later");
    assert_eq!(ran, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Runs per job id, as several nodes' workers saw them.
type Runs = Arc<std::sync::Mutex<std::collections::HashMap<u64, usize>>>;

fn recording(runs: &Runs) -> Worker {
    let runs = runs.clone();
    Worker::new().on("test.work", move |payload| {
        let runs = runs.clone();
        async move {
            let id = payload["n"].as_u64().ok_or("no n")?;
            // A little work between claim and finish, so workers overlap.
            tokio::task::yield_now().await;
            *runs.lock().unwrap().entry(id).or_default() += 1;
            Ok(())
        }
    })
}

async fn several_workers_run_each_job_once(db: DatabaseConnection) {
    for n in 0..60u64 {
        kernel::jobs::enqueue(&db, "test.work", serde_json::json!({"n": n}))
            .await
            .expect("enqueue");
    }
    let runs = Runs::default();
    let workers: Vec<Worker> = (0..3).map(|_| recording(&runs)).collect();
    let ran = futures_util::future::join_all(workers.iter().map(|w| {
        let db = db.clone();
        async move { w.run_due(&db).await.expect("a worker pass") }
    }))
    .await;
    assert_eq!(ran.iter().sum::<usize>(), 60, "{ran:?}");
    {
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 60, "every job ran");
        assert!(runs.values().all(|n| *n == 1), "none twice: {runs:?}");
    }
    let stats = kernel::jobs::queue_stats(&db).await.expect("stats");
    assert_eq!(stats.queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_workers_run_each_job_once_on_sqlite() {
    several_workers_run_each_job_once(database().await).await;
}

#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_workers_run_each_job_once_on_postgres() {
    let url = fresh_database(TestBackend::Postgres).await;
    let db = kernel::db::connect(&url).await.expect("connect");
    kernel::migration::migrate(&db).await.expect("migrate");
    several_workers_run_each_job_once(db).await;
}

/// A node killed in the middle of a job: nobody else takes the job while
/// its lease lasts; once it has run out, another node's worker finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_node_died_is_finished_by_another() {
    let db = database().await;
    kernel::jobs::enqueue(&db, "test.work", serde_json::json!({"n": 7}))
        .await
        .expect("enqueue");
    let (started, claimed) = tokio::sync::oneshot::channel::<()>();
    let started = Arc::new(std::sync::Mutex::new(Some(started)));
    let dying = Worker::new().on("test.work", move |_| {
        let started = started.clone();
        async move {
            if let Some(started) = started.lock().unwrap().take() {
                let _ = started.send(());
            }
            // Never finishes: its node is killed mid-job.
            std::future::pending::<Result<(), String>>().await
        }
    });
    let node = tokio::spawn({
        let db = db.clone();
        async move { dying.run_due(&db).await }
    });
    claimed.await.expect("the job started on the first node");
    node.abort();
    let _ = node.await;

    let runs = Runs::default();
    let survivor = recording(&runs);
    assert_eq!(survivor.run_due(&db).await.expect("run"), 0, "still leased");
    let stats = kernel::jobs::queue_stats(&db).await.expect("stats");
    assert_eq!((stats.queued, stats.due), (1, 0));

    let after_lease = chrono::TimeDelta::seconds(301);
    let ran = kernel::time::shifted(after_lease, survivor.run_due(&db))
        .await
        .expect("run after the lease");
    assert_eq!(ran, 1);
    assert_eq!(runs.lock().unwrap().get(&7), Some(&1));
    assert_eq!(
        kernel::jobs::queue_stats(&db).await.expect("stats").queued,
        0
    );
}
