//! Broadcasts (contract §6): audiences and who may reach them, delivery
//! through the job queue (scheduled, idempotent, email per preference),
//! list and detail for the sender.

use chrono::TimeDelta;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::common::*;

const PATH: &str = "/api/notifications/broadcasts/";

async fn broadcast(app: &TestApp, sender: &Actor, body: Value) -> kernel::testing::TestResponse {
    let mut body = body;
    if body.get("title").is_none() {
        body["title"] = json!("Notice");
    }
    if body.get("message").is_none() {
        body["message"] = json!("Campus closes early today.");
    }
    app.post(PATH)
        .bearer(&sender.access)
        .json(&body)
        .send()
        .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.row_counts().await.get(table).copied().unwrap_or(0)
}

async fn detail(app: &TestApp, who: &Actor, id: &str) -> Value {
    let r = app
        .get(&format!("{PATH}{id}/"))
        .bearer(&who.access)
        .send()
        .await;
    r.assert_status(200);
    r.json.clone()
}

/// A second department with a HOD, a trainer, a programme and a class
/// group of one trainee, in `year`.
struct Other {
    hod: Actor,
    trainer: Actor,
    trainee: Actor,
    department: Uuid,
    programme: Uuid,
    class_group: Uuid,
}

async fn other_department(app: &TestApp, admin: &Actor, year: Uuid) -> Other {
    let hod = app.user("hod").await;
    let trainer = app.user("trainer").await;
    let trainee = app.user("trainee").await;
    let department = app.department(admin, "MED", Some(&hod), &[&trainer]).await;
    let programme = app.programme(admin, department, 2).await;
    let class_group = app
        .class_group(admin, "MED-1A", programme, year, &[&trainee])
        .await;
    Other {
        hod,
        trainer,
        trainee,
        department,
        programme,
        class_group,
    }
}

db_test!(each_audience_reaches_its_users, |app| {
    let e = app.enrolled().await;
    let o = other_department(&app, &e.admin, e.year.id).await;
    let users = count(&app, "roster_users").await;
    let cases = [
        (json!({"audience": "all"}), users - 1),
        (json!({"audience": "role", "roles": ["trainee"]}), 3),
        (json!({"audience": "role", "roles": ["hod", "trainer"]}), 4),
        (
            json!({"audience": "department", "department": e.department}),
            4,
        ),
        (
            json!({"audience": "programme", "programme": e.programme}),
            2,
        ),
        (
            json!({"audience": "class_group", "class_group": o.class_group}),
            1,
        ),
    ];
    let mut ids = Vec::new();
    for (body, expected) in cases {
        let r = broadcast(&app, &e.admin, body.clone()).await;
        r.assert_status(201);
        assert_eq!(r.json["status"], "queued");
        assert_eq!(r.json["recipient_count"], expected, "{body}");
        assert_eq!(r.json["delivered_count"], 0);
        assert_eq!(r.json["notification_type"], "system");
        assert_eq!(r.json["priority"], "medium");
        assert_eq!(r.json["created_by"], json!(e.admin.id));
        ids.push((r.json["id"].as_str().unwrap().to_owned(), expected));
    }
    app.run_jobs().await;
    for (id, expected) in &ids {
        let d = detail(&app, &e.admin, id).await;
        assert_eq!(d["status"], "sent");
        assert_eq!(d["recipient_count"], *expected);
        assert_eq!(d["delivered_count"], *expected);
        assert!(d["sent_at"].is_string());
    }
    // The trainee of the other department got all, role and class group.
    let r = app
        .get("/api/notifications/")
        .bearer(&o.trainee.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 3);
    assert_eq!(r.json["results"][0]["related_object_type"], "broadcast");
    // A read counts.
    let note = r.json["results"][0]["id"].as_str().unwrap().to_owned();
    let of = r.json["results"][0]["related_object_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/api/notifications/{note}/read/"))
        .bearer(&o.trainee.access)
        .send()
        .await
        .assert_status(200);
    assert_eq!(detail(&app, &e.admin, &of).await["read_count"], 1);
    let _ = (o.hod, o.trainer, o.department, o.programme);
});

db_test!(who_may_broadcast_to_what, |app| {
    let e = app.enrolled().await;
    let o = other_department(&app, &e.admin, e.year.id).await;
    let before = count(&app, "roster_broadcasts").await;
    let jobs = count(&app, "campus_jobs").await;

    app.post(PATH)
        .json(&json!({"title": "x", "message": "y", "audience": "all"}))
        .send()
        .await
        .assert_status(401);
    broadcast(
        &app,
        &e.trainees[0],
        json!({"audience": "class_group", "class_group": e.class_group}),
    )
    .await
    .assert_status(403);
    for body in [
        json!({"audience": "all"}),
        json!({"audience": "role", "roles": ["trainee"]}),
        json!({"audience": "department", "department": o.department}),
        json!({"audience": "programme", "programme": o.programme}),
        json!({"audience": "class_group", "class_group": o.class_group}),
    ] {
        broadcast(&app, &e.hod, body.clone())
            .await
            .assert_status(403);
        broadcast(&app, &e.trainer, body).await.assert_status(403);
    }
    broadcast(
        &app,
        &e.trainer,
        json!({"audience": "department", "department": e.department}),
    )
    .await
    .assert_status(403);
    broadcast(
        &app,
        &o.trainer,
        json!({"audience": "class_group", "class_group": e.class_group}),
    )
    .await
    .assert_status(403);
    for (body, field) in [
        (json!({"audience": "department"}), "department"),
        (
            json!({"audience": "programme", "programme": null}),
            "programme",
        ),
        (
            json!({"audience": "class_group", "class_group": Uuid::new_v4()}),
            "class_group",
        ),
        (
            json!({"audience": "department", "department": "nope"}),
            "department",
        ),
        (json!({"audience": "role"}), "roles"),
        (json!({"audience": "role", "roles": []}), "roles"),
        (json!({"audience": "role", "roles": ["wizard"]}), "roles"),
        (json!({"audience": "everyone"}), "audience"),
        (json!({}), "audience"),
        (json!({"audience": "all", "title": ""}), "title"),
        (
            json!({"audience": "all", "title": "t".repeat(201)}),
            "title",
        ),
        (json!({"audience": "all", "priority": "urgent"}), "priority"),
        (
            json!({"audience": "all", "notification_type": "news"}),
            "notification_type",
        ),
        (
            json!({"audience": "all", "scheduled_for": "tomorrow"}),
            "scheduled_for",
        ),
        (json!({"audience": "all", "roles": "trainee"}), "roles"),
    ] {
        let r = broadcast(&app, &e.admin, body.clone()).await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let r = app
        .post(PATH)
        .bearer(&e.admin.access)
        .raw("application/json", "{")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(count(&app, "roster_broadcasts").await, before);
    assert_eq!(count(&app, "campus_jobs").await, jobs);

    // Within reach.
    broadcast(
        &app,
        &e.hod,
        json!({"audience": "department", "department": e.department}),
    )
    .await
    .assert_status(201);
    broadcast(
        &app,
        &e.hod,
        json!({"audience": "programme", "programme": e.programme}),
    )
    .await
    .assert_status(201);
    broadcast(
        &app,
        &e.hod,
        json!({"audience": "class_group", "class_group": e.class_group}),
    )
    .await
    .assert_status(201);
    let r = broadcast(&app, &e.trainer, json!({"audience": "class_group", "class_group": e.class_group, "priority": "high", "notification_type": "session"})).await;
    r.assert_status(201);
    assert_eq!(r.json["recipient_count"], 2);
    assert_eq!(r.json["priority"], "high");
    let dp = app.user("dp_academics").await;
    broadcast(
        &app,
        &dp,
        json!({"audience": "department", "department": o.department}),
    )
    .await
    .assert_status(201);
    let audit = app
        .get("/api/audit-logs/?resource_type=broadcast")
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(audit.json["count"], 5);

    // Lists: own for the sender, all for admin; others' detail 404.
    let list = |who: &Actor| app.get(PATH).bearer(&who.access).send();
    assert_eq!(list(&e.hod).await.json["count"], 3);
    assert_eq!(list(&e.trainer).await.json["count"], 1);
    assert_eq!(list(&o.hod).await.json["count"], 0);
    assert_eq!(list(&e.admin).await.json["count"], 5);
    list(&e.trainees[0]).await.assert_status(403);
    app.get(PATH).send().await.assert_status(401);
    let r = app
        .get(&format!("{PATH}?status=queued"))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 5);
    app.get(&format!("{PATH}?status=lost"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(400);
    let id = list(&e.trainer).await.json["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        detail(&app, &e.trainer, &id).await["audience"],
        "class_group"
    );
    detail(&app, &e.admin, &id).await;
    app.get(&format!("{PATH}{id}/"))
        .bearer(&e.hod.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{PATH}{id}/"))
        .bearer(&e.trainees[0].access)
        .send()
        .await
        .assert_status(403);
    app.get(&format!("{PATH}nope/"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{PATH}{id}/"))
        .send()
        .await
        .assert_status(401);
});

db_test!(scheduled_broadcasts_wait_and_retries_add_nothing, |app| {
    let e = app.enrolled().await;
    let at = kernel::time::now() + TimeDelta::hours(2);
    let r = broadcast(&app, &e.hod, json!({"audience": "class_group", "class_group": e.class_group, "scheduled_for": at.to_rfc3339()})).await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();
    app.run_jobs().await;
    assert_eq!(detail(&app, &e.hod, &id).await["status"], "queued");
    assert_eq!(count(&app, "roster_notifications").await, 0);

    kernel::time::shifted(TimeDelta::minutes(121), async { app.run_jobs().await }).await;
    let d = detail(&app, &e.hod, &id).await;
    assert_eq!(d["status"], "sent");
    assert_eq!(d["delivered_count"], 2);
    assert_eq!(count(&app, "roster_notifications").await, 2);

    // A retry (the job ran again after a crash before `sent`) adds nothing.
    roster::entities::broadcast::Entity::update_many()
        .col_expr(
            roster::entities::broadcast::Column::Status,
            Expr::value("sending"),
        )
        .filter(roster::entities::broadcast::Column::Id.eq(Uuid::parse_str(&id).unwrap()))
        .exec(app.db())
        .await
        .unwrap();
    kernel::jobs::enqueue(app.db(), "roster.notify.deliver", json!({"broadcast": id}))
        .await
        .unwrap();
    app.run_jobs().await;
    let d = detail(&app, &e.hod, &id).await;
    assert_eq!(d["status"], "sent");
    assert_eq!(d["delivered_count"], 2);
    assert_eq!(count(&app, "roster_notifications").await, 2);
});

db_test!(broadcast_email_follows_preferences, |app| {
    let (node, sink) = mailing(&app).await;
    let e = app.enrolled().await;
    let [t1, t2] = [&e.trainees[0], &e.trainees[1]];
    app.patch("/api/notifications/preferences/")
        .bearer(&t2.access)
        .json(&json!({"channels": {"session": {"email": false}}}))
        .send()
        .await
        .assert_status(200);
    broadcast(&app, &e.trainer, json!({"audience": "class_group", "class_group": e.class_group, "notification_type": "session", "title": "Lab moved"}))
        .await
        .assert_status(201);
    node.run_jobs().await; // the broadcast, then its email batch
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains(&t1.email) && messages[0].contains("Lab moved"));
    node.run_jobs().await;
    assert_eq!(sink.messages().len(), 1);
});
