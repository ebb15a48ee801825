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
#[derive(Clone, Default)]
pub struct Worker {
    handlers: HashMap<String, Handler>,
    periodic: Vec<(String, Duration)>,
}

impl Worker {
    pub fn new() -> Self {
        Self::default()
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
                if !claim(db, &candidate).await? {
                    continue; // another worker took it
                }
                let Some(handler) = self.handlers.get(&candidate.kind) else {
                    continue;
                };
                ran += 1;
                match handler(candidate.payload.clone()).await {
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

    /// Runs due jobs whenever `wake` is notified, and at least every `interval`.
    pub fn spawn(
        self,
        db: DatabaseConnection,
        wake: Arc<tokio::sync::Notify>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.run_due(&db).await {
                    tracing::warn!(%error, "job queue unavailable");
                }
                tokio::select! {
                    () = wake.notified() => {},
                    () = tokio::time::sleep(interval) => {},
                }
            }
        })
    }
}

/// Takes `candidate` for five minutes if nobody else holds it.
async fn claim(db: &DatabaseConnection, candidate: &job::Model) -> Result<bool, DbErr> {
    let now = crate::time::now();
    let result = job::Entity::update_many()
        .col_expr(
            job::Column::LockedUntil,
            Expr::value(now + Duration::from_secs(300)),
        )
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
