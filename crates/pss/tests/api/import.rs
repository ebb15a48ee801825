//! `campus import-django pss` on databases made by the original PSS backend
//! itself (tests/fixtures/django: its migrations, models and serializers;
//! README there): SQLite's into SQLite and MariaDB, PostgreSQL's into
//! PostgreSQL.

use crate::common::*;
use kernel::System;
use kernel::import::{Options, Report};
use kernel::testing::database_from_dump;
use pss::Pss;
use pss::entities::profile;

const SQLITE_DUMP: &str = include_str!("../fixtures/django/original.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("../fixtures/django/original.postgres.sql");
/// The original's FIELD_ENCRYPTION_KEY (test only; README of the fixture).
const FERNET_KEY: &str = "RieA-LCkMAX2ggSIaBIesr7lno9Mnnv6OIjSZlIQ8E8=";
/// Plaintext the original encrypted: user 5's ID number, and a medication
/// its audit log holds in plain text.
const ID_NUMBER: &str = "9801155800087";
const MEDICATION: &str = "Methylphenidate";

async fn original(app: &TestApp) -> String {
    if app.url.starts_with("postgres") {
        database_from_dump(TestBackend::Postgres, POSTGRES_DUMP).await
    } else {
        database_from_dump(TestBackend::Sqlite, SQLITE_DUMP).await
    }
}

fn options(from: &str, key: Option<&str>) -> Options {
    Options {
        from: from.to_owned(),
        media_root: None,
        dry_run: false,
        field_encryption_key: key.map(str::to_owned),
    }
}

fn tally(report: &Report, name: &str) -> (u64, u64, u64, u64, u64) {
    let t = report
        .tally(name)
        .unwrap_or_else(|| panic!("no step {name}"));
    (t.read, t.created, t.updated, t.unchanged, t.reported)
}

fn totp_now(secret: &str) -> String {
    let key = pss::totp::base32_decode(secret).unwrap();
    let now = chrono::Utc::now().timestamp();
    format!("{:06}", pss::totp::code_at(&key, pss::totp::step_of(now)))
}

const NO_2FA_RULE: &[(&str, &str)] = &[("CAMPUS_PSS_REQUIRE_ADMIN_2FA", "false")];

db_test!(
    candidates_come_over_sealed_and_sign_in,
    settings = NO_2FA_RULE,
    |app| {
        let from = original(&app).await;
        let report = Pss::import_django(&app.state, &options(&from, Some(FERNET_KEY)))
            .await
            .expect("the import runs");

        assert_eq!(tally(&report, "users"), (16, 15, 0, 0, 1));
        let profiles = tally(&report, "profiles");
        assert_eq!((profiles.0, profiles.1, profiles.4), (16, 15, 1));
        assert_eq!(tally(&report, "two-factor"), (2, 2, 0, 0, 0));
        assert_eq!(tally(&report, "backup codes"), (20, 20, 0, 0, 0));
        assert_eq!(tally(&report, "privacy policies"), (2, 2, 0, 0, 0));
        assert_eq!(tally(&report, "admin notes").0, 11);
        assert_eq!(tally(&report, "consents").0, 10);
        assert_eq!(tally(&report, "deletion requests").0, 4);
        assert_eq!(tally(&report, "export requests").0, 4);
        assert_eq!(tally(&report, "password history").0, 4);
        let journal = tally(&report, "journal entries");
        assert_eq!(journal.0, 22);
        assert_eq!(journal.0, journal.1 + journal.4);
        let problems = &report.problems;
        assert!(
            problems.iter().any(|p| p.entity == "users"
                && p.source == "7"
                && p.reason.contains("letter case")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().any(|p| p.entity == "journal entries"
                && p.source == "22"
                && p.reason.contains("energy level 11")),
            "{problems:#?}"
        );

        // Old passwords sign in: PBKDF2 at 600 000 and 260 000, Argon2id.
        app.sign_in("nomvula.dlamini@capaciti.org.za", "Sup3r#Admin!2025")
            .await;
        app.sign_in("sipho.ndlovu@capaciti.org.za", "Cand1date#Pass!02")
            .await;
        app.sign_in("ayesha.patel@capaciti.org.za", "Argon#Admin!2025")
            .await;
        let candidate = app
            .sign_in("candidate.test@capaciti.org.za", "TestPass123!")
            .await;
        assert_eq!(candidate.id, 15);

        // Two-factor users keep their authenticator.
        let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "lerato.khumalo@capaciti.org.za", "password": "Cand1date#Pass!01"}))
        .send()
        .await;
        r.assert_status(200);
        assert_eq!(r.json["requires_2fa"], true, "{}", r.json);
        let r = app
            .post("/api/auth/2fa/verify-code/")
            .json(&json!({"email": "lerato.khumalo@capaciti.org.za",
                      "code": totp_now("KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"),
                      "challenge": r.json["challenge"]}))
            .send()
            .await;
        r.assert_status(200);
        let lerato = r.json["access"].as_str().unwrap().to_owned();

        // Medical data is ciphertext at rest, and reads back through the API.
        assert_eq!(
            kernel::testing::rows_containing(app.db(), profile::TABLE, ID_NUMBER).await,
            0
        );
        assert_eq!(
            kernel::testing::rows_containing(app.db(), profile::TABLE, "gAAAAA").await,
            0
        );
        let stored = app.raw(profile::TABLE, "id_number", 5).await.unwrap();
        assert!(kernel::crypto::KeyRing::is_encrypted(&stored), "{stored}");
        let r = app
            .get("/api/users/5/profile/")
            .bearer(&lerato)
            .send()
            .await;
        r.assert_status(200);
        assert!(r.text().contains(ID_NUMBER), "{}", r.text());
        // The original's audit log (plain medical values) stays behind.
        for table in ["campus_audit_log", "pss_journal_entries", "pss_admin_notes"] {
            assert_eq!(
                kernel::testing::rows_containing(app.db(), table, MEDICATION).await,
                0,
                "{table}"
            );
        }

        // A second run changes nothing: sealed values are not rewritten.
        let counts = app.row_counts().await;
        let diagnosis = app.raw(profile::TABLE, "diagnosis", 5).await;
        let again = Pss::import_django(&app.state, &options(&from, Some(FERNET_KEY)))
            .await
            .unwrap();
        assert!(!again.changed(), "{again}");
        assert_eq!(app.row_counts().await, counts);
        assert_eq!(app.raw(profile::TABLE, "diagnosis", 5).await, diagnosis);

        // New rows after the import get fresh ids (PostgreSQL's sequences moved).
        let fresh = app.candidate().await;
        assert!(fresh.id > 16, "{}", fresh.id);
    }
);

db_test!(a_wrong_or_missing_key_writes_nothing, |app| {
    let from = original(&app).await;
    let before = app.row_counts().await;
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let error = Pss::import_django(&app.state, &options(&from, Some(wrong)))
        .await
        .expect_err("refused");
    assert!(
        error.contains("does not open") && error.contains("Nothing was imported"),
        "{error}"
    );
    assert!(!error.contains(wrong));
    let error = Pss::import_django(&app.state, &options(&from, None))
        .await
        .expect_err("refused");
    assert!(error.contains("FIELD_ENCRYPTION_KEY"), "{error}");
    let error = Pss::import_django(&app.state, &options(&from, Some("not-a-key")))
        .await
        .expect_err("refused");
    assert!(error.contains("not a Fernet key"), "{error}");
    assert_eq!(app.row_counts().await, before);
});

db_test!(a_dry_run_counts_and_writes_nothing, |app| {
    let from = original(&app).await;
    let before = app.row_counts().await;
    let report = Pss::import_django(
        &app.state,
        &Options {
            dry_run: true,
            ..options(&from, Some(FERNET_KEY))
        },
    )
    .await
    .unwrap();
    assert_eq!(tally(&report, "users"), (16, 15, 0, 0, 1));
    assert_eq!(app.row_counts().await, before);
});
