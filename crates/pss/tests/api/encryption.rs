//! Encryption at rest: the database holds ciphertext only; key rings rotate.

use crate::common::*;
use pss::seal::{JOURNAL_SEALED, PROFILE_SEALED};

const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// Writes distinctive medical text everywhere it can go; returns the
/// candidate and the ids of the profile, intake form, journal entry and note.
async fn fill(app: &TestApp) -> (Actor, i64, i64, i64, i64) {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let r = app
        .post("/api/intake/submit/")
        .bearer(&candidate.access)
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await;
    r.assert_status(201);
    let (profile, form) = (
        r.json["profile"]["id"].as_i64().unwrap(),
        r.json["intake"]["id"].as_i64().unwrap(),
    );
    let entry = app
        .journal_entry(
            &candidate,
            json!({"title": "Panic attack on the train", "content": "Felt overwhelmed by noise", "mood": "difficult", "energy_level": 3,
                   "activities": "Therapy session", "challenges": "Sensory overload", "achievements": "Went anyway",
                   "barriers_faced": "No quiet room", "notes": "Ask about headphones", "barrier_count": 2}),
        )
        .await;
    let note = app
        .note(&admin, candidate.id, "Discussed the methylphenidate dosage")
        .await;
    (candidate, profile, form, entry, note)
}

const SECRETS: &[&str] = &[
    "Dyslexia",
    "Methylphenidate",
    "methylphenidate",
    "Penicillin",
    "0104175009087",
    "Naledi",
    "Long Street",
    "Zanele",
    "0831234567",
    "NVDA",
    "Panic attack",
    "overwhelmed",
    "Sensory overload",
    "headphones",
    "2001-04-17",
];

fn assert_sealed(value: Option<String>, what: &str) {
    let value = value.unwrap_or_else(|| panic!("{what} is empty"));
    assert!(
        value.starts_with("enc:v1:"),
        "{what} is not ciphertext: {value}"
    );
    for secret in SECRETS {
        assert!(!value.contains(secret), "{what} holds {secret}");
    }
}

db_test!(the_database_holds_no_medical_plaintext, |app| {
    let (candidate, profile, form, entry, note) = fill(&app).await;
    for column in PROFILE_SEALED {
        assert_sealed(app.raw("pss_user_profiles", column, profile).await, column);
    }
    assert_sealed(
        app.raw("pss_intake_forms", "responses", form).await,
        "responses",
    );
    for column in JOURNAL_SEALED {
        assert_sealed(app.raw("pss_journal_entries", column, entry).await, column);
    }
    for column in ["title", "note_text"] {
        assert_sealed(app.raw("pss_admin_notes", column, note).await, column);
    }
    // The API still answers in plaintext.
    let r = app
        .get(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["diagnosis"], "Dyslexia and ADHD");
    assert_eq!(r.json["id_number"], "0104175009087");
    assert_eq!(r.json["date_of_birth"], "2001-04-17");

    // Nor does the audit log hold any of it.
    use kernel::audit_log::entity as audit_log;
    use sea_orm::EntityTrait;
    let rows = audit_log::Entity::find().all(&app.state.db).await.unwrap();
    let text = serde_json::to_string(&rows.iter().map(|r| &r.changes).collect::<Vec<_>>()).unwrap();
    for secret in SECRETS {
        assert!(!text.contains(secret), "the audit log holds {secret}");
    }
});

/// On SQLite the whole file (and its write-ahead log) is searched.
#[tokio::test]
async fn the_sqlite_file_holds_no_medical_plaintext() {
    let app = TestApp::new(TestBackend::Sqlite).await;
    fill(&app).await;
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    let path = kernel::db::sqlite_file(&app.url).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("enc:v1:"));
    for secret in SECRETS {
        assert!(!text.contains(secret), "the database file holds {secret}");
    }
}

db_test!(ciphertext_moved_to_another_row_does_not_decrypt, |app| {
    let first = app.candidate().await;
    let second = app.candidate().await;
    let r = app
        .patch(&format!("/api/users/{}/profile/", first.id))
        .bearer(&first.access)
        .json(&json!({"diagnosis": "Epilepsy"}))
        .send()
        .await;
    let first_profile = r.json["id"].as_i64().unwrap();
    let stolen = app
        .raw("pss_user_profiles", "diagnosis", first_profile)
        .await
        .unwrap();
    let r = app
        .get(&format!("/api/users/{}/profile/", second.id))
        .bearer(&second.access)
        .send()
        .await;
    let second_profile = r.json["id"].as_i64().unwrap();
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let update = Query::update()
        .table(Alias::new("pss_user_profiles"))
        .value(Alias::new("diagnosis"), stolen)
        .and_where(Expr::col(Alias::new("id")).eq(second_profile))
        .to_owned();
    app.state.db.execute(&update).await.unwrap();
    let r = app
        .get(&format!("/api/users/{}/profile/", second.id))
        .bearer(&second.access)
        .send()
        .await;
    r.assert_status(500);
    assert_eq!(
        r.json,
        json!({"detail": "A server error occurred.", "code": "error"})
    );
});

db_test!(key_rings_rotate_and_rotate_keys_reencrypts, |app| {
    let (candidate, profile, form, entry, note) = fill(&app).await;
    let old_id = kernel::crypto::KeyRing::parse(KEY).unwrap().key_ids()[0].to_owned();
    let new_id = kernel::crypto::KeyRing::parse(NEW_KEY).unwrap().key_ids()[0].to_owned();
    assert!(
        app.raw("pss_user_profiles", "diagnosis", profile)
            .await
            .unwrap()
            .contains(&old_id)
    );

    // A node whose ring puts a new key first reads the old data and writes with the new key.
    let ring = format!("{NEW_KEY},{KEY}");
    let rotated = TestApp::on(&app.url, &[("CAMPUS_FIELD_ENCRYPTION_KEY", &ring)]).await;
    let r = rotated
        .get(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&candidate.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["diagnosis"], "Dyslexia and ADHD");
    rotated
        .patch(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&candidate.access)
        .json(&json!({"allergies": "Latex"}))
        .send()
        .await
        .assert_status(200);
    assert!(
        rotated
            .raw("pss_user_profiles", "allergies", profile)
            .await
            .unwrap()
            .contains(&new_id)
    );
    assert!(
        rotated
            .raw("pss_user_profiles", "diagnosis", profile)
            .await
            .unwrap()
            .contains(&old_id)
    );

    // A node holding only the new key cannot read what the old one wrote.
    let new_only = TestApp::on(&app.url, &[("CAMPUS_FIELD_ENCRYPTION_KEY", NEW_KEY)]).await;
    new_only
        .get(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&candidate.access)
        .send()
        .await
        .assert_status(500);

    // rotate-keys re-encrypts every old value with the first key ...
    let report = pss::rotate_keys(&rotated.state).await.unwrap();
    assert_eq!(report.values, 17 + 1 + 7 + 2);
    for (table, column, id) in [
        ("pss_user_profiles", "diagnosis", profile),
        ("pss_intake_forms", "responses", form),
        ("pss_journal_entries", "content", entry),
        ("pss_admin_notes", "note_text", note),
    ] {
        let value = rotated.raw(table, column, id).await.unwrap();
        assert!(
            value.contains(&new_id),
            "{table}.{column} still on the old key"
        );
    }
    // ... and is idempotent.
    assert_eq!(pss::rotate_keys(&rotated.state).await.unwrap().values, 0);

    // Now the new key alone reads everything.
    let r = new_only
        .get(&format!("/api/intake/{}/", candidate.id))
        .bearer(&candidate.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["diagnosis"], "Dyslexia and ADHD");
    assert_eq!(r.json["allergies"], "Latex");
    assert_eq!(r.json["intake"]["responses"]["preferred_name"], "Thandi");
    let r = new_only
        .get(&format!("/api/journal/{entry}/"))
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["title"], "Panic attack on the train");

    // Rotating with a ring missing the writing key stops and says where.
    let unrelated = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    let lost = TestApp::on(&app.url, &[("CAMPUS_FIELD_ENCRYPTION_KEY", unrelated)]).await;
    let error = pss::rotate_keys(&lost.state).await.unwrap_err();
    assert!(error.contains("cannot be decrypted"), "{error}");
    assert!(!error.contains("Dyslexia"));
});

#[test]
fn production_mode_refuses_to_start_without_a_key() {
    let error = pss::Config::from_lookup(|key| match key {
        "CAMPUS_DATABASE_URL" => Some("postgres://postgres@127.0.0.1/x".to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_FIELD_ENCRYPTION_KEY");
    let error = pss::Config::from_lookup(|key| match key {
        "CAMPUS_DATABASE_URL" => Some("sqlite::memory:".to_owned()),
        "CAMPUS_ENV" => Some("production".to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_FIELD_ENCRYPTION_KEY");
    let error = pss::Config::from_lookup(|key| match key {
        "CAMPUS_DATABASE_URL" => Some("postgres://postgres@127.0.0.1/x".to_owned()),
        "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
        "CAMPUS_FIELD_ENCRYPTION_KEY" => Some("too-short".to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_FIELD_ENCRYPTION_KEY");
    assert!(!error.to_string().contains("too-short"));
}
