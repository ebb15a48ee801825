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

/// Bodies that fail to parse or to type-check, for endpoints that must refuse
/// the caller before reading them.
fn bad_bodies() -> Vec<(&'static str, String)> {
    vec![
        ("malformed", r#"{"bogus": ["#.to_owned()),
        ("not an object", "[1, 2]".to_owned()),
        (
            "wrong types",
            json!({
                "email": 5, "full_name": [], "role": {}, "department": 7, "name": 1,
                "code": [], "student": "not-a-uuid", "student_id": 3, "amount": [],
                "notes": 9, "title": [], "message": {}, "user": "x", "gown_size": 3,
                "tuition_balance": "lots", "approval_ids": "all", "action": 1,
                "registration_number": 5, "is_active": "maybe", "verify": "yes",
            })
            .to_string(),
        ),
    ]
}

async fn audit_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    clearance::entities::audit_log::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

db_test!(permission_is_checked_before_the_body, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 0).await;
    let staff = app.user(&admin, "department_staff", Some(&office)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &office).await;
    let r = app
        .get(&format!("/api/finance/records/?student={student_id}"))
        .bearer(&admin.access)
        .send()
        .await;
    let record = r.json["results"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "amount": "5500", "payment_method": "cash"}))
        .send()
        .await;
    r.assert_status(201);
    let payment = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/gown-issuances/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "gown_size": "M"}))
        .send()
        .await;
    r.assert_status(201);
    let gown = r.json["id"].as_str().unwrap().to_owned();

    use axum::http::Method;
    let (post, put, patch) = (Method::POST, Method::PUT, Method::PATCH);
    let user = staff.id.to_string();
    let admin_only = [
        (&post, "/api/users/".to_owned()),
        (&put, format!("/api/users/{user}/")),
        (&patch, format!("/api/users/{user}/")),
        (&post, "/api/students/".to_owned()),
        (&put, format!("/api/students/{student_id}/")),
        (&patch, format!("/api/students/{student_id}/")),
        (&post, "/api/departments/".to_owned()),
        (&put, format!("/api/departments/{office}/")),
        (&patch, format!("/api/departments/{office}/")),
        (&post, "/api/academics/schools/".to_owned()),
        (&post, "/api/academics/departments/".to_owned()),
        (&post, "/api/academics/courses/".to_owned()),
        (&put, format!("/api/clearances/{clearance}/")),
        (&patch, format!("/api/clearances/{clearance}/")),
        (&post, "/api/finance/records/".to_owned()),
        (&put, format!("/api/finance/records/{record}/")),
        (&patch, format!("/api/finance/records/{record}/")),
        (&post, "/api/finance/payments/".to_owned()),
        (&put, format!("/api/finance/payments/{payment}/")),
        (&patch, format!("/api/finance/payments/{payment}/")),
        (&post, format!("/api/finance/payments/{payment}/verify/")),
        (&post, "/api/notifications/".to_owned()),
        (&post, "/api/gown-issuances/".to_owned()),
        (&put, format!("/api/gown-issuances/{gown}/")),
        (&patch, format!("/api/gown-issuances/{gown}/")),
        (&post, format!("/api/gown-issuances/{gown}/mark-returned/")),
        (&post, format!("/api/gown-issuances/{gown}/mark_returned/")),
    ];
    // Offices' staff and administrators decide; students never.
    let deciders_only = [
        (&post, format!("/api/approvals/{approval}/approve/")),
        (&post, format!("/api/approvals/{approval}/reject/")),
        (&post, format!("/api/approvals/{approval}/approve_reject/")),
        (&post, "/api/approvals/bulk_approve/".to_owned()),
        (&put, format!("/api/approvals/{approval}/")),
        (&patch, format!("/api/approvals/{approval}/")),
    ];
    let before = audit_count(&app).await;
    for (callers, routes) in [
        (vec![&student, &staff], &admin_only[..]),
        (vec![&student], &deciders_only[..]),
    ] {
        for (method, path) in routes {
            for (kind, body) in bad_bodies() {
                for caller in &callers {
                    let r = app
                        .request((*method).clone(), path)
                        .bearer(&caller.access)
                        .raw("application/json", body.clone())
                        .send()
                        .await;
                    assert_eq!(
                        r.status, 403,
                        "{method} {path} with a {kind} body as {}: {}",
                        caller.email, r.json
                    );
                }
                let r = app
                    .request((*method).clone(), path)
                    .raw("application/json", body.clone())
                    .send()
                    .await;
                assert_eq!(r.status, 401, "{method} {path} anonymous: {}", r.json);
            }
        }
    }
    assert_eq!(audit_count(&app).await, before, "nothing was written");

    // The object comes before the body too: a missing one is 404 for an
    // administrator, however bad the body.
    let missing = Uuid::new_v4();
    for path in [
        format!("/api/users/{missing}/"),
        format!("/api/students/{missing}/"),
        format!("/api/departments/{missing}/"),
        format!("/api/clearances/{missing}/"),
        format!("/api/finance/records/{missing}/"),
        format!("/api/finance/payments/{missing}/"),
        format!("/api/gown-issuances/{missing}/"),
        format!("/api/approvals/{missing}/"),
    ] {
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .raw("application/json", r#"{"bogus": ["#)
            .send()
            .await;
        assert_eq!(r.status, 404, "PATCH {path}: {}", r.json);
    }
    let r = app
        .post(&format!("/api/approvals/{missing}/reject/"))
        .bearer(&staff.access)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(r.status, 404, "{}", r.json);
    // And an administrator's malformed body is still a DRF parse error.
    let r = app
        .patch(&format!("/api/departments/{office}/"))
        .bearer(&admin.access)
        .raw("application/json", r#"{"bogus": ["#)
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
});

db_test!(every_documented_endpoint_conforms, |app| {
    let admin = app.admin().await;
    kernel::conformance::check::<clearance::Clearance>(&app, &admin.access).await;
});

db_test!(bad_bodies_are_refused_and_change_nothing, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 0).await;
    let staff = app.user(&admin, "department_staff", Some(&office)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &office).await;
    let r = app
        .get(&format!("/api/finance/records/?student={student_id}"))
        .bearer(&admin.access)
        .send()
        .await;
    let record = r.json["results"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "amount": "5500", "payment_method": "cash"}))
        .send()
        .await;
    r.assert_status(201);
    let payment = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/gown-issuances/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "gown_size": "M"}))
        .send()
        .await;
    r.assert_status(201);
    let gown = r.json["id"].as_str().unwrap().to_owned();
    let rows = [
        format!("/api/approvals/{approval}/x/"),
        format!("/api/clearances/{clearance}/"),
        format!("/api/departments/{office}/"),
        format!("/api/finance/payments/{payment}/"),
        format!("/api/finance/payments/{payment}/verify/"),
        format!("/api/finance/records/{record}/"),
        format!("/api/gown-issuances/{gown}/"),
        format!("/api/gown-issuances/{gown}/mark-returned/"),
        format!("/api/students/{student_id}/"),
        format!("/api/users/{}/", staff.id),
    ];
    let rows: Vec<String> = rows
        .iter()
        .flat_map(|row| match row.strip_suffix("x/") {
            Some(approval) => ["approve", "reject", "approve_reject"]
                .map(|action| format!("{approval}{action}/"))
                .to_vec(),
            None => vec![row.clone()],
        })
        .collect();
    kernel::conformance::check_bad_bodies::<clearance::Clearance>(&app, &admin.access, &rows).await;
});
