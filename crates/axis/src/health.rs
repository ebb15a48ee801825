//! `GET health/`: public.

use kernel::Json;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// `{"status": "healthy", "service": "AXIS EAP API"}`.
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, description = "Healthy")))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "service": "AXIS EAP API"}))
}
