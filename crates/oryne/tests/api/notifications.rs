//! Notifications (contract §11): in-app lists and read marks scoped to the
//! caller, preferences, templates, sending to audiences, the delivery log
//! and retry, delivery through the GNS (v1 and legacy) or the mailer, the
//! live stream and the signed gateway callback.

use std::time::Duration;

use crate::common::*;

const BASE: &str = "/api/v1/notifications/";

fn path(rest: &str) -> String {
    format!("{BASE}{rest}")
}

async fn send(
    app: &TestApp,
    school: &School,
    who: &Actor,
    body: Value,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", &path("send/"))
        .bearer(&who.access)
        .json(&body)
        .send()
        .await
}

/// Sends an in-app announcement `title` to `users`.
async fn announce(app: &TestApp, school: &School, users: &[i64], title: &str) {
    let r = send(
        app,
        school,
        &school.admin,
        json!({"title": title, "body": format!("{title} body"), "channels": ["in_app"], "to": {"user_ids": users}}),
    )
    .await;
    r.assert_status(202);
}

async fn get(
    app: &TestApp,
    school: &School,
    who: &Actor,
    rest: &str,
) -> kernel::testing::TestResponse {
    app.at(school, "GET", &path(rest))
        .bearer(&who.access)
        .send()
        .await
}

async fn post(
    app: &TestApp,
    school: &School,
    who: &Actor,
    rest: &str,
) -> kernel::testing::TestResponse {
    app.at(school, "POST", &path(rest))
        .bearer(&who.access)
        .send()
        .await
}

/// The delivery log rows of `template` (as the school's admin sees them).
async fn logs(app: &TestApp, school: &School, query: &str) -> Vec<Value> {
    let r = get(
        app,
        school,
        &school.admin,
        &format!("logs/?per_page=100&{query}"),
    )
    .await;
    r.assert_status(200);
    r.json["data"].as_array().unwrap().clone()
}

async fn audit_count(app: &TestApp, school: &School, resource: &str) -> usize {
    let r = app
        .at(
            school,
            "GET",
            &format!("/api/v1/audit-logs/?resource_type={resource}&per_page=100"),
        )
        .bearer(&school.admin.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["data"].as_array().unwrap().len()
}

db_test!(in_app_notifications_belong_to_their_user, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    let bob = app.member(&alpha, "bob@alpha.test", &["Student"]).await;
    announce(&app, &alpha, &[ann.id], "First").await;
    announce(&app, &alpha, &[ann.id], "Second").await;
    announce(&app, &alpha, &[bob.id], "For Bob").await;

    app.at(&alpha, "GET", BASE).send().await.assert_status(401);
    let r = get(&app, &alpha, &ann, "").await;
    r.assert_status(200);
    let titles: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Second", "First"], "own only, newest first");
    assert_eq!(r.json["meta"]["pagination"]["total"], 2);
    assert_eq!(r.json["data"][0]["is_read"], false);
    let first = r.json["data"][1]["id"].as_i64().unwrap();

    assert_error(
        &get(&app, &alpha, &ann, "?unread=maybe").await,
        400,
        "ERR_VALIDATION_01",
    );
    let r = get(&app, &alpha, &ann, "unread-count/").await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["count"], 2);

    // Bob's notification is invisible to Ann.
    let bobs = get(&app, &alpha, &bob, "").await.json["data"][0]["id"]
        .as_i64()
        .unwrap();
    assert_error(
        &post(&app, &alpha, &ann, &format!("{bobs}/read/")).await,
        404,
        "ERR_NOT_FOUND_01",
    );
    assert_error(
        &post(&app, &alpha, &ann, "abc/read/").await,
        404,
        "ERR_NOT_FOUND_01",
    );
    app.at(&alpha, "POST", &path(&format!("{first}/read/")))
        .send()
        .await
        .assert_status(401);

    let before = audit_count(&app, &alpha, "Notification").await;
    let r = post(&app, &alpha, &ann, &format!("{first}/read/")).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["is_read"], true);
    assert!(r.json["data"]["read_at"].is_string());
    assert_eq!(audit_count(&app, &alpha, "Notification").await, before + 1);
    let r = get(&app, &alpha, &ann, "?unread=true").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["title"], "Second");
    let r = get(&app, &alpha, &ann, "?unread=false").await;
    assert_eq!(r.json["data"][0]["title"], "First");

    let r = post(&app, &alpha, &ann, "read-all/").await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["updated"], 1);
    assert_eq!(
        get(&app, &alpha, &ann, "unread-count/").await.json["data"]["count"],
        0
    );
    assert_eq!(
        get(&app, &alpha, &bob, "unread-count/").await.json["data"]["count"],
        1,
        "Bob's untouched"
    );
    assert_eq!(
        post(&app, &alpha, &ann, "read-all/").await.json["data"]["updated"],
        0
    );

    // Another school's token is refused here; that school sees none of these.
    let r = app
        .at(&alpha, "GET", BASE)
        .bearer(&beta.admin.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
    let r = get(&app, &beta, &beta.admin, "").await;
    r.assert_status(200);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 0);
    assert_error(
        &post(&app, &beta, &beta.admin, &format!("{first}/read/")).await,
        404,
        "ERR_NOT_FOUND_01",
    );
});

db_test!(preferences_are_honoured_except_mandatory_ones, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    app.at(&alpha, "GET", &path("preferences/"))
        .send()
        .await
        .assert_status(401);
    let r = get(&app, &alpha, &ann, "preferences/").await;
    r.assert_status(200);
    for channel in ["email", "sms", "push"] {
        assert_eq!(r.json["data"][channel]["fee_reminder"], true, "{}", r.json);
        assert!(
            r.json["data"][channel].get("welcome_email").is_none(),
            "mandatory ones are not listed"
        );
    }
    assert!(r.json["data"].get("in_app").is_none());

    let put = |body: Value| {
        app.at(&alpha, "PUT", &path("preferences/"))
            .bearer(&ann.access)
            .json(&body)
            .send()
    };
    let r = put(json!({"email": {"welcome_email": false, "password_reset": false}})).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["email"]
            .to_string()
            .contains("welcome_email"),
        "{}",
        r.json
    );
    assert_error(
        &put(json!({"email": {"nonsense": false}})).await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(
        &put(json!({"fax": {"fee_reminder": false}})).await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(
        &put(json!({"email": {"fee_reminder": "no"}})).await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(&put(json!(["email"])).await, 400, "ERR_VALIDATION_01");
    let before = audit_count(&app, &alpha, "NotificationPreference").await;
    let r = put(json!({"email": {"fee_reminder": false, "welcome_email": true}, "sms": {"fee_reminder": false}})).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["email"]["fee_reminder"], false);
    assert_eq!(r.json["data"]["push"]["fee_reminder"], true);
    assert_eq!(
        audit_count(&app, &alpha, "NotificationPreference").await,
        before + 1
    );
    // Again: still one row per user, template and channel.
    put(json!({"email": {"fee_reminder": false}}))
        .await
        .assert_status(200);
    let r = get(&app, &alpha, &ann, "preferences/").await;
    assert_eq!(r.json["data"]["email"]["fee_reminder"], false);
    assert_eq!(r.json["data"]["sms"]["fee_reminder"], false);

    let r = send(
        &app,
        &alpha,
        &alpha.admin,
        json!({"template": "fee_reminder", "data": {"amount": "50.00", "due_date": "2026-01-01"},
               "channels": ["email", "sms", "in_app"], "to": {"user_ids": [ann.id]}}),
    )
    .await;
    r.assert_status(202);
    assert_eq!(
        r.json["data"]["count"], 1,
        "email and sms are off: {}",
        r.json
    );
    let rows = logs(
        &app,
        &alpha,
        &format!("template=fee_reminder&user_id={}", ann.id),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["channel"], "in_app");

    // A mandatory template is queued even when a stored preference says off.
    let db = seed::db(&app, &alpha).await;
    {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        oryne::entities::notification_preference::ActiveModel {
            user_id: Set(ann.id),
            template: Set("password_reset".into()),
            channel: Set("email".into()),
            enabled: Set(false),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
    }
    {
        let queued = oryne::notify::queue(
            &db,
            oryne::notify::Notice::new(
                "password_reset",
                "email",
                "ann@alpha.test",
                json!({"first_name": "Ann", "login_url": "x"}),
            )
            .to_user(ann.id),
        )
        .await
        .unwrap();
        assert!(queued.is_some());
        let off = oryne::notify::queue(
            &db,
            oryne::notify::Notice::new(
                "fee_reminder",
                "email",
                "ann@alpha.test",
                json!({"amount": "1", "due_date": "2"}),
            )
            .to_user(ann.id),
        )
        .await
        .unwrap();
        assert!(off.is_none());
    }

    let r = get(&app, &alpha, &ann, "templates/").await;
    r.assert_status(200);
    let all = r.json["data"].as_array().unwrap();
    assert_eq!(all.len(), oryne::notify::TEMPLATES.len());
    let welcome = all.iter().find(|t| t["name"] == "welcome_email").unwrap();
    assert_eq!(welcome["mandatory"], true);
    let due = all.iter().find(|t| t["name"] == "assignment_due").unwrap();
    assert_eq!(due["variables"], json!(["title", "due_date"]));
    assert_eq!(due["mandatory"], false);
    app.at(&alpha, "GET", &path("templates/"))
        .send()
        .await
        .assert_status(401);
});

db_test!(send_reaches_only_the_audience_of_the_school, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let staff = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    let pupil = app.member(&alpha, "pupil@alpha.test", &["Student"]).await;
    let s1 = seed::student(&app, &alpha, "s1@alpha.test", "Grade 5", "A").await;
    let s2 = seed::student(&app, &alpha, "s2@alpha.test", "Grade 5", "A").await;
    let s3 = seed::student(&app, &alpha, "s3@alpha.test", "Grade 5", "B").await;
    let p1 = seed::parent(&app, &alpha, "p1@alpha.test", &[s1.id]).await;
    let p3 = seed::parent(&app, &alpha, "p3@alpha.test", &[s3.id]).await;
    let gone = seed::user(&app, &alpha, "gone@alpha.test", &["Student"]).await;
    {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let db = seed::db(&app, &alpha).await;
        let mut row: oryne::entities::user::ActiveModel = gone.clone().into();
        row.is_active = Set(false);
        row.update(&db).await.unwrap();
    }
    let (p1_user, p3_user) = (p1.user_id, p3.user_id);

    let body = json!({"title": "Trip", "body": "Bring lunch", "channels": ["in_app"], "to": {"class_name": "Grade 5", "section": "A"}});
    app.at(&alpha, "POST", &path("send/"))
        .json(&body)
        .send()
        .await
        .assert_status(401);
    assert_error(
        &send(&app, &alpha, &pupil, body.clone()).await,
        403,
        "ERR_PERM_01",
    );
    let before = audit_count(&app, &alpha, "Notification").await;
    let r = send(&app, &alpha, &staff, body).await;
    r.assert_status(202);
    assert_eq!(
        r.json["data"]["count"], 3,
        "two students and one parent: {}",
        r.json
    );
    assert_eq!(audit_count(&app, &alpha, "Notification").await, before + 1);
    let reached: Vec<i64> = logs(&app, &alpha, "template=announcement")
        .await
        .iter()
        .map(|n| n["user_id"].as_i64().unwrap())
        .collect();
    for id in [s1.user_id, s2.user_id, p1_user] {
        assert!(reached.contains(&id), "{id} in {reached:?}");
    }
    for id in [s3.user_id, p3_user] {
        assert!(!reached.contains(&id), "{id} not in {reached:?}");
    }
    let r = send(&app, &alpha, &staff, json!({"title": "All of 5", "body": "x", "channels": ["in_app"], "to": {"class_name": "Grade 5"}})).await;
    assert_eq!(r.json["data"]["count"], 5, "{}", r.json);

    // Roles: active holders only.
    let r = send(&app, &alpha, &staff, json!({"title": "Students", "body": "x", "channels": ["in_app", "email"], "to": {"roles": ["Student"]}})).await;
    r.assert_status(202);
    assert_eq!(
        r.json["data"]["recipients"], 4,
        "pupil, s1, s2, s3 (not the inactive one): {}",
        r.json
    );
    assert_eq!(r.json["data"]["count"], 8);
    assert_error(
        &send(
            &app,
            &alpha,
            &staff,
            json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"roles": ["Wizard"]}}),
        )
        .await,
        400,
        "ERR_VALIDATION_01",
    );

    // All: every active user of this school, none of another school's.
    let total = {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let db = seed::db(&app, &alpha).await;
        oryne::entities::user::Entity::find()
            .filter(oryne::entities::user::Column::IsActive.eq(true))
            .count(&db)
            .await
            .unwrap()
    };
    let r = send(
        &app,
        &alpha,
        &staff,
        json!({"title": "Everyone", "body": "x", "channels": ["in_app"], "to": {"all": true}}),
    )
    .await;
    assert_eq!(r.json["data"]["count"], total, "{}", r.json);
    assert_eq!(
        get(&app, &beta, &beta.admin, "").await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        get(&app, &alpha, &pupil, "").await.json["meta"]["pagination"]["total"],
        2,
        "Students and Everyone"
    );

    // Unknown, inactive and other schools' ids are refused.
    let r = send(&app, &alpha, &staff, json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"user_ids": [pupil.id, 99999]}})).await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(
        r.json["error"]["details"]["to"]
            .to_string()
            .contains("99999")
    );
    let r = send(
        &app,
        &alpha,
        &staff,
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"user_ids": [gone.id]}}),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");

    // Bad input: never a 500.
    let many: Vec<i64> = (1..=5001).collect();
    for bad in [
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"user_ids": many}}),
        json!({"title": "x", "body": "x", "channels": ["fax"], "to": {"all": true}}),
        json!({"title": "x", "body": "x", "channels": [], "to": {"all": true}}),
        json!({"title": "x", "body": "x", "to": {"all": true}}),
        json!({"title": "x", "channels": ["in_app"], "to": {"all": true}}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"all": false}}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"all": true, "roles": ["Staff"]}}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {}}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": "everyone"}),
        json!({"title": "x", "body": "x", "channels": ["in_app"]}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"all": true}, "priority": "asap"}),
        json!({"template": "fee_reminder", "data": {"amount": "1"}, "channels": ["in_app"], "to": {"all": true}}),
        json!({"template": "fee_reminder", "data": {"amount": "1", "due_date": "2", "extra": 1}, "channels": ["in_app"], "to": {"all": true}}),
        json!({"template": "nope", "data": {}, "channels": ["in_app"], "to": {"all": true}}),
        json!({"template": "welcome_email", "data": {"first_name": "a", "tenant_name": "b", "login_url": "c"}, "channels": ["in_app"], "to": {"all": true}}),
        json!({"template": "announcement", "title": "x", "body": "y", "data": {"title": "x", "body": "y"}, "channels": ["in_app"], "to": {"all": true}}),
        json!({"title": "x", "body": "x", "channels": ["in_app"], "to": {"class_name": ""}}),
    ] {
        let r = send(&app, &alpha, &staff, bad).await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
    }
    let r = app
        .at(&alpha, "POST", &path("send/"))
        .bearer(&staff.access)
        .raw("application/json", "{oops")
        .send()
        .await;
    assert_eq!(r.status.as_u16(), 400);

    // A named template with its variables, and a priority.
    let r = send(
        &app,
        &alpha,
        &staff,
        json!({"template": "event_cancelled", "data": {"event": "Sports day"},
        "channels": ["in_app"], "to": {"user_ids": [pupil.id]}, "priority": "high"}),
    )
    .await;
    r.assert_status(202);
    let r = get(&app, &alpha, &pupil, "").await;
    assert_eq!(r.json["data"][0]["title"], "Cancelled: Sports day");
    assert_eq!(r.json["data"][0]["priority"], "high");
});

db_test!(gns_v1_delivery_carries_the_contract_shape, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[("CAMPUS_GNS_URL", &gns.url), ("CAMPUS_GNS_API_KEY", "k")])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    let bob = app.member(&alpha, "bob@alpha.test", &["Student"]).await;
    app.at(&alpha, "PATCH", &format!("/api/v1/users/{}/", ann.id))
        .bearer(&alpha.admin.access)
        .json(&json!({"phone": "+15550100"}))
        .send()
        .await
        .assert_status(200);
    app.run_jobs().await;
    let r = send(
        &app,
        &alpha,
        &alpha.admin,
        json!({"template": "order_status", "data": {"order_no": "O-1", "status": "shipped"},
        "channels": ["email", "sms", "push"], "to": {"user_ids": [ann.id]}, "priority": "urgent"}),
    )
    .await;
    r.assert_status(202);
    assert_eq!(r.json["data"]["count"], 3);
    app.run_jobs().await;
    let sent: Vec<(axum::http::HeaderMap, Value)> = gns
        .requests()
        .into_iter()
        .filter(|(_, b)| b["event_key"] == "order_status")
        .collect();
    assert_eq!(sent.len(), 3);
    let rows = logs(&app, &alpha, "template=order_status&channel=email").await;
    assert_eq!(rows.len(), 1);
    let id = rows[0]["id"].as_i64().unwrap();
    assert_eq!(rows[0]["status"], "sent");
    assert!(rows[0]["gns_id"].as_str().unwrap().starts_with("gns-"));
    let (headers, body) = sent.iter().find(|(_, b)| b["channel"] == "email").unwrap();
    assert_eq!(headers["authorization"], "Bearer k");
    assert_eq!(
        headers["idempotency-key"].to_str().unwrap(),
        format!("{}:{id}", alpha.id)
    );
    assert_eq!(body["recipient"]["email"], "ann@alpha.test");
    assert_eq!(
        body["data"],
        json!({"order_no": "O-1", "status": "shipped"})
    );
    assert_eq!(body["priority"], 10);
    assert_eq!(body["metadata"]["tenant_id"], alpha.id);
    assert_eq!(body["metadata"]["notification_id"], id);
    assert!(body["locale"].is_string());
    let sms = sent.iter().find(|(_, b)| b["channel"] == "sms").unwrap();
    assert_eq!(sms.1["recipient"]["phone"], "+15550100");
    let push = sent.iter().find(|(_, b)| b["channel"] == "push").unwrap();
    assert_eq!(push.1["recipient"]["user_id"], ann.id);
    for (_, b) in &sent {
        let p = b["priority"].as_i64().unwrap();
        assert!((1..=10).contains(&p));
    }
    // Delivered once: running the jobs again sends nothing.
    app.run_jobs().await;
    assert_eq!(gns.events("order_status").len(), 3);
    // A text to a user without a phone number goes nowhere.
    send(
        &app,
        &alpha,
        &alpha.admin,
        json!({"template": "order_status", "data": {"order_no": "O-2", "status": "paid"},
        "channels": ["sms"], "to": {"user_ids": [bob.id]}}),
    )
    .await
    .assert_status(202);
    app.run_jobs().await;
    assert_eq!(gns.events("order_status").len(), 3);
    let rows = logs(&app, &alpha, &format!("user_id={}&channel=sms", bob.id)).await;
    assert_eq!(rows[0]["status"], "skipped");
    assert_eq!(rows[0]["last_error"], "no phone number");
    // The log filters.
    assert_eq!(
        logs(&app, &alpha, "status=sent&template=order_status")
            .await
            .len(),
        3
    );
    assert_error(
        &get(&app, &alpha, &alpha.admin, "logs/?status=lost").await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(
        &get(&app, &alpha, &alpha.admin, "logs/?channel=fax").await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(
        &get(&app, &alpha, &alpha.admin, "logs/?user_id=x").await,
        400,
        "ERR_VALIDATION_01",
    );
    assert_error(&get(&app, &alpha, &ann, "logs/").await, 403, "ERR_PERM_01");
    app.at(&alpha, "GET", &path("logs/"))
        .send()
        .await
        .assert_status(401);
});

db_test!(gns_legacy_api_posts_the_architecture_shape, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[
            ("CAMPUS_GNS_URL", &gns.url),
            ("CAMPUS_GNS_API_KEY", "k"),
            ("CAMPUS_GNS_API", "legacy"),
        ])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    app.run_jobs().await;
    send(
        &app,
        &alpha,
        &alpha.admin,
        json!({"template": "event_cancelled", "data": {"event": "Gala"},
        "channels": ["email"], "to": {"user_ids": [ann.id]}}),
    )
    .await
    .assert_status(202);
    app.run_jobs().await;
    let sent = gns.events("event_cancelled");
    assert_eq!(sent.len(), 1);
    let body = &sent[0];
    assert_eq!(body["tenant_id"], alpha.id);
    assert_eq!(body["user_id"], ann.id);
    assert_eq!(body["channel"], "email");
    assert_eq!(body["template"], "event_cancelled");
    assert_eq!(body["data"], json!({"event": "Gala"}));
    assert_eq!(body["priority"], "normal");
    assert!(body.get("event_key").is_none());
    assert_eq!(
        logs(&app, &alpha, "template=event_cancelled").await[0]["status"],
        "sent"
    );
});

db_test!(gns_refusals_fail_and_outages_retry, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[("CAMPUS_GNS_URL", &gns.url), ("CAMPUS_GNS_API_KEY", "k")])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    app.run_jobs().await;
    let one = |event: &str| json!({"template": "event_cancelled", "data": {"event": event}, "channels": ["email"], "to": {"user_ids": [ann.id]}});

    // 4xx: failed at once, never retried.
    gns.script.lock().unwrap().push(422);
    send(&app, &alpha, &alpha.admin, one("Refused"))
        .await
        .assert_status(202);
    app.run_jobs().await;
    let count = |event: &str| {
        gns.requests()
            .iter()
            .filter(|(_, b)| b["data"]["event"] == event)
            .count()
    };
    assert_eq!(count("Refused"), 1);
    let row = logs(&app, &alpha, "status=failed").await;
    assert_eq!(row.len(), 1);
    assert!(row[0]["last_error"].as_str().unwrap().contains("422"));
    let failed = row[0]["id"].as_i64().unwrap();
    kernel::time::shifted(chrono::Duration::minutes(10), app.run_jobs()).await;
    assert_eq!(count("Refused"), 1, "no retry after a 4xx");

    // 503, then 202: retried with backoff.
    gns.script.lock().unwrap().push(503);
    send(&app, &alpha, &alpha.admin, one("Outage"))
        .await
        .assert_status(202);
    app.run_jobs().await;
    assert_eq!(count("Outage"), 1);
    let rows = logs(&app, &alpha, "status=queued").await;
    assert_eq!(rows.len(), 1, "still queued");
    assert_eq!(rows[0]["attempts"], 1);
    kernel::time::shifted(chrono::Duration::minutes(10), app.run_jobs()).await;
    assert_eq!(count("Outage"), 2);
    let rows = logs(&app, &alpha, "template=event_cancelled&status=sent").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["attempts"], 2);
    let sent_id = rows[0]["id"].as_i64().unwrap();
    // Same idempotency key on both attempts.
    let keys: Vec<String> = gns
        .requests()
        .iter()
        .filter(|(_, b)| b["data"]["event"] == "Outage")
        .map(|(h, _)| h["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys[0], keys[1]);

    // 429 is retried too.
    gns.script.lock().unwrap().push(429);
    send(&app, &alpha, &alpha.admin, one("Busy"))
        .await
        .assert_status(202);
    app.run_jobs().await;
    kernel::time::shifted(chrono::Duration::minutes(10), app.run_jobs()).await;
    assert_eq!(count("Busy"), 2);

    // Retry from the log: failed goes back to queued and is sent.
    let retry = |id: i64| {
        app.at(&alpha, "POST", &path(&format!("logs/{id}/retry/")))
            .bearer(&alpha.admin.access)
            .send()
    };
    assert_error(&retry(sent_id).await, 409, "ERR_CONFLICT_01");
    assert_error(&retry(99999).await, 404, "ERR_NOT_FOUND_01");
    assert_error(
        &app.at(&alpha, "POST", &path(&format!("logs/{failed}/retry/")))
            .bearer(&ann.access)
            .send()
            .await,
        403,
        "ERR_PERM_01",
    );
    app.at(&alpha, "POST", &path(&format!("logs/{failed}/retry/")))
        .send()
        .await
        .assert_status(401);
    let before = audit_count(&app, &alpha, "Notification").await;
    let r = retry(failed).await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["status"], "queued");
    assert_eq!(audit_count(&app, &alpha, "Notification").await, before + 1);
    assert_error(&retry(failed).await, 409, "ERR_CONFLICT_01");
    app.run_jobs().await;
    assert_eq!(count("Refused"), 2);
    let rows = logs(&app, &alpha, "status=failed").await;
    assert!(rows.is_empty(), "{rows:?}");
});

db_test!(
    without_gns_email_goes_through_the_mailer_and_sms_is_skipped,
    |app| {
        let sink = kernel::testing::SmtpSink::start().await;
        let app = app.node(&[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        let root = app.platform_admin().await;
        let alpha = app.school(&root, "alpha").await;
        let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
        app.run_jobs().await;
        let before = sink.messages().len();
        send(
            &app,
            &alpha,
            &alpha.admin,
            json!({"template": "event_cancelled", "data": {"event": "Field trip"},
        "channels": ["email", "sms", "push"], "to": {"user_ids": [ann.id]}}),
        )
        .await
        .assert_status(202);
        app.run_jobs().await;
        let mail = sink.wait_for(before + 1, Duration::from_secs(10)).await;
        assert_eq!(mail.len(), before + 1);
        assert!(mail.last().unwrap().contains("Field trip"));
        let rows = logs(&app, &alpha, "template=event_cancelled").await;
        let by = |channel: &str| {
            rows.iter()
                .find(|r| r["channel"] == channel)
                .unwrap()
                .clone()
        };
        assert_eq!(by("email")["status"], "sent");
        assert_eq!(by("sms")["status"], "skipped");
        assert_eq!(by("sms")["last_error"], "no provider");
        assert_eq!(by("push")["status"], "skipped");
        // A skipped one may be retried (and is skipped again).
        let id = by("sms")["id"].as_i64().unwrap();
        let r = post(&app, &alpha, &alpha.admin, &format!("logs/{id}/retry/")).await;
        r.assert_status(200);
        app.run_jobs().await;
        let rows = logs(&app, &alpha, "template=event_cancelled&channel=sms").await;
        assert_eq!(rows[0]["status"], "skipped");
    }
);

db_test!(the_stream_pushes_new_in_app_notifications, |app| {
    use kernel::testing::read_until;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    let bob = app.member(&alpha, "bob@alpha.test", &["Student"]).await;
    app.at(&alpha, "GET", &path("stream/"))
        .send()
        .await
        .assert_status(401);
    app.at(&alpha, "GET", &path("stream/?token=forged"))
        .send()
        .await
        .assert_status(401);
    let r = app
        .at(
            &alpha,
            "GET",
            &path(&format!("stream/?token={}", beta.admin.access)),
        )
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");

    let response = app
        .at(
            &alpha,
            "GET",
            &path(&format!("stream/?token={}", ann.access)),
        )
        .stream()
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let ready = read_until(&mut body, "event: ready", Duration::from_secs(5)).await;
    assert!(ready.contains("event: ready"), "{ready}");
    announce(&app, &alpha, &[bob.id], "Not yours").await;
    let started = std::time::Instant::now();
    announce(&app, &alpha, &[ann.id], "Live one").await;
    let seen = read_until(&mut body, "Live one", Duration::from_secs(5)).await;
    assert!(
        seen.contains("event: notification") && seen.contains("Live one"),
        "{seen}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woken at once: {:?}",
        started.elapsed()
    );
    assert!(!seen.contains("Not yours"));

    // The header works too.
    let response = app
        .at(&alpha, "GET", &path("stream/"))
        .bearer(&bob.access)
        .stream()
        .await;
    assert_eq!(response.status(), 200);
});

fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

db_test!(the_gns_callback_is_signed_fresh_and_once, |app| {
    let gns = FakeGns::start().await;
    let app = app
        .node(&[
            ("CAMPUS_GNS_URL", &gns.url),
            ("CAMPUS_GNS_API_KEY", "k"),
            ("CAMPUS_GNS_WEBHOOK_SECRET", "whsec"),
        ])
        .await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let ann = app.member(&alpha, "ann@alpha.test", &["Student"]).await;
    app.at(&alpha, "PATCH", &format!("/api/v1/users/{}/", ann.id))
        .bearer(&alpha.admin.access)
        .json(&json!({"phone": "+15550100"}))
        .send()
        .await
        .assert_status(200);
    app.run_jobs().await;
    send(
        &app,
        &alpha,
        &alpha.admin,
        json!({"template": "event_cancelled", "data": {"event": "Hike"},
        "channels": ["email", "sms"], "to": {"user_ids": [ann.id]}}),
    )
    .await
    .assert_status(202);
    app.run_jobs().await;
    let rows = logs(&app, &alpha, "template=event_cancelled").await;
    let email = rows.iter().find(|r| r["channel"] == "email").unwrap()["id"]
        .as_i64()
        .unwrap();
    let sms = rows.iter().find(|r| r["channel"] == "sms").unwrap()["id"]
        .as_i64()
        .unwrap();
    let nonce = uuid::Uuid::new_v4().to_string();

    let callback = |school: &School, body: String, timestamp: i64, signature: Option<String>| {
        let mut request = app
            .at(school, "POST", &path("gns-callback/"))
            .raw("application/json", body);
        request = request.header("X-GNS-Timestamp", &timestamp.to_string());
        if let Some(signature) = signature {
            request = request.header("X-GNS-Signature", &signature);
        }
        request.send()
    };
    let now = chrono::Utc::now().timestamp();
    let delivered =
        json!({"notification_id": email, "status": "delivered", "nonce": nonce}).to_string();

    // Missing, wrong, stale.
    assert_error(
        &callback(&alpha, delivered.clone(), now, None).await,
        401,
        "ERR_WEBHOOK_01",
    );
    assert_error(
        &callback(
            &alpha,
            delivered.clone(),
            now,
            Some(sign("other", now, &delivered)),
        )
        .await,
        401,
        "ERR_WEBHOOK_01",
    );
    assert_error(
        &callback(&alpha, delivered.clone(), now, Some("sha256=zz".into())).await,
        401,
        "ERR_WEBHOOK_01",
    );
    let old = now - 301;
    assert_error(
        &callback(
            &alpha,
            delivered.clone(),
            old,
            Some(sign("whsec", old, &delivered)),
        )
        .await,
        401,
        "ERR_WEBHOOK_01",
    );
    // The signature covers the timestamp.
    assert_error(
        &callback(
            &alpha,
            delivered.clone(),
            now - 1,
            Some(sign("whsec", now, &delivered)),
        )
        .await,
        401,
        "ERR_WEBHOOK_01",
    );
    assert_eq!(logs(&app, &alpha, "status=delivered").await.len(), 0);

    let r = callback(
        &alpha,
        delivered.clone(),
        now,
        Some(sign("whsec", now, &delivered)),
    )
    .await;
    r.assert_status(200);
    let row = logs(&app, &alpha, "status=delivered").await;
    assert_eq!(row.len(), 1);
    assert_eq!(row[0]["id"], email);
    // The same callback again is a replay.
    let r = callback(
        &alpha,
        delivered.clone(),
        now,
        Some(sign("whsec", now, &delivered)),
    )
    .await;
    assert_error(&r, 401, "ERR_WEBHOOK_01");
    // A later, different callback cannot flip a final state.
    let flip =
        json!({"notification_id": email, "status": "failed", "error": "bounced", "nonce": nonce})
            .to_string();
    let r = callback(&alpha, flip.clone(), now, Some(sign("whsec", now, &flip))).await;
    r.assert_status(200);
    assert_eq!(logs(&app, &alpha, "status=delivered").await.len(), 1);

    // metadata.notification_id, failure with its error.
    let failed = json!({"metadata": {"notification_id": sms, "tenant_id": alpha.id}, "status": "failed", "error": "no such number", "nonce": nonce}).to_string();
    callback(
        &alpha,
        failed.clone(),
        now,
        Some(sign("whsec", now, &failed)),
    )
    .await
    .assert_status(200);
    let row = logs(&app, &alpha, "status=failed").await;
    assert_eq!(row.len(), 1);
    assert_eq!(row[0]["last_error"], "no such number");

    // Unknown id, another school's id, bad status, bad JSON.
    let unknown =
        json!({"notification_id": 99999, "status": "delivered", "nonce": nonce}).to_string();
    assert_error(
        &callback(
            &alpha,
            unknown.clone(),
            now,
            Some(sign("whsec", now, &unknown)),
        )
        .await,
        404,
        "ERR_NOT_FOUND_01",
    );
    let elsewhere =
        json!({"notification_id": 99999, "status": "delivered", "nonce": format!("{nonce}-b")})
            .to_string();
    let r = callback(
        &beta,
        elsewhere.clone(),
        now,
        Some(sign("whsec", now, &elsewhere)),
    )
    .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    let bad = json!({"notification_id": email, "status": "opened", "nonce": nonce}).to_string();
    assert_error(
        &callback(&alpha, bad.clone(), now, Some(sign("whsec", now, &bad))).await,
        400,
        "ERR_VALIDATION_01",
    );
    let junk = format!("not json {nonce}");
    let r = callback(&alpha, junk.clone(), now, Some(sign("whsec", now, &junk))).await;
    assert_eq!(r.status.as_u16(), 400);
});

db_test!(the_gns_callback_needs_a_configured_secret, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({"notification_id": 1, "status": "delivered"}).to_string();
    let r = app
        .at(&alpha, "POST", &path("gns-callback/"))
        .raw("application/json", body.clone())
        .header("X-GNS-Timestamp", &now.to_string())
        .header("X-GNS-Signature", &sign("", now, &body))
        .send()
        .await;
    assert_error(&r, 401, "ERR_WEBHOOK_01");
});
