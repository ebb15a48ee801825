//! Contracts (axis contract §6): shapes under both names, defaults, the
//! computed flags, validation, every action with its guard, billing dates by
//! frequency, the queries, filters, soft delete and restore, the audit trail,
//! client scoping and `X-Client-ID` (§3), and the client counts (§5).

use crate::clients::read;
use crate::common::*;

pub const ITEM_KEYS: &[&str] = &[
    "id",
    "contract_number",
    "title",
    "client_id",
    "client_name",
    "start_date",
    "end_date",
    "billing_amount",
    "billing_rate",
    "currency",
    "status",
    "payment_status",
    "is_active",
    "is_expired",
    "days_remaining",
    "created_at",
    "updated_at",
];

pub const DETAIL_EXTRA: &[&str] = &[
    "description",
    "renewal_date",
    "billing_frequency",
    "payment_frequency",
    "payment_terms",
    "last_billing_date",
    "next_billing_date",
    "auto_renew",
    "is_auto_renew",
    "is_renewable",
    "renewal_notice_days",
    "document_url",
    "signed_by",
    "signed_at",
    "termination_reason",
    "notes",
    "metadata",
    "client",
    "is_pending_renewal",
    "is_payment_overdue",
    "deleted_at",
];

pub fn detail_keys() -> Vec<String> {
    let mut all: Vec<&str> = ITEM_KEYS.to_vec();
    all.extend(DETAIL_EXTRA);
    sorted(&all)
}

const DENIED: &str = "You do not have permission to perform this action.";

/// Today (UTC) moved by `days`, as `YYYY-MM-DD`.
pub fn day(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Today moved by `months`, as `YYYY-MM-DD`.
fn months(n: u32) -> String {
    chrono::Utc::now()
        .date_naive()
        .checked_add_months(chrono::Months::new(n))
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// Creates a contract as `actor`; the detail.
pub async fn create(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let r = app
        .post("/api/contracts/")
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

/// A running contract of `client` (a year around today), its id.
pub async fn running(app: &TestApp, actor: &Actor, client: &str) -> String {
    create(
        app,
        actor,
        json!({"client_id": client, "start_date": day(-30), "end_date": day(335),
               "billing_amount": "1500", "status": "Active"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
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

fn set(items: &[&str]) -> Vec<String> {
    sorted(items)
}

db_test!(contract_defaults_shapes_and_computed_fields, |app| {
    let admin = app.superuser().await;
    let client = app.client("Acme Mining").await;
    let r = app
        .post("/api/contracts/")
        .bearer(&admin.access)
        .json(
            &json!({"client_id": client, "start_date": day(-10), "end_date": day(20),
                      "billing_amount": 1500}),
        )
        .send()
        .await;
    r.assert_status(201);
    let d = &r.json;
    assert_eq!(keys(d), detail_keys());
    let id = d["id"].as_str().unwrap();
    assert!(is_cuid(id));
    assert_eq!(d["title"], "Acme Mining contract");
    assert_eq!(
        d["contract_number"],
        format!("CTR-{}", id[..8].to_uppercase())
    );
    assert_eq!(d["currency"], "UGX");
    assert_eq!(d["status"], "Draft");
    assert_eq!(d["payment_status"], "Pending");
    assert_eq!(d["billing_amount"], "1500.00");
    assert_eq!(d["billing_rate"], "1500.00");
    assert_eq!(d["billing_frequency"], "Monthly");
    assert_eq!(d["payment_frequency"], "Monthly");
    assert_eq!(d["auto_renew"], false);
    assert_eq!(d["is_auto_renew"], false);
    assert_eq!(d["is_renewable"], true);
    assert_eq!(d["renewal_notice_days"], 30);
    assert_eq!(d["metadata"], json!({}));
    assert_eq!(d["deleted_at"], Value::Null);
    assert_eq!(d["client_id"], client);
    assert_eq!(d["client_name"], "Acme Mining");
    assert_eq!(
        d["client"],
        json!({"id": client, "name": "Acme Mining", "email": format!("{client}@client.example")})
    );
    // Draft is not active, whatever the dates.
    assert_eq!(d["is_active"], false);
    assert_eq!(d["is_expired"], false);
    assert_eq!(d["days_remaining"], 20);
    assert_eq!(d["is_pending_renewal"], false);
    assert_eq!(d["is_payment_overdue"], false);
    assert_eq!(d["start_date"], day(-10));

    // Every field, the original's names, enums in any case.
    let full = create(
        &app,
        &admin,
        json!({"client": client, "title": "Wellness 2026", "description": "EAP",
               "contract_number": "AX-001", "start_date": day(-100), "end_date": day(-1),
               "renewal_date": day(-5), "billing_rate": "2500.50", "currency": "USD",
               "payment_frequency": "SEMI_ANNUAL", "payment_status": "OVERDUE", "payment_terms": "Net 30",
               "last_billing_date": day(-40), "next_billing_date": day(-2), "is_auto_renew": true,
               "is_renewable": false, "renewal_notice_days": 60, "document_url": "https://docs.example/c.pdf",
               "signed_by": "Thandi", "signed_at": "2026-01-05T10:00:00Z", "status": "active",
               "notes": "Key", "metadata": {"tier": "gold"}, "id": "ignored"}),
    )
    .await;
    assert_eq!(full["title"], "Wellness 2026");
    assert_eq!(full["contract_number"], "AX-001");
    assert_eq!(full["billing_amount"], "2500.50");
    assert_eq!(full["billing_rate"], "2500.50");
    assert_eq!(full["billing_frequency"], "Semi-Annual");
    assert_eq!(full["payment_frequency"], "Semi-Annual");
    assert_eq!(full["payment_status"], "Overdue");
    assert_eq!(full["auto_renew"], true);
    assert_eq!(full["is_auto_renew"], true);
    assert_eq!(full["is_renewable"], false);
    assert_eq!(full["renewal_notice_days"], 60);
    assert_eq!(full["status"], "Active");
    assert_eq!(full["currency"], "USD");
    assert_eq!(full["metadata"], json!({"tier": "gold"}));
    assert_ne!(full["id"], "ignored");
    // Ended yesterday: expired, not active, one day past.
    assert_eq!(full["is_active"], false);
    assert_eq!(full["is_expired"], true);
    assert_eq!(full["days_remaining"], -1);
    assert_eq!(full["is_payment_overdue"], true);
    assert_eq!(full["is_pending_renewal"], false);

    // Running, renewal date reached, payment Pending past its billing date.
    let live = create(
        &app,
        &admin,
        json!({"client_id": client, "start_date": day(-10), "end_date": day(50), "renewal_date": day(0),
               "billing_amount": 10, "status": "Active", "next_billing_date": day(-1)}),
    )
    .await;
    assert_eq!(live["is_active"], true);
    assert_eq!(live["is_pending_renewal"], true);
    assert_eq!(live["is_payment_overdue"], true);
    assert_eq!(live["days_remaining"], 50);

    // List items and reads.
    let page = read(&app, &admin, "/api/contracts/").await;
    assert_page(&page, 3);
    for item in page["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(ITEM_KEYS));
    }
    // Default order: newest start first.
    let starts: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["start_date"].as_str().unwrap())
        .collect();
    assert_eq!(starts, vec![day(-10), day(-10), day(-100)]);
    let one = read(&app, &admin, &format!("/api/contracts/{id}/")).await;
    assert_eq!(keys(&one), detail_keys());

    // 401 without a token.
    let r = app.get("/api/contracts/").send().await;
    assert_error(
        &r,
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    // Unknown, malformed ids: 404 Contract not found.
    for bad in ["nope", "c00000000000000000000000x"] {
        let r = app
            .get(&format!("/api/contracts/{bad}/"))
            .bearer(&admin.access)
            .send()
            .await;
        assert_error(&r, 404, "not_found", "Contract not found");
    }
});

db_test!(contract_input_is_validated, |app| {
    let admin = app.superuser().await;
    let client = app.client("Acme").await;
    let base = json!({"client_id": client, "start_date": "2026-01-01", "end_date": "2026-12-31",
                      "billing_amount": "100.00"});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() && k.starts_with('-') {
                body.as_object_mut().unwrap().remove(&k[1..]);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"-client_id": null}),
            "client_id",
            Some("This field is required."),
        ),
        (
            json!({"-start_date": null}),
            "start_date",
            Some("This field is required."),
        ),
        (
            json!({"-end_date": null}),
            "end_date",
            Some("This field is required."),
        ),
        (
            json!({"-billing_amount": null}),
            "billing_amount",
            Some("This field is required."),
        ),
        (
            json!({"client_id": "c00000000000000000000000x"}),
            "client_id",
            Some("Invalid pk \"c00000000000000000000000x\" - object does not exist."),
        ),
        (
            json!({"end_date": "2025-12-31"}),
            "end_date",
            Some("End date must be after start date"),
        ),
        (
            json!({"end_date": "2026-01-01"}),
            "end_date",
            Some("End date must be after start date"),
        ),
        (
            json!({"renewal_date": "2027-01-01"}),
            "renewal_date",
            Some("Renewal date must be within the contract period"),
        ),
        (
            json!({"renewal_date": "2025-06-01"}),
            "renewal_date",
            Some("Renewal date must be within the contract period"),
        ),
        (
            json!({"start_date": "01/01/2026"}),
            "start_date",
            Some("Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ),
        (
            json!({"end_date": "2026-02-30"}),
            "end_date",
            Some("Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ),
        (json!({"start_date": 20260101}), "start_date", None),
        (
            json!({"billing_amount": "-1"}),
            "billing_amount",
            Some("Ensure this value is greater than or equal to 0."),
        ),
        (json!({"billing_amount": "abc"}), "billing_amount", None),
        (json!({"billing_amount": "1.234"}), "billing_amount", None),
        (
            json!({"status": "Terminated"}),
            "status",
            Some("\"Terminated\" is not a valid choice."),
        ),
        (
            json!({"payment_status": "Late"}),
            "payment_status",
            Some("\"Late\" is not a valid choice."),
        ),
        (json!({"is_renewable": "maybe"}), "is_renewable", None),
        (
            json!({"renewal_notice_days": -1}),
            "renewal_notice_days",
            Some("Ensure this value is greater than or equal to 0."),
        ),
        (
            json!({"metadata": [1]}),
            "metadata",
            Some("Value must be valid JSON object."),
        ),
        (
            json!({"billing_frequency": "x".repeat(51)}),
            "billing_frequency",
            Some("Ensure this field has no more than 50 characters."),
        ),
    ];
    let before = app.trail_counts().await;
    for (patch, field, message) in cases {
        let r = post(&app, &admin, "/api/contracts/", with(patch.clone())).await;
        assert_field_error(&r, field, message);
    }
    assert_eq!(
        app.trail_counts().await,
        before,
        "failed requests write nothing"
    );
    // Zero is a fine amount; a renewal date on the last day is inside.
    let ok = create(
        &app,
        &admin,
        with(json!({"billing_amount": 0, "renewal_date": "2026-12-31"})),
    )
    .await;
    assert_eq!(ok["billing_amount"], "0.00");
    // Free-text frequency is kept as written.
    let free = create(
        &app,
        &admin,
        with(json!({"billing_frequency": "Per session"})),
    )
    .await;
    assert_eq!(free["billing_frequency"], "Per session");
    // Contract numbers are unique among live contracts.
    create(&app, &admin, with(json!({"contract_number": "AX-9"}))).await;
    let r = post(
        &app,
        &admin,
        "/api/contracts/",
        with(json!({"contract_number": "AX-9"})),
    )
    .await;
    assert_field_error(
        &r,
        "contract_number",
        Some("A contract with this contract number already exists."),
    );
    // Malformed JSON.
    let r = app
        .post("/api/contracts/")
        .bearer(&admin.access)
        .raw("application/json", "{")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");

    // Updates: the client is fixed, the period is checked as it will be,
    // the status moves only through actions.
    let id = ok["id"].as_str().unwrap();
    let other = app.client("Other").await;
    let r = app
        .patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"client_id": other}))
        .send()
        .await;
    assert_field_error(
        &r,
        "client_id",
        Some("This field cannot be changed after creation."),
    );
    let r = app
        .patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"end_date": "2025-01-01"}))
        .send()
        .await;
    assert_field_error(&r, "end_date", Some("End date must be after start date"));
    let r = app
        .patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(
            &json!({"client_id": client, "status": "Active", "title": "Renamed",
                      "billing_rate": 99, "is_auto_renew": true}),
        )
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Draft");
    assert_eq!(r.json["title"], "Renamed");
    assert_eq!(r.json["billing_amount"], "99.00");
    assert_eq!(r.json["auto_renew"], true);
    let r = app
        .patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"status": "Terminated"}))
        .send()
        .await;
    assert_field_error(&r, "status", Some("\"Terminated\" is not a valid choice."));
    // PUT requires the required fields.
    let r = app
        .put(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"title": "Only"}))
        .send()
        .await;
    for field in ["client_id", "start_date", "end_date", "billing_amount"] {
        assert_field_error(&r, field, Some("This field is required."));
    }
    let r = app
        .put(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&with(json!({"title": "", "end_date": "2027-06-30"})))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["title"], "Acme contract");
    assert_eq!(r.json["end_date"], "2027-06-30");
});

db_test!(contract_actions_and_their_guards, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let client = app.client("Acme").await;
    let draft = create(
        &app,
        &admin,
        json!({"client_id": client, "start_date": day(-10), "end_date": day(100), "billing_amount": 100,
               "renewal_date": day(50)}),
    )
    .await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let at = |action: &str| format!("/api/contracts/{id}/{action}/");
    let refused = |r: &kernel::testing::TestResponse, text: &str| {
        assert_error(r, 400, "invalid_state", text);
    };

    // Draft: not suspendable, renewable or expirable... but activatable.
    refused(
        &post(&app, &admin, &at("suspend"), json!({})).await,
        "Cannot suspend a contract that is Draft",
    );
    refused(
        &post(
            &app,
            &admin,
            &at("renew"),
            json!({"new_end_date": day(400)}),
        )
        .await,
        "Cannot renew a contract that is Draft",
    );
    let r = post(&app, &manager, &at("activate"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_active"], true);
    refused(
        &post(&app, &admin, &at("activate"), json!({})).await,
        "Contract is already Active",
    );
    // Suspend (with reason) and back.
    let r = post(&app, &admin, &at("suspend"), json!({"reason": "Unpaid"})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Suspended");
    assert_eq!(r.json["metadata"]["suspension_reason"], "Unpaid");
    refused(
        &post(&app, &admin, &at("suspend"), json!({})).await,
        "Contract is already Suspended",
    );
    refused(
        &post(
            &app,
            &admin,
            &at("renew"),
            json!({"new_end_date": day(400)}),
        )
        .await,
        "Cannot renew a contract that is Suspended",
    );
    post(&app, &admin, &at("activate"), json!({}))
        .await
        .assert_status(200);

    // Renew: the new end must be after the current one.
    let r = post(&app, &admin, &at("renew"), json!({})).await;
    assert_field_error(&r, "new_end_date", Some("This field is required."));
    let r = post(&app, &admin, &at("renew"), json!({"new_end_date": "soon"})).await;
    assert_field_error(
        &r,
        "new_end_date",
        Some("Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    );
    let r = post(
        &app,
        &admin,
        &at("renew"),
        json!({"new_end_date": day(100)}),
    )
    .await;
    refused(&r, "New end date must be after current end date");
    assert_eq!(
        r.json["errors"]["new_end_date"],
        json!(["New end date must be after current end date"])
    );
    let r = post(
        &app,
        &admin,
        &at("renew"),
        json!({"new_end_date": day(465), "new_billing_rate": "120.50"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Renewed");
    assert_eq!(r.json["end_date"], day(465));
    assert_eq!(r.json["billing_amount"], "120.50");
    assert_eq!(r.json["renewal_date"], Value::Null);
    let renewal = &r.json["metadata"]["renewals"][0];
    assert_eq!(renewal["previous_end_date"], day(100));
    assert_eq!(renewal["new_end_date"], day(465));
    assert_eq!(renewal["previous_amount"], "100.00");
    assert_eq!(renewal["new_amount"], "120.50");
    assert_eq!(renewal["renewed_by"], admin.id);
    assert!(renewal["renewed_at"].as_str().unwrap().ends_with('Z'));
    // A second renewal appends (alias new_billing_amount; amount kept when absent).
    let r = post(
        &app,
        &admin,
        &at("renew"),
        json!({"new_end_date": day(800)}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["billing_amount"], "120.50");
    assert_eq!(r.json["metadata"]["renewals"].as_array().unwrap().len(), 2);
    let r = post(
        &app,
        &admin,
        &at("renew"),
        json!({"new_end_date": day(900), "new_billing_amount": 5}),
    )
    .await;
    assert_eq!(r.json["billing_amount"], "5.00");

    // Expire, then renew from Expired; not renewable → refused.
    let r = post(&app, &admin, &at("mark_expired"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Expired");
    refused(
        &post(&app, &admin, &at("mark_expired"), json!({})).await,
        "Contract is already Expired",
    );
    refused(
        &post(&app, &admin, &at("terminate"), json!({"reason": "x"})).await,
        "Cannot terminate a contract that is Expired",
    );
    app.patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"is_renewable": false}))
        .send()
        .await
        .assert_status(200);
    refused(
        &post(
            &app,
            &admin,
            &at("renew"),
            json!({"new_end_date": day(2000)}),
        )
        .await,
        "Contract is not renewable",
    );

    // Terminate needs a reason.
    let other = create(
        &app,
        &admin,
        json!({"client_id": client, "start_date": day(-400), "end_date": day(-1), "billing_amount": 1,
               "status": "Pending"}),
    )
    .await;
    let other = other["id"].as_str().unwrap().to_owned();
    let r = post(
        &app,
        &admin,
        &format!("/api/contracts/{other}/activate/"),
        json!({}),
    )
    .await;
    refused(&r, "Cannot activate a contract whose end date has passed");
    for body in [json!({}), json!({"reason": "  "}), json!({"reason": null})] {
        let r = post(
            &app,
            &admin,
            &format!("/api/contracts/{other}/terminate/"),
            body,
        )
        .await;
        assert_field_error(&r, "reason", Some("Termination reason is required"));
    }
    let r = post(
        &app,
        &admin,
        &format!("/api/contracts/{other}/terminate/"),
        json!({"reason": "Client closed"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "Terminated");
    assert_eq!(r.json["termination_reason"], "Client closed");
    refused(
        &post(
            &app,
            &admin,
            &format!("/api/contracts/{other}/terminate/"),
            json!({"reason": "again"}),
        )
        .await,
        "Contract is already Terminated",
    );
    refused(
        &post(
            &app,
            &admin,
            &format!("/api/contracts/{other}/activate/"),
            json!({}),
        )
        .await,
        "Cannot activate a contract that is Terminated",
    );
    refused(
        &post(
            &app,
            &admin,
            &format!("/api/contracts/{other}/mark_expired/"),
            json!({}),
        )
        .await,
        "Cannot expire a contract that is Terminated",
    );
    // The termination reason is the entity change's reason.
    let changes = app.entity_changes_of("Contract", &other).await;
    assert_eq!(
        changes.last().unwrap().change_reason.as_deref(),
        Some("Client closed")
    );

    // Payment guards.
    let r = post(&app, &admin, &at("mark_overdue"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["payment_status"], "Overdue");
    assert_eq!(r.json["is_payment_overdue"], true);
    refused(
        &post(&app, &admin, &at("mark_overdue"), json!({})).await,
        "Payment is already Overdue",
    );
    let r = post(&app, &admin, &at("mark_paid"), json!({})).await;
    r.assert_status(200);
    assert_eq!(r.json["payment_status"], "Paid");
    assert_eq!(r.json["is_payment_overdue"], false);
    // Paid again is fine (another period billed).
    post(&app, &admin, &at("mark_paid"), json!({}))
        .await
        .assert_status(200);
    post(&app, &admin, &at("mark_overdue"), json!({}))
        .await
        .assert_status(200);
    for status in ["Cancelled", "Refunded"] {
        app.patch(&format!("/api/contracts/{id}/"))
            .bearer(&admin.access)
            .json(&json!({"payment_status": status}))
            .send()
            .await
            .assert_status(200);
        refused(
            &post(&app, &admin, &at("mark_paid"), json!({})).await,
            &format!("Cannot mark a contract paid when its payment is {status}"),
        );
        refused(
            &post(&app, &admin, &at("mark_overdue"), json!({})).await,
            &format!("Cannot mark a contract overdue when its payment is {status}"),
        );
    }
    // Actions on unknown rows: 404.
    let r = post(
        &app,
        &admin,
        "/api/contracts/c00000000000000000000000x/activate/",
        json!({}),
    )
    .await;
    assert_error(&r, 404, "not_found", "Contract not found");
});

db_test!(mark_paid_moves_billing_dates_by_frequency, |app| {
    let admin = app.superuser().await;
    let client = app.client("Acme").await;
    let cases = [
        ("Weekly", Some(day(7))),
        ("monthly", Some(months(1))),
        ("QUARTERLY", Some(months(3))),
        ("SEMI_ANNUAL", Some(months(6))),
        ("Semi-Annual", Some(months(6))),
        ("Annually", Some(months(12))),
        ("Annual", Some(months(12))),
        ("Per session", None),
    ];
    for (frequency, next) in cases {
        let c = create(
            &app,
            &admin,
            json!({"client_id": client, "start_date": day(-10), "end_date": day(400),
                   "billing_amount": 10, "billing_frequency": frequency, "next_billing_date": day(-3)}),
        )
        .await;
        let id = c["id"].as_str().unwrap();
        let r = post(
            &app,
            &admin,
            &format!("/api/contracts/{id}/mark_paid/"),
            json!({}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["last_billing_date"], day(0), "{frequency}");
        assert_eq!(r.json["next_billing_date"], json!(next), "{frequency}");
    }
});

db_test!(contract_queries_filters_and_search, |app| {
    let admin = app.superuser().await;
    let acme = app.client("Acme Mining").await;
    let beta = app.client("Beta Bank").await;
    let mk = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            create(app, admin, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // Running, ending in 20 days, renewal due, billing in 3 days.
    let a = mk(
        json!({"client_id": acme, "title": "Alpha", "start_date": day(-30), "end_date": day(20),
                      "renewal_date": day(-1), "billing_amount": 300, "status": "Active",
                      "next_billing_date": day(3), "notes": "gold tier"}),
    )
    .await;
    // Running for a year; payment overdue.
    let b = mk(
        json!({"client_id": beta, "title": "Bravo", "start_date": day(-5), "end_date": day(360),
                      "billing_amount": 100, "status": "Active", "payment_status": "Overdue",
                      "auto_renew": true, "contract_number": "ZZ-77"}),
    )
    .await;
    // Draft in the future, Pending payment past its billing date.
    let c = mk(
        json!({"client_id": acme, "title": "Charlie", "start_date": day(10), "end_date": day(40),
                      "billing_amount": 200, "next_billing_date": day(-2), "is_renewable": false}),
    )
    .await;
    let get = |path: String| {
        let app = &app;
        let admin = &admin;
        async move { read(app, admin, &path).await }
    };
    assert_eq!(
        ids(&get("/api/contracts/active/".into()).await),
        set(&[&a, &b])
    );
    assert_eq!(
        ids(&get(format!("/api/contracts/client/{acme}/")).await),
        set(&[&a, &c])
    );
    assert_eq!(
        ids(&get("/api/contracts/expiring_soon/".into()).await),
        set(&[&a])
    );
    assert_eq!(
        ids(&get("/api/contracts/expiring_soon/?days=365".into()).await),
        set(&[&a, &b])
    );
    assert_eq!(
        ids(&get("/api/contracts/pending_renewal/".into()).await),
        set(&[&a])
    );
    assert_eq!(
        ids(&get("/api/contracts/overdue_payments/".into()).await),
        set(&[&b, &c])
    );
    assert_eq!(
        ids(&get("/api/contracts/billing_due/".into()).await),
        set(&[&a])
    );
    assert_eq!(
        ids(&get("/api/contracts/billing_due/?days=2".into()).await),
        Vec::<String>::new()
    );
    let r = app
        .get("/api/contracts/expiring_soon/?days=abc")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["error"], "Invalid days parameter");
    let r = app
        .get("/api/contracts/client/c00000000000000000000000x/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    // Arrays are bare and carry list items.
    let active = get("/api/contracts/active/".into()).await;
    assert_eq!(keys(&active[0]), sorted(ITEM_KEYS));

    // Filters, search, ordering on the list and on search/ (paginated).
    for base in ["/api/contracts/", "/api/contracts/search/"] {
        let q = |query: &str| format!("{base}?{query}");
        let page = get(q(&format!("client_id={acme}"))).await;
        assert_page(&page, 2);
        assert_eq!(ids(&page), set(&[&a, &c]));
        assert_eq!(ids(&get(q("status=ACTIVE")).await), set(&[&a, &b]));
        assert_eq!(ids(&get(q("payment_status=overdue")).await), set(&[&b]));
        assert_eq!(ids(&get(q("is_renewable=false")).await), set(&[&c]));
        assert_eq!(ids(&get(q("is_auto_renew=1")).await), set(&[&b]));
        assert_eq!(ids(&get(q("search=beta")).await), set(&[&b]));
        assert_eq!(ids(&get(q("search=zz-77")).await), set(&[&b]));
        assert_eq!(ids(&get(q("search=GOLD")).await), set(&[&a]));
        assert_eq!(ids(&get(q("search=charlie")).await), set(&[&c]));
        let ordered = get(q("ordering=billing_amount")).await;
        let order: Vec<&str> = ordered["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(order, vec![b.as_str(), c.as_str(), a.as_str()]);
        let default = get(base.to_owned()).await;
        let order: Vec<&str> = default["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(order, vec![c.as_str(), b.as_str(), a.as_str()]);
        for (param, value) in [
            ("status", "Bogus"),
            ("payment_status", "Bogus"),
            ("is_renewable", "maybe"),
        ] {
            let r = app
                .get(&q(&format!("{param}={value}")))
                .bearer(&admin.access)
                .send()
                .await;
            assert_field_error(&r, param, None);
        }
        let page = get(q("page_size=1&page=2")).await;
        assert_page(&page, 3);
        assert_eq!(page["page"], 2);
        assert_eq!(page["results"].as_array().unwrap().len(), 1);
    }

    // The clients' counts: running contracts only, live ones only.
    let clients = get("/api/clients/".into()).await;
    // Acme: Alpha runs, Charlie is a Draft; Beta: Bravo runs.
    for row in clients["results"].as_array().unwrap() {
        assert_eq!(row["active_contracts_count"], 1, "{row}");
    }
    let stats = get(format!("/api/clients/{acme}/stats/")).await;
    assert_eq!(stats["total_contracts"], 2);
    assert_eq!(stats["active_contracts"], 1);
    let detail = get(format!("/api/clients/{acme}/")).await;
    assert_eq!(detail["active_contracts_count"], 1);
    app.delete(&format!("/api/contracts/{a}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let stats = get(format!("/api/clients/{acme}/stats/")).await;
    assert_eq!(stats["total_contracts"], 1);
    assert_eq!(stats["active_contracts"], 0);
    let detail = get(format!("/api/clients/{acme}/")).await;
    assert_eq!(detail["active_contracts_count"], 0);
});

db_test!(contract_soft_delete_restore_and_audit, |app| {
    let admin = app.superuser().await;
    let manager = app.manager(&admin).await;
    let client = app.client("Acme").await;
    let before = app.trail_counts().await;
    let c = create(
        &app,
        &manager,
        json!({"client_id": client, "start_date": "2026-01-01", "end_date": "2026-12-31",
               "billing_amount": "1500", "contract_number": "AX-1"}),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    // Create: one log, one entity change, a field change per non-null field.
    let logs = app.audit_logs_of("Contract", &id).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].action, "Create");
    assert_eq!(logs[0].user_id.as_deref(), Some(manager.id.as_str()));
    assert_eq!(logs[0].data["status_code"], 201);
    assert_eq!(
        logs[0].data["changes"]["billing_amount"],
        json!([null, "1500.00"])
    );
    assert_eq!(
        logs[0].data["changes"]["start_date"],
        json!([null, "2026-01-01"])
    );
    let changes = app.entity_changes_of("Contract", &id).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].change_type, "Create");
    let fields = app.field_changes_of(&changes[0].id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    for name in [
        "billing_amount",
        "client_id",
        "contract_number",
        "status",
        "title",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(!names.contains(&"updated_at"));
    let after_create = app.trail_counts().await;
    assert_eq!(after_create.0, before.0 + 1);
    assert_eq!(after_create.1, before.1 + 1);

    // Update: only what changed.
    app.patch(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"billing_amount": "1750.25", "notes": "raised"}))
        .send()
        .await
        .assert_status(200);
    let changes = app.entity_changes_of("Contract", &id).await;
    let update = changes.last().unwrap();
    assert_eq!(update.change_type, "Update");
    let fields = app.field_changes_of(&update.id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    assert_eq!(names, vec!["billing_amount", "notes"]);
    assert_eq!(fields[0].old_value, Some(json!("1500.00")));
    assert_eq!(fields[0].new_value, Some(json!("1750.25")));
    // An action: Activate keeps its name.
    post(
        &app,
        &admin,
        &format!("/api/contracts/{id}/activate/"),
        json!({}),
    )
    .await
    .assert_status(200);
    let changes = app.entity_changes_of("Contract", &id).await;
    assert_eq!(changes.last().unwrap().change_type, "Activate");
    let logs = app.audit_logs_of("Contract", &id).await;
    assert_eq!(logs.last().unwrap().action, "Update");

    // Delete: 204, gone everywhere, its number free again; history stays.
    let r = app
        .delete(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app
        .get(&format!("/api/contracts/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Contract not found");
    assert_page(&read(&app, &admin, "/api/contracts/").await, 0);
    assert_eq!(
        read(&app, &admin, "/api/contracts/active/").await,
        json!([])
    );
    let changes = app.entity_changes_of("Contract", &id).await;
    assert_eq!(changes.last().unwrap().change_type, "Delete");
    let fields = app.field_changes_of(&changes.last().unwrap().id).await;
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field_name, "deleted_at");
    let history = read(
        &app,
        &admin,
        &format!("/api/audit-logs/entity/Contract/{id}/"),
    )
    .await;
    assert_eq!(history.as_array().unwrap().len(), 4);
    let reuse = create(
        &app,
        &admin,
        json!({"client_id": client, "start_date": "2026-01-01", "end_date": "2026-12-31",
               "billing_amount": 1, "contract_number": "AX-1"}),
    )
    .await;
    // Restore: admin/manager only; the number is taken meanwhile → 400.
    let restore = format!("/api/contracts/{id}/restore/");
    let r = post(&app, &admin, &restore, json!({})).await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    app.delete(&format!(
        "/api/contracts/{}/",
        reuse["id"].as_str().unwrap()
    ))
    .bearer(&admin.access)
    .send()
    .await
    .assert_status(204);
    let r = post(&app, &manager, &restore, json!({})).await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), detail_keys());
    assert_eq!(r.json["deleted_at"], Value::Null);
    assert_eq!(r.json["contract_number"], "AX-1");
    let changes = app.entity_changes_of("Contract", &id).await;
    assert_eq!(changes.last().unwrap().change_type, "Restore");
    let r = post(&app, &admin, &restore, json!({})).await;
    assert_error(&r, 400, "invalid_state", "Contract is not deleted");
});

db_test!(contracts_are_scoped_to_granted_clients, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let mine = app.client("Mine").await;
    let theirs = app.client("Theirs").await;
    app.grant(&admin, &scoped.id, &mine).await;
    let own = running(&app, &admin, &mine).await;
    let foreign = running(&app, &admin, &theirs).await;

    // Reads: granted clients only; others are absent.
    let page = read(&app, &scoped, "/api/contracts/").await;
    assert_page(&page, 1);
    assert_eq!(ids(&page), set(&[&own]));
    assert_eq!(
        ids(&read(&app, &scoped, "/api/contracts/active/").await),
        set(&[&own])
    );
    assert_eq!(
        ids(&read(&app, &scoped, "/api/contracts/search/").await),
        set(&[&own])
    );
    read(&app, &scoped, &format!("/api/contracts/{own}/")).await;
    let r = app
        .get(&format!("/api/contracts/{foreign}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Contract not found");
    let r = app
        .get(&format!("/api/contracts/client/{theirs}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Client not found");
    // A filter naming a client out of reach: an empty list.
    assert_page(
        &read(
            &app,
            &scoped,
            &format!("/api/contracts/?client_id={theirs}"),
        )
        .await,
        0,
    );

    // Writes: 403 on what they see, 404 on what they do not.
    let body =
        json!({"client_id": mine, "start_date": day(0), "end_date": day(10), "billing_amount": 1});
    let r = post(&app, &scoped, "/api/contracts/", body).await;
    assert_error(&r, 403, "permission_denied", DENIED);
    for (method, path) in [
        ("PATCH", format!("/api/contracts/{own}/")),
        ("PUT", format!("/api/contracts/{own}/")),
        ("DELETE", format!("/api/contracts/{own}/")),
        ("POST", format!("/api/contracts/{own}/suspend/")),
        ("POST", format!("/api/contracts/{own}/mark_paid/")),
        ("POST", format!("/api/contracts/{own}/restore/")),
    ] {
        let request = match method {
            "PATCH" => app.patch(&path),
            "PUT" => app.put(&path),
            "DELETE" => app.delete(&path),
            _ => app.post(&path),
        };
        let r = request
            .bearer(&scoped.access)
            .json(&json!({"title": "x"}))
            .send()
            .await;
        assert_error(&r, 403, "permission_denied", DENIED);
    }
    let r = post(
        &app,
        &scoped,
        &format!("/api/contracts/{foreign}/activate/"),
        json!({}),
    )
    .await;
    assert_error(&r, 404, "not_found", "Contract not found");
    // A client they cannot see is no client at all to the admin's form either.
    let r = post(
        &app,
        &admin,
        "/api/contracts/",
        json!({"client_id": "c00000000000000000000000x", "start_date": day(0), "end_date": day(1),
               "billing_amount": 1}),
    )
    .await;
    assert_field_error(&r, "client_id", None);

    // X-Client-ID: checked, then lists narrow to it (platform users too).
    let with = |actor: &Actor, header: &str, path: &str| {
        app.get(path)
            .bearer(&actor.access)
            .header("X-Client-ID", header)
    };
    let r = with(&scoped, "NOT-A-CUID", "/api/contracts/").send().await;
    assert_error(&r, 403, "permission_denied", "Invalid client ID format");
    let r = with(&scoped, "c00000000000000000000000x", "/api/contracts/")
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "Client not found or has been deleted",
    );
    let r = with(&scoped, &theirs, "/api/contracts/").send().await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
    let r = with(&scoped, &theirs, &format!("/api/contracts/{own}/"))
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );
    let r = with(&scoped, &mine, "/api/contracts/").send().await;
    r.assert_status(200);
    assert_eq!(ids(&r.json), set(&[&own]));
    let r = with(&admin, &theirs, "/api/contracts/").send().await;
    assert_eq!(ids(&r.json), set(&[&foreign]));
    let r = with(&admin, &theirs, "/api/contracts/active/").send().await;
    assert_eq!(ids(&r.json), set(&[&foreign]));
    let r = with(&admin, &theirs, "/api/contracts/search/").send().await;
    assert_eq!(ids(&r.json), set(&[&foreign]));
    // Clients ignore the header.
    let r = with(&scoped, "NOT-A-CUID", "/api/clients/").send().await;
    r.assert_status(200);
    // A revoked grant takes effect on the next request.
    let stats = read(&app, &scoped, &format!("/api/clients/{mine}/stats/")).await;
    assert_eq!(stats["total_contracts"], 1);
    assert_eq!(stats["active_contracts"], 1);
});
