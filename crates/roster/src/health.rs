//! `GET /api/health/`: the public liveness answer of the contract (§0).

use kernel::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Serialize, ToSchema)]
pub struct HealthOut {
    status: &'static str,
    service: &'static str,
}

/// The service is up.
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, body = HealthOut)))]
async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "healthy",
        service: "Smart Roster API",
    })
}
