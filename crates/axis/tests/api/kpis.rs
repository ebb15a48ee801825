//! KPIs (axis contract §10): KPI types, KPIs with their visibility rules,
//! KPI assignments with their state machine and measurements, scoping and
//! `X-Client-ID` (§3), the audit trail (§11); and the "done when" slice of
//! contracts and KPIs end to end.

use crate::clients::read;
use crate::common::*;
use crate::contracts::{day, running};

const TYPE_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "weight",
    "metadata",
    "kpi_count",
    "created_at",
    "updated_at",
    "deleted_at",
];

const KPI_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "type_id",
    "type_name",
    "unit",
    "unit_type",
    "target_value",
    "calculation_method",
    "frequency",
    "is_public",
    "client_id",
    "client_name",
    "contract_id",
    "metadata",
    "created_at",
    "updated_at",
    "deleted_at",
];

const ASSIGNMENT_KEYS: &[&str] = &[
    "id",
    "kpi_id",
    "kpi_name",
    "client_id",
    "client_name",
    "contract_id",
    "contract_number",
    "target_value",
    "effective_target",
    "frequency",
    "status",
    "start_date",
    "end_date",
    "notes",
    "metadata",
    "measurements",
    "created_at",
    "updated_at",
    "deleted_at",
];

const DENIED: &str = "You do not have permission to perform this action.";

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

async fn created(app: &TestApp, actor: &Actor, path: &str, body: Value) -> Value {
    let r = post(app, actor, path, body).await;
    r.assert_status(201);
    r.json
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(body: &Value) -> Vec<String> {
    let rows = if body.is_array() {
        body
    } else {
        &body["results"]
    };
    let mut ids: Vec<String> = rows
        .as_array()
        .unwrap_or_else(|| panic!("rows in {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

db_test!(kpi_types_crud_uniqueness_and_roles, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let t = created(
        &app,
        &admin,
        "/api/kpi-types/",
        json!({"name": "Utilization", "description": "Use of services", "weight": 3}),
    )
    .await;
    assert_eq!(keys(&t), sorted(TYPE_KEYS));
    assert_eq!(t["kpi_count"], 0);
    assert_eq!(t["weight"], 3);
    assert_eq!(t["metadata"], json!({}));
    let id = id_of(&t);
    // Unique, case-insensitively, among live types.
    let r = post(
        &app,
        &admin,
        "/api/kpi-types/",
        json!({"name": "UTILIZATION"}),
    )
    .await;
    assert_field_error(
        &r,
        "name",
        Some("A KPI type with this name already exists."),
    );
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "W", "weight": -1}), "weight"),
        (json!({"name": "W", "weight": "heavy"}), "weight"),
        (json!({"name": "W", "metadata": "x"}), "metadata"),
    ] {
        let r = post(&app, &admin, "/api/kpi-types/", body).await;
        assert_field_error(&r, field, None);
    }
    // Everyone reads; only platform users write.
    let page = read(&app, &scoped, "/api/kpi-types/").await;
    assert_page(&page, 1);
    read(&app, &scoped, &format!("/api/kpi-types/{id}/")).await;
    let r = post(&app, &scoped, "/api/kpi-types/", json!({"name": "Mine"})).await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = app
        .patch(&format!("/api/kpi-types/{id}/"))
        .bearer(&scoped.access)
        .json(&json!({"name": "X"}))
        .send()
        .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = app
        .patch(&format!("/api/kpi-types/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"weight": null, "description": "Sessions used"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["weight"], Value::Null);
    // kpi_count counts live KPIs of the type.
    created(
        &app,
        &admin,
        "/api/kpis/",
        json!({"name": "Uptake", "type_id": id, "unit": "%", "unit_type": "Percentage"}),
    )
    .await;
    let t = read(&app, &admin, &format!("/api/kpi-types/{id}/")).await;
    assert_eq!(t["kpi_count"], 1);
    // Delete frees the name; restore; the trail says KPIType.
    app.delete(&format!("/api/kpi-types/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .get(&format!("/api/kpi-types/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "KPI type not found");
    let r = post(
        &app,
        &admin,
        &format!("/api/kpi-types/{id}/restore/"),
        json!({}),
    )
    .await;
    r.assert_status(200);
    let changes = app.entity_changes_of("KPIType", &id).await;
    let kinds: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(kinds, vec!["Create", "Update", "Delete", "Restore"]);
    let r = app.get("/api/kpi-types/").send().await;
    r.assert_status(401);
});

db_test!(kpis_visibility_and_validation, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let mine = app.client("Mine").await;
    let theirs = app.client("Theirs").await;
    app.grant(&admin, &scoped.id, &mine).await;
    let contract = running(&app, &admin, &mine).await;
    let foreign_contract = running(&app, &admin, &theirs).await;
    let t = id_of(&created(&app, &admin, "/api/kpi-types/", json!({"name": "Quality"})).await);
    let base = |extra: Value| {
        let mut body =
            json!({"name": "Satisfaction", "type_id": t, "unit": "points", "unit_type": "SCORE"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let global = created(
        &app,
        &admin,
        "/api/kpis/",
        base(json!({"target_value": "4.5"})),
    )
    .await;
    assert_eq!(keys(&global), sorted(KPI_KEYS));
    assert_eq!(global["is_public"], true);
    assert_eq!(global["unit_type"], "Score");
    assert_eq!(global["type_name"], "Quality");
    assert_eq!(global["client_id"], Value::Null);
    assert_eq!(global["client_name"], Value::Null);
    assert_eq!(global["frequency"], Value::Null);
    let global = id_of(&global);
    // A contract alone sets the client.
    let own = created(
        &app,
        &admin,
        "/api/kpis/",
        base(json!({"contract_id": contract, "frequency": "monthly"})),
    )
    .await;
    assert_eq!(own["client_id"], mine);
    assert_eq!(own["client_name"], "Mine");
    assert_eq!(own["frequency"], "Monthly");
    let own = id_of(&own);
    let private = id_of(
        &created(
            &app,
            &admin,
            "/api/kpis/",
            base(json!({"client_id": mine, "is_public": false})),
        )
        .await,
    );
    let foreign =
        id_of(&created(&app, &admin, "/api/kpis/", base(json!({"client": theirs}))).await);
    let private_global = id_of(
        &created(
            &app,
            &admin,
            "/api/kpis/",
            base(json!({"is_public": false})),
        )
        .await,
    );

    // Validation.
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"unit_type": null}),
            "unit_type",
            Some("This field may not be null."),
        ),
        (
            json!({"unit_type": "Ratio"}),
            "unit_type",
            Some("\"Ratio\" is not a valid choice."),
        ),
        (
            json!({"frequency": "Daily"}),
            "frequency",
            Some("\"Daily\" is not a valid choice."),
        ),
        (json!({"unit": ""}), "unit", None),
        (
            json!({"type_id": "c00000000000000000000000x"}),
            "type_id",
            Some("Invalid pk \"c00000000000000000000000x\" - object does not exist."),
        ),
        (
            json!({"client_id": mine, "contract_id": foreign_contract}),
            "contract_id",
            Some("Contract does not belong to this client"),
        ),
        (json!({"is_public": "yes"}), "is_public", None),
    ];
    for (extra, field, message) in cases {
        let r = post(&app, &admin, "/api/kpis/", base(extra)).await;
        assert_field_error(&r, field, message);
    }
    let r = post(&app, &admin, "/api/kpis/", json!({})).await;
    for field in ["name", "type_id", "unit", "unit_type"] {
        assert_field_error(&r, field, Some("This field is required."));
    }

    // What each caller sees.
    let all = read(&app, &admin, "/api/kpis/").await;
    assert_page(&all, 5);
    let page = read(&app, &scoped, "/api/kpis/").await;
    assert_eq!(ids(&page), sorted(&[&global, &own]));
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpis/public/").await),
        sorted(&[&global, &own])
    );
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpis/global_kpis/").await),
        sorted(&[&global])
    );
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpis/global_kpis/").await),
        sorted(&[&global, &private_global])
    );
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpis/public/").await),
        sorted(&[&global, &own, &foreign])
    );
    for hidden in [&private, &foreign, &private_global] {
        let r = app
            .get(&format!("/api/kpis/{hidden}/"))
            .bearer(&scoped.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "KPI not found");
    }
    // Filters.
    assert_eq!(
        ids(&read(&app, &admin, &format!("/api/kpis/?client_id={mine}")).await),
        sorted(&[&own, &private])
    );
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpis/?is_public=false").await),
        sorted(&[&private, &private_global])
    );
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpis/?frequency=Monthly").await),
        sorted(&[&own])
    );
    let r = app
        .get("/api/kpis/?unit_type=Ratio")
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "unit_type", None);
    // X-Client-ID: that client's KPIs and the global ones.
    let r = app
        .get("/api/kpis/")
        .bearer(&admin.access)
        .header("X-Client-ID", &theirs)
        .send()
        .await;
    assert_eq!(ids(&r.json), sorted(&[&global, &foreign, &private_global]));
    let r = app
        .get("/api/kpis/")
        .bearer(&scoped.access)
        .header("X-Client-ID", &theirs)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );

    // Writes are the platform's: 403 on what scoped users see.
    let r = post(&app, &scoped, "/api/kpis/", base(json!({}))).await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = post(
        &app,
        &scoped,
        &format!("/api/kpis/{own}/toggle_visibility/"),
        json!({}),
    )
    .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = app
        .delete(&format!("/api/kpis/{global}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = post(
        &app,
        &scoped,
        &format!("/api/kpis/{private}/toggle_visibility/"),
        json!({}),
    )
    .await;
    assert_error(&r, 404, "not_found", "KPI not found");

    // toggle_visibility flips, audited as a KPI update.
    let r = post(
        &app,
        &admin,
        &format!("/api/kpis/{own}/toggle_visibility/"),
        json!({}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["is_public"], false);
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpis/").await),
        sorted(&[&global])
    );
    let r = post(
        &app,
        &admin,
        &format!("/api/kpis/{own}/toggle_visibility/"),
        json!({}),
    )
    .await;
    assert_eq!(r.json["is_public"], true);
    let changes = app.entity_changes_of("KPI", &own).await;
    let last = changes.last().unwrap();
    let fields = app.field_changes_of(&last.id).await;
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field_name, "is_public");
    assert_eq!(fields[0].old_value, Some(json!(false)));
    assert_eq!(fields[0].new_value, Some(json!(true)));
    // Updates: moving the client away from the contract is refused.
    let r = app
        .patch(&format!("/api/kpis/{own}/"))
        .bearer(&admin.access)
        .json(&json!({"client_id": theirs}))
        .send()
        .await;
    assert_field_error(
        &r,
        "contract_id",
        Some("Contract does not belong to this client"),
    );
    let r = app
        .patch(&format!("/api/kpis/{own}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Satisfaction score", "contract_id": null}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["contract_id"], Value::Null);
    assert_eq!(r.json["client_id"], mine);
    // Delete and restore.
    app.delete(&format!("/api/kpis/{own}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpis/").await),
        sorted(&[&global])
    );
    post(
        &app,
        &admin,
        &format!("/api/kpis/{own}/restore/"),
        json!({}),
    )
    .await
    .assert_status(200);
    let kinds: Vec<String> = app
        .entity_changes_of("KPI", &own)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(
        kinds,
        vec!["Create", "Update", "Update", "Update", "Delete", "Restore"]
    );
});

/// A client with a running contract and a KPI: (client, contract, kpi).
async fn setup(app: &TestApp, admin: &Actor, name: &str) -> (String, String, String) {
    let client = app.client(name).await;
    let contract = running(app, admin, &client).await;
    let t = created(
        app,
        admin,
        "/api/kpi-types/",
        json!({"name": format!("{name} type")}),
    )
    .await;
    let kpi = created(
        app,
        admin,
        "/api/kpis/",
        json!({"name": format!("{name} uptake"), "type_id": t["id"], "unit": "%",
               "unit_type": "Percentage", "target_value": "80"}),
    )
    .await;
    (client, contract, id_of(&kpi))
}

db_test!(kpi_assignments_state_machine_and_measurements, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let (client, contract, kpi) = setup(&app, &admin, "Acme").await;
    let (other_client, other_contract, _) = setup(&app, &admin, "Beta").await;
    let body = json!({"kpi_id": kpi, "client_id": client, "contract_id": contract,
                      "frequency": "QUARTERLY", "start_date": day(-1)});
    let a = created(&app, &manager, "/api/kpi-assignments/", body.clone()).await;
    assert_eq!(keys(&a), sorted(ASSIGNMENT_KEYS));
    assert_eq!(a["status"], "Pending");
    assert_eq!(a["frequency"], "Quarterly");
    assert_eq!(a["kpi_name"], "Acme uptake");
    assert_eq!(a["client_name"], "Acme");
    assert!(a["contract_number"].as_str().unwrap().starts_with("CTR-"));
    assert_eq!(a["target_value"], Value::Null);
    assert_eq!(a["effective_target"], "80");
    assert_eq!(a["measurements"], json!([]));
    let id = id_of(&a);
    let at = |action: &str| format!("/api/kpi-assignments/{id}/{action}/");

    // Validation.
    let with = |extra: Value| {
        let mut b = body.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"contract_id": other_contract}),
            "contract_id",
            Some("Contract does not belong to this client"),
        ),
        (
            json!({"kpi_id": "c00000000000000000000000x"}),
            "kpi_id",
            Some("Invalid pk \"c00000000000000000000000x\" - object does not exist."),
        ),
        (
            json!({"frequency": null}),
            "frequency",
            Some("This field may not be null."),
        ),
        (
            json!({"frequency": "Hourly"}),
            "frequency",
            Some("\"Hourly\" is not a valid choice."),
        ),
        (
            json!({"status": "Done"}),
            "status",
            Some("\"Done\" is not a valid choice."),
        ),
        (
            json!({"end_date": day(-2)}),
            "end_date",
            Some("End date must be on or after start date"),
        ),
        (
            json!({"start_date": "yesterday"}),
            "start_date",
            Some("Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ),
    ];
    for (extra, field, message) in cases {
        let r = post(&app, &admin, "/api/kpi-assignments/", with(extra)).await;
        assert_field_error(&r, field, message);
    }
    let r = post(&app, &admin, "/api/kpi-assignments/", json!({})).await;
    for field in [
        "kpi_id",
        "client_id",
        "contract_id",
        "frequency",
        "start_date",
    ] {
        assert_field_error(&r, field, Some("This field is required."));
    }
    // Immutables: the KPI, client and contract stay; the rest changes.
    for (field, value) in [
        ("kpi_id", json!("c00000000000000000000000x")),
        ("client_id", json!(other_client)),
        ("contract_id", json!(other_contract)),
    ] {
        let r = app
            .patch(&format!("/api/kpi-assignments/{id}/"))
            .bearer(&admin.access)
            .json(&json!({field: value}))
            .send()
            .await;
        assert_field_error(
            &r,
            field,
            Some("This field cannot be changed after creation."),
        );
    }
    let r = app
        .patch(&format!("/api/kpi-assignments/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"kpi_id": kpi, "target_value": "90", "status": "Completed", "notes": "Q1"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Pending");
    assert_eq!(r.json["effective_target"], "90");

    let refused = |r: &kernel::testing::TestResponse, text: &str| {
        assert_error(r, 400, "invalid_state", text);
    };
    // Pending: no pause, complete or measurement.
    refused(
        &post(&app, &admin, &at("pause"), json!({})).await,
        "KPI assignment is already Pending",
    );
    refused(
        &post(&app, &admin, &at("complete"), json!({})).await,
        "Cannot complete a KPI assignment that is Pending",
    );
    refused(
        &post(&app, &admin, &at("record_measurement"), json!({"value": 1})).await,
        "Cannot record a measurement on a KPI assignment that is Pending",
    );
    let r = post(&app, &admin, &at("activate"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Ongoing");
    refused(
        &post(&app, &admin, &at("activate"), json!({})).await,
        "KPI assignment is already Ongoing",
    );
    // Measurements while Ongoing.
    for (body, field) in [
        (json!({}), "value"),
        (json!({"value": null}), "value"),
        (json!({"value": "high"}), "value"),
    ] {
        let r = post(&app, &admin, &at("record_measurement"), body).await;
        assert_field_error(&r, field, None);
    }
    let r = post(
        &app,
        &manager,
        &at("record_measurement"),
        json!({"value": 72.5, "period": "2026-Q1", "notes": "Good start"}),
    )
    .await;
    r.assert_status(200);
    let m = &r.json["measurements"][0];
    assert_eq!(m["value"], 72.5);
    assert_eq!(m["period"], "2026-Q1");
    assert_eq!(m["notes"], "Good start");
    assert_eq!(m["recorded_by"], manager.id);
    assert!(m["recorded_at"].as_str().unwrap().ends_with('Z'));
    let r = post(
        &app,
        &admin,
        &at("record_measurement"),
        json!({"value": 80}),
    )
    .await;
    assert_eq!(r.json["measurements"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["measurements"][1]["value"], 80);
    assert_eq!(r.json["measurements"][1]["period"], Value::Null);
    assert_eq!(r.json["metadata"]["measurements"], r.json["measurements"]);
    // active/ lists Ongoing ones.
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpi-assignments/active/").await),
        vec![id.clone()]
    );
    // Pause, resume, complete (end date today), then nothing moves.
    let r = post(&app, &admin, &at("pause"), json!({})).await;
    assert_eq!(r.json["status"], "Pending");
    assert_eq!(
        read(&app, &admin, "/api/kpi-assignments/active/").await,
        json!([])
    );
    post(&app, &admin, &at("activate"), json!({}))
        .await
        .assert_status(200);
    let r = post(&app, &admin, &at("complete"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Completed");
    assert_eq!(r.json["end_date"], day(0));
    refused(
        &post(&app, &admin, &at("cancel"), json!({})).await,
        "Cannot cancel a KPI assignment that is Completed",
    );
    refused(
        &post(&app, &admin, &at("activate"), json!({})).await,
        "Cannot activate a KPI assignment that is Completed",
    );
    refused(
        &post(&app, &admin, &at("complete"), json!({})).await,
        "KPI assignment is already Completed",
    );
    // Cancel from Pending and from Ongoing.
    let b = id_of(&created(&app, &admin, "/api/kpi-assignments/", body.clone()).await);
    let r = post(
        &app,
        &admin,
        &format!("/api/kpi-assignments/{b}/cancel/"),
        json!({}),
    )
    .await;
    assert_eq!(r.json["status"], "Cancelled");
    refused(
        &post(
            &app,
            &admin,
            &format!("/api/kpi-assignments/{b}/pause/"),
            json!({}),
        )
        .await,
        "Cannot pause a KPI assignment that is Cancelled",
    );
    let c = id_of(
        &created(
            &app,
            &admin,
            "/api/kpi-assignments/",
            with(json!({"status": "Ongoing"})),
        )
        .await,
    );
    let r = post(
        &app,
        &admin,
        &format!("/api/kpi-assignments/{c}/cancel/"),
        json!({}),
    )
    .await;
    assert_eq!(r.json["status"], "Cancelled");

    // Filters.
    let page = read(&app, &admin, &format!("/api/kpi-assignments/?kpi_id={kpi}")).await;
    assert_page(&page, 3);
    assert_eq!(
        ids(&read(&app, &admin, "/api/kpi-assignments/?status=cancelled").await),
        sorted(&[&b, &c])
    );
    assert_eq!(
        ids(&read(
            &app,
            &admin,
            &format!("/api/kpi-assignments/?contract_id={other_contract}")
        )
        .await),
        Vec::<String>::new()
    );
    let r = app
        .get("/api/kpi-assignments/?status=Done")
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "status", None);

    // The trail: KPIAssignment, Activate for activate.
    let kinds: Vec<String> = app
        .entity_changes_of("KPIAssignment", &id)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "Create", "Update", "Activate", "Update", "Update", "Update", "Activate", "Update"
        ]
    );
    // Delete and restore.
    app.delete(&format!("/api/kpi-assignments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .get(&format!("/api/kpi-assignments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "KPI assignment not found");
    post(
        &app,
        &admin,
        &format!("/api/kpi-assignments/{id}/restore/"),
        json!({}),
    )
    .await
    .assert_status(200);
});

db_test!(kpi_assignments_are_scoped, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let (mine, my_contract, kpi) = setup(&app, &admin, "Mine").await;
    let (theirs, their_contract, _) = setup(&app, &admin, "Theirs").await;
    app.grant(&admin, &scoped.id, &mine).await;
    let own = id_of(
        &created(
            &app,
            &admin,
            "/api/kpi-assignments/",
            json!({"kpi": kpi, "client": mine, "contract": my_contract, "frequency": "Monthly",
                   "start_date": day(0), "status": "Ongoing"}),
        )
        .await,
    );
    let foreign = id_of(
        &created(
            &app,
            &admin,
            "/api/kpi-assignments/",
            json!({"kpi_id": kpi, "client_id": theirs, "contract_id": their_contract,
                   "frequency": "Monthly", "start_date": day(0), "status": "Ongoing"}),
        )
        .await,
    );
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpi-assignments/").await),
        vec![own.clone()]
    );
    assert_eq!(
        ids(&read(&app, &scoped, "/api/kpi-assignments/active/").await),
        vec![own.clone()]
    );
    read(&app, &scoped, &format!("/api/kpi-assignments/{own}/")).await;
    let r = app
        .get(&format!("/api/kpi-assignments/{foreign}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "KPI assignment not found");
    let r = post(
        &app,
        &scoped,
        &format!("/api/kpi-assignments/{own}/record_measurement/"),
        json!({"value": 1}),
    )
    .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = post(
        &app,
        &scoped,
        &format!("/api/kpi-assignments/{own}/pause/"),
        json!({}),
    )
    .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    let r = post(
        &app,
        &scoped,
        &format!("/api/kpi-assignments/{foreign}/pause/"),
        json!({}),
    )
    .await;
    assert_error(&r, 404, "not_found", "KPI assignment not found");
    let r = post(
        &app,
        &scoped,
        "/api/kpi-assignments/",
        json!({"kpi_id": kpi, "client_id": mine, "contract_id": my_contract, "frequency": "Monthly",
               "start_date": day(0)}),
    )
    .await;
    assert_error(&r, 403, "permission_denied", DENIED);
    // X-Client-ID narrows the platform's lists.
    let r = app
        .get("/api/kpi-assignments/")
        .bearer(&admin.access)
        .header("X-Client-ID", &theirs)
        .send()
        .await;
    assert_eq!(ids(&r.json), vec![foreign.clone()]);
    let r = app
        .get("/api/kpi-assignments/active/")
        .bearer(&scoped.access)
        .header("X-Client-ID", &theirs)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
});

db_test!(done_when_contract_renewed_paid_and_kpi_measured, |app| {
    // A client's contract is created, renewed and paid; a KPI is assigned
    // and measured; every change is in the field-level audit trail.
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let client = crate::clients::create_id(
        &app,
        &admin,
        json!({"name": "Ubuntu Bank", "email": "ops@ubuntu.example", "status": "Active"}),
    )
    .await;
    let contract = crate::contracts::create(
        &app,
        &manager,
        json!({"client_id": client, "start_date": day(-30), "end_date": day(335),
               "billing_amount": "12000", "billing_frequency": "Quarterly"}),
    )
    .await;
    assert_eq!(contract["title"], "Ubuntu Bank contract");
    let c = id_of(&contract);
    let act = |path: String, body: Value| {
        let app = &app;
        let manager = &manager;
        async move {
            let r = post(app, manager, &path, body).await;
            r.assert_status(200);
            r.json
        }
    };
    act(format!("/api/contracts/{c}/activate/"), json!({})).await;
    let renewed = act(
        format!("/api/contracts/{c}/renew/"),
        json!({"new_end_date": day(700), "new_billing_rate": "13000"}),
    )
    .await;
    assert_eq!(renewed["status"], "Renewed");
    let paid = act(format!("/api/contracts/{c}/mark_paid/"), json!({})).await;
    assert_eq!(paid["payment_status"], "Paid");
    assert_eq!(paid["last_billing_date"], day(0));
    let stats = read(&app, &admin, &format!("/api/clients/{client}/stats/")).await;
    assert_eq!(stats["active_contracts"], 1);

    let t = created(
        &app,
        &admin,
        "/api/kpi-types/",
        json!({"name": "Engagement"}),
    )
    .await;
    let kpi = created(
        &app,
        &admin,
        "/api/kpis/",
        json!({"name": "Sessions per month", "type_id": t["id"], "unit": "sessions",
               "unit_type": "Count", "target_value": "40", "contract_id": c}),
    )
    .await;
    assert_eq!(kpi["client_id"], client);
    let assignment = created(
        &app,
        &manager,
        "/api/kpi-assignments/",
        json!({"kpi_id": kpi["id"], "client_id": client, "contract_id": c, "frequency": "Monthly",
               "start_date": day(0)}),
    )
    .await;
    let a = id_of(&assignment);
    act(format!("/api/kpi-assignments/{a}/activate/"), json!({})).await;
    let measured = act(
        format!("/api/kpi-assignments/{a}/record_measurement/"),
        json!({"value": 42, "period": "this month"}),
    )
    .await;
    assert_eq!(measured["measurements"][0]["value"], 42);
    assert_eq!(measured["effective_target"], "40");

    // The field-level trail through the audit API.
    let history = |path: String| {
        let app = &app;
        let admin = &admin;
        async move { read(app, admin, &path).await }
    };
    let contract_changes = history(format!("/api/entity-changes/entity/Contract/{c}/")).await;
    let kinds: Vec<&str> = contract_changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["Create", "Activate", "Update", "Update"]);
    let end = history(format!(
        "/api/field-changes/field-history/Contract/{c}/end_date/"
    ))
    .await;
    let end = end.as_array().unwrap();
    assert_eq!(end.len(), 2);
    assert_eq!(end[1]["old_value"], day(335));
    assert_eq!(end[1]["new_value"], day(700));
    let amount = history(format!(
        "/api/field-changes/field-history/Contract/{c}/billing_amount/"
    ))
    .await;
    assert_eq!(amount.as_array().unwrap()[1]["new_value"], "13000.00");
    let payment = history(format!(
        "/api/field-changes/field-history/Contract/{c}/payment_status/"
    ))
    .await;
    assert_eq!(
        payment.as_array().unwrap().last().unwrap()["new_value"],
        "Paid"
    );
    let status = history(format!(
        "/api/field-changes/field-history/Contract/{c}/status/"
    ))
    .await;
    let status: Vec<&Value> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["new_value"])
        .collect();
    assert_eq!(status, vec!["Draft", "Active", "Renewed"]);
    let metadata = history(format!(
        "/api/field-changes/field-history/KPIAssignment/{a}/metadata/"
    ))
    .await;
    let last = metadata.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["new_value"]["measurements"][0]["value"], 42);
    let logs = history(format!("/api/audit-logs/entity/KPIAssignment/{a}/")).await;
    assert_eq!(logs.as_array().unwrap().len(), 3);
    for (entity, id) in [("KPIType", id_of(&t)), ("KPI", id_of(&kpi))] {
        let rows = history(format!("/api/entity-changes/entity/{entity}/{id}/")).await;
        assert_eq!(rows[0]["change_type"], "Create", "{entity}");
    }
});

db_test!(contract_and_kpi_bad_bodies_change_nothing, |app| {
    // The kernel's bad-body checks over this part's rows alone (they also
    // run in platform.rs with every other resource's rows).
    let admin = app.superuser().await;
    let (client, contract, kpi) = setup(&app, &admin, "Acme").await;
    let kpi_type = read(&app, &admin, &format!("/api/kpis/{kpi}/")).await["type_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assignment = id_of(
        &created(
            &app,
            &admin,
            "/api/kpi-assignments/",
            json!({"kpi_id": kpi, "client_id": client, "contract_id": contract,
                   "frequency": "Monthly", "start_date": day(0), "status": "Ongoing"}),
        )
        .await,
    );
    let rows = [
        format!("/api/contracts/{contract}/"),
        format!("/api/contracts/{contract}/suspend/"),
        format!("/api/contracts/{contract}/terminate/"),
        format!("/api/contracts/{contract}/renew/"),
        format!("/api/kpi-types/{kpi_type}/"),
        format!("/api/kpis/{kpi}/"),
        format!("/api/kpi-assignments/{assignment}/"),
        format!("/api/kpi-assignments/{assignment}/record_measurement/"),
    ];
    kernel::conformance::check_bad_bodies::<axis::Axis>(&app, &admin.access, &rows).await;
});
