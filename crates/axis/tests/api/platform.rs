//! The kernel's conformance checks over axis's whole document: every
//! secured operation answers 401 in axis's envelope without a token or with
//! a forged one, a malformed path id is a 404, and every JSON body that is
//! malformed, of the wrong shape or of the wrong types is a 400 (or the
//! role's 403) that changes no row.

use crate::common::*;

async fn created(app: &TestApp, admin: &Actor, path: &str, body: Value) -> String {
    let r = app
        .post(path)
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json["id"].as_str().unwrap().to_owned()
}

db_test!(every_documented_endpoint_conforms, |app| {
    let admin = app.superuser().await;
    kernel::conformance::check::<axis::Axis>(&app, &admin.access).await;
});

db_test!(bad_bodies_are_refused_and_change_nothing, |app| {
    let admin = app.superuser().await;
    let industry = created(&app, &admin, "/api/industries/", json!({"name": "Finance"})).await;
    let tag = created(&app, &admin, "/api/tags/", json!({"name": "Key account"})).await;
    let client = created(
        &app,
        &admin,
        "/api/clients/",
        json!({"name": "Acme", "email": "ops@acme.test", "industry_id": industry, "tag_ids": [tag]}),
    )
    .await;
    let contact = created(
        &app,
        &admin,
        &format!("/api/clients/{client}/contacts/"),
        json!({"first_name": "Ivy", "last_name": "Stone", "email": "ivy@acme.test"}),
    )
    .await;
    let activity = created(
        &app,
        &admin,
        &format!("/api/clients/{client}/activities/"),
        json!({"title": "Kickoff call", "activity_type": "Call"}),
    )
    .await;
    let user = app.user(&admin, "scoped@client.example", &[]).await;
    let grant = app.grant(&admin, &user.id, &client).await;
    let grant = grant["id"].as_str().unwrap();
    let u = &user.id;
    let document = created(
        &app,
        &admin,
        "/api/documents/",
        json!({"title": "Policy", "type": "other", "url": "https://files.example/p.pdf"}),
    )
    .await;
    let contract = created(
        &app,
        &admin,
        "/api/contracts/",
        json!({"client_id": client, "start_date": "2026-01-01", "end_date": "2026-12-31",
               "billing_amount": "100.00", "status": "Active"}),
    )
    .await;
    let kpi_type = created(&app, &admin, "/api/kpi-types/", json!({"name": "Quality"})).await;
    let kpi = created(
        &app,
        &admin,
        "/api/kpis/",
        json!({"name": "Satisfaction", "type_id": kpi_type, "unit": "points", "unit_type": "Score"}),
    )
    .await;
    let kpi_assignment = created(
        &app,
        &admin,
        "/api/kpi-assignments/",
        json!({"kpi_id": kpi, "client_id": client, "contract_id": contract, "frequency": "Monthly",
               "start_date": "2026-01-01", "status": "Ongoing"}),
    )
    .await;
    app.post(&format!("/api/clients/{client}/activate/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let employee = created(
        &app,
        &admin,
        "/api/persons/create-employee/",
        json!({"full_name": "Ana Lima", "client_id": client}),
    )
    .await;
    let category = created(
        &app,
        &admin,
        "/api/services/categories/",
        json!({"name": "Care"}),
    )
    .await;
    let service = created(
        &app,
        &admin,
        "/api/services/services/",
        json!({"name": "Talk", "category_id": category}),
    )
    .await;
    let provider = created(
        &app,
        &admin,
        "/api/services/providers/",
        json!({"name": "Dr O"}),
    )
    .await;
    app.post(&format!("/api/services/providers/{provider}/verify/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let service_assignment = created(
        &app,
        &admin,
        "/api/services/assignments/",
        json!({"service_id": service, "client_id": client, "start_date": "2026-01-01"}),
    )
    .await;
    let at = kernel::time::iso(kernel::time::now() + chrono::TimeDelta::days(2));
    let session_body = json!({"person_id": employee, "service_id": service, "provider_id": provider, "scheduled_at": at});
    let session = created(
        &app,
        &admin,
        "/api/services/sessions/",
        session_body.clone(),
    )
    .await;
    let done = created(&app, &admin, "/api/services/sessions/", session_body).await;
    app.post(&format!("/api/services/sessions/{done}/complete/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let feedback = created(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session_id": done, "rating": 4}),
    )
    .await;
    let rows = [
        format!("/api/industries/{industry}/"),
        format!("/api/tags/{tag}/"),
        format!("/api/clients/{client}/"),
        format!("/api/clients/{client}/contacts/{contact}/"),
        format!("/api/clients/{client}/activities/{activity}/"),
        format!("/api/users/{u}/"),
        format!("/api/user-clients/{grant}/"),
        format!("/api/contracts/{contract}/"),
        format!("/api/contracts/{contract}/suspend/"),
        format!("/api/contracts/{contract}/terminate/"),
        format!("/api/contracts/{contract}/renew/"),
        format!("/api/kpi-types/{kpi_type}/"),
        format!("/api/kpis/{kpi}/"),
        format!("/api/kpi-assignments/{kpi_assignment}/"),
        format!("/api/kpi-assignments/{kpi_assignment}/record_measurement/"),
        format!("/api/documents/{document}/"),
        format!("/api/documents/{document}/archive/"),
        format!("/api/documents/{document}/create-version/"),
        format!("/api/persons/{employee}/"),
        format!("/api/persons/{employee}/activate/"),
        format!("/api/persons/{employee}/deactivate/"),
        format!("/api/persons/{employee}/update-employment-status/"),
        format!("/api/services/categories/{category}/"),
        format!("/api/services/services/{service}/"),
        format!("/api/services/providers/{provider}/"),
        format!("/api/services/providers/{provider}/update_rating/"),
        format!("/api/services/assignments/{service_assignment}/"),
        format!("/api/services/sessions/{session}/"),
        format!("/api/services/sessions/{session}/complete/"),
        format!("/api/services/sessions/{session}/cancel/"),
        format!("/api/services/sessions/{session}/reschedule/"),
        format!("/api/services/feedback/{feedback}/"),
    ];
    kernel::conformance::check_bad_bodies::<axis::Axis>(&app, &admin.access, &rows).await;
});
