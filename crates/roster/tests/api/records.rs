//! Attendance records, excuses and analytics (contract §5,
//! **AttendanceRecord**, **Excuses**, **Analytics**): sessions and records
//! are written straight to the tables on top of `app.enrolled()`, so these
//! tests do not depend on start, check-in or end.

use chrono::{DateTime, Duration, Utc};
use roster::entities::{attendance_record, attendance_session, session_feedback};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::common::*;

pub const RECORDS: &str = "/api/attendance/records/";

/// Now, to the second (every backend keeps that).
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(0)
}

/// A session of the fixture's enrollment, `minutes` long from `start`, in
/// `status`; a completed one started and ended on time.
pub async fn session_row(
    app: &TestApp,
    e: &Enrolled,
    status: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> attendance_session::Model {
    session_model(e.into(), status, start, start + Duration::minutes(minutes))
        .insert(app.db())
        .await
        .unwrap()
}

/// Changes a stored session.
pub async fn update_session(
    app: &TestApp,
    s: attendance_session::Model,
    change: impl FnOnce(&mut attendance_session::ActiveModel),
) -> attendance_session::Model {
    let mut row: attendance_session::ActiveModel = s.into();
    change(&mut row);
    row.update(app.db()).await.unwrap()
}

/// `trainee`'s record of `session` in `status`.
pub async fn record_row(
    app: &TestApp,
    session: Uuid,
    trainee: Uuid,
    status: &str,
) -> attendance_record::Model {
    record_model(session, trainee, status, now())
        .insert(app.db())
        .await
        .unwrap()
}

pub async fn record(app: &TestApp, id: Uuid) -> attendance_record::Model {
    attendance_record::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

pub async fn rows(app: &TestApp, table: &str) -> i64 {
    app.row_counts().await.get(table).copied().unwrap_or(0)
}

/// People outside the fixture's department and class group: a HOD and a
/// trainer of department ENG, a trainee of no class group.
pub struct Outsiders {
    pub hod: Actor,
    pub trainer: Actor,
    pub trainee: Actor,
}

pub async fn outsiders(app: &TestApp, e: &Enrolled) -> Outsiders {
    let hod = app.user("hod").await;
    let trainer = app.user("trainer").await;
    let trainee = app.user("trainee").await;
    app.department(&e.admin, "ENG", Some(&hod), &[&trainer])
        .await;
    Outsiders {
        hod,
        trainer,
        trainee,
    }
}

/// A completed session that ended an hour ago: trainee 0 present, 1 absent.
async fn held(app: &TestApp, e: &Enrolled) -> (attendance_session::Model, Uuid, Uuid) {
    let s = session_row(app, e, "completed", now() - Duration::hours(2), 60).await;
    let present = record_row(app, s.id, e.trainees[0].id, "present").await;
    let absent = record_row(app, s.id, e.trainees[1].id, "absent").await;
    (s, present.id, absent.id)
}

async fn count(app: &TestApp, who: &Actor, query: &str) -> Value {
    let r = app
        .get(&format!("{RECORDS}?{query}"))
        .bearer(&who.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["count"].clone()
}

db_test!(records_are_scoped_shaped_and_filtered, |app| {
    let e = app.enrolled().await;
    let o = outsiders(&app, &e).await;
    let (s, present, absent) = held(&app, &e).await;
    for (who, n) in [
        (&e.admin, 2),
        (&e.hod, 2),
        (&e.trainer, 2),
        (&e.trainees[0], 1),
        (&e.trainees[1], 1),
        (&o.hod, 0),
        (&o.trainer, 0),
        (&o.trainee, 0),
    ] {
        assert_eq!(count(&app, who, "").await, json!(n), "{}", who.email);
    }
    app.get(RECORDS).send().await.assert_status(401);

    let r = app
        .get(&format!("{RECORDS}{present}/"))
        .bearer(&e.trainer.access)
        .send()
        .await;
    r.assert_status(200);
    let j = &r.json;
    assert_eq!(j["session"], json!(s.id));
    assert_eq!(j["trainee"], json!(e.trainees[0].id));
    assert_eq!(j["trainee_name"], "Test trainee");
    assert!(j["admission_number"].as_str().unwrap().starts_with("ADM-"));
    assert_eq!(j["status"], "present");
    assert_eq!(j["distance_m"], json!(12.35));
    assert_eq!(j["location_verified"], true);
    assert_eq!(j["face_verified"], true);
    assert_eq!(j["excuse_status"], "none");
    assert_eq!(j["excuse_document"], Value::Null);
    for key in [
        "checked_in_at",
        "latitude",
        "longitude",
        "face_distance",
        "failed_attempts",
        "marked_by_system",
        "manual_override",
        "marked_by",
        "override_reason",
        "excuse_reason",
        "excuse_reviewed_by",
        "excuse_reviewed_at",
        "excuse_comment",
    ] {
        assert!(j.get(key).is_some(), "{key} in {j}");
    }
    // Others' records are 404, as are unknown and malformed ids.
    for (who, id) in [
        (&e.trainees[0], absent.to_string()),
        (&o.trainer, present.to_string()),
        (&o.hod, present.to_string()),
        (&e.admin, Uuid::new_v4().to_string()),
        (&e.admin, "not-a-uuid".to_owned()),
    ] {
        app.get(&format!("{RECORDS}{id}/"))
            .bearer(&who.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get(&format!("{RECORDS}{present}/"))
        .send()
        .await
        .assert_status(401);

    // The session alias.
    let alias = format!("/api/attendance/sessions/{}/records/", s.id);
    let r = app.get(&alias).bearer(&e.hod.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    let r = app.get(&alias).bearer(&e.trainees[1].access).send().await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], json!(absent));
    for who in [&o.trainer, &o.trainee] {
        app.get(&alias)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get("/api/attendance/sessions/nope/records/")
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&alias).send().await.assert_status(401);

    // Filters (dates are the school's, UTC here, of the scheduled start).
    let day = s.scheduled_start.date_naive();
    let (before, after) = (day.pred_opt().unwrap(), day.succ_opt().unwrap());
    let a = &e.admin;
    assert_eq!(count(&app, a, "status=absent").await, 1);
    assert_eq!(count(&app, a, &format!("session={}", s.id)).await, 2);
    assert_eq!(
        count(&app, a, &format!("session={}", Uuid::new_v4())).await,
        0
    );
    assert_eq!(
        count(&app, a, &format!("trainee={}", e.trainees[0].id)).await,
        1
    );
    assert_eq!(count(&app, a, &format!("course={}", e.course)).await, 2);
    assert_eq!(
        count(&app, a, &format!("class_group={}", e.class_group)).await,
        2
    );
    assert_eq!(
        count(&app, a, &format!("class_group={}", Uuid::new_v4())).await,
        0
    );
    assert_eq!(count(&app, a, "excuse_status=pending").await, 0);
    assert_eq!(count(&app, a, "excuse_status=none").await, 2);
    assert_eq!(
        count(&app, a, &format!("date_from={day}&date_to={day}")).await,
        2
    );
    assert_eq!(count(&app, a, &format!("date_from={after}")).await, 0);
    assert_eq!(count(&app, a, &format!("date_to={before}")).await, 0);
    assert_eq!(
        count(&app, a, "status=present&ordering=-checked_in_at").await,
        1
    );
    for (query, key) in [
        ("status=gone", "status"),
        ("excuse_status=maybe", "excuse_status"),
        ("session=abc", "session"),
        ("course=abc", "course"),
        ("class_group=1", "class_group"),
        ("date_from=2026-13-01", "date_from"),
        ("date_to=yesterday", "date_to"),
    ] {
        let r = app
            .get(&format!("{RECORDS}?{query}"))
            .bearer(&a.access)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json.get(key).is_some(), "{query}: {}", r.json);
    }
    app.get(&format!("{RECORDS}?page=9"))
        .bearer(&a.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(
    a_trainer_overrides_a_record_for_48_hours_then_the_hod,
    |app| {
        let e = app.enrolled().await;
        let o = outsiders(&app, &e).await;
        let (_, _, absent) = held(&app, &e).await;
        let path = format!("{RECORDS}{absent}/");
        let audits = rows(&app, "campus_audit_log").await;

        // Refusals change nothing.
        for (who, status) in [(&e.trainees[1], 403), (&o.trainer, 404), (&o.hod, 404)] {
            let r = app
                .patch(&path)
                .bearer(&who.access)
                .json(&json!({"status": "present", "reason": "Was there"}))
                .send()
                .await;
            assert_eq!(r.status, status, "{}: {}", who.email, r.json);
        }
        app.patch(&path)
            .json(&json!({"status": "present", "reason": "x"}))
            .send()
            .await
            .assert_status(401);
        let t = &e.trainer;
        for (body, key) in [
            (json!({"status": "present"}), "reason"),
            (json!({"status": "present", "reason": "   "}), "reason"),
            (json!({"reason": "x"}), "status"),
            (json!({"status": "pending", "reason": "x"}), "status"),
            (json!({"status": 3, "reason": "x"}), "status"),
            (json!({"status": "present", "reason": ["x"]}), "reason"),
        ] {
            let r = app.patch(&path).bearer(&t.access).json(&body).send().await;
            r.assert_status(400);
            assert!(r.json.get(key).is_some(), "{body}: {}", r.json);
        }
        let r = app
            .patch(&path)
            .bearer(&t.access)
            .raw("application/json", "{\"status\": ")
            .send()
            .await;
        r.assert_status(400);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error")
        );
        app.patch(&format!("{RECORDS}{}/", Uuid::new_v4()))
            .bearer(&t.access)
            .json(&json!({"status": "present", "reason": "x"}))
            .send()
            .await
            .assert_status(404);
        assert_eq!(record(&app, absent).await.status, "absent");
        assert_eq!(rows(&app, "campus_audit_log").await, audits);

        let r = app
            .patch(&path)
            .bearer(&t.access)
            .json(&json!({"status": "late", "reason": "Signal failed; was seen in class"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "late");
        assert_eq!(r.json["manual_override"], true);
        assert_eq!(r.json["marked_by_system"], false);
        assert_eq!(r.json["marked_by"], json!(t.id));
        assert_eq!(
            r.json["override_reason"],
            "Signal failed; was seen in class"
        );
        assert_eq!(rows(&app, "campus_audit_log").await, audits + 1);

        // 49 hours after the end the trainer may not; the HOD and admin may.
        kernel::time::shifted(Duration::hours(49), async {
            let body = json!({"status": "absent", "reason": "Checked the register"});
            let r = app.patch(&path).bearer(&t.access).json(&body).send().await;
            r.assert_status(403);
            assert_eq!(record(&app, absent).await.status, "late");
            let r = app
                .patch(&path)
                .bearer(&e.hod.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(r.json["marked_by"], json!(e.hod.id));
            let body = json!({"status": "present", "reason": "Appeal"});
            let r = app
                .patch(&path)
                .bearer(&e.admin.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(r.json["status"], "present");
        })
        .await;
        assert_eq!(rows(&app, "campus_audit_log").await, audits + 3);

        // While a session runs its trainer may correct it; not before it starts.
        let running = session_row(&app, &e, "active", now() - Duration::minutes(20), 60).await;
        let pending = record_row(&app, running.id, e.trainees[0].id, "pending")
            .await
            .id;
        let planned = session_row(&app, &e, "scheduled", now() + Duration::hours(3), 60).await;
        let early = record_row(&app, planned.id, e.trainees[0].id, "pending")
            .await
            .id;
        let body = json!({"status": "present", "reason": "Phone broken; seen in class"});
        let r = app
            .patch(&format!("{RECORDS}{pending}/"))
            .bearer(&t.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "present");
        app.patch(&format!("{RECORDS}{early}/"))
            .bearer(&t.access)
            .json(&body)
            .send()
            .await
            .assert_status(403);
        assert_eq!(record(&app, early).await.status, "pending");
    }
);

db_test!(the_check_in_photo_is_for_admin_and_the_trainer, |app| {
    let e = app.enrolled().await;
    let o = outsiders(&app, &e).await;
    let (_, present, absent) = held(&app, &e).await;
    let photo = b"\xFF\xD8\xFF\xE0 a jpeg of a face".to_vec();
    let name = app
        .state
        .storage
        .save("checkins", &photo, kernel::upload::FileKind::Jpeg)
        .await
        .unwrap();
    let mut row: attendance_record::ActiveModel = record(&app, present).await.into();
    row.image = Set(Some(name.clone()));
    row.update(app.db()).await.unwrap();
    let path = format!("{RECORDS}{present}/image/");
    for who in [&e.trainer, &e.admin] {
        let r = app.get(&path).bearer(&who.access).send().await;
        r.assert_status(200);
        assert_eq!(r.body, photo);
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
    }
    for (who, status) in [
        (&e.hod, 403),
        (&e.trainees[0], 403),
        (&e.trainees[1], 404),
        (&o.trainer, 404),
    ] {
        let r = app.get(&path).bearer(&who.access).send().await;
        assert_eq!(r.status, status, "{}", who.email);
    }
    app.get(&path).send().await.assert_status(401);
    app.get(&format!("{RECORDS}{absent}/image/"))
        .bearer(&e.trainer.access)
        .send()
        .await
        .assert_status(404);
    app.state.storage.delete(&name).await;
    app.get(&path)
        .bearer(&e.trainer.access)
        .send()
        .await
        .assert_status(404);
});

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec()
}

db_test!(
    an_absent_trainee_asks_for_an_excuse_and_the_trainer_approves,
    |app| {
        let e = app.enrolled().await;
        let o = outsiders(&app, &e).await;
        let (_, present, absent) = held(&app, &e).await;
        let me = &e.trainees[1];
        let path = format!("{RECORDS}{absent}/excuse/");

        // Refusals first: nothing changes.
        for (who, id, status) in [
            (&e.trainees[0], absent, 404),
            (&e.trainer, absent, 403),
            (&e.admin, absent, 403),
            (&o.trainee, absent, 404),
            (&e.trainees[0], present, 400),
        ] {
            let r = app
                .post(&format!("{RECORDS}{id}/excuse/"))
                .bearer(&who.access)
                .json(&json!({"reason": "Ill"}))
                .send()
                .await;
            assert_eq!(r.status, status, "{}: {}", who.email, r.json);
        }
        app.post(&path)
            .json(&json!({"reason": "Ill"}))
            .send()
            .await
            .assert_status(401);
        for body in [
            json!({}),
            json!({"reason": ""}),
            json!({"reason": null}),
            json!({"reason": 12}),
            json!({"reason": "x".repeat(1001)}),
            json!({"reason": "Ill", "document": 5}),
            json!({"reason": "Ill", "document": "not a data url"}),
        ] {
            let r = app.post(&path).bearer(&me.access).json(&body).send().await;
            r.assert_status(400);
            assert!(
                r.json.get("reason").is_some() || r.json.get("document").is_some(),
                "{body}: {}",
                r.json
            );
        }
        let r = app
            .post(&path)
            .bearer(&me.access)
            .raw("application/json", "{oops")
            .send()
            .await;
        r.assert_status(400);
        app.post(&format!("{RECORDS}{}/excuse/", Uuid::new_v4()))
            .bearer(&me.access)
            .json(&json!({"reason": "Ill"}))
            .send()
            .await
            .assert_status(404);
        assert_eq!(record(&app, absent).await.excuse_status, "none");
        let audits = rows(&app, "campus_audit_log").await;

        let r = app
            .post(&path)
            .bearer(&me.access)
            .json(&json!({"reason": "I was ill; note from the clinic follows."}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["excuse_status"], "pending");
        assert_eq!(r.json["status"], "absent");
        assert_eq!(
            r.json["excuse_reason"],
            "I was ill; note from the clinic follows."
        );
        let r = app
            .post(&path)
            .bearer(&me.access)
            .json(&json!({"reason": "Again"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "excuse_pending");
        assert_eq!(
            record(&app, absent).await.excuse_reason.as_deref(),
            Some("I was ill; note from the clinic follows.")
        );

        // Review.
        let review = format!("{path}review/");
        for (who, status) in [(me, 403), (&o.trainer, 404), (&o.hod, 404)] {
            let r = app
                .post(&review)
                .bearer(&who.access)
                .json(&json!({"decision": "approve"}))
                .send()
                .await;
            assert_eq!(r.status, status, "{}", who.email);
        }
        for body in [
            json!({}),
            json!({"decision": "maybe"}),
            json!({"decision": true}),
            json!({"decision": "approve", "comment": "x".repeat(1001)}),
        ] {
            app.post(&review)
                .bearer(&e.trainer.access)
                .json(&body)
                .send()
                .await
                .assert_status(400);
        }
        app.post(&review)
            .json(&json!({"decision": "approve"}))
            .send()
            .await
            .assert_status(401);
        assert_eq!(record(&app, absent).await.excuse_status, "pending");
        let notes = rows(&app, "roster_notifications").await;
        let r = app
            .post(&review)
            .bearer(&e.trainer.access)
            .json(&json!({"decision": "approve", "comment": "Get well soon"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], "excused");
        assert_eq!(r.json["excuse_status"], "approved");
        assert_eq!(r.json["excuse_reviewed_by"], json!(e.trainer.id));
        assert_eq!(r.json["excuse_comment"], "Get well soon");
        assert!(r.json["excuse_reviewed_at"].is_string());
        assert_eq!(rows(&app, "roster_notifications").await, notes + 1);
        // The request and the review were both audited.
        assert_eq!(rows(&app, "campus_audit_log").await, audits + 2);
        let r = app
            .post(&review)
            .bearer(&e.trainer.access)
            .json(&json!({"decision": "reject"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "invalid_state");
        assert_eq!(record(&app, absent).await.excuse_status, "approved");
        // Excused now: no second excuse.
        let r = app
            .post(&path)
            .bearer(&me.access)
            .json(&json!({"reason": "More"}))
            .send()
            .await;
        assert_eq!(r.json["code"], "invalid_state");
    }
);

db_test!(
    an_excuse_carries_a_checked_document_inside_its_window,
    |app| {
        let e = app.enrolled().await;
        let o = outsiders(&app, &e).await;
        let s = session_row(&app, &e, "completed", now() - Duration::hours(3), 60).await;
        let late = record_row(&app, s.id, e.trainees[0].id, "late").await.id;
        let absent = record_row(&app, s.id, e.trainees[1].id, "absent").await.id;
        let me = &e.trainees[0];
        let path = format!("{RECORDS}{late}/excuse/");

        let text = b"just some text".to_vec();
        let mut big = pdf();
        big.resize(5 * 1024 * 1024 + 1, b' ');
        for (name, bytes) in [("note.pdf", text), ("big.pdf", big)] {
            let form = kernel::testing::Multipart::new()
                .text("reason", "Bus broke down")
                .file("document", name, "application/pdf", &bytes);
            let r = app
                .post(&path)
                .bearer(&me.access)
                .multipart(form)
                .send()
                .await;
            r.assert_status(400);
            assert!(r.json.get("document").is_some(), "{}", r.json);
        }
        assert_eq!(record(&app, late).await.excuse_status, "none");
        let form = kernel::testing::Multipart::new()
            .text("reason", "Bus broke down")
            .file("document", "note.pdf", "application/pdf", &pdf());
        let r = app
            .post(&path)
            .bearer(&me.access)
            .multipart(form)
            .send()
            .await;
        r.assert_status(200);
        let url = r.json["excuse_document"].as_str().unwrap().to_owned();
        assert_eq!(
            url,
            format!("/api/attendance/records/{late}/excuse/document/")
        );
        for who in [me, &e.trainer, &e.hod, &e.admin] {
            let r = app.get(&url).bearer(&who.access).send().await;
            r.assert_status(200);
            assert_eq!(r.body, pdf());
            assert_eq!(r.header("content-type"), Some("application/pdf"));
        }
        for (who, status) in [(&e.trainees[1], 404), (&o.trainer, 404), (&o.hod, 404)] {
            let r = app.get(&url).bearer(&who.access).send().await;
            assert_eq!(r.status, status, "{}", who.email);
        }
        app.get(&url).send().await.assert_status(401);
        app.get(&format!("{RECORDS}{absent}/excuse/document/"))
            .bearer(&e.admin.access)
            .send()
            .await
            .assert_status(404);

        // A rejected excuse may be sent again, here in JSON with a PNG.
        app.post(&format!("{path}review/"))
            .bearer(&e.hod.access)
            .json(&json!({"decision": "reject", "comment": "No evidence of the bus"}))
            .send()
            .await
            .assert_status(200);
        assert_eq!(record(&app, late).await.status, "late");
        use base64::Engine;
        let png = b"\x89PNG\r\n\x1a\n rest of a png".to_vec();
        let data = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let r = app
            .post(&path)
            .bearer(&me.access)
            .json(&json!({"reason": "Here is the ticket", "document": data}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["excuse_status"], "pending");
        assert_eq!(r.json["excuse_comment"], Value::Null);
        let r = app.get(&url).bearer(&e.trainer.access).send().await;
        assert_eq!(r.body, png);

        // Eight days after the session ended the window (7 days) is closed.
        kernel::time::shifted(Duration::days(8), async {
            let r = app
                .post(&format!("{RECORDS}{absent}/excuse/"))
                .bearer(&e.trainees[1].access)
                .json(&json!({"reason": "Late excuse"}))
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(r.json["code"], "excuse_window_closed");
        })
        .await;
        assert_eq!(record(&app, absent).await.excuse_status, "none");
    }
);

async fn feedback_row(app: &TestApp, session: Uuid, trainee: Uuid, r: [i32; 4]) {
    session_feedback::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session),
        trainee_id: Set(trainee),
        content_rating: Set(r[0]),
        delivery_rating: Set(r[1]),
        engagement_rating: Set(r[2]),
        overall_rating: Set(r[3]),
        comment: Set(None),
        created_at: Set(now()),
    }
    .insert(app.db())
    .await
    .unwrap();
}

db_test!(analytics_and_my_summary_count_the_rows, |app| {
    let e = app.enrolled().await;
    let o = outsiders(&app, &e).await;
    let (t0, t1) = (e.trainees[0].id, e.trainees[1].id);
    // Noon (school time is UTC) two days and one day ago.
    let noon = now().date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let day1 = noon - Duration::days(2);
    let day2 = noon - Duration::days(1);
    // A: started 2 min late, ended at its end (58 min); B: 10 min late, 50 min.
    let a = session_row(&app, &e, "completed", day1, 60).await;
    let a = update_session(&app, a, |s| {
        s.started_at = Set(Some(day1 + Duration::minutes(2)));
    })
    .await;
    let b = session_row(&app, &e, "completed", day2, 60).await;
    update_session(&app, b.clone(), |s| {
        s.started_at = Set(Some(day2 + Duration::minutes(10)));
    })
    .await;
    let missed = session_row(&app, &e, "missed", day1 + Duration::hours(3), 60).await;
    session_row(&app, &e, "canceled", day2 + Duration::hours(3), 60).await;
    let makeup = session_row(&app, &e, "scheduled", now() + Duration::days(1), 60).await;
    update_session(&app, makeup, |s| {
        s.is_makeup = Set(true);
        s.makeup_for_id = Set(Some(missed.id));
    })
    .await;
    record_row(&app, a.id, t0, "present").await;
    record_row(&app, a.id, t1, "late").await;
    record_row(&app, b.id, t0, "absent").await;
    record_row(&app, b.id, t1, "excused").await;
    feedback_row(&app, a.id, t0, [5, 4, 3, 5]).await;
    feedback_row(&app, a.id, t1, [4, 4, 4, 2]).await;

    let path = "/api/attendance/analytics/";
    let expected = json!({
        "sessions": {"scheduled": 5, "completed": 2, "missed": 1, "canceled": 1, "makeup": 1},
        "records": {"present": 1, "late": 1, "absent": 1, "excused": 1, "pending": 0},
        "attendance_rate": 66.67,
        "punctuality_rate": 50.0,
        "trainer_adherence": {
            "on_time_start_rate": 50.0, "avg_start_delay_minutes": 6.0, "avg_duration_minutes": 54.0,
        },
        "feedback": {
            "count": 2, "overall_avg": 3.5, "content_avg": 4.5, "delivery_avg": 4.0,
            "engagement_avg": 3.5,
        },
        "by_day": [
            {"date": day1.date_naive(), "attendance_rate": 100.0},
            {"date": day2.date_naive(), "attendance_rate": 0.0},
        ],
    });
    for who in [&e.admin, &e.hod, &e.trainer] {
        let r = app.get(path).bearer(&who.access).send().await;
        r.assert_status(200);
        assert_eq!(r.json, expected, "{}", who.email);
    }
    // Scope and filters.
    let empty = |r: &Value| r["sessions"]["scheduled"] == 0 && r["attendance_rate"].is_null();
    for who in [&o.hod, &o.trainer] {
        let r = app.get(path).bearer(&who.access).send().await;
        r.assert_status(200);
        assert!(empty(&r.json), "{}: {}", who.email, r.json);
        assert_eq!(r.json["by_day"], json!([]));
        assert_eq!(r.json["feedback"]["count"], 0);
    }
    let admin = &e.admin;
    let get = |q: String| {
        let app = &app;
        async move {
            let r = app
                .get(&format!("{path}?{q}"))
                .bearer(&admin.access)
                .send()
                .await;
            r.assert_status(200);
            r.json
        }
    };
    assert!(empty(&get(format!("trainer={}", o.trainer.id)).await));
    assert!(empty(&get(format!("course={}", Uuid::new_v4())).await));
    let r = get(format!("class_group={}&course={}", e.class_group, e.course)).await;
    assert_eq!(r, expected);
    let r = get(format!(
        "date_from={}&date_to={}",
        day2.date_naive(),
        day2.date_naive()
    ))
    .await;
    assert_eq!(r["sessions"]["scheduled"], 2);
    assert_eq!(r["records"]["absent"], 1);
    assert_eq!(r["attendance_rate"], 0.0);
    assert!(r["punctuality_rate"].is_null());
    assert_eq!(r["feedback"]["count"], 0);
    for (q, key) in [
        ("course=x", "course"),
        ("class_group=1", "class_group"),
        ("trainer=me", "trainer"),
        ("date_from=01-01-2026", "date_from"),
        ("date_to=2026-02-30", "date_to"),
    ] {
        let r = app
            .get(&format!("{path}?{q}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json.get(key).is_some(), "{q}: {}", r.json);
    }
    app.get(path)
        .bearer(&e.trainees[0].access)
        .send()
        .await
        .assert_status(403);
    app.get(path).send().await.assert_status(401);

    // The trainees' own summaries.
    let summary = "/api/attendance/my-summary/";
    let r = app.get(summary).bearer(&e.trainees[0].access).send().await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"total": 2, "present": 1, "late": 0, "absent": 1, "excused": 0,
               "attendance_rate": 50.0,
               "by_course": [{"course": e.course, "course_code": "COMP101", "attendance_rate": 50.0}]})
    );
    let r = app.get(summary).bearer(&e.trainees[1].access).send().await;
    assert_eq!(r.json["attendance_rate"], 100.0);
    assert_eq!(r.json["late"], 1);
    assert_eq!(r.json["excused"], 1);
    let r = app.get(summary).bearer(&o.trainee.access).send().await;
    assert_eq!(
        r.json,
        json!({"total": 0, "present": 0, "late": 0, "absent": 0, "excused": 0,
               "attendance_rate": null, "by_course": []})
    );
    for who in [&e.trainer, &e.admin, &e.hod] {
        app.get(summary)
            .bearer(&who.access)
            .send()
            .await
            .assert_status(403);
    }
    app.get(summary).send().await.assert_status(401);
});
