//! A client's activities (axis contract §5, "Activities"): the shape, the
//! client's `last_contact_date` moving forward, `timeline/` and `stats/`,
//! validation, soft delete and restore, and scoping (§3).

use crate::clients::{create_id, read};
use crate::common::*;

pub const KEYS: &[&str] = &[
    "id",
    "client_id",
    "client_name",
    "activity_type",
    "title",
    "description",
    "activity_date",
    "contact_id",
    "contact_name",
    "metadata",
    "created_by",
    "created_by_email",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// Records an activity for `client` as `actor`; the activity.
pub async fn create(app: &TestApp, actor: &Actor, client: &str, body: Value) -> Value {
    let r = app
        .post(&format!("/api/clients/{client}/activities/"))
        .bearer(&actor.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    r.json
}

fn at(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(
        value.as_str().unwrap_or_else(|| panic!("a time: {value}")),
    )
    .unwrap()
    .with_timezone(&chrono::Utc)
}

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn titles(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("rows: {rows}"))
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn contact(app: &TestApp, admin: &Actor, client: &str, first: &str) -> String {
    crate::contacts::create(
        app,
        admin,
        client,
        json!({"first_name": first, "last_name": "Contact", "email": format!("{first}@c.example")}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

db_test!(activity_shapes_and_last_contact_date, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Phi Group"})).await;
    let ivy = contact(&app, &admin, &client, "Ivy").await;
    let base = format!("/api/clients/{client}/activities/");

    let started = chrono::Utc::now();
    let call = create(
        &app,
        &admin,
        &client,
        json!({"activity_type": "CALL", "title": " Kickoff call ", "contact": ivy,
               "description": "Intro", "metadata": {"minutes": 30}}),
    )
    .await;
    assert_eq!(keys(&call), sorted(KEYS));
    assert!(is_cuid(call["id"].as_str().unwrap()));
    assert_eq!(call["client_id"], client.as_str());
    assert_eq!(call["client_name"], "Phi Group");
    assert_eq!(call["activity_type"], "Call");
    assert_eq!(call["title"], "Kickoff call");
    assert_eq!(call["contact_id"], ivy.as_str());
    assert_eq!(call["contact_name"], "Ivy Contact");
    assert_eq!(call["created_by"], admin.id.as_str());
    assert_eq!(call["created_by_email"], "root@axis.example");
    assert_eq!(call["metadata"], json!({"minutes": 30}));
    assert_eq!(call["deleted_at"], Value::Null);
    // activity_date defaults to now.
    let when = at(&call["activity_date"]);
    assert!(when >= started - chrono::TimeDelta::seconds(1) && when <= chrono::Utc::now());
    // The client's last contact moved to it.
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(at(&d["last_contact_date"]), when);
    assert_eq!(d["activities_count"], 1);
    // The client's change is in the trail too, tied to the activity's audit row.
    let history = read(
        &app,
        &admin,
        &format!("/api/entity-changes/entity/Client/{client}/"),
    )
    .await;
    let moved = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(moved["change_type"], "Update");
    let fields = read(
        &app,
        &admin,
        &format!(
            "/api/field-changes/entity-change/{}/",
            moved["id"].as_str().unwrap()
        ),
    )
    .await;
    let names: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["last_contact_date"]);
    let detail = read(
        &app,
        &admin,
        &format!("/api/entity-changes/{}/", moved["id"].as_str().unwrap()),
    )
    .await;
    let log = read(
        &app,
        &admin,
        &format!(
            "/api/audit-logs/{}/",
            detail["metadata"]["audit_log_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(log["entity_type"], "ClientActivity");
    assert_eq!(log["entity_id"], call["id"]);

    // An older activity does not move it back.
    let old = create(
        &app,
        &admin,
        &client,
        json!({"activity_type": "payment_received", "title": "Old payment",
               "activity_date": "2025-01-15T08:00:00Z"}),
    )
    .await;
    assert_eq!(old["activity_type"], "PaymentReceived");
    assert_eq!(old["contact_id"], Value::Null);
    assert_eq!(old["contact_name"], Value::Null);
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(at(&d["last_contact_date"]), when);
    // A later one moves it forward, on create and on update.
    let later = (chrono::Utc::now() + chrono::TimeDelta::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let meeting = create(
        &app,
        &admin,
        &client,
        json!({"activity_type": "Meeting", "title": "Review", "activity_date": later}),
    )
    .await;
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(at(&d["last_contact_date"]), at(&meeting["activity_date"]));
    let even_later = (chrono::Utc::now() + chrono::TimeDelta::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let r = app
        .patch(&format!("{base}{}/", old["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .json(&json!({"activity_date": even_later}))
        .send()
        .await;
    r.assert_status(200);
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(at(&d["last_contact_date"]), at(&r.json["activity_date"]));
    assert_eq!(d["activities_count"], 3);

    // The list: newest activity first.
    let list = read(&app, &admin, &base).await;
    assert_page(&list, 3);
    for item in list["results"].as_array().unwrap() {
        assert_eq!(keys(item), sorted(KEYS));
    }
    assert_eq!(
        titles(&list["results"]),
        ["Old payment", "Review", "Kickoff call"]
    );
    let list = read(&app, &admin, &format!("{base}?activity_type=meeting")).await;
    assert_eq!(titles(&list["results"]), ["Review"]);
    let list = read(&app, &admin, &format!("{base}?contact_id={ivy}")).await;
    assert_eq!(titles(&list["results"]), ["Kickoff call"]);
    let list = read(&app, &admin, &format!("{base}?search=INTRO")).await;
    assert_eq!(titles(&list["results"]), ["Kickoff call"]);
    let list = read(&app, &admin, &format!("{base}?ordering=activity_date")).await;
    assert_eq!(
        titles(&list["results"]),
        ["Kickoff call", "Review", "Old payment"]
    );
    let r = app
        .get(&format!("{base}?activity_type=Party"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(
        &r,
        "activity_type",
        Some("\"Party\" is not a valid choice."),
    );

    let one = read(
        &app,
        &admin,
        &format!("{base}{}/", call["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(one, call);
    let logs = app
        .audit_logs_of("ClientActivity", call["id"].as_str().unwrap())
        .await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].action, "Create");
});

db_test!(activity_input_is_validated, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Chi Co"})).await;
    let other = create_id(&app, &admin, json!({"name": "Psi Co"})).await;
    let theirs = contact(&app, &admin, &other, "Otto").await;
    let gone = contact(&app, &admin, &client, "Gone").await;
    app.delete(&format!("/api/clients/{client}/contacts/{gone}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let base = format!("/api/clients/{client}/activities/");
    let post = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        let base = base.clone();
        async move { app.post(&base).bearer(&token).json(&body).send().await }
    };
    let before = app.trail_counts().await;
    let r = post(json!({"activity_type": "Call"})).await;
    assert_field_error(&r, "title", Some("This field is required."));
    let r = post(json!({"title": "  "})).await;
    assert_field_error(&r, "title", None);
    let r = post(json!({"title": ["x"]})).await;
    assert_field_error(&r, "title", None);
    let r = post(json!({"title": "T", "activity_type": "Party"})).await;
    assert_field_error(
        &r,
        "activity_type",
        Some("\"Party\" is not a valid choice."),
    );
    let r = post(json!({"title": "T", "activity_type": null})).await;
    assert_field_error(&r, "activity_type", None);
    let r = post(json!({"title": "T", "activity_date": "yesterday"})).await;
    assert_field_error(&r, "activity_date", None);
    for date in ["0001-01-01T00:00:00Z", "0500-06-01T00:00:00+02:00"] {
        let r = post(json!({"title": "T", "activity_date": date})).await;
        assert_field_error(&r, "activity_date", None);
    }
    let r = post(json!({"title": "T", "metadata": []})).await;
    assert_field_error(&r, "metadata", None);
    for id in [
        theirs.clone(),
        gone.clone(),
        kernel::cuid::new(),
        "x".to_owned(),
    ] {
        let r = post(json!({"title": "T", "contact_id": id})).await;
        assert_field_error(
            &r,
            "contact_id",
            Some(&format!("Invalid pk \"{id}\" - object does not exist.")),
        );
    }
    let r = app
        .post(&base)
        .bearer(&admin.access)
        .raw("application/json", "{\"title\" \"T\"}")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    assert_eq!(app.trail_counts().await, before);
    let d = read(&app, &admin, &format!("/api/clients/{client}/")).await;
    assert_eq!(d["last_contact_date"], Value::Null);
    assert_eq!(d["activities_count"], 0);

    // Defaults: a Note, now.
    let note = create(&app, &admin, &client, json!({"title": "Just a note"})).await;
    assert_eq!(note["activity_type"], "Note");
    let id = note["id"].as_str().unwrap().to_owned();
    let r = app
        .put(&format!("{base}{id}/"))
        .bearer(&admin.access)
        .json(&json!({"activity_type": "Email"}))
        .send()
        .await;
    assert_field_error(&r, "title", Some("This field is required."));
    let r = app
        .put(&format!("{base}{id}/"))
        .bearer(&admin.access)
        .json(&json!({"title": "An email", "activity_type": "EMAIL"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["activity_type"], "Email");
    assert_eq!(r.json["title"], "An email");

    for path in [
        format!("{base}nope/"),
        format!("{base}{}/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Activity not found");
    }
    for path in [
        "/api/clients/zz/activities/".to_owned(),
        format!("/api/clients/{}/activities/timeline/", kernel::cuid::new()),
        format!("/api/clients/{}/activities/stats/", kernel::cuid::new()),
    ] {
        let r = app.get(&path).bearer(&admin.access).send().await;
        assert_error(&r, 404, "not_found", "Client not found");
    }
});

db_test!(activity_timeline_and_stats, |app| {
    let admin = app.superuser().await;
    let client = create_id(&app, &admin, json!({"name": "Omega Co"})).await;
    let ann = contact(&app, &admin, &client, "Ann").await;
    let bob = contact(&app, &admin, &client, "Bob").await;
    let base = format!("/api/clients/{client}/activities");
    for (kind, title, date, who) in [
        ("Call", "Call 1", days_ago(1), Some(&ann)),
        ("Call", "Call 2", days_ago(2), Some(&ann)),
        ("Email", "Email 1", days_ago(3), Some(&bob)),
        ("Meeting", "Meeting 1", days_ago(10), None),
        ("Call", "Ancient call", days_ago(120), Some(&bob)),
    ] {
        create(
            &app,
            &admin,
            &client,
            json!({"activity_type": kind, "title": title, "activity_date": date, "contact_id": who}),
        )
        .await;
    }
    // A deleted activity counts nowhere.
    let deleted = create(
        &app,
        &admin,
        &client,
        json!({"title": "Deleted", "activity_type": "Call"}),
    )
    .await;
    app.delete(&format!("{base}/{}/", deleted["id"].as_str().unwrap()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);

    let t = read(&app, &admin, &format!("{base}/timeline/")).await;
    assert_eq!(keys(&t), sorted(&["count", "date_range", "activities"]));
    assert_eq!(keys(&t["date_range"]), sorted(&["start", "end"]));
    let span = at(&t["date_range"]["end"]) - at(&t["date_range"]["start"]);
    assert_eq!(span.num_days(), 90);
    assert_eq!(t["count"], 4);
    assert_eq!(
        titles(&t["activities"]),
        ["Call 1", "Call 2", "Email 1", "Meeting 1"]
    );
    assert_eq!(keys(&t["activities"][0]), sorted(KEYS));
    let t = read(
        &app,
        &admin,
        &format!("{base}/timeline/?activity_type=CALL"),
    )
    .await;
    assert_eq!(titles(&t["activities"]), ["Call 1", "Call 2"]);
    let t = read(&app, &admin, &format!("{base}/timeline/?days=365")).await;
    assert_eq!(t["count"], 5);
    let t = read(&app, &admin, &format!("{base}/timeline/?days=5")).await;
    assert_eq!(titles(&t["activities"]), ["Call 1", "Call 2", "Email 1"]);

    let s = read(&app, &admin, &format!("{base}/stats/")).await;
    assert_eq!(
        keys(&s),
        sorted(&[
            "total_activities",
            "recent_activities",
            "date_range",
            "by_type",
            "top_contacts",
            "last_activity"
        ])
    );
    assert_eq!(s["total_activities"], 5);
    assert_eq!(s["recent_activities"], 4);
    assert_eq!(
        s["by_type"],
        json!([
            {"activity_type": "Call", "count": 2},
            {"activity_type": "Email", "count": 1},
            {"activity_type": "Meeting", "count": 1},
        ])
    );
    assert_eq!(
        s["top_contacts"],
        json!([
            {"contact_id": ann, "contact_name": "Ann Contact", "count": 2},
            {"contact_id": bob, "contact_name": "Bob Contact", "count": 1},
        ])
    );
    assert_eq!(s["last_activity"]["title"], "Call 1");
    assert_eq!(keys(&s["last_activity"]), sorted(KEYS));
    let s = read(&app, &admin, &format!("{base}/stats/?days=365")).await;
    assert_eq!(s["recent_activities"], 5);
    assert_eq!(s["top_contacts"][0]["count"], 2);

    for path in ["timeline", "stats"] {
        for days in ["abc", "0"] {
            let r = app
                .get(&format!("{base}/{path}/?days={days}"))
                .bearer(&admin.access)
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(r.json["error"], "Invalid days parameter");
            assert_eq!(
                r.json["message"],
                format!("days must be a valid integer, got: {days}")
            );
        }
    }
    let r = app
        .get(&format!("{base}/timeline/?activity_type=nope"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_field_error(&r, "activity_type", None);

    // An empty client.
    let empty = create_id(&app, &admin, json!({"name": "Empty Co"})).await;
    let s = read(
        &app,
        &admin,
        &format!("/api/clients/{empty}/activities/stats/"),
    )
    .await;
    assert_eq!(s["total_activities"], 0);
    assert_eq!(s["by_type"], json!([]));
    assert_eq!(s["top_contacts"], json!([]));
    assert_eq!(s["last_activity"], Value::Null);
    let t = read(
        &app,
        &admin,
        &format!("/api/clients/{empty}/activities/timeline/"),
    )
    .await;
    assert_eq!(t["count"], 0);
    assert_eq!(t["activities"], json!([]));
});

db_test!(activity_delete_restore_and_scoping, |app| {
    let admin = app.superuser().await;
    let scoped = app.scoped(&admin).await;
    let granted = create_id(&app, &admin, json!({"name": "Granted Inc"})).await;
    let hidden = create_id(&app, &admin, json!({"name": "Hidden Inc"})).await;
    app.grant(&admin, &scoped.id, &granted).await;
    let mine = format!("/api/clients/{granted}/activities/");
    let theirs = format!("/api/clients/{hidden}/activities/");
    let foreign = create(&app, &admin, &hidden, json!({"title": "Secret"})).await;
    let foreign = foreign["id"].as_str().unwrap().to_owned();

    for r in [
        app.get(&mine).send().await,
        app.get(&format!("{mine}timeline/")).send().await,
        app.post(&mine).json(&json!({"title": "x"})).send().await,
    ] {
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }

    // The scoped user records and edits activities of its client.
    let own = create(
        &app,
        &scoped,
        &granted,
        json!({"title": "Check-in", "activity_type": "Call"}),
    )
    .await;
    assert_eq!(own["created_by"], scoped.id.as_str());
    let own = own["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(&format!("{mine}{own}/"))
        .bearer(&scoped.access)
        .json(&json!({"description": "Went well"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["description"], "Went well");
    assert_page(&read(&app, &scoped, &mine).await, 1);
    assert_eq!(
        read(&app, &scoped, &format!("{mine}timeline/")).await["count"],
        1
    );
    assert_eq!(
        read(&app, &scoped, &format!("{mine}stats/")).await["total_activities"],
        1
    );
    let d = read(&app, &scoped, &format!("/api/clients/{granted}/")).await;
    assert!(d["last_contact_date"].is_string());

    // Another client's activities are absent.
    for r in [
        app.get(&theirs).bearer(&scoped.access).send().await,
        app.get(&format!("{theirs}timeline/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.get(&format!("{theirs}stats/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.get(&format!("{theirs}{foreign}/"))
            .bearer(&scoped.access)
            .send()
            .await,
        app.post(&theirs)
            .bearer(&scoped.access)
            .json(&json!({"title": "Sneaky"}))
            .send()
            .await,
        app.delete(&format!("{theirs}{foreign}/"))
            .bearer(&scoped.access)
            .send()
            .await,
    ] {
        assert_error(&r, 404, "not_found", "Client not found");
    }
    // ... and so is an activity of another client under this URL.
    for r in [
        app.get(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .send()
            .await,
        app.patch(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .json(&json!({"title": "Moved"}))
            .send()
            .await,
        app.delete(&format!("{mine}{foreign}/"))
            .bearer(&admin.access)
            .send()
            .await,
        app.post(&format!("{mine}{foreign}/restore/"))
            .bearer(&admin.access)
            .send()
            .await,
    ] {
        assert_error(&r, 404, "not_found", "Activity not found");
    }
    // X-Client-ID of a client it may not see.
    let r = app
        .get(&mine)
        .bearer(&scoped.access)
        .header("x-client-id", &hidden)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have access to this client",
    );

    // Delete, then restore (platform users only).
    let r = app
        .delete(&format!("{mine}{own}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    r.assert_status(204);
    assert!(r.body.is_empty());
    let r = app
        .get(&format!("{mine}{own}/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(&r, 404, "not_found", "Activity not found");
    assert_page(&read(&app, &admin, &mine).await, 0);
    assert_eq!(
        read(&app, &admin, &format!("/api/clients/{granted}/")).await["activities_count"],
        0
    );
    let r = app
        .post(&format!("{mine}{own}/restore/"))
        .bearer(&scoped.access)
        .send()
        .await;
    assert_error(
        &r,
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    let r = app
        .post(&format!("{mine}{own}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(KEYS));
    assert_eq!(r.json["description"], "Went well");
    assert_eq!(r.json["deleted_at"], Value::Null);
    let r = app
        .post(&format!("{mine}{own}/restore/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "invalid_state");
    assert_page(&read(&app, &scoped, &mine).await, 1);
    let types: Vec<String> = app
        .entity_changes_of("ClientActivity", &own)
        .await
        .into_iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(types, ["Create", "Update", "Delete", "Restore"]);
});
