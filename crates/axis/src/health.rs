//! `GET health/`: public.

use kernel::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// What `health/` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    #[schema(value_type = String, pattern = "^healthy$")]
    pub status: &'static str,
    #[schema(value_type = String, pattern = "^AXIS EAP API$")]
    pub service: &'static str,
}

/// `{"status": "healthy", "service": "AXIS EAP API"}`.
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, description = "Healthy", body = HealthOut)))]
pub async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "healthy",
        service: "AXIS EAP API",
    })
}
