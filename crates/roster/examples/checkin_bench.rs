//! Check-in under load (contract §5, **Check-in**; issue 15): TRAINEES
//! trainees in SESSIONS class groups check in to SESSIONS sessions running at
//! once, their arrivals spread evenly over WINDOW seconds, on the real router
//! in process (no network), with face verification on (the real dlib
//! verifier and its pool of 2) or off.
//!
//! ```sh
//! cargo run --release -p roster --example checkin_bench -- sqlite on 500 20 120
//! cargo run --release -p roster --example checkin_bench -- sqlite off 500 20 120
//! ```
//! Arguments: BACKEND (`sqlite` or `postgres`), FACE (`on` or `off`),
//! TRAINEES (500), SESSIONS (20), WINDOW seconds (120). With FACE on,
//! `CAMPUS_FACE_MODELS_DIR` names the models and `CAMPUS_TEST_FACE_IMAGES`
//! the photos of PyPI `face_recognition` (obama.jpg is every trainee's
//! reference face, obama2.jpg the check-in photo; both fetched by `.ci/run`).
//! Prints one JSON object: check-ins accepted and refused, latency
//! percentiles in milliseconds, how long after the first arrival the last
//! check-in was answered, and the verifier pool's queueing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{Days, TimeDelta, Utc};
use kernel::testing::{TestApp, TestBackend};
use roster::Roster;
use roster::entities::{
    academic_year, attendance_session, class_group, class_group_trainee, course, department,
    enrollment, face, programme, room, school, term,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

#[allow(dead_code, reason = "each benchmark uses its own part")]
mod support;

use support::{admin, insert_all, person, sign_in};

const LATITUDE: f64 = -1.2921;
const LONGITUDE: f64 = 36.8219;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let backend = match arg(0, "sqlite").as_str() {
        "sqlite" => TestBackend::Sqlite,
        "postgres" => TestBackend::Postgres,
        other => panic!(
            "usage: checkin_bench [sqlite|postgres] [on|off] TRAINEES SESSIONS WINDOW (not {other})"
        ),
    };
    let face_on = arg(1, "on") == "on";
    let trainees: usize = arg(2, "500").parse().expect("TRAINEES is a number");
    let sessions: usize = arg(3, "20").parse().expect("SESSIONS is a number");
    let window = Duration::from_secs(arg(4, "120").parse().expect("WINDOW is seconds"));

    let models = std::env::var("CAMPUS_FACE_MODELS_DIR").unwrap_or_default();
    let app = TestApp::<Roster>::start(
        backend,
        &[
            ("CAMPUS_THROTTLE_USER", "off"),
            ("CAMPUS_FACE_MODELS_DIR", &models),
        ],
    )
    .await;
    let photos =
        std::path::PathBuf::from(std::env::var("CAMPUS_TEST_FACE_IMAGES").unwrap_or_default());
    let (reference, photo) = if face_on {
        assert!(
            app.state.faces.is_available(),
            "face verification needs CAMPUS_FACE_MODELS_DIR"
        );
        (
            std::fs::read(photos.join("obama.jpg")).expect("obama.jpg (CAMPUS_TEST_FACE_IMAGES)"),
            std::fs::read(photos.join("obama2.jpg")).expect("obama2.jpg"),
        )
    } else {
        (Vec::new(), Vec::new())
    };

    let admin = admin(&app).await;
    let r = app
        .patch("/api/attendance/settings/")
        .bearer(&admin)
        .json(&json!({
            "require_trainer_face": false,
            "require_trainee_face": face_on,
            "require_trainer_location": true,
            "require_trainee_location": true,
        }))
        .send()
        .await;
    assert_eq!(r.status, 200, "settings: {}", r.json);

    let hash = app.state.hasher.make(support::PASSWORD).await.unwrap();
    let seeded = seed(app.db(), &hash, trainees, sessions).await;
    if face_on {
        let encoded = app
            .state
            .faces
            .encode(reference.into())
            .await
            .expect("a face in obama.jpg");
        let now = Utc::now();
        let rows = seeded
            .trainees
            .iter()
            .map(|(id, _, _)| face::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(*id),
                encoding: Set(encoded.encoding.to_text()),
                image_name: Set("bench-reference.jpg".into()),
                image_type: Set("image/jpeg".into()),
                box_left: Set(0),
                box_top: Set(0),
                box_right: Set(1),
                box_bottom: Set(1),
                registered_at: Set(now),
            })
            .collect();
        insert_all::<face::Entity, _>(app.db(), rows).await;
    }

    // Every trainer starts their session at the room.
    for (trainer, session) in &seeded.sessions {
        let token = sign_in(&app, trainer).await;
        let r = app
            .post(&format!("/api/attendance/sessions/{session}/start/"))
            .bearer(&token)
            .json(&json!({"latitude": LATITUDE, "longitude": LONGITUDE, "accuracy": 10}))
            .send()
            .await;
        assert_eq!(r.status, 200, "start: {}", r.json);
    }
    let mut tokens = Vec::with_capacity(seeded.trainees.len());
    for (_, email, session) in &seeded.trainees {
        tokens.push((sign_in(&app, email).await, *session));
    }

    let image = face_on.then(|| {
        format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&photo)
        )
    });
    let app = Arc::new(app);
    let gap = window / u32::try_from(tokens.len().max(1)).unwrap();
    let first = Instant::now();
    let mut tasks = Vec::with_capacity(tokens.len());
    for (i, (token, session)) in tokens.into_iter().enumerate() {
        let app = app.clone();
        let image = image.clone();
        let due = first + gap * u32::try_from(i).unwrap();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            let mut body =
                json!({"latitude": LATITUDE + 0.0001, "longitude": LONGITUDE, "accuracy": 12});
            if let Some(image) = image {
                body["image"] = json!(image);
            }
            let sent = Instant::now();
            let r = app
                .post(&format!("/api/attendance/sessions/{session}/check-in/"))
                .bearer(&token)
                .json(&body)
                .send()
                .await;
            (r.status, sent.elapsed(), first.elapsed(), r.json)
        }));
    }
    let mut latencies = Vec::new();
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    let mut last_answer = Duration::ZERO;
    for task in tasks {
        let (status, latency, answered, body) = task.await.unwrap();
        last_answer = last_answer.max(answered);
        if status == 200 {
            latencies.push(latency);
        } else {
            let code = body["code"].as_str().unwrap_or("field_error").to_owned();
            *refused.entry(format!("{status} {code}")).or_default() += 1;
        }
    }
    latencies.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .map(ms)
    };
    let queue = app.state.faces.queue_stats();
    let line = json!({
        "backend": format!("{backend:?}").to_lowercase(),
        "face": face_on,
        "trainees": seeded.trainees.len(),
        "sessions": seeded.sessions.len(),
        "window_s": window.as_secs(),
        "accepted": latencies.len(),
        "refused": refused,
        "latency_ms": {
            "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
            "max": latencies.last().copied().map(ms),
        },
        "last_answer_s": (last_answer.as_secs_f64() * 10.0).round() / 10.0,
        "verifier_queue": {
            "encodings": queue.encodings,
            "avg_wait_ms": if queue.encodings > 0 { (queue.waited_micros as f64 / queue.encodings as f64 / 100.0).round() / 10.0 } else { 0.0 },
            "longest_wait_ms": (queue.longest_wait_micros as f64 / 100.0).round() / 10.0,
        },
    });
    println!("{line}");
}

/// What [`seed`] made: (trainer email, session) and (trainee id, email,
/// session) pairs.
struct Seeded {
    sessions: Vec<(String, Uuid)>,
    trainees: Vec<(Uuid, String, Uuid)>,
}

/// A school at the bench's coordinates, one department and programme, the
/// current year and term, one course, and per session a class group with
/// its share of the trainees, a trainer, a room at the school and a
/// session scheduled from a minute ago to an hour from now.
async fn seed(db: &DatabaseConnection, hash: &str, trainees: usize, sessions: usize) -> Seeded {
    let now = Utc::now();
    let today = now.date_naive();
    school::ActiveModel {
        id: Set(Uuid::new_v4()),
        singleton: Set(1),
        name: Set("Bench Technical Institute".into()),
        code: Set(Some("BTI".into())),
        description: Set(None),
        address: Set(None),
        phone: Set(None),
        email: Set(None),
        website: Set(None),
        logo: Set(None),
        latitude: Set(Some(LATITUDE)),
        longitude: Set(Some(LONGITUDE)),
        geofence_radius_m: Set(200),
        timezone: Set("UTC".into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let year = academic_year::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Bench year".into()),
        start_date: Set(today - Days::new(30)),
        end_date: Set(today + Days::new(300)),
        is_active: Set(true),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let term = term::ActiveModel {
        id: Set(Uuid::new_v4()),
        academic_year_id: Set(year.id),
        name: Set("Term 1".into()),
        number: Set(1),
        start_date: Set(today - Days::new(30)),
        end_date: Set(today + Days::new(60)),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let department = department::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Department of Computing".into()),
        code: Set("ICT".into()),
        description: Set(None),
        hod_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let programme = programme::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Diploma in ICT".into()),
        code: Set("DICT".into()),
        department_id: Set(department.id),
        level: Set("diploma".into()),
        duration_years: Set(2),
        description: Set(None),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let course = course::ActiveModel {
        id: Set(Uuid::new_v4()),
        code: Set("COMP101".into()),
        name: Set("Introduction to Computing".into()),
        department_id: Set(department.id),
        description: Set(None),
        credit_hours: Set(3),
        theory_sessions_per_week: Set(2),
        practical_sessions_per_week: Set(1),
        session_duration_minutes: Set(60),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let mut out = Seeded {
        sessions: Vec::new(),
        trainees: Vec::new(),
    };
    for s in 0..sessions {
        let email = format!("trainer-{s}-{}@example.org", Uuid::new_v4().simple());
        let trainer = person(db, "trainer", &email, Some(hash.to_owned())).await;
        let group = class_group::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(format!("ICT-{s}")),
            programme_id: Set(programme.id),
            academic_year_id: Set(year.id),
            year_of_study: Set(1),
            capacity: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        let room = room::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(format!("Room {s}")),
            code: Set(Some(format!("R{s}"))),
            room_type: Set("classroom".into()),
            capacity: Set(40),
            building: Set(None),
            floor: Set(None),
            department_id: Set(None),
            facilities: Set("[]".into()),
            latitude: Set(Some(LATITUDE)),
            longitude: Set(Some(LONGITUDE)),
            geofence_radius_m: Set(100),
            is_virtual: Set(false),
            is_active: Set(true),
            max_sessions_per_day: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        let enrollment = enrollment::ActiveModel {
            id: Set(Uuid::new_v4()),
            class_group_id: Set(group.id),
            course_id: Set(course.id),
            academic_year_id: Set(year.id),
            term_id: Set(term.id),
            trainer_id: Set(Some(trainer)),
            status: Set("scheduled".into()),
            notes: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        let session = attendance_session::ActiveModel {
            id: Set(Uuid::new_v4()),
            timetable_entry_id: Set(None),
            enrollment_id: Set(enrollment.id),
            course_id: Set(course.id),
            class_group_id: Set(group.id),
            term_id: Set(term.id),
            trainer_id: Set(Some(trainer)),
            active_trainer_id: Set(None),
            room_id: Set(Some(room.id)),
            scheduled_start: Set(now - TimeDelta::minutes(1)),
            scheduled_end: Set(now + TimeDelta::minutes(60)),
            status: Set("scheduled".into()),
            started_at: Set(None),
            ended_at: Set(None),
            start_latitude: Set(None),
            start_longitude: Set(None),
            start_distance_m: Set(None),
            start_face_distance: Set(None),
            trainer_face_verified: Set(false),
            end_latitude: Set(None),
            end_longitude: Set(None),
            end_distance_m: Set(None),
            is_makeup: Set(false),
            makeup_for_id: Set(None),
            cancel_reason: Set(None),
            auto_closed: Set(false),
            notes: Set(None),
            feedback_count: Set(0),
            content_avg: Set(None),
            delivery_avg: Set(None),
            engagement_avg: Set(None),
            overall_avg: Set(None),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        out.sessions.push((email, session.id));
        let share = trainees / sessions + usize::from(s < trainees % sessions);
        let mut members = Vec::new();
        for _ in 0..share {
            let email = format!("trainee-{}@example.org", Uuid::new_v4().simple());
            let id = person(db, "trainee", &email, Some(hash.to_owned())).await;
            members.push(class_group_trainee::ActiveModel {
                id: Set(Uuid::new_v4()),
                class_group_id: Set(group.id),
                trainee_id: Set(id),
                academic_year_id: Set(year.id),
                created_at: Set(now),
            });
            out.trainees.push((id, email, session.id));
        }
        insert_all::<class_group_trainee::Entity, _>(db, members).await;
    }
    out
}
