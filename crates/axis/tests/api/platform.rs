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
    let rows = [
        format!("/api/industries/{industry}/"),
        format!("/api/tags/{tag}/"),
        format!("/api/clients/{client}/"),
        format!("/api/clients/{client}/contacts/{contact}/"),
        format!("/api/clients/{client}/activities/{activity}/"),
        format!("/api/users/{u}/"),
        format!("/api/user-clients/{grant}/"),
    ];
    kernel::conformance::check_bad_bodies::<axis::Axis>(&app, &admin.access, &rows).await;
});
