//! The kernel's conformance checks over roster's whole document: every
//! secured operation answers 401 in roster's envelope without a token or
//! with a forged one, a malformed path id is a 404, and every JSON body that
//! is malformed, of the wrong shape or of the wrong types is a 400 (or the
//! role's 403) that changes no row.

use crate::common::*;
use crate::timetable::{ENTRIES, body, entry, room};

async fn created(app: &TestApp, admin: &Actor, path: &str, body: Value) -> Uuid {
    let r = app
        .post(path)
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, 201, "POST {path} {body}: {}", r.json);
    id_of(&r.json)
}

db_test!(every_documented_endpoint_conforms, |app| {
    let admin = app.admin().await;
    kernel::conformance::check::<roster::Roster>(&app, &admin.access).await;
});

db_test!(bad_bodies_are_refused_and_change_nothing, |app| {
    let e = app.enrolled().await;
    let admin = &e.admin;
    let room = room(&app, admin, "B12", "classroom", 30).await;
    let maintenance = created(
        &app,
        admin,
        &format!("/api/rooms/{room}/maintenance/"),
        json!({"start": "2026-05-01T08:00:00Z", "end": "2026-05-01T12:00:00Z", "reason": "Painting"}),
    )
    .await;
    let topic = created(
        &app,
        admin,
        "/api/topics/",
        json!({"course": e.course, "title": "Variables", "duration_minutes": 60}),
    )
    .await;
    let subtopic = created(
        &app,
        admin,
        &format!("/api/topics/{topic}/subtopics/"),
        json!({"title": "Scope", "duration_minutes": 30}),
    )
    .await;
    let settings = created(&app, admin, "/api/timetable-settings/", json!({})).await;
    let window = created(
        &app,
        admin,
        "/api/trainer-availability/",
        json!({"trainer": e.trainer.id, "day_of_week": "monday", "start_time": "08:00", "end_time": "12:00"}),
    )
    .await;
    let timetable_entry = id_of(
        &entry(
            &app,
            admin,
            body(e.enrollment, room, "monday", "08:00", "10:00"),
        )
        .await,
    );
    let (year, term) = (e.year.id, e.year.terms[0]);
    // Attendance rows in each state an endpoint acts on.
    let soon = crate::records::now() + chrono::Duration::hours(2);
    let past = crate::records::now() - chrono::Duration::days(1);
    let scheduled = crate::records::session_row(&app, &e, "scheduled", soon, 60).await;
    let active = crate::records::session_row(&app, &e, "active", crate::records::now(), 60).await;
    let completed = crate::records::session_row(&app, &e, "completed", past, 60).await;
    let missed =
        crate::records::session_row(&app, &e, "missed", past - chrono::Duration::hours(3), 60)
            .await;
    let record = crate::records::record_row(&app, completed.id, e.trainees[0].id, "absent").await;
    let sent = app
        .post("/api/notifications/")
        .bearer(&admin.access)
        .json(&json!({"recipients": [admin.id], "title": "Hello", "message": "A note."}))
        .send()
        .await;
    sent.assert_status(201);
    let notification = app
        .get("/api/notifications/")
        .bearer(&admin.access)
        .send()
        .await
        .json["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let broadcast = created(
        &app,
        admin,
        "/api/notifications/broadcasts/",
        json!({"title": "Closed", "message": "Closed on Friday.", "audience": "all"}),
    )
    .await;
    let r = app
        .post("/api/reports/")
        .bearer(&admin.access)
        .json(&json!({"report_type": "school", "filters": {}}))
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let report = id_of(&r.json);
    let schedule = created(
        &app,
        admin,
        "/api/reports/schedules/",
        json!({"report_type": "school", "frequency": "weekly", "formats": ["pdf"],
               "recipients": [admin.id], "channel": "email"}),
    )
    .await;
    let (group, trainee) = (e.class_group, e.trainees[0].id);
    let (department, trainer) = (e.department, e.trainer.id);
    let rows = [
        format!("/api/academic-years/{year}/"),
        format!("/api/academic-years/{year}/activate/"),
        format!("/api/terms/{term}/"),
        format!("/api/departments/{department}/"),
        format!("/api/departments/{department}/trainers/"),
        format!("/api/departments/{department}/trainers/{trainer}/"),
        format!("/api/programmes/{}/", e.programme),
        format!("/api/class-groups/{group}/"),
        format!("/api/class-groups/{group}/trainees/"),
        format!("/api/class-groups/{group}/trainees/{trainee}/"),
        format!("/api/courses/{}/", e.course),
        format!("/api/courses/{}/topics/", e.course),
        format!("/api/courses/{}/topics/reorder/", e.course),
        format!("/api/topics/{topic}/"),
        format!("/api/topics/{topic}/subtopics/"),
        format!("/api/subtopics/{subtopic}/"),
        format!("/api/programme-course-mappings/{}/", e.mapping),
        format!("/api/enrollments/{}/", e.enrollment),
        format!("/api/rooms/{room}/"),
        format!("/api/rooms/{room}/maintenance/"),
        format!("/api/rooms/{room}/maintenance/{maintenance}/"),
        format!("/api/timetable-settings/{settings}/"),
        format!("/api/trainer-availability/{window}/"),
        format!("{ENTRIES}{timetable_entry}/"),
        format!("{ENTRIES}{timetable_entry}/publish/"),
        format!("/api/users/{trainee}/"),
        format!("/api/users/{trainee}/face/"),
        format!("/api/attendance/sessions/{}/", scheduled.id),
        format!("/api/attendance/sessions/{}/cancel/", scheduled.id),
        format!("/api/attendance/sessions/{}/start/", scheduled.id),
        format!("/api/attendance/sessions/{}/end/", active.id),
        format!("/api/attendance/sessions/{}/check-in/", active.id),
        format!("/api/attendance/sessions/{}/feedback/", completed.id),
        format!("/api/attendance/sessions/{}/makeup/", missed.id),
        format!("/api/attendance/records/{}/", record.id),
        format!("/api/attendance/records/{}/excuse/", record.id),
        format!("/api/attendance/records/{}/excuse/review/", record.id),
        format!("/api/notifications/{notification}/"),
        format!("/api/notifications/broadcasts/{broadcast}/"),
        format!("/api/reports/{report}/"),
        format!("/api/reports/schedules/{schedule}/"),
    ];
    kernel::conformance::check_bad_bodies::<roster::Roster>(&app, &admin.access, &rows).await;
});

db_test!(
    a_path_without_its_trailing_slash_is_served_the_same,
    |app| {
        let admin = app.admin().await;
        for path in [
            "/api/rooms",
            "/api/attendance/records",
            "/api/notifications/unread-count",
        ] {
            let bare = app.get(path).bearer(&admin.access).send().await;
            let slashed = app
                .get(&format!("{path}/"))
                .bearer(&admin.access)
                .send()
                .await;
            assert_eq!(bare.status, 200, "{path}: {}", bare.json);
            assert_eq!(bare.json, slashed.json, "{path}");
        }
        let paged = app
            .get("/api/rooms?page_size=1")
            .bearer(&admin.access)
            .send()
            .await;
        paged.assert_status(200);
        // Files keep their names.
        app.get("/api/redoc/redoc.standalone.js")
            .send()
            .await
            .assert_status(200);
    }
);

/// utoipa names a schema after its type and keeps the last of two types
/// with one name, so two bodies named alike would share one document: every
/// documented type (and `kernel::choices!` list) has a name of its own,
/// unless renamed with `#[schema(as = ...)]`.
#[test]
fn every_schema_has_a_name_of_its_own() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    let mut clashes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let documented = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let l = l.trim_start();
                    l.starts_with("#[") || l.starts_with("///") || l.starts_with(')')
                })
                .any(|l| l.contains("ToSchema"));
            let renamed = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    l.trim_start().starts_with("#[") || l.trim_start().starts_with("///")
                })
                .any(|l| l.contains("schema(as"));
            let name = if documented && !renamed {
                ["pub struct ", "pub enum ", "struct ", "enum "]
                    .iter()
                    .find_map(|p| trimmed.strip_prefix(p))
            } else if lines[..i]
                .last()
                .is_some_and(|l| l.trim_start().starts_with("kernel::choices!("))
                || (i >= 2 && lines[i - 2].trim_start().starts_with("kernel::choices!("))
            {
                trimmed.strip_prefix("pub ")
            } else {
                None
            };
            let Some(name) = name else { continue };
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            let place = format!("{}:{}", file.display(), i + 1);
            if let Some(first) = seen.insert(name.clone(), place.clone()) {
                clashes.push(format!("{name}: {first} and {place}"));
            }
        }
    }
    assert!(clashes.is_empty(), "schema names used twice: {clashes:#?}");
}

db_test!(dates_far_outside_the_calendar_are_field_errors, |app| {
    let admin = app.admin().await;
    for path in [
        "/api/attendance/sessions/?date_from=-5000-01-01",
        "/api/attendance/records/?date_to=%2B262142-12-31",
        "/api/attendance/analytics/?date_from=12345-01-01",
        "/api/reports/attendance/school/?date_from=-0001-01-01",
    ] {
        let r = app.get(path).bearer(&admin.access).send().await;
        assert_eq!(r.status, 400, "{path}: {}", r.json);
    }
});

db_test!(a_schedule_reaches_only_whom_its_owner_may_notify, |app| {
    let e = app.enrolled().await;
    let outsider = app.user("trainee").await;
    let before = app.row_counts().await;
    let r = app
        .post("/api/reports/schedules/")
        .bearer(&e.hod.access)
        .json(&json!({"report_type": "department", "frequency": "weekly",
                      "filters": {"department": e.department},
                      "formats": ["pdf"], "recipients": [outsider.id]}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["recipients"].is_array(), "{}", r.json);
    assert_eq!(app.row_counts().await, before);
    let ok = app
        .post("/api/reports/schedules/")
        .bearer(&e.hod.access)
        .json(&json!({"report_type": "department", "frequency": "weekly",
                      "filters": {"department": e.department},
                      "formats": ["pdf"], "recipients": [e.trainer.id, e.hod.id]}))
        .send()
        .await;
    assert_eq!(ok.status, 201, "{}", ok.json);
});

db_test!(a_check_in_photo_must_be_a_photo, |app| {
    let s = app.setup().await;
    app.attendance_settings(
        &s.e.admin,
        json!({"require_trainee_face": false, "require_trainer_face": false}),
    )
    .await;
    let session = id_of(&app.manual_session(&s, s.room, -1, 60).await);
    let at = crate::sessions::ROOM_AT;
    app.post(&format!("/api/attendance/sessions/{session}/start/"))
        .bearer(&s.e.trainer.access)
        .json(&json!({"latitude": at.0, "longitude": at.1}))
        .send()
        .await
        .assert_status(200);
    let form = kernel::testing::Multipart::new()
        .text("latitude", &at.0.to_string())
        .text("longitude", &at.1.to_string())
        .file("image", "photo.jpg", "image/jpeg", b"%PDF-1.4 not a photo");
    let r = app
        .post(&format!("/api/attendance/sessions/{session}/check-in/"))
        .bearer(&s.e.trainees[0].access)
        .multipart(form)
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["image"].is_array(), "{}", r.json);
});
