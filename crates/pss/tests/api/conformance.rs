//! PSS's conformance table: every write operation of the document, and the
//! list and detail of every resource, run in order against the real router.
//! Each write leaves exactly one row in `campus_audit_log` (sign-in, token
//! refresh, logout and the reset-token check aside), no secret reaches that
//! table, and every success body matches its snapshot in
//! `snapshots/endpoints/`. After the table, the audit table is searched for
//! every personal value and one-time code the calls carried: PSS records
//! which fields changed, never their values.

use std::time::Duration;

use kernel::conformance::{Call, Table};
use kernel::testing::SmtpSink;
use pss::totp;
use sea_orm::{EntityTrait, QueryOrder};

use crate::common::*;

const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/snapshots/endpoints");

/// The password every account is given a new one with.
const NEW_PASSWORD: &str = "Brighter-Morning-77!";

/// `body`'s `id`.
fn id(body: &Value) -> i64 {
    body["id"].as_i64().expect("an id")
}

/// Now, after waiting out the end of a time step if fewer than 10 seconds
/// of it remain: the codes drawn now stay valid while the table runs.
async fn steady_now() -> i64 {
    let now = chrono::Utc::now().timestamp();
    if now.rem_euclid(30) >= 20 {
        let wait = 31 - now.rem_euclid(30);
        tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())).await;
    }
    chrono::Utc::now().timestamp()
}

/// The TOTP code of `secret` for the time step `offset` steps from `now`.
fn code(secret: &str, now: i64, offset: i64) -> String {
    let key = totp::base32_decode(secret).expect("a base32 secret");
    format!("{:06}", totp::code_at(&key, totp::step_of(now) + offset))
}

/// The token of the reset link in a message (quoted-printable undone).
fn link_token(message: &str) -> String {
    let message = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = message.find("reset-password?token=").expect("a reset link")
        + "reset-password?token=".len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl TestApp {
    /// A POST as `actor` that must answer 201; its body.
    async fn created(&self, actor: &Actor, path: &str, body: Value) -> Value {
        let r = self
            .post(path)
            .bearer(&actor.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(201);
        r.json
    }

    /// A candidate registered with a fixed address and names, signed in.
    async fn registered(&self, name: &str, first: &str, last: &str) -> Actor {
        let email = format!("{name}@pss.example.org");
        let r = self
            .post("/api/auth/register/")
            .json(&json!({"email": email, "password": PASSWORD, "first_name": first, "last_name": last}))
            .send()
            .await;
        r.assert_status(201);
        self.sign_in(&email, PASSWORD).await
    }

    /// The id of the session `actor`'s token belongs to.
    async fn session_of(&self, actor: &Actor) -> i64 {
        let r = self
            .get("/api/auth/sessions/")
            .bearer(&actor.access)
            .send()
            .await;
        r.assert_status(200);
        let sessions = r.json["sessions"].as_array().expect("sessions");
        id(sessions
            .iter()
            .find(|s| s["is_current"] == true)
            .expect("the current session"))
    }
}

async fn run(backend: TestBackend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_settings(backend, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
    pss::create_superuser(
        &app.state,
        "root@pss.example.org",
        PASSWORD,
        "Sipho Mthembu",
    )
    .await
    .unwrap();
    let root = app.sign_in("root@pss.example.org", PASSWORD).await;
    app.created(
        &root,
        "/api/users/create-admin/",
        json!({"email": "admin@pss.example.org", "password": PASSWORD, "first_name": "Ayanda", "last_name": "Zulu"}),
    )
    .await;
    let admin = app.sign_in("admin@pss.example.org", PASSWORD).await;
    let a = &admin.access;

    // Candidates, each for the writes that end their sessions or data.
    let cand = app.registered("thandi", "Thandi", "Nkosi").await;
    let quitter = app.registered("quitter", "Lerato", "Mokoena").await;
    let changer = app.registered("changer", "Bongani", "Dlamini").await;
    let idle = app.registered("idle", "Sibusiso", "Khoza").await;
    let resetter = app.registered("resetter", "Nomsa", "Khumalo").await;
    let sessioner = app.registered("sessioner", "Kagiso", "Molefe").await;
    let ender = app.registered("ender", "Palesa", "Ndlovu").await;
    let target = app.registered("target", "Sibusiso", "Mahlangu").await;
    let setter = app.registered("setter", "Zodwa", "Shabalala").await;
    let twofa = app.registered("twofa", "Mandla", "Sithole").await;
    let leaver = app.registered("leaver", "Naledi", "Radebe").await;
    let canceller = app.registered("canceller", "Themba", "Nxumalo").await;
    let erasee = app.registered("erasee", "Lwazi", "Cele").await;

    // A reset link, read from the email it was sent in.
    app.post("/api/auth/password-reset/request/")
        .json(&json!({"email": resetter.email}))
        .send()
        .await
        .assert_status(200);
    pss::job_worker(&app.state)
        .run_due(&app.state.db)
        .await
        .unwrap();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    let reset_token = link_token(&messages[0]);

    // Sessions: the ones ended one by one, all but this one, all of them, and
    // by an administrator. Registering and signing in opened two sessions of
    // every candidate; more here, so each of those writes ends several.
    let other_session = app.sign_in(&sessioner.email, PASSWORD).await;
    let other_session = app.session_of(&other_session).await;
    app.sign_in(&sessioner.email, PASSWORD).await;
    app.sign_in(&sessioner.email, PASSWORD).await;
    app.sign_in(&ender.email, PASSWORD).await;
    app.sign_in(&target.email, PASSWORD).await;
    let spare = app.sign_in(&admin.email, PASSWORD).await;

    // Two-factor sign-in: set up (the secret is confirmed in the table).
    let r = app
        .post("/api/auth/2fa/setup/")
        .bearer(&twofa.access)
        .send()
        .await;
    r.assert_status(200);
    let secret = r.json["secret"].as_str().unwrap().to_owned();

    // Intake, journal and notes.
    let j1 = app
        .journal_entry(&cand, json!({"title": "First week", "content": "Settling in slowly.", "mood": "okay", "energy_level": 3}))
        .await;
    let j2 = app
        .journal_entry(&cand, json!({"title": "Spare", "content": "To be deleted.", "mood": "okay", "energy_level": 2}))
        .await;
    let n1 = app.note(&admin, cand.id, "Asked for a quiet room.").await;
    let n2 = app.note(&admin, cand.id, "Duplicate note.").await;

    // POPIA: the policy in force, a draft, a consent to withdraw, and
    // deletion requests to cancel, approve and execute.
    let policy = |version: &str, active: bool| json!({"version": version, "title": format!("Privacy policy {version}"), "content": "We hold your data to support you.", "effective_date": "2026-01-01", "is_active": active});
    app.created(&admin, "/api/popia/privacy-policies/", policy("1.0", true))
        .await;
    let draft = id(&app
        .created(&admin, "/api/popia/privacy-policies/", policy("1.1", false))
        .await);
    let medical = id(&app
        .created(
            &cand,
            "/api/popia/consents/grant/",
            json!({"consent_type": "medical_data"}),
        )
        .await);
    let to_cancel = id(&app
        .created(
            &canceller,
            "/api/popia/deletion-requests/create/",
            json!({"reason": "Changed my mind later"}),
        )
        .await);
    let to_review = id(&app
        .created(
            &leaver,
            "/api/popia/deletion-requests/create/",
            json!({"reason": "Leaving the programme"}),
        )
        .await);
    let to_erase = id(&app
        .created(
            &erasee,
            "/api/popia/deletion-requests/create/",
            json!({"reason": "Please forget me"}),
        )
        .await);
    app.post(&format!("/api/popia/deletion-requests/{to_erase}/review/"))
        .bearer(&root.access)
        .json(&json!({"action": "approve", "notes": "Identity confirmed"}))
        .send()
        .await
        .assert_status(200);

    let first_audit = {
        use kernel::audit_log::entity as audit_log;
        let first = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Id)
            .one(&app.state.db)
            .await
            .unwrap();
        first.unwrap().id
    };

    // The codes of the time step now and the next: the confirmation and the
    // sign-in each spend one, and both stay valid for at least 40 seconds.
    let now = steady_now().await;
    let (setup_code, sign_in_code) = (code(&secret, now, 0), code(&secret, now, 1));
    let c = cand.id;
    let profile = json!({
        "date_of_birth": "2001-04-17", "phone_number": "082 555 0101", "address": "7 Bree Street, Cape Town",
        "diagnosis": "Low vision", "medications": "Lubricating drops", "allergies": "Latex",
        "doctor_name": "Dr Ayesha Patel", "doctor_phone": "0215550102", "medical_notes": "Large print handouts",
        "emergency_contact_name": "Zanele Nkosi", "emergency_contact_phone": "0831234567",
        "emergency_contact_relationship": "Mother", "accommodations": "Front-row seat",
        "assistive_technology": "ZoomText", "learning_style": "Auditory",
        "support_needs": "Fortnightly check-ins", "communication_preferences": "WhatsApp",
    });
    let calls = vec![
        // Two-factor sign-in first: its codes are valid for a short time.
        Call::post("/api/auth/2fa/setup/")
            .by(&setter.access)
            .volatile(&["provisioning_uri", "qr_code_base64"]),
        Call::post("/api/auth/2fa/verify-setup/")
            .by(&twofa.access)
            .json(json!({"totp_code": setup_code}))
            .volatile(&["backup_codes"]),
        Call::post("/api/auth/login/")
            .json(json!({"email": twofa.email, "password": PASSWORD}))
            .volatile(&["challenge"])
            .unaudited("sign-in: asks for the second factor, changes no data"),
        Call::post("/api/auth/2fa/verify-code/")
            .json(json!({"email": twofa.email, "code": sign_in_code})),
        Call::post("/api/auth/2fa/backup-codes/")
            .by(&twofa.access)
            .json(json!({"password": PASSWORD}))
            .volatile(&["backup_codes"]),
        Call::post("/api/auth/2fa/disable/")
            .by(&twofa.access)
            .json(json!({"password": PASSWORD})),
        // Sessions: sign-in, refresh and logout change who is signed in, not the data.
        Call::post("/api/auth/register/")
            .json(json!({"email": "newcomer@pss.example.org", "password": PASSWORD, "first_name": "Ntombi", "last_name": "Mabuza"}))
            .answers(201),
        Call::post("/api/auth/login/")
            .json(json!({"email": admin.email, "password": PASSWORD}))
            .unaudited("sign-in: starts a session, changes no data"),
        Call::post("/api/auth/refresh/")
            .json(json!({"refresh": spare.refresh}))
            .unaudited("token refresh: rotates a session's token, changes no data"),
        Call::post("/api/auth/logout/")
            .by(&quitter.access)
            .json(json!({"refresh": quitter.refresh}))
            .unaudited("logout: ends a session, changes no data"),
        Call::get("/api/auth/sessions/")
            .by(&sessioner.access)
            .volatile(&["time_since_activity", "session_key"]),
        Call::delete(format!("/api/auth/sessions/{other_session}/"))
            .by(&sessioner.access)
            .answers(200),
        Call::delete("/api/auth/sessions/all-except-current/")
            .by(&sessioner.access)
            .answers(200),
        Call::delete("/api/auth/sessions/all/")
            .by(&ender.access)
            .answers(200),
        Call::get(format!(
            "/api/auth/admin/sessions/?user_email={}",
            target.email
        ))
        .by(a)
        .volatile(&["time_since_activity", "session_key"]),
        Call::post("/api/auth/admin/force-logout/")
            .by(a)
            .json(json!({"user_id": target.id, "reason": "Reported a lost phone"})),
        // Passwords.
        Call::post("/api/auth/password-change/")
            .by(&changer.access)
            .json(json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD})),
        Call::post("/api/auth/password-reset/request/")
            .json(json!({"email": resetter.email})),
        Call::post("/api/auth/password-reset/validate-token/")
            .json(json!({"token": reset_token}))
            .unaudited("token check: reads whether a reset link still works, changes nothing"),
        Call::post("/api/auth/password-reset/confirm/")
            .json(json!({"token": reset_token, "new_password": NEW_PASSWORD})),
        // Accounts.
        Call::post("/api/users/")
            .by(a)
            .json(json!({"email": "created@pss.example.org", "password": PASSWORD, "first_name": "Sizwe", "last_name": "Buthelezi"}))
            .answers(201),
        Call::post("/api/users/create-admin/")
            .by(&root.access)
            .json(json!({"email": "second-admin@pss.example.org", "password": PASSWORD, "first_name": "Refilwe", "last_name": "Masilela"}))
            .answers(201),
        Call::post("/api/auth/create-admin/")
            .by(&root.access)
            .json(json!({"email": "third-admin@pss.example.org", "password": PASSWORD, "first_name": "Nomsa", "last_name": "Mahlangu"}))
            .answers(201),
        Call::post("/api/auth/create-superuser/")
            .by(&root.access)
            .json(json!({"email": "second-root@pss.example.org", "password": PASSWORD, "first_name": "Themba", "last_name": "Ngcobo"}))
            .answers(201),
        Call::patch(format!("/api/users/{}/deactivate/", idle.id)).by(a),
        Call::patch(format!("/api/users/{}/activate/", idle.id)).by(a),
        Call::post("/api/users/create-candidate/")
            .by(a)
            .json(json!({"email": "invited@pss.example.org", "password": PASSWORD, "first_name": "Karabo", "last_name": "Phiri"}))
            .answers(201),
        Call::put(format!("/api/users/{c}/"))
            .by(a)
            .json(json!({"email": cand.email, "first_name": "Thandiwe", "last_name": "Nkosi"})),
        Call::patch(format!("/api/users/{c}/"))
            .by(a)
            .json(json!({"last_name": "Nkosi-Dube"})),
        Call::get("/api/users/").by(a),
        Call::get(format!("/api/users/{c}/")).by(a),
        Call::get("/api/users/candidates/").by(a),
        Call::get("/api/users/me/").by(&cand.access),
        // Profile and intake.
        Call::put(format!("/api/users/{c}/profile/"))
            .by(a)
            .json(profile),
        Call::patch(format!("/api/users/{c}/profile/"))
            .by(&cand.access)
            .json(json!({"medications": "Eye drops at noon"})),
        Call::get(format!("/api/users/{c}/profile/")).by(a),
        Call::post("/api/intake/submit/")
            .by(&cand.access)
            .json(json!({"responses": intake_answers()}))
            .answers(201),
        Call::get(format!("/api/intake/{c}/")).by(a),
        // Journal.
        Call::post("/api/journal/")
            .by(&cand.access)
            .json(json!({"title": "Exam week", "content": "Extra time helped a lot.", "mood": "good", "energy_level": 4, "challenges": "Noisy hall", "barrier_count": 1}))
            .answers(201),
        Call::put(format!("/api/journal/{j1}/"))
            .by(&cand.access)
            .json(json!({"title": "First week, revised", "content": "Settling in.", "mood": "good", "energy_level": 4})),
        Call::patch(format!("/api/journal/{j1}/"))
            .by(a)
            .json(json!({"notes": "Followed up in person"})),
        Call::delete(format!("/api/journal/{j2}/")).by(&cand.access),
        Call::get("/api/journal/").by(&cand.access),
        Call::get(format!("/api/journal/{j1}/")).by(&cand.access),
        Call::get("/api/journal/stats/").by(&cand.access),
        // Notes about candidates.
        Call::post("/api/admin-notes/")
            .by(a)
            .json(json!({"candidate": c, "note_text": "Prefers morning sessions.", "category": "achievement", "title": "Timetable", "tags": "schedule"}))
            .answers(201),
        Call::put(format!("/api/admin-notes/{n1}/"))
            .by(a)
            .json(json!({"candidate": c, "note_text": "Quiet room booked.", "category": "progress", "title": "Rooms", "tags": "rooms", "is_important": true})),
        Call::patch(format!("/api/admin-notes/{n1}/"))
            .by(a)
            .json(json!({"tags": "rooms, exams"})),
        Call::delete(format!("/api/admin-notes/{n2}/")).by(a),
        Call::get("/api/admin-notes/").by(a),
        Call::get(format!("/api/admin-notes/{n1}/")).by(a),
        Call::get(format!("/api/admin-notes/candidate/{c}/")).by(a),
        // POPIA: consents, policies, deletion requests, the export.
        Call::post("/api/popia/consents/grant/")
            .by(&cand.access)
            .json(json!({"consent_type": "data_processing"}))
            .answers(201),
        Call::post(format!("/api/popia/consents/{medical}/withdraw/")).by(&cand.access),
        Call::get("/api/popia/consents/").by(&cand.access),
        Call::post("/api/popia/privacy-policies/")
            .by(a)
            .json(policy("2.0", false))
            .answers(201),
        Call::post(format!("/api/popia/privacy-policies/{draft}/activate/")).by(a),
        Call::get("/api/popia/privacy-policies/").by(a),
        Call::get("/api/popia/privacy-policy/"),
        Call::post("/api/popia/deletion-requests/create/")
            .by(&cand.access)
            .json(json!({"reason": "Moving abroad next year"}))
            .answers(201),
        Call::post(format!("/api/popia/deletion-requests/{to_cancel}/cancel/"))
            .by(&canceller.access),
        Call::post(format!("/api/popia/deletion-requests/{to_review}/review/"))
            .by(a)
            .json(json!({"action": "reject", "notes": "Outstanding support plan"})),
        Call::post(format!("/api/popia/deletion-requests/{to_erase}/execute/"))
            .by(a)
            .volatile(&["deletion_summary"]),
        Call::get("/api/popia/deletion-requests/").by(a),
        Call::get("/api/popia/data-export/").by(&cand.access),
        // Dashboards.
        Call::get("/api/dashboard/stats/").by(a),
        Call::get("/api/dashboard/candidate-stats/").by(&cand.access),
        // The audit trail itself: the newest rows, and the first one.
        Call::get("/api/audit-logs/?page_size=8").by(&root.access),
        Call::get(format!("/api/audit-logs/{first_audit}/")).by(&root.access),
    ];
    Table::new(SNAPSHOTS)
        .calls(calls)
        .run::<pss::Pss>(&app)
        .await;

    // The export is a read that writes: it is logged, and audited once.
    assert_eq!(
        app.audit_rows_of_type("DataExportRequest").await,
        1,
        "one audit row per export"
    );

    // What the calls carried that no audit row may hold: personal and
    // medical values, names and addresses, free text, one-time codes and
    // secrets the table does not know as such.
    let audit = {
        use kernel::audit_log::entity as audit_log;
        let rows = audit_log::Entity::find().all(&app.state.db).await.unwrap();
        serde_json::to_string(&rows.iter().map(|r| &r.changes).collect::<Vec<_>>()).unwrap()
    };
    // The one value recorded on purpose: an administrator's reason for
    // forcing someone out, which the endpoint asks for the audit log.
    assert!(audit.contains("Reported a lost phone"), "{audit}");
    let mut personal: Vec<String> = intake_answers()
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    personal.extend(
        [
            "Low vision",
            "Lubricating drops",
            "Latex",
            "Ayesha Patel",
            "0215550102",
            "Large print",
            "Front-row seat",
            "ZoomText",
            "Fortnightly",
            "WhatsApp",
            "Bree Street",
            "Eye drops",
            "First week",
            "Settling in",
            "To be deleted",
            "Exam week",
            "Extra time helped",
            "Noisy hall",
            "Followed up",
            "quiet room",
            "Duplicate note",
            "morning sessions",
            "Timetable",
            "Quiet room booked",
            "Rooms",
            "Moving abroad",
            "Changed my mind",
            "Leaving the programme",
            "Please forget me",
            "Identity confirmed",
            "Outstanding support plan",
            "pss.example.org",
            "Thandi",
            "Nkosi",
            "Mthembu",
            "Ntombi",
            "Sizwe",
            "Refilwe",
            "Karabo",
            "Lwazi",
        ]
        .map(str::to_owned),
    );
    personal.extend([secret, setup_code, sign_in_code, reset_token]);
    for value in personal {
        assert!(
            !audit.contains(&value),
            "the audit table holds {value:?}: {audit}"
        );
    }
    let backup_code = regex::Regex::new("[A-Z0-9]{4}-[A-Z0-9]{4}").unwrap();
    assert!(!backup_code.is_match(&audit), "a backup code in {audit}");
}

impl TestApp {
    /// How many audit rows are about objects of `object_type`.
    async fn audit_rows_of_type(&self, object_type: &str) -> usize {
        use kernel::audit_log::entity as audit_log;
        use sea_orm::{ColumnTrait, QueryFilter};
        audit_log::Entity::find()
            .filter(audit_log::Column::ObjectType.eq(object_type))
            .all(&self.state.db)
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_sqlite() {
    run(TestBackend::Sqlite).await;
}

#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_postgres() {
    run(TestBackend::Postgres).await;
}

#[cfg(campus_mysql)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_mysql() {
    run(TestBackend::MySql).await;
}
