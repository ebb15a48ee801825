//! `campus import-django clearance` on databases made by the MksU original
//! itself (tests/fixtures/django: its migrations, its models, its seeding
//! command; README there), on every backend: the SQLite original into SQLite
//! and MariaDB, the PostgreSQL original into PostgreSQL.

use crate::common::*;
use clearance::Clearance;
use kernel::System;
use kernel::import::{Options, Report};
use kernel::testing::database_from_dump;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/django");
const SQLITE_DUMP: &str = include_str!("../fixtures/django/original.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("../fixtures/django/original.postgres.sql");

/// The original's database beside the app's: PostgreSQL for an app on
/// PostgreSQL, SQLite otherwise.
async fn original(app: &TestApp) -> String {
    if app.url.starts_with("postgres") {
        database_from_dump(TestBackend::Postgres, POSTGRES_DUMP).await
    } else {
        database_from_dump(TestBackend::Sqlite, SQLITE_DUMP).await
    }
}

fn options(from: &str) -> Options {
    Options {
        from: from.to_owned(),
        media_root: Some(format!("{FIXTURE}/media").into()),
        dry_run: false,
        field_encryption_key: None,
    }
}

async fn import(app: &TestApp, options: &Options) -> Report {
    Clearance::import_django(&app.state, options)
        .await
        .expect("the import runs")
}

/// (read, created, updated, unchanged, reported) of one step.
fn tally(report: &Report, name: &str) -> (u64, u64, u64, u64, u64) {
    let t = report
        .tally(name)
        .unwrap_or_else(|| panic!("no step {name}"));
    (t.read, t.created, t.updated, t.unchanged, t.reported)
}

/// Rows per table, but for the job queue's own bookkeeping (its workers run).
async fn data(app: &TestApp) -> std::collections::BTreeMap<String, i64> {
    let mut counts = app.row_counts().await;
    counts.retain(|table, _| !table.starts_with("campus_job"));
    counts
}

fn problem<'a>(report: &'a Report, entity: &str, needle: &str) -> &'a kernel::import::Problem {
    report
        .problems
        .iter()
        .find(|p| p.entity == entity && p.reason.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no {entity} problem with {needle:?}: {:#?}",
                report.problems
            )
        })
}

db_test!(
    everything_comes_over_and_a_second_run_changes_nothing,
    |app| {
        let from = original(&app).await;
        let report = import(&app, &options(&from)).await;

        assert_eq!(tally(&report, "departments"), (9, 9, 0, 0, 0));
        assert_eq!(tally(&report, "schools"), (2, 2, 0, 0, 0));
        assert_eq!(tally(&report, "academic departments"), (3, 3, 0, 0, 0));
        assert_eq!(tally(&report, "courses"), (4, 4, 0, 0, 0));
        assert_eq!(tally(&report, "users"), (27, 26, 0, 0, 1));
        assert_eq!(tally(&report, "students"), (13, 12, 0, 0, 1));
        let requests = tally(&report, "clearance requests");
        assert_eq!((requests.0, requests.1 + requests.4), (11, 11));
        let approvals = tally(&report, "approvals");
        assert_eq!((approvals.0, approvals.1 + approvals.4), (94, 94));
        let payments = tally(&report, "payments");
        assert_eq!((payments.0, payments.1 + payments.4), (8, 8));
        assert_eq!(tally(&report, "notifications").0, 107);
        assert_eq!(tally(&report, "audit logs"), (51, 51, 0, 0, 0));
        // 5 receipts, 5 fee statements and one approval's evidence.
        assert_eq!(tally(&report, "files"), (11, 11, 0, 0, 0));

        // What the original allowed and campus does not is reported, with why.
        problem(&report, "users", "differs only in letter case");
        assert!(problem(&report, "users", "letter case").source.len() >= 32);
        problem(&report, "students", "sce-cs-77-2023");
        problem(&report, "payments", "not positive");
        problem(&report, "gowns", "size XS");
        let summary = report.to_string();
        assert!(summary.contains("row(s) not imported"), "{summary}");

        // Every imported user signs in with the original password: Django's
        // PBKDF2 at 600 000 and 260 000 iterations, and Argon2id.
        let registrar = app.sign_in("registrar@mksu.ac.ke", "Admin#Mksu2025").await;
        app.sign_in("library.officer@mksu.ac.ke", "Staff#Mksu2025")
            .await;
        app.sign_in("brian.otieno@students.mksu.ac.ke", "Student#Mksu2025")
            .await;
        app.sign_in("mary.wanjiku@students.mksu.ac.ke", "Student#Mksu2025")
            .await;
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": "registrar@mksu.ac.ke", "password": "wrong-password"}))
            .send()
            .await;
        r.assert_status(401);

        // Hashes made with other parameters are replaced at sign-in.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let library = clearance::entities::user::Entity::find()
            .filter(clearance::entities::user::Column::Email.eq("library.officer@mksu.ac.ke"))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !library.password.contains("$260000$"),
            "{}",
            library.password
        );

        // The superuser of the original (role `student` there) administers.
        let root = app.sign_in("admin@mksu.ac.ke", "admin123456").await;
        app.get("/api/users/")
            .bearer(&root.access)
            .send()
            .await
            .assert_status(200);

        // Staff roles are officers of their office, whose type reads lower-case.
        let users = app
            .get("/api/users/?page_size=100")
            .bearer(&registrar.access)
            .send()
            .await;
        users.assert_status(200);
        let finance = users.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "finance.officer@mksu.ac.ke")
            .unwrap()
            .clone();
        assert_eq!(finance["role"], "department_staff");
        let offices = app
            .get("/api/departments/?page_size=100")
            .bearer(&registrar.access)
            .send()
            .await;
        let finance_office = offices.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == "FINANCE")
            .unwrap()
            .clone();
        assert_eq!(finance_office["department_type"], "finance");
        assert_eq!(finance["department"], finance_office["id"]);

        // Amounts keep their cents; receipts and fee statements download.
        let payments = app
            .get("/api/finance/payments/?page_size=100")
            .bearer(&registrar.access)
            .send()
            .await;
        payments.assert_status(200);
        let list = payments.json["results"].as_array().unwrap();
        assert_eq!(list.len() as u64, tally(&report, "payments").1);
        assert!(list.iter().any(|p| p["amount"] == "5500.50"), "{list:?}");
        let mary = list
            .iter()
            .find(|p| p["registration_number"] == "SCE/CS/0001/2021")
            .unwrap();
        let receipt = app
            .get(mary["receipt"].as_str().unwrap())
            .bearer(&registrar.access)
            .send()
            .await;
        receipt.assert_status(200);
        assert_eq!(
            receipt.body,
            std::fs::read(format!(
                "{FIXTURE}/media/receipts/receipt_SCE_CS_0001_2021.pdf"
            ))
            .unwrap()
        );
        let statement = app
            .get(mary["fee_statement"].as_str().unwrap())
            .bearer(&registrar.access)
            .send()
            .await;
        statement.assert_status(200);

        // A student sees their own payment and notifications, the original's
        // types read as the spec's.
        let brian = app
            .sign_in("brian.otieno@students.mksu.ac.ke", "Student#Mksu2025")
            .await;
        let own = app
            .get("/api/finance/payments/")
            .bearer(&brian.access)
            .send()
            .await;
        own.assert_status(200);
        assert_eq!(own.json["count"], 1);
        let notes = app
            .get("/api/notifications/?page_size=100")
            .bearer(&brian.access)
            .send()
            .await;
        notes.assert_status(200);
        let notes = notes.json["results"].as_array().unwrap();
        assert!(!notes.is_empty());
        assert!(notes.iter().all(|n| {
            ["approval", "rejection", "payment", "status_update", "gown"]
                .contains(&n["notification_type"].as_str().unwrap())
        }));

        // Audit rows keep no request headers, tokens or passwords.
        for needle in ["Bearer ", "Student#Mksu2025", "Authorization"] {
            assert_eq!(
                kernel::testing::rows_containing(app.db(), "audit_logs", needle).await,
                0,
                "{needle}"
            );
        }

        // A second run finds everything in place.
        let counts = data(&app).await;
        let again = import(&app, &options(&from)).await;
        assert!(!again.changed(), "{again}");
        assert_eq!(again.tally("users").unwrap().unchanged, 26);
        assert_eq!(tally(&again, "files").3, 11);
        assert_eq!(data(&app).await, counts);
        assert!(again.to_string().contains("nothing to change"));
        // Signing in re-hashed passwords; the import keeps campus's hashes.
        app.sign_in("library.officer@mksu.ac.ke", "Staff#Mksu2025")
            .await;
    }
);

db_test!(a_dry_run_reports_and_writes_nothing, |app| {
    let from = original(&app).await;
    let before = data(&app).await;
    let report = import(
        &app,
        &Options {
            dry_run: true,
            ..options(&from)
        },
    )
    .await;
    assert_eq!(tally(&report, "users"), (27, 26, 0, 0, 1));
    assert!(report.to_string().contains("dry run: nothing was written"));
    assert_eq!(data(&app).await, before);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "registrar@mksu.ac.ke", "password": "Admin#Mksu2025"}))
        .send()
        .await;
    r.assert_status(401);
});

db_test!(
    what_is_not_the_original_is_refused_before_anything_is_written,
    |app| {
        let before = data(&app).await;
        for (from, needle) in [
            ("sqlite:///nowhere/db.sqlite3".to_owned(), "does not exist"),
            ("ftp://example.org/db".to_owned(), "not a database URL"),
            (
                database_from_dump(TestBackend::Sqlite, "CREATE TABLE unrelated (id INTEGER);")
                    .await,
                "has no table departments",
            ),
        ] {
            let error = Clearance::import_django(&app.state, &options(&from))
                .await
                .expect_err("refused");
            assert!(error.contains(needle), "{error}");
        }
        assert_eq!(data(&app).await, before);
    }
);

db_test!(
    files_that_cannot_be_copied_are_reported_and_the_rows_kept,
    |app| {
        let from = original(&app).await;
        let report = import(
            &app,
            &Options {
                media_root: None,
                ..options(&from)
            },
        )
        .await;
        assert_eq!(tally(&report, "files"), (11, 0, 0, 0, 11));
        problem(&report, "files", "no --media-root");
        let payments = tally(&report, "payments");
        assert_eq!(payments.0, payments.1 + payments.4);
        assert!(payments.1 >= 7);
    }
);
