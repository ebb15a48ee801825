//! Each tenant's job queue lives in its own database (a job is written in
//! the transaction of the change that causes it, so it cannot be there in
//! another). One runner per node serves them all: woken for a tenant after
//! a commit that queued work, and sweeping every active tenant now and then
//! for delayed jobs, retries and periodic kinds. Each tenant's jobs run as
//! that tenant's ([`kernel::db::in_tenant`]); never two tenants in one
//! transaction.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kernel::jobs::Worker;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::Notify;

use crate::entities::tenant;
use crate::state::AppState;

/// Tenants with work queued since the runner last looked.
#[derive(Default)]
pub struct Wake {
    pending: Mutex<HashSet<i64>>,
    notify: Notify,
}

impl Wake {
    /// Tenant `id` queued a job: run it now.
    pub fn tenant(&self, id: i64) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
        self.notify.notify_one();
    }

    fn take(&self) -> Vec<i64> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect()
    }
}

/// Runs tenant `id`'s due jobs as that tenant's.
pub async fn run_tenant(state: &AppState, worker: &Worker, id: i64) -> Result<usize, String> {
    let db = state.tenants.open(id).await.map_err(|e| e.to_string())?;
    kernel::db::in_tenant(Arc::from(id.to_string()), worker.run_due(&db))
        .await
        .map_err(|e| e.to_string())
}

/// The ids of every active tenant.
async fn active(state: &AppState) -> Result<Vec<i64>, sea_orm::DbErr> {
    tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::Status.eq("active"))
        .into_tuple::<i64>()
        .all(&state.db)
        .await
}

/// Starts the runner: woken tenants at once, every active tenant each `sweep`.
pub fn spawn(state: AppState, worker: Worker, sweep: Duration) {
    tokio::spawn(async move {
        let mut last_sweep = tokio::time::Instant::now();
        let mut first = true;
        let lifecycle = state.lifecycle.clone();
        while !lifecycle.is_closing() {
            let mut ids = state.wake.take();
            if first || last_sweep.elapsed() >= sweep {
                first = false;
                last_sweep = tokio::time::Instant::now();
                match active(&state).await {
                    Ok(all) => ids.extend(all),
                    Err(error) => tracing::warn!(%error, "cannot list tenants for their jobs"),
                }
                ids.sort_unstable();
                ids.dedup();
            }
            for id in ids {
                if lifecycle.is_closing() {
                    return;
                }
                if let Err(error) = run_tenant(&state, &worker, id).await {
                    tracing::warn!(tenant = id, %error, "tenant job queue unavailable");
                }
            }
            tokio::select! {
                () = state.wake.notify.notified() => {},
                () = tokio::time::sleep(sweep) => {},
                () = lifecycle.closed() => {},
            }
        }
    });
}
