//! Timetable generation benchmark (contract §4, **Generation**): builds the
//! realistic term of the generation tests, scaled by SCALE, in a fresh
//! database through roster's own entities and migrations, then times
//! `POST /api/timetable-generation/generate/` on the real router, in
//! process (no network).
//!
//! One scale unit is 3 departments (4 trainers each, two of them with
//! availability holes), 12 class groups, 40 enrollments (1–3 sessions of
//! 60–120 minutes: 92 weekly sessions), 15 rooms of six types, a tea and a
//! lunch break and at most 4 sessions a day per class group; SCALE 10 is
//! 30 departments, 120 class groups, 400 enrollments and 150 rooms.
//!
//! ```sh
//! cargo run --release -p roster --example generation_bench -- sqlite 1 10
//! CAMPUS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p roster --example generation_bench -- postgres 1 10
//! ```
//! Arguments: BACKEND (`sqlite` or `postgres`), then the scales (default
//! `1 10`). Prints one JSON object per run: the size, the report's
//! `requested_sessions`, `placed_sessions`, `search_steps` and
//! `duration_ms` (load, search and write, measured by the server), and
//! `wall_ms` (the whole request).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::time::Instant;

use chrono::{Days, NaiveDate, Utc};
use kernel::testing::{TestApp, TestBackend};
use roster::Roster;
use roster::entities::{
    academic_year, availability, class_group, course, course_mapping, department, enrollment,
    programme, room, term, timetable_settings,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

#[allow(dead_code, reason = "each benchmark uses its own part")]
mod support;

use support::{admin, insert_all, person};

/// Courses of a department: (theory, practical, minutes); room types of
/// theory and practical sessions; how many of the courses each of the
/// department's four class groups takes.
type Plan = (
    &'static str,
    [(i32, i32, i32); 4],
    (&'static str, &'static str),
    [usize; 4],
);

const PLANS: [Plan; 3] = [
    (
        "ICT",
        [(2, 1, 60), (1, 1, 120), (2, 0, 90), (1, 1, 60)],
        ("classroom", "computer_lab"),
        [4, 4, 3, 3],
    ),
    (
        "MECH",
        [(1, 1, 120), (2, 1, 60), (2, 0, 60), (1, 1, 90)],
        ("classroom", "workshop"),
        [4, 4, 3, 3],
    ),
    (
        "BUS",
        [(2, 0, 60), (1, 1, 90), (2, 1, 60), (1, 0, 120)],
        ("lecture_hall", "computer_lab"),
        [3, 3, 3, 3],
    ),
];

const ROOMS: [(&str, &str, i32); 15] = [
    ("C1", "classroom", 30),
    ("C2", "classroom", 35),
    ("C3", "classroom", 40),
    ("C4", "classroom", 40),
    ("C5", "classroom", 45),
    ("C6", "classroom", 50),
    ("H1", "lecture_hall", 100),
    ("H2", "lecture_hall", 120),
    ("L1", "computer_lab", 30),
    ("L2", "computer_lab", 40),
    ("L3", "computer_lab", 40),
    ("W1", "workshop", 25),
    ("W2", "workshop", 30),
    ("S1", "lab", 30),
    ("R1", "seminar_room", 20),
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match args.first().map(String::as_str) {
        None | Some("sqlite") => TestBackend::Sqlite,
        Some("postgres") => TestBackend::Postgres,
        Some(other) => panic!("usage: generation_bench [sqlite|postgres] [SCALE...] (not {other})"),
    };
    let scales: Vec<u32> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|s| s.parse().expect("SCALE is a number"))
            .collect()
    } else {
        vec![1, 10]
    };
    for scale in scales {
        let app = TestApp::<Roster>::start(backend, &[("CAMPUS_THROTTLE_USER", "off")]).await;
        let (term, size) = build(app.db(), scale).await;
        let admin = admin(&app).await;
        let started = Instant::now();
        let r = app
            .post("/api/timetable-generation/generate/")
            .bearer(&admin)
            .json(&json!({"term_id": term, "seed": 42}))
            .send()
            .await;
        let wall_ms = started.elapsed().as_millis();
        assert!(
            r.status == 200 || r.status == 422,
            "{}: {}",
            r.status,
            r.json
        );
        let report = &r.json["report"];
        let line = json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "scale": scale,
            "class_groups": size.0, "enrollments": size.1, "rooms": size.2,
            "requested_sessions": report["requested_sessions"],
            "placed_sessions": report["placed_sessions"],
            "search_steps": report["search_steps"],
            "duration_ms": report["duration_ms"],
            "wall_ms": u64::try_from(wall_ms).unwrap_or(u64::MAX),
        });
        println!("{line}");
    }
}

/// The realistic term × `scale`; answers the term and (class groups,
/// enrollments, rooms).
async fn build(db: &DatabaseConnection, scale: u32) -> (Uuid, (usize, usize, usize)) {
    let now = Utc::now();
    let start = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
    let year = academic_year::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("2025/2026".into()),
        start_date: Set(start),
        end_date: Set(start + Days::new(364)),
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
        start_date: Set(start),
        end_date: Set(start + Days::new(95)),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    timetable_settings::ActiveModel {
        id: Set(Uuid::new_v4()),
        scope: Set(term.id.to_string()),
        term_id: Set(Some(term.id)),
        working_days: Set(
            json!(["monday", "tuesday", "wednesday", "thursday", "friday"]).to_string(),
        ),
        day_start: Set(8 * 60),
        day_end: Set(17 * 60),
        slot_minutes: Set(30),
        breaks: Set(json!([{"name": "Tea", "start": "10:00", "end": "10:30"},
                           {"name": "Lunch", "start": "12:30", "end": "13:30"}])
        .to_string()),
        max_sessions_per_day_per_class_group: Set(4),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let mut rooms = Vec::new();
    for copy in 0..scale {
        for (name, kind, capacity) in ROOMS {
            rooms.push(room::ActiveModel {
                id: Set(Uuid::new_v4()),
                name: Set(format!("{name}-{copy}")),
                code: Set(Some(format!("{name}-{copy}"))),
                room_type: Set(kind.into()),
                capacity: Set(capacity),
                building: Set(Some(format!("Block {copy}"))),
                floor: Set(None),
                department_id: Set(None),
                facilities: Set("[]".into()),
                latitude: Set(None),
                longitude: Set(None),
                geofence_radius_m: Set(50),
                is_virtual: Set(false),
                is_active: Set(true),
                max_sessions_per_day: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    let room_count = rooms.len();
    insert_all::<room::Entity, _>(db, rooms).await;
    let (mut groups, mut enrollments) = (0, 0);
    for copy in 0..scale {
        for (code, courses, (theory_type, practical_type), takes) in PLANS {
            let code = format!("{code}{copy}");
            let department = department::ActiveModel {
                id: Set(Uuid::new_v4()),
                name: Set(format!("Department {code}")),
                code: Set(code.clone()),
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
                name: Set(format!("Diploma {code}")),
                code: Set(format!("P-{code}")),
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
            let mut trainers = Vec::new();
            for _ in 0..4 {
                let email = format!("trainer-{}@example.org", Uuid::new_v4().simple());
                trainers.push(person(db, "trainer", &email, None).await);
            }
            // Holes: the first trainer Monday–Thursday around lunch, the
            // second Tuesday–Friday.
            let mut windows = Vec::new();
            for day in 0..4 {
                for (s, e) in [(480, 750), (810, 1020)] {
                    windows.push(window(trainers[0], None, day, s, e));
                }
                windows.push(window(trainers[1], Some(term.id), day + 1, 480, 1020));
            }
            insert_all::<availability::Entity, _>(db, windows).await;
            let mut course_rows = Vec::new();
            for (i, (theory, practical, minutes)) in courses.iter().enumerate() {
                let row = course::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    code: Set(format!("{code}-{}", 101 + i)),
                    name: Set(format!("Course {code}-{}", 101 + i)),
                    department_id: Set(department.id),
                    description: Set(None),
                    credit_hours: Set(3),
                    theory_sessions_per_week: Set(*theory),
                    practical_sessions_per_week: Set(*practical),
                    session_duration_minutes: Set(*minutes),
                    is_active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(db)
                .await
                .unwrap();
                course_mapping::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    programme_id: Set(programme.id),
                    course_id: Set(row.id),
                    year_of_study: Set(1),
                    term_number: Set(1),
                    is_core: Set(true),
                    theory_room_type: Set(Some(theory_type.into())),
                    practical_room_type: Set(Some(practical_type.into())),
                    created_at: Set(now),
                }
                .insert(db)
                .await
                .unwrap();
                course_rows.push(row.id);
            }
            let mut rows = Vec::new();
            for (g, count) in takes.iter().enumerate() {
                let group = class_group::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    name: Set(format!("{code}-1{}", ["A", "B", "C", "D"][g])),
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
                groups += 1;
                for (c, course) in course_rows.iter().take(*count).enumerate() {
                    rows.push(enrollment::ActiveModel {
                        id: Set(Uuid::new_v4()),
                        class_group_id: Set(group.id),
                        course_id: Set(*course),
                        academic_year_id: Set(year.id),
                        term_id: Set(term.id),
                        trainer_id: Set(Some(trainers[(g + c) % trainers.len()])),
                        status: Set("scheduled".into()),
                        notes: Set(None),
                        created_at: Set(now),
                        updated_at: Set(now),
                    });
                }
            }
            enrollments += rows.len();
            insert_all::<enrollment::Entity, _>(db, rows).await;
        }
    }
    (term.id, (groups, enrollments, room_count))
}

fn window(
    trainer: Uuid,
    term: Option<Uuid>,
    day: i32,
    start: i32,
    end: i32,
) -> availability::ActiveModel {
    availability::ActiveModel {
        id: Set(Uuid::new_v4()),
        trainer_id: Set(trainer),
        term_id: Set(term),
        day: Set(day),
        start_minute: Set(start),
        end_minute: Set(end),
        created_at: Set(Utc::now()),
    }
}
