//! Rooms (contract §4, **Room**): the rules of a room, who writes which
//! room, bookings by date, free rooms at a weekly slot and maintenance.

use chrono::{Datelike, Days, NaiveDate};
use roster::entities::timetable_entry;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use crate::common::*;

const ROOMS: &str = "/api/rooms/";

async fn audit_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("campus_audit_log")
        .copied()
        .unwrap_or(0)
}

async fn room_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("roster_rooms")
        .copied()
        .unwrap_or(0)
}

async fn new_room(app: &TestApp, who: &Actor, body: Value) -> Value {
    let r = app.post(ROOMS).bearer(&who.access).json(&body).send().await;
    assert_eq!(r.status, 201, "POST {body}: {}", r.json);
    r.json
}

/// A timetable entry written straight to the table (the timetable API is
/// not under test here).
async fn entry(
    app: &TestApp,
    e: &Enrolled,
    room: Uuid,
    day: i32,
    (start, end): (i32, i32),
    specific_date: Option<NaiveDate>,
    is_draft: bool,
) -> Uuid {
    let now = chrono::Utc::now();
    let id = Uuid::new_v4();
    timetable_entry::ActiveModel {
        id: Set(id),
        term_id: Set(e.year.terms[0]),
        enrollment_id: Set(e.enrollment),
        room_id: Set(room),
        day: Set(day),
        start_minute: Set(start),
        end_minute: Set(end),
        session_type: Set("theory".into()),
        is_recurring: Set(specific_date.is_none()),
        specific_date: Set(specific_date),
        is_makeup: Set(false),
        is_draft: Set(is_draft),
        draft_version: Set(is_draft.then(|| "T1-20260101000000".to_owned())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(app.db())
    .await
    .unwrap();
    id
}

/// The next date on or after `from` that falls on `weekday` (0 = Monday).
fn next_on(from: NaiveDate, weekday: u32) -> NaiveDate {
    let ahead = (7 + weekday - from.weekday().num_days_from_monday()) % 7;
    from + Days::new(u64::from(ahead))
}

db_test!(a_room_is_created_with_defaults_and_read_by_anyone, |app| {
    let admin = app.admin().await;
    let before = audit_rows(&app).await;
    let room = new_room(&app, &admin, json!({
        "name": "B12", "code": "B12", "room_type": "lab", "capacity": 30,
        "building": "Block B", "floor": "1", "facilities": ["projector", "projector", "whiteboard"],
        "latitude": -1.29, "longitude": 36.82,
    }))
    .await;
    assert_eq!(room["geofence_radius_m"], 50);
    assert_eq!(room["is_virtual"], false);
    assert_eq!(room["is_active"], true);
    assert_eq!(room["department"], Value::Null);
    assert_eq!(room["max_sessions_per_day"], Value::Null);
    assert_eq!(room["session_count"], 0);
    assert_eq!(room["facilities"], json!(["projector", "whiteboard"]));
    assert_eq!(audit_rows(&app).await, before + 1);

    let online = new_room(
        &app,
        &admin,
        json!({"name": "Zoom 1", "room_type": "online", "capacity": 200}),
    )
    .await;
    assert_eq!(online["is_virtual"], true);

    let trainee = app.user("trainee").await;
    let r = app
        .get(&format!("{ROOMS}{}/", id_of(&room)))
        .bearer(&trainee.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["name"], "B12");
    app.get(ROOMS).send().await.assert_status(401);
    app.get(&format!("{ROOMS}not-a-uuid/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{ROOMS}{}/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(room_rules_refuse_bad_input_and_write_nothing, |app| {
    let admin = app.admin().await;
    new_room(&app, &admin, json!({"name": "Lab 1", "capacity": 20})).await;
    let rooms = room_rows(&app).await;
    let audits = audit_rows(&app).await;
    let cases = [
        (json!({"name": "lab 1", "capacity": 20}), "name"),
        (json!({"capacity": 20}), "name"),
        (json!({"name": "X"}), "capacity"),
        (json!({"name": "X", "capacity": 0}), "capacity"),
        (json!({"name": "X", "capacity": "many"}), "capacity"),
        (
            json!({"name": "X", "capacity": 5, "room_type": "garage"}),
            "room_type",
        ),
        (
            json!({"name": "X", "capacity": 5, "geofence_radius_m": 5}),
            "geofence_radius_m",
        ),
        (
            json!({"name": "X", "capacity": 5, "geofence_radius_m": 1001}),
            "geofence_radius_m",
        ),
        (
            json!({"name": "X", "capacity": 5, "latitude": 1.0}),
            "non_field_errors",
        ),
        (
            json!({"name": "X", "capacity": 5, "latitude": 91.0, "longitude": 0.0}),
            "latitude",
        ),
        (
            json!({"name": "X", "capacity": 5, "latitude": 0.0, "longitude": -181.0}),
            "longitude",
        ),
        (
            json!({"name": "X", "capacity": 5, "room_type": "online", "is_virtual": false}),
            "is_virtual",
        ),
        (
            json!({"name": "X", "capacity": 5, "max_sessions_per_day": 0}),
            "max_sessions_per_day",
        ),
        (
            json!({"name": "X", "capacity": 5, "facilities": "projector"}),
            "facilities",
        ),
        (
            json!({"name": "X", "capacity": 5, "facilities": [" "]}),
            "facilities",
        ),
        (
            json!({"name": "X", "capacity": 5, "department": "nope"}),
            "department",
        ),
        (
            json!({"name": "X", "capacity": 5, "department": Uuid::new_v4()}),
            "department",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post(ROOMS)
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let r = app
        .post(ROOMS)
        .bearer(&admin.access)
        .raw("application/json", "{bad")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(room_rows(&app).await, rooms);
    assert_eq!(audit_rows(&app).await, audits);
});

db_test!(
    rooms_are_listed_filtered_searched_updated_and_deleted,
    |app| {
        let admin = app.admin().await;
        let dp = app.user("dp_academics").await;
        let a = new_room(&app, &admin, json!({"name": "Alpha", "room_type": "lab", "capacity": 40, "building": "North", "floor": "2"})).await;
        new_room(&app, &dp, json!({"name": "Beta", "room_type": "classroom", "capacity": 10, "building": "South", "is_active": false})).await;
        new_room(
            &app,
            &admin,
            json!({"name": "Gamma", "room_type": "classroom", "capacity": 25, "building": "North"}),
        )
        .await;

        let names = |v: &Value| -> Vec<String> {
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let list = |q: &str| app.get(&format!("{ROOMS}{q}")).bearer(&admin.access).send();
        let r = list("").await;
        r.assert_status(200);
        assert_eq!(r.json["count"], 3);
        assert_eq!(names(&r.json), ["Alpha", "Beta", "Gamma"]);
        assert_eq!(
            names(&list("?room_type=classroom").await.json),
            ["Beta", "Gamma"]
        );
        assert_eq!(names(&list("?is_active=false").await.json), ["Beta"]);
        assert_eq!(
            names(&list("?building=North&floor=2").await.json),
            ["Alpha"]
        );
        assert_eq!(names(&list("?search=sout").await.json), ["Beta"]);
        assert_eq!(
            names(&list("?ordering=-capacity").await.json),
            ["Alpha", "Gamma", "Beta"]
        );
        list("?room_type=garage").await.assert_status(400);
        list("?is_active=maybe").await.assert_status(400);
        list("?department=x").await.assert_status(400);

        let path = format!("{ROOMS}{}/", id_of(&a));
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"capacity": 45, "max_sessions_per_day": 4}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["capacity"], 45);
        assert_eq!(r.json["name"], "Alpha");
        assert_eq!(r.json["max_sessions_per_day"], 4);
        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"name": "GAMMA"}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["name"].is_array());
        let r = app
            .put(&path)
            .bearer(&admin.access)
            .json(&json!({"name": "Alpha 2"}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["capacity"].is_array());
        let r = app
            .put(&path)
            .bearer(&admin.access)
            .json(&json!({"name": "Alpha 2", "capacity": 12}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["building"], "North");

        let trainer = app.user("trainer").await;
        app.patch(&path)
            .bearer(&trainer.access)
            .json(&json!({"capacity": 1}))
            .send()
            .await
            .assert_status(403);
        app.delete(&path)
            .bearer(&trainer.access)
            .send()
            .await
            .assert_status(403);
        app.post(ROOMS)
            .bearer(&trainer.access)
            .json(&json!({"name": "T", "capacity": 1}))
            .send()
            .await
            .assert_status(403);
        app.post(ROOMS)
            .json(&json!({"name": "T", "capacity": 1}))
            .send()
            .await
            .assert_status(401);

        let audits = audit_rows(&app).await;
        app.delete(&path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(204);
        assert_eq!(audit_rows(&app).await, audits + 1);
        app.get(&path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
    }
);

db_test!(a_hod_manages_only_the_rooms_of_their_department, |app| {
    let admin = app.admin().await;
    let hod = app.user("hod").await;
    let other_hod = app.user("hod").await;
    app.school(&admin).await;
    let ict = app.department(&admin, "ICT", Some(&hod), &[]).await;
    let eng = app.department(&admin, "ENG", Some(&other_hod), &[]).await;

    let own = new_room(
        &app,
        &hod,
        json!({"name": "ICT Lab", "room_type": "computer_lab", "capacity": 30}),
    )
    .await;
    assert_eq!(own["department"], json!(ict));
    assert_eq!(own["department_name"], "Department ICT");
    let rooms = room_rows(&app).await;
    for body in [
        json!({"name": "Shared", "capacity": 5, "department": null}),
        json!({"name": "Theirs", "capacity": 5, "department": eng}),
    ] {
        app.post(ROOMS)
            .bearer(&hod.access)
            .json(&body)
            .send()
            .await
            .assert_status(403);
    }
    assert_eq!(room_rows(&app).await, rooms);

    let shared = new_room(
        &app,
        &admin,
        json!({"name": "Hall", "room_type": "lecture_hall", "capacity": 300}),
    )
    .await;
    let theirs = new_room(
        &app,
        &admin,
        json!({"name": "Workshop", "room_type": "workshop", "capacity": 20, "department": eng}),
    )
    .await;
    let own_path = format!("{ROOMS}{}/", id_of(&own));
    app.patch(&own_path)
        .bearer(&hod.access)
        .json(&json!({"capacity": 32}))
        .send()
        .await
        .assert_status(200);
    app.patch(&own_path)
        .bearer(&hod.access)
        .json(&json!({"department": eng}))
        .send()
        .await
        .assert_status(403);
    app.patch(&own_path)
        .bearer(&hod.access)
        .json(&json!({"department": null}))
        .send()
        .await
        .assert_status(403);
    for other in [&shared, &theirs] {
        let path = format!("{ROOMS}{}/", id_of(other));
        app.get(&path)
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(200);
        app.patch(&path)
            .bearer(&hod.access)
            .json(&json!({"capacity": 1}))
            .send()
            .await
            .assert_status(403);
        app.delete(&path)
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(403);
    }
    let r = app
        .get(&format!("{ROOMS}?department={ict}"))
        .bearer(&hod.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    app.delete(&own_path)
        .bearer(&hod.access)
        .send()
        .await
        .assert_status(204);
});

db_test!(a_rooms_bookings_come_from_the_published_timetable, |app| {
    let e = app.enrolled().await;
    let room = id_of(&new_room(&app, &e.admin, json!({"name": "B12", "capacity": 40})).await);
    let today = chrono::Utc::now().date_naive();
    let monday = next_on(today, 0);
    let tuesday = next_on(today, 1);
    let recurring = entry(&app, &e, room, 0, (480, 600), None, false).await;
    entry(&app, &e, room, 0, (600, 720), None, true).await;
    let one_off = entry(&app, &e, room, 1, (840, 900), Some(tuesday), false).await;

    let base = format!("{ROOMS}{room}/availability/");
    let end = today + Days::new(13);
    let r = app
        .get(&format!("{base}?start_date={today}&end_date={end}"))
        .bearer(&e.trainees[0].access)
        .send()
        .await;
    r.assert_status(200);
    let days = r.json.as_array().unwrap();
    assert_eq!(days.len(), 14);
    let on = |date: NaiveDate| {
        days.iter()
            .find(|d| d["date"] == json!(date))
            .unwrap()
            .clone()
    };
    let first_monday = on(monday);
    assert_eq!(first_monday["day_name"], "Monday");
    let bookings = first_monday["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1, "{first_monday}");
    assert_eq!(bookings[0]["id"], json!(recurring));
    assert_eq!(bookings[0]["start_time"], "08:00");
    assert_eq!(bookings[0]["end_time"], "10:00");
    assert_eq!(bookings[0]["course_name"], "Course COMP101");
    assert_eq!(bookings[0]["class_group"], "CS-1A");
    assert_eq!(bookings[0]["trainer_name"], "Test trainer");
    assert_eq!(
        on(monday + Days::new(7))["bookings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tue = on(tuesday)["bookings"].clone();
    assert_eq!(tue.as_array().unwrap().len(), 1);
    assert_eq!(tue[0]["id"], json!(one_off));
    assert!(
        on(tuesday + Days::new(7))["bookings"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let r = app.get(&base).bearer(&e.admin.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json.as_array().unwrap().len(), 7);
    for q in [
        "?start_date=2026-13-01",
        "?end_date=soon",
        "?start_date=2026-03-10&end_date=2026-03-01",
        "?start_date=2026-01-01&end_date=2026-02-01",
    ] {
        let r = app
            .get(&format!("{base}{q}"))
            .bearer(&e.admin.access)
            .send()
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.json);
    }
    app.get(&format!("{ROOMS}{}/availability/", Uuid::new_v4()))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&base).send().await.assert_status(401);

    let r = app
        .get(&format!("{ROOMS}{room}/"))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(r.json["session_count"], 2);
    let r = app
        .delete(&format!("{ROOMS}{room}/"))
        .bearer(&e.admin.access)
        .send()
        .await;
    r.assert_status(409);
});

db_test!(
    free_rooms_at_a_slot_skip_bookings_limits_and_maintenance,
    |app| {
        let e = app.enrolled().await;
        let admin = &e.admin;
        let term = e.year.terms[0];
        let busy = id_of(&new_room(&app, admin, json!({"name": "Busy", "capacity": 30})).await);
        let small = id_of(&new_room(&app, admin, json!({"name": "Small", "capacity": 10})).await);
        let big = id_of(&new_room(&app, admin, json!({"name": "Big", "capacity": 100})).await);
        let limited = id_of(
            &new_room(
                &app,
                admin,
                json!({"name": "Limited", "capacity": 50, "max_sessions_per_day": 1}),
            )
            .await,
        );
        new_room(
            &app,
            admin,
            json!({"name": "Closed", "capacity": 50, "is_active": false}),
        )
        .await;
        let lab = id_of(
            &new_room(
                &app,
                admin,
                json!({"name": "Lab", "room_type": "lab", "capacity": 30}),
            )
            .await,
        );
        entry(&app, &e, busy, 0, (480, 600), None, false).await;
        entry(&app, &e, limited, 0, (900, 960), None, false).await;
        // A draft of a generated version does not hold the room.
        entry(&app, &e, big, 0, (480, 600), None, true).await;

        let ids = |v: &Value| -> Vec<Uuid> { v.as_array().unwrap().iter().map(id_of).collect() };
        let client = &app;
        let free = |q: String| async move {
            let r = client
                .get(&format!("{ROOMS}available/?{q}"))
                .bearer(&admin.access)
                .send()
                .await;
            assert_eq!(r.status, 200, "{q}: {}", r.json);
            r.json
        };
        let r = free(format!(
            "day_of_week=monday&start_time=09:00&end_time=10:00&term={term}"
        ))
        .await;
        assert_eq!(ids(&r), [small, lab, big]);
        // Touching ends are free; the limited room is full that day.
        let r = free(format!(
            "day_of_week=Monday&start_time=10:00&end_time=11:00&term={term}"
        ))
        .await;
        assert_eq!(ids(&r), [small, busy, lab, big]);
        let r = free(format!("day_of_week=tuesday&start_time=10:00&end_time=11:00&term={term}&room_type=classroom&min_capacity=20")).await;
        assert_eq!(ids(&r), [busy, limited, big]);

        // Maintenance on one Monday of the term takes the room out of that slot.
        let monday = next_on(chrono::Utc::now().date_naive(), 0);
        let r = app
        .post(&format!("{ROOMS}{small}/maintenance/"))
        .bearer(&admin.access)
        .json(&json!({"start": format!("{monday}T09:30:00Z"), "end": format!("{monday}T12:00:00Z"), "reason": "Painting"}))
        .send()
        .await;
        r.assert_status(201);
        let r = free(format!(
            "day_of_week=monday&start_time=08:00&end_time=09:30&term={term}"
        ))
        .await;
        assert!(ids(&r).contains(&small));
        let r = free(format!(
            "day_of_week=monday&start_time=09:00&end_time=10:00&term={term}"
        ))
        .await;
        assert!(!ids(&r).contains(&small));
        let r = free(format!(
            "day_of_week=tuesday&start_time=09:00&end_time=10:00&term={term}"
        ))
        .await;
        assert!(ids(&r).contains(&small));

        for q in [
            "start_time=09:00&end_time=10:00".to_owned(),
            "day_of_week=funday&start_time=09:00&end_time=10:00".to_owned(),
            "day_of_week=monday&start_time=9am&end_time=10:00".to_owned(),
            "day_of_week=monday&start_time=10:00&end_time=10:00".to_owned(),
            format!(
                "day_of_week=monday&start_time=09:00&end_time=10:00&term={}",
                Uuid::new_v4()
            ),
            "day_of_week=monday&start_time=09:00&end_time=10:00&room_type=garage".to_owned(),
            "day_of_week=monday&start_time=09:00&end_time=10:00&min_capacity=lots".to_owned(),
        ] {
            let r = app
                .get(&format!("{ROOMS}available/?{q}"))
                .bearer(&admin.access)
                .send()
                .await;
            assert_eq!(r.status, 400, "{q}: {}", r.json);
        }
        app.get(&format!(
            "{ROOMS}available/?day_of_week=monday&start_time=09:00&end_time=10:00"
        ))
        .send()
        .await
        .assert_status(401);
    }
);

db_test!(maintenance_windows_are_managed_under_their_room, |app| {
    let admin = app.admin().await;
    let room = id_of(&new_room(&app, &admin, json!({"name": "M1", "capacity": 10})).await);
    let other = id_of(&new_room(&app, &admin, json!({"name": "M2", "capacity": 10})).await);
    let base = format!("{ROOMS}{room}/maintenance/");
    let audits = audit_rows(&app).await;
    for body in [
        json!({"start": "2026-05-01T12:00:00Z", "end": "2026-05-01T08:00:00Z"}),
        json!({"start": "2026-05-01T12:00:00Z", "end": "2026-05-01T12:00:00Z"}),
        json!({"start": "yesterday", "end": "2026-05-01T12:00:00Z"}),
        json!({"end": "2026-05-01T12:00:00Z"}),
        json!({"start": 5, "end": "2026-05-01T12:00:00Z"}),
    ] {
        let r = app
            .post(&base)
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
    }
    assert_eq!(audit_rows(&app).await, audits);
    let r = app
        .post(&base)
        .bearer(&admin.access)
        .json(&json!({"start": "2026-05-01T08:00:00Z", "end": "2026-05-01T17:00", "reason": "Wiring"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["room"], json!(room));
    assert_eq!(r.json["reason"], "Wiring");
    let id = id_of(&r.json);
    assert_eq!(audit_rows(&app).await, audits + 1);

    let trainee = app.user("trainee").await;
    let r = app.get(&base).bearer(&trainee.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    let item = format!("{base}{id}/");
    app.get(&item)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("{ROOMS}{other}/maintenance/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{base}nope/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);

    let r = app
        .patch(&item)
        .bearer(&admin.access)
        .json(&json!({"end": "2026-05-01T07:00:00Z"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["non_field_errors"].is_array());
    let r = app
        .patch(&item)
        .bearer(&admin.access)
        .json(&json!({"end": "2026-05-02T07:00:00Z"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["reason"], "Wiring");
    let trainer = app.user("trainer").await;
    app.post(&base)
        .bearer(&trainer.access)
        .json(&json!({"start": "2026-05-01T08:00:00Z", "end": "2026-05-01T09:00:00Z"}))
        .send()
        .await
        .assert_status(403);
    app.delete(&item)
        .bearer(&trainer.access)
        .send()
        .await
        .assert_status(403);
    app.delete(&item)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&item)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});
