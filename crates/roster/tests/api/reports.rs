//! Reports and analytics (contract §7): every kind's numbers against rows
//! written straight to the attendance tables on top of `app.enrolled()`
//! (and a second department for scoping), the exports parsed back, access
//! per role, bad input, stored reports through the job queue, a schedule
//! emailing its PDF once, and the dashboard.

use std::io::Cursor;

use base64::Engine as _;
use calamine::{Data, Reader};
use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound, TimeZone, Timelike, Utc};
use roster::entities::{notification, report, report_schedule, session_feedback};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::common::*;

const TRAINEES: &str = "/api/reports/attendance/trainees/";
const SCHOOL: &str = "/api/reports/attendance/school/";
const REPORTS: &str = "/api/reports/";
const SCHEDULES: &str = "/api/reports/schedules/";
const DASHBOARD: &str = "/api/reports/dashboard/";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// `days` from today at `hour`:00 UTC (the fixture school is on UTC).
fn at(days: i64, hour: u32) -> DateTime<Utc> {
    let date = today() + Duration::days(days);
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap())
}

struct Session<'a> {
    enrollment: Uuid,
    course: Uuid,
    class_group: Uuid,
    term: Uuid,
    trainer: Uuid,
    status: &'a str,
    start: DateTime<Utc>,
    /// Minutes after the scheduled start it was started (None: not started).
    delay: Option<i64>,
}

async fn session(app: &TestApp, s: Session<'_>) -> Uuid {
    let of = Teaching {
        enrollment: s.enrollment,
        course: s.course,
        class_group: s.class_group,
        term: s.term,
        trainer: s.trainer,
    };
    let mut row = session_model(of, s.status, s.start, s.start + Duration::hours(2));
    row.started_at = Set(s.delay.map(|d| s.start + Duration::minutes(d)));
    let id = Uuid::new_v4();
    row.id = Set(id);
    row.insert(app.db()).await.unwrap();
    id
}

async fn record(app: &TestApp, session: Uuid, trainee: Uuid, status: &str, at: DateTime<Utc>) {
    let mut row = record_model(session, trainee, status, at);
    // Reports read no location or face figures.
    row.latitude = Set(None);
    row.longitude = Set(None);
    row.distance_m = Set(None);
    row.face_distance = Set(None);
    row.insert(app.db()).await.unwrap();
}

async fn feedback(app: &TestApp, session: Uuid, trainee: Uuid, overall: i32) {
    session_feedback::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session),
        trainee_id: Set(trainee),
        content_rating: Set(3),
        delivery_rating: Set(3),
        engagement_rating: Set(3),
        overall_rating: Set(overall),
        comment: Set(None),
        created_at: Set(Utc::now().trunc_subsecs(0)),
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// The second department: `BUS` with its HOD, trainer, a class group
/// `BS-1A` with one trainee, course `BUS101` and its enrollment.
#[allow(dead_code)]
struct Other {
    hod: Actor,
    trainer: Actor,
    trainee: Actor,
    department: Uuid,
    programme: Uuid,
    class_group: Uuid,
    course: Uuid,
    enrollment: Uuid,
    session: Uuid,
}

/// The fixture's sessions: in CS-1A (COMP101, the fixture's trainer)
/// - s1 completed 3 days ago, started 2 min late: trainee 0 present,
///   trainee 1 late, feedback 4 and 5;
/// - s2 completed 2 days ago, started 10 min late: trainee 0 absent,
///   trainee 1 excused;
/// - s3 missed yesterday; s4 scheduled tomorrow;
///
/// and in BS-1A (BUS101) one completed session 2 days ago, its trainee present.
struct World {
    e: Enrolled,
    other: Other,
    s1: Uuid,
}

async fn world(app: &TestApp) -> World {
    let e = app.enrolled().await;
    let base = |status, start, delay| Session {
        enrollment: e.enrollment,
        course: e.course,
        class_group: e.class_group,
        term: e.year.terms[0],
        trainer: e.trainer.id,
        status,
        start,
        delay,
    };
    let s1 = session(app, base("completed", at(-3, 8), Some(2))).await;
    record(app, s1, e.trainees[0].id, "present", at(-3, 8)).await;
    record(app, s1, e.trainees[1].id, "late", at(-3, 9)).await;
    feedback(app, s1, e.trainees[0].id, 4).await;
    feedback(app, s1, e.trainees[1].id, 5).await;
    let s2 = session(app, base("completed", at(-2, 8), Some(10))).await;
    record(app, s2, e.trainees[0].id, "absent", at(-2, 8)).await;
    record(app, s2, e.trainees[1].id, "excused", at(-2, 8)).await;
    session(app, base("missed", at(-1, 8), None)).await;
    session(app, base("scheduled", at(1, 8), None)).await;

    let hod = app.user("hod").await;
    let trainer = app.user("trainer").await;
    let trainee = app.user("trainee").await;
    let department = app
        .department(&e.admin, "BUS", Some(&hod), &[&trainer])
        .await;
    let programme = app.programme(&e.admin, department, 2).await;
    let class_group = app
        .class_group(&e.admin, "BS-1A", programme, e.year.id, &[&trainee])
        .await;
    let course = app.course(&e.admin, "BUS101", department, 2, 1, 60).await;
    app.mapping(&e.admin, programme, course, 1).await;
    let enrollment = app
        .enrollment(
            &e.admin,
            class_group,
            course,
            &e.year,
            e.year.terms[0],
            Some(&trainer),
        )
        .await;
    let other_session = session(
        app,
        Session {
            enrollment,
            course,
            class_group,
            term: e.year.terms[0],
            trainer: trainer.id,
            status: "completed",
            start: at(-2, 10),
            delay: Some(0),
        },
    )
    .await;
    record(app, other_session, trainee.id, "present", at(-2, 10)).await;
    World {
        e,
        other: Other {
            hod,
            trainer,
            trainee,
            department,
            programme,
            class_group,
            course,
            enrollment,
            session: other_session,
        },
        s1,
    }
}

async fn get(app: &TestApp, who: &Actor, path: &str) -> kernel::testing::TestResponse {
    app.get(path).bearer(&who.access).send().await
}

fn rows(json: &Value) -> &Vec<Value> {
    json["rows"].as_array().unwrap()
}

fn row_where<'a>(json: &'a Value, key: &str, value: &str) -> &'a Value {
    rows(json)
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no row {key}={value} in {json}"))
}

db_test!(each_kind_counts_the_rows_it_may_see, |app| {
    let w = world(&app).await;
    let (e, admin) = (&w.e, &w.e.admin);

    // Trainee report: one row per (trainee, course); excused left out.
    let r = get(
        &app,
        admin,
        &format!("{TRAINEES}?class_group={}", e.class_group),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["report_type"], "trainee");
    assert_eq!(r.json["columns"][0], "trainee_id");
    assert_eq!(r.json["columns"].as_array().unwrap().len(), 13);
    assert_eq!(rows(&r.json).len(), 2, "{}", r.json);
    let first = row_where(&r.json, "trainee_id", &e.trainees[0].id.to_string());
    assert_eq!(first["course_code"], "COMP101");
    assert_eq!(first["class_group"], "CS-1A");
    assert_eq!(first["sessions"], 2);
    assert_eq!(first["present"], 1);
    assert_eq!(first["absent"], 1);
    assert_eq!(first["attendance_rate"], 50.0);
    assert_eq!(first["punctuality_rate"], 100.0);
    let second = row_where(&r.json, "trainee_id", &e.trainees[1].id.to_string());
    assert_eq!(second["late"], 1);
    assert_eq!(second["excused"], 1);
    assert_eq!(second["attendance_rate"], 100.0);
    assert_eq!(second["punctuality_rate"], 0.0);
    let s = &r.json["summary"];
    assert_eq!(s["sessions_held"], 2);
    assert_eq!(s["excused"], 1);
    assert_eq!(s["attendance_rate"], 66.67);
    assert_eq!(s["punctuality_rate"], 50.0);
    assert!(r.json.get("sessions").is_none());
    // Without a class group filter the admin sees both departments.
    let all = get(&app, admin, TRAINEES).await;
    assert_eq!(rows(&all.json).len(), 3);

    // One trainee: their sessions listed.
    let one = get(
        &app,
        admin,
        &format!("{TRAINEES}?trainee={}", e.trainees[0].id),
    )
    .await;
    one.assert_status(200);
    assert_eq!(rows(&one.json).len(), 1);
    let sessions = one.json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["status"], "present");
    assert_eq!(sessions[0]["course_code"], "COMP101");
    assert_eq!(
        sessions[0]["date"],
        (today() - Duration::days(3)).to_string()
    );
    assert!(sessions[0]["checked_in_at"].is_string());
    assert_eq!(sessions[1]["status"], "absent");

    // Dates: from 2 days ago only s2 counts (absent + excused → 0 %).
    let from = (today() - Duration::days(2)).to_string();
    let r = get(
        &app,
        admin,
        &format!("{TRAINEES}?class_group={}&date_from={from}", e.class_group),
    )
    .await;
    assert_eq!(r.json["summary"]["attendance_rate"], 0.0);
    assert_eq!(r.json["summary"]["present"], 0);
    assert_eq!(r.json["filters"]["date_from"], from);

    // Class group: per course.
    let r = get(
        &app,
        admin,
        &format!("/api/reports/attendance/class-groups/{}/", e.class_group),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.json["report_type"], "class_group");
    assert_eq!(rows(&r.json).len(), 1);
    let row = &rows(&r.json)[0];
    assert_eq!(row["course_code"], "COMP101");
    assert_eq!(row["sessions_held"], 2);
    assert_eq!(row["present"], 1);
    assert_eq!(row["late"], 1);
    assert_eq!(row["absent"], 1);
    assert_eq!(row["excused"], 1);
    assert_eq!(row["attendance_rate"], 66.67);
    assert_eq!(row["feedback_overall_avg"], 4.5);
    assert!(row["trainer_name"].is_string());
    assert_eq!(r.json["filters"]["subject"], "CS-1A");

    // Course: per enrollment.
    let r = get(
        &app,
        admin,
        &format!("/api/reports/attendance/courses/{}/", e.course),
    )
    .await;
    r.assert_status(200);
    let row = &rows(&r.json)[0];
    assert_eq!(row["class_group"], "CS-1A");
    assert_eq!(row["sessions_held"], 2);
    assert_eq!(row["punctuality_rate"], 50.0);
    assert_eq!(row["feedback_overall_avg"], 4.5);

    // Trainer: per session, with adherence.
    let r = get(
        &app,
        admin,
        &format!("/api/reports/attendance/trainers/{}/", e.trainer.id),
    )
    .await;
    r.assert_status(200);
    assert_eq!(rows(&r.json).len(), 4);
    let first = &rows(&r.json)[0];
    assert_eq!(first["status"], "completed");
    assert_eq!(first["start_delay_minutes"], 2);
    assert_eq!(first["duration_minutes"], 118);
    assert_eq!(first["present"], 1);
    assert_eq!(first["attendance_rate"], 100.0);
    assert_eq!(first["feedback_overall_avg"], 4.5);
    let s = &r.json["summary"];
    assert_eq!(s["sessions_scheduled"], 4);
    assert_eq!(s["sessions_completed"], 2);
    assert_eq!(s["sessions_missed"], 1);
    assert_eq!(s["on_time_start_rate"], 50.0);
    assert_eq!(s["avg_start_delay_minutes"], 6.0);
    assert!(s["weekly_hours"].is_number());
    assert!(s.get("max_weekly_hours").is_some());
    // ?course= narrows.
    let r = get(
        &app,
        admin,
        &format!(
            "/api/reports/attendance/trainers/{}/?course={}",
            e.trainer.id, w.other.course
        ),
    )
    .await;
    assert_eq!(rows(&r.json).len(), 0);

    // Programme → class groups, department → programmes, school → departments.
    let r = get(
        &app,
        admin,
        &format!("/api/reports/attendance/programmes/{}/", e.programme),
    )
    .await;
    r.assert_status(200);
    let row = row_where(&r.json, "name", "CS-1A");
    assert_eq!(row["sessions_held"], 2);
    assert_eq!(row["attendance_rate"], 66.67);
    assert_eq!(row["on_time_start_rate"], 50.0);
    assert_eq!(row["missed_sessions"], 1);
    assert_eq!(
        r.json["columns"],
        json!([
            "name",
            "sessions_held",
            "attendance_rate",
            "punctuality_rate",
            "on_time_start_rate",
            "missed_sessions"
        ])
    );
    let r = get(
        &app,
        admin,
        &format!("/api/reports/attendance/departments/{}/", e.department),
    )
    .await;
    r.assert_status(200);
    assert_eq!(rows(&r.json).len(), 1);
    assert_eq!(rows(&r.json)[0]["missed_sessions"], 1);
    let r = get(&app, admin, SCHOOL).await;
    r.assert_status(200);
    assert_eq!(rows(&r.json).len(), 2);
    let ict = row_where(&r.json, "name", "Department ICT");
    assert_eq!(ict["sessions_held"], 2);
    assert_eq!(ict["attendance_rate"], 66.67);
    let bus = row_where(&r.json, "name", "Department BUS");
    assert_eq!(bus["sessions_held"], 1);
    assert_eq!(bus["attendance_rate"], 100.0);
    assert_eq!(bus["on_time_start_rate"], 100.0);
    assert_eq!(r.json["summary"]["sessions_held"], 3);
    assert_eq!(r.json["summary"]["attendance_rate"], 75.0);
});

db_test!(exports_parse_back, |app| {
    let w = world(&app).await;
    let (e, admin) = (&w.e, &w.e.admin);
    let date = today().to_string();
    let path = format!("{TRAINEES}?class_group={}", e.class_group);

    // CSV: header = columns, one line per row.
    let r = get(&app, admin, &format!("{path}&format=csv")).await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"trainee-attendance-{date}.csv\"").as_str())
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("trainee_id,admission_number,trainee_name,class_group,course_code")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&e.trainees[0].id.to_string()) && l.ends_with(",50,100")),
        "{text}"
    );

    // The alias ?export=, XLSX: "Report" with numbers, "Summary".
    let r = get(&app, admin, &format!("{path}&export=xlsx")).await;
    r.assert_status(200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains(&format!("trainee-attendance-{date}.xlsx"))
    );
    let mut book = calamine::Xlsx::new(Cursor::new(r.body.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["Report", "Summary"]);
    let sheet = book.worksheet_range("Report").unwrap();
    let grid: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(grid.len(), 3);
    assert_eq!(grid[0][11], Data::String("attendance_rate".into()));
    let rates: Vec<&Data> = grid[1..].iter().map(|row| &row[11]).collect();
    assert!(rates.contains(&&Data::Float(50.0)), "{rates:?}");
    let summary = book.worksheet_range("Summary").unwrap();
    let pairs: Vec<Vec<Data>> = summary.rows().map(<[Data]>::to_vec).collect();
    assert!(
        pairs.contains(&vec![
            Data::String("attendance_rate".into()),
            Data::Float(66.67)
        ]),
        "{pairs:?}"
    );

    // PDF: title, school, filters, summary, rows, page numbers.
    let r = get(
        &app,
        admin,
        &format!(
            "/api/reports/attendance/class-groups/{}/?format=pdf",
            e.class_group
        ),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains(&format!("class-group-attendance-{date}.pdf"))
    );
    let text = kernel::pdf::text_of(&r.body);
    assert!(
        text.starts_with("Class group attendance report: CS-1A\nTest Technical Institute\n"),
        "{text}"
    );
    for expected in [
        "Summary",
        "Attendance rate",
        "66.67",
        "COMP101",
        "Page 1 of 1",
        "Generated ",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }

    // JSON as a file.
    let r = get(&app, admin, &format!("{SCHOOL}?format=json")).await;
    r.assert_status(200);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains(&format!("school-attendance-{date}.json"))
    );
    let parsed: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(parsed["report_type"], "school");

    // A bad format is a 400 on the parameter.
    let r = get(&app, admin, &format!("{SCHOOL}?format=docx")).await;
    r.assert_status(400);
    assert!(r.json["format"].is_array(), "{}", r.json);
    let r = get(&app, admin, &format!("{SCHOOL}?export=txt")).await;
    r.assert_status(400);
    assert!(r.json["export"].is_array());
});

db_test!(a_pdf_carries_the_school_logo, |app| {
    let w = world(&app).await;
    let admin = &w.e.admin;
    // A 2×2 PNG with an alpha channel, encoded here.
    let mut png = Vec::new();
    image::RgbaImage::from_raw(
        2,
        2,
        vec![255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255, 9, 9, 9, 0],
    )
    .unwrap()
    .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let form = kernel::testing::Multipart::new().file("logo", "logo.png", "image/png", &png);
    app.post("/api/school/logo/")
        .bearer(&admin.access)
        .multipart(form)
        .send()
        .await
        .assert_status(200);
    let r = get(&app, admin, &format!("{SCHOOL}?format=pdf")).await;
    r.assert_status(200);
    let raw = String::from_utf8_lossy(&r.body);
    assert!(raw.contains("/Subtype /Image"));
    assert!(raw.contains("/SMask"));
    assert!(kernel::pdf::text_of(&r.body).contains("School attendance report"));
});

db_test!(access_follows_the_roles, |app| {
    let w = world(&app).await;
    let e = &w.e;
    let o = &w.other;
    let (t0, t1) = (&e.trainees[0], &e.trainees[1]);
    let group = |id: Uuid| format!("/api/reports/attendance/class-groups/{id}/");
    let trainer_path = |id: Uuid| format!("/api/reports/attendance/trainers/{id}/");

    // Anonymous: 401.
    app.get(TRAINEES).send().await.assert_status(401);

    // A trainee: their own trainee report only.
    let r = get(&app, t0, TRAINEES).await;
    r.assert_status(200);
    assert_eq!(rows(&r.json).len(), 1);
    assert_eq!(rows(&r.json)[0]["trainee_id"], t0.id.to_string());
    assert_eq!(r.json["sessions"].as_array().unwrap().len(), 2);
    get(&app, t0, &format!("{TRAINEES}?trainee={}", t0.id))
        .await
        .assert_status(200);
    get(&app, t0, &format!("{TRAINEES}?trainee={}", t1.id))
        .await
        .assert_status(403);
    get(&app, t0, &group(e.class_group))
        .await
        .assert_status(403);
    get(&app, t0, &trainer_path(e.trainer.id))
        .await
        .assert_status(403);
    get(&app, t0, SCHOOL).await.assert_status(403);
    get(&app, t0, DASHBOARD).await.assert_status(200);

    // A trainer: class groups and courses taught, their own trainer report.
    let tr = &e.trainer;
    get(&app, tr, &group(e.class_group))
        .await
        .assert_status(200);
    get(
        &app,
        tr,
        &format!("/api/reports/attendance/courses/{}/", e.course),
    )
    .await
    .assert_status(200);
    get(&app, tr, &trainer_path(tr.id)).await.assert_status(200);
    get(&app, tr, &group(o.class_group))
        .await
        .assert_status(404);
    get(
        &app,
        tr,
        &format!("/api/reports/attendance/courses/{}/", o.course),
    )
    .await
    .assert_status(404);
    get(&app, tr, &trainer_path(o.trainer.id))
        .await
        .assert_status(403);
    get(
        &app,
        tr,
        &format!("/api/reports/attendance/programmes/{}/", e.programme),
    )
    .await
    .assert_status(403);
    get(
        &app,
        tr,
        &format!("/api/reports/attendance/departments/{}/", e.department),
    )
    .await
    .assert_status(403);
    get(&app, tr, SCHOOL).await.assert_status(403);
    let r = get(&app, tr, TRAINEES).await;
    assert_eq!(rows(&r.json).len(), 2, "only the trainees they teach");

    // A HOD: their department.
    let hod = &e.hod;
    get(
        &app,
        hod,
        &format!("/api/reports/attendance/departments/{}/", e.department),
    )
    .await
    .assert_status(200);
    get(
        &app,
        hod,
        &format!("/api/reports/attendance/programmes/{}/", e.programme),
    )
    .await
    .assert_status(200);
    get(&app, hod, &trainer_path(tr.id))
        .await
        .assert_status(200);
    get(
        &app,
        hod,
        &format!("/api/reports/attendance/departments/{}/", o.department),
    )
    .await
    .assert_status(404);
    get(
        &app,
        hod,
        &format!("/api/reports/attendance/programmes/{}/", o.programme),
    )
    .await
    .assert_status(404);
    get(&app, hod, &group(o.class_group))
        .await
        .assert_status(404);
    get(&app, hod, &trainer_path(o.trainer.id))
        .await
        .assert_status(404);
    get(&app, hod, SCHOOL).await.assert_status(403);
    let r = get(&app, hod, TRAINEES).await;
    assert_eq!(rows(&r.json).len(), 2, "{}", r.json);

    // The deputy principal: everything.
    let dp = app.user("dp_academics").await;
    get(&app, &dp, SCHOOL).await.assert_status(200);
    get(&app, &dp, &group(o.class_group))
        .await
        .assert_status(200);
    get(
        &app,
        &dp,
        &format!("/api/reports/attendance/departments/{}/", o.department),
    )
    .await
    .assert_status(200);
    assert_eq!(rows(&get(&app, &dp, TRAINEES).await.json).len(), 3);
});

db_test!(bad_input_is_refused_never_a_500, |app| {
    let w = world(&app).await;
    let admin = &w.e.admin;
    for (query, field) in [
        ("date_from=yesterday", "date_from"),
        ("date_to=2026-13-40", "date_to"),
        ("term=not-a-uuid", "term"),
        ("class_group=42", "class_group"),
        ("trainee=xyz", "trainee"),
        ("course=%00", "course"),
    ] {
        let r = get(&app, admin, &format!("{TRAINEES}?{query}")).await;
        r.assert_status(400);
        assert!(r.json[field].is_array(), "{query}: {}", r.json);
    }
    let r = get(&app, admin, &format!("{TRAINEES}?term={}", Uuid::new_v4())).await;
    r.assert_status(400);
    assert!(
        r.json["term"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    let r = get(
        &app,
        admin,
        &format!("{SCHOOL}?date_from=2026-05-02&date_to=2026-05-01"),
    )
    .await;
    r.assert_status(400);
    assert!(r.json["date_to"].is_array());
    // Unknown and malformed ids in the path: 404.
    for path in [
        format!("/api/reports/attendance/class-groups/{}/", Uuid::new_v4()),
        "/api/reports/attendance/class-groups/nope/".to_owned(),
        format!("/api/reports/attendance/courses/{}/", Uuid::new_v4()),
        format!("/api/reports/attendance/trainers/{}/", Uuid::new_v4()),
        format!("/api/reports/attendance/trainers/{}/", w.e.trainees[0].id),
        format!("/api/reports/attendance/programmes/{}/", Uuid::new_v4()),
        "/api/reports/attendance/departments/1/".to_owned(),
    ] {
        get(&app, admin, &path).await.assert_status(404);
    }
    // An unknown filter id narrows to nothing.
    let r = get(
        &app,
        admin,
        &format!("{TRAINEES}?class_group={}", Uuid::new_v4()),
    )
    .await;
    r.assert_status(200);
    assert_eq!(rows(&r.json).len(), 0);
    assert_eq!(r.json["summary"]["attendance_rate"], Value::Null);
});

db_test!(a_stored_report_is_built_by_the_queue, |app| {
    let w = world(&app).await;
    let e = &w.e;
    let hod = &e.hod;
    let before = app.row_counts().await;

    // Refusals change nothing.
    app.post(REPORTS).send().await.assert_status(401);
    let r = app
        .post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"filters": {}}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["report_type"].is_array());
    let r = app
        .post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"report_type": "weekly"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"report_type": "class_group", "filters": {"class_group": Uuid::new_v4()}}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["filters"].is_array(), "{}", r.json);
    let r = app
        .post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"report_type": "class_group", "filters": {"date_from": "soon", "class_group": e.class_group}}))
        .send()
        .await;
    r.assert_status(400);
    app.post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"report_type": "school"}))
        .send()
        .await
        .assert_status(403);
    app.post(REPORTS)
        .bearer(&hod.access)
        .raw("application/json", "{not json")
        .send()
        .await
        .assert_status(400);
    assert_eq!(app.row_counts().await, before);

    // Queued: pending until the job runs.
    let r = app
        .post(REPORTS)
        .bearer(&hod.access)
        .json(&json!({"report_type": "class_group", "filters": {"class_group": e.class_group}}))
        .send()
        .await;
    r.assert_status(202);
    assert_eq!(r.json["status"], "pending");
    let id = id_of(&r.json);
    let detail = format!("{REPORTS}{id}/");
    let r = get(&app, hod, &detail).await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "pending");
    let r = get(&app, hod, &format!("{detail}download/?format=csv")).await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "report_not_ready");

    app.run_jobs().await;
    let r = get(&app, hod, &detail).await;
    assert_eq!(r.json["status"], "ready", "{}", r.json);
    assert_eq!(r.json["summary"]["attendance_rate"], 66.67);
    assert_eq!(r.json["data"]["rows"][0]["course_code"], "COMP101");
    assert!(r.json["completed_at"].is_string());
    let notes = notification::Entity::find()
        .filter(notification::Column::UserId.eq(hod.id))
        .filter(notification::Column::NotificationType.eq("report"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);

    // Downloads.
    let r = get(&app, hod, &format!("{detail}download/?format=csv")).await;
    r.assert_status(200);
    assert!(
        String::from_utf8(r.body.clone())
            .unwrap()
            .starts_with("course_code,course_name,trainer_name")
    );
    let r = get(&app, hod, &format!("{detail}download/")).await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    get(&app, hod, &format!("{detail}download/?format=doc"))
        .await
        .assert_status(400);

    // Own list; an administrator sees all; others 404.
    let r = get(&app, hod, REPORTS).await;
    assert_eq!(r.json["count"], 1);
    let r = get(&app, &w.other.hod, REPORTS).await;
    assert_eq!(r.json["count"], 0);
    get(&app, &w.other.hod, &detail).await.assert_status(404);
    app.delete(&detail)
        .bearer(&w.other.hod.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(get(&app, &e.admin, REPORTS).await.json["count"], 1);
    get(&app, &e.admin, &format!("{REPORTS}?status=bogus"))
        .await
        .assert_status(400);

    // A report the requester may no longer read fails, and says why.
    let r = app
        .post(REPORTS)
        .bearer(&e.trainer.access)
        .json(&json!({"report_type": "trainer", "filters": {"trainer": e.trainer.id}}))
        .send()
        .await;
    r.assert_status(202);
    let failing = id_of(&r.json);
    report::Entity::update_many()
        .col_expr(
            report::Column::Filters,
            sea_orm::sea_query::Expr::value(json!({"trainer": w.other.trainer.id}).to_string()),
        )
        .filter(report::Column::Id.eq(failing))
        .exec(app.db())
        .await
        .unwrap();
    app.run_jobs().await;
    let r = get(&app, &e.trainer, &format!("{REPORTS}{failing}/")).await;
    assert_eq!(r.json["status"], "failed");
    assert!(r.json["error"].as_str().unwrap().contains("permission"));

    // Delete.
    app.delete(&detail)
        .bearer(&hod.access)
        .send()
        .await
        .assert_status(204);
    get(&app, hod, &detail).await.assert_status(404);
    get(&app, hod, &format!("{REPORTS}not-an-id/"))
        .await
        .assert_status(404);
});

db_test!(a_weekly_schedule_emails_its_pdf_once, |app| {
    let w = world(&app).await;
    let e = &w.e;
    let hod = &e.hod;

    // Who may schedule, and what.
    let body = json!({"report_type": "department", "filters": {"department": w.other.department},
                      "frequency": "weekly", "formats": ["pdf"], "channel": "both"});
    app.post(SCHEDULES)
        .bearer(&e.trainer.access)
        .json(&body)
        .send()
        .await
        .assert_status(403);
    app.post(SCHEDULES).send().await.assert_status(401);
    let r = app
        .post(SCHEDULES)
        .bearer(&hod.access)
        .json(&json!({"report_type": "school", "frequency": "weekly"}))
        .send()
        .await;
    r.assert_status(403);
    for bad in [
        json!({"report_type": "department", "frequency": "hourly"}),
        json!({"report_type": "department", "frequency": "weekly", "formats": ["doc"]}),
        json!({"report_type": "department", "frequency": "weekly", "formats": []}),
        json!({"report_type": "department", "frequency": "weekly", "channel": "sms"}),
        json!({"report_type": "department", "frequency": "weekly", "recipients": [Uuid::new_v4()]}),
        json!({"report_type": "department", "frequency": "weekly", "is_active": "maybe"}),
        json!({"report_type": "department"}),
    ] {
        let r = app
            .post(SCHEDULES)
            .bearer(&hod.access)
            .json(&bad)
            .send()
            .await;
        r.assert_status(400);
    }

    // A HOD's department schedule is held to their department.
    let r = app
        .post(SCHEDULES)
        .bearer(&hod.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    let id = id_of(&r.json);
    assert_eq!(r.json["filters"]["department"], e.department.to_string());
    assert_eq!(r.json["recipients"], json!([hod.id]));
    let next: DateTime<Utc> = r.json["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.weekday(), chrono::Weekday::Mon);
    assert_eq!((next.hour(), next.minute()), (7, 0));
    assert!(next > Utc::now() && next <= Utc::now() + Duration::days(7));
    // Read, update, list; another HOD does not see it.
    get(&app, hod, &format!("{SCHEDULES}{id}/"))
        .await
        .assert_status(200);
    get(&app, &w.other.hod, &format!("{SCHEDULES}{id}/"))
        .await
        .assert_status(404);
    assert_eq!(get(&app, hod, SCHEDULES).await.json["count"], 1);
    assert_eq!(get(&app, &w.other.hod, SCHEDULES).await.json["count"], 0);
    let r = app
        .patch(&format!("{SCHEDULES}{id}/"))
        .bearer(&hod.access)
        .json(&json!({"formats": ["pdf", "csv"]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["formats"], json!(["pdf", "csv"]));
    assert_eq!(
        r.json["next_run_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        next
    );

    // Two nodes mailing to one sink; the periodic kinds are registered first.
    let sink = kernel::testing::SmtpSink::start().await;
    let a =
        TestApp(kernel::testing::TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await);
    let b =
        TestApp(kernel::testing::TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await);
    a.run_jobs().await;
    // Not due yet: nothing sent.
    kernel::jobs::enqueue(app.db(), "roster.reports.scheduled", json!({}))
        .await
        .unwrap();
    a.run_jobs().await;
    assert!(sink.messages().is_empty());

    // A week on, both workers hold a run of the job at once.
    kernel::time::shifted(Duration::days(7) + Duration::hours(1), async {
        kernel::jobs::enqueue(app.db(), "roster.reports.scheduled", json!({}))
            .await
            .unwrap();
        kernel::jobs::enqueue(app.db(), "roster.reports.scheduled", json!({}))
            .await
            .unwrap();
        tokio::join!(a.run_jobs(), b.run_jobs());
    })
    .await;
    sink.wait_for(1, std::time::Duration::from_secs(10)).await;
    // (The in-app notification may also be emailed, per the HOD's
    // preferences: that message carries no file.)
    let with_files: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| m.contains("multipart/mixed"))
        .collect();
    assert_eq!(with_files.len(), 1, "sent once");
    let message = &with_files[0];
    assert!(message.contains(&hod.email), "{message}");
    assert!(message.contains("multipart/mixed"));
    let date = (Utc::now() + Duration::days(7) + Duration::hours(1)).date_naive();
    assert!(
        message.contains(&format!("department-attendance-{date}.pdf")),
        "{message}"
    );
    assert!(message.contains(&format!("department-attendance-{date}.csv")));
    let pdf = attachment(message, "application/pdf");
    let text = kernel::pdf::text_of(&pdf);
    assert!(
        text.starts_with("Department attendance report: Department ICT\n"),
        "{text}"
    );
    assert!(!text.contains("Department BUS"));
    // Notified in-app, and the next run is a week later.
    let notes = notification::Entity::find()
        .filter(notification::Column::UserId.eq(hod.id))
        .filter(notification::Column::NotificationType.eq("report"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(notes, 1);
    let row = report_schedule::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(row.last_run_at.is_some());
    assert_eq!(row.next_run_at.weekday(), chrono::Weekday::Mon);
    assert!(row.next_run_at > next + Duration::days(6));

    // The deputy principal reaches it; PUT needs the whole body.
    let dp = app.user("dp_academics").await;
    let path = format!("{SCHEDULES}{id}/");
    let r = app
        .put(&path)
        .bearer(&dp.access)
        .json(&json!({"report_type": "department"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["frequency"].is_array());
    app.put(&path)
        .bearer(&dp.access)
        .raw("application/json", "{")
        .send()
        .await
        .assert_status(400);
    let r = app
        .put(&path)
        .bearer(&dp.access)
        .json(&json!({"report_type": "school", "frequency": "monthly", "channel": "in_app"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["report_type"], "school");
    let monthly: DateTime<Utc> = r.json["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(monthly.day(), 1);
    app.patch(&path)
        .bearer(&e.trainer.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);

    // Delete.
    app.delete(&format!("{SCHEDULES}{id}/"))
        .bearer(&w.other.hod.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("{SCHEDULES}{id}/"))
        .bearer(&hod.access)
        .send()
        .await
        .assert_status(204);
});

/// The decoded body of the MIME part of `content_type` in `message`.
fn attachment(message: &str, content_type: &str) -> Vec<u8> {
    let message = message.replace("\r\n", "\n");
    let at = message
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"));
    let part = &message[at..];
    let body_start = part.find("\n\n").unwrap() + 2;
    let body = &part[body_start..];
    let end = body.find("\n--").unwrap_or(body.len());
    let encoded: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

db_test!(the_dashboard_follows_the_role, |app| {
    let w = world(&app).await;
    let e = &w.e;
    app.get(DASHBOARD).send().await.assert_status(401);

    let r = get(&app, &e.admin, DASHBOARD).await;
    r.assert_status(200);
    assert_eq!(r.json["scope"], "school");
    let t = &r.json["totals"];
    assert_eq!(t["departments"], 2);
    assert_eq!(t["class_groups"], 2);
    assert_eq!(t["trainees"], 3);
    assert_eq!(r.json["attendance_rate_7d"], 75.0);
    assert_eq!(r.json["attendance_rate_30d"], 75.0);
    let lowest = r.json["lowest_class_groups"].as_array().unwrap();
    assert_eq!(lowest[0]["name"], "CS-1A");
    assert_eq!(lowest[0]["attendance_rate"], 66.67);
    let missed = r.json["trainers_most_missed"].as_array().unwrap();
    assert_eq!(missed[0]["id"], e.trainer.id.to_string());
    assert_eq!(missed[0]["missed_sessions"], 1);

    let r = get(&app, &e.hod, DASHBOARD).await;
    assert_eq!(r.json["scope"], "department");
    assert_eq!(r.json["totals"]["class_groups"], 1);
    assert_eq!(r.json["totals"]["trainees"], 2);
    assert_eq!(r.json["totals"]["trainers"], 1);
    assert_eq!(r.json["attendance_rate_30d"], 66.67);

    // Trainer: today's sessions and rates per class group.
    session(
        &app,
        Session {
            enrollment: e.enrollment,
            course: e.course,
            class_group: e.class_group,
            term: e.year.terms[0],
            trainer: e.trainer.id,
            status: "scheduled",
            start: at(0, 12),
            delay: None,
        },
    )
    .await;
    let r = get(&app, &e.trainer, DASHBOARD).await;
    assert_eq!(r.json["role"], "trainer");
    let today_sessions = r.json["today_sessions"].as_array().unwrap();
    assert!(!today_sessions.is_empty());
    assert!(
        today_sessions
            .iter()
            .all(|s| s["trainer"] == e.trainer.id.to_string())
    );
    let groups = r.json["class_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["attendance_rate"], 66.67);

    // Trainee: rates per course and the next sessions.
    let r = get(&app, &e.trainees[1], DASHBOARD).await;
    assert_eq!(r.json["role"], "trainee");
    assert_eq!(r.json["courses"][0]["course_code"], "COMP101");
    assert_eq!(r.json["courses"][0]["attendance_rate"], 100.0);
    let next = r.json["next_sessions"].as_array().unwrap();
    assert!(!next.is_empty());
    assert!(
        next.iter()
            .all(|s| s["class_group"] == e.class_group.to_string())
    );
    let _ = w.s1;
});
