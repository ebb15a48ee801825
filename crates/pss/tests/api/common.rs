//! The test application: the real router over a fresh database.

pub use kernel::testing::TestBackend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
pub use serde_json::{Value, json};
pub use uuid::Uuid;

use pss::Pss;

pub const PASSWORD: &str = "Quiet-Harbour-42!";
/// The field encryption key of the tests (32 bytes, base64).
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

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
    pub id: i64,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// PSS's application over a test database (workers not started: tests
/// run the job queue themselves).
pub struct TestApp(kernel::testing::TestApp<Pss>);

impl std::ops::Deref for TestApp {
    type Target = kernel::testing::TestApp<Pss>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// `overrides`, then the tests' field encryption key.
fn with_key<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = overrides.to_vec();
    all.push(("CAMPUS_FIELD_ENCRYPTION_KEY", KEY));
    all
}

pub fn test_config(url: &str, overrides: &[(&str, &str)]) -> pss::Config {
    kernel::testing::test_settings::<Pss>(url, &with_key(overrides))
        .expect("valid test settings")
        .1
}

/// A short unique tag for emails.
pub fn tag() -> String {
    Uuid::new_v4().simple().to_string()[..8].to_owned()
}

impl TestApp {
    pub async fn new(backend: TestBackend) -> Self {
        Self::with_settings(backend, &[]).await
    }

    /// An app whose settings differ from the test defaults by `overrides`.
    pub async fn with_settings(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::start(backend, &with_key(overrides)).await)
    }

    /// Another node on the database at `url` (already migrated).
    pub async fn on(url: &str, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::on(url, &with_key(overrides)).await)
    }

    /// Signs in through `POST /api/auth/login/`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Actor {
        let r = self
            .post("/api/auth/login/")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await;
        r.assert_status(200);
        Actor {
            id: r.json["user"]["id"].as_i64().expect("user id"),
            email: email.to_owned(),
            access: r.json["access"].as_str().expect("access").to_owned(),
            refresh: r.json["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A candidate registered through the API.
    pub async fn candidate(&self) -> Actor {
        let email = format!("cand-{}@example.org", tag());
        let r = self
            .post("/api/auth/register/")
            .json(&json!({"email": email, "password": PASSWORD, "first_name": "Thandi", "last_name": "Nkosi"}))
            .send()
            .await;
        r.assert_status(201);
        Actor {
            id: r.json["user"]["id"].as_i64().expect("user id"),
            email,
            access: r.json["access"].as_str().expect("access").to_owned(),
            refresh: r.json["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A superuser created as `campus createsuperuser pss` does.
    pub async fn superuser(&self) -> Actor {
        let email = format!("root-{}@example.org", tag());
        pss::create_superuser(&self.state, &email, PASSWORD, "Sipho Mthembu")
            .await
            .expect("create superuser");
        self.sign_in(&email, PASSWORD).await
    }

    /// An administrator: a registered candidate promoted by a superuser.
    pub async fn admin(&self, superuser: &Actor) -> Actor {
        let user = self.candidate().await;
        self.patch(&format!("/api/users/{}/", user.id))
            .bearer(&superuser.access)
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .assert_status(200);
        self.sign_in(&user.email, PASSWORD).await
    }

    /// A journal entry written by `actor`; returns its id.
    pub async fn journal_entry(&self, actor: &Actor, body: Value) -> i64 {
        let r = self
            .post("/api/journal/")
            .bearer(&actor.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(201);
        r.json["id"].as_i64().expect("id")
    }

    /// A note by `admin` about `candidate`; returns its id.
    pub async fn note(&self, admin: &Actor, candidate: i64, text: &str) -> i64 {
        let r = self
            .post("/api/admin-notes/")
            .bearer(&admin.access)
            .json(&json!({"candidate": candidate, "note_text": text, "tags": "followup, weekly", "category": "progress", "title": "Check-in"}))
            .send()
            .await;
        r.assert_status(201);
        r.json["id"].as_i64().expect("id")
    }

    /// One column of one row, read with raw SQL (what is really stored).
    pub async fn raw(&self, table: &str, column: &str, id: i64) -> Option<String> {
        let query = Query::select()
            .column(Alias::new(column))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let row = self
            .state
            .db
            .query_one(&query)
            .await
            .expect("raw query")
            .expect("a row");
        row.try_get::<Option<String>>("", column)
            .expect("a text column")
    }

    /// Audit rows about `object_type` `object_id`, oldest first.
    pub async fn audit_rows(
        &self,
        object_type: &str,
        object_id: i64,
    ) -> Vec<kernel::audit_log::entity::Model> {
        use kernel::audit_log::entity as audit_log;
        audit_log::Entity::find()
            .filter(audit_log::Column::ObjectType.eq(object_type))
            .filter(audit_log::Column::ObjectId.eq(object_id.to_string()))
            .order_by_asc(audit_log::Column::Id)
            .all(&self.state.db)
            .await
            .expect("audit rows")
    }

    /// Every audit row's action and object type, oldest first.
    pub async fn audit_count(&self) -> usize {
        use kernel::audit_log::entity as audit_log;
        audit_log::Entity::find()
            .all(&self.state.db)
            .await
            .expect("audit rows")
            .len()
    }
}

/// The JSON of an intake form filling the profile.
pub fn intake_answers() -> Value {
    json!({
        "date_of_birth": "2001-04-17",
        "phone_number": "082 123 4567",
        "address": "12 Long Street, Cape Town",
        "id_number": "0104175009087",
        "diagnosis": "Dyslexia and ADHD",
        "medications": "Methylphenidate 10mg",
        "allergies": "Penicillin",
        "doctor_name": "Dr Naledi Khumalo",
        "doctor_phone": "+27211234567",
        "medical_notes": "Extra time in assessments",
        "emergency_contact_name": "Zanele Nkosi",
        "emergency_contact_phone": "0831234567",
        "emergency_contact_relationship": "Mother",
        "accommodations": "Screen reader, quiet room",
        "assistive_technology": "NVDA",
        "learning_style": "Visual",
        "support_needs": "Weekly check-ins",
        "communication_preferences": "Email",
        "preferred_name": "Thandi"
    })
}

/// A 400's field map without the members the original's clients read beside
/// it (`detail`, `error`, `errors`, `code`; `valid` of a token check).
pub fn field_map(body: &Value) -> Value {
    let mut map = body.as_object().cloned().unwrap_or_default();
    for key in ["detail", "error", "errors", "code", "valid"] {
        map.remove(key);
    }
    Value::Object(map)
}
