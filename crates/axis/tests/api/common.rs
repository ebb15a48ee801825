//! The test application: axis's real router over a fresh database, and the
//! helpers every test file shares.

use axis::Axis;
use axis::entities::{audit_log, client, entity_change, field_change, user};
use base64::Engine;
pub use kernel::testing::TestBackend;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sea_orm::{DatabaseConnection, QueryOrder};
pub use serde_json::{Value, json};

/// The password of every account the tests make.
pub const PASSWORD: &str = "Quiet-Harbour-42!";
/// The secret key the kernel's test settings sign tokens with.
pub const SECRET_KEY: &str = "campus-test-secret-key-0123456789";

/// Runs a test body on SQLite, and on PostgreSQL / MariaDB when
/// `CAMPUS_TEST_POSTGRES_URL` / `CAMPUS_TEST_MYSQL_URL` were set at build
/// time. `backend |b|` hands the body the backend instead of a started app
/// (for tests that must start something before the app, such as a fake
/// identity provider whose address goes into the settings).
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        db_test!($name, settings = &[], |$app| $body);
    };
    ($name:ident, settings = $settings:expr, |$app:ident| $body:block) => {
        db_test!($name, backend |backend| {
            let $app = $crate::common::TestApp::start(backend, $settings).await;
            $body
        });
    };
    ($name:ident, backend |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::common::TestBackend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestBackend::Sqlite).await;
            }

            #[cfg(campus_postgres)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::common::TestBackend::Postgres).await;
            }

            #[cfg(campus_mysql)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run($crate::common::TestBackend::MySql).await;
            }
        }
    };
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

/// axis over a test database (workers not started).
pub struct TestApp(kernel::testing::TestApp<Axis>);

impl std::ops::Deref for TestApp {
    type Target = kernel::testing::TestApp<Axis>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The claims of a token, read without checking it.
pub fn claims(token: &str) -> Value {
    part(token, 1)
}

/// The header of a token, read without checking it.
pub fn token_header(token: &str) -> Value {
    part(token, 0)
}

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("a JWT segment");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON segment")
}

/// `value` as base64url without padding (JWT segments).
pub fn b64(value: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
}

/// A CUID as axis's ids are (`^[a-z][a-z0-9]{24}$`).
pub fn is_cuid(id: &str) -> bool {
    id.len() == 25
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object, got {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// `names` sorted, as owned strings (to compare with [`keys`]).
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    names.sort();
    names
}

/// Asserts axis's error envelope: `{error, message, detail}` all `text`,
/// `code`, `status_code`.
#[track_caller]
pub fn assert_error(r: &kernel::testing::TestResponse, status: u16, code: &str, text: &str) {
    r.assert_status(status);
    assert_eq!(r.json["code"], code, "code of {}", r.json);
    assert_eq!(r.json["status_code"], status, "status_code of {}", r.json);
    for key in ["error", "message", "detail"] {
        assert_eq!(r.json[key], text, "{key} of {}", r.json);
    }
}

/// Asserts a validation failure naming `field` (with `message` when given).
#[track_caller]
pub fn assert_field_error(r: &kernel::testing::TestResponse, field: &str, message: Option<&str>) {
    assert_error(
        r,
        400,
        "validation_error",
        "Validation failed. Please check your input.",
    );
    let messages = r.json["errors"][field]
        .as_array()
        .unwrap_or_else(|| panic!("errors.{field} in {}", r.json));
    assert!(!messages.is_empty(), "errors.{field} is empty: {}", r.json);
    if let Some(message) = message {
        assert!(
            messages.iter().any(|m| m == message),
            "errors.{field} has no {message:?}: {}",
            r.json
        );
    }
}

/// The keys every paginated list answers with.
pub const PAGE_KEYS: &[&str] = &[
    "count",
    "data",
    "next",
    "page",
    "page_size",
    "pagination",
    "previous",
    "results",
    "total_pages",
];

/// Asserts the paginated envelope of a list of `total` rows.
#[track_caller]
pub fn assert_page(body: &Value, total: u64) {
    assert_eq!(keys(body), sorted(PAGE_KEYS), "envelope of {body}");
    assert_eq!(body["count"], total);
    assert_eq!(body["pagination"]["total"], total);
    assert_eq!(body["data"], body["results"]);
    assert_eq!(body["pagination"]["page"], body["page"]);
    assert_eq!(body["pagination"]["limit"], body["page_size"]);
    assert_eq!(body["pagination"]["pages"], body["total_pages"]);
}

impl TestApp {
    /// A fresh database on `backend`, migrated, with settings differing from
    /// the test defaults by `overrides`.
    pub async fn start(backend: TestBackend, overrides: &[(&str, &str)]) -> Self {
        Self(kernel::testing::TestApp::start(backend, overrides).await)
    }

    pub fn conn(&self) -> &DatabaseConnection {
        self.0.db()
    }

    /// Signs in through `POST /api/auth/token/`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Actor {
        let r = self
            .post("/api/auth/token/")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await;
        r.assert_status(200);
        let access = r.json["access"].as_str().expect("access").to_owned();
        Actor {
            id: claims(&access)["user_id"]
                .as_str()
                .expect("user_id")
                .to_owned(),
            refresh: r.json["refresh"].as_str().expect("refresh").to_owned(),
            access,
        }
    }

    /// A superuser as `campus createsuperuser axis` makes one, signed in.
    pub async fn superuser(&self) -> Actor {
        self.superuser_named("root@axis.example", "Nomsa Dlamini")
            .await
    }

    pub async fn superuser_named(&self, email: &str, full_name: &str) -> Actor {
        let account = kernel::system::NewSuperuser {
            email: email.into(),
            password: PASSWORD.into(),
            full_name: full_name.into(),
        };
        axis::create_superuser(&self.state, &account)
            .await
            .expect("create a superuser");
        self.sign_in(email, PASSWORD).await
    }

    /// Creates a user through `POST /api/users/` as `admin`; the detail.
    pub async fn create_user(&self, admin: &Actor, body: Value) -> Value {
        let r = self
            .post("/api/users/")
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(201);
        r.json
    }

    /// A user with `roles` (and the test password), created by `admin`
    /// and signed in.
    pub async fn user(&self, admin: &Actor, email: &str, roles: &[&str]) -> Actor {
        self.create_user(
            admin,
            json!({"email": email, "password": PASSWORD, "first_name": "Lindiwe", "last_name": "Zulu", "roles": roles}),
        )
        .await;
        self.sign_in(email, PASSWORD).await
    }

    /// A manager, signed in.
    pub async fn manager(&self, admin: &Actor) -> Actor {
        self.user(admin, "manager@axis.example", &["manager"]).await
    }

    /// A scoped user (no platform role), signed in.
    pub async fn scoped(&self, admin: &Actor) -> Actor {
        self.user(admin, "scoped@client.example", &[]).await
    }

    /// A client inserted directly (the clients API is not under test here).
    pub async fn client(&self, name: &str) -> String {
        let now = kernel::time::now();
        let id = kernel::cuid::new();
        client::ActiveModel {
            id: Set(id.clone()),
            name: Set(name.into()),
            email: Set(Some(format!("{}@client.example", id))),
            phone: Set(None),
            website: Set(None),
            address: Set(None),
            billing_address: Set(None),
            tax_id: Set(None),
            contact_person: Set(None),
            contact_email: Set(None),
            contact_phone: Set(None),
            preferred_contact_method: Set(None),
            industry_id: Set(None),
            parent_client_id: Set(None),
            status: Set("Active".into()),
            is_verified: Set(false),
            timezone: Set(None),
            last_contact_date: Set(None),
            notes: Set(None),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            tombstone: Set(String::new()),
        }
        .insert(self.conn())
        .await
        .expect("insert a client");
        id
    }

    /// Grants `user_id` the client `client_id` through the API; the grant.
    pub async fn grant(&self, admin: &Actor, user_id: &str, client_id: &str) -> Value {
        let r = self
            .post("/api/user-clients/")
            .bearer(&admin.access)
            .json(&json!({"user_id": user_id, "client_id": client_id}))
            .send()
            .await;
        r.assert_status(201);
        r.json
    }

    /// The user row `id` as stored.
    pub async fn user_row(&self, id: &str) -> user::Model {
        user::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await
            .expect("read a user")
            .expect("the user exists")
    }

    /// Every audit log row, oldest first.
    pub async fn audit_logs(&self) -> Vec<audit_log::Model> {
        audit_log::Entity::find()
            .order_by_asc(audit_log::Column::CreatedAt)
            .order_by_asc(audit_log::Column::Id)
            .all(self.conn())
            .await
            .expect("audit logs")
    }

    /// Audit log rows about one entity, oldest first.
    pub async fn audit_logs_of(&self, entity_type: &str, entity_id: &str) -> Vec<audit_log::Model> {
        audit_log::Entity::find()
            .filter(audit_log::Column::EntityType.eq(entity_type))
            .filter(audit_log::Column::EntityId.eq(entity_id))
            .order_by_asc(audit_log::Column::CreatedAt)
            .order_by_asc(audit_log::Column::Id)
            .all(self.conn())
            .await
            .expect("audit logs")
    }

    /// Entity changes of one entity, oldest first.
    pub async fn entity_changes_of(
        &self,
        entity_type: &str,
        entity_id: &str,
    ) -> Vec<entity_change::Model> {
        entity_change::Entity::find()
            .filter(entity_change::Column::EntityType.eq(entity_type))
            .filter(entity_change::Column::EntityId.eq(entity_id))
            .order_by_asc(entity_change::Column::ChangedAt)
            .order_by_asc(entity_change::Column::Id)
            .all(self.conn())
            .await
            .expect("entity changes")
    }

    /// The field changes of one entity change, by field name.
    pub async fn field_changes_of(&self, entity_change_id: &str) -> Vec<field_change::Model> {
        field_change::Entity::find()
            .filter(field_change::Column::EntityChangeId.eq(entity_change_id))
            .order_by_asc(field_change::Column::FieldName)
            .all(self.conn())
            .await
            .expect("field changes")
    }

    /// Rows of the three audit tables.
    pub async fn trail_counts(&self) -> (i64, i64, i64) {
        let counts = self.row_counts().await;
        (
            counts["axis_audit_logs"],
            counts["axis_entity_changes"],
            counts["axis_field_changes"],
        )
    }
}
