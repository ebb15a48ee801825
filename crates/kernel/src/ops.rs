//! What a load balancer and an operator ask a node, beside the API:
//! `GET /livez` (the process answers), `GET /readyz` (it can serve: the
//! database and the shared Redis answer, and it is not shutting down) and
//! `GET /metrics` (Prometheus text; on the main address only to loopback
//! clients not forwarded by a proxy, and to the system's administrators;
//! on `CAMPUS_METRICS_BIND` to whoever reaches that address).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::ApiError;
use crate::system::{HasKernel, Kernel, System};

/// The paths served here, spelled without a trailing slash on every system.
pub const PATHS: [&str; 3] = ["/livez", "/readyz", "/metrics"];

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/livez`, `/readyz` and (when `with_metrics`) `/metrics` for system `S`.
pub fn router<S: System>(state: S::State, with_metrics: bool) -> Router {
    let mut router = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz::<S>));
    if with_metrics {
        router = router.route("/metrics", get(guarded_metrics::<S>));
    }
    router
        .layer(axum::middleware::from_fn(crate::metrics::mark_route))
        .with_state(state)
}

/// `/metrics` alone, open to whoever reaches it (`CAMPUS_METRICS_BIND`).
pub fn metrics_only(kernel: Kernel) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(kernel): State<Kernel>| async move { exposition(&kernel).await }),
        )
        .with_state(kernel)
}

async fn livez() -> Response {
    axum::Json(json!({"status": "alive"})).into_response()
}

async fn readyz<S: System>(State(state): State<S::State>) -> Response {
    let (ready, checks) = readiness(state.kernel()).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": checks,
    });
    (status, axum::Json(body)).into_response()
}

/// Whether `kernel`'s node can serve, with one answer per dependency.
pub async fn readiness(kernel: &Kernel) -> (bool, serde_json::Map<String, serde_json::Value>) {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let database = tokio::time::timeout(PROBE_TIMEOUT, kernel.db.ping()).await;
    let database_ok = matches!(database, Ok(Ok(())));
    ready &= database_ok;
    checks.insert(
        "database".into(),
        json!(if database_ok { "ok" } else { "unreachable" }),
    );
    if let Some(redis) = &kernel.redis {
        let redis_ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, redis.ping()).await,
            Ok(Ok(()))
        );
        ready &= redis_ok;
        checks.insert(
            "redis".into(),
            json!(if redis_ok { "ok" } else { "unreachable" }),
        );
    }
    if kernel.lifecycle.is_closing() {
        ready = false;
        checks.insert("node".into(), json!("shutting down"));
    }
    (ready, checks)
}

async fn guarded_metrics<S: System>(State(state): State<S::State>, mut parts: Parts) -> Response {
    if !from_loopback(&parts) && !S::is_administrator(&state, &mut parts).await {
        let error = if crate::jwt::bearer_token(&parts).is_some() {
            ApiError::forbidden("Metrics are served to administrators and local clients only.")
        } else {
            ApiError::NotAuthenticated
        };
        return error.into_response();
    }
    exposition(state.kernel()).await
}

/// A client on this machine, not a request a proxy on this machine passed on.
fn from_loopback(parts: &Parts) -> bool {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = ["x-forwarded-for", "x-real-ip", "forwarded"]
        .iter()
        .any(|name| parts.headers.contains_key(*name));
    peer.is_some_and(|ip| ip.is_loopback()) && !forwarded
}

async fn exposition(kernel: &Kernel) -> Response {
    let text = kernel.metrics.render(&kernel.db).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
