//! The test application and its fixtures: a platform administrator, schools
//! provisioned through the real job, users of each role signed in; a fake
//! notification gateway on loopback.

#![allow(dead_code, reason = "each test module uses its own part")]

use std::sync::{Arc, Mutex};

pub use kernel::testing::TestBackend;
use oryne::Oryne;
pub use serde_json::{Value, json};

pub const PASSWORD: &str = "Quiet-Harbour-42!";
pub const PLATFORM_EMAIL: &str = "root@oryne.test";

/// Runs a test body on SQLite, and on PostgreSQL when
/// `CAMPUS_TEST_POSTGRES_URL` was set at build time (oryne refuses MariaDB).
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
        }
    };
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i64,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// A provisioned school.
#[derive(Debug, Clone)]
pub struct School {
    pub id: i64,
    pub subdomain: String,
    pub admin: Actor,
}

impl School {
    /// The host that names this school.
    pub fn host(&self) -> String {
        format!("{}.localhost", self.subdomain)
    }
}

pub struct TestApp(pub kernel::testing::TestApp<Oryne>);

impl std::ops::Deref for TestApp {
    type Target = kernel::testing::TestApp<Oryne>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestApp {
    pub async fn with_settings(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::start(backend, overrides).await)
    }

    /// Another node on the same database, with more settings.
    pub async fn node(&self, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::on(&self.url, overrides).await)
    }

    /// Runs the platform's due jobs, then every school's; answers how many ran.
    pub async fn run_jobs(&self) -> usize {
        let mut ran = oryne::platform_worker(&self.state)
            .run_due(self.db())
            .await
            .expect("platform jobs run");
        let worker = oryne::tenant_worker(&self.state);
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let ids: Vec<i64> = oryne::entities::tenant::Entity::find()
            .filter(oryne::entities::tenant::Column::Status.eq("active"))
            .all(self.db())
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        for id in ids {
            ran += oryne::tenancy::jobs::run_tenant(&self.state, &worker, id)
                .await
                .unwrap();
        }
        ran
    }

    /// A platform administrator, signed in on the platform host.
    pub async fn platform_admin(&self) -> Actor {
        use kernel::System;
        let account = kernel::system::NewSuperuser {
            email: PLATFORM_EMAIL.into(),
            password: PASSWORD.into(),
            full_name: "Platform Root".into(),
        };
        let _ = Oryne::create_superuser(&self.state, &account).await;
        let r = self
            .post("/api/v1/auth/login/")
            .json(&json!({"email": PLATFORM_EMAIL, "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(200);
        actor(&r.json)
    }

    /// Creates a school through the API and provisions it with the job;
    /// its admin (`admin@<sub>.test` unless given) signs in.
    pub async fn school(&self, root: &Actor, sub: &str) -> School {
        self.school_with(root, sub, &format!("admin@{sub}.test"))
            .await
    }

    pub async fn school_with(&self, root: &Actor, sub: &str, admin_email: &str) -> School {
        let r = self
            .post("/api/v1/tenants/")
            .bearer(&root.access)
            .json(&json!({"name": format!("{sub} school"), "subdomain": sub, "admin_email": admin_email,
                          "admin_password": PASSWORD, "admin_first_name": "Ada", "admin_last_name": "Admin"}))
            .send()
            .await;
        r.assert_status(202);
        assert_eq!(r.json["data"]["status"], "provisioning");
        let id = r.json["data"]["id"].as_i64().unwrap();
        self.run_jobs().await;
        let r = self
            .get(&format!("/api/v1/tenants/{id}/"))
            .bearer(&root.access)
            .send()
            .await;
        assert_eq!(r.json["data"]["status"], "active", "{}", r.json);
        let admin = self.login(sub, admin_email, PASSWORD).await;
        School {
            id,
            subdomain: sub.into(),
            admin,
        }
    }

    /// Signs `email` in at school `sub`.
    pub async fn login(&self, sub: &str, email: &str, password: &str) -> Actor {
        let r = self
            .post("/api/v1/auth/login/")
            .header("host", &format!("{sub}.localhost"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await;
        r.assert_status(200);
        actor(&r.json)
    }

    /// A request to school `sub` (by its host).
    pub fn at(&self, school: &School, method: &str, path: &str) -> kernel::testing::TestRequest {
        let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        self.client
            .request(method, path)
            .header("host", &school.host())
    }

    /// Creates a user with `roles` at `school` (as its admin) and signs them in.
    pub async fn member(&self, school: &School, email: &str, roles: &[&str]) -> Actor {
        let r = self
            .at(school, "POST", "/api/v1/users/")
            .bearer(&school.admin.access)
            .json(
                &json!({"email": email, "first_name": "Test", "last_name": "Member",
                          "password": PASSWORD, "roles": roles}),
            )
            .send()
            .await;
        r.assert_status(201);
        self.login(&school.subdomain, email, PASSWORD).await
    }
}

pub fn actor(body: &Value) -> Actor {
    Actor {
        id: body["data"]["user"]["id"].as_i64().unwrap(),
        email: body["data"]["user"]["email"].as_str().unwrap().to_owned(),
        access: body["data"]["access"].as_str().unwrap().to_owned(),
        refresh: body["data"]["refresh"].as_str().unwrap().to_owned(),
    }
}

/// Asserts an error in oryne's envelope with `code`.
pub fn assert_error(r: &kernel::testing::TestResponse, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    assert_eq!(r.json["success"], false, "{}", r.json);
    assert_eq!(r.json["error"]["code"], code, "{}", r.json);
}

/// A fake notification gateway on loopback: records every request and
/// answers each with the next status of its script (202 once the script
/// runs out).
#[derive(Clone)]
pub struct FakeGns {
    pub url: String,
    pub received: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>,
    pub script: Arc<Mutex<Vec<u16>>>,
}

impl FakeGns {
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>> = Arc::default();
        let script: Arc<Mutex<Vec<u16>>> = Arc::default();
        let (r, s) = (received.clone(), script.clone());
        let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let n = {
                    let mut list = r.lock().unwrap();
                    list.push((headers, value));
                    list.len()
                };
                let status = {
                    let mut script = s.lock().unwrap();
                    if script.is_empty() {
                        202
                    } else {
                        script.remove(0)
                    }
                };
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(json!({"id": format!("gns-{n}"), "status": "accepted"})),
                )
            }
        };
        let router = axum::Router::new()
            .route(
                "/api/v1/notifications",
                axum::routing::post(handler.clone()),
            )
            .route("/api/notifications/send", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        Self {
            url,
            received,
            script,
        }
    }

    pub fn requests(&self) -> Vec<(axum::http::HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// The bodies sent for `event_key`.
    pub fn events(&self, event_key: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .map(|(_, body)| body)
            .filter(|b| b["event_key"] == event_key || b["template"] == event_key)
            .collect()
    }
}

/// A message's text with quoted-printable soft breaks undone.
pub fn token_in(message: &str) -> String {
    message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// People written straight into a school's database (bypassing the API),
/// for tests of one resource that need others' rows.
pub mod seed {
    use oryne::entities::{parent, student, student_parent, teacher, teacher_assignment, user};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
    use serde_json::json;

    use super::{PASSWORD, School, TestApp};

    pub async fn db(app: &TestApp, school: &School) -> DatabaseConnection {
        app.state.tenants.open(school.id).await.unwrap()
    }

    /// An active user with `roles` and the test password.
    pub async fn user(app: &TestApp, school: &School, email: &str, roles: &[&str]) -> user::Model {
        let db = db(app, school).await;
        let now = kernel::time::now();
        user::ActiveModel {
            email: Set(email.to_owned()),
            password: Set(app.state.hasher.make(PASSWORD).await.unwrap()),
            first_name: Set(email.split('@').next().unwrap().to_owned()),
            last_name: Set("Seeded".into()),
            phone: Set(String::new()),
            avatar: Set(String::new()),
            roles: Set(json!(roles)),
            is_active: Set(true),
            is_staff: Set(false),
            is_superuser: Set(false),
            profile_data: Set(json!({})),
            preferences: Set(json!({})),
            token_epoch: Set(0),
            last_login: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap()
    }

    /// A student (with their user) in `class_name`/`section`.
    pub async fn student(
        app: &TestApp,
        school: &School,
        email: &str,
        class_name: &str,
        section: &str,
    ) -> student::Model {
        let account = user(app, school, email, &["Student"]).await;
        let now = kernel::time::now();
        student::ActiveModel {
            user_id: Set(account.id),
            enrollment_no: Set(format!("ENR-{}", account.id)),
            class_name: Set(class_name.into()),
            section: Set(section.into()),
            roll_number: Set(None),
            admission_date: Set(None),
            date_of_birth: Set(None),
            gender: Set("other".into()),
            blood_group: Set(String::new()),
            address: Set(String::new()),
            city: Set(String::new()),
            state: Set(String::new()),
            pincode: Set(String::new()),
            parent_name: Set(String::new()),
            parent_email: Set(String::new()),
            parent_phone: Set(String::new()),
            parent_relationship: Set(String::new()),
            status: Set("active".into()),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db(app, school).await)
        .await
        .unwrap()
    }

    /// A teacher (with their user) assigned to `classes` (class, section).
    pub async fn teacher(
        app: &TestApp,
        school: &School,
        email: &str,
        classes: &[(&str, &str)],
    ) -> teacher::Model {
        let account = user(app, school, email, &["Teacher"]).await;
        let now = kernel::time::now();
        let db = db(app, school).await;
        let row = teacher::ActiveModel {
            user_id: Set(account.id),
            employee_no: Set(format!("EMP-{}", account.id)),
            designation: Set(String::new()),
            department: Set(String::new()),
            qualification: Set(String::new()),
            experience_years: Set(0),
            specialization: Set(String::new()),
            subjects: Set(json!([])),
            address: Set(String::new()),
            city: Set(String::new()),
            state: Set(String::new()),
            pincode: Set(String::new()),
            emergency_contact: Set(String::new()),
            joining_date: Set(None),
            employment_type: Set("permanent".into()),
            status: Set("active".into()),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        for (class_name, section) in classes {
            teacher_assignment::ActiveModel {
                teacher_id: Set(row.id),
                class_name: Set((*class_name).into()),
                section: Set((*section).into()),
                subject_id: Set(None),
                academic_year_id: Set(None),
                role: Set("subject_teacher".into()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        row
    }

    /// A parent (with their user) linked to `children`.
    pub async fn parent(
        app: &TestApp,
        school: &School,
        email: &str,
        children: &[i64],
    ) -> parent::Model {
        let account = user(app, school, email, &["Parent"]).await;
        let now = kernel::time::now();
        let db = db(app, school).await;
        let row = parent::ActiveModel {
            user_id: Set(account.id),
            occupation: Set(String::new()),
            organization: Set(String::new()),
            annual_income: Set(None),
            office_phone: Set(String::new()),
            can_pickup: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        for (i, child) in children.iter().enumerate() {
            student_parent::ActiveModel {
                student_id: Set(*child),
                parent_id: Set(row.id),
                relationship: Set("guardian".into()),
                is_primary: Set(i == 0),
                is_emergency_contact: Set(true),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        row
    }
}
