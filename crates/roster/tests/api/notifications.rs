//! Notifications (contract §6): own list, read marks, soft delete, sending
//! to chosen users within reach, preferences, do-not-disturb, email and push
//! delivery (idempotent), devices and the live stream.

use chrono::{TimeDelta, Timelike};

use crate::common::*;

const LIST: &str = "/api/notifications/";
const PREFS: &str = "/api/notifications/preferences/";
const DEVICES: &str = "/api/notifications/devices/";

/// `sender` notifies `to`; answers the response.
async fn notify(
    app: &TestApp,
    sender: &Actor,
    to: &[Uuid],
    body: Value,
) -> kernel::testing::TestResponse {
    let mut body = body;
    body["recipients"] = json!(to);
    app.post(LIST)
        .bearer(&sender.access)
        .json(&body)
        .send()
        .await
}

async fn sent(app: &TestApp, sender: &Actor, to: &[Uuid], title: &str) {
    notify(
        app,
        sender,
        to,
        json!({"title": title, "message": format!("About {title}")}),
    )
    .await
    .assert_status(201);
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.row_counts().await.get(table).copied().unwrap_or(0)
}

async fn list(app: &TestApp, who: &Actor, query: &str) -> Value {
    let r = app
        .get(&format!("{LIST}{query}"))
        .bearer(&who.access)
        .send()
        .await;
    r.assert_status(200);
    r.json.clone()
}

db_test!(own_notifications_list_read_and_delete, |app| {
    let admin = app.admin().await;
    let me = app.user("trainee").await;
    let other = app.user("trainee").await;
    sent(&app, &admin, &[me.id], "First").await;
    notify(&app, &admin, &[me.id], json!({"title": "Second", "message": "m", "priority": "high", "notification_type": "attendance"}))
        .await
        .assert_status(201);
    sent(&app, &admin, &[other.id], "Not mine").await;

    app.get(LIST).send().await.assert_status(401);
    let page = list(&app, &me, "").await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["title"], "Second", "newest first");
    assert_eq!(page["results"][0]["channels"], json!(["in_app"]));
    assert_eq!(page["results"][0]["is_read"], false);
    assert_eq!(list(&app, &me, "?priority=high").await["count"], 1);
    assert_eq!(
        list(&app, &me, "?notification_type=attendance").await["count"],
        1
    );
    assert_eq!(
        list(&app, &me, "?notification_type=system").await["count"],
        1
    );
    for bad in [
        "?priority=urgent",
        "?notification_type=nope",
        "?is_read=maybe",
        "?page=9",
    ] {
        let r = app
            .get(&format!("{LIST}{bad}"))
            .bearer(&me.access)
            .send()
            .await;
        assert!(
            matches!(r.status.as_u16(), 400 | 404),
            "{bad}: {}",
            r.status
        );
    }

    let first = page["results"][1]["id"].as_str().unwrap().to_owned();
    let theirs = list(&app, &other, "").await["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = app
        .get(&format!("{LIST}{first}/"))
        .bearer(&me.access)
        .send()
        .await;
    one.assert_status(200);
    assert_eq!(one.json["title"], "First");
    for path in [
        format!("{LIST}{theirs}/"),
        format!("{LIST}{}/", Uuid::new_v4()),
        format!("{LIST}nope/"),
    ] {
        app.get(&path)
            .bearer(&me.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get(&format!("{LIST}{first}/"))
        .send()
        .await
        .assert_status(401);

    // Counts and marks.
    let unread = |a: &Actor| {
        app.get("/api/notifications/unread-count/")
            .bearer(&a.access)
            .send()
    };
    assert_eq!(unread(&me).await.json, json!({"count": 2}));
    let r = app
        .post(&format!("{LIST}{first}/read/"))
        .bearer(&me.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_read"], true);
    assert!(r.json["read_at"].is_string());
    assert_eq!(unread(&me).await.json["count"], 1);
    assert_eq!(list(&app, &me, "?is_read=true").await["count"], 1);
    let r = app
        .post(&format!("{LIST}{first}/unread/"))
        .bearer(&me.access)
        .send()
        .await;
    assert_eq!(r.json["is_read"], false);
    assert!(r.json["read_at"].is_null());
    app.post(&format!("{LIST}{theirs}/read/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    app.post(&format!("{LIST}{theirs}/unread/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    app.post(&format!("{LIST}{first}/read/"))
        .send()
        .await
        .assert_status(401);
    assert_eq!(
        unread(&other).await.json["count"],
        1,
        "another's marks untouched"
    );

    let r = app
        .post("/api/notifications/read-all/")
        .bearer(&me.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"updated": 2}));
    assert_eq!(unread(&me).await.json["count"], 0);
    assert_eq!(unread(&other).await.json["count"], 1);
    app.post("/api/notifications/read-all/")
        .send()
        .await
        .assert_status(401);
    app.get("/api/notifications/unread-count/")
        .send()
        .await
        .assert_status(401);

    // Soft delete: gone from the list, kept in the table.
    let rows = count(&app, "roster_notifications").await;
    app.delete(&format!("{LIST}{theirs}/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("{LIST}{first}/"))
        .send()
        .await
        .assert_status(401);
    app.delete(&format!("{LIST}{first}/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(204);
    app.delete(&format!("{LIST}{first}/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{LIST}{first}/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(list(&app, &me, "").await["count"], 1);
    assert_eq!(count(&app, "roster_notifications").await, rows);
    assert_eq!(list(&app, &other, "").await["count"], 1);
});

db_test!(sending_is_scoped_by_role, |app| {
    let e = app.enrolled().await;
    let outsider = app.user("trainee").await;
    let other_trainer = app.user("trainer").await;
    let [t1, t2] = [&e.trainees[0], &e.trainees[1]];
    let before = count(&app, "roster_notifications").await;

    // Refusals first: nothing written.
    notify(&app, t1, &[t2.id], json!({"title": "x", "message": "y"}))
        .await
        .assert_status(403);
    notify(
        &app,
        &e.trainer,
        &[outsider.id],
        json!({"title": "x", "message": "y"}),
    )
    .await
    .assert_status(403);
    notify(
        &app,
        &e.trainer,
        &[t1.id, outsider.id],
        json!({"title": "x", "message": "y"}),
    )
    .await
    .assert_status(403);
    notify(
        &app,
        &other_trainer,
        &[t1.id],
        json!({"title": "x", "message": "y"}),
    )
    .await
    .assert_status(403);
    notify(
        &app,
        &e.hod,
        &[outsider.id],
        json!({"title": "x", "message": "y"}),
    )
    .await
    .assert_status(403);
    app.post(LIST)
        .json(&json!({"recipients": [t1.id], "title": "x", "message": "y"}))
        .send()
        .await
        .assert_status(401);
    for (body, field) in [
        (json!({"recipients": [t1.id], "message": "y"}), "title"),
        (
            json!({"recipients": [t1.id], "title": "x".repeat(201), "message": "y"}),
            "title",
        ),
        (
            json!({"recipients": [t1.id], "title": "  ", "message": "y"}),
            "title",
        ),
        (json!({"recipients": [t1.id], "title": "x"}), "message"),
        (json!({"title": "x", "message": "y"}), "recipients"),
        (
            json!({"recipients": [], "title": "x", "message": "y"}),
            "recipients",
        ),
        (
            json!({"recipients": "all", "title": "x", "message": "y"}),
            "recipients",
        ),
        (
            json!({"recipients": [Uuid::new_v4()], "title": "x", "message": "y"}),
            "recipients",
        ),
        (
            json!({"recipients": ["nope"], "title": "x", "message": "y"}),
            "recipients",
        ),
        (
            json!({"recipients": [t1.id], "title": "x", "message": "y", "priority": "urgent"}),
            "priority",
        ),
        (
            json!({"recipients": [t1.id], "title": "x", "message": "y", "notification_type": 3}),
            "notification_type",
        ),
    ] {
        let r = app
            .post(LIST)
            .bearer(&e.admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let many: Vec<Uuid> = (0..1001).map(|_| Uuid::new_v4()).collect();
    let r = app
        .post(LIST)
        .bearer(&e.admin.access)
        .json(&json!({"recipients": many, "title": "x", "message": "y"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["recipients"].is_array());
    let r = app
        .post(LIST)
        .bearer(&e.admin.access)
        .raw("application/json", "{oops")
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
        .post(LIST)
        .bearer(&e.admin.access)
        .raw("text/plain", "hi")
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(count(&app, "roster_notifications").await, before);

    // Within reach.
    let r = notify(
        &app,
        &e.trainer,
        &[t1.id, t2.id, t1.id],
        json!({"title": "Class moved", "message": "Room 2"}),
    )
    .await;
    r.assert_status(201);
    assert_eq!(r.json["sent"], 2);
    notify(
        &app,
        &e.hod,
        &[t1.id, e.trainer.id],
        json!({"title": "Dept", "message": "m"}),
    )
    .await
    .assert_status(201);
    let dp = app.user("dp_academics").await;
    notify(
        &app,
        &dp,
        &[outsider.id],
        json!({"title": "DP", "message": "m"}),
    )
    .await
    .assert_status(201);
    notify(
        &app,
        &e.admin,
        &[outsider.id, e.hod.id],
        json!({"title": "Admin", "message": "m", "notification_type": "report", "priority": "low"}),
    )
    .await
    .assert_status(201);
    assert_eq!(list(&app, t1, "").await["count"], 2);
    assert_eq!(list(&app, &e.trainer, "").await["count"], 1);
    let page = list(&app, &outsider, "").await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["notification_type"], "report");
    assert_eq!(page["results"][0]["priority"], "low");
    assert_eq!(page["results"][1]["notification_type"], "system");
    let audit = app
        .get("/api/audit-logs/?resource_type=notification")
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(audit.json["count"], 4);
});

fn default_channels() -> Value {
    let one = json!({"in_app": true, "email": true, "push": false});
    json!({"attendance": one, "session": one, "timetable": one, "report": one, "account": one, "system": one})
}

db_test!(preferences_defaults_rules_and_merges, |app| {
    let me = app.user("trainee").await;
    app.get(PREFS).send().await.assert_status(401);
    app.patch(PREFS)
        .json(&json!({}))
        .send()
        .await
        .assert_status(401);
    let r = app.get(PREFS).bearer(&me.access).send().await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"channels": default_channels(), "dnd_enabled": false, "dnd_start": "22:00", "dnd_end": "06:00"})
    );

    // Refusals change nothing.
    let r = app
        .patch(PREFS)
        .bearer(&me.access)
        .json(&json!({"channels": {"system": {"in_app": false}}}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"channels": ["System and account notifications cannot be turned off in the app."]})
    );
    let r = app
        .patch(PREFS)
        .bearer(&me.access)
        .json(&json!({"channels": {"account": {"in_app": false, "email": false}}}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["channels"].is_array());
    for (body, field) in [
        (
            json!({"channels": {"weather": {"email": true}}}),
            "channels",
        ),
        (json!({"channels": {"session": {"sms": true}}}), "channels"),
        (
            json!({"channels": {"session": {"email": "yes"}}}),
            "channels",
        ),
        (json!({"channels": {"session": true}}), "channels"),
        (json!({"channels": []}), "channels"),
        (json!({"dnd_enabled": "on"}), "dnd_enabled"),
        (json!({"dnd_start": "25:00"}), "dnd_start"),
        (json!({"dnd_end": 6}), "dnd_end"),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let r = app.patch(PREFS).bearer(&me.access).json(&body).send().await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let r = app
        .patch(PREFS)
        .bearer(&me.access)
        .json(&json!([1]))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .patch(PREFS)
        .bearer(&me.access)
        .raw("application/json", "{")
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .put(PREFS)
        .bearer(&me.access)
        .json(&json!({"dnd_enabled": true}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["channels"].is_array() && r.json["dnd_start"].is_array());
    assert_eq!(count(&app, "roster_notification_preferences").await, 0);

    // PATCH merges.
    let r = app.patch(PREFS).bearer(&me.access)
        .json(&json!({"channels": {"session": {"push": true}, "system": {"email": false}}, "dnd_enabled": true}))
        .send().await;
    r.assert_status(200);
    assert_eq!(
        r.json["channels"]["session"],
        json!({"in_app": true, "email": true, "push": true})
    );
    assert_eq!(
        r.json["channels"]["system"],
        json!({"in_app": true, "email": false, "push": false})
    );
    assert_eq!(
        r.json["channels"]["report"],
        json!({"in_app": true, "email": true, "push": false})
    );
    assert_eq!(r.json["dnd_enabled"], true);
    assert_eq!(r.json["dnd_start"], "22:00");
    let r = app
        .patch(PREFS)
        .bearer(&me.access)
        .json(&json!({"dnd_start": "21:30:00", "channels": {"session": {"email": false}}}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["dnd_start"], "21:30");
    assert_eq!(
        r.json["channels"]["session"],
        json!({"in_app": true, "email": false, "push": true})
    );
    assert_eq!(app.get(PREFS).bearer(&me.access).send().await.json, r.json);

    // PUT with every field.
    let mut channels = default_channels();
    channels["attendance"]["in_app"] = json!(false);
    let body = json!({"channels": channels, "dnd_enabled": false, "dnd_start": "23:00", "dnd_end": "07:15"});
    let r = app.put(PREFS).bearer(&me.access).json(&body).send().await;
    r.assert_status(200);
    assert_eq!(r.json, body);
    assert_eq!(count(&app, "roster_notification_preferences").await, 1);

    // In-app off for attendance: not listed (email still goes out).
    let admin = app.admin().await;
    notify(
        &app,
        &admin,
        &[me.id],
        json!({"title": "Absent", "message": "m", "notification_type": "attendance"}),
    )
    .await
    .assert_status(201);
    assert_eq!(list(&app, &me, "").await["count"], 0);
    let audit = app
        .get("/api/audit-logs/?resource_type=notification_preference")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(audit.json["count"], 3);
});

/// A do-not-disturb window around now (UTC: the school's default zone).
fn quiet_now() -> (String, String) {
    let now = kernel::time::now();
    let minute = i64::from(now.hour() * 60 + now.minute());
    let clock = |m: i64| {
        let m = m.rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    (clock(minute - 60), clock(minute + 60))
}

db_test!(email_waits_for_do_not_disturb_unless_high, |app| {
    let (node, sink) = mailing(&app).await;
    let admin = app.admin().await;
    let me = app.user("trainee").await;
    let (start, end) = quiet_now();
    app.patch(PREFS)
        .bearer(&me.access)
        .json(&json!({"dnd_enabled": true, "dnd_start": start, "dnd_end": end}))
        .send()
        .await
        .assert_status(200);

    notify(
        &app,
        &admin,
        &[me.id],
        json!({"title": "Quiet one", "message": "later"}),
    )
    .await
    .assert_status(201);
    assert_eq!(list(&app, &me, "").await["count"], 1, "in-app at once");
    node.run_jobs().await;
    assert!(sink.messages().is_empty(), "email waits");

    notify(
        &app,
        &admin,
        &[me.id],
        json!({"title": "Urgent one", "message": "now", "priority": "high"}),
    )
    .await
    .assert_status(201);
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("Urgent one"));

    let later = kernel::time::shifted(TimeDelta::minutes(61), async {
        deliver(&node, &sink, 2).await
    })
    .await;
    assert_eq!(later.len(), 2);
    assert!(later[1].contains("Quiet one"));
    let page = list(&app, &me, "").await;
    assert_eq!(page["results"][0]["channels"], json!(["in_app", "email"]));
});

db_test!(retried_delivery_sends_nothing_twice, |app| {
    let (node, sink) = mailing(&app).await;
    let admin = app.admin().await;
    let me = app.user("trainee").await;
    let quiet = app.user("trainee").await;
    app.patch(PREFS)
        .bearer(&quiet.access)
        .json(&json!({"channels": {"system": {"email": false, "push": true}}}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post(DEVICES)
        .bearer(&quiet.access)
        .json(&json!({"token": "tok-1", "platform": "android"}))
        .send()
        .await;
    r.assert_status(201);

    notify(
        &app,
        &admin,
        &[me.id, quiet.id],
        json!({"title": "Once", "message": "only once"}),
    )
    .await
    .assert_status(201);
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains(&me.email));
    assert_eq!(count(&app, "roster_push_attempts").await, 1);

    // The same job again (a retry after a crash): nothing more goes out.
    let mine = list(&app, &me, "").await["results"][0]["id"].clone();
    let theirs = list(&app, &quiet, "").await["results"][0]["id"].clone();
    assert_eq!(
        list(&app, &quiet, "").await["results"][0]["channels"],
        json!(["in_app", "push"])
    );
    kernel::jobs::enqueue(
        app.db(),
        "roster.notify.deliver",
        json!({"email": [mine], "push": [theirs]}),
    )
    .await
    .unwrap();
    node.run_jobs().await;
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(count(&app, "roster_push_attempts").await, 1);
});

db_test!(devices_register_move_and_delete, |app| {
    let me = app.user("trainer").await;
    let other = app.user("trainee").await;
    app.post(DEVICES)
        .json(&json!({"token": "t", "platform": "web"}))
        .send()
        .await
        .assert_status(401);
    for body in [
        json!({"token": "t", "platform": "blackberry"}),
        json!({"platform": "web"}),
        json!({"token": "", "platform": "web"}),
        json!({"token": "x".repeat(256), "platform": "web"}),
        json!({"token": 5, "platform": "web"}),
    ] {
        app.post(DEVICES)
            .bearer(&me.access)
            .json(&body)
            .send()
            .await
            .assert_status(400);
    }
    assert_eq!(count(&app, "roster_notification_devices").await, 0);

    let r = app
        .post(DEVICES)
        .bearer(&me.access)
        .json(&json!({"token": "abc", "platform": "ios"}))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["platform"], "ios");
    let r = app
        .post(DEVICES)
        .bearer(&other.access)
        .json(&json!({"token": "abc", "platform": "android"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], json!(id));
    assert_eq!(count(&app, "roster_notification_devices").await, 1);

    // It is the other user's now.
    app.delete(&format!("{DEVICES}{id}/"))
        .bearer(&me.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("{DEVICES}{id}/"))
        .send()
        .await
        .assert_status(401);
    app.delete(&format!("{DEVICES}nope/"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("{DEVICES}{id}/"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(204);
    assert_eq!(count(&app, "roster_notification_devices").await, 0);
});

// The live stream needs `futures-util` in roster's dependencies (see
// `notifications::router`); delete this `cfg` with the ones there.
db_test!(the_stream_pushes_new_notifications, |app| {
    use std::time::Duration;

    use kernel::testing::read_until;

    let admin = app.admin().await;
    let me = app.user("trainee").await;
    let other = app.user("trainee").await;
    app.get("/api/notifications/stream/")
        .send()
        .await
        .assert_status(401);
    app.get("/api/notifications/stream/?token=forged")
        .send()
        .await
        .assert_status(401);

    let response = app
        .get(&format!("/api/notifications/stream/?token={}", me.access))
        .stream()
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let ready = read_until(&mut body, "event: ready", Duration::from_secs(5)).await;
    assert!(ready.contains("event: ready"), "{ready}");

    sent(&app, &admin, &[other.id], "Not yours").await;
    let started = std::time::Instant::now();
    sent(&app, &admin, &[me.id], "Live one").await;
    let seen = read_until(&mut body, "Live one", Duration::from_secs(5)).await;
    assert!(
        seen.contains("event: notification") && seen.contains("Live one"),
        "{seen}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "woken at once: {:?}",
        started.elapsed()
    );
    assert!(!seen.contains("Not yours"));

    // The header works too; a broadcast arrives once its job ran.
    let response = app
        .get("/api/notifications/stream/")
        .bearer(&me.access)
        .stream()
        .await;
    let mut body = response.into_body();
    read_until(&mut body, "event: ready", Duration::from_secs(5)).await;
    app.post("/api/notifications/broadcasts/")
        .bearer(&admin.access)
        .json(&json!({"title": "Everyone", "message": "m", "audience": "all"}))
        .send()
        .await
        .assert_status(201);
    app.run_jobs().await;
    let seen = read_until(&mut body, "Everyone", Duration::from_secs(5)).await;
    assert!(seen.contains("Everyone"), "{seen}");
});
