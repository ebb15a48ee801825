//! `campus import-django axis` on databases made by the AXIS original
//! itself (tests/fixtures/django: its migrations, its models, its seeding
//! script; README there), on every backend: the SQLite original into SQLite
//! and MariaDB, the PostgreSQL original into PostgreSQL. The two dumps hold
//! the same rows under different ids, so rows are found by e-mail or name.

use crate::common::*;
use axis::Axis;
use axis::entities::{client, document, person, user};
use kernel::System;
use kernel::import::{Options, Report};
use kernel::testing::database_from_dump;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

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
    Axis::import_django(&app.state, options)
        .await
        .expect("the import runs")
}

/// (read, created, updated, unchanged, reported) of one step.
type Tally = (u64, u64, u64, u64, u64);

fn tally(report: &Report, name: &str) -> Tally {
    let t = report
        .tally(name)
        .unwrap_or_else(|| panic!("no step {name}: {report}"));
    (t.read, t.created, t.updated, t.unchanged, t.reported)
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

/// Every step's tally on a first import, the same on every backend.
const FIRST: &[(&str, Tally)] = &[
    ("users", (27, 26, 0, 0, 1)),
    ("accounts", (2, 2, 0, 0, 0)),
    // admin, manager, hr_manager, document_manager and manage_documents
    // (with its three roles) are campus's own, matched by name.
    ("roles", (5, 1, 4, 0, 0)),
    ("permissions", (3, 2, 1, 0, 0)),
    ("role permissions", (6, 3, 0, 3, 0)),
    ("user roles", (5, 5, 0, 0, 0)),
    ("industries", (12, 12, 0, 0, 0)),
    ("clients", (14, 11, 0, 0, 3)),
    ("tags", (5, 4, 0, 0, 1)),
    ("tag links", (8, 7, 0, 0, 1)),
    ("client access", (6, 6, 0, 0, 0)),
    ("contacts", (15, 14, 0, 0, 1)),
    ("activities", (13, 13, 0, 0, 0)),
    ("contracts", (12, 10, 0, 0, 2)),
    ("profiles", (17, 16, 0, 0, 1)),
    ("persons", (30, 28, 0, 0, 2)),
    ("service categories", (4, 4, 0, 0, 0)),
    ("service providers", (8, 8, 0, 0, 0)),
    ("services", (8, 7, 0, 0, 1)),
    ("service assignments", (7, 6, 0, 0, 1)),
    ("service sessions", (13, 13, 0, 0, 0)),
    ("session feedback", (7, 6, 0, 0, 1)),
    ("kpi types", (3, 3, 0, 0, 0)),
    ("kpis", (8, 8, 0, 0, 0)),
    ("kpi assignments", (5, 4, 0, 0, 1)),
    ("documents", (11, 11, 0, 0, 0)),
    ("audit logs", (11, 11, 0, 0, 0)),
    ("entity changes", (8, 8, 0, 0, 0)),
    ("field changes", (5, 5, 0, 0, 0)),
    ("files", (9, 9, 0, 0, 0)),
];

db_test!(
    everything_comes_over_and_a_second_run_changes_nothing,
    |app| {
        let from = original(&app).await;
        let report = import(&app, &options(&from)).await;
        println!("{report}");
        for (step, expected) in FIRST {
            assert_eq!(tally(&report, step), *expected, "{step}: {report}");
        }
        // What the original allowed and campus does not is reported, with why
        // (README "expected problems").
        problem(&report, "users", "Grace.Nakato@acme.test");
        problem(&report, "clients", "HR@AcmeBank.test");
        problem(&report, "clients", "no e-mail or phone");
        problem(&report, "tags", "slug \"\"");
        problem(&report, "profiles", "gender \"M\"");
        problem(&report, "contracts", "renewal date 2027-01-01");
        problem(&report, "contracts", "is not after its start date");
        problem(&report, "service assignments", "end date 2025-11-01");
        problem(&report, "kpi assignments", "end date 2025-04-01");
        problem(&report, "persons", "a minor child");
        problem(&report, "session feedback", "Canceled");
        // The original's `Deleted` status (BaseStatus) is not campus's: campus
        // deletes with `deleted_at`.
        problem(&report, "clients", "status \"Deleted\"");
        problem(&report, "persons", "status \"Deleted\"");
        problem(&report, "services", "status \"Deleted\"");
        // Rows hanging off a reported row are reported naming it.
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.reason.contains("was not imported")),
            "{report}"
        );
        assert!(report.to_string().contains("row(s) not imported"));

        // Every user signs in with their old password: Django 5.2's PBKDF2 at
        // 1 000 000 iterations, older PBKDF2 at 600 000 and 260 000, Argon2id.
        let admin = app.sign_in("admin@axis.test", "Admin-Axis-2024!").await;
        app.sign_in("dan.docs@axis.test", "Docs-Pass-2024!").await;
        app.sign_in("mary.manager@axis.test", "Manager-Pass-2024!")
            .await;
        app.sign_in("harriet.hr@axis.test", "Hr-Argon-2024!").await;
        app.sign_in("grace.nakato@acme.test", "Grace-Pass-2024!")
            .await;
        for (email, password) in [
            ("admin@axis.test", "wrong-password"),
            ("susan.suspended@axis.test", "Suspended-Pass-2024!"),
            ("old.account@axis.test", "Deleted-Pass-2024!"),
            ("olivia.oauth@axis.test", ""),
            ("no.password@axis.test", "!"),
        ] {
            let r = app
                .post("/api/auth/token/")
                .json(&json!({"email": email, "password": password}))
                .send()
                .await;
            assert!(r.status == 400 || r.status == 401, "{email}: {}", r.status);
        }
        let deleted = user::Entity::find()
            .filter(user::Column::Email.eq("old.account@axis.test"))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert!(deleted.deleted_at.is_some());
        assert_eq!(deleted.tombstone, deleted.id);

        // Imported rows (24-character ids) are reachable through the API.
        let acme = client::Entity::find()
            .filter(client::Column::Name.eq("Acme Bank Uganda"))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(acme.id.len(), 24);
        let r = app
            .get(&format!("/api/clients/{}/", acme.id))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["email"], "hr@acmebank.test");
        let grace = person::Entity::find()
            .filter(person::Column::FullName.eq("Grace Nakato"))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        app.get(&format!("/api/persons/{}/", grace.id))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
        let r = app
            .get("/api/contracts/?page_size=100")
            .bearer(&admin.access)
            .header("X-Client-ID", &acme.id)
            .send()
            .await;
        r.assert_status(200);

        // A document's file downloads with the original's bytes.
        let agreement = document::Entity::find()
            .filter(document::Column::Title.eq("Acme Bank EAP Agreement 2025"))
            .filter(document::Column::Version.eq(1))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let r = app
            .get(&format!("/api/documents/{}/download/", agreement.id))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(
            r.body,
            std::fs::read(format!(
                "{FIXTURE}/media/documents/2026/11/30/acme-agreement-2025.pdf"
            ))
            .unwrap()
        );

        // Secrets in the original's trail stay out of campus's.
        assert_eq!(
            kernel::testing::rows_containing(app.db(), "axis_accounts", "eyJ").await,
            0
        );

        // A second run finds everything in place.
        let counts = app.row_counts().await;
        let again = import(&app, &options(&from)).await;
        assert!(!again.changed(), "{again}");
        assert_eq!(again.tally("users").unwrap().unchanged, 26);
        assert_eq!(tally(&again, "files").3, 9);
        assert_eq!(app.row_counts().await, counts);
        assert!(again.to_string().contains("nothing to change"));
        // Signing in re-hashed passwords; the import keeps campus's hashes.
        app.sign_in("mary.manager@axis.test", "Manager-Pass-2024!")
            .await;
    }
);

db_test!(a_dry_run_reports_and_writes_nothing, |app| {
    let from = original(&app).await;
    let before = app.row_counts().await;
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
    assert_eq!(app.row_counts().await, before);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "admin@axis.test", "password": "Admin-Axis-2024!"}))
        .send()
        .await;
    r.assert_status(401);
});

db_test!(
    what_is_not_the_original_is_refused_before_anything_is_written,
    |app| {
        let before = app.row_counts().await;
        for (from, needle) in [
            ("sqlite:///nowhere/db.sqlite3".to_owned(), "does not exist"),
            ("ftp://example.org/db".to_owned(), "not a database URL"),
            (
                database_from_dump(TestBackend::Sqlite, "CREATE TABLE unrelated (id INTEGER);")
                    .await,
                "has no table users",
            ),
        ] {
            let error = Axis::import_django(&app.state, &options(&from))
                .await
                .expect_err("refused");
            assert!(error.contains(needle), "{error}");
        }
        assert_eq!(app.row_counts().await, before);
    }
);

db_test!(
    files_that_cannot_be_copied_are_reported_and_the_documents_kept,
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
        assert_eq!(tally(&report, "files"), (9, 0, 0, 0, 9));
        problem(&report, "files", "no --media-root");
        assert_eq!(tally(&report, "documents"), (11, 11, 0, 0, 0));
    }
);
