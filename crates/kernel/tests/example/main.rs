//! The kernel's tests through a real system: the example system of
//! `system.rs`, on SQLite, PostgreSQL and MariaDB.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod system;

use kernel::testing::{TestApp, TestBackend};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use serde_json::json;
use system::Example;

/// Runs a test body on SQLite, and on PostgreSQL / MariaDB when their test
/// servers are configured (see the build script).
macro_rules! db_test {
    ($name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: TestBackend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(TestBackend::Sqlite).await;
            }

            #[cfg(campus_postgres)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(TestBackend::Postgres).await;
            }

            #[cfg(campus_mysql)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run(TestBackend::MySql).await;
            }
        }
    };
}

const PASSWORD: &str = "Example-Passw0rd-42";

async fn account(app: &TestApp<Example>, email: &str) -> (String, String) {
    let new = kernel::system::NewSuperuser {
        email: email.into(),
        password: PASSWORD.into(),
        full_name: String::new(),
    };
    <Example as kernel::System>::create_superuser(&app.state, &new)
        .await
        .unwrap();
    let r = app
        .post("/api/token/")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    (
        r.json["access"].as_str().unwrap().to_owned(),
        r.json["refresh"].as_str().unwrap().to_owned(),
    )
}

async fn audit_rows(app: &TestApp<Example>) -> u64 {
    kernel::audit_log::entity::Entity::find()
        .count(&app.state.kernel().db)
        .await
        .unwrap()
}

use kernel::HasKernel;

db_test!(a_new_system_needs_only_its_own_code, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (ada, _) = account(&app, "ada@example.org").await;
    let (bob, _) = account(&app, "bob@example.org").await;

    let r = app
        .post("/api/projects/")
        .bearer(&ada)
        .json(&json!({"name": "Roof"}))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(audit_rows(&app).await, 1, "one audit row per write");

    // Pages in DRF's envelope; only the caller's rows.
    let r = app.get("/api/projects/").bearer(&ada).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["name"], "Roof");
    let r = app.get("/api/projects/").bearer(&bob).send().await;
    assert_eq!(r.json["count"], 0);
    app.get("/api/projects/?page=2")
        .bearer(&ada)
        .send()
        .await
        .assert_status(404);

    // Another's row, an unknown or malformed id: 404, nothing written.
    for path in [
        format!("/api/projects/{id}/done/"),
        "/api/projects/999/done/".into(),
        "/api/projects/x/done/".into(),
    ] {
        let r = app.post(&path).bearer(&bob).send().await;
        r.assert_status(404);
        assert_eq!(r.json["error"]["code"], "not_found");
    }
    let r = app
        .post(&format!("/api/projects/{id}/done/"))
        .bearer(&ada)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["done"], true);
    assert_eq!(audit_rows(&app).await, 2);
});

db_test!(errors_render_in_the_systems_envelope, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (ada, _) = account(&app, "ada@example.org").await;

    let r = app.get("/api/projects/").send().await;
    r.assert_status(401);
    assert_eq!(r.json["error"]["code"], "not_authenticated");
    assert!(r.header("www-authenticate").is_some());

    let r = app
        .post("/api/projects/")
        .bearer(&ada)
        .raw("application/json", "{\"name\": ")
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );

    let r = app
        .post("/api/projects/")
        .bearer(&ada)
        .json(&json!({"name": ""}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["error"]["message"],
        kernel::error::VALIDATION_MESSAGE
    );
    assert!(r.json["error"]["fields"]["name"].is_array());

    let r = app.get("/api/nowhere/").send().await;
    r.assert_status(404);
    assert_eq!(r.json["error"]["message"], "Not found.");
    let r = app.put("/api/projects/").bearer(&ada).send().await;
    r.assert_status(405);
    assert_eq!(r.json["error"]["code"], "method_not_allowed");
    assert_eq!(audit_rows(&app).await, 0, "nothing was written");
});

db_test!(tokens_rotate_once_and_logout_ends_them_all, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (access, refresh) = account(&app, "ada@example.org").await;
    let state = &app.state;
    let (claims, ada) = kernel::identity::rotate(state, &refresh).await.unwrap();
    assert_eq!(claims.user_id, ada.id.to_string());
    // A rotated refresh token is spent.
    let reused = kernel::identity::rotate(state, &refresh).await.unwrap_err();
    assert_eq!(reused.status(), 401);

    let db = &state.kernel().db;
    kernel::identity::end_tokens(db, &ada, None).await.unwrap();
    app.get("/api/projects/")
        .bearer(&access)
        .send()
        .await
        .assert_status(401);
});

db_test!(
    the_kernel_takes_over_its_tables_from_older_databases,
    |backend| {
        let url = kernel::testing::fresh_database(backend).await;
        let db = kernel::db::connect(&url).await.unwrap();
        let backend_kind = db.get_database_backend();
        for sql in [
            "CREATE TABLE jobs (id VARCHAR(36) PRIMARY KEY, kind VARCHAR(64) NOT NULL)",
            "INSERT INTO jobs (id, kind) VALUES ('j1', 'email')",
            "CREATE TABLE token_blacklist (jti VARCHAR(64) PRIMARY KEY, user_id VARCHAR(36) NOT NULL, \
         expires_at TIMESTAMP NOT NULL, blacklisted_at TIMESTAMP NOT NULL)",
            "INSERT INTO token_blacklist VALUES ('spent', 'u1', '2031-01-01 00:00:00', '2030-01-01 00:00:00')",
        ] {
            db.execute_unprepared(sql).await.unwrap();
        }
        kernel::migration::migrate(&db).await.unwrap();
        let count = |sql: &'static str| {
            let db = db.clone();
            async move {
                db.query_one_raw(Statement::from_string(backend_kind, sql))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get_by_index::<i64>(0)
                    .unwrap()
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) FROM campus_jobs WHERE kind = 'email'").await,
            1
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM campus_token_blacklist WHERE jti = 'spent'").await,
            1
        );
        let manager = sea_orm_migration::SchemaManager::new(&db);
        assert!(!manager.has_table("jobs").await.unwrap());
        assert!(!manager.has_table("token_blacklist").await.unwrap());
        // Running again changes nothing.
        kernel::migration::migrate(&db).await.unwrap();
    }
);

db_test!(every_endpoint_conforms, |backend| {
    use kernel::conformance::{Call, Table};
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (ada, _) = account(&app, "ada@example.org").await;
    kernel::conformance::check::<Example>(&app, &ada).await;
    let r = app
        .post("/api/projects/")
        .bearer(&ada)
        .json(&json!({"name": "Walls"}))
        .send()
        .await;
    let project = r.json["id"].as_i64().unwrap();
    kernel::conformance::check_bad_bodies::<Example>(
        &app,
        &ada,
        &[format!("/api/projects/{project}/done/")],
    )
    .await;
    Table::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/example/snapshots/endpoints"
    ))
    .calls([
        Call::post("/api/token/")
            .json(json!({"email": "ada@example.org", "password": PASSWORD}))
            .unaudited("sign-in: starts a session, changes no data"),
        Call::post("/api/projects/")
            .by(&ada)
            .json(json!({"name": "Roof"}))
            .answers(201),
        Call::post(format!("/api/projects/{project}/done/")).by(&ada),
        Call::get("/api/projects/").by(&ada),
    ])
    .run(&app)
    .await;
});

db_test!(the_table_fails_what_breaks_its_promises, |backend| {
    use futures_util::FutureExt;
    use kernel::conformance::{Call, Table};
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (ada, _) = account(&app, "ada@example.org").await;
    let snapshots = std::env::temp_dir().join(format!(
        "campus_test_snapshots_{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&snapshots).unwrap();
    std::fs::write(
        snapshots.join("post_api_projects.json"),
        r#"{"id": "<id>", "owner_id": "<id>", "name": "Walls", "done": false}"#,
    )
    .unwrap();
    // An audited write declared unaudited, a body unlike its snapshot, a
    // token that reaches the audit table, and a write operation of the
    // document left out.
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let table = Table::new(&snapshots).calls([
        Call::post("/api/projects/")
            .by(&ada)
            .json(json!({"name": "Roof", "password": "Hunter-2-secret"}))
            .answers(201)
            .unaudited("wrongly"),
        Call::post("/api/projects/")
            .by(&ada)
            .json(json!({"name": token}))
            .answers(201),
    ]);
    let failed = std::panic::AssertUnwindSafe(table.run(&app))
        .catch_unwind()
        .await
        .unwrap_err();
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    for expected in [
        "POST /api/projects/: 1 rows added to campus_audit_log instead of 0",
        "/name: expected \"Walls\", got \"Roof\"",
        "POST /api/projects/: campus_audit_log holds a secret the call carried",
        "POST /api/token/: no call in the table",
        "POST /api/projects/{id}/done/: no call in the table",
    ] {
        assert!(message.contains(expected), "{expected} not in {message}");
    }
    std::fs::remove_dir_all(&snapshots).ok();
});
