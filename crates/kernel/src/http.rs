//! The middleware every system is served behind: request ids, JSON access
//! logs, security headers, CORS, body limits, DRF-shaped 404/405, panics as a
//! bare 500.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::{CorsPolicy, Settings};
use crate::error::{ApiError, Envelope, ErrorReport};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a system's routes in the standard stack. Error bodies are DRF's
/// unless the system renders its own `envelope`; `layers` are the system's
/// own, outermost, so they reach every response (unmatched routes, 405s,
/// CORS preflights, oversized bodies and panics included).
pub fn wrap(
    router: Router,
    settings: &Settings,
    envelope: Option<Envelope>,
    layers: fn(Router) -> Router,
) -> Router {
    let router = router
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn(drf_status_bodies));
    let router = match envelope {
        Some(render) => router.layer(axum::middleware::map_response(
            move |response: Response| async move { rerender(response, render) },
        )),
        None => router,
    };
    let router = router
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(cors(&settings.cors_allowed_origins, settings.cors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal("handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn(access_log))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid));
    layers(router)
}

/// Gives an error response the body of the system's envelope.
fn rerender(mut response: Response, render: Envelope) -> Response {
    let Some(report) = response
        .extensions_mut()
        .remove::<std::sync::Arc<ErrorReport>>()
    else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&render(&report)).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn cors(origins: &[String], policy: CorsPolicy) -> CorsLayer {
    let any = origins.iter().any(|o| o == "*");
    let allow = if any {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let mut headers = vec![
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        REQUEST_ID.clone(),
    ];
    headers.extend(
        policy
            .extra_headers
            .iter()
            .filter_map(|h| HeaderName::try_from(*h).ok()),
    );
    CorsLayer::new()
        .allow_origin(allow)
        // `*` may never carry credentials (browsers refuse it, and so does tower-http).
        .allow_credentials(policy.credentials && !any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(headers)
        .max_age(Duration::from_secs(86_400))
}

/// Gives axum's bodiless 405 and 404 responses DRF's JSON bodies.
async fn drf_status_bodies(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let bodiless = response.headers().get(header::CONTENT_TYPE).is_none();
    match response.status() {
        StatusCode::METHOD_NOT_ALLOWED if bodiless => {
            let allow = response.headers().get(header::ALLOW).cloned();
            let mut replaced = ApiError::MethodNotAllowed {
                method: method.to_string(),
            }
            .into_response();
            if let Some(allow) = allow {
                replaced.headers_mut().insert(header::ALLOW, allow);
            }
            replaced
        }
        StatusCode::NOT_FOUND if bodiless => ApiError::not_found().into_response(),
        _ => response,
    }
}

/// One JSON line per request: method, path (never the query string, which may
/// carry tokens), status, duration and request id.
async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("")
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "campus::access",
        method = %method,
        path = %path,
        status,
        duration_ms = format_args!("{duration_ms:.2}"),
        request_id = %request_id,
        "request"
    );
    response
}

/// Logs as JSON lines on stdout; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .try_init();
}

/// Serves `/path` as `/path/` (Django's `APPEND_SLASH` without its
/// redirect), for a system whose contract says a path without its trailing
/// slash is served the same: before routing, a path whose last segment has
/// no dot (so not a file such as `/api/redoc/redoc.standalone.js`) gains the
/// slash (the probes of [`crate::ops`] keep their Kubernetes spelling).
/// Use it from [`crate::System::layers`].
pub fn append_slash(router: Router) -> Router {
    use tower::Service as _;
    Router::new().fallback_service(tower::service_fn(move |mut request: Request| {
        let mut router = router.clone();
        async move {
            if let Some(uri) = with_slash(request.uri()) {
                *request.uri_mut() = uri;
            }
            router.call(request).await
        }
    }))
}

/// `uri` with a slash after its path, when it needs one.
fn with_slash(uri: &axum::http::Uri) -> Option<axum::http::Uri> {
    let path = uri.path();
    let last = path.rsplit('/').next().unwrap_or("");
    if path.ends_with('/') || last.contains('.') || crate::ops::PATHS.contains(&path) {
        return None;
    }
    let target = match uri.query() {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = target.parse().ok();
    axum::http::Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod slash_tests {
    use super::with_slash;

    #[test]
    fn paths_gain_a_slash_files_do_not() {
        let of = |s: &str| with_slash(&s.parse().unwrap_or_default()).map(|u| u.to_string());
        assert_eq!(of("/api/rooms").as_deref(), Some("/api/rooms/"));
        assert_eq!(
            of("/api/rooms?page=2").as_deref(),
            Some("/api/rooms/?page=2")
        );
        assert_eq!(of("/api/rooms/"), None);
        assert_eq!(of("/api/redoc/redoc.standalone.js"), None);
        for probe in ["/livez", "/readyz", "/metrics"] {
            assert_eq!(of(probe), None, "{probe}");
        }
    }
}
