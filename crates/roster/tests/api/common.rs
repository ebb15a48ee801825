//! The test application: the real router over a fresh database, and the
//! fixtures every test builds on (users of each role, signed in).

#![allow(dead_code, reason = "each test module uses its own part")]

pub use kernel::testing::TestBackend;
use roster::Roster;
use roster::entities::{profile, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
pub use serde_json::{Value, json};
pub use uuid::Uuid;

pub const PASSWORD: &str = "Quiet-Harbour-42!";

/// Runs a test body on SQLite, and on PostgreSQL / MariaDB when
/// `CAMPUS_TEST_POSTGRES_URL` / `CAMPUS_TEST_MYSQL_URL` were set at build time.
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        db_test!($name, settings = &[], |$app| $body);
    };
    ($name:ident, settings = $settings:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestApp::with_settings($crate::common::TestBackend::Sqlite, $settings).await).await;
            }

            #[cfg(campus_postgres)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::common::TestApp::with_settings($crate::common::TestBackend::Postgres, $settings).await).await;
            }

            #[cfg(campus_mysql)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run($crate::common::TestApp::with_settings($crate::common::TestBackend::MySql, $settings).await).await;
            }
        }
    };
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Uuid,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// roster's application over a test database (workers not started: tests
/// run the job queue themselves with [`TestApp::run_jobs`]).
pub struct TestApp(pub kernel::testing::TestApp<Roster>);

impl std::ops::Deref for TestApp {
    type Target = kernel::testing::TestApp<Roster>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A short unique tag for names and emails.
pub fn tag() -> String {
    Uuid::new_v4().simple().to_string()[..8].to_owned()
}

impl TestApp {
    pub async fn new(backend: TestBackend) -> Self {
        Self::with_settings(backend, &[]).await
    }

    pub async fn with_settings(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::start(backend, overrides).await)
    }

    /// Runs every due job once (emails, generation, ...); answers how many ran.
    pub async fn run_jobs(&self) -> usize {
        roster::jobs(&self.state)
            .run_due(self.db())
            .await
            .expect("jobs run")
    }

    /// Signs in through `POST /api/auth/token/`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Actor {
        let r = self
            .post("/api/auth/token/")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await;
        r.assert_status(200);
        Actor {
            id: r.json["user"]["id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .expect("user id"),
            email: email.to_owned(),
            access: r.json["access"].as_str().expect("access").to_owned(),
            refresh: r.json["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A verified, active user of `role` written straight to the database
    /// (the fixture every test starts from), signed in.
    pub async fn user(&self, role: &str) -> Actor {
        let email = format!("{role}-{}@example.org", tag());
        self.user_named(role, &email, "Test", role).await
    }

    pub async fn user_named(&self, role: &str, email: &str, first: &str, last: &str) -> Actor {
        let hash = self.state.hasher.make(PASSWORD).await.expect("hash");
        let now = kernel::time::now();
        let id = Uuid::new_v4();
        user::ActiveModel {
            id: Set(id),
            email: Set(email.to_lowercase()),
            password: Set(hash),
            first_name: Set(first.to_owned()),
            last_name: Set(last.to_owned()),
            role: Set(role.to_owned()),
            gender: Set(None),
            phone: Set(None),
            id_number: Set(None),
            address: Set(None),
            date_of_birth: Set(None),
            is_active: Set(true),
            is_superuser: Set(role == "admin"),
            email_verified: Set(true),
            token_epoch: Set(0),
            date_joined: Set(now),
            last_login: Set(None),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await
        .expect("user row");
        profile::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(id),
            admission_number: Set((role == "trainee").then(|| format!("ADM-{}", tag()))),
            status: Set((role == "trainee").then(|| "active".to_owned())),
            enrollment_date: Set(None),
            staff_number: Set((role != "trainee").then(|| format!("STF-{}", tag()))),
            qualifications: Set(None),
            specialization: Set(None),
            employment_type: Set((role == "trainer").then(|| "full_time".to_owned())),
            max_weekly_hours: Set((role == "trainer").then_some(20)),
        }
        .insert(self.db())
        .await
        .expect("profile row");
        self.sign_in(email, PASSWORD).await
    }

    pub async fn admin(&self) -> Actor {
        self.user("admin").await
    }

    /// The stored user row of `id`.
    pub async fn user_row(&self, id: Uuid) -> user::Model {
        user::Entity::find()
            .filter(user::Column::Id.eq(id))
            .one(self.db())
            .await
            .expect("query")
            .expect("user exists")
    }
}

// ---------------------------------------------------------------------------
// School structure and courses (contract §2–§3): fixture builders, all
// through the API. Signatures are stable; other test modules build on them.
// ---------------------------------------------------------------------------

/// An academic year and its three terms (term 1 contains today).
#[derive(Debug, Clone)]
pub struct YearFixture {
    pub id: Uuid,
    pub name: String,
    pub start: chrono::NaiveDate,
    pub end: chrono::NaiveDate,
    /// Terms 1, 2 and 3, in order.
    pub terms: Vec<Uuid>,
}

/// Everything an enrollment needs, built by [`TestApp::enrolled`].
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub admin: Actor,
    pub school: Uuid,
    pub department: Uuid,
    pub hod: Actor,
    pub trainer: Actor,
    pub trainees: Vec<Actor>,
    pub programme: Uuid,
    pub year: YearFixture,
    pub class_group: Uuid,
    pub course: Uuid,
    pub mapping: Uuid,
    pub enrollment: Uuid,
}

/// The `id` of a created row.
pub fn id_of(json: &Value) -> Uuid {
    json["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("no id in {json}"))
}

impl TestApp {
    /// `POST /api/school/` (a school at Nairobi, 200 m geofence, UTC).
    pub async fn school(&self, admin: &Actor) -> Uuid {
        let r = self
            .post("/api/school/")
            .bearer(&admin.access)
            .json(&json!({
                "name": "Test Technical Institute", "code": "TTI",
                "latitude": -1.2921, "longitude": 36.8219, "geofence_radius_m": 200,
                "timezone": "UTC",
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// `POST /api/departments/` with `code` (the school must exist), its
    /// HOD and trainers.
    pub async fn department(
        &self,
        admin: &Actor,
        code: &str,
        hod: Option<&Actor>,
        trainers: &[&Actor],
    ) -> Uuid {
        let r = self
            .post("/api/departments/")
            .bearer(&admin.access)
            .json(&json!({
                "name": format!("Department {code}"),
                "code": code,
                "hod": hod.map(|h| h.id),
                "trainers": trainers.iter().map(|t| t.id).collect::<Vec<_>>(),
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// `POST /api/programmes/`: a diploma of `duration_years` in `department`.
    pub async fn programme(&self, admin: &Actor, department: Uuid, duration_years: i64) -> Uuid {
        let t = tag();
        let r = self
            .post("/api/programmes/")
            .bearer(&admin.access)
            .json(&json!({
                "name": format!("Diploma {t}"), "code": format!("P-{t}"),
                "department": department, "level": "diploma",
                "duration_years": duration_years,
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// The active academic year containing today (from 100 days ago, a
    /// year long) with terms 1–3; term 1 runs from 30 days ago to 60 days
    /// ahead, term 2 days 61–150, term 3 days 151–250 from today.
    pub async fn academic_year_with_terms(&self, admin: &Actor) -> YearFixture {
        use chrono::Datelike;
        let today = chrono::Utc::now().date_naive();
        let start = today - chrono::Days::new(100);
        let end = start + chrono::Days::new(364);
        let name = format!("{}/{}", start.year(), start.year() + 1);
        let r = self
            .post("/api/academic-years/")
            .bearer(&admin.access)
            .json(&json!({"name": name, "start_date": start, "end_date": end, "is_active": true}))
            .send()
            .await;
        r.assert_status(201);
        let id = id_of(&r.json);
        let spans = [(-30i64, 60i64), (61, 150), (151, 250)];
        let mut terms = Vec::new();
        for (number, (from, to)) in spans.into_iter().enumerate() {
            let day = |offset: i64| today + chrono::Duration::days(offset);
            let r = self
                .post("/api/terms/")
                .bearer(&admin.access)
                .json(&json!({
                    "academic_year": id, "name": format!("Term {}", number + 1),
                    "number": number + 1, "start_date": day(from), "end_date": day(to),
                }))
                .send()
                .await;
            r.assert_status(201);
            terms.push(id_of(&r.json));
        }
        YearFixture {
            id,
            name,
            start,
            end,
            terms,
        }
    }

    /// `POST /api/class-groups/` named `name`, year of study 1, with `trainees`.
    pub async fn class_group(
        &self,
        admin: &Actor,
        name: &str,
        programme: Uuid,
        academic_year: Uuid,
        trainees: &[&Actor],
    ) -> Uuid {
        let r = self
            .post("/api/class-groups/")
            .bearer(&admin.access)
            .json(&json!({
                "name": name, "programme": programme, "academic_year": academic_year,
                "year_of_study": 1,
                "trainees": trainees.iter().map(|t| t.id).collect::<Vec<_>>(),
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// `POST /api/courses/` `code` in `department`: `theory` + `practical`
    /// sessions a week of `minutes` each.
    pub async fn course(
        &self,
        admin: &Actor,
        code: &str,
        department: Uuid,
        theory: i64,
        practical: i64,
        minutes: i64,
    ) -> Uuid {
        let r = self
            .post("/api/courses/")
            .bearer(&admin.access)
            .json(&json!({
                "code": code, "name": format!("Course {code}"), "department": department,
                "credit_hours": 3, "theory_sessions_per_week": theory,
                "practical_sessions_per_week": practical, "session_duration_minutes": minutes,
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// `POST /api/programme-course-mappings/`: `course` in `programme`'s
    /// year 1, `term_number`; theory in a classroom, practicals in a
    /// computer lab.
    pub async fn mapping(
        &self,
        admin: &Actor,
        programme: Uuid,
        course: Uuid,
        term_number: i64,
    ) -> Uuid {
        let r = self
            .post("/api/programme-course-mappings/")
            .bearer(&admin.access)
            .json(&json!({
                "programme": programme, "course": course, "year_of_study": 1,
                "term_number": term_number, "theory_room_type": "classroom",
                "practical_room_type": "computer_lab",
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// `POST /api/enrollments/` (the course must be mapped for the class
    /// group's programme, year and the term's number).
    pub async fn enrollment(
        &self,
        admin: &Actor,
        class_group: Uuid,
        course: Uuid,
        year: &YearFixture,
        term: Uuid,
        trainer: Option<&Actor>,
    ) -> Uuid {
        let r = self
            .post("/api/enrollments/")
            .bearer(&admin.access)
            .json(&json!({
                "class_group": class_group, "course": course, "academic_year": year.id,
                "term": term, "trainer": trainer.map(|t| t.id),
            }))
            .send()
            .await;
        r.assert_status(201);
        id_of(&r.json)
    }

    /// The whole chain of contract §9 flow 1 up to one enrollment: school,
    /// department `ICT` (a HOD, one trainer), a 2-year programme, the
    /// current year with 3 terms, class group `CS-1A` with two trainees,
    /// course `COMP101` (2 theory + 1 practical of 60 min) mapped to year 1
    /// term 1, and its term-1 enrollment taught by the trainer.
    pub async fn enrolled(&self) -> Enrolled {
        let admin = self.admin().await;
        let hod = self.user("hod").await;
        let trainer = self.user("trainer").await;
        let trainees = vec![self.user("trainee").await, self.user("trainee").await];
        let school = self.school(&admin).await;
        let department = self
            .department(&admin, "ICT", Some(&hod), &[&trainer])
            .await;
        let programme = self.programme(&admin, department, 2).await;
        let year = self.academic_year_with_terms(&admin).await;
        let refs: Vec<&Actor> = trainees.iter().collect();
        let class_group = self
            .class_group(&admin, "CS-1A", programme, year.id, &refs)
            .await;
        let course = self.course(&admin, "COMP101", department, 2, 1, 60).await;
        let mapping = self.mapping(&admin, programme, course, 1).await;
        let enrollment = self
            .enrollment(
                &admin,
                class_group,
                course,
                &year,
                year.terms[0],
                Some(&trainer),
            )
            .await;
        Enrolled {
            admin,
            school,
            department,
            hod,
            trainer,
            trainees,
            programme,
            year,
            class_group,
            course,
            mapping,
            enrollment,
        }
    }
}

// ---------------------------------------------------------------------------
// Users, email links and bulk uploads (contract §1): a node that mails to a
// real SMTP sink, the links in its messages, multipart bodies, and a small
// department with a class group.
// ---------------------------------------------------------------------------

/// A second node on `app`'s database that mails to a fresh SMTP sink.
pub async fn mailing(app: &TestApp) -> (TestApp, kernel::testing::SmtpSink) {
    let sink = kernel::testing::SmtpSink::start().await;
    let node =
        TestApp(kernel::testing::TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await);
    (node, sink)
}

/// Runs `node`'s due jobs and waits until the sink holds `n` messages.
pub async fn deliver(node: &TestApp, sink: &kernel::testing::SmtpSink, n: usize) -> Vec<String> {
    node.run_jobs().await;
    sink.wait_for(n, std::time::Duration::from_secs(10)).await
}

/// The value of `param` in the first link of an email (quoted-printable undone).
pub fn link_param(message: &str, param: &str) -> String {
    let message = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let key = format!("{param}=");
    let start = message
        .find("http://localhost:3000/")
        .and_then(|at| message[at..].find(&key).map(|k| at + k + key.len()))
        .unwrap_or_else(|| panic!("no {param} in {message}"));
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A `multipart/form-data` body with one file field `file`.
pub fn multipart_file(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    kernel::testing::Multipart::new()
        .file("file", filename, "application/octet-stream", bytes)
        .finish()
}

/// A department (`code`) with a HOD and a trainer, a programme, the
/// current academic year and a class group `group` in it.
#[derive(Debug, Clone)]
pub struct DeptFixture {
    pub admin: Actor,
    pub hod: Actor,
    pub trainer: Actor,
    pub department: Uuid,
    pub programme: Uuid,
    pub class_group: Uuid,
}

impl TestApp {
    pub async fn dept_fixture(&self, code: &str, group: &str) -> DeptFixture {
        let admin = self.admin().await;
        let hod = self.user("hod").await;
        let trainer = self.user("trainer").await;
        let _ = self.school(&admin).await;
        let department = self.department(&admin, code, Some(&hod), &[&trainer]).await;
        let programme = self.programme(&admin, department, 2).await;
        let year = self.academic_year_with_terms(&admin).await;
        let class_group = self
            .class_group(&admin, group, programme, year.id, &[])
            .await;
        DeptFixture {
            admin,
            hod,
            trainer,
            department,
            programme,
            class_group,
        }
    }
}

// ---------------------------------------------------------------------------
// Attendance rows (contract §5) written straight to the database, for tests
// of what reads them (records, feedback, analytics, reports).
// ---------------------------------------------------------------------------

/// Who a fixture session is of.
#[derive(Debug, Clone, Copy)]
pub struct Teaching {
    pub enrollment: Uuid,
    pub course: Uuid,
    pub class_group: Uuid,
    pub term: Uuid,
    pub trainer: Uuid,
}

impl From<&Enrolled> for Teaching {
    fn from(e: &Enrolled) -> Self {
        Self {
            enrollment: e.enrollment,
            course: e.course,
            class_group: e.class_group,
            term: e.year.terms[0],
            trainer: e.trainer.id,
        }
    }
}

/// A session of `of` in `status` from `start` to `end`: started on time
/// when active or completed, ended on time when completed.
pub fn session_model(
    of: Teaching,
    status: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> roster::entities::attendance_session::ActiveModel {
    use chrono::SubsecRound;
    let now = chrono::Utc::now().trunc_subsecs(0);
    let started = matches!(status, "completed" | "active");
    roster::entities::attendance_session::ActiveModel {
        id: Set(Uuid::new_v4()),
        timetable_entry_id: Set(None),
        enrollment_id: Set(of.enrollment),
        course_id: Set(of.course),
        class_group_id: Set(of.class_group),
        term_id: Set(of.term),
        trainer_id: Set(Some(of.trainer)),
        active_trainer_id: Set(None),
        room_id: Set(None),
        scheduled_start: Set(start),
        scheduled_end: Set(end),
        status: Set(status.to_owned()),
        started_at: Set(started.then_some(start)),
        ended_at: Set((status == "completed").then_some(end)),
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
}

/// `trainee`'s record of `session` in `status`, checked in at `checked_in_at`
/// when present or late (at the room, face matched).
pub fn record_model(
    session: Uuid,
    trainee: Uuid,
    status: &str,
    checked_in_at: chrono::DateTime<chrono::Utc>,
) -> roster::entities::attendance_record::ActiveModel {
    use chrono::SubsecRound;
    let now = chrono::Utc::now().trunc_subsecs(0);
    let checked = matches!(status, "present" | "late");
    roster::entities::attendance_record::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session),
        trainee_id: Set(trainee),
        status: Set(status.to_owned()),
        checked_in_at: Set(checked.then_some(checked_in_at)),
        latitude: Set(checked.then_some(-1.2921)),
        longitude: Set(checked.then_some(36.8219)),
        accuracy: Set(None),
        distance_m: Set(checked.then_some(12.345)),
        location_verified: Set(checked),
        face_distance: Set(checked.then_some(0.31)),
        face_verified: Set(checked),
        failed_attempts: Set(0),
        marked_by_system: Set(status == "absent"),
        manual_override: Set(false),
        marked_by: Set(None),
        override_reason: Set(None),
        image: Set(None),
        excuse_reason: Set(None),
        excuse_document: Set(None),
        excuse_status: Set(if status == "excused" {
            "approved"
        } else {
            "none"
        }
        .into()),
        excuse_reviewed_by: Set(None),
        excuse_reviewed_at: Set(None),
        excuse_comment: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
