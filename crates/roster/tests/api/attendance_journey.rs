//! The "done when" (contract §9, flows 3 and 4), as a new user walks
//! it: sessions appear from the published timetable; the trainer starts at
//! the room with a real photo of themselves (someone else's photo, a place
//! outside the geofence and a start outside the window are refused, each
//! with a clear message); trainees check in with their photos and locations
//! (on time, late, refused); the session ends, the absentee is marked and
//! told live and by email; feedback is summarised; the absentee's excuse is
//! reviewed; the HOD exports the class group's attendance as XLSX and PDF and
//! the numbers match the records.
//!
//! The school runs on UTC and the session is next Monday 10:00–11:00: each
//! step runs at its own school time through `kernel::time::shifted`.

use std::io::Cursor;
use std::time::Duration;

use calamine::{Reader, Xlsx};
use chrono::{DateTime, Datelike, TimeDelta, Utc};

use crate::common::*;
use crate::faces::photos;

const ROOM: (f64, f64) = (-1.2921, 36.8219);
/// About 1.1 km north of the room.
const FAR: (f64, f64) = (-1.2821, 36.8219);

/// Next Monday (never today) at `hh:mm` UTC.
fn next_monday_at(hh: u32, mm: u32) -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    let ahead = 7 - u64::from(today.weekday().num_days_from_monday());
    (today + chrono::Days::new(ahead))
        .and_hms_opt(hh, mm, 0)
        .unwrap()
        .and_utc()
}

/// A JSON body with a location and, when given, a photo as a data URL.
fn located(at: (f64, f64), photo: Option<&[u8]>) -> Value {
    use base64::Engine as _;
    let mut body = json!({"latitude": at.0, "longitude": at.1, "accuracy": 15});
    if let Some(bytes) = photo {
        body["image"] = json!(format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    body
}

impl TestApp {
    /// `POST path` as `who` at school time `at`.
    async fn post_at(
        &self,
        at: DateTime<Utc>,
        path: &str,
        who: &Actor,
        body: Value,
    ) -> kernel::testing::TestResponse {
        let request = self.post(path).bearer(&who.access).json(&body);
        kernel::time::shifted(at - Utc::now(), request.send()).await
    }

    async fn get_at(
        &self,
        at: DateTime<Utc>,
        path: &str,
        who: &Actor,
    ) -> kernel::testing::TestResponse {
        let request = self.get(path).bearer(&who.access);
        kernel::time::shifted(at - Utc::now(), request.send()).await
    }
}

db_test!(
    a_session_is_taken_from_the_timetable_to_the_hods_export,
    settings = crate::faces::face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let (mailer, sink) = mailing(&app).await;
        let monday = |hh: u32, mm: u32| next_monday_at(hh, mm);

        // Flow 1, in short: a department, its class group of three, a
        // course taught by a trainer in room B12.
        let admin = app.admin().await;
        let hod = app.user("hod").await;
        let trainer = app.user("trainer").await;
        let amina = app
            .user_named(
                "trainee",
                &format!("amina-{}@example.org", tag()),
                "Amina",
                "Otieno",
            )
            .await;
        let brian = app
            .user_named(
                "trainee",
                &format!("brian-{}@example.org", tag()),
                "Brian",
                "Kamau",
            )
            .await;
        let chloe = app
            .user_named(
                "trainee",
                &format!("chloe-{}@example.org", tag()),
                "Chloe",
                "Wanjiru",
            )
            .await;
        app.school(&admin).await;
        let department = app.department(&admin, "ICT", Some(&hod), &[&trainer]).await;
        let programme = app.programme(&admin, department, 2).await;
        let year = app.academic_year_with_terms(&admin).await;
        let class_group = app
            .class_group(
                &admin,
                "CS-1A",
                programme,
                year.id,
                &[&amina, &brian, &chloe],
            )
            .await;
        let course = app.course(&admin, "COMP101", department, 2, 1, 60).await;
        app.mapping(&admin, programme, course, 1).await;
        let enrollment = app
            .enrollment(
                &admin,
                class_group,
                course,
                &year,
                year.terms[0],
                Some(&trainer),
            )
            .await;
        let r = app
            .post("/api/rooms/")
            .bearer(&admin.access)
            .json(
                &json!({"name": "B12", "room_type": "classroom", "capacity": 40,
                          "latitude": ROOM.0, "longitude": ROOM.1, "geofence_radius_m": 100}),
            )
            .send()
            .await;
        r.assert_status(201);
        let room = id_of(&r.json);

        // Reference faces: the trainer is Obama; Amina Biden; Brian, for
        // want of more people in the fixtures, Obama again.
        for (who, photo) in [
            (&trainer, "obama.jpg"),
            (&amina, "biden.jpg"),
            (&brian, "obama2.jpg"),
        ] {
            app.face_upload("/api/users/me/face/", who, &photos.read(photo))
                .await
                .assert_status(201);
        }

        // Flow 2: Monday 10:00–11:00 in B12, published.
        let r = app
            .post("/api/timetable/")
            .bearer(&admin.access)
            .json(&json!({"enrollment": enrollment, "day_of_week": "monday",
                          "start_time": "10:00", "end_time": "11:00", "room": room,
                          "session_type": "theory"}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        let entry = id_of(&r.json);
        app.post(&format!("/api/timetable/{entry}/publish/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);

        // Flow 3. Sessions appear from the published timetable.
        let friday_before = monday(9, 0) - TimeDelta::days(3);
        let week = json!({"date_from": monday(0, 0).date_naive(),
                          "date_to": (monday(0, 0) + TimeDelta::days(6)).date_naive()});
        let r = app
            .post_at(
                friday_before,
                "/api/attendance/sessions/generate/",
                &hod,
                week.clone(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["created"], 1);
        let again = app
            .post_at(
                friday_before,
                "/api/attendance/sessions/generate/",
                &hod,
                week,
            )
            .await;
        assert_eq!(
            (again.json["created"].clone(), again.json["skipped"].clone()),
            (json!(0), json!(1))
        );
        let mine = app
            .get_at(friday_before, "/api/attendance/sessions/", &trainer)
            .await;
        mine.assert_status(200);
        assert_eq!(mine.json["count"], 1);
        let session = &mine.json["results"][0];
        assert_eq!(session["status"], "scheduled");
        assert_eq!(session["course_code"], "COMP101");
        assert_eq!(
            session["scheduled_start"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            monday(10, 0)
        );
        let id = id_of(session);
        let start = format!("/api/attendance/sessions/{id}/start/");
        let obama2 = photos.read("obama2.jpg");

        // The trainer's refused starts, each with a clear message.
        let early = app
            .post_at(
                monday(9, 30),
                &start,
                &trainer,
                located(ROOM, Some(&obama2)),
            )
            .await;
        early.assert_status(400);
        assert_eq!(early.json["code"], "outside_start_window");
        assert!(
            early.json["detail"].as_str().unwrap().contains("09:45"),
            "{}",
            early.json
        );
        let far = app
            .post_at(monday(9, 55), &start, &trainer, located(FAR, Some(&obama2)))
            .await;
        far.assert_status(400);
        assert_eq!(far.json["code"], "outside_geofence");
        assert!(
            far.json["distance_m"].as_f64().unwrap() > 1000.0,
            "{}",
            far.json
        );
        assert_eq!(far.json["radius_m"], 100);
        let someone_else = app
            .post_at(
                monday(9, 55),
                &start,
                &trainer,
                located(ROOM, Some(&photos.read("biden.jpg"))),
            )
            .await;
        someone_else.assert_status(400);
        assert_eq!(someone_else.json["code"], "face_mismatch");
        let not_theirs = app
            .post_at(monday(9, 55), &start, &admin, located(ROOM, Some(&obama2)))
            .await;
        not_theirs.assert_status(403);
        assert_eq!(
            not_theirs.json["detail"],
            "Only the assigned trainer can start this session."
        );
        let check_in = format!("/api/attendance/sessions/{id}/check-in/");
        let too_soon = app
            .post_at(
                monday(9, 56),
                &check_in,
                &amina,
                located(ROOM, Some(&photos.read("biden.jpg"))),
            )
            .await;
        too_soon.assert_status(400);
        assert_eq!(too_soon.json["code"], "session_not_active");

        // Chloe keeps the live stream open.
        let mut stream = app
            .get("/api/notifications/stream/")
            .bearer(&chloe.access)
            .stream()
            .await
            .into_body();

        // The start, with the trainer's own photo at the room.
        let started = app
            .post_at(
                monday(9, 58),
                &start,
                &trainer,
                located(ROOM, Some(&obama2)),
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.json);
        assert_eq!(started.json["status"], "active");
        assert_eq!(started.json["trainer_face_verified"], true);
        assert_eq!(started.json["counts"]["pending"], 3);

        // Check-ins: Amina on time; Brian first from outside the geofence,
        // then from the room, late.
        let amina_in = app
            .post_at(
                monday(10, 2),
                &check_in,
                &amina,
                located(ROOM, Some(&photos.read("biden.jpg"))),
            )
            .await;
        assert_eq!(amina_in.status, 200, "{}", amina_in.json);
        assert_eq!(amina_in.json["status"], "present");
        let twice = app
            .post_at(
                monday(10, 3),
                &check_in,
                &amina,
                located(ROOM, Some(&photos.read("biden.jpg"))),
            )
            .await;
        twice.assert_status(400);
        assert_eq!(twice.json["code"], "already_checked_in");
        let obama3 = photos.read("obama3.jpg");
        let brian_far = app
            .post_at(
                monday(10, 12),
                &check_in,
                &brian,
                located(FAR, Some(&obama3)),
            )
            .await;
        brian_far.assert_status(400);
        assert_eq!(brian_far.json["code"], "outside_geofence");
        let brian_in = app
            .post_at(
                monday(10, 14),
                &check_in,
                &brian,
                located(ROOM, Some(&obama3)),
            )
            .await;
        assert_eq!(brian_in.status, 200, "{}", brian_in.json);
        assert_eq!(brian_in.json["status"], "late");
        assert_eq!(brian_in.json["failed_attempts"], 1);

        // The end: not before 80 % of the slot, then with the trainer's photo.
        let end = format!("/api/attendance/sessions/{id}/end/");
        let too_early = app
            .post_at(monday(10, 30), &end, &trainer, located(ROOM, Some(&obama2)))
            .await;
        too_early.assert_status(400);
        assert_eq!(too_early.json["code"], "too_early_to_end");
        assert_eq!(
            too_early.json["detail"],
            "This session can be ended from 10:48."
        );
        let ended = app
            .post_at(monday(10, 55), &end, &trainer, located(ROOM, Some(&obama2)))
            .await;
        assert_eq!(ended.status, 200, "{}", ended.json);
        assert_eq!(ended.json["status"], "completed");
        assert_eq!(
            ended.json["summary"],
            json!({"present": 1, "late": 1, "absent": 1, "excused": 0})
        );

        // Chloe is told live, and by email.
        let seen =
            kernel::testing::read_until(&mut stream, "marked absent", Duration::from_secs(10))
                .await;
        assert!(seen.contains("COMP101"), "{seen}");
        kernel::time::shifted(monday(11, 0) - Utc::now(), mailer.run_jobs()).await;
        let told = |m: &String| m.contains(&chloe.email) && m.contains("absent");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !sink.messages().iter().any(told) {
            assert!(
                std::time::Instant::now() < deadline,
                "no absence email for Chloe in {:?}",
                sink.messages()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Feedback from those who came, summarised on the session.
        let feedback = format!("/api/attendance/sessions/{id}/feedback/");
        for (who, overall) in [(&amina, 5), (&brian, 4)] {
            let r = app
                .post_at(
                    monday(11, 10),
                    &feedback,
                    who,
                    json!({
                    "content_rating": 4, "delivery_rating": 5, "engagement_rating": 3,
                    "overall_rating": overall, "comment": "Clear examples."}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.json);
        }
        let chloe_feedback = app
            .post_at(monday(11, 10), &feedback, &chloe, json!({
                "content_rating": 1, "delivery_rating": 1, "engagement_rating": 1, "overall_rating": 1}))
            .await;
        chloe_feedback.assert_status(403);
        let summary = app.get_at(monday(11, 15), &feedback, &trainer).await;
        summary.assert_status(200);
        assert_eq!(summary.json["summary"]["count"], 2);
        assert_eq!(summary.json["summary"]["overall_avg"], 4.5);
        assert!(
            !summary.json.to_string().contains(&amina.id.to_string()),
            "feedback is anonymous"
        );
        let detail = app
            .get_at(
                monday(11, 15),
                &format!("/api/attendance/sessions/{id}/"),
                &hod,
            )
            .await;
        assert_eq!(detail.json["feedback_summary"]["delivery_avg"], 5.0);

        // Chloe's excuse, with a document, approved by the trainer.
        let records = app
            .get_at(
                monday(11, 20),
                &format!("/api/attendance/records/?session={id}"),
                &chloe,
            )
            .await;
        assert_eq!(records.json["count"], 1);
        let record = id_of(&records.json["results"][0]);
        assert_eq!(records.json["results"][0]["status"], "absent");
        assert_eq!(records.json["results"][0]["marked_by_system"], true);
        let note = kernel::pdf::Document::new("Medical note", kernel::pdf::Orientation::Portrait)
            .text("Chloe Wanjiru was unwell on Monday.");
        let form = kernel::testing::Multipart::new()
            .text("reason", "I was unwell; the clinic's note is attached.")
            .file(
                "document",
                "note.pdf",
                "application/pdf",
                &note.render("Clinic"),
            );
        let request = app
            .post(&format!("/api/attendance/records/{record}/excuse/"))
            .bearer(&chloe.access)
            .multipart(form);
        let excused = kernel::time::shifted(monday(12, 0) - Utc::now(), request.send()).await;
        assert_eq!(excused.status, 200, "{}", excused.json);
        assert_eq!(excused.json["excuse_status"], "pending");
        let reviewed = app
            .post_at(
                monday(13, 0),
                &format!("/api/attendance/records/{record}/excuse/review/"),
                &trainer,
                json!({"decision": "approve", "comment": "Get well soon."}),
            )
            .await;
        assert_eq!(reviewed.status, 200, "{}", reviewed.json);
        assert_eq!(reviewed.json["status"], "excused");

        // Flow 4: the HOD's export of the class group, as XLSX and PDF; the
        // numbers are the records'.
        let report =
            format!("/api/reports/attendance/trainees/?class_group={class_group}&course={course}");
        let json = app.get_at(monday(14, 0), &report, &hod).await;
        assert_eq!(json.status, 200, "{}", json.json);
        let rows = json.json["rows"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 3);
        let row_of = |name: &str| {
            rows.iter()
                .find(|r| r["trainee_name"].as_str().unwrap().contains(name))
                .unwrap()
                .clone()
        };
        for (name, present, late, absent, excused, rate) in [
            ("Amina", 1, 0, 0, 0, json!(100.0)),
            ("Brian", 0, 1, 0, 0, json!(100.0)),
            ("Chloe", 0, 0, 0, 1, Value::Null),
        ] {
            let row = row_of(name);
            assert_eq!(
                (
                    row["present"].clone(),
                    row["late"].clone(),
                    row["absent"].clone(),
                    row["excused"].clone(),
                    row["attendance_rate"].clone()
                ),
                (
                    json!(present),
                    json!(late),
                    json!(absent),
                    json!(excused),
                    rate
                ),
                "{name}: {row}"
            );
        }
        assert_eq!(row_of("Brian")["punctuality_rate"], 0.0);

        let xlsx = app
            .get_at(monday(14, 0), &format!("{report}&format=xlsx"), &hod)
            .await;
        xlsx.assert_status(200);
        assert!(
            xlsx.header("content-disposition")
                .unwrap()
                .contains(".xlsx")
        );
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.body.to_vec())).unwrap();
        let sheet = book.worksheet_range("Report").unwrap();
        let header: Vec<String> = sheet
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{name} in {header:?}"))
        };
        let amina_row = sheet
            .rows()
            .find(|r| r[col("trainee_name")].to_string().contains("Amina"))
            .unwrap();
        assert_eq!(amina_row[col("present")].to_string(), "1");
        assert_eq!(amina_row[col("attendance_rate")].to_string(), "100");
        let chloe_row = sheet
            .rows()
            .find(|r| r[col("trainee_name")].to_string().contains("Chloe"))
            .unwrap();
        assert_eq!(chloe_row[col("excused")].to_string(), "1");

        let pdf = app
            .get_at(monday(14, 0), &format!("{report}&format=pdf"), &hod)
            .await;
        pdf.assert_status(200);
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        let text = kernel::pdf::text_of(&pdf.body);
        for needle in [
            "Amina Otieno",
            "Brian Kamau",
            "Chloe Wanjiru",
            "COMP101",
            "CS-1A",
        ] {
            assert!(
                text.contains(needle),
                "{needle} missing from the PDF: {text}"
            );
        }
    }
);
