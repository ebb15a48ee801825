//! The database job queue: periodic kinds are enqueued once per period however
//! many workers run, and a job runs once.

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
