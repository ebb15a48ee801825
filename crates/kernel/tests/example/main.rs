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

    // Pages in the system's style (axis's); only the caller's rows.
    let r = app.get("/api/projects/").bearer(&ada).send().await;
    r.assert_status(200);
    assert_eq!(r.json["pagination"]["total"], 1);
    assert_eq!(r.json["data"][0]["name"], "Roof");
    let r = app.get("/api/projects/").bearer(&bob).send().await;
    assert_eq!(r.json["pagination"]["total"], 0);

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

db_test!(lists_page_in_the_systems_style, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    let (ada, _) = account(&app, "ada@example.org").await;
    let (bob, _) = account(&app, "bob@example.org").await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        let r = app
            .post("/api/projects/")
            .bearer(&ada)
            .json(&json!({"name": name}))
            .send()
            .await;
        r.assert_status(201);
        ids.push(r.json["id"].clone());
    }
    let list = "http://localhost/api/projects/";
    let page = |query: &'static str| {
        let request = app.get(&format!("/api/projects/{query}")).bearer(&ada);
        async move {
            let r = request.send().await;
            r.assert_status(200);
            assert_eq!(r.json["results"], r.json["data"], "the original's keys too");
            r.json
        }
    };
    let ids_of = |json: &serde_json::Value| -> Vec<serde_json::Value> {
        let rows = json["data"].as_array().unwrap();
        rows.iter().map(|row| row["id"].clone()).collect()
    };

    // First, middle and last pages of two; past the end serves the last.
    let first = page("?limit=2").await;
    assert_eq!(
        first["pagination"],
        json!({"total": 5, "pages": 3, "page": 1, "limit": 2})
    );
    assert_eq!(ids_of(&first), ids[0..2]);
    assert_eq!(first["next"], format!("{list}?limit=2&page=2"));
    assert_eq!(first["previous"], json!(null));
    let middle = page("?limit=2&page=2").await;
    assert_eq!(ids_of(&middle), ids[2..4]);
    assert_eq!(
        (
            &middle["count"],
            &middle["page"],
            &middle["page_size"],
            &middle["total_pages"]
        ),
        (&json!(5), &json!(2), &json!(2), &json!(3))
    );
    assert_eq!(middle["next"], format!("{list}?limit=2&page=3"));
    assert_eq!(middle["previous"], format!("{list}?limit=2&page=1"));
    let last = page("?page=3&page_size=2").await;
    assert_eq!(ids_of(&last), ids[4..]);
    assert_eq!(last["next"], json!(null));
    let beyond = page("?limit=2&page=9").await;
    assert_eq!(beyond["pagination"]["page"], 3);
    assert_eq!(ids_of(&beyond), ids[4..]);

    // The resource's size: 10 by default, at most 100.
    let all = page("").await;
    assert_eq!(
        all["pagination"],
        json!({"total": 5, "pages": 1, "page": 1, "limit": 10})
    );
    assert_eq!(page("?limit=500").await["page_size"], 100);
    let r = app.get("/api/projects/?page=4").bearer(&bob).send().await;
    assert_eq!(
        r.json["pagination"],
        json!({"total": 0, "pages": 1, "page": 1, "limit": 10})
    );

    // Anything but a positive integer is a 400 naming the parameter.
    for (query, message) in [
        ("page=abc", "page must be a valid integer, got: abc"),
        ("page=0", "page must be a valid integer, got: 0"),
        ("limit=-1", "limit must be a valid integer, got: -1"),
        (
            "page_size=2.5",
            "page_size must be a valid integer, got: 2.5",
        ),
    ] {
        let r = app
            .get(&format!("/api/projects/?{query}"))
            .bearer(&ada)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["error"]["message"], message);
    }
});

#[test]
fn the_document_tells_the_systems_paging() {
    let document = kernel::system::openapi::<Example>();
    let problems = kernel::docs::lint_for::<kernel::listing::Axis>(&document);
    assert_eq!(problems, Vec::<String>::new());
    let json = serde_json::to_value(&document).unwrap();
    let list = &json["paths"]["/api/projects/"]["get"];
    let page = &list["parameters"][0];
    assert_eq!(page["name"], "page");
    assert!(
        page["description"]
            .as_str()
            .unwrap()
            .contains("past the end serves the last page")
    );
    assert!(
        list["responses"]["400"]["description"]
            .as_str()
            .unwrap()
            .contains("Invalid page parameter")
    );
    assert!(list["responses"].get("404").is_none(), "no page is a 404");
    let body = &list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    let name = body.as_str().unwrap().rsplit('/').next().unwrap();
    let schema = &json["components"]["schemas"][name];
    for key in ["data", "pagination", "results", "next", "previous"] {
        assert!(schema["properties"].get(key).is_some(), "{key}");
    }
    assert_eq!(
        kernel::docs::lint(&document),
        vec!["GET /api/projects/: a list must list 400 and 404"],
        "DRF's rules are not axis's"
    );
}

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
    let db = &state.kernel().db;
    let (claims, ada) = kernel::identity::rotate(state, db, &refresh).await.unwrap();
    assert_eq!(claims.user_id, ada.id.to_string());
    // A rotated refresh token is spent.
    let reused = kernel::identity::rotate(state, db, &refresh)
        .await
        .unwrap_err();
    assert_eq!(reused.status(), 401);

    kernel::identity::end_tokens(db, &ada, None).await.unwrap();
    app.get("/api/projects/")
        .bearer(&access)
        .send()
        .await
        .assert_status(401);
});

db_test!(each_tenant_sees_only_its_own_database, |backend| {
    let app = TestApp::<Example>::start(backend, &[]).await;
    // A second tenant: its own database, migrated like the first.
    let other = kernel::db::connect(&kernel::testing::fresh_database(backend).await)
        .await
        .unwrap();
    kernel::system::migrate::<Example>(&other).await.unwrap();
    app.state
        .1
        .lock()
        .unwrap()
        .insert("beta".into(), other.clone());

    let (home, _) = account(&app, "ada@example.org").await;
    // The same email signs up in tenant beta: another account, another id space.
    let r = app
        .post("/api/token/")
        .header("x-tenant", "beta")
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);
    let new = kernel::system::NewSuperuser {
        email: "ada@example.org".into(),
        password: PASSWORD.into(),
        full_name: String::new(),
    };
    let beta_state = system::AppState(
        kernel::Kernel::new(other.clone(), (*app.state.kernel().settings).clone()).unwrap(),
        system::Tenants::default(),
    );
    <Example as kernel::System>::create_superuser(&beta_state, &new)
        .await
        .unwrap();
    let r = app
        .post("/api/token/")
        .header("x-tenant", "beta")
        .json(&json!({"email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    let beta = r.json["access"].as_str().unwrap().to_owned();

    // Handlers are the same; the data is the tenant's.
    app.post("/api/projects/")
        .header("x-tenant", "beta")
        .bearer(&beta)
        .json(&json!({"name": "Beta only"}))
        .send()
        .await
        .assert_status(201);
    let r = app.get("/api/projects/").bearer(&home).send().await;
    r.assert_status(200);
    assert_eq!(
        r.json["count"], 0,
        "the default tenant sees none of beta's rows"
    );
    let r = app
        .get("/api/projects/")
        .header("x-tenant", "beta")
        .bearer(&beta)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let rows = kernel::audit_log::entity::Entity::find()
        .count(&other)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the audit row is in the tenant's database");

    // A token is good only in its own tenant, though the account ids match.
    for (token, tenant) in [(&home, Some("beta")), (&beta, None)] {
        let mut request = app.get("/api/projects/").bearer(token);
        if let Some(tenant) = tenant {
            request = request.header("x-tenant", tenant);
        }
        request.send().await.assert_status(401);
    }
    let r = app
        .get("/api/projects/")
        .header("x-tenant", "gamma")
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["error"]["message"], "Unknown tenant.");
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

mod scale;
