//! Services (axis contract §8): categories, services, providers, client
//! assignments, sessions and feedback; platform-only sessions and feedback
//! (§3), every guard and refusal, and the audit trail.

use crate::common::*;
use crate::persons::{dependent, employee, id_of};
use axis::entities::{contract, person};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

const CATEGORY_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "metadata",
    "service_count",
    "created_at",
    "updated_at",
    "deleted_at",
];

const SERVICE_ITEM_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "category_id",
    "category_name",
    "status",
    "duration",
    "capacity",
    "prerequisites",
    "is_public",
    "price",
    "service_provider_id",
    "provider_name",
    "metadata",
    "is_available",
    "is_group_service",
    "created_at",
    "updated_at",
];

const PROVIDER_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "contact_email",
    "contact_phone",
    "location",
    "qualifications",
    "specializations",
    "availability",
    "rating",
    "is_verified",
    "status",
    "metadata",
    "is_available",
    "sessions_count",
    "created_at",
    "updated_at",
    "deleted_at",
];

const ASSIGNMENT_ITEM_KEYS: &[&str] = &[
    "id",
    "service_id",
    "service_name",
    "contract_id",
    "contract_number",
    "client_id",
    "client_name",
    "status",
    "start_date",
    "end_date",
    "frequency",
    "metadata",
    "created_at",
    "updated_at",
];

const SESSION_ITEM_KEYS: &[&str] = &[
    "id",
    "service_id",
    "service_name",
    "provider_id",
    "provider_name",
    "person_id",
    "person_name",
    "scheduled_at",
    "completed_at",
    "status",
    "duration",
    "is_group_session",
    "created_at",
    "updated_at",
];

const SESSION_EXTRA_KEYS: &[&str] = &[
    "service",
    "provider",
    "person",
    "notes",
    "feedback",
    "location",
    "cancellation_reason",
    "reschedule_count",
    "metadata",
    "feedback_count",
    "average_rating",
    "deleted_at",
];

const FEEDBACK_KEYS: &[&str] = &[
    "id",
    "session_id",
    "rating",
    "comment",
    "submitted_by",
    "submitted_by_email",
    "metadata",
    "created_at",
    "updated_at",
    "deleted_at",
];

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    let mut all: Vec<&str> = base.to_vec();
    all.extend_from_slice(extra);
    sorted(&all)
}

async fn post(
    app: &TestApp,
    actor: &Actor,
    path: &str,
    body: Value,
) -> kernel::testing::TestResponse {
    app.post(path)
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await
}

async fn made(app: &TestApp, actor: &Actor, path: &str, body: Value) -> Value {
    let r = post(app, actor, path, body).await;
    r.assert_status(201);
    r.json
}

/// A contract of `client`, inserted directly (its API is not under test).
async fn contract_of(app: &TestApp, client: &str) -> String {
    let now = kernel::time::now();
    let id = kernel::cuid::new();
    let today = now.date_naive();
    contract::ActiveModel {
        id: Set(id.clone()),
        client_id: Set(client.into()),
        title: Set("Contract".into()),
        description: Set(None),
        contract_number: Set(format!("CTR-{}", id.to_uppercase())),
        start_date: Set(today),
        end_date: Set(today + chrono::TimeDelta::days(365)),
        renewal_date: Set(None),
        billing_amount: Set(100_000),
        currency: Set("UGX".into()),
        billing_frequency: Set("Monthly".into()),
        payment_status: Set("Pending".into()),
        payment_terms: Set(None),
        last_billing_date: Set(None),
        next_billing_date: Set(None),
        auto_renew: Set(false),
        is_renewable: Set(true),
        renewal_notice_days: Set(30),
        document_url: Set(None),
        signed_by: Set(None),
        signed_at: Set(None),
        status: Set("Active".into()),
        termination_reason: Set(None),
        notes: Set(None),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(app.conn())
    .await
    .unwrap();
    id
}

/// A category, an Active service in it and a verified counsellor.
async fn catalogue(app: &TestApp, admin: &Actor) -> (String, String, String) {
    let category = made(
        app,
        admin,
        "/api/services/categories/",
        json!({"name": "Counselling"}),
    )
    .await;
    let service = made(
        app,
        admin,
        "/api/services/services/",
        json!({"name": "One-to-one", "category_id": id_of(&category), "duration_minutes": 50}),
    )
    .await;
    let provider = made(
        app,
        admin,
        "/api/services/providers/",
        json!({"name": "Naledi Dube", "type": "counselor"}),
    )
    .await;
    post(
        app,
        admin,
        &format!("/api/services/providers/{}/verify/", id_of(&provider)),
        json!({}),
    )
    .await
    .assert_status(200);
    (id_of(&category), id_of(&service), id_of(&provider))
}

fn future(days: i64) -> String {
    kernel::time::iso(kernel::time::now() + chrono::TimeDelta::days(days))
}

db_test!(categories, |app| {
    let admin = app.superuser().await;
    let reader = app.scoped(&admin).await;
    let r = post(
        &app,
        &admin,
        "/api/services/categories/",
        json!({"name": "Wellness", "description": "Body"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), sorted(CATEGORY_KEYS));
    assert_eq!(r.json["service_count"], 0);
    let wellness = id_of(&r.json);
    let r = post(
        &app,
        &admin,
        "/api/services/categories/",
        json!({"name": "WELLNESS"}),
    )
    .await;
    assert_field_error(
        &r,
        "name",
        Some("A service category with this name already exists."),
    );
    let r = post(&app, &admin, "/api/services/categories/", json!({})).await;
    assert_field_error(&r, "name", Some("This field is required."));
    let r = post(
        &app,
        &reader,
        "/api/services/categories/",
        json!({"name": "X"}),
    )
    .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    made(
        &app,
        &admin,
        "/api/services/services/",
        json!({"name": "Yoga", "category_id": wellness}),
    )
    .await;
    let r = app
        .get("/api/services/categories/")
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 1);
    assert_eq!(r.json["results"][0]["service_count"], 1);
    let r = app
        .get("/api/services/categories/with_services/")
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json[0]), with(CATEGORY_KEYS, &["services"]));
    assert_eq!(
        keys(&r.json[0]["services"][0]),
        sorted(&["id", "name", "status"])
    );
    let r = app
        .get("/api/services/categories/search/?name=well")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/categories/search/?name=zzz")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json, json!([]));
    // Scoped users read; writes are the platform's.
    let r = app
        .patch(&format!("/api/services/categories/{wellness}/"))
        .bearer(&reader.access)
        .json(&json!({"name": "X"}))
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    let r = app
        .delete(&format!("/api/services/categories/{wellness}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Cannot delete a service category that has services",
    );
    let r = app
        .patch(&format!("/api/services/categories/{wellness}/"))
        .bearer(&admin.access)
        .json(&json!({"description": "Mind and body"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["name"], "Wellness");
    let empty = made(
        &app,
        &admin,
        "/api/services/categories/",
        json!({"name": "Empty"}),
    )
    .await;
    app.delete(&format!("/api/services/categories/{}/", id_of(&empty)))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    // Its name is free again.
    made(
        &app,
        &admin,
        "/api/services/categories/",
        json!({"name": "Empty"}),
    )
    .await;
    let changes = app.entity_changes_of("ServiceCategory", &wellness).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(types, vec!["Create", "Update"]);
    let r = app.get("/api/services/categories/").send().await;
    r.assert_status(401);
});

db_test!(services_of_the_catalogue, |app| {
    let admin = app.superuser().await;
    let reader = app.scoped(&admin).await;
    let (category, service, provider) = catalogue(&app, &admin).await;
    let r = app
        .get(&format!("/api/services/services/{service}/"))
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        keys(&r.json),
        with(
            SERVICE_ITEM_KEYS,
            &["category", "service_provider", "deleted_at"]
        )
    );
    assert_eq!(r.json["duration"], 50);
    assert_eq!(r.json["capacity"], 1);
    assert_eq!(r.json["is_public"], true);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_available"], true);
    assert_eq!(r.json["is_group_service"], false);
    assert_eq!(
        r.json["category"],
        json!({"id": category, "name": "Counselling"})
    );
    assert_eq!(r.json["service_provider"], Value::Null);
    let r = post(
        &app,
        &admin,
        "/api/services/services/",
        json!({"name": "Group", "category": category, "capacity": 8, "default_price": "1500",
               "is_public": false, "service_provider_id": provider}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["price"], "1500.00");
    assert_eq!(r.json["is_group_service"], true);
    assert_eq!(r.json["provider_name"], "Naledi Dube");
    assert_eq!(r.json["service_provider"]["type"], "Counselor");
    let group = id_of(&r.json);
    let r = post(
        &app,
        &admin,
        "/api/services/services/",
        json!({"name": "Bad", "category_id": "zzzzzzzzzzzzzzzzzzzzzzzzz", "duration": 0, "capacity": 0,
               "price": -1, "status": "Gone"}),
    )
    .await;
    assert_field_error(
        &r,
        "category_id",
        Some("Invalid pk \"zzzzzzzzzzzzzzzzzzzzzzzzz\" - object does not exist."),
    );
    assert_field_error(&r, "duration", None);
    assert_field_error(&r, "capacity", None);
    assert_field_error(&r, "price", None);
    assert_field_error(&r, "status", Some("\"Gone\" is not a valid choice."));
    let r = post(
        &app,
        &reader,
        "/api/services/services/",
        json!({"name": "X", "category_id": category}),
    )
    .await;
    r.assert_status(403);
    let r = app
        .get("/api/services/services/catalog/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(keys(&r.json[0]), sorted(SERVICE_ITEM_KEYS));
    let r = app
        .get("/api/services/services/available/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 2);
    let r = post(
        &app,
        &admin,
        &format!("/api/services/services/{group}/deactivate/"),
        json!({}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Inactive");
    assert_eq!(r.json["is_available"], false);
    let r = post(
        &app,
        &admin,
        &format!("/api/services/services/{group}/deactivate/"),
        json!({}),
    )
    .await;
    assert_error(&r, 400, "invalid_state", "Service is already Inactive");
    let r = app
        .get("/api/services/services/available/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/api/services/services/search/?name=group&status=inactive&is_public=false&category_id={category}"))
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/services/search/?is_public=perhaps")
        .bearer(&reader.access)
        .send()
        .await;
    assert_field_error(&r, "is_public", None);
    let r = post(
        &app,
        &admin,
        &format!("/api/services/services/{group}/activate/"),
        json!({}),
    )
    .await;
    r.assert_status(200);
    let types: Vec<String> = app
        .entity_changes_of("Service", &group)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(types, vec!["Create", "Deactivate", "Activate"]);
    let r = app
        .get("/api/services/services/?search=one")
        .bearer(&reader.access)
        .send()
        .await;
    assert_page(&r.json, 1);
});

db_test!(providers, |app| {
    let admin = app.superuser().await;
    let reader = app.scoped(&admin).await;
    let r = post(
        &app,
        &admin,
        "/api/services/providers/",
        json!({"name": "Harbour Clinic", "type": "Clinic", "qualifications": ["MBChB"], "rating": 4.5,
               "availability": {"mon": "9-17"}}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), sorted(PROVIDER_KEYS));
    assert_eq!(r.json["rating"], "4.50");
    assert_eq!(r.json["is_verified"], false);
    assert_eq!(r.json["is_available"], false);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["sessions_count"], 0);
    let clinic = id_of(&r.json);
    let r = post(
        &app,
        &admin,
        "/api/services/providers/",
        json!({"name": "X", "rating": 6, "type": "Wizard"}),
    )
    .await;
    assert_field_error(&r, "rating", Some("Ensure this value is between 0 and 5."));
    assert_field_error(&r, "type", None);
    let r = app
        .get("/api/services/providers/available/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json, json!([]));
    let path = format!("/api/services/providers/{clinic}/verify/");
    let r = post(&app, &reader, &path, json!({})).await;
    r.assert_status(403);
    let r = post(&app, &admin, &path, json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["is_verified"], true);
    assert_eq!(r.json["is_available"], true);
    let r = post(&app, &admin, &path, json!({})).await;
    assert_error(&r, 400, "invalid_state", "Provider is already verified");
    let logs = app.audit_logs_of("ServiceProvider", &clinic).await;
    assert_eq!(logs.last().unwrap().action, "Verify");
    let path = format!("/api/services/providers/{clinic}/update_rating/");
    let r = post(&app, &admin, &path, json!({"rating": 5.5})).await;
    assert_field_error(&r, "rating", Some("Ensure this value is between 0 and 5."));
    let r = post(&app, &admin, &path, json!({})).await;
    assert_field_error(&r, "rating", Some("This field is required."));
    let r = post(&app, &admin, &path, json!({"rating": "3.25"})).await;
    r.assert_status(200);
    assert_eq!(r.json["rating"], "3.25");
    let r = app
        .get("/api/services/providers/available/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/providers/search/?type=clinic&is_verified=true&name=harb")
        .bearer(&reader.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/providers/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_page(&r.json, 1);
    let r = app
        .patch(&format!("/api/services/providers/{clinic}/"))
        .bearer(&admin.access)
        .json(&json!({"status": "On Leave"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_available"], false);
});

db_test!(assignments, |app| {
    let admin = app.superuser().await;
    let (_, service, _) = catalogue(&app, &admin).await;
    let acme = app.client("Acme").await;
    let beta = app.client("Beta").await;
    let acme_contract = contract_of(&app, &acme).await;
    let beta_contract = contract_of(&app, &beta).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let r = post(
        &app,
        &admin,
        "/api/services/assignments/",
        json!({"service_id": service, "client_id": acme, "contract_id": beta_contract, "start_date": today}),
    )
    .await;
    assert_field_error(
        &r,
        "contract_id",
        Some("Contract does not belong to specified client"),
    );
    let r = post(&app, &admin, "/api/services/assignments/", json!({})).await;
    assert_field_error(&r, "service_id", Some("This field is required."));
    assert_field_error(&r, "client_id", Some("This field is required."));
    assert_field_error(&r, "start_date", Some("This field is required."));
    let r = post(
        &app,
        &admin,
        "/api/services/assignments/",
        json!({"service_id": service, "client_id": acme, "start_date": "2026-05-01", "end_date": "2026-04-01",
               "frequency": "Daily"}),
    )
    .await;
    assert_field_error(
        &r,
        "end_date",
        Some("End date cannot be before the start date."),
    );
    assert_field_error(&r, "frequency", None);
    let r = post(
        &app,
        &admin,
        "/api/services/assignments/",
        json!({"service": service, "client": acme, "contract_id": acme_contract, "start_date": today,
               "frequency": "monthly", "status": "ONGOING"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(
        keys(&r.json),
        with(
            ASSIGNMENT_ITEM_KEYS,
            &["service", "contract", "client", "deleted_at"]
        )
    );
    assert_eq!(r.json["status"], "Ongoing");
    assert_eq!(r.json["frequency"], "Monthly");
    assert_eq!(r.json["service"]["name"], "One-to-one");
    assert_eq!(r.json["client"], json!({"id": acme, "name": "Acme"}));
    assert_eq!(r.json["contract"]["id"], acme_contract.as_str());
    let ongoing = id_of(&r.json);
    let r = post(
        &app,
        &admin,
        "/api/services/assignments/",
        json!({"service_id": service, "client_id": beta, "start_date": today}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["status"], "Pending");
    let pending = id_of(&r.json);
    let r = app
        .patch(&format!("/api/services/assignments/{pending}/"))
        .bearer(&admin.access)
        .json(&json!({"contract_id": acme_contract}))
        .send()
        .await;
    assert_field_error(
        &r,
        "contract_id",
        Some("Contract does not belong to specified client"),
    );
    let r = app
        .get("/api/services/assignments/current/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["id"], ongoing.as_str());
    assert_eq!(keys(&r.json[0]), sorted(ASSIGNMENT_ITEM_KEYS));
    let r = app
        .get(&format!("/api/services/assignments/client/{beta}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json[0]["id"], pending.as_str());
    let r = app
        .get(&format!(
            "/api/services/assignments/search/?status=Pending&service_id={service}"
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    // Scoped users read their granted clients' assignments only.
    let reader = app.scoped(&admin).await;
    app.grant(&admin, &reader.id, &acme).await;
    let r = app
        .get("/api/services/assignments/")
        .bearer(&reader.access)
        .send()
        .await;
    assert_page(&r.json, 1);
    let r = app
        .get(&format!("/api/services/assignments/{pending}/"))
        .bearer(&reader.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Service assignment not found");
    let r = app
        .get(&format!("/api/services/assignments/client/{beta}/"))
        .bearer(&reader.access)
        .send()
        .await;
    r.assert_status(404);
    let r = app
        .patch(&format!("/api/services/assignments/{ongoing}/"))
        .bearer(&reader.access)
        .json(&json!({"status": "Completed"}))
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .get("/api/services/assignments/")
        .bearer(&admin.access)
        .header("x-client-id", &beta)
        .send()
        .await;
    assert_page(&r.json, 1);
    assert_eq!(r.json["results"][0]["id"], pending.as_str());
    app.delete(&format!("/api/services/assignments/{ongoing}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let types: Vec<String> = app
        .entity_changes_of("ServiceAssignment", &ongoing)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(types, vec!["Create", "Delete"]);
});

db_test!(sessions_and_feedback_are_platform_only, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let reader = app.scoped(&admin).await;
    app.grant(&admin, &reader.id, &acme).await;
    let hr = app.user(&admin, "hr@acme.test", &["hr_manager"]).await;
    app.grant(&admin, &hr.id, &acme).await;
    let id = "zzzzzzzzzzzzzzzzzzzzzzzzz";
    for actor in [&reader, &hr] {
        for path in [
            "/api/services/sessions/".to_owned(),
            "/api/services/sessions/upcoming/".to_owned(),
            "/api/services/sessions/search/".to_owned(),
            format!("/api/services/sessions/{id}/"),
            format!("/api/services/sessions/person/{id}/"),
            "/api/services/feedback/".to_owned(),
            "/api/services/feedback/search/".to_owned(),
            format!("/api/services/feedback/{id}/"),
            format!("/api/services/feedback/provider-rating/{id}/"),
            format!("/api/services/feedback/service-rating/{id}/"),
        ] {
            let r = app.get(&path).bearer(&actor.access).send().await;
            assert_error(
                &r,
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
            );
        }
        for path in [
            "/api/services/sessions/".to_owned(),
            format!("/api/services/sessions/{id}/"),
            format!("/api/services/sessions/{id}/complete/"),
            format!("/api/services/sessions/{id}/cancel/"),
            format!("/api/services/sessions/{id}/reschedule/"),
            "/api/services/feedback/".to_owned(),
        ] {
            let r = post(&app, actor, &path, json!({})).await;
            r.assert_status(403);
        }
        let r = app
            .delete(&format!("/api/services/sessions/{id}/"))
            .bearer(&actor.access)
            .send()
            .await;
        r.assert_status(403);
    }
    let r = app.get("/api/services/sessions/").send().await;
    r.assert_status(401);
    let r = app.get("/api/services/feedback/").send().await;
    r.assert_status(401);
});

db_test!(sessions_their_refusals_and_guards, |app| {
    let admin = app.superuser().await;
    let (category, service, provider) = catalogue(&app, &admin).await;
    let acme = app.client("Acme").await;
    let emp = employee(&app, &admin, &acme, "Thabo Nkosi", "thabo@acme.test").await;
    let person = id_of(&emp);
    let body = |person: &str, service: &str, provider: &str| json!({"person_id": person, "service_id": service, "provider_id": provider, "scheduled_at": future(2)});
    // Refusals: an ineligible person, an unavailable service or provider.
    post(
        &app,
        &admin,
        &format!("/api/persons/{person}/deactivate/"),
        json!({}),
    )
    .await
    .assert_status(200);
    let idle = made(
        &app,
        &admin,
        "/api/services/services/",
        json!({"name": "Paused", "category_id": category, "status": "Inactive"}),
    )
    .await;
    let unverified = made(
        &app,
        &admin,
        "/api/services/providers/",
        json!({"name": "New"}),
    )
    .await;
    let r = post(
        &app,
        &admin,
        "/api/services/sessions/",
        body(&person, &id_of(&idle), &id_of(&unverified)),
    )
    .await;
    assert_field_error(
        &r,
        "person_id",
        Some("Thabo Nkosi is not currently eligible for EAP services."),
    );
    assert_field_error(&r, "service_id", Some("Service is not available"));
    assert_field_error(&r, "provider_id", Some("Provider is not available"));
    let r = post(&app, &admin, "/api/services/sessions/", json!({})).await;
    for field in ["person_id", "service_id", "provider_id", "scheduled_at"] {
        assert_field_error(&r, field, Some("This field is required."));
    }
    post(
        &app,
        &admin,
        &format!("/api/persons/{person}/activate/"),
        json!({}),
    )
    .await
    .assert_status(200);
    post(
        &app,
        &admin,
        &format!("/api/persons/{person}/update-employment-status/"),
        json!({"employment_status": "Active"}),
    )
    .await
    .assert_status(200);
    // Scheduled.
    let r = post(
        &app,
        &admin,
        "/api/services/sessions/",
        body(&person, &service, &provider),
    )
    .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), with(SESSION_ITEM_KEYS, SESSION_EXTRA_KEYS));
    assert_eq!(r.json["status"], "Scheduled");
    assert_eq!(
        r.json["person"],
        json!({"id": person, "full_name": "Thabo Nkosi", "person_type": "ClientEmployee"})
    );
    assert_eq!(r.json["provider"]["type"], "Counselor");
    assert_eq!(r.json["reschedule_count"], 0);
    assert_eq!(r.json["feedback_count"], 0);
    assert_eq!(r.json["average_rating"], Value::Null);
    let session = id_of(&r.json);
    // PATCH (and its POST alias) ignore status.
    let r = app
        .patch(&format!("/api/services/sessions/{session}/"))
        .bearer(&admin.access)
        .json(&json!({"status": "Completed", "location": "Room 4"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Scheduled");
    assert_eq!(r.json["location"], "Room 4");
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{session}/"),
        json!({"notes": "Bring forms", "status": "Canceled"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["notes"], "Bring forms");
    assert_eq!(r.json["status"], "Scheduled");
    // Lists and queries.
    let r = app
        .get("/api/services/sessions/upcoming/?days=3")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(keys(&r.json[0]), sorted(SESSION_ITEM_KEYS));
    let r = app
        .get("/api/services/sessions/upcoming/?days=1")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json, json!([]));
    let r = app
        .get("/api/services/sessions/upcoming/?days=abc")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get(&format!("/api/services/sessions/person/{person}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/api/services/sessions/search/?person_id={person}&status=scheduled&date_from=2020-01-01"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/sessions/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_page(&r.json, 1);
    // Reschedule: in the future only; counted and kept.
    let path = format!("/api/services/sessions/{session}/reschedule/");
    let r = post(&app, &admin, &path, json!({})).await;
    assert_field_error(&r, "scheduled_at", Some("This field is required."));
    let r = post(
        &app,
        &admin,
        &path,
        json!({"scheduled_at": "2020-01-01T09:00:00Z"}),
    )
    .await;
    assert_field_error(
        &r,
        "scheduled_at",
        Some("Scheduled time must be in the future."),
    );
    let r = post(&app, &admin, &path, json!({"scheduled_at": future(5)})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Rescheduled");
    assert_eq!(r.json["reschedule_count"], 1);
    assert_eq!(
        r.json["metadata"]["reschedules"].as_array().unwrap().len(),
        1
    );
    // Complete: the person's last service date is today.
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{session}/complete/"),
        json!({"duration": 45, "feedback": "Went well"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Completed");
    assert!(r.json["completed_at"].is_string());
    assert_eq!(r.json["duration"], 45);
    let today = chrono::Utc::now().date_naive().to_string();
    let p = person::Entity::find_by_id(person.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.last_service_date.map(|d| d.to_string()),
        Some(today.clone())
    );
    let r = app
        .get(&format!("/api/persons/{person}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["last_service_date"], today.as_str());
    assert_eq!(r.json["total_sessions"], 1);
    for (verb, body) in [
        ("complete", json!({})),
        ("cancel", json!({"reason": "x"})),
        ("reschedule", json!({"scheduled_at": future(3)})),
    ] {
        let r = post(
            &app,
            &admin,
            &format!("/api/services/sessions/{session}/{verb}/"),
            body,
        )
        .await;
        assert_error(
            &r,
            400,
            "invalid_state",
            &format!("Cannot {verb} a session that is Completed"),
        );
    }
    // Cancel needs a reason.
    let r = post(
        &app,
        &admin,
        "/api/services/sessions/",
        body(&person, &service, &provider),
    )
    .await;
    let other = id_of(&r.json);
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{other}/cancel/"),
        json!({}),
    )
    .await;
    assert_field_error(&r, "reason", Some("This field is required."));
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{other}/cancel/"),
        json!({"reason": "Ill"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Canceled");
    assert_eq!(r.json["cancellation_reason"], "Ill");
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{other}/complete/"),
        json!({}),
    )
    .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Cannot complete a session that is Canceled",
    );
    // Feedback: completed sessions only.
    let r = post(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session_id": other, "rating": 4}),
    )
    .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Feedback can only be given for completed sessions",
    );
    let r = post(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session_id": session, "rating": 6}),
    )
    .await;
    assert_field_error(&r, "rating", None);
    let r = post(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session": session, "rating": 4, "comments": "Helpful"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(keys(&r.json), sorted(FEEDBACK_KEYS));
    assert_eq!(r.json["comment"], "Helpful");
    assert_eq!(r.json["submitted_by"], admin.id.as_str());
    assert_eq!(r.json["submitted_by_email"], "root@axis.example");
    made(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session_id": session, "rating": 5}),
    )
    .await;
    let r = app
        .get(&format!(
            "/api/services/feedback/provider-rating/{provider}/"
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"provider_id": provider, "average_rating": 4.5, "total_feedback": 2})
    );
    let r = app
        .get(&format!("/api/services/feedback/service-rating/{service}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"service_id": service, "average_rating": 4.5, "total_feedback": 2})
    );
    let r = app
        .get(&format!(
            "/api/services/feedback/service-rating/{}/",
            id_of(&idle)
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["average_rating"], Value::Null);
    let r = app
        .get("/api/services/feedback/search/?min_rating=5")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get("/api/services/feedback/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_page(&r.json, 2);
    let r = app
        .get(&format!("/api/services/sessions/{session}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["feedback_count"], 2);
    assert_eq!(r.json["average_rating"], 4.5);
    let r = app
        .get(&format!("/api/services/providers/{provider}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["sessions_count"], 2);
    // Narrowed to X-Client-ID.
    let beta = app.client("Beta").await;
    let r = app
        .get("/api/services/sessions/")
        .bearer(&admin.access)
        .header("x-client-id", &beta)
        .send()
        .await;
    assert_page(&r.json, 0);
    let r = app
        .get("/api/services/feedback/")
        .bearer(&admin.access)
        .header("x-client-id", &acme)
        .send()
        .await;
    assert_page(&r.json, 2);
    // The trail: session actions and the person's last service date.
    let types: Vec<String> = app
        .entity_changes_of("ServiceSession", &session)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(
        types,
        vec!["Create", "Update", "Update", "Update", "Update"]
    );
    let person_changes = app.entity_changes_of("Person", &person).await;
    let last = person_changes.last().unwrap();
    let fields: Vec<String> = app
        .field_changes_of(&last.id)
        .await
        .into_iter()
        .map(|f| f.field_name)
        .collect();
    assert_eq!(fields, vec!["last_service_date".to_owned()]);
});

db_test!(done_when_a_counsellor_holds_a_rated_session, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme").await;
    let emp = employee(&app, &admin, &acme, "Thabo Nkosi", "thabo@acme.test").await;
    let dep = dependent(
        &app,
        &admin,
        &id_of(&emp),
        json!({"full_name": "Zanele Nkosi", "relationship_to_employee": "Spouse"}),
    )
    .await;
    assert_eq!(emp["is_eligible"], true);
    assert_eq!(dep["is_eligible"], true);
    let (category, service, provider) = catalogue(&app, &admin).await;
    let session = made(
        &app,
        &admin,
        "/api/services/sessions/",
        json!({"person_id": id_of(&dep), "service_id": service, "provider_id": provider, "scheduled_at": future(1)}),
    )
    .await;
    let r = post(
        &app,
        &admin,
        &format!("/api/services/sessions/{}/complete/", id_of(&session)),
        json!({"notes": "Intake done"}),
    )
    .await;
    r.assert_status(200);
    let feedback = made(
        &app,
        &admin,
        "/api/services/feedback/",
        json!({"session_id": id_of(&session), "rating": 5}),
    )
    .await;
    for (kind, id) in [
        ("Person", id_of(&emp)),
        ("Person", id_of(&dep)),
        ("ServiceCategory", category),
        ("Service", service),
        ("ServiceProvider", provider),
        ("ServiceSession", id_of(&session)),
        ("SessionFeedback", id_of(&feedback)),
    ] {
        let logs = app.audit_logs_of(kind, &id).await;
        assert!(!logs.is_empty(), "no audit log for {kind} {id}");
        let changes = app.entity_changes_of(kind, &id).await;
        assert!(!changes.is_empty(), "no entity change for {kind} {id}");
        assert_eq!(changes[0].change_type, "Create");
        for change in &changes {
            assert!(
                !app.field_changes_of(&change.id).await.is_empty(),
                "no field changes for {kind} {id} {}",
                change.change_type
            );
        }
    }
    let r = app
        .get(&format!(
            "/api/audit-logs/?entity_type=SessionFeedback&entity_id={}",
            id_of(&feedback)
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_page(&r.json, 1);
});
