//! Clients (axis contract §5): shapes, the contact rule, unique emails, the
//! status actions and `verify`, the array queries, filters, soft delete and
//! restore with the audit history, tags, and client scoping (§3).

use crate::common::*;
use axis::entities::client;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

pub const ITEM_KEYS: &[&str] = &[
    "id",
    "name",
    "email",
    "phone",
    "status",
    "is_verified",
    "is_active",
    "industry_id",
    "industry_name",
    "active_contracts_count",
    "tags",
    "parent_client_id",
    "parent_client_name",
    "subsidiaries_count",
    "last_contact_date",
    "created_at",
    "updated_at",
];

pub const DETAIL_EXTRA: &[&str] = &[
    "website",
    "address",
    "billing_address",
    "tax_id",
    "contact_person",
    "contact_email",
    "contact_phone",
    "preferred_contact_method",
    "timezone",
    "notes",
    "metadata",
    "tag_ids",
    "industry",
    "parent_client",
    "verified_status",
    "primary_contact",
    "contacts_count",
    "activities_count",
    "documents_count",
    "deleted_at",
];

pub fn detail_keys() -> Vec<String> {
    let mut all: Vec<&str> = ITEM_KEYS.to_vec();
    all.extend(DETAIL_EXTRA);
    sorted(&all)
}

const NO_CONTACT: &str = "Active clients must have at least one contact method (email or phone)";
const DENIED: &str = "You do not have permission to perform this action.";

/// Creates a client as `actor`; the detail.
pub async fn create(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let r = app
        .post("/api/clients/")
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

/// Creates a client as `actor`; its id.
pub async fn create_id(app: &TestApp, actor: &Actor, body: Value) -> String {
    create(app, actor, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// GET `path` as `actor`, expecting 200; the body.
pub async fn read(app: &TestApp, actor: &Actor, path: &str) -> Value {
    let r = app.get(path).bearer(&actor.access).send().await;
    r.assert_status(200);
    r.json
}

/// POST an action (no body) as `actor`.
pub async fn act(app: &TestApp, actor: &Actor, path: &str) -> kernel::testing::TestResponse {
    app.post(path).bearer(&actor.access).send().await
}

/// The names of an array of rows (or of a page's results), in order.
pub fn names(body: &Value) -> Vec<String> {
    let rows = if body.is_array() {
        body
    } else {
        &body["results"]
    };
    rows.as_array()
        .unwrap_or_else(|| panic!("rows in {body}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `names` sorted.
pub fn name_set(body: &Value) -> Vec<String> {
    let mut all = names(body);
    all.sort();
    all
}

db_test!(client_create_defaults_and_shapes, |app| {
    let admin = app.superuser().await;
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "  Acme Mining  "}))
        .send()
        .await;
    r.assert_status(201);
    let d = &r.json;
    assert_eq!(keys(d), detail_keys());
    assert!(is_cuid(d["id"].as_str().unwrap()));
    assert_eq!(d["name"], "Acme Mining");
    assert_eq!(d["status"], "Pending");
    assert_eq!(d["is_verified"], false);
    assert_eq!(d["is_active"], false);
    assert_eq!(d["verified_status"], "Unverified");
    assert_eq!(d["metadata"], json!({}));
    assert_eq!(d["tags"], json!([]));
    assert_eq!(d["tag_ids"], json!([]));
    assert_eq!(d["industry"], Value::Null);
    assert_eq!(d["parent_client"], Value::Null);
    assert_eq!(d["deleted_at"], Value::Null);
    for count in [
        "contacts_count",
        "activities_count",
        "documents_count",
        "subsidiaries_count",
        "active_contracts_count",
    ] {
        assert_eq!(d[count], 0, "{count}");
    }
    // No contact and no contact fields: the client's own name.
    assert_eq!(
        d["primary_contact"],
        json!({"name": "Acme Mining", "email": null, "phone": null, "method": null})
    );
    let id = d["id"].as_str().unwrap().to_owned();
    let row = client::Entity::find_by_id(id.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "Pending");
    assert_eq!(row.name, "Acme Mining");

    // Every field, Title-Case choices from any case.
    let industry =
        crate::industries::create(&app, &admin, json!({"name": "Mining", "code": "MIN"})).await;
    let full = create(
        &app,
        &admin,
        json!({
            "name": "Beta Holdings", "email": "Ops@Beta.Example", "phone": "+27 11 555 0100",
            "website": "https://beta.example", "address": "1 Main Rd", "billing_address": "PO Box 1",
            "tax_id": "4000123456", "contact_person": "Thandi Nkosi", "contact_email": "thandi@beta.example",
            "contact_phone": "+27 82 555 0101", "preferred_contact_method": "WHATSAPP",
            "industry": industry["id"], "status": "ACTIVE", "timezone": "Africa/Johannesburg",
            "last_contact_date": "2026-03-01T10:00:00Z", "notes": "Key account", "metadata": {"segment": "large"},
            "deleted_at": "2020-01-01T00:00:00Z", "id": "ignored",
        }),
    )
    .await;
    assert_eq!(full["email"], "ops@beta.example");
    assert_eq!(full["preferred_contact_method"], "WhatsApp");
    assert_eq!(full["status"], "Active");
    assert_eq!(full["is_active"], true);
    assert_eq!(full["industry_id"], industry["id"]);
    assert_eq!(full["industry_name"], "Mining");
    assert_eq!(
        full["industry"],
        json!({"id": industry["id"], "name": "Mining", "code": "MIN"})
    );
    let last = full["last_contact_date"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(last).unwrap(),
        chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z").unwrap()
    );
    assert!(last.ends_with('Z'), "{last}");
    assert_eq!(full["metadata"], json!({"segment": "large"}));
    assert_eq!(full["deleted_at"], Value::Null);
    assert_ne!(full["id"], "ignored");
    assert_eq!(
        full["primary_contact"],
        json!({"name": "Thandi Nkosi", "email": "thandi@beta.example", "phone": "+27 82 555 0101",
               "method": "WhatsApp"})
    );

    // The list: the envelope and the item shape.
    let list = read(&app, &admin, "/api/clients/").await;
    assert_page(&list, 2);
    for item in list["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(ITEM_KEYS));
    }
    // Newest first by default.
    assert_eq!(names(&list), ["Beta Holdings", "Acme Mining"]);

    // The audit trail of the create.
    let logs = app.audit_logs_of("Client", &id).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].action, "Create");
    assert_eq!(logs[0].user_id.as_deref(), Some(admin.id.as_str()));

    // stats/.
    let stats = read(&app, &admin, &format!("/api/clients/{id}/stats/")).await;
    assert_eq!(
        stats,
        json!({"total_contracts": 0, "active_contracts": 0, "total_staff": 0, "is_verified": false})
    );
});

db_test!(active_clients_need_a_contact_method, |app| {
    let admin = app.superuser().await;
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "Silent Ltd", "status": "Active"}))
        .send()
        .await;
    assert_field_error(&r, "non_field_errors", Some(NO_CONTACT));
    assert_eq!(
        keys(&r.json),
        sorted(&[
            "code",
            "detail",
            "error",
            "errors",
            "message",
            "status_code"
        ])
    );
    // Any one of the four fields is enough.
    for (i, field) in ["email", "phone", "contact_email", "contact_phone"]
        .into_iter()
        .enumerate()
    {
        let value = if field.ends_with("email") {
            format!("c{i}@reach.example")
        } else {
            format!("+27 11 555 010{i}")
        };
        let made = create(
            &app,
            &admin,
            json!({"name": format!("Reachable {i}"), "status": "Active", field: value}),
        )
        .await;
        assert_eq!(made["status"], "Active");
    }

    // Update: taking the last contact method away from an Active client.
    let id = create_id(
        &app,
        &admin,
        json!({"name": "Gamma", "status": "Active", "email": "gamma@reach.example"}),
    )
    .await;
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"email": null}))
        .send()
        .await;
    assert_field_error(&r, "non_field_errors", Some(NO_CONTACT));
    // ... or making a client without one Active.
    let quiet = create_id(&app, &admin, json!({"name": "Quiet"})).await;
    let r = app
        .patch(&format!("/api/clients/{quiet}/"))
        .bearer(&admin.access)
        .json(&json!({"status": "Active"}))
        .send()
        .await;
    assert_field_error(&r, "non_field_errors", Some(NO_CONTACT));
    let r = app
        .put(&format!("/api/clients/{quiet}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Quiet", "status": "active"}))
        .send()
        .await;
    assert_field_error(&r, "non_field_errors", Some(NO_CONTACT));
    // ... or activating it.
    let r = act(&app, &admin, &format!("/api/clients/{quiet}/activate/")).await;
    assert_field_error(&r, "non_field_errors", Some(NO_CONTACT));
    let row = client::Entity::find_by_id(quiet.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "Pending");
    // With a phone it may be Active.
    let r = app
        .patch(&format!("/api/clients/{quiet}/"))
        .bearer(&admin.access)
        .json(&json!({"status": "Active", "contact_phone": "+27 11 555 0199"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Active");
    // Other clients stay editable without one.
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"email": null, "status": "Inactive"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["email"], Value::Null);
});

db_test!(client_emails_are_unique_among_live_clients, |app| {
    let admin = app.superuser().await;
    let first = create_id(
        &app,
        &admin,
        json!({"name": "Delta", "email": "Team@Delta.example"}),
    )
    .await;
    let taken = "Client with this email already exists";
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "Delta Two", "email": "TEAM@delta.EXAMPLE"}))
        .send()
        .await;
    assert_field_error(&r, "email", Some(taken));
    let other = create_id(
        &app,
        &admin,
        json!({"name": "Epsilon", "email": "hello@epsilon.example"}),
    )
    .await;
    let r = app
        .patch(&format!("/api/clients/{other}/"))
        .bearer(&admin.access)
        .json(&json!({"email": "team@delta.example"}))
        .send()
        .await;
    assert_field_error(&r, "email", Some(taken));
    // Keeping one's own email is no clash.
    let r = app
        .put(&format!("/api/clients/{first}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Delta Group", "email": "team@delta.example"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["name"], "Delta Group");

    // Deleting frees the email.
    let r = app
        .delete(&format!("/api/clients/{first}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    let second = create(
        &app,
        &admin,
        json!({"name": "Delta Reborn", "email": "team@delta.example"}),
    )
    .await;
    assert_eq!(second["email"], "team@delta.example");
    // So the first cannot come back while the second holds it: a 400.
    let r = act(&app, &admin, &format!("/api/clients/{first}/restore/")).await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Cannot restore: another live record has the same email",
    );
    let r = app
        .get(&format!("/api/clients/{first}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
});

db_test!(client_status_actions, |app| {
    let admin = app.superuser().await;
    let id = create_id(
        &app,
        &admin,
        json!({"name": "Zeta", "email": "zeta@client.example"}),
    )
    .await;
    let path = |action: &str| format!("/api/clients/{id}/{action}/");

    // activate, with no body and no content type.
    let r = act(&app, &admin, &path("activate")).await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), detail_keys());
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_active"], true);
    let history = r.json["metadata"]["status_history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        keys(&history[0]),
        sorted(&["from", "to", "reason", "changed_at", "changed_by"])
    );
    assert_eq!(history[0]["from"], "Pending");
    assert_eq!(history[0]["to"], "Active");
    assert_eq!(history[0]["reason"], Value::Null);
    assert_eq!(history[0]["changed_by"], admin.id.as_str());
    assert!(
        chrono::DateTime::parse_from_rfc3339(history[0]["changed_at"].as_str().unwrap()).is_ok()
    );
    let r = act(&app, &admin, &path("activate")).await;
    assert_error(&r, 400, "invalid_state", "Client is already Active");

    // deactivate with a reason, sent as JSON.
    let r = app
        .post(&path("deactivate"))
        .bearer(&admin.access)
        .json(&json!({"reason": "Contract paused"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Inactive");
    assert_eq!(r.json["is_active"], false);
    assert_eq!(r.json["metadata"]["deactivation_reason"], "Contract paused");
    assert_eq!(r.json["metadata"]["status_history"][1]["from"], "Active");
    assert_eq!(r.json["metadata"]["status_history"][1]["to"], "Inactive");
    assert_eq!(
        r.json["metadata"]["status_history"][1]["reason"],
        "Contract paused"
    );
    let r = act(&app, &admin, &path("deactivate")).await;
    assert_error(&r, 400, "invalid_state", "Client is already Inactive");

    // archive with a reason; an empty JSON body works for the others.
    let r = app
        .post(&path("archive"))
        .bearer(&admin.access)
        .json(&json!({"reason": "Closed down"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Archived");
    assert_eq!(r.json["metadata"]["archive_reason"], "Closed down");
    // The earlier reason stays.
    assert_eq!(r.json["metadata"]["deactivation_reason"], "Contract paused");
    let r = app
        .post(&path("deactivate"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    assert_error(
        &r,
        400,
        "invalid_state",
        "Cannot deactivate a client that is Archived",
    );
    let r = act(&app, &admin, &path("archive")).await;
    assert_error(&r, 400, "invalid_state", "Client is already Archived");
    // Archived clients may be activated again.
    let r = app
        .post(&path("activate"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Active");
    let history = r.json["metadata"]["status_history"].as_array().unwrap();
    let steps: Vec<(String, String)> = history
        .iter()
        .map(|h| {
            (
                h["from"].as_str().unwrap().to_owned(),
                h["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("Pending".to_owned(), "Active".to_owned()),
            ("Active".to_owned(), "Inactive".to_owned()),
            ("Inactive".to_owned(), "Archived".to_owned()),
            ("Archived".to_owned(), "Active".to_owned()),
        ]
    );
    // A bad reason is a field error.
    let r = app
        .post(&path("deactivate"))
        .bearer(&admin.access)
        .json(&json!({"reason": 5}))
        .send()
        .await;
    assert_field_error(&r, "reason", None);
    // Pending clients may be deactivated or archived directly.
    let pending = create_id(&app, &admin, json!({"name": "Eta"})).await;
    let r = act(&app, &admin, &format!("/api/clients/{pending}/archive/")).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Archived");

    // The trail: each action is an Update audit row with its change type.
    let changes = app.entity_changes_of("Client", &id).await;
    let types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    assert_eq!(
        types,
        ["Create", "Activate", "Deactivate", "Archive", "Activate"]
    );
    assert_eq!(changes[2].change_reason.as_deref(), Some("Contract paused"));
    let logs = app.audit_logs_of("Client", &id).await;
    let actions: Vec<&str> = logs.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(actions, ["Create", "Update", "Update", "Update", "Update"]);
    let history = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{id}/status/"),
    )
    .await;
    let values: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["old_value"].clone(), f["new_value"].clone()))
        .collect();
    assert_eq!(
        values,
        [
            (Value::Null, json!("Pending")),
            (json!("Pending"), json!("Active")),
            (json!("Active"), json!("Inactive")),
            (json!("Inactive"), json!("Archived")),
            (json!("Archived"), json!("Active")),
        ]
    );

    // Unknown and malformed ids.
    for bad in [kernel::cuid::new(), "not-an-id".to_owned()] {
        for action in ["activate", "deactivate", "archive", "verify"] {
            let r = act(&app, &admin, &format!("/api/clients/{bad}/{action}/")).await;
            assert_error(&r, 404, "not_found", "Client not found");
        }
    }
});

db_test!(client_verify, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let id = create_id(
        &app,
        &admin,
        json!({"name": "Theta", "email": "theta@client.example"}),
    )
    .await;
    let r = act(&app, &admin, &format!("/api/clients/{id}/verify/")).await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), detail_keys());
    assert_eq!(r.json["is_verified"], true);
    assert_eq!(r.json["verified_status"], "Verified");
    assert_eq!(r.json["status"], "Pending");
    assert_eq!(r.json["metadata"]["verified_by"], "root@axis.example");
    let at = r.json["metadata"]["verified_at"].as_str().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
    assert!((chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds() < 60);
    let r = act(&app, &admin, &format!("/api/clients/{id}/verify/")).await;
    assert_error(&r, 400, "invalid_state", "Client is already verified");

    // A manager may verify, naming who did.
    let other = create_id(&app, &admin, json!({"name": "Iota"})).await;
    let r = app
        .post(&format!("/api/clients/{other}/verify/"))
        .bearer(&manager.access)
        .json(&json!({"verified_by": "Compliance desk"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["metadata"]["verified_by"], "Compliance desk");

    let logs = app.audit_logs_of("Client", &id).await;
    assert_eq!(logs.last().unwrap().action, "Verify");
    let changes = app.entity_changes_of("Client", &id).await;
    let last = changes.last().unwrap();
    let fields = app.field_changes_of(&last.id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    assert!(names.contains(&"is_verified"), "{names:?}");
    assert!(names.contains(&"metadata"), "{names:?}");
    assert!(!names.contains(&"updated_at"), "{names:?}");
});

db_test!(client_array_queries, |app| {
    let admin = app.superuser().await;
    let mining = crate::industries::create(&app, &admin, json!({"name": "Mining"})).await;
    let mining = mining["id"].as_str().unwrap().to_owned();
    let active = create_id(
        &app,
        &admin,
        json!({"name": "Active Unverified", "status": "Active", "email": "a@q.example",
               "industry_id": mining, "preferred_contact_method": "Email"}),
    )
    .await;
    let verified = create_id(
        &app,
        &admin,
        json!({"name": "Active Verified", "status": "Active", "phone": "+27 11 000 0000"}),
    )
    .await;
    act(&app, &admin, &format!("/api/clients/{verified}/verify/"))
        .await
        .assert_status(200);
    let pending = create_id(
        &app,
        &admin,
        json!({"name": "Pending Mine", "industry_id": mining, "email": "p@q.example"}),
    )
    .await;
    // An old client, created 40 days ago.
    let old = create_id(&app, &admin, json!({"name": "Old Timer"})).await;
    let row = client::Entity::find_by_id(old.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    let mut row: client::ActiveModel = row.into();
    row.created_at = Set(kernel::time::now() - chrono::TimeDelta::days(40));
    row.update(app.conn()).await.unwrap();

    let array = |path: &str| {
        let app = &app;
        let admin = admin.clone();
        let path = path.to_owned();
        async move {
            let body = read(app, &admin, &path).await;
            assert!(body.is_array(), "{path}: {body}");
            for item in body.as_array().unwrap() {
                assert_eq!(keys(item), sorted(ITEM_KEYS), "{path}");
            }
            name_set(&body)
        }
    };
    assert_eq!(
        array("/api/clients/active/").await,
        ["Active Unverified", "Active Verified"]
    );
    assert_eq!(array("/api/clients/verified/").await, ["Active Verified"]);
    assert_eq!(
        array("/api/clients/needs_verification/").await,
        ["Active Unverified"]
    );
    assert_eq!(
        array("/api/clients/recent/").await,
        ["Active Unverified", "Active Verified", "Pending Mine"]
    );
    assert_eq!(
        array("/api/clients/recent/?days=60").await,
        [
            "Active Unverified",
            "Active Verified",
            "Old Timer",
            "Pending Mine"
        ]
    );
    assert_eq!(
        array(&format!("/api/clients/industry/{mining}/")).await,
        ["Active Unverified", "Pending Mine"]
    );
    // An unknown, malformed or deleted industry in the path is a 404.
    let retired = crate::industries::create(&app, &admin, json!({"name": "Retired"})).await;
    let retired = retired["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/industries/{retired}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    for id in [
        kernel::cuid::new(),
        "nope".to_owned(),
        retired,
        mining.to_uppercase(),
    ] {
        let r = app
            .get(&format!("/api/clients/industry/{id}/"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Industry not found");
    }
    assert_eq!(
        array("/api/clients/search/?name=mine").await,
        ["Pending Mine"]
    );
    assert_eq!(
        array("/api/clients/search/?status=ACTIVE&is_verified=false").await,
        ["Active Unverified"]
    );
    assert_eq!(
        array(&format!(
            "/api/clients/search/?industry_id={mining}&status=pending"
        ))
        .await,
        ["Pending Mine"]
    );
    assert_eq!(
        array("/api/clients/search/?email=a@q").await,
        ["Active Unverified"]
    );
    assert_eq!(
        array("/api/clients/search/?contact_method=email").await,
        ["Active Unverified"]
    );
    assert_eq!(array("/api/clients/search/").await.len(), 4);

    // Bad parameters are 400s, never 500s.
    for (path, field) in [
        ("/api/clients/search/?status=Bogus", "status"),
        ("/api/clients/search/?is_verified=perhaps", "is_verified"),
        (
            "/api/clients/search/?contact_method=Pigeon",
            "contact_method",
        ),
    ] {
        let r = app.get(path).bearer(&admin.access).send().await;
        assert_field_error(&r, field, None);
    }
    let r = app
        .get("/api/clients/search/?status=Bogus")
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "status", Some("\"Bogus\" is not a valid choice."));
    for days in ["abc", "0", "-3"] {
        let r = app
            .get(&format!("/api/clients/recent/?days={days}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"], "Invalid days parameter");
        assert_eq!(
            r.json["message"],
            format!("days must be a valid integer, got: {days}")
        );
        assert_eq!(r.json["status_code"], 400);
    }
    let _ = (active, pending);
});

db_test!(client_list_filters_search_and_ordering, |app| {
    let admin = app.superuser().await;
    let mining = crate::industries::create(&app, &admin, json!({"name": "Mining"})).await;
    let mining = mining["id"].as_str().unwrap().to_owned();
    create(
        &app,
        &admin,
        json!({"name": "Alpha Mines", "status": "Active", "email": "info@alpha.example",
               "industry_id": mining, "contact_person": "Sipho Mokoena"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"name": "Bravo Foods", "phone": "+27 21 555 0199", "status": "Inactive"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"name": "Charlie Clinics", "contact_email": "desk@charlie.example"}),
    )
    .await;
    let list = |query: &str| {
        let app = &app;
        let admin = admin.clone();
        let path = format!("/api/clients/{query}");
        async move {
            let body = read(app, &admin, &path).await;
            assert_eq!(keys(&body), sorted(PAGE_KEYS), "{path}");
            names(&body)
        }
    };
    assert_eq!(
        list("").await,
        ["Charlie Clinics", "Bravo Foods", "Alpha Mines"]
    );
    assert_eq!(list("?status=Active").await, ["Alpha Mines"]);
    assert_eq!(list("?status=INACTIVE").await, ["Bravo Foods"]);
    assert_eq!(
        list(&format!("?industry_id={mining}")).await,
        ["Alpha Mines"]
    );
    assert_eq!(list(&format!("?industry={mining}")).await, ["Alpha Mines"]);
    assert_eq!(list("?name=foo").await, ["Bravo Foods"]);
    assert_eq!(list("?is_verified=false").await.len(), 3);
    assert!(list("?is_verified=1").await.is_empty());
    // Search: name, email, phone, contact_person, contact_email.
    assert_eq!(list("?search=ALPHA").await, ["Alpha Mines"]);
    assert_eq!(list("?search=555%200199").await, ["Bravo Foods"]);
    assert_eq!(list("?search=mokoena").await, ["Alpha Mines"]);
    assert_eq!(list("?search=desk@charlie").await, ["Charlie Clinics"]);
    assert!(list("?search=nothing-like-it").await.is_empty());
    // Dates.
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today + chrono::TimeDelta::days(1);
    let yesterday = today - chrono::TimeDelta::days(1);
    assert_eq!(list(&format!("?created_after={today}")).await.len(), 3);
    assert!(list(&format!("?created_after={tomorrow}")).await.is_empty());
    assert_eq!(list(&format!("?created_before={today}")).await.len(), 3);
    assert!(
        list(&format!("?created_before={yesterday}"))
            .await
            .is_empty()
    );
    // Ordering.
    assert_eq!(
        list("?ordering=name").await,
        ["Alpha Mines", "Bravo Foods", "Charlie Clinics"]
    );
    assert_eq!(
        list("?ordering=-name").await,
        ["Charlie Clinics", "Bravo Foods", "Alpha Mines"]
    );
    assert_eq!(
        list("?ordering=status,name").await,
        ["Alpha Mines", "Bravo Foods", "Charlie Clinics"]
    );
    assert_eq!(
        list("?ordering=created_at").await,
        ["Alpha Mines", "Bravo Foods", "Charlie Clinics"]
    );
    assert_eq!(
        list("?ordering=bogus").await,
        ["Charlie Clinics", "Bravo Foods", "Alpha Mines"]
    );
    // Pages.
    let r = read(&app, &admin, "/api/clients/?ordering=name&limit=2&page=2").await;
    assert_page(&r, 3);
    assert_eq!(names(&r), ["Charlie Clinics"]);
    assert_eq!(r["page"], 2);
    assert_eq!(r["page_size"], 2);
    assert_eq!(r["total_pages"], 2);
    let r = read(
        &app,
        &admin,
        "/api/clients/?ordering=name&page_size=2&page=9",
    )
    .await;
    assert_eq!(r["page"], 2);
    assert_eq!(names(&r), ["Charlie Clinics"]);
    let r = read(&app, &admin, "/api/clients/?page_size=1000").await;
    assert_eq!(r["page_size"], 100);
    let r = read(&app, &admin, "/api/clients/?ordering=name&page_size=1").await;
    assert!(r["next"].as_str().unwrap().contains("page=2"), "{r}");
    assert_eq!(r["previous"], Value::Null);
    let r = read(&app, &admin, "/api/clients/?status=Archived").await;
    assert_page(&r, 0);
    assert_eq!(r["page"], 1);
    assert_eq!(r["total_pages"], 1);

    // Bad filter values.
    // Dates no database stores are refused alike on every backend.
    for query in [
        "?created_after=0001-01-01",
        "?created_before=0999-12-31T00:00:00Z",
    ] {
        let r = app
            .get(&format!("/api/clients/{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "validation_error");
    }
    for (query, field) in [
        ("?status=Closed", "status"),
        ("?is_verified=yes-ish", "is_verified"),
        ("?created_after=yesterday", "created_after"),
        ("?created_before=2026-13-45", "created_before"),
    ] {
        let r = app
            .get(&format!("/api/clients/{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_field_error(&r, field, None);
    }
    for query in ["?page=0", "?page_size=x", "?limit=-1"] {
        let r = app
            .get(&format!("/api/clients/{query}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["error"].as_str().unwrap().starts_with("Invalid "));
    }
});

db_test!(client_input_is_validated, |app| {
    let admin = app.superuser().await;
    let id = create_id(&app, &admin, json!({"name": "Kappa"})).await;
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post("/api/clients/")
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let before = app.trail_counts().await;
    let r = post(json!({})).await;
    assert_field_error(&r, "name", Some("This field is required."));
    let r = post(json!({"name": " "})).await;
    assert_field_error(&r, "name", Some("Client name cannot be empty"));
    let r = post(json!({"name": ["a"]})).await;
    assert_field_error(&r, "name", None);
    let r = post(json!({"name": "X", "email": "not-an-email"})).await;
    assert_field_error(&r, "email", Some("Enter a valid email address."));
    let r = post(json!({"name": "X", "website": "notaurl"})).await;
    assert_field_error(&r, "website", None);
    let r = post(json!({"name": "X", "status": "Bogus"})).await;
    assert_field_error(&r, "status", Some("\"Bogus\" is not a valid choice."));
    let r = post(json!({"name": "X", "preferred_contact_method": "Pigeon"})).await;
    assert_field_error(
        &r,
        "preferred_contact_method",
        Some("\"Pigeon\" is not a valid choice."),
    );
    let r = post(json!({"name": "X", "is_verified": "sure"})).await;
    assert_field_error(&r, "is_verified", None);
    let r = post(json!({"name": "X", "metadata": "text"})).await;
    assert_field_error(&r, "metadata", None);
    let r = post(json!({"name": "X", "tag_ids": "abc"})).await;
    assert_field_error(&r, "tag_ids", None);
    let r = post(json!({"name": "X", "tag_ids": [1]})).await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "validation_error");
    // Dates no database stores are refused, never a 500.
    for date in ["0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"] {
        let r = post(json!({"name": "X", "last_contact_date": date})).await;
        assert_field_error(&r, "last_contact_date", None);
    }
    let r = post(json!({"name": "X", "last_contact_date": "last tuesday"})).await;
    assert_field_error(&r, "last_contact_date", None);
    for field in [
        "industry_id",
        "industry",
        "parent_client_id",
        "parent_client",
    ] {
        let unknown = kernel::cuid::new();
        let expected = if field.ends_with("_id") {
            field.to_owned()
        } else {
            format!("{field}_id")
        };
        let r = post(json!({"name": "X", field: unknown})).await;
        assert_field_error(
            &r,
            &expected,
            Some(&format!(
                "Invalid pk \"{unknown}\" - object does not exist."
            )),
        );
        let r = post(json!({"name": "X", field: "x"})).await;
        assert_field_error(
            &r,
            &expected,
            Some("Invalid pk \"x\" - object does not exist."),
        );
    }
    let unknown = kernel::cuid::new();
    let r = post(json!({"name": "X", "tag_ids": [unknown]})).await;
    assert_field_error(
        &r,
        "tag_ids",
        Some(&format!(
            "Invalid pk \"{unknown}\" - object does not exist."
        )),
    );
    // Every error of a body at once.
    let r = post(json!({"email": "bad", "status": "nope"})).await;
    assert_field_error(&r, "name", None);
    assert_field_error(&r, "email", None);
    assert_field_error(&r, "status", None);
    // Not JSON, or not an object.
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .raw("application/json", "{\"name\": \"X\",}")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    let r = post(json!(["name"])).await;
    assert_field_error(&r, "non_field_errors", None);
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .raw("text/plain", "name=X")
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(r.json["code"], "unsupported_media_type");
    // Updates: a null status, a PUT without the name, a self parent.
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"status": null}))
        .send()
        .await;
    assert_field_error(&r, "status", None);
    let r = app
        .put(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"email": "k@kappa.example"}))
        .send()
        .await;
    assert_field_error(&r, "name", Some("This field is required."));
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"parent_client_id": id}))
        .send()
        .await;
    assert_field_error(&r, "parent_client_id", None);
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .raw("application/json", "nope")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    // None of it was written or audited.
    assert_eq!(app.trail_counts().await, before);
    let row = client::Entity::find_by_id(id.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.name.as_str(), row.email), ("Kappa", None));

    // Malformed and unknown path ids.
    for path in [
        "/api/clients/nope/".to_owned(),
        format!("/api/clients/{}/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Client not found");
        let r = app
            .put(&path)
            .bearer(&admin.access)
            .json(&json!({"name": "X"}))
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Client not found");
        let r = app.delete(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Client not found");
        let r = app
            .get(&format!("{path}stats/"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Client not found");
    }
    // A wrong method.
    let r = app
        .put("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "X"}))
        .send()
        .await;
    r.assert_status(405);
    assert_eq!(r.json["code"], "method_not_allowed");
});

db_test!(client_hierarchy, |app| {
    let admin = app.superuser().await;
    let parent = create_id(&app, &admin, json!({"name": "Holding Co"})).await;
    let child = create(
        &app,
        &admin,
        json!({"name": "Subsidiary A", "parent_client_id": parent}),
    )
    .await;
    let child_id = child["id"].as_str().unwrap().to_owned();
    assert_eq!(child["parent_client_id"], parent.as_str());
    assert_eq!(child["parent_client"], parent.as_str());
    assert_eq!(child["parent_client_name"], "Holding Co");
    // The alias `parent_client`.
    let grandchild = create_id(
        &app,
        &admin,
        json!({"name": "Subsidiary B", "parent_client": child_id}),
    )
    .await;
    let p = read(&app, &admin, &format!("/api/clients/{parent}/")).await;
    assert_eq!(p["subsidiaries_count"], 1);
    // No cycles.
    let r = app
        .patch(&format!("/api/clients/{parent}/"))
        .bearer(&admin.access)
        .json(&json!({"parent_client_id": grandchild}))
        .send()
        .await;
    assert_field_error(
        &r,
        "parent_client_id",
        Some("Cannot update: would create circular reference in hierarchy"),
    );
    // A deleted subsidiary is not counted; a deleted parent is no parent.
    app.delete(&format!("/api/clients/{child_id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let p = read(&app, &admin, &format!("/api/clients/{parent}/")).await;
    assert_eq!(p["subsidiaries_count"], 0);
    let g = read(&app, &admin, &format!("/api/clients/{grandchild}/")).await;
    assert_eq!(g["parent_client_id"], child_id.as_str());
    assert_eq!(g["parent_client_name"], Value::Null);
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "Orphan", "parent_client_id": child_id}))
        .send()
        .await;
    assert_field_error(
        &r,
        "parent_client_id",
        Some(&format!(
            "Invalid pk \"{child_id}\" - object does not exist."
        )),
    );
});

db_test!(client_tags, |app| {
    let admin = app.superuser().await;
    let vip = crate::tags::create(&app, &admin, json!({"name": "VIP", "color": "#FF0000"})).await;
    let new = crate::tags::create(&app, &admin, json!({"name": "New Business"})).await;
    let (vip, new) = (
        vip["id"].as_str().unwrap().to_owned(),
        new["id"].as_str().unwrap().to_owned(),
    );
    let d = create(
        &app,
        &admin,
        json!({"name": "Lambda", "tag_ids": [vip, new, vip]}),
    )
    .await;
    let id = d["id"].as_str().unwrap().to_owned();
    let mut ids = vec![vip.clone(), new.clone()];
    ids.sort();
    let mut got: Vec<String> = d["tag_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, ids);
    assert_eq!(
        d["tags"],
        json!([
            {"id": new, "name": "New Business", "slug": "new-business", "color": "#6B7280"},
            {"id": vip, "name": "VIP", "slug": "vip", "color": "#FF0000"},
        ])
    );
    let list = read(&app, &admin, "/api/clients/").await;
    assert_eq!(list["results"][0]["tags"], d["tags"]);
    // `tags` is accepted for `tag_ids`; the list replaces the old one.
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"tags": [vip]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["tag_ids"], json!([vip]));
    // Leaving it out keeps it.
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"notes": "n"}))
        .send()
        .await;
    assert_eq!(r.json["tag_ids"], json!([vip]));
    // A deleted tag disappears from its clients and cannot be given.
    app.delete(&format!("/api/tags/{vip}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let d = read(&app, &admin, &format!("/api/clients/{id}/")).await;
    assert_eq!(d["tags"], json!([]));
    assert_eq!(d["tag_ids"], json!([]));
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"tag_ids": [vip]}))
        .send()
        .await;
    assert_field_error(
        &r,
        "tag_ids",
        Some(&format!("Invalid pk \"{vip}\" - object does not exist.")),
    );
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"tag_ids": []}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["tags"], json!([]));
});

db_test!(client_soft_delete_and_restore, |app| {
    let admin = app.superuser().await;
    let mining = crate::industries::create(&app, &admin, json!({"name": "Mining"})).await;
    let mining = mining["id"].as_str().unwrap().to_owned();
    let tag = crate::tags::create(&app, &admin, json!({"name": "Gold"})).await;
    let tag = tag["id"].as_str().unwrap().to_owned();
    let id = create_id(
        &app,
        &admin,
        json!({"name": "Mu Mining", "email": "mu@client.example", "industry_id": mining,
               "tag_ids": [tag]}),
    )
    .await;
    act(&app, &admin, &format!("/api/clients/{id}/activate/"))
        .await
        .assert_status(200);
    act(&app, &admin, &format!("/api/clients/{id}/verify/"))
        .await
        .assert_status(200);
    let keep = create_id(&app, &admin, json!({"name": "Nu Mining"})).await;

    let r = app
        .delete(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let row = client::Entity::find_by_id(id.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(row.deleted_at.is_some());

    // Gone from every read.
    let r = app
        .get(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    for action in ["activate", "deactivate", "archive", "verify"] {
        let r = act(&app, &admin, &format!("/api/clients/{id}/{action}/")).await;
        assert_error(&r, 404, "not_found", "Client not found");
    }
    let r = app
        .patch(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Back"}))
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    let r = app
        .delete(&format!("/api/clients/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    let list = read(&app, &admin, "/api/clients/").await;
    assert_page(&list, 1);
    assert_eq!(names(&list), ["Nu Mining"]);
    for path in [
        "/api/clients/active/".to_owned(),
        "/api/clients/verified/".to_owned(),
        "/api/clients/recent/".to_owned(),
        "/api/clients/search/?name=mu".to_owned(),
        format!("/api/clients/industry/{mining}/"),
    ] {
        let body = read(&app, &admin, &path).await;
        assert!(!names(&body).contains(&"Mu Mining".to_owned()), "{path}");
    }
    let i = read(&app, &admin, &format!("/api/industries/{mining}/")).await;
    assert_eq!(i["client_count"], 0);
    let t = read(&app, &admin, &format!("/api/tags/{tag}/")).await;
    assert_eq!(t["client_count"], 0);

    // Its history stays readable, field by field.
    let history = read(
        &app,
        &admin,
        &format!("/api/entity-changes/entity/Client/{id}/"),
    )
    .await;
    let types: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Create", "Activate", "Update", "Delete"]);
    let status = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{id}/status/"),
    )
    .await;
    assert_eq!(status.as_array().unwrap().len(), 2);
    assert_eq!(status[1]["old_value"], "Pending");
    assert_eq!(status[1]["new_value"], "Active");
    let deleted = read(
        &app,
        &admin,
        &format!("/api/field-changes/field-history/Client/{id}/deleted_at/"),
    )
    .await;
    assert_eq!(deleted.as_array().unwrap().len(), 1);
    assert_eq!(deleted[0]["old_value"], Value::Null);
    assert!(deleted[0]["new_value"].is_string(), "{deleted}");

    // Restore (not for a live client; not for an unknown one).
    let r = act(&app, &admin, &format!("/api/clients/{keep}/restore/")).await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    let r = act(
        &app,
        &admin,
        &format!("/api/clients/{}/restore/", kernel::cuid::new()),
    )
    .await;
    assert_error(&r, 404, "not_found", "Client not found");
    let r = act(&app, &admin, &format!("/api/clients/{id}/restore/")).await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), detail_keys());
    assert_eq!(r.json["deleted_at"], Value::Null);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_verified"], true);
    assert_eq!(r.json["tag_ids"], json!([tag]));
    let list = read(&app, &admin, "/api/clients/").await;
    assert_page(&list, 2);
    let i = read(&app, &admin, &format!("/api/industries/{mining}/")).await;
    assert_eq!(i["client_count"], 1);
    let changes = app.entity_changes_of("Client", &id).await;
    assert_eq!(changes.last().unwrap().change_type, "Restore");
    // Its email is held again.
    let r = app
        .post("/api/clients/")
        .bearer(&admin.access)
        .json(&json!({"name": "Copycat", "email": "MU@client.example"}))
        .send()
        .await;
    assert_field_error(&r, "email", Some("Client with this email already exists"));
});

db_test!(client_access_by_role, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let scoped = app.scoped(&admin).await;
    let mining = crate::industries::create(&app, &admin, json!({"name": "Mining"})).await;
    let mining = mining["id"].as_str().unwrap().to_owned();
    let granted = create_id(
        &app,
        &admin,
        json!({"name": "Granted Co", "status": "Active", "email": "g@client.example",
               "industry_id": mining}),
    )
    .await;
    let hidden = create_id(
        &app,
        &manager,
        json!({"name": "Hidden Co", "status": "Active", "email": "h@client.example",
               "industry_id": mining}),
    )
    .await;
    let grant = app.grant(&admin, &scoped.id, &granted).await;

    // No token.
    for r in [
        app.get("/api/clients/").send().await,
        app.get("/api/clients/active/").send().await,
        app.get(&format!("/api/clients/{granted}/")).send().await,
        app.get(&format!("/api/clients/{granted}/stats/"))
            .send()
            .await,
        app.post("/api/clients/")
            .json(&json!({"name": "X"}))
            .send()
            .await,
        app.post(&format!("/api/clients/{granted}/verify/"))
            .send()
            .await,
    ] {
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }

    // A manager reads and writes every client.
    assert_eq!(
        name_set(&read(&app, &manager, "/api/clients/").await),
        ["Granted Co", "Hidden Co"]
    );
    let r = app
        .patch(&format!("/api/clients/{granted}/"))
        .bearer(&manager.access)
        .json(&json!({"notes": "Renewal due"}))
        .send()
        .await;
    r.assert_status(200);

    // The scoped user sees the granted client only.
    let list = read(&app, &scoped, "/api/clients/").await;
    assert_page(&list, 1);
    assert_eq!(names(&list), ["Granted Co"]);
    let d = read(&app, &scoped, &format!("/api/clients/{granted}/")).await;
    assert_eq!(keys(&d), detail_keys());
    assert_eq!(d["notes"], "Renewal due");
    read(&app, &scoped, &format!("/api/clients/{granted}/stats/")).await;
    for path in [
        "/api/clients/active/".to_owned(),
        "/api/clients/needs_verification/".to_owned(),
        "/api/clients/recent/".to_owned(),
        "/api/clients/search/?name=co".to_owned(),
        format!("/api/clients/industry/{mining}/"),
    ] {
        assert_eq!(
            names(&read(&app, &scoped, &path).await),
            ["Granted Co"],
            "{path}"
        );
    }
    let r = read(
        &app,
        &scoped,
        &format!("/api/clients/?industry_id={mining}"),
    )
    .await;
    assert_eq!(names(&r), ["Granted Co"]);
    // Others are absent: 404 on detail and actions.
    for r in [
        app.get(&format!("/api/clients/{hidden}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.get(&format!("/api/clients/{hidden}/stats/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.patch(&format!("/api/clients/{hidden}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Mine now"}))
            .send()
            .await,
        app.delete(&format!("/api/clients/{hidden}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        act(&app, &scoped, &format!("/api/clients/{hidden}/verify/")).await,
        act(&app, &scoped, &format!("/api/clients/{hidden}/deactivate/")).await,
    ] {
        assert_error(&r, 404, "not_found", "Client not found");
    }
    // The granted one it may not change: 403.
    for r in [
        app.post("/api/clients/")
            .bearer(&scoped.access)
            .json(&json!({"name": "Own Co"}))
            .send()
            .await,
        app.put(&format!("/api/clients/{granted}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Renamed"}))
            .send()
            .await,
        app.patch(&format!("/api/clients/{granted}/"))
            .bearer(&scoped.access)
            .json(&json!({"name": "Renamed"}))
            .send()
            .await,
        app.delete(&format!("/api/clients/{granted}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        act(&app, &scoped, &format!("/api/clients/{granted}/activate/")).await,
        act(
            &app,
            &scoped,
            &format!("/api/clients/{granted}/deactivate/"),
        )
        .await,
        act(&app, &scoped, &format!("/api/clients/{granted}/archive/")).await,
        act(&app, &scoped, &format!("/api/clients/{granted}/verify/")).await,
        act(&app, &scoped, &format!("/api/clients/{granted}/restore/")).await,
    ] {
        assert_error(&r, 403, "permission_denied", DENIED);
    }
    let row = client::Entity::find_by_id(granted.clone())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.name.as_str(), row.is_verified), ("Granted Co", false));
    // X-Client-ID is ignored on clients/.
    let r = app
        .get("/api/clients/")
        .bearer(&scoped.access)
        .header("x-client-id", &hidden)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(names(&r.json), ["Granted Co"]);

    // A revoked grant ends at the next request.
    let r = app
        .delete(&format!(
            "/api/user-clients/{}/",
            grant["id"].as_str().unwrap()
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .get(&format!("/api/clients/{granted}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    assert_page(&read(&app, &scoped, "/api/clients/").await, 0);
    assert!(
        read(&app, &scoped, "/api/clients/active/")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
});
