//! Conflict detection through the API (contract §4, "Conflict rules
//! (exact)"): a clashing create or update is refused with one message per
//! conflict, the conflicts and suggestions; `/api/timetable/conflicts/`,
//! `/suggestions/` and `validate_timetable_entry` answer without writing.

use crate::common::*;
use crate::timetable::{ENTRIES, body, entry, entry_count, room, tt};

const CONFLICTS: &str = "/api/timetable/conflicts/";
const SUGGESTIONS: &str = "/api/timetable/suggestions/";
const VALIDATE: &str = "/api/timetable-generation/validate_timetable_entry/";

fn kinds(r: &Value) -> Vec<String> {
    r["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(a_clash_is_refused_with_conflicts_and_suggestions, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let first = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "monday", "08:00", "10:00"),
        )
        .await,
    );

    // COMP102: same class group, same trainer, same room.
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&body(t.comp102, t.b12, "monday", "09:00", "10:00"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        kinds(&r.json),
        vec!["room_conflict", "trainer_conflict", "class_group_conflict"]
    );
    let messages = r.json["non_field_errors"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0],
        "Room B12 is already booked on Monday 08:00–10:00 (COMP101, CS-1A)."
    );
    assert_eq!(r.json["conflicts"][0]["entry"], first.to_string());
    // Rooms free and suitable at that slot (the lab is the wrong type);
    // slots free of every rule, first on Monday nearest 09:00.
    let rooms: Vec<&str> = r.json["suggestions"]["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rooms, vec!["HALL"]);
    let slots = r.json["suggestions"]["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 10);
    assert_eq!(slots[0]["day_of_week"], "monday");
    assert_eq!(slots[0]["start_time"], "10:00");
    assert_eq!(slots[0]["end_time"], "11:00");
    assert_eq!(slots[0]["room_name"], "B12");

    // Touching ends are no conflict; another weekday neither.
    entry(
        &app,
        admin,
        body(t.comp102, t.b12, "monday", "10:00", "11:00"),
    )
    .await;
    entry(
        &app,
        admin,
        body(t.comp102, t.b12, "tuesday", "08:00", "09:00"),
    )
    .await;

    // An update that clashes is refused too, and changes nothing.
    let r = app
        .patch(&format!("{ENTRIES}{first}/"))
        .bearer(&admin.access)
        .json(&json!({"start_time": "09:00", "end_time": "11:00"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(kinds(&r.json).contains(&"room_conflict".to_owned()));
    let r = app
        .get(&format!("{ENTRIES}{first}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["end_time"], "10:00");
    // An entry does not clash with itself.
    let r = app
        .patch(&format!("{ENTRIES}{first}/"))
        .bearer(&admin.access)
        .json(&json!({"start_time": "08:30"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(entry_count(&app).await, 3);
});

db_test!(room_rules_through_the_api, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    // Two trainees in CS-1A: a room for one is too small.
    let tiny = room(&app, admin, "TINY", "classroom", 1).await;
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&body(t.e.enrollment, tiny, "monday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(kinds(&r.json), vec!["room_capacity"]);
    // Smallest adequate first.
    let rooms: Vec<&str> = r.json["suggestions"]["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rooms, vec!["B12", "HALL"]);
    // Theory in a computer lab is the wrong type; saturday is no working day.
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&body(t.e.enrollment, t.lab, "saturday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        kinds(&r.json),
        vec!["room_type_mismatch", "outside_school_hours"]
    );
    // An inactive room.
    let r = app
        .patch(&format!("/api/rooms/{}/", t.big))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .post(ENTRIES)
        .bearer(&admin.access)
        .json(&body(t.e.enrollment, t.big, "monday", "16:00", "18:00"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        kinds(&r.json),
        vec!["room_inactive", "outside_school_hours"]
    );
    assert_eq!(entry_count(&app).await, 0);
});

db_test!(checks_without_writing, |app| {
    let t = tt(&app).await;
    let admin = &t.e.admin;
    let first = id_of(
        &entry(
            &app,
            admin,
            body(t.e.enrollment, t.b12, "wednesday", "08:00", "10:00"),
        )
        .await,
    );
    let probe = body(t.comp102, t.b12, "wednesday", "09:00", "10:00");

    let r = app
        .post(CONFLICTS)
        .bearer(&admin.access)
        .json(&probe)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["has_conflicts"], true);
    assert_eq!(r.json["room_conflicts"][0]["id"], first.to_string());
    assert_eq!(r.json["room_conflicts"][0]["room"], "B12");
    assert_eq!(r.json["trainer_conflicts"][0]["course"], "COMP101");
    assert_eq!(r.json["class_group_conflicts"][0]["class_group"], "CS-1A");
    assert_eq!(r.json["conflicts"].as_array().unwrap().len(), 3);

    // `id` excludes the entry itself.
    let mut own = body(t.e.enrollment, t.b12, "wednesday", "08:00", "10:00");
    own["id"] = json!(first);
    let r = app
        .post(CONFLICTS)
        .bearer(&admin.access)
        .json(&own)
        .send()
        .await;
    assert_eq!(r.json["has_conflicts"], false, "{}", r.json);

    let r = app
        .post(SUGGESTIONS)
        .bearer(&admin.access)
        .json(&probe)
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["rooms"].is_array());
    assert_eq!(r.json["slots"][0]["start_time"], "10:00");

    let r = app
        .post(VALIDATE)
        .bearer(&admin.access)
        .json(&probe)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["valid"], false);
    assert_eq!(r.json["message"], "Found 3 conflicts.");
    let r = app
        .post("/api/timetable-generation/validate-timetable-entry/")
        .bearer(&admin.access)
        .json(&body(t.comp102, t.b12, "thursday", "09:00", "10:00"))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["valid"], true);

    // Unknown references are 400; trainers and trainees 403; anonymous 401.
    let r = app
        .post(CONFLICTS)
        .bearer(&admin.access)
        .json(&body(Uuid::new_v4(), t.b12, "monday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["enrollment"].is_array());
    let r = app
        .post(SUGGESTIONS)
        .bearer(&admin.access)
        .json(&body(t.comp102, Uuid::new_v4(), "monday", "08:00", "09:00"))
        .send()
        .await;
    r.assert_status(400);
    for who in [&t.e.trainer, &t.e.trainees[0]] {
        app.post(CONFLICTS)
            .bearer(&who.access)
            .json(&probe)
            .send()
            .await
            .assert_status(403);
        app.post(VALIDATE)
            .bearer(&who.access)
            .json(&probe)
            .send()
            .await
            .assert_status(403);
    }
    app.post(CONFLICTS)
        .json(&probe)
        .send()
        .await
        .assert_status(401);
    assert_eq!(entry_count(&app).await, 1);
});
