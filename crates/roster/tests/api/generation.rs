//! Automatic timetable generation (contract §4, **Generation**): a
//! realistic term placed whole with zero conflicts, the same seed giving the
//! same timetable, impossible demand reported with reasons, the job-queue
//! path with `task_status`, and who may generate what.

use std::collections::{BTreeSet, HashMap};

use roster::entities::{draft_version, timetable_entry};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;

/// A department's code, its courses (theory, practical, minutes each), the
/// room types of theory and practical sessions, and class groups per course.
type DepartmentPlan = (
    &'static str,
    [(i64, i64, i64); 4],
    (&'static str, &'static str),
    [usize; 4],
);

const GENERATE: &str = "/api/timetable-generation/generate/";
const STATUS: &str = "/api/timetable-generation/task_status/";

async fn created(app: &TestApp, who: &Actor, path: &str, body: Value) -> Value {
    let r = app.post(path).bearer(&who.access).json(&body).send().await;
    assert_eq!(r.status, 201, "POST {path} {body}: {}", r.json);
    r.json
}

/// `POST /api/programme-course-mappings/` with the given room types.
async fn mapping_with(
    app: &TestApp,
    admin: &Actor,
    programme: Uuid,
    course: Uuid,
    theory: &str,
    practical: &str,
) {
    created(
        app,
        admin,
        "/api/programme-course-mappings/",
        json!({
            "programme": programme, "course": course, "year_of_study": 1, "term_number": 1,
            "theory_room_type": theory, "practical_room_type": practical,
        }),
    )
    .await;
}

async fn room(app: &TestApp, admin: &Actor, name: &str, kind: &str, capacity: i64) -> Uuid {
    id_of(&created(app, admin, "/api/rooms/", json!({
        "name": name, "code": name, "room_type": kind, "capacity": capacity, "building": "Main",
        "latitude": -1.2921, "longitude": 36.8219,
    }))
    .await)
}

/// A generated entry as stored, for the invariants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Placed {
    enrollment: Uuid,
    session_type: String,
    day: i32,
    start: i32,
    end: i32,
    room: Uuid,
}

async fn entries_of(app: &TestApp, version: &str) -> Vec<timetable_entry::Model> {
    timetable_entry::Entity::find()
        .filter(timetable_entry::Column::DraftVersion.eq(version))
        .all(app.db())
        .await
        .unwrap()
}

fn placement(entries: &[timetable_entry::Model]) -> BTreeSet<Placed> {
    entries
        .iter()
        .map(|e| Placed {
            enrollment: e.enrollment_id,
            session_type: e.session_type.clone(),
            day: e.day,
            start: e.start_minute,
            end: e.end_minute,
            room: e.room_id,
        })
        .collect()
}

async fn versions(app: &TestApp) -> usize {
    draft_version::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

async fn audit_rows(app: &TestApp) -> i64 {
    app.row_counts()
        .await
        .get("campus_audit_log")
        .copied()
        .unwrap_or(0)
}

/// The realistic term: 3 departments (a HOD and 4 trainers each), 12 class
/// groups, 40 enrollments of 1–3 sessions of 60–120 minutes, 15 rooms of
/// six types, two breaks, a daily limit of 4, trainers with availability
/// holes (mornings and afternoons around lunch, no Fridays, or Tuesday to
/// Friday only).
struct Term {
    admin: Actor,
    term: Uuid,
    /// (department, its HOD, its trainers).
    departments: Vec<(Uuid, Actor, Vec<Actor>)>,
    /// Enrollment → (class group, trainer, theory, practical, minutes).
    enrollments: HashMap<Uuid, (Uuid, Uuid, i64, i64, i64)>,
    /// Trainer → (weekday, start, end) windows.
    windows: HashMap<Uuid, Vec<(i32, i32, i32)>>,
    /// (name, start, end) of the breaks.
    breaks: Vec<(i32, i32)>,
    demand: usize,
}

async fn realistic_term(app: &TestApp) -> Term {
    let admin = app.admin().await;
    app.school(&admin).await;
    let year = app.academic_year_with_terms(&admin).await;
    let term = year.terms[0];
    // Rooms: 15 of six types.
    for (name, kind, capacity) in [
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
    ] {
        room(app, &admin, name, kind, capacity).await;
    }
    // Settings: Monday–Friday 08:00–17:00, tea and lunch, 4 a day per group.
    created(
        app,
        &admin,
        "/api/timetable-settings/",
        json!({
            "term": term, "working_days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "day_start": "08:00", "day_end": "17:00", "slot_minutes": 30,
            "breaks": [{"name": "Tea", "start": "10:00", "end": "10:30"},
                       {"name": "Lunch", "start": "12:30", "end": "13:30"}],
            "max_sessions_per_day_per_class_group": 4,
        }),
    )
    .await;
    let breaks = vec![(600, 630), (750, 810)];

    // Courses per department: (theory, practical, minutes); the room types
    // of theory and practical sessions.
    let plans: [DepartmentPlan; 3] = [
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
    let mut departments = Vec::new();
    let mut enrollments = HashMap::new();
    let mut windows: HashMap<Uuid, Vec<(i32, i32, i32)>> = HashMap::new();
    let mut demand = 0;
    for (code, courses, (theory_type, practical_type), takes) in plans {
        let hod = app.user("hod").await;
        let mut trainers = Vec::new();
        for _ in 0..4 {
            trainers.push(app.user("trainer").await);
        }
        let refs: Vec<&Actor> = trainers.iter().collect();
        let department = app.department(&admin, code, Some(&hod), &refs).await;
        let programme = app.programme(&admin, department, 2).await;
        let mut course_ids = Vec::new();
        for (i, (theory, practical, minutes)) in courses.iter().enumerate() {
            let course = app
                .course(
                    &admin,
                    &format!("{code}{}", 101 + i),
                    department,
                    *theory,
                    *practical,
                    *minutes,
                )
                .await;
            mapping_with(app, &admin, programme, course, theory_type, practical_type).await;
            course_ids.push((course, *theory, *practical, *minutes));
        }
        for (g, count) in takes.iter().enumerate() {
            let group = app
                .class_group(
                    &admin,
                    &format!("{code}-1{}", ["A", "B", "C", "D"][g]),
                    programme,
                    year.id,
                    &[],
                )
                .await;
            for (c, (course, theory, practical, minutes)) in
                course_ids.iter().take(*count).enumerate()
            {
                let trainer = &trainers[(g + c) % trainers.len()];
                let id = app
                    .enrollment(&admin, group, *course, &year, term, Some(trainer))
                    .await;
                enrollments.insert(id, (group, trainer.id, *theory, *practical, *minutes));
                demand += usize::try_from(theory + practical).unwrap();
            }
        }
        // Holes: the first trainer teaches Monday–Thursday around lunch
        // (windows for every term); the second Tuesday–Friday (this term).
        for day in ["monday", "tuesday", "wednesday", "thursday"] {
            for (start, end) in [("08:00", "12:30"), ("13:30", "17:00")] {
                created(
                    app,
                    &trainers[0],
                    "/api/trainer-availability/",
                    json!({
                        "day_of_week": day, "start_time": start, "end_time": end,
                    }),
                )
                .await;
            }
        }
        let first: Vec<(i32, i32, i32)> = (0..4)
            .flat_map(|d| [(d, 480, 750), (d, 810, 1020)])
            .collect();
        windows.insert(trainers[0].id, first);
        for day in ["tuesday", "wednesday", "thursday", "friday"] {
            created(
                app,
                &admin,
                "/api/trainer-availability/",
                json!({
                    "trainer": trainers[1].id, "term": term, "day_of_week": day,
                    "start_time": "08:00", "end_time": "17:00",
                }),
            )
            .await;
        }
        windows.insert(trainers[1].id, (1..5).map(|d| (d, 480, 1020)).collect());
        departments.push((department, hod, trainers));
    }
    assert_eq!(enrollments.len(), 40);
    Term {
        admin,
        term,
        departments,
        enrollments,
        windows,
        breaks,
        demand,
    }
}

/// Every hard rule the test can see for itself, over the stored entries.
fn assert_valid(world: &Term, entries: &[timetable_entry::Model]) {
    let mut per_day_group: HashMap<(Uuid, i32), usize> = HashMap::new();
    for (i, a) in entries.iter().enumerate() {
        let (group, trainer, ..) = world.enrollments[&a.enrollment_id];
        assert!(a.is_draft && a.is_recurring, "{a:?}");
        assert!((0..5).contains(&a.day), "{a:?}");
        assert!(a.start_minute >= 480 && a.end_minute <= 1020, "{a:?}");
        assert_eq!((a.start_minute - 480) % 30, 0, "off the grid: {a:?}");
        for (s, e) in &world.breaks {
            assert!(!(a.start_minute < *e && *s < a.end_minute), "break: {a:?}");
        }
        if let Some(w) = world.windows.get(&trainer) {
            assert!(
                w.iter()
                    .any(|(d, s, e)| *d == a.day && *s <= a.start_minute && a.end_minute <= *e),
                "trainer unavailable: {a:?}"
            );
        }
        *per_day_group.entry((group, a.day)).or_default() += 1;
        for b in &entries[i + 1..] {
            if a.day != b.day || !(a.start_minute < b.end_minute && b.start_minute < a.end_minute) {
                continue;
            }
            let (other_group, other_trainer, ..) = world.enrollments[&b.enrollment_id];
            assert_ne!(a.room_id, b.room_id, "room clash {a:?} {b:?}");
            assert_ne!(trainer, other_trainer, "trainer clash {a:?} {b:?}");
            assert_ne!(group, other_group, "class group clash {a:?} {b:?}");
        }
    }
    assert!(
        per_day_group.values().all(|n| *n <= 4),
        "daily limit: {per_day_group:?}"
    );
    // The demand, exactly: each enrollment's theory and practical sessions.
    for (id, (_, _, theory, practical, minutes)) in &world.enrollments {
        let mine: Vec<_> = entries.iter().filter(|e| e.enrollment_id == *id).collect();
        let count = |t: &str| mine.iter().filter(|e| e.session_type == t).count();
        assert_eq!(count("theory"), usize::try_from(*theory).unwrap(), "{id}");
        assert_eq!(
            count("practical"),
            usize::try_from(*practical).unwrap(),
            "{id}"
        );
        assert!(
            mine.iter()
                .all(|e| i64::from(e.end_minute - e.start_minute) == *minutes)
        );
    }
}

db_test!(
    a_realistic_term_is_placed_whole_with_zero_conflicts,
    |app| {
        let world = realistic_term(&app).await;
        let admin = &world.admin;
        let audits = audit_rows(&app).await;
        let r = app
            .post(GENERATE)
            .bearer(&admin.access)
            .json(&json!({"term_id": world.term, "seed": 42}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["success"], true);
        let report = &r.json["report"];
        assert_eq!(report["unplaced"], json!([]));
        assert_eq!(report["requested_sessions"], world.demand);
        assert_eq!(report["placed_sessions"], world.demand);
        assert_eq!(report["created_count"], world.demand);
        assert_eq!(report["term"], world.term.to_string());
        assert_eq!(report["seed"], "42");
        assert!(report["duration_ms"].is_u64());
        assert!(report["search_steps"].as_u64().unwrap() >= u64::try_from(world.demand).unwrap());
        let version = report["draft_version"].as_str().unwrap().to_owned();
        assert!(
            version.starts_with("T1-")
                && version.len() == 17
                && version[3..].chars().all(|c| c.is_ascii_digit()),
            "{version}"
        );
        // One audit row for the whole draft.
        assert_eq!(audit_rows(&app).await, audits + 1);
        let entries = entries_of(&app, &version).await;
        assert_eq!(entries.len(), world.demand);
        assert_valid(&world, &entries);

        // The same seed gives the same timetable; create_entries:false writes nothing.
        let again = app
            .post(GENERATE)
            .bearer(&admin.access)
            .json(&json!({"term_id": world.term, "seed": 42}))
            .send()
            .await;
        assert_eq!(again.status, 200, "{}", again.json);
        let second = again.json["report"]["draft_version"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(second, version);
        assert_eq!(
            placement(&entries_of(&app, &second).await),
            placement(&entries)
        );
        let before = versions(&app).await;
        let dry = app
            .post(GENERATE)
            .bearer(&admin.access)
            .json(&json!({"term_id": world.term, "seed": 42, "create_entries": false}))
            .send()
            .await;
        assert_eq!(dry.status, 200, "{}", dry.json);
        assert_eq!(dry.json["report"]["placed_sessions"], world.demand);
        assert_eq!(dry.json["report"]["created_count"], 0);
        assert_eq!(dry.json["report"]["draft_version"], Value::Null);
        assert_eq!(versions(&app).await, before);

        // Nothing was published; the engine re-checks every entry on publishing.
        let published: usize = timetable_entry::Entity::find()
            .filter(timetable_entry::Column::IsDraft.eq(false))
            .all(app.db())
            .await
            .unwrap()
            .len();
        assert_eq!(published, 0);
        let r = app
            .post("/api/timetable/publish_draft/")
            .bearer(&admin.access)
            .json(&json!({"draft_version": version}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["published_count"], world.demand);
        // Published, each entry passes the conflict check against all the others.
        const DAYS: [&str; 5] = ["monday", "tuesday", "wednesday", "thursday", "friday"];
        for e in entries_of(&app, &version).await {
            let day = DAYS[usize::try_from(e.day).unwrap()];
            let r = app
                .post("/api/timetable/conflicts/")
                .bearer(&admin.access)
                .json(&json!({
                    "id": e.id, "enrollment": e.enrollment_id,
                    "day_of_week": day,
                    "start_time": format!("{:02}:{:02}", e.start_minute / 60, e.start_minute % 60),
                    "end_time": format!("{:02}:{:02}", e.end_minute / 60, e.end_minute % 60),
                    "room": e.room_id, "session_type": e.session_type,
                }))
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(r.json["has_conflicts"], false, "{e:?}: {}", r.json);
        }

        // A HOD generates their own department only.
        let (department, hod, _) = &world.departments[1];
        let r = app
            .post(GENERATE)
            .bearer(&hod.access)
            .json(&json!({"term_id": world.term, "seed": 1}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let own = entries_of(&app, r.json["report"]["draft_version"].as_str().unwrap()).await;
        // MECH's four class groups: 9 + 9 + 7 + 7 sessions, all its own.
        assert_eq!(r.json["report"]["requested_sessions"], 32);
        assert_eq!(own.len(), 32);
        assert!(own.iter().all(|e| {
            let (_, trainer, ..) = world.enrollments[&e.enrollment_id];
            world.departments[1].2.iter().any(|t| t.id == trainer)
        }));
        let r = app
            .post(GENERATE)
            .bearer(&hod.access)
            .json(&json!({"term_id": world.term, "department_ids": [world.departments[0].0]}))
            .send()
            .await;
        r.assert_status(403);
        let r = app
            .post(GENERATE)
            .bearer(&hod.access)
            .json(&json!({"term_id": world.term, "department_ids": [department]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
);

/// The chain of `TestApp::enrolled` plus a classroom: COMP101 (2 theory +
/// 1 practical of 60 minutes, practicals in a computer lab).
async fn small(app: &TestApp) -> Enrolled {
    let world = app.enrolled().await;
    room(app, &world.admin, "B12", "classroom", 40).await;
    world
}

db_test!(
    impossible_demand_is_reported_with_reasons_and_the_rest_kept,
    |app| {
        let world = small(&app).await;
        let term = world.year.terms[0];
        // The trainer can teach one hour a week; no computer lab exists.
        created(
            &app,
            &world.trainer,
            "/api/trainer-availability/",
            json!({
                "day_of_week": "monday", "start_time": "08:00", "end_time": "09:00",
            }),
        )
        .await;
        let r = app
            .post(GENERATE)
            .bearer(&world.admin.access)
            .json(&json!({"term_id": term, "seed": 5}))
            .send()
            .await;
        assert_eq!(r.status, 422, "{}", r.json);
        assert_eq!(r.json["success"], false);
        let report = &r.json["report"];
        assert_eq!(report["requested_sessions"], 3);
        assert_eq!(report["placed_sessions"], 1);
        assert_eq!(report["created_count"], 1);
        let unplaced = report["unplaced"].as_array().unwrap();
        assert_eq!(unplaced.len(), 2, "{unplaced:?}");
        for u in unplaced {
            assert_eq!(u["enrollment"], world.enrollment.to_string());
            assert_eq!(u["course_code"], "COMP101");
            assert_eq!(u["class_group"], "CS-1A");
        }
        let practical = unplaced
            .iter()
            .find(|u| u["session_type"] == "practical")
            .unwrap();
        assert_eq!(
            practical["reason"],
            "No active room of type computer_lab with capacity ≥ 2 exists."
        );
        let theory = unplaced
            .iter()
            .find(|u| u["session_type"] == "theory")
            .unwrap();
        let reason = theory["reason"].as_str().unwrap();
        assert!(
            reason.contains("already booked at every time they are available"),
            "{reason}"
        );
        // The placed one is kept in the draft, Monday 08:00 in B12.
        let version = report["draft_version"].as_str().unwrap();
        let entries = entries_of(&app, version).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (
                entries[0].day,
                entries[0].start_minute,
                entries[0].end_minute
            ),
            (0, 480, 540)
        );
        assert!(entries[0].is_draft);
    }
);

db_test!(asynchronous_generation_reports_through_task_status, |app| {
    let world = small(&app).await;
    room(&app, &world.admin, "LAB1", "computer_lab", 30).await;
    let term = world.year.terms[0];
    let audits = audit_rows(&app).await;
    let r = app
        .post(&format!("{GENERATE}?async=true"))
        .bearer(&world.hod.access)
        .json(&json!({"term_id": term, "seed": 9}))
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let task = r.json["task_id"].as_str().unwrap().to_owned();
    assert!(r.json["detail"].is_string());
    assert_eq!(audit_rows(&app).await, audits + 1);
    let status = app
        .get(&format!("{STATUS}?task_id={task}"))
        .bearer(&world.hod.access)
        .send()
        .await;
    status.assert_status(200);
    assert_eq!(status.json["state"], "PENDING");
    assert_eq!(status.json["progress_percentage"], 0);
    assert_eq!(versions(&app).await, 0);

    assert!(app.run_jobs().await >= 1);
    let status = app
        .get(&format!("{STATUS}?task_id={task}"))
        .bearer(&world.hod.access)
        .send()
        .await;
    status.assert_status(200);
    assert_eq!(status.json["state"], "SUCCESS", "{}", status.json);
    assert_eq!(status.json["progress_percentage"], 100);
    assert_eq!(status.json["success"], true);
    assert_eq!(status.json["placed_sessions"], 3);
    assert_eq!(status.json["unplaced"], json!([]));
    let version = status.json["draft_version"].as_str().unwrap();
    assert_eq!(entries_of(&app, version).await.len(), 3);
    assert_eq!(audit_rows(&app).await, audits + 2);
    // Running the queue again changes nothing.
    app.run_jobs().await;
    assert_eq!(versions(&app).await, 1);
    // Hyphenated alias; the admin sees every task.
    let alias = app
        .get(&format!(
            "/api/timetable-generation/task-status/?task_id={task}"
        ))
        .bearer(&world.admin.access)
        .send()
        .await;
    alias.assert_status(200);
    assert_eq!(alias.json["state"], "SUCCESS");

    // Another HOD does not see it; trainers may not ask; bad ids.
    let other = app.user("hod").await;
    app.department(&world.admin, "MECH", Some(&other), &[])
        .await;
    app.get(&format!("{STATUS}?task_id={task}"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{STATUS}?task_id={task}"))
        .bearer(&world.trainer.access)
        .send()
        .await
        .assert_status(403);
    app.get(&format!("{STATUS}?task_id={task}"))
        .send()
        .await
        .assert_status(401);
    let missing = app.get(STATUS).bearer(&world.admin.access).send().await;
    missing.assert_status(400);
    assert_eq!(missing.json["task_id"], json!(["This field is required."]));
    app.get(&format!("{STATUS}?task_id=nope"))
        .bearer(&world.admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("{STATUS}?task_id={}", Uuid::new_v4()))
        .bearer(&world.admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(who_may_generate_and_bad_input, |app| {
    let world = small(&app).await;
    let term = world.year.terms[0];
    let admin = &world.admin;
    let post = |who: Option<&Actor>, body: Value| {
        let mut r = app.post(GENERATE).json(&body);
        if let Some(who) = who {
            r = r.bearer(&who.access);
        }
        r.send()
    };
    post(None, json!({"term_id": term}))
        .await
        .assert_status(401);
    post(Some(&world.trainer), json!({"term_id": term}))
        .await
        .assert_status(403);
    post(Some(&world.trainees[0]), json!({"term_id": term}))
        .await
        .assert_status(403);

    let r = post(Some(admin), json!({})).await;
    r.assert_status(400);
    assert_eq!(r.json["term_id"], json!(["This field is required."]));
    let unknown = Uuid::new_v4();
    let r = post(Some(admin), json!({"term_id": unknown})).await;
    r.assert_status(400);
    assert_eq!(
        r.json["term_id"],
        json!([format!("Invalid pk \"{unknown}\" - object does not exist.")])
    );
    let r = post(Some(admin), json!({"term_id": "not-a-uuid"})).await;
    r.assert_status(400);
    assert!(r.json["term_id"].is_array());
    let r = post(
        Some(admin),
        json!({"term_id": term, "class_group_ids": ["nope"]}),
    )
    .await;
    r.assert_status(400);
    assert_eq!(
        r.json["class_group_ids"],
        json!(["Invalid pk \"nope\" - object does not exist."])
    );
    let r = post(
        Some(admin),
        json!({"term_id": term, "class_group_ids": "CS-1A"}),
    )
    .await;
    r.assert_status(400);
    assert!(r.json["class_group_ids"].is_array(), "{}", r.json);
    let r = post(
        Some(admin),
        json!({"term_id": term, "department_ids": [Uuid::new_v4()]}),
    )
    .await;
    r.assert_status(400);
    assert!(r.json["department_ids"].is_array());
    let r = post(Some(admin), json!({"term_id": term, "seed": "abc"})).await;
    r.assert_status(400);
    assert!(r.json["seed"].is_array());
    let r = post(
        Some(admin),
        json!({"term_id": term, "create_entries": "maybe"}),
    )
    .await;
    r.assert_status(400);
    assert!(r.json["create_entries"].is_array());
    let r = app
        .post(&format!("{GENERATE}?async=maybe"))
        .bearer(&admin.access)
        .json(&json!({"term_id": term}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post(GENERATE)
        .bearer(&admin.access)
        .raw("application/json", "{")
        .send()
        .await;
    r.assert_status(400);
    // A term with nothing to generate is refused with a reason.
    let r = post(Some(admin), json!({"term_id": world.year.terms[1]})).await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "nothing_to_generate");
    assert_eq!(versions(&app).await, 0);

    // HOD scope: another department's class group or department is 403; a
    // HOD heading none may not generate; the deputy principal may.
    let other_hod = app.user("hod").await;
    let other = app.department(admin, "MECH", Some(&other_hod), &[]).await;
    let r = post(
        Some(&other_hod),
        json!({"term_id": term, "class_group_ids": [world.class_group]}),
    )
    .await;
    r.assert_status(403);
    let r = post(
        Some(&world.hod),
        json!({"term_id": term, "department_ids": [other]}),
    )
    .await;
    r.assert_status(403);
    // Other HOD, own department: nothing of theirs to generate.
    let r = post(Some(&other_hod), json!({"term_id": term})).await;
    r.assert_status(400);
    let headless = app.user("hod").await;
    post(Some(&headless), json!({"term_id": term}))
        .await
        .assert_status(403);
    assert_eq!(versions(&app).await, 0);
    let dp = app.user("dp_academics").await;
    let r = post(
        Some(&dp),
        json!({"term_id": term, "class_group_ids": [world.class_group], "seed": -3}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.json); // the practical has no lab
    assert_eq!(r.json["report"]["placed_sessions"], 2);
    assert_eq!(r.json["report"]["seed"], "18446744073709551613");
    let r = post(
        Some(&world.hod),
        json!({"term_id": term, "department_ids": [world.department]}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.json);
    assert_eq!(r.json["report"]["placed_sessions"], 2);
});
