//! The test application: the real router over a fresh database.

use clearance::Clearance;
use kernel::System;
pub use kernel::testing::TestBackend;
pub use serde_json::{Value, json};
pub use uuid::Uuid;

pub const PASSWORD: &str = "Campus-Test-Passw0rd";

/// Runs a test body on SQLite, and on PostgreSQL / MariaDB when
/// `CAMPUS_TEST_POSTGRES_URL` / `CAMPUS_TEST_MYSQL_URL` were set at build time.
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestApp::new($crate::common::TestBackend::Sqlite).await).await;
            }

            #[cfg(campus_postgres)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::common::TestApp::new($crate::common::TestBackend::Postgres).await).await;
            }

            #[cfg(campus_mysql)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run($crate::common::TestApp::new($crate::common::TestBackend::MySql).await).await;
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

/// Clearance's application over a fresh database, with its workers running.
pub struct TestApp(kernel::testing::TestApp<Clearance>);

impl std::ops::Deref for TestApp {
    type Target = kernel::testing::TestApp<Clearance>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestApp {
    pub async fn new(backend: TestBackend) -> Self {
        Self::with_settings(backend, &[]).await
    }

    /// An app whose settings differ from the test defaults by `overrides`.
    pub async fn with_settings(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        let app = kernel::testing::TestApp::<Clearance>::start(backend, overrides).await;
        Clearance::spawn_workers(&app.state);
        Self(app)
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
            id: Uuid::parse_str(r.json["user"]["id"].as_str().expect("user id")).expect("uuid"),
            email: email.to_owned(),
            access: r.json["access"].as_str().expect("access").to_owned(),
            refresh: r.json["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// An administrator created as `campus createsuperuser` does.
    pub async fn admin(&self) -> Actor {
        let email = format!(
            "admin-{}@mksu.ac.ke",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        clearance::create_superuser(&self.state, &email, PASSWORD, "Ada Admin")
            .await
            .expect("create admin");
        self.sign_in(&email, PASSWORD).await
    }

    /// A user of `role` created by an administrator, signed in.
    pub async fn user(&self, admin: &Actor, role: &str, department: Option<&str>) -> Actor {
        let email = format!(
            "{role}-{}@mksu.ac.ke",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let r = self
            .post("/api/users/")
            .bearer(&admin.access)
            .json(&json!({"email": email, "full_name": "Test Person", "password": PASSWORD, "role": role, "department": department}))
            .send()
            .await;
        r.assert_status(201);
        self.sign_in(&email, PASSWORD).await
    }

    /// An office created by an administrator; returns its id.
    pub async fn department(&self, admin: &Actor, code: &str, order: i64) -> String {
        self.office(admin, code, order, "other").await
    }

    /// An office of `kind` (finance, library, ...); returns its id.
    pub async fn office(&self, admin: &Actor, code: &str, order: i64, kind: &str) -> String {
        let r = self
            .post("/api/departments/")
            .bearer(&admin.access)
            .json(&json!({"name": format!("{code} Office"), "code": code, "department_type": kind, "head_email": "head@mksu.ac.ke", "approval_order": order}))
            .send()
            .await;
        r.assert_status(201);
        r.json["id"].as_str().expect("id").to_owned()
    }

    /// A student account with its record, created by an administrator and signed in.
    /// Returns the actor and the student record's id.
    pub async fn student(&self, admin: &Actor, registration_number: &str) -> (Actor, String) {
        let email = format!(
            "student-{}@students.mksu.ac.ke",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let r = self
            .post("/api/students/")
            .bearer(&admin.access)
            .json(&json!({
                "email": email, "full_name": "Stu Dent", "password": PASSWORD,
                "registration_number": registration_number, "faculty": "Engineering",
                "program": "BSc Computer Science", "graduation_year": 2026
            }))
            .send()
            .await;
        r.assert_status(201);
        let id = r.json["id"].as_str().expect("id").to_owned();
        (self.sign_in(&email, PASSWORD).await, id)
    }
}

impl TestApp {
    /// Submits a clearance request as `student`; returns its id.
    pub async fn submit(&self, student: &Actor) -> String {
        let r = self
            .post("/api/clearances/")
            .bearer(&student.access)
            .send()
            .await;
        r.assert_status(201);
        r.json["id"].as_str().expect("id").to_owned()
    }

    /// The id of the approval of `office` on request `clearance`.
    pub async fn approval_of(&self, admin: &Actor, clearance: &str, office: &str) -> String {
        let r = self
            .get(&format!(
                "/api/approvals/?clearance_request={clearance}&department={office}"
            ))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        r.json["results"][0]["id"]
            .as_str()
            .expect("an approval")
            .to_owned()
    }

    /// Titles of the caller's notifications, newest first.
    pub async fn notification_titles(&self, actor: &Actor) -> Vec<String> {
        use clearance::entities::notification;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        notification::Entity::find()
            .filter(notification::Column::UserId.eq(actor.id))
            .order_by_desc(notification::Column::CreatedAt)
            .all(&self.state.db)
            .await
            .expect("notifications")
            .into_iter()
            .map(|n| n.title)
            .collect()
    }

    /// Audit rows of `action` on `object_id`.
    pub async fn audit_rows(
        &self,
        action: &str,
        object_id: &str,
    ) -> Vec<clearance::entities::audit_log::Model> {
        use clearance::entities::audit_log;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .filter(audit_log::Column::ObjectId.eq(Uuid::parse_str(object_id).expect("uuid")))
            .all(&self.state.db)
            .await
            .expect("audit rows")
    }
}
