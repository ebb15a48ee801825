//! Starting, checking in to and ending a session (contract §5): the rules in
//! their order, the start and end windows (through `kernel::time::shifted`),
//! the geofence (room, school, none, virtual), faces with real photos,
//! concurrent check-ins, the auto-close and image-purge jobs.

use chrono::Duration;
use roster::entities::{attendance_record, school};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;
use crate::faces::{blank, photos};
use crate::sessions::{ROOM_AT, ROOM_RADIUS, SCHOOL_AT, SESSIONS, Setup};

/// About 1.1 km north of the school.
const FAR: (f64, f64) = (-1.2821, 36.8219);

fn at(place: (f64, f64)) -> Value {
    json!({"latitude": place.0, "longitude": place.1, "accuracy": 10})
}

fn with_photo(place: (f64, f64), bytes: &[u8]) -> Value {
    use base64::Engine as _;
    let mut body = at(place);
    body["image"] = json!(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ));
    body
}

fn path(id: Uuid, action: &str) -> String {
    format!("{SESSIONS}{id}/{action}/")
}

impl TestApp {
    /// The fixture with faces not required (no models needed).
    async fn faceless(&self) -> Setup {
        let s = self.setup().await;
        self.attendance_settings(
            &s.e.admin,
            json!({"require_trainer_face": false, "require_trainee_face": false}),
        )
        .await;
        s
    }

    /// `POST` `body` to `path` as `who`, `minutes` from now.
    async fn post_in(
        &self,
        minutes: i64,
        path: &str,
        who: &Actor,
        body: Value,
    ) -> kernel::testing::TestResponse {
        let request = self.post(path).bearer(&who.access).json(&body);
        kernel::time::shifted(Duration::minutes(minutes), request.send()).await
    }

    async fn record_of(&self, session: Uuid, trainee: Uuid) -> attendance_record::Model {
        attendance_record::Entity::find()
            .filter(attendance_record::Column::SessionId.eq(session))
            .filter(attendance_record::Column::TraineeId.eq(trainee))
            .one(self.db())
            .await
            .unwrap()
            .unwrap()
    }
}

db_test!(
    a_session_is_started_only_by_its_trainer_inside_window_and_geofence,
    |app| {
        let s = app.faceless().await;
        let e = &s.e;
        let later = id_of(&app.manual_session(&s, s.room, 60, 60).await);
        let id = id_of(&app.manual_session(&s, s.room, 5, 50).await);
        let start = path(id, "start");

        app.post(&start)
            .json(&at(ROOM_AT))
            .send()
            .await
            .assert_status(401);
        for who in [&e.admin, &e.hod, &e.trainees[0]] {
            let r = app
                .post(&start)
                .bearer(&who.access)
                .json(&at(ROOM_AT))
                .send()
                .await;
            r.assert_status(403);
            assert_eq!(
                r.json["detail"],
                "Only the assigned trainer can start this session."
            );
        }
        let stranger = app.user("trainer").await;
        app.post(&start)
            .bearer(&stranger.access)
            .json(&at(ROOM_AT))
            .send()
            .await
            .assert_status(404);
        app.post(&path(Uuid::new_v4(), "start"))
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await
            .assert_status(404);

        let audit = app.count_of("campus_audit_log").await;
        // Outside the window (opens 15 minutes before): named in school time.
        let r = app
            .post(&path(later, "start"))
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "outside_start_window");
        let opens = app.session_row(later).await.scheduled_start - Duration::minutes(15);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains(&opens.format("%H:%M").to_string()),
            "{}",
            r.json
        );
        // Location: required, accurate, inside the room's 50 m.
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["latitude"], json!(["This field is required."]));
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&json!({"latitude": "north", "longitude": 200}))
            .send()
            .await;
        assert!(
            r.json["latitude"].is_array() && r.json["longitude"].is_array(),
            "{}",
            r.json
        );
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&json!({"latitude": ROOM_AT.0, "longitude": ROOM_AT.1, "accuracy": 500}))
            .send()
            .await;
        assert_eq!(r.json["code"], "location_inaccurate", "{}", r.json);
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&at(SCHOOL_AT))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "outside_geofence");
        let distance = r.json["distance_m"].as_f64().unwrap();
        assert!((95.0..110.0).contains(&distance), "{}", r.json);
        assert_eq!(r.json["radius_m"], ROOM_RADIUS);
        app.post(&start)
            .bearer(&e.trainer.access)
            .raw("application/json", "{bad")
            .send()
            .await
            .assert_status(400);
        let row = app.session_row(id).await;
        assert_eq!((row.status.as_str(), row.started_at), ("scheduled", None));
        assert_eq!(app.count_of("roster_attendance_records").await, 0);
        assert_eq!(
            app.count_of("campus_audit_log").await,
            audit,
            "refusals change nothing"
        );

        // The start: multipart text fields are numbers too.
        let form = kernel::testing::Multipart::new()
            .text("latitude", &ROOM_AT.0.to_string())
            .text("longitude", &ROOM_AT.1.to_string())
            .text("accuracy", "12");
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .multipart(form)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["status"], "active");
        assert!(r.json["started_at"].is_string());
        assert_eq!(r.json["start_distance_m"], 0.0);
        assert_eq!(r.json["trainer_face_verified"], false);
        assert_eq!(
            r.json["counts"],
            json!({"expected": 2, "present": 0, "late": 0, "absent": 0, "excused": 0, "pending": 2})
        );
        assert_eq!(app.count_of("campus_audit_log").await, audit + 1);
        let told = app.notes_of(e.trainees[1].id).await;
        assert!(
            told.iter()
                .any(|n| n.message.starts_with("COMP101 has started in B12")
                    && n.message.ends_with("check in now")),
            "{told:?}"
        );
        let again = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(again.json["code"], "invalid_state");

        // The next session's window opens, but this one is still active.
        let r = app
            .post_in(50, &path(later, "start"), &e.trainer, at(ROOM_AT))
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "another_session_active", "{}", r.json);
    }
);

db_test!(
    trainees_check_in_on_time_or_late_and_the_session_ends,
    |app| {
        let s = app.faceless().await;
        let e = &s.e;
        let id = id_of(&app.manual_session(&s, s.room, 5, 60).await);
        let check_in = path(id, "check-in");
        let (amina, brian) = (&e.trainees[0], &e.trainees[1]);

        // Before the start.
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "session_not_active");
        assert_eq!(
            r.json["detail"],
            "Check-in opens when the trainer starts the session."
        );
        let r = app
            .post(&path(id, "start"))
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);

        // Who may check in.
        app.post(&check_in)
            .json(&at(ROOM_AT))
            .send()
            .await
            .assert_status(401);
        let outsider = app.user("trainee").await;
        let r = app
            .post(&check_in)
            .bearer(&outsider.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        r.assert_status(403);
        for who in [&e.trainer, &e.admin] {
            app.post(&check_in)
                .bearer(&who.access)
                .json(&at(ROOM_AT))
                .send()
                .await
                .assert_status(403);
        }
        app.post(&path(Uuid::new_v4(), "check-in"))
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send()
            .await
            .assert_status(404);

        // Refused attempts are counted.
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&at(FAR))
            .send()
            .await;
        assert_eq!(r.json["code"], "outside_geofence", "{}", r.json);
        assert!(r.json["distance_m"].as_f64().unwrap() > 1000.0);
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&json!({"latitude": ROOM_AT.0}))
            .send()
            .await;
        assert_eq!(
            r.json["longitude"],
            json!(["This field is required."]),
            "{}",
            r.json
        );
        app.post(&check_in)
            .bearer(&amina.access)
            .raw("application/json", "{bad")
            .send()
            .await
            .assert_status(400);
        let record = app.record_of(id, amina.id).await;
        assert_eq!(
            (record.status.as_str(), record.failed_attempts),
            ("pending", 2)
        );

        // On time, through the alias, multipart.
        let form = kernel::testing::Multipart::new()
            .text("latitude", &ROOM_AT.0.to_string())
            .text("longitude", &ROOM_AT.1.to_string());
        let r = app
            .post(&path(id, "check_in"))
            .bearer(&amina.access)
            .multipart(form)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["status"], "present");
        assert_eq!(r.json["location_verified"], true);
        assert_eq!(r.json["distance_m"], 0.0);
        assert_eq!(r.json["failed_attempts"], 2);
        assert!(r.json["checked_in_at"].is_string());
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(r.json["code"], "already_checked_in");
        assert_eq!(app.record_of(id, amina.id).await.failed_attempts, 2);

        // Late: more than 10 minutes after the scheduled start.
        let r = app.post_in(20, &check_in, brian, at(ROOM_AT)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["status"], "late");

        // The end: the trainer only, after 80 % of the slot (48 of 60 minutes).
        let end = path(id, "end");
        let r = app.post_in(54, &end, &e.admin, at(ROOM_AT)).await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only the assigned trainer can end this session."
        );
        let r = app.post_in(30, &end, &e.trainer, at(ROOM_AT)).await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "too_early_to_end");
        let from = app.session_row(id).await.scheduled_start + Duration::minutes(48);
        assert_eq!(
            r.json["detail"],
            format!("This session can be ended from {}.", from.format("%H:%M"))
        );
        let r = app.post_in(54, &end, &e.trainer, at(FAR)).await;
        assert_eq!(r.json["code"], "outside_geofence");
        assert_eq!(app.session_row(id).await.status, "active");
        let r = app.post_in(54, &end, &e.trainer, at(ROOM_AT)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["status"], "completed");
        assert_eq!(r.json["auto_closed"], false);
        assert_eq!(
            r.json["summary"],
            json!({"present": 1, "late": 1, "absent": 0, "excused": 0})
        );
        assert_eq!(r.json["attendance_rate"], 100.0);
        assert_eq!(r.json["adherence"]["on_time"], true);
        assert!(
            app.notes_of(e.trainer.id)
                .await
                .iter()
                .any(|n| n.message.contains("1 present, 1 late"))
        );
        let row = app.session_row(id).await;
        assert!(row.active_trainer_id.is_none() && row.ended_at.is_some());
        let r = app.post_in(55, &end, &e.trainer, at(ROOM_AT)).await;
        assert_eq!(r.json["code"], "invalid_state");
        let r = app.post_in(56, &check_in, amina, at(ROOM_AT)).await;
        assert_eq!(r.json["detail"], "This session has ended.");
    }
);

db_test!(two_check_ins_at_once_make_one, |app| {
    let s = app.faceless().await;
    let e = &s.e;
    let id = id_of(&app.manual_session(&s, s.room, 5, 60).await);
    app.post(&path(id, "start"))
        .bearer(&e.trainer.access)
        .json(&at(ROOM_AT))
        .send()
        .await
        .assert_status(200);
    let check_in = path(id, "check-in");
    let amina = &e.trainees[0];
    let (a, b) = tokio::join!(
        app.post(&check_in)
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send(),
        app.post(&check_in)
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send()
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} {}", a.json, b.json);
    let loser = if a.status == 400 { &a } else { &b };
    assert_eq!(loser.json["code"], "already_checked_in");
    let records = attendance_record::Entity::find()
        .filter(attendance_record::Column::SessionId.eq(id))
        .filter(attendance_record::Column::TraineeId.eq(amina.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, "present");
});

db_test!(
    the_geofence_is_the_rooms_else_the_schools_else_none,
    |app| {
        let s = app.faceless().await;
        let e = &s.e;
        // A virtual room: no location needed.
        let online = app
        .new_room(&e.admin, json!({"name": format!("Zoom-{}", tag()), "room_type": "online", "is_virtual": true, "capacity": 100}))
        .await;
        let first = id_of(&app.manual_session(&s, online, 5, 30).await);
        let r = app
            .post(&path(first, "start"))
            .bearer(&e.trainer.access)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let r = app
            .post(&path(first, "check-in"))
            .bearer(&e.trainees[0].access)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["location_verified"], false);
        // An administrator cancels the active session (nobody else may).
        let cancel = path(first, "cancel");
        let r = app
            .post(&cancel)
            .bearer(&e.trainer.access)
            .json(&json!({"reason": "Network down"}))
            .send()
            .await;
        assert_eq!(r.json["code"], "invalid_state", "{}", r.json);
        let r = app
            .post(&cancel)
            .bearer(&e.admin.access)
            .json(&json!({"reason": "Network down"}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert!(app.session_row(first).await.active_trainer_id.is_none());

        // A room without coordinates: the school's 200 m.
        let bare = app
            .new_room(
                &e.admin,
                json!({"name": format!("Hall-{}", tag()), "capacity": 100}),
            )
            .await;
        let second = id_of(&app.manual_session(&s, bare, 40, 60).await);
        let r = app
            .post_in(35, &path(second, "start"), &e.trainer, at(FAR))
            .await;
        assert_eq!(r.json["code"], "outside_geofence", "{}", r.json);
        assert_eq!(r.json["radius_m"], 200);
        let r = app
            .post_in(35, &path(second, "start"), &e.trainer, at(ROOM_AT))
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert!(
            (95.0..110.0).contains(&r.json["start_distance_m"].as_f64().unwrap()),
            "{}",
            r.json
        );

        // Neither: recorded, not checked.
        let row = school::Entity::find().one(app.db()).await.unwrap().unwrap();
        let mut row: school::ActiveModel = row.into();
        row.latitude = Set(None);
        row.longitude = Set(None);
        row.update(app.db()).await.unwrap();
        let r = app
            .post_in(40, &path(second, "check-in"), &e.trainees[1], at(FAR))
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["location_verified"], false);
        assert_eq!(r.json["latitude"], FAR.0);
        assert_eq!(r.json["distance_m"], Value::Null);
        let r = app
            .post_in(40, &path(second, "check-in"), &e.trainees[0], json!({}))
            .await;
        assert_eq!(
            r.json["latitude"],
            json!(["This field is required."]),
            "{}",
            r.json
        );
    }
);

db_test!(sessions_left_open_are_closed_and_photos_purged, |app| {
    let s = app.faceless().await;
    let e = &s.e;
    app.run_jobs().await;
    let id = id_of(&app.manual_session(&s, s.room, 5, 60).await);
    app.post(&path(id, "start"))
        .bearer(&e.trainer.access)
        .json(&at(ROOM_AT))
        .send()
        .await
        .assert_status(200);
    // A photo is kept even when faces are not required.
    let r = app
        .post(&path(id, "check-in"))
        .bearer(&e.trainees[0].access)
        .json(&with_photo(ROOM_AT, &blank(120)))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let record = app.record_of(id, e.trainees[0].id).await;
    assert!(record.image.is_some());

    // Not yet: scheduled end + 60 minutes.
    kernel::time::shifted(Duration::minutes(120), app.run_jobs()).await;
    assert_eq!(app.session_row(id).await.status, "active");
    kernel::time::shifted(Duration::minutes(127), app.run_jobs()).await;
    let row = app.session_row(id).await;
    assert_eq!((row.status.as_str(), row.auto_closed), ("completed", true));
    assert!(row.active_trainer_id.is_none());
    let absent = app.record_of(id, e.trainees[1].id).await;
    assert_eq!(
        (absent.status.as_str(), absent.marked_by_system),
        ("absent", true)
    );
    let told = app.notes_of(e.trainees[1].id).await;
    assert!(
        told.iter()
            .any(|n| n.message.starts_with("You were marked absent")),
        "{told:?}"
    );
    assert!(told.iter().any(|n| n.title == "Low attendance"), "{told:?}");
    assert!(
        !app.notes_of(e.trainees[0].id)
            .await
            .iter()
            .any(|n| n.title == "Low attendance")
    );
    assert!(
        app.notes_of(e.trainer.id)
            .await
            .iter()
            .any(|n| n.message.contains("closed automatically"))
    );
    kernel::time::shifted(Duration::minutes(130), app.run_jobs()).await;
    assert_eq!(app.count_of("roster_attendance_records").await, 2);

    // The photo outlives the retention (90 days), then goes.
    kernel::time::shifted(Duration::days(89), app.run_jobs()).await;
    assert!(app.record_of(id, e.trainees[0].id).await.image.is_some());
    kernel::time::shifted(Duration::days(92), app.run_jobs()).await;
    assert!(app.record_of(id, e.trainees[0].id).await.image.is_none());
});

db_test!(
    faces_are_verified_with_real_photos,
    settings = crate::faces::face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let s = app.setup().await;
        let e = &s.e;
        let (amina, brian) = (&e.trainees[0], &e.trainees[1]);
        app.face_upload("/api/users/me/face/", &e.trainer, &photos.read("obama.jpg"))
            .await
            .assert_status(201);
        app.face_upload("/api/users/me/face/", amina, &photos.read("biden.jpg"))
            .await
            .assert_status(201);
        let id = id_of(&app.manual_session(&s, s.room, 5, 60).await);
        let start = path(id, "start");

        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(
            r.json["image"],
            json!(["This field is required."]),
            "{}",
            r.json
        );
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&with_photo(ROOM_AT, &photos.read("biden.jpg")))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "face_mismatch");
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .json(&with_photo(ROOM_AT, &blank(200)))
            .send()
            .await;
        assert!(r.json["image"].is_array(), "{}", r.json);
        assert_eq!(app.session_row(id).await.status, "scheduled");
        let form = crate::faces::photo(&photos.read("obama2.jpg"))
            .text("latitude", &ROOM_AT.0.to_string())
            .text("longitude", &ROOM_AT.1.to_string());
        let r = app
            .post(&start)
            .bearer(&e.trainer.access)
            .multipart(form)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["trainer_face_verified"], true);

        let check_in = path(id, "check-in");
        let r = app
            .post(&check_in)
            .bearer(&brian.access)
            .json(&with_photo(ROOM_AT, &photos.read("obama.jpg")))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["code"], "no_reference_face");
        assert_eq!(
            r.json["detail"],
            "Upload a photo of your face in your profile before checking in."
        );
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(r.json["image"], json!(["This field is required."]));
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&with_photo(ROOM_AT, &photos.two_people()))
            .send()
            .await;
        assert!(r.json["image"].is_array(), "{}", r.json);
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&with_photo(ROOM_AT, &photos.read("obama.jpg")))
            .send()
            .await;
        assert_eq!(r.json["code"], "face_mismatch");
        assert_eq!(
            r.json["detail"],
            "The face in the photo does not match your registered photo."
        );
        assert_eq!(app.record_of(id, amina.id).await.failed_attempts, 3);
        let r = app
            .post(&check_in)
            .bearer(&amina.access)
            .json(&with_photo(ROOM_AT, &photos.read("biden.jpg")))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["face_verified"], true);
        assert!(r.json["face_distance"].as_f64().unwrap() <= 0.6);
        assert!(app.record_of(id, amina.id).await.image.is_some());
        assert_eq!(app.record_of(id, brian.id).await.failed_attempts, 1);
    }
);

db_test!(
    without_a_verifier_faces_are_refused_not_skipped,
    settings = crate::faces::no_models(),
    |app| {
        let s = app.setup().await;
        let e = &s.e;
        let id = id_of(&app.manual_session(&s, s.room, 5, 60).await);
        let r = app
            .post(&path(id, "start"))
            .bearer(&e.trainer.access)
            .json(&with_photo(ROOM_AT, &blank(200)))
            .send()
            .await;
        r.assert_status(503);
        assert_eq!(r.json["code"], "face_verification_unavailable");
        assert_eq!(app.session_row(id).await.status, "scheduled");
        // With faces not required, the same server runs attendance.
        app.attendance_settings(&e.admin, json!({"require_trainer_face": false}))
            .await;
        let r = app
            .post(&path(id, "start"))
            .bearer(&e.trainer.access)
            .json(&at(ROOM_AT))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let r = app
            .post(&path(id, "check-in"))
            .bearer(&e.trainees[0].access)
            .json(&with_photo(ROOM_AT, &blank(200)))
            .send()
            .await;
        r.assert_status(503);
        assert_eq!(r.json["code"], "face_verification_unavailable");
    }
);

db_test!(
    a_trainer_runs_one_session_at_a_time_even_when_starting_two_at_once,
    |app| {
        let s = app.faceless().await;
        let e = &s.e;
        // Back to back: at +20 both windows are open.
        let first = id_of(&app.manual_session(&s, s.room, 5, 30).await);
        let second = id_of(&app.manual_session(&s, s.room, 35, 60).await);
        let (a, b) = kernel::time::shifted(Duration::minutes(20), async {
            tokio::join!(
                app.post(&path(first, "start"))
                    .bearer(&e.trainer.access)
                    .json(&at(ROOM_AT))
                    .send(),
                app.post(&path(second, "start"))
                    .bearer(&e.trainer.access)
                    .json(&at(ROOM_AT))
                    .send()
            )
        })
        .await;
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "{} {}", a.json, b.json);
        let loser = if a.status == 400 { &a } else { &b };
        assert_eq!(
            loser.json["code"], "another_session_active",
            "{}",
            loser.json
        );
        let active = [app.session_row(first).await, app.session_row(second).await]
            .iter()
            .filter(|row| row.status == "active")
            .count();
        assert_eq!(active, 1);
        // Records were made for the started one only.
        assert_eq!(app.count_of("roster_attendance_records").await, 2);
    }
);
