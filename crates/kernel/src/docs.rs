//! `/api/schema/` (OpenAPI 3.1 JSON), `/api/docs/` (Swagger UI) and
//! `/api/redoc/` (ReDoc), with every asset served from the binary.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

/// Adds the bearer scheme every system authenticates with.
pub fn with_bearer_auth(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "jwt",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    openapi
}

/// Routes serving the document and its two viewers.
pub fn router(openapi: OpenApi, title: &str) -> Router {
    let redoc_page = format!(
        r#"<!DOCTYPE html>
<html>
  <head>
    <title>{title} — ReDoc</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
  </head>
  <body>
    <redoc spec-url="/api/schema/"></redoc>
    <script src="/api/redoc/redoc.standalone.js"></script>
  </body>
</html>
"#,
        title = html_escape(title)
    );
    Router::new()
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/schema/", openapi))
        .route("/api/redoc/", get(move || async move { Html(redoc_page) }))
        .route(
            "/api/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    REDOC_JS,
                )
                    .into_response()
            }),
        )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
