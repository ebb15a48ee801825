//! Reports and analytics (contract §7): attendance reports per trainee,
//! class group, course, trainer, programme, department and school, as JSON
//! or exported to CSV, XLSX and PDF; stored reports built by the job queue;
//! schedules that email them; and the role-aware dashboard.
//!
//! - [`kinds`]: the kinds and their filters;
//! - [`build`]: who may read which report, and its numbers;
//! - [`export`]: the files;
//! - [`views`]: `GET /api/reports/attendance/…`;
//! - [`stored`]: `/api/reports/` and the `roster.reports.build` job;
//! - [`schedules`]: `/api/reports/schedules/` and the
//!   `roster.reports.scheduled` job;
//! - [`dashboard`]: `GET /api/reports/dashboard/`.

use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod build;
pub mod dashboard;
pub mod export;
pub mod kinds;
pub mod schedules;
pub mod stored;
pub mod views;

/// `roster.reports.build`: fills a stored report.
pub const BUILD_JOB: &str = "roster.reports.build";
/// `roster.reports.scheduled` (every 5 minutes): runs the schedules due.
pub const SCHEDULED_JOB: &str = "roster.reports.scheduled";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(views::router())
        .merge(stored::router())
        .merge(schedules::router())
        .merge(dashboard::router())
}

pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new()
}

/// The `roster.reports.build` job: `{"report_id"}`.
pub async fn build(state: AppState, payload: Value) -> Result<(), String> {
    stored::run(state, payload).await
}

/// The `roster.reports.scheduled` job.
pub async fn run_schedules(state: AppState, payload: Value) -> Result<(), String> {
    schedules::run(state, payload).await
}
