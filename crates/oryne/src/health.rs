//! `GET /api/health/` and `/api/v1/health/` (contract §0): public, tenant-free.

use kernel::Db;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Data, ok};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `healthy`, or `unhealthy` with a 503.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(health_v1))
}

async fn check(db: &sea_orm::DatabaseConnection) -> Result<Data<HealthOut>, kernel::ApiError> {
    match db.execute_unprepared("SELECT 1").await {
        Ok(_) => Ok(ok(HealthOut {
            status: "healthy",
            database: "ok",
        })),
        Err(_) => Err(kernel::ApiError::unavailable(
            "The database is unavailable.",
            "ERR_UNAVAILABLE_01",
        )),
    }
}

/// Whether the service and its database answer.
#[utoipa::path(get, path = "/api/health/", tag = "health",
    responses((status = 200, body = inline(Data<HealthOut>)), (status = 503, description = "The database is down.")))]
pub async fn health(Db(db): Db) -> Result<Data<HealthOut>, kernel::ApiError> {
    check(&db).await
}

/// The same, under `/api/v1/`.
#[utoipa::path(get, path = "/api/v1/health/", tag = "health",
    responses((status = 200, body = inline(Data<HealthOut>)), (status = 503, description = "The database is down.")))]
pub async fn health_v1(Db(db): Db) -> Result<Data<HealthOut>, kernel::ApiError> {
    check(&db).await
}
