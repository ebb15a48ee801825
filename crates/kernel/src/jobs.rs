//! A job queue stored in the database. A job is inserted in the same
//! transaction as the change that causes it, so it exists exactly when the
//! change committed; workers on any number of nodes claim jobs with an
//! optimistic update, so each run is owned by one worker at a time.
//!
//! Periodic kinds ([`Worker::every`]) are enqueued by whichever worker first
//! sees them due: advancing `campus_job_schedules.next_run_at` and inserting
//! the job happen in one transaction guarded by the value read, so each
//! period enqueues one job however many nodes run workers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, Order, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::Value;

pub mod job {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campus_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(indexed)]
        pub kind: String,
        pub payload: Json,
        #[sea_orm(indexed)]
        pub run_at: DateTimeUtc,
        pub locked_until: Option<DateTimeUtc>,
        pub attempts: i32,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod schedule {
    use super::*;

    /// When each periodic job kind is next due.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campus_job_schedules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub next_run_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Jobs that failed this many times stay in the table (with their last error)
/// for an operator to look at, and are not tried again.
pub const MAX_ATTEMPTS: i32 = 8;

/// Adds a job; call it with the transaction of the change that causes it.
pub async fn enqueue<C: ConnectionTrait>(db: &C, kind: &str, payload: Value) -> Result<(), DbErr> {
    enqueue_at(db, kind, payload, crate::time::now()).await
}

/// Adds a job that is not run before `run_at` (a delivery waiting for the end
/// of a quiet period, say).
pub async fn enqueue_at<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    payload: Value,
    run_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let now = crate::time::now();
    job::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        run_at: Set(run_at),
        locked_until: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map(drop)
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Handler = Arc<dyn Fn(Value) -> HandlerFuture + Send + Sync>;

/// Runs jobs by kind.
#[derive(Clone)]
pub struct Worker {
    handlers: HashMap<String, Handler>,
    periodic: Vec<(String, Duration)>,
    /// How long a claimed job is this worker's (`CAMPUS_JOB_LEASE_SECONDS`).
    lease: Duration,
    lifecycle: Option<crate::lifecycle::Lifecycle>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Default for Worker {
    fn default() -> Self {
        Self {
            handlers: HashMap::new(),
            periodic: Vec::new(),
            lease: Duration::from_secs(300),
            lifecycle: None,
            metrics: None,
        }
    }
}

/// How the shared queue stands, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Jobs not yet done (waiting, delayed or running), dead ones aside.
    pub queued: i64,
    /// Jobs due now that no worker holds.
    pub due: i64,
    /// Jobs that failed every attempt.
    pub dead: i64,
}

/// Counts the kernel's job queue on `db`.
pub async fn queue_stats(db: &DatabaseConnection) -> Result<QueueStats, DbErr> {
    let now = crate::time::now();
    let count = |condition: sea_orm::Condition| {
        job::Entity::find()
            .filter(condition)
            .select_only()
            .column_as(Expr::col(job::Column::Id).count(), "n")
            .into_tuple::<i64>()
            .one(db)
    };
    let live = sea_orm::Condition::all().add(job::Column::Attempts.lt(MAX_ATTEMPTS));
    Ok(QueueStats {
        queued: count(live.clone()).await?.unwrap_or(0),
        due: count(
            live.add(job::Column::RunAt.lte(now)).add(
                job::Column::LockedUntil
                    .is_null()
                    .or(job::Column::LockedUntil.lt(now)),
            ),
        )
        .await?
        .unwrap_or(0),
        dead: count(sea_orm::Condition::all().add(job::Column::Attempts.gte(MAX_ATTEMPTS)))
            .await?
            .unwrap_or(0),
    })
}

impl Worker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs on `kernel`'s node: its job lease, its shutdown (no job is
    /// claimed once the node closes; a running one is waited for) and its
    /// metrics.
    pub fn on_node(mut self, kernel: &crate::Kernel) -> Self {
        self.lease = kernel.settings.job_lease;
        self.lifecycle = Some(kernel.lifecycle.clone());
        self.metrics = Some(kernel.metrics.clone());
        self
    }

    fn closing(&self) -> bool {
        self.lifecycle
            .as_ref()
            .is_some_and(crate::lifecycle::Lifecycle::is_closing)
    }

    /// Registers what to do with jobs of `kind`. An `Err` is retried later.
    pub fn on<F, Fut>(mut self, kind: &str, handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.handlers.insert(
            kind.to_owned(),
            Arc::new(move |payload| Box::pin(handler(payload))),
        );
        self
    }

    /// Registers `handler` for `kind` and has the queue enqueue one such job
    /// (with an empty payload) every `period`, the first as soon as a worker
    /// runs. The handler must be idempotent: a job that fails is retried.
    pub fn every<F, Fut>(mut self, kind: &str, period: Duration, handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.periodic.push((kind.to_owned(), period));
        self.on(kind, handler)
    }

    /// Adds the kernel's own periodic work: hourly, forgetting blacklist rows
    /// of expired tokens ([`crate::jwt::PURGE_JOB`]).
    pub fn housekeeping(self, db: DatabaseConnection) -> Self {
        self.every(
            crate::jwt::PURGE_JOB,
            Duration::from_secs(3600),
            move |_| {
                let db = db.clone();
                async move {
                    crate::jwt::purge_expired(&db)
                        .await
                        .map(drop)
                        .map_err(|error| error.to_string())
                }
            },
        )
    }

    /// Enqueues every periodic kind that is due; returns how many it enqueued.
    pub async fn enqueue_periodic(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        let mut enqueued = 0;
        for (kind, period) in &self.periodic {
            let now = crate::time::now();
            let Some(due) = schedule::Entity::find_by_id(kind.clone()).one(db).await? else {
                // First sight of this kind: due now. Two workers racing here
                // both try the insert; the primary key keeps one row.
                let _ = schedule::ActiveModel {
                    kind: Set(kind.clone()),
                    next_run_at: Set(now),
                }
                .insert(db)
                .await;
                continue;
            };
            if due.next_run_at > now {
                continue;
            }
            let txn = db.begin().await?;
            let advanced = schedule::Entity::update_many()
                .col_expr(schedule::Column::NextRunAt, Expr::value(now + *period))
                .filter(schedule::Column::Kind.eq(kind.clone()))
                .filter(schedule::Column::NextRunAt.eq(due.next_run_at))
                .exec(&txn)
                .await?;
            if advanced.rows_affected == 1 {
                enqueue(&txn, kind, Value::Object(Default::default())).await?;
                enqueued += 1;
            }
            txn.commit().await?;
        }
        Ok(enqueued)
    }

    /// Enqueues the periodic kinds that are due, then claims and runs due
    /// jobs until none is left; returns how many ran.
    pub async fn run_due(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        self.enqueue_periodic(db).await?;
        let kinds: Vec<String> = self.handlers.keys().cloned().collect();
        if kinds.is_empty() {
            return Ok(0);
        }
        let mut ran = 0;
        loop {
            if self.closing() {
                return Ok(ran);
            }
            let now = crate::time::now();
            let candidates = job::Entity::find()
                .filter(job::Column::Kind.is_in(kinds.clone()))
                .filter(job::Column::RunAt.lte(now))
                .filter(job::Column::Attempts.lt(MAX_ATTEMPTS))
                .filter(
                    job::Column::LockedUntil
                        .is_null()
                        .or(job::Column::LockedUntil.lt(now)),
                )
                .order_by(job::Column::RunAt, Order::Asc)
                .limit(16)
                .all(db)
                .await?;
            if candidates.is_empty() {
                return Ok(ran);
            }
            for candidate in candidates {
                if self.closing() {
                    return Ok(ran);
                }
                let running = self
                    .lifecycle
                    .as_ref()
                    .map(crate::lifecycle::Lifecycle::job_started);
                if !claim(db, &candidate, self.lease).await? {
                    continue; // another worker took it
                }
                let Some(handler) = self.handlers.get(&candidate.kind) else {
                    continue;
                };
                ran += 1;
                let started = std::time::Instant::now();
                let outcome = handler(candidate.payload.clone()).await;
                if let Some(metrics) = &self.metrics {
                    use crate::metrics::JobOutcome;
                    let how = if outcome.is_ok() {
                        JobOutcome::Succeeded
                    } else {
                        JobOutcome::Failed
                    };
                    metrics.job_ran(&candidate.kind, how, started.elapsed());
                }
                let _running = running;
                match outcome {
                    Ok(()) => {
                        job::Entity::delete_by_id(candidate.id).exec(db).await?;
                    }
                    Err(error) => {
                        tracing::warn!(job.kind = %candidate.kind, job.id = %candidate.id, %error, "job failed; will retry");
                        let exponent = u32::try_from(candidate.attempts + 1).unwrap_or(10);
                        let backoff =
                            Duration::from_secs(Ord::min(2u64.saturating_pow(exponent), 3600));
                        job::Entity::update_many()
                            .col_expr(
                                job::Column::RunAt,
                                Expr::value(crate::time::now() + backoff),
                            )
                            .col_expr(
                                job::Column::LockedUntil,
                                Expr::value(Option::<DateTimeUtc>::None),
                            )
                            .col_expr(job::Column::LastError, Expr::value(error))
                            .filter(job::Column::Id.eq(candidate.id))
                            .exec(db)
                            .await?;
                    }
                }
            }
        }
    }

    /// Runs due jobs on `kernel`'s database whenever its queue is woken,
    /// and at least every `interval`, until the node closes.
    pub fn spawn(self, kernel: &crate::Kernel, interval: Duration) -> tokio::task::JoinHandle<()> {
        let worker = self.on_node(kernel);
        let db = kernel.db.clone();
        let wake = kernel.jobs_wake.clone();
        let lifecycle = kernel.lifecycle.clone();
        tokio::spawn(async move {
            while !lifecycle.is_closing() {
                if let Err(error) = worker.run_due(&db).await {
                    tracing::warn!(%error, "job queue unavailable");
                }
                tokio::select! {
                    () = wake.notified() => {},
                    () = tokio::time::sleep(interval) => {},
                    () = lifecycle.closed() => {},
                }
            }
        })
    }
}

/// Takes `candidate` for `lease` if nobody else holds it.
async fn claim(
    db: &DatabaseConnection,
    candidate: &job::Model,
    lease: Duration,
) -> Result<bool, DbErr> {
    let now = crate::time::now();
    let result = job::Entity::update_many()
        .col_expr(job::Column::LockedUntil, Expr::value(now + lease))
        .col_expr(
            job::Column::Attempts,
            ExprTrait::add(Expr::col(job::Column::Attempts), 1),
        )
        .filter(job::Column::Id.eq(candidate.id))
        .filter(job::Column::Attempts.eq(candidate.attempts))
        .filter(
            job::Column::LockedUntil
                .is_null()
                .or(job::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
