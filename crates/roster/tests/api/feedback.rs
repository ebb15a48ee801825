//! Session feedback and makeup sessions (contract §5, **Feedback**,
//! **Makeup**), on sessions and records written straight to the tables.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use roster::entities::{attendance_session, session_feedback};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;
use crate::records::{now, outsiders, record_row, rows, session_row, update_session};

fn feedback_path(session: Uuid) -> String {
    format!("/api/attendance/sessions/{session}/feedback/")
}

fn ratings(c: i64, d: i64, e: i64, o: i64) -> Value {
    json!({"content_rating": c, "delivery_rating": d, "engagement_rating": e, "overall_rating": o})
}

async fn session(app: &TestApp, id: Uuid) -> attendance_session::Model {
    attendance_session::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

db_test!(attendees_rate_a_completed_session_once, |app| {
    let e = app.enrolled().await;
    let o = outsiders(&app, &e).await;
    let s = session_row(&app, &e, "completed", now() - Duration::hours(2), 60).await;
    record_row(&app, s.id, e.trainees[0].id, "present").await;
    record_row(&app, s.id, e.trainees[1].id, "late").await;
    let path = feedback_path(s.id);
    let (t0, t1) = (&e.trainees[0], &e.trainees[1]);

    // Bad bodies, wrong people: nothing is written.
    for body in [
        json!({}),
        ratings(0, 3, 3, 3),
        ratings(3, 6, 3, 3),
        json!({"content_rating": "5", "delivery_rating": 3, "engagement_rating": 3, "overall_rating": 3}),
        json!({"content_rating": 3.5, "delivery_rating": 3, "engagement_rating": 3, "overall_rating": 3}),
        json!({"content_rating": 3, "delivery_rating": 3, "engagement_rating": 3}),
        json!({"content_rating": 3, "delivery_rating": 3, "engagement_rating": 3, "overall_rating": null}),
        json!({"content_rating": 3, "delivery_rating": 3, "engagement_rating": 3, "overall_rating": 3,
               "comment": "x".repeat(2001)}),
    ] {
        let r = app.post(&path).bearer(&t0.access).json(&body).send().await;
        r.assert_status(400);
        assert!(
            r.json
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.ends_with("rating") || k == "comment"),
            "{body}: {}",
            r.json
        );
    }
    let r = app
        .post(&path)
        .bearer(&t0.access)
        .raw("application/json", "[1,")
        .send()
        .await;
    r.assert_status(400);
    for (who, status) in [(&e.trainer, 403), (&e.admin, 403), (&o.trainee, 404)] {
        let r = app
            .post(&path)
            .bearer(&who.access)
            .json(&ratings(5, 5, 5, 5))
            .send()
            .await;
        assert_eq!(r.status, status, "{}: {}", who.email, r.json);
    }
    app.post(&path)
        .json(&ratings(5, 5, 5, 5))
        .send()
        .await
        .assert_status(401);
    for bad in [Uuid::new_v4().to_string(), "nope".to_owned()] {
        app.post(&format!("/api/attendance/sessions/{bad}/feedback/"))
            .bearer(&t0.access)
            .json(&ratings(5, 5, 5, 5))
            .send()
            .await
            .assert_status(404);
    }
    assert_eq!(rows(&app, "roster_session_feedback").await, 0);

    let body = json!({"content_rating": 5, "delivery_rating": 4, "engagement_rating": 3,
                      "overall_rating": 5, "comment": "Clear examples"});
    let r = app.post(&path).bearer(&t0.access).json(&body).send().await;
    r.assert_status(201);
    assert_eq!(r.json["overall_rating"], 5);
    assert_eq!(r.json["comment"], "Clear examples");
    assert!(r.json.get("trainee").is_none());
    let r = app
        .post(&path)
        .bearer(&t0.access)
        .json(&ratings(1, 1, 1, 1))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"non_field_errors": ["You have already given feedback for this session."]})
    );
    let r = app
        .post(&path)
        .bearer(&t1.access)
        .json(&ratings(2, 3, 4, 2))
        .send()
        .await;
    r.assert_status(201);
    let row = session(&app, s.id).await;
    assert_eq!(row.feedback_count, 2);
    assert_eq!(row.content_avg, Some(3.5));
    assert_eq!(row.delivery_avg, Some(3.5));
    assert_eq!(row.engagement_avg, Some(3.5));
    assert_eq!(row.overall_avg, Some(3.5));

    // Reading: staff see every rating without who gave it; a trainee their own.
    for who in [&e.trainer, &e.hod, &e.admin] {
        let r = app.get(&path).bearer(&who.access).send().await;
        r.assert_status(200);
        assert_eq!(r.json["summary"]["count"], 2);
        assert_eq!(r.json["summary"]["overall_avg"], 3.5);
        let results = r.json["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert!(!r.json.to_string().contains(&t0.id.to_string()));
        assert!(results.iter().all(|f| f.get("trainee").is_none()));
    }
    let r = app.get(&path).bearer(&t1.access).send().await;
    r.assert_status(200);
    assert_eq!(
        r.json["results"],
        json!([{
            "content_rating": 2, "delivery_rating": 3, "engagement_rating": 4, "overall_rating": 2,
            "comment": null, "created_at": r.json["results"][0]["created_at"],
        }])
    );
    for who in [&o.trainer, &o.hod, &o.trainee] {
        app.get(&path)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get(&path).send().await.assert_status(401);
});

db_test!(
    feedback_needs_attendance_a_completed_session_and_the_window,
    |app| {
        let e = app.enrolled().await;
        let (t0, t1) = (&e.trainees[0], &e.trainees[1]);
        let active = session_row(&app, &e, "active", now() - Duration::minutes(30), 60).await;
        record_row(&app, active.id, t0.id, "present").await;
        let r = app
            .post(&feedback_path(active.id))
            .bearer(&t0.access)
            .json(&ratings(5, 5, 5, 5))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "invalid_state");

        let done = session_row(&app, &e, "completed", now() - Duration::hours(2), 60).await;
        record_row(&app, done.id, t0.id, "present").await;
        record_row(&app, done.id, t1.id, "absent").await;
        let r = app
            .post(&feedback_path(done.id))
            .bearer(&t1.access)
            .json(&ratings(5, 5, 5, 5))
            .send()
            .await;
        r.assert_status(403);
        kernel::time::shifted(Duration::days(8), async {
            let r = app
                .post(&feedback_path(done.id))
                .bearer(&t0.access)
                .json(&ratings(5, 5, 5, 5))
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(r.json["code"], "feedback_window_closed");
        })
        .await;
        assert_eq!(rows(&app, "roster_session_feedback").await, 0);
        assert_eq!(session(&app, done.id).await.feedback_count, 0);

        // Two at once: one is kept.
        let send = || {
            app.post(&feedback_path(done.id))
                .bearer(&t0.access)
                .json(&ratings(4, 4, 4, 4))
                .send()
        };
        let (a, b) = tokio::join!(send(), send());
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 400], "{} {}", a.json, b.json);
        let kept = session_feedback::Entity::find()
            .filter(session_feedback::Column::SessionId.eq(done.id))
            .all(app.db())
            .await
            .unwrap();
        assert_eq!(kept.len(), 1);
        let row = session(&app, done.id).await;
        assert_eq!(row.feedback_count, 1);
        assert_eq!(row.overall_avg, Some(4.0));
    }
);

/// The Monday after next week's (a working day in the future, inside term 1).
fn next_monday() -> NaiveDate {
    let mut d = now().date_naive() + Duration::days(7);
    while d.weekday() != Weekday::Mon {
        d = d.succ_opt().unwrap();
    }
    d
}

async fn new_room(app: &TestApp, admin: &Actor, name: &str, kind: &str) -> Uuid {
    let r = app
        .post("/api/rooms/")
        .bearer(&admin.access)
        .json(
            &json!({"name": name, "code": name, "room_type": kind, "capacity": 40,
                      "building": "Main", "latitude": -1.2921, "longitude": 36.8219}),
        )
        .send()
        .await;
    r.assert_status(201);
    id_of(&r.json)
}

fn times(slots: &Value) -> Vec<String> {
    slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["start_time"].as_str().unwrap(),
                s["room_name"].as_str().unwrap()
            )
        })
        .collect()
}

db_test!(
    makeup_slots_avoid_sessions_and_availability_and_a_makeup_is_booked,
    |app| {
        let e = app.enrolled().await;
        let o = outsiders(&app, &e).await;
        let b12 = new_room(&app, &e.admin, "B12", "classroom").await;
        let lab = new_room(&app, &e.admin, "LAB1", "computer_lab").await;
        let c7 = new_room(&app, &e.admin, "C7", "classroom").await;
        let missed = session_row(&app, &e, "missed", now() - Duration::days(1), 60).await;
        let missed = update_session(&app, missed, |s| s.room_id = Set(Some(b12))).await;
        let monday = next_monday();
        let at = |h: u32| monday.and_hms_opt(h, 0, 0).unwrap().and_utc();
        let path = format!(
            "/api/attendance/sessions/{}/makeup-slots/?from={monday}&days=1",
            missed.id
        );

        let r = app.get(&path).bearer(&e.trainer.access).send().await;
        r.assert_status(200);
        let all = times(&r.json);
        assert_eq!(all.len(), 17, "{all:?}");
        assert_eq!(all[0], "08:00 B12");
        assert_eq!(all[16], "16:00 B12");
        assert_eq!(r.json[0]["date"], json!(monday));
        assert_eq!(r.json[0]["end_time"], "09:00");
        assert_eq!(r.json[0]["room"], json!(b12));

        // Another session of the class group at 10:00–11:00 and one in B12 at
        // 13:00 (another room is offered then); the trainer is available
        // 08:00–15:00 only.
        session_row(&app, &e, "scheduled", at(10), 60).await;
        let other_group = app
            .class_group(&e.admin, "CS-1B", e.programme, e.year.id, &[])
            .await;
        let other = session_row(&app, &e, "scheduled", at(13), 60).await;
        update_session(&app, other, |s| {
            s.room_id = Set(Some(b12));
            s.class_group_id = Set(other_group);
            s.trainer_id = Set(None);
        })
        .await;
        let r = app
            .post("/api/trainer-availability/")
            .bearer(&e.admin.access)
            .json(&json!({"trainer": e.trainer.id, "day_of_week": "monday",
                      "start_time": "08:00", "end_time": "15:00"}))
            .send()
            .await;
        r.assert_status(201);
        for who in [&e.trainer, &e.hod, &e.admin] {
            let r = app.get(&path).bearer(&who.access).send().await;
            r.assert_status(200);
            assert_eq!(
                times(&r.json),
                [
                    "08:00 B12",
                    "08:30 B12",
                    "09:00 B12",
                    "11:00 B12",
                    "11:30 B12",
                    "12:00 B12",
                    "12:30 C7",
                    "13:00 C7",
                    "13:30 C7",
                    "14:00 B12"
                ],
                "{}",
                who.email
            );
        }
        // The past has no slots; bad parameters are 400 keyed by the parameter.
        let yesterday = now().date_naive().pred_opt().unwrap();
        let r = app
            .get(&format!(
                "/api/attendance/sessions/{}/makeup-slots/?from={yesterday}&days=1",
                missed.id
            ))
            .bearer(&e.trainer.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json, json!([]));
        let base = format!("/api/attendance/sessions/{}/makeup-slots/", missed.id);
        let r = app
            .get(&format!("{base}?days=31"))
            .bearer(&e.admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json.as_array().unwrap().len(), 20);
        for (q, key) in [
            ("from=tomorrow", "from"),
            ("days=0", "days"),
            ("days=32", "days"),
            ("days=x", "days"),
        ] {
            let r = app
                .get(&format!("{base}?{q}"))
                .bearer(&e.admin.access)
                .send()
                .await;
            r.assert_status(400);
            assert!(r.json.get(key).is_some(), "{q}: {}", r.json);
        }
        for (who, status) in [
            (&e.trainees[0], 403),
            (&o.trainer, 404),
            (&o.hod, 404),
            (&o.trainee, 404),
        ] {
            let r = app.get(&path).bearer(&who.access).send().await;
            assert_eq!(r.status, status, "{}", who.email);
        }
        app.get(&path).send().await.assert_status(401);
        app.get(&format!(
            "/api/attendance/sessions/{}/makeup-slots/",
            Uuid::new_v4()
        ))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
        let scheduled = session_row(&app, &e, "scheduled", now() + Duration::days(2), 60).await;
        let r = app
            .get(&format!(
                "/api/attendance/sessions/{}/makeup-slots/",
                scheduled.id
            ))
            .bearer(&e.admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "invalid_state");

        // Booking.
        let book = format!("/api/attendance/sessions/{}/makeup/", missed.id);
        let sessions_before = rows(&app, "roster_attendance_sessions").await;
        for (body, key) in [
            (json!({}), "date"),
            (
                json!({"date": "2026-02-30", "start_time": "08:00", "room": b12}),
                "date",
            ),
            (
                json!({"date": monday, "start_time": "8 am", "room": b12}),
                "start_time",
            ),
            (
                json!({"date": monday, "start_time": "08:00", "room": Uuid::new_v4()}),
                "room",
            ),
            (
                json!({"date": monday, "start_time": "08:00", "room": "b12"}),
                "room",
            ),
            (
                json!({"date": 5, "start_time": "08:00", "room": b12}),
                "date",
            ),
        ] {
            let r = app
                .post(&book)
                .bearer(&e.trainer.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(400);
            assert!(r.json.get(key).is_some(), "{body}: {}", r.json);
        }
        for (body, kind) in [
            (
                json!({"date": monday, "start_time": "10:00", "room": b12}),
                "class_group_conflict",
            ),
            (
                json!({"date": monday, "start_time": "15:00", "room": b12}),
                "trainer_unavailable",
            ),
            (
                json!({"date": monday, "start_time": "08:00", "room": lab}),
                "room_type_mismatch",
            ),
            (
                json!({"date": monday, "start_time": "07:00", "room": b12}),
                "outside_school_hours",
            ),
        ] {
            let r = app
                .post(&book)
                .bearer(&e.trainer.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(r.json["code"], "timetable_conflict", "{body}: {}", r.json);
            assert!(
                r.json["conflicts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["type"] == kind),
                "{body}: {}",
                r.json
            );
        }
        let r = app
            .post(&book)
            .bearer(&e.trainer.access)
            .json(&json!({"date": yesterday, "start_time": "09:00", "room": b12}))
            .send()
            .await;
        r.assert_status(400);
        for (who, status) in [(&e.trainees[0], 403), (&o.trainer, 404)] {
            let r = app
                .post(&book)
                .bearer(&who.access)
                .json(&json!({"date": monday, "start_time": "08:00", "room": b12}))
                .send()
                .await;
            assert_eq!(r.status, status, "{}", who.email);
        }
        app.post(&book)
            .json(&json!({"date": monday, "start_time": "08:00", "room": b12}))
            .send()
            .await
            .assert_status(401);
        assert_eq!(
            rows(&app, "roster_attendance_sessions").await,
            sessions_before
        );

        let notes = rows(&app, "roster_notifications").await;
        let r = app
            .post(&book)
            .bearer(&e.trainer.access)
            .json(&json!({"date": monday, "start_time": "08:30", "room": b12}))
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["is_makeup"], true);
        assert_eq!(r.json["makeup_for"]["id"], json!(missed.id));
        assert_eq!(r.json["status"], "scheduled");
        assert_eq!(r.json["room"], json!(b12));
        assert_eq!(r.json["timetable_entry"], Value::Null);
        assert_eq!(
            r.json["scheduled_start"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap(),
            monday.and_hms_opt(8, 30, 0).unwrap().and_utc()
        );
        assert_eq!(r.json["adherence"]["duration_minutes"], Value::Null);
        assert_eq!(
            rows(&app, "roster_attendance_sessions").await,
            sessions_before + 1
        );
        // The trainer and both trainees.
        assert_eq!(rows(&app, "roster_notifications").await, notes + 3);
        // The slot is taken now.
        let r = app
            .post(&book)
            .bearer(&e.hod.access)
            .json(&json!({"date": monday, "start_time": "08:00", "room": c7}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "timetable_conflict");
        let r = app.get(&path).bearer(&e.trainer.access).send().await;
        assert_eq!(
            times(&r.json)[..2],
            ["11:00 B12".to_owned(), "11:30 B12".to_owned()]
        );
    }
);
