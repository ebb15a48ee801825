//! Attendance settings and sessions (contract §5): the settings row, manual
//! sessions and their conflicts, rescheduling, cancellation, generation from
//! the published timetable, scoping, and the jobs that materialise sessions
//! and mark them missed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound, Utc};
use roster::entities::{attendance_session, notification, timetable_entry};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::common::*;

pub(crate) const SESSIONS: &str = "/api/attendance/sessions/";
pub(crate) const SETTINGS: &str = "/api/attendance/settings/";
/// The fixture room's centre (about 100 m south of the school) and radius.
pub(crate) const ROOM_AT: (f64, f64) = (-1.2930, 36.8219);
pub(crate) const ROOM_RADIUS: i64 = 50;
/// The school's centre: inside the school's 200 m, outside the room's 50 m.
pub(crate) const SCHOOL_AT: (f64, f64) = (-1.2921, 36.8219);

/// The enrolled fixture with a room that has coordinates.
pub(crate) struct Setup {
    pub e: Enrolled,
    pub room: Uuid,
}

/// Another department's HOD and trainer.
pub(crate) struct Other {
    pub hod: Actor,
    pub trainer: Actor,
}

/// `minutes` from now, to the second, RFC 3339.
pub(crate) fn in_minutes(minutes: i64) -> String {
    (Utc::now().trunc_subsecs(0) + Duration::minutes(minutes)).to_rfc3339()
}

impl TestApp {
    /// `POST /api/rooms/` as `admin`: an id.
    pub(crate) async fn new_room(&self, admin: &Actor, body: Value) -> Uuid {
        let r = self
            .post("/api/rooms/")
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 201, "{body}: {}", r.json);
        id_of(&r.json)
    }

    /// The enrolled fixture and room B12 at [`ROOM_AT`], radius 50 m.
    pub(crate) async fn setup(&self) -> Setup {
        let e = self.enrolled().await;
        let room = self
            .new_room(
                &e.admin,
                json!({
                    "name": format!("B12-{}", tag()), "room_type": "classroom", "capacity": 40,
                    "latitude": ROOM_AT.0, "longitude": ROOM_AT.1, "geofence_radius_m": ROOM_RADIUS,
                }),
            )
            .await;
        Setup { e, room }
    }

    /// A manual session of the fixture's enrollment in `room`, starting in
    /// `start` minutes for `minutes`, made by the admin.
    pub(crate) async fn manual_session(
        &self,
        s: &Setup,
        room: Uuid,
        start: i64,
        minutes: i64,
    ) -> Value {
        let r = self
            .post(SESSIONS)
            .bearer(&s.e.admin.access)
            .json(&json!({"enrollment": s.e.enrollment, "room": room,
                          "scheduled_start": in_minutes(start), "scheduled_end": in_minutes(start + minutes)}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        r.json
    }

    /// A HOD and a trainer of another department (no class groups).
    pub(crate) async fn other_department(&self, admin: &Actor) -> Other {
        let hod = self.user("hod").await;
        let trainer = self.user("trainer").await;
        self.department(admin, &format!("O{}", &tag()[..5]), Some(&hod), &[&trainer])
            .await;
        Other { hod, trainer }
    }

    /// `PATCH /api/attendance/settings/` as `admin`.
    pub(crate) async fn attendance_settings(&self, admin: &Actor, body: Value) {
        let r = self
            .patch(SETTINGS)
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 200, "{body}: {}", r.json);
    }

    pub(crate) async fn session_row(&self, id: Uuid) -> attendance_session::Model {
        attendance_session::Entity::find_by_id(id)
            .one(self.db())
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn count_of(&self, table: &str) -> i64 {
        self.row_counts().await.get(table).copied().unwrap_or(0)
    }

    pub(crate) async fn notes_of(&self, user: Uuid) -> Vec<notification::Model> {
        notification::Entity::find()
            .filter(notification::Column::UserId.eq(user))
            .all(self.db())
            .await
            .unwrap()
    }

    /// A timetable entry of the fixture written straight to the table.
    async fn timetable_entry(
        &self,
        s: &Setup,
        day: i32,
        minutes: (i32, i32),
        date: Option<NaiveDate>,
        draft: bool,
    ) -> Uuid {
        let now = Utc::now();
        let id = Uuid::new_v4();
        timetable_entry::ActiveModel {
            id: Set(id),
            term_id: Set(s.e.year.terms[0]),
            enrollment_id: Set(s.e.enrollment),
            room_id: Set(s.room),
            day: Set(day),
            start_minute: Set(minutes.0),
            end_minute: Set(minutes.1),
            session_type: Set("theory".into()),
            is_recurring: Set(date.is_none()),
            specific_date: Set(date),
            is_makeup: Set(false),
            is_draft: Set(draft),
            draft_version: Set(draft.then(|| "T1-20260101000000".to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await
        .unwrap();
        id
    }
}

const AUDIT: &str = "campus_audit_log";
const SESSION_TABLE: &str = "roster_attendance_sessions";

db_test!(settings_are_read_by_staff_and_changed_by_admin, |app| {
    let e = app.enrolled().await;
    let r = app.get(SETTINGS).send().await;
    r.assert_status(401);
    app.get(SETTINGS)
        .bearer(&e.trainees[0].access)
        .send()
        .await
        .assert_status(403);
    let r = app.get(SETTINGS).bearer(&e.trainer.access).send().await;
    r.assert_status(200);
    for (field, value) in [
        ("start_window_before_minutes", json!(15)),
        ("start_window_after_minutes", json!(30)),
        ("late_after_minutes", json!(10)),
        ("min_elapsed_percent_to_end", json!(80)),
        ("auto_close_after_minutes", json!(60)),
        ("require_trainer_location", json!(true)),
        ("require_trainer_face", json!(true)),
        ("require_trainee_location", json!(true)),
        ("require_trainee_face", json!(true)),
        ("face_match_threshold", json!(0.6)),
        ("max_location_accuracy_m", json!(100)),
        ("feedback_window_days", json!(7)),
        ("excuse_window_days", json!(7)),
        ("low_attendance_threshold_percent", json!(75)),
        ("image_retention_days", json!(90)),
    ] {
        assert_eq!(r.json[field], value, "{field}");
    }
    // Writes: admin only.
    for who in [&e.hod, &e.trainer, &e.trainees[0]] {
        app.patch(SETTINGS)
            .bearer(&who.access)
            .json(&json!({"late_after_minutes": 5}))
            .send()
            .await
            .assert_status(403);
    }
    app.patch(SETTINGS)
        .json(&json!({"late_after_minutes": 5}))
        .send()
        .await
        .assert_status(401);
    let audit = app.count_of(AUDIT).await;
    for (body, field) in [
        (json!({"face_match_threshold": 0.9}), "face_match_threshold"),
        (json!({"face_match_threshold": 0.2}), "face_match_threshold"),
        (
            json!({"min_elapsed_percent_to_end": 0}),
            "min_elapsed_percent_to_end",
        ),
        (
            json!({"low_attendance_threshold_percent": 101}),
            "low_attendance_threshold_percent",
        ),
        (json!({"late_after_minutes": -1}), "late_after_minutes"),
        (json!({"late_after_minutes": "soon"}), "late_after_minutes"),
        (
            json!({"require_trainee_face": null}),
            "require_trainee_face",
        ),
    ] {
        let r = app
            .patch(SETTINGS)
            .bearer(&e.admin.access)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert!(r.json[field].is_array(), "{body}: {}", r.json);
    }
    let r = app
        .patch(SETTINGS)
        .bearer(&e.admin.access)
        .raw("application/json", "{bad")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(app.count_of(AUDIT).await, audit, "refusals change nothing");
    let r = app
        .patch(SETTINGS)
        .bearer(&e.admin.access)
        .json(&json!({"late_after_minutes": 5, "face_match_threshold": 0.5, "require_trainee_face": false}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["late_after_minutes"], 5);
    assert_eq!(r.json["face_match_threshold"], 0.5);
    assert_eq!(r.json["require_trainee_face"], false);
    assert_eq!(r.json["start_window_before_minutes"], 15);
    assert_eq!(app.count_of(AUDIT).await, audit + 1);
    let r = app.get(SETTINGS).bearer(&e.hod.access).send().await;
    assert_eq!(r.json["late_after_minutes"], 5);
});

db_test!(a_manual_session_is_created_checked_and_scoped, |app| {
    let s = app.setup().await;
    let e = &s.e;
    let body = |start: i64, minutes: i64| {
        json!({
        "enrollment": e.enrollment, "room": s.room,
        "scheduled_start": in_minutes(start), "scheduled_end": in_minutes(start + minutes), "notes": "Revision"})
    };
    // Who may create.
    app.post(SESSIONS)
        .json(&body(60, 60))
        .send()
        .await
        .assert_status(401);
    app.post(SESSIONS)
        .bearer(&e.trainees[0].access)
        .json(&body(60, 60))
        .send()
        .await
        .assert_status(403);
    let stranger = app.user("trainer").await;
    app.post(SESSIONS)
        .bearer(&stranger.access)
        .json(&body(60, 60))
        .send()
        .await
        .assert_status(403);
    let other = app.other_department(&e.admin).await;
    app.post(SESSIONS)
        .bearer(&other.hod.access)
        .json(&body(60, 60))
        .send()
        .await
        .assert_status(403);

    let r = app
        .post(SESSIONS)
        .bearer(&e.trainer.access)
        .json(&body(60, 60))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let first = id_of(&r.json);
    assert_eq!(r.json["status"], "scheduled");
    assert_eq!(r.json["course_code"], "COMP101");
    assert_eq!(r.json["class_group_name"], "CS-1A");
    assert_eq!(r.json["trainer"], json!(e.trainer.id));
    assert_eq!(r.json["room"], json!(s.room));
    assert_eq!(r.json["notes"], "Revision");
    assert_eq!(r.json["timetable_entry"], Value::Null);
    assert_eq!(r.json["is_makeup"], false);
    assert_eq!(r.json["counts"]["expected"], 0);
    assert_eq!(r.json["attendance_rate"], Value::Null);
    assert_eq!(r.json["adherence"]["on_time"], Value::Null);
    let r = app
        .post(SESSIONS)
        .bearer(&e.hod.access)
        .json(&body(180, 60))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json);

    // Conflicts: same room, trainer and class group, overlapping.
    let sessions = app.count_of(SESSION_TABLE).await;
    let audit = app.count_of(AUDIT).await;
    let r = app
        .post(SESSIONS)
        .bearer(&e.admin.access)
        .json(&body(90, 60))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(r.json["code"], "timetable_conflict");
    let kinds: Vec<&str> = r.json["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for kind in ["room_conflict", "trainer_conflict", "class_group_conflict"] {
        assert!(kinds.contains(&kind), "{kind}: {}", r.json);
    }
    assert_eq!(r.json["conflicts"][0]["entry"], json!(first));
    assert!(
        r.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("COMP101"),
        "{}",
        r.json
    );
    assert_eq!(app.count_of(SESSION_TABLE).await, sessions);
    assert_eq!(app.count_of(AUDIT).await, audit);
    // Another room under maintenance, an inactive one.
    let annex = app
        .new_room(
            &e.admin,
            json!({"name": format!("Annex-{}", tag()), "capacity": 40}),
        )
        .await;
    let r = app
        .post(&format!("/api/rooms/{annex}/maintenance/"))
        .bearer(&e.admin.access)
        .json(&json!({"start": in_minutes(0), "end": in_minutes(24 * 60), "reason": "Painting"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let mut in_annex = body(300, 60);
    in_annex["room"] = json!(annex);
    let r = app
        .post(SESSIONS)
        .bearer(&e.admin.access)
        .json(&in_annex)
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(r.json["conflicts"][0]["type"], "room_maintenance");
    let inactive = app
        .new_room(
            &e.admin,
            json!({"name": format!("Old-{}", tag()), "capacity": 40, "is_active": false}),
        )
        .await;
    in_annex["room"] = json!(inactive);
    let r = app
        .post(SESSIONS)
        .bearer(&e.admin.access)
        .json(&in_annex)
        .send()
        .await;
    assert_eq!(
        r.json["conflicts"][0]["type"], "room_inactive",
        "{}",
        r.json
    );

    let audit = app.count_of(AUDIT).await;
    // Bad input.
    let past = json!({"enrollment": e.enrollment, "room": s.room,
                      "scheduled_start": in_minutes(-120), "scheduled_end": in_minutes(-60)});
    for (bad, field) in [
        (json!({}), "enrollment"),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": in_minutes(600)}),
            "scheduled_end",
        ),
        (
            json!({"enrollment": Uuid::new_v4(), "room": s.room, "scheduled_start": in_minutes(600), "scheduled_end": in_minutes(660)}),
            "enrollment",
        ),
        (
            json!({"enrollment": "nope", "room": s.room, "scheduled_start": in_minutes(600), "scheduled_end": in_minutes(660)}),
            "enrollment",
        ),
        (
            json!({"enrollment": e.enrollment, "room": Uuid::new_v4(), "scheduled_start": in_minutes(600), "scheduled_end": in_minutes(660)}),
            "room",
        ),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": "tomorrow", "scheduled_end": in_minutes(660)}),
            "scheduled_start",
        ),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": 5, "scheduled_end": in_minutes(660)}),
            "scheduled_start",
        ),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": in_minutes(660), "scheduled_end": in_minutes(600)}),
            "non_field_errors",
        ),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": in_minutes(600), "scheduled_end": in_minutes(610)}),
            "non_field_errors",
        ),
        (
            json!({"enrollment": e.enrollment, "room": s.room, "scheduled_start": in_minutes(600), "scheduled_end": in_minutes(600 + 9 * 60)}),
            "non_field_errors",
        ),
        (past, "scheduled_end"),
    ] {
        let r = app
            .post(SESSIONS)
            .bearer(&e.admin.access)
            .json(&bad)
            .send()
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.json);
        assert!(r.json[field].is_array(), "{bad}: {}", r.json);
    }
    app.post(SESSIONS)
        .bearer(&e.admin.access)
        .raw("application/json", "{bad")
        .send()
        .await
        .assert_status(400);
    app.post(SESSIONS)
        .bearer(&e.admin.access)
        .raw("text/plain", "hello")
        .send()
        .await
        .assert_status(415);
    assert_eq!(
        app.count_of(SESSION_TABLE).await,
        sessions,
        "refusals make nothing"
    );
    assert_eq!(app.count_of(AUDIT).await, audit);

    // Reading: scoped.
    for (who, count) in [
        (&e.admin, 2),
        (&e.hod, 2),
        (&e.trainer, 2),
        (&e.trainees[0], 2),
        (&other.hod, 0),
        (&other.trainer, 0),
        (&stranger, 0),
    ] {
        let r = app.get(SESSIONS).bearer(&who.access).send().await;
        r.assert_status(200);
        assert_eq!(r.json["count"], count, "{}", r.json);
    }
    app.get(SESSIONS).send().await.assert_status(401);
    let detail = format!("{SESSIONS}{first}/");
    app.get(&detail)
        .bearer(&e.trainees[1].access)
        .send()
        .await
        .assert_status(200);
    app.get(&detail)
        .bearer(&other.hod.access)
        .send()
        .await
        .assert_status(404);
    app.get(&detail)
        .bearer(&stranger.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{SESSIONS}{}/", Uuid::new_v4()))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{SESSIONS}nope/"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);

    // Filters and ordering.
    let today = Utc::now().date_naive();
    let r = app
        .get(&format!("{SESSIONS}?ordering=-scheduled_start"))
        .bearer(&e.admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][1]["id"], json!(first));
    for (query, count) in [
        (format!("status=scheduled&course={}", e.course), 2),
        ("status=active".to_owned(), 0),
        (format!("room={}", s.room), 2),
        (format!("trainer={}", e.trainer.id), 2),
        (
            format!("class_group={}&enrollment={}", e.class_group, e.enrollment),
            2,
        ),
        ("is_makeup=true".to_owned(), 0),
        (format!("date_from={}", today + Duration::days(2)), 0),
        (format!("date_to={}", today - Duration::days(1)), 0),
    ] {
        let r = app
            .get(&format!("{SESSIONS}?{query}"))
            .bearer(&e.admin.access)
            .send()
            .await;
        assert_eq!(r.json["count"], count, "{query}: {}", r.json);
    }
    for (query, key) in [
        ("status=done", "status"),
        ("date=31-12-2026", "date"),
        ("room=x", "room"),
        ("is_makeup=maybe", "is_makeup"),
    ] {
        let r = app
            .get(&format!("{SESSIONS}?{query}"))
            .bearer(&e.admin.access)
            .send()
            .await;
        assert_eq!(r.status, 400, "{query}");
        assert!(r.json[key].is_array(), "{query}: {}", r.json);
    }
    app.get(&format!("{SESSIONS}?page=9"))
        .bearer(&e.admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(a_scheduled_session_is_moved_and_canceled, |app| {
    let s = app.setup().await;
    let e = &s.e;
    let session = app.manual_session(&s, s.room, 60, 60).await;
    let id = id_of(&session);
    let path = format!("{SESSIONS}{id}/");
    let blocker = app.manual_session(&s, s.room, 240, 60).await;

    // Who may change it.
    app.patch(&path)
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .assert_status(401);
    app.patch(&path)
        .bearer(&e.trainees[0].access)
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .assert_status(403);
    let other = app.other_department(&e.admin).await;
    app.patch(&path)
        .bearer(&other.hod.access)
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .assert_status(404);
    // A trainer may not hand the session to someone else.
    let substitute = app.user("trainer").await;
    app.patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({"trainer": substitute.id}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .patch(&path)
        .bearer(&e.admin.access)
        .json(&json!({"trainer": e.trainees[0].id}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json["trainer"].is_array(), "{}", r.json);
    // Moving onto another session is refused; bad times too.
    let r = app
        .patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({"scheduled_start": in_minutes(230), "scheduled_end": in_minutes(290)}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(r.json["conflicts"][0]["entry"], json!(id_of(&blocker)));
    let r = app
        .patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({"scheduled_end": in_minutes(30)}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    let r = app
        .patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({"room": "nope"}))
        .send()
        .await;
    assert!(r.json["room"].is_array(), "{}", r.json);
    assert_eq!(
        app.session_row(id).await.scheduled_start,
        session["scheduled_start"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    );

    // The trainer moves it: the trainees are told.
    let r = app
        .patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({"scheduled_start": in_minutes(120), "scheduled_end": in_minutes(180), "notes": "Moved"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["notes"], "Moved");
    assert!(
        app.notes_of(e.trainees[0].id)
            .await
            .iter()
            .any(|n| n.message.contains("COMP101") && n.message.contains("moved"))
    );
    // The HOD hands it to a substitute, who is told.
    let r = app
        .patch(&path)
        .bearer(&e.hod.access)
        .json(&json!({"trainer": substitute.id}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["trainer"], json!(substitute.id));
    assert_eq!(app.notes_of(substitute.id).await.len(), 1);
    app.patch(&path)
        .bearer(&e.hod.access)
        .json(&json!({"trainer": e.trainer.id}))
        .send()
        .await
        .assert_status(200);

    // Cancel.
    let cancel = format!("{path}cancel/");
    app.post(&cancel)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .assert_status(401);
    app.post(&cancel)
        .bearer(&e.trainees[0].access)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .assert_status(403);
    app.post(&cancel)
        .bearer(&other.hod.access)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .assert_status(404);
    for bad in [json!({}), json!({"reason": "  "}), json!({"reason": 5})] {
        let r = app
            .post(&cancel)
            .bearer(&e.trainer.access)
            .json(&bad)
            .send()
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json["reason"].is_array(), "{bad}: {}", r.json);
    }
    assert_eq!(app.session_row(id).await.status, "scheduled");
    let r = app
        .post(&cancel)
        .bearer(&e.trainer.access)
        .json(&json!({"reason": "Trainer unwell"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["status"], "canceled");
    assert_eq!(r.json["cancel_reason"], "Trainer unwell");
    assert!(
        app.notes_of(e.trainees[1].id)
            .await
            .iter()
            .any(|n| n.message.contains("Trainer unwell"))
    );
    let again = app
        .post(&cancel)
        .bearer(&e.admin.access)
        .json(&json!({"reason": "again"}))
        .send()
        .await;
    again.assert_status(400);
    assert_eq!(again.json["code"], "invalid_state");
    let r = app
        .patch(&path)
        .bearer(&e.admin.access)
        .json(&json!({"notes": "late"}))
        .send()
        .await;
    assert_eq!(r.json["code"], "invalid_state");
    // A canceled session no longer blocks its slot.
    let r = app
        .post(SESSIONS)
        .bearer(&e.admin.access)
        .json(&json!({"enrollment": e.enrollment, "room": s.room,
                      "scheduled_start": in_minutes(120), "scheduled_end": in_minutes(180)}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
});

db_test!(
    generation_follows_the_published_timetable_and_is_idempotent,
    |app| {
        let s = app.setup().await;
        let e = &s.e;
        let today = Utc::now().date_naive();
        let weekday = |d: NaiveDate| i32::try_from(d.weekday().num_days_from_monday()).unwrap();
        let tomorrow = today + Duration::days(1);
        // Weekly on tomorrow's weekday 08:00–10:00, a one-off the day after at
        // 14:00, and a draft that is ignored.
        app.timetable_entry(&s, weekday(tomorrow), (480, 600), None, false)
            .await;
        app.timetable_entry(
            &s,
            weekday(today),
            (900, 960),
            Some(today + Duration::days(2)),
            false,
        )
        .await;
        app.timetable_entry(&s, weekday(tomorrow), (720, 780), None, true)
            .await;
        let range = json!({"date_from": tomorrow, "date_to": tomorrow + Duration::days(13)});
        let generate = format!("{SESSIONS}generate/");
        app.post(&generate)
            .json(&range)
            .send()
            .await
            .assert_status(401);
        for who in [&e.trainer, &e.trainees[0]] {
            app.post(&generate)
                .bearer(&who.access)
                .json(&range)
                .send()
                .await
                .assert_status(403);
        }
        let other = app.other_department(&e.admin).await;
        let mut theirs = range.clone();
        theirs["class_group"] = json!(e.class_group);
        app.post(&generate)
            .bearer(&other.hod.access)
            .json(&theirs)
            .send()
            .await
            .assert_status(403);
        // Another department's HOD makes nothing of this class group.
        let r = app
            .post(&generate)
            .bearer(&other.hod.access)
            .json(&range)
            .send()
            .await;
        assert_eq!(r.json, json!({"created": 0, "skipped": 0}));
        for bad in [
            json!({"date_from": tomorrow}),
            json!({"date_from": "tomorrow", "date_to": tomorrow}),
            json!({"date_from": tomorrow, "date_to": tomorrow + Duration::days(40)}),
            json!({"date_from": tomorrow, "date_to": today}),
            json!({"date_from": tomorrow, "date_to": tomorrow, "term": Uuid::new_v4()}),
            json!({"date_from": tomorrow, "date_to": tomorrow, "class_group": "x"}),
        ] {
            let r = app
                .post(&generate)
                .bearer(&e.admin.access)
                .json(&bad)
                .send()
                .await;
            assert_eq!(r.status, 400, "{bad}: {}", r.json);
        }
        assert_eq!(app.count_of(SESSION_TABLE).await, 0);

        let r = app
            .post(&generate)
            .bearer(&e.hod.access)
            .json(&theirs)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json, json!({"created": 3, "skipped": 0}));
        let again = app
            .post(&generate)
            .bearer(&e.admin.access)
            .json(&range)
            .send()
            .await;
        assert_eq!(again.json, json!({"created": 0, "skipped": 3}));
        let list = app
            .get(&format!("{SESSIONS}?date={tomorrow}"))
            .bearer(&e.trainer.access)
            .send()
            .await;
        assert_eq!(list.json["count"], 1);
        let first = &list.json["results"][0];
        assert_eq!(
            first["scheduled_start"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            tomorrow.and_hms_opt(8, 0, 0).unwrap().and_utc()
        );
        assert_eq!(first["room"], json!(s.room));
        assert!(first["timetable_entry"].is_string());

        // Two generations at once make each session once, and neither fails.
        let wider = json!({"date_from": tomorrow, "date_to": tomorrow + Duration::days(20)});
        let (a, b) = tokio::join!(
            app.post(&generate)
                .bearer(&e.admin.access)
                .json(&wider)
                .send(),
            app.post(&generate)
                .bearer(&e.hod.access)
                .json(&wider)
                .send()
        );
        assert_eq!(
            (a.status.as_u16(), b.status.as_u16()),
            (200, 200),
            "{} {}",
            a.json,
            b.json
        );
        let created = a.json["created"].as_u64().unwrap() + b.json["created"].as_u64().unwrap();
        assert_eq!(created, 1, "{} {}", a.json, b.json);
        assert_eq!(app.count_of(SESSION_TABLE).await, 4);
    }
);

db_test!(the_jobs_materialize_sessions_and_mark_missed_ones, |app| {
    let s = app.setup().await;
    let today = Utc::now().date_naive();
    let weekday = |d: NaiveDate| i32::try_from(d.weekday().num_days_from_monday()).unwrap();
    app.timetable_entry(
        &s,
        weekday(today + Duration::days(3)),
        (480, 600),
        None,
        false,
    )
    .await;
    let manual = id_of(&app.manual_session(&s, s.room, 20, 60).await);
    // The first run registers the periodic jobs; the second runs them.
    app.run_jobs().await;
    app.run_jobs().await;
    let made = attendance_session::Entity::find()
        .filter(attendance_session::Column::TimetableEntryId.is_not_null())
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(made, 1);
    assert_eq!(app.session_row(manual).await.status, "scheduled");
    // 49 minutes on (start + 29): still startable.
    kernel::time::shifted(Duration::minutes(49), app.run_jobs()).await;
    assert_eq!(app.session_row(manual).await.status, "scheduled");
    // 52 minutes on (start + 32): missed, and the trainer is told.
    kernel::time::shifted(Duration::minutes(52), app.run_jobs()).await;
    assert_eq!(app.session_row(manual).await.status, "missed");
    assert!(
        app.notes_of(s.e.trainer.id)
            .await
            .iter()
            .any(|n| n.message.contains("missed"))
    );
    // Idempotent.
    kernel::time::shifted(Duration::minutes(60), app.run_jobs()).await;
    assert_eq!(app.session_row(manual).await.status, "missed");
    let start = app
        .post(&format!("{SESSIONS}{manual}/start/"))
        .bearer(&s.e.trainer.access)
        .json(&json!({"latitude": ROOM_AT.0, "longitude": ROOM_AT.1}))
        .send()
        .await;
    assert_eq!(start.json["code"], "invalid_state", "{}", start.json);
    // A day later materialize runs again and makes nothing twice.
    kernel::time::shifted(Duration::days(1) + Duration::minutes(5), app.run_jobs()).await;
    let made = attendance_session::Entity::find()
        .filter(attendance_session::Column::TimetableEntryId.is_not_null())
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(made, 1);
});
