//! `GET /api/health/` (public), also at `/` and `/api/` as the original served it.

use kernel::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", axum::routing::get(health))
        .route("/api/", axum::routing::get(health))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    pub status: &'static str,
    pub message: &'static str,
}

/// Liveness (public).
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "healthy",
        message: "PSS Backend API is running",
    })
}
