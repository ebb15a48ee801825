//! What every endpoint shares: documents, middleware, bad requests.

use crate::common::*;

#[tokio::test]
async fn openapi_document_is_pinned() {
    let document = serde_json::to_value(clearance::openapi()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}

db_test!(docs_are_served_from_the_binary, |app| {
    let r = app.get("/api/schema/").send().await;
    r.assert_status(200);
    assert!(r.json["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(r.json["paths"]["/api/students/{id}/"].is_object());
    let r = app.get("/api/docs/").send().await;
    r.assert_status(200);
    assert!(String::from_utf8_lossy(&r.body).contains("swagger-ui"));
    let r = app.get("/api/redoc/").send().await;
    r.assert_status(200);
    let page = String::from_utf8_lossy(&r.body).to_string();
    assert!(page.contains("/api/redoc/redoc.standalone.js") && !page.contains("cdn"));
    let r = app.get("/api/redoc/redoc.standalone.js").send().await;
    r.assert_status(200);
    assert!(r.body.len() > 500_000);
});

db_test!(security_headers_and_request_ids, |app| {
    let r = app.get("/api/health/").send().await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert!(
        r.header("x-request-id")
            .is_some_and(|id| Uuid::parse_str(id).is_ok())
    );
    let r = app
        .get("/api/health/")
        .header("x-request-id", "trace-me-123")
        .send()
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-me-123"));
});

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[("CAMPUS_CORS_ALLOWED_ORIGINS", "http://localhost:4200")],
    )
    .await;
    let r = app
        .request(axum::http::Method::OPTIONS, "/api/auth/token/")
        .header("origin", "http://localhost:4200")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:4200")
    );
    let r = app
        .get("/api/health/")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

db_test!(bad_requests_are_drf_shaped_and_never_500, |app| {
    let admin = app.admin().await;
    let r = app.get("/api/no/such/thing/").send().await;
    r.assert_status(404);
    assert_eq!(r.json, json!({"detail": "Not found.", "code": "not_found"}));

    let r = app.delete("/api/health/").send().await;
    r.assert_status(405);
    assert_eq!(r.json["detail"], "Method \"DELETE\" not allowed.");
    assert!(r.header("allow").unwrap().contains("GET"));

    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .raw("text/plain", "name=x")
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(
        r.json["detail"],
        "Unsupported media type \"text/plain\" in request."
    );

    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .raw("application/json", "{\"name\": ")
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );

    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .raw("application/json", "[1, 2]")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );

    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .raw("application/json", nested)
        .send()
        .await;
    r.assert_status(400);

    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(11 * 1024 * 1024));
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .raw("application/json", huge)
        .send()
        .await;
    r.assert_status(413);
    assert_eq!(r.json["detail"], "Request body is too large.");

    let r = app
        .get("/api/departments/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0, "no bad request wrote anything");
});
