//! Timetable entries (contract §4, **Timetable entry**): the resource's
//! fields and input alias, filters and weekday ordering, who sees and
//! writes which entries, and field validation that writes nothing.
//! Also the fixture the other timetable test modules build on.

use roster::entities::timetable_entry;
use sea_orm::EntityTrait;

use crate::common::*;

pub const ENTRIES: &str = "/api/timetable/";

/// [`TestApp::enrolled`] plus rooms B12 (classroom, 30), LAB (computer
/// lab, 30) and a second term-1 enrollment of CS-1A, COMP102 (theory only),
/// by the same trainer.
pub struct Tt {
    pub e: Enrolled,
    pub b12: Uuid,
    pub lab: Uuid,
    pub big: Uuid,
    pub comp102: Uuid,
}

pub async fn room(app: &TestApp, admin: &Actor, name: &str, kind: &str, capacity: i64) -> Uuid {
    let r = app
        .post("/api/rooms/")
        .bearer(&admin.access)
        .json(&json!({"name": name, "code": name, "room_type": kind, "capacity": capacity, "building": "Main"}))
        .send()
        .await;
    r.assert_status(201);
    id_of(&r.json)
}

pub async fn tt(app: &TestApp) -> Tt {
    let e = app.enrolled().await;
    let b12 = room(app, &e.admin, "B12", "classroom", 30).await;
    let lab = room(app, &e.admin, "LAB1", "computer_lab", 30).await;
    let big = room(app, &e.admin, "HALL", "classroom", 100).await;
    let course = app
        .course(&e.admin, "COMP102", e.department, 1, 0, 60)
        .await;
    app.mapping(&e.admin, e.programme, course, 1).await;
    let comp102 = app
        .enrollment(
            &e.admin,
            e.class_group,
            course,
            &e.year,
            e.year.terms[0],
            Some(&e.trainer),
        )
        .await;
    Tt {
        e,
        b12,
        lab,
        big,
        comp102,
    }
}

/// An entry body.
pub fn body(enrollment: Uuid, room: Uuid, day: &str, start: &str, end: &str) -> Value {
    json!({
        "enrollment": enrollment, "room": room, "day_of_week": day,
        "start_time": start, "end_time": end, "session_type": "theory",
    })
}

/// Creates an entry (201) as `who`.
pub async fn entry(app: &TestApp, who: &Actor, body: Value) -> Value {
    let r = app
        .post(ENTRIES)
        .bearer(&who.access)
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, 201, "POST {body}: {}", r.json);
    r.json
}

pub async fn entry_count(app: &TestApp) -> usize {
    timetable_entry::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

db_test!(create_read_update_delete, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let created = entry(
        &app,
        admin,
        body(t.e.enrollment, t.b12, "Monday", "08:00", "10:00"),
    )
    .await;
    assert_eq!(created["course_code"], "COMP101");
    assert_eq!(created["class_group_name"], "CS-1A");
    assert_eq!(created["class_group"], t.e.class_group.to_string());
    assert_eq!(created["trainer"], t.e.trainer.id.to_string());
    assert_eq!(created["term"], t.e.year.terms[0].to_string());
    assert_eq!(created["day_of_week"], "monday");
    assert_eq!(created["start_time"], "08:00");
    assert_eq!(created["duration_minutes"], 120);
    assert_eq!(created["room_name"], "B12");
    assert_eq!(created["is_draft"], true);
    assert_eq!(created["is_recurring"], true);
    assert_eq!(created["draft_version"], Value::Null);
    let id = id_of(&created);

    // The original's input name for the enrollment.
    let mut alias = body(t.comp102, t.b12, "tuesday", "08:00", "09:00");
    alias["course_enrollment"] = alias["enrollment"].take();
    alias.as_object_mut().unwrap().remove("enrollment");
    let second = entry(&app, admin, alias).await;
    assert_eq!(second["enrollment"], t.comp102.to_string());
    entry(
        &app,
        admin,
        body(t.comp102, t.b12, "monday", "13:00", "14:00"),
    )
    .await;

    let r = app
        .get(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["course_name"], "Course COMP101");

    // Weekday order, then start time; filters.
    let r = app.get(ENTRIES).bearer(&admin.access).send().await;
    let order: Vec<(String, String)> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["day_of_week"].as_str().unwrap().to_owned(),
                e["start_time"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("monday".into(), "08:00".into()),
            ("monday".into(), "13:00".into()),
            ("tuesday".into(), "08:00".into())
        ]
    );
    let r = app
        .get(&format!("{ENTRIES}?day_of_week=tuesday"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get(&format!("{ENTRIES}?enrollment={}", t.comp102))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get(&format!(
            "{ENTRIES}?trainer={}&is_draft=true",
            t.e.trainer.id
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 3);
    let r = app
        .get(&format!("{ENTRIES}?search=comp102"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get(&format!(
            "{ENTRIES}?search=b12&class_group={}",
            t.e.class_group
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 3);
    let r = app
        .get(&format!("{ENTRIES}?ordering=-day_of_week"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][0]["day_of_week"], "tuesday");
    for bad in [
        "day_of_week=funday",
        "is_draft=maybe",
        "room=nope",
        "session_type=lecture",
    ] {
        let r = app
            .get(&format!("{ENTRIES}?{bad}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
    }

    // Update and delete.
    let r = app
        .patch(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .json(&json!({"end_time": "09:30", "room": t.big}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["duration_minutes"], 90);
    assert_eq!(r.json["room_name"], "HALL");
    let r = app
        .put(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .json(&json!({"room": t.b12}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["enrollment"].is_array());
    let r = app
        .delete(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(204);
    let r = app
        .get(&format!("{ENTRIES}{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    let r = app
        .get(&format!("{ENTRIES}not-an-id/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
});

db_test!(who_sees_and_writes, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let draft = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        )
        .await,
    );
    let trainer = &t.e.trainer;
    let trainee = &t.e.trainees[0];

    // Drafts are hidden from trainers and trainees.
    for who in [trainer, trainee] {
        let r = app.get(ENTRIES).bearer(&who.access).send().await;
        assert_eq!(r.json["count"], 0);
        let r = app
            .get(&format!("{ENTRIES}{draft}/"))
            .bearer(&who.access)
            .send()
            .await;
        r.assert_status(404);
    }
    // The department's HOD sees drafts and writes; the DP too.
    let r = app.get(ENTRIES).bearer(&t.e.hod.access).send().await;
    assert_eq!(r.json["count"], 1);
    let hod_made = entry(
        &app,
        &t.e.hod,
        body(t.comp102, t.b12, "tuesday", "08:00", "09:00"),
    )
    .await;
    let dp = app.user("dp_academics").await;
    let r = app.get(ENTRIES).bearer(&dp.access).send().await;
    assert_eq!(r.json["count"], 2);

    // Published entries show to the trainer and the class group's trainees.
    app.post(&format!("{ENTRIES}{draft}/publish/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    for who in [trainer, trainee] {
        let r = app.get(ENTRIES).bearer(&who.access).send().await;
        assert_eq!(r.json["count"], 1, "{}", r.json);
        app.get(&format!("{ENTRIES}{draft}/"))
            .bearer(&who.access)
            .send()
            .await
            .assert_status(200);
        // ...but may not write.
        let r = app
            .patch(&format!("{ENTRIES}{draft}/"))
            .bearer(&who.access)
            .json(&json!({"end_time": "09:00"}))
            .send()
            .await;
        r.assert_status(403);
        let r = app
            .post(ENTRIES)
            .bearer(&who.access)
            .json(&body(t.e.enrollment, t.b12, "friday", "08:00", "09:00"))
            .send()
            .await;
        r.assert_status(403);
    }
    // Another trainee sees nothing.
    let stranger = app.user("trainee").await;
    assert_eq!(
        app.get(ENTRIES).bearer(&stranger.access).send().await.json["count"],
        0
    );

    // A HOD of another department: 404 on read, 403 on writing ours.
    let other_hod = app.user("hod").await;
    app.department(admin, "MECH", Some(&other_hod), &[]).await;
    assert_eq!(
        app.get(ENTRIES).bearer(&other_hod.access).send().await.json["count"],
        0
    );
    app.get(&format!("{ENTRIES}{draft}/"))
        .bearer(&other_hod.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .post(ENTRIES)
        .bearer(&other_hod.access)
        .json(&body(t.e.enrollment, t.b12, "friday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .delete(&format!("{ENTRIES}{}/", id_of(&hod_made)))
        .bearer(&other_hod.access)
        .send()
        .await;
    r.assert_status(404);

    // Anonymous.
    let r = app.get(ENTRIES).send().await;
    r.assert_status(401);
    let r = app
        .post(ENTRIES)
        .json(&body(t.e.enrollment, t.b12, "friday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(entry_count(&app).await, 2);
});

db_test!(field_validation_writes_nothing, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let cases: Vec<(Value, &str)> = vec![
        (
            body(t.e.enrollment, t.b12, "monday", "10:00", "09:00"),
            "end_time",
        ),
        (
            body(t.e.enrollment, t.b12, "monday", "08:00", "08:20"),
            "end_time",
        ),
        (
            body(t.e.enrollment, t.b12, "monday", "08:00", "12:15"),
            "end_time",
        ),
        (
            body(t.e.enrollment, t.b12, "monday", "8am", "10:00"),
            "start_time",
        ),
        (
            body(t.e.enrollment, t.b12, "funday", "08:00", "10:00"),
            "day_of_week",
        ),
        (
            body(t.e.enrollment, Uuid::new_v4(), "monday", "08:00", "10:00"),
            "room",
        ),
        (
            json!({"enrollment": "nope", "room": t.b12, "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00"}),
            "enrollment",
        ),
        (
            json!({"room": t.b12, "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00"}),
            "enrollment",
        ),
        (
            json!({"enrollment": t.e.enrollment, "room": t.b12, "day_of_week": "monday", "start_time": 800, "end_time": "09:00"}),
            "start_time",
        ),
        (
            json!({"enrollment": t.comp102, "room": t.lab, "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00", "session_type": "practical"}),
            "session_type",
        ),
        (
            json!({"enrollment": t.e.enrollment, "room": t.b12, "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00", "session_type": "lecture"}),
            "session_type",
        ),
        (
            json!({"enrollment": t.e.enrollment, "room": t.b12, "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00", "is_recurring": false}),
            "specific_date",
        ),
        (
            json!({"enrollment": t.e.enrollment, "room": t.b12, "start_time": "08:00", "end_time": "09:00", "is_recurring": false, "specific_date": "1999-01-04"}),
            "specific_date",
        ),
    ];
    for (input, field) in cases {
        let r = app
            .post(ENTRIES)
            .bearer(&admin.access)
            .json(&input)
            .send()
            .await;
        assert_eq!(r.status, 400, "{input}: {}", r.json);
        assert!(
            r.json[field].is_array(),
            "{input}: expected an error on {field}, got {}",
            r.json
        );
    }
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .raw("application/json", "{not json")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(entry_count(&app).await, 0);

    // A one-off takes its weekday from the date.
    let today = chrono::Utc::now().date_naive() + chrono::Days::new(7);
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&json!({"enrollment": t.e.enrollment, "room": t.big, "start_time": "08:00", "end_time": "09:00",
            "is_recurring": false, "specific_date": today}))
        .send()
        .await;
    use chrono::Datelike;
    if today.weekday().num_days_from_monday() < 5 {
        r.assert_status(201);
        assert_eq!(r.json["specific_date"], today.to_string());
    } else {
        r.assert_status(400);
        assert_eq!(r.json["conflicts"][0]["type"], "outside_school_hours");
    }
    // A cancelled enrollment cannot be scheduled.
    let r = app
        .patch(&format!("/api/enrollments/{}/", t.comp102))
        .bearer(&admin.access)
        .json(&json!({"status": "cancelled"}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&body(t.comp102, t.b12, "monday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["enrollment"].is_array(), "{}", r.json);
});
