//! A new user's way through PSS, end to end.

use crate::common::*;

db_test!(register_intake_journal_admin_notes_dashboards, |app| {
    // A superuser exists (`campus createsuperuser pss`) and promotes a staff member.
    let root = app.superuser().await;
    let admin = app.admin(&root).await;

    // A candidate registers, completes intake and keeps a journal.
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "lindiwe@example.org", "password": "Sunrise-Over-Table-9", "first_name": "Lindiwe", "last_name": "Dube"}))
        .send()
        .await;
    r.assert_status(201);
    let lindiwe = app
        .sign_in("lindiwe@example.org", "Sunrise-Over-Table-9")
        .await;
    let r = app
        .post("/api/intake/submit/")
        .bearer(&lindiwe.access)
        .json(&json!({"responses": {"diagnosis": "Low vision", "assistive_technology": "Screen magnifier", "emergency_contact_name": "Sibusiso Dube", "emergency_contact_phone": "0721234567"}}))
        .send()
        .await;
    r.assert_status(201);
    for (title, mood, energy, barriers) in
        [("Week one", "good", 7, 1), ("Exams", "difficult", 4, 3)]
    {
        app.journal_entry(
            &lindiwe,
            json!({"title": title, "content": "Notes", "mood": mood, "energy_level": energy, "barrier_count": barriers}),
        )
        .await;
    }

    // Another candidate sees none of it.
    let stranger = app.candidate().await;
    let r = app
        .get("/api/journal/")
        .bearer(&stranger.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    for path in [
        format!("/api/users/{}/", lindiwe.id),
        format!("/api/users/{}/profile/", lindiwe.id),
        format!("/api/intake/{}/", lindiwe.id),
    ] {
        app.get(&path)
            .bearer(&stranger.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get("/api/admin-notes/")
        .bearer(&stranger.access)
        .send()
        .await
        .assert_status(403);

    // The administrator finds her, reads her profile and journal, writes notes.
    let r = app
        .get("/api/users/candidates/?search=lindiwe")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["has_completed_intake"], true);
    let r = app
        .get(&format!("/api/users/{}/", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["profile"]["diagnosis"], "Low vision");
    assert_eq!(r.json["profile"]["emergency_contact_phone"], "0721234567");
    let r = app
        .get(&format!("/api/journal/?user={}", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    app.note(&admin, lindiwe.id, "Arrange large-print exam papers")
        .await;
    let r = app
        .get(&format!("/api/admin-notes/candidate/{}/", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["results"][0]["note_text"],
        "Arrange large-print exam papers"
    );

    // The dashboards add up.
    let r = app
        .get("/api/dashboard/stats/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_candidates"], 2);
    assert_eq!(r.json["active_candidates"], 1);
    assert_eq!(r.json["pending_intake"], 1);
    assert_eq!(r.json["recent_entries"], 2);
    assert_eq!(r.json["recent_barriers"], 4);
    assert_eq!(r.json["total_admin_notes"], 1);
    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&lindiwe.access)
        .send()
        .await;
    assert_eq!(r.json["total_entries"], 2);
    assert_eq!(r.json["avg_energy_level"], 5.5);
    assert_eq!(r.json["recent_barriers"], 4);
    assert_eq!(r.json["admin_notes_count"], 1);
    assert_eq!(r.json["has_completed_intake"], true);

    // The superuser sees the administrator's reads in the audit log.
    let r = app
        .get(&format!("/api/audit-logs/?action=read&actor={}", admin.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["object_type"], "UserProfile");
    assert!(!r.json.to_string().contains("Low vision"));

    // She logs out; her tokens stop working.
    app.post("/api/auth/logout/")
        .bearer(&lindiwe.access)
        .json(&json!({"refresh": lindiwe.refresh}))
        .send()
        .await
        .assert_status(200);
    app.get("/api/users/me/")
        .bearer(&lindiwe.access)
        .send()
        .await
        .assert_status(401);
});

/// What an authenticator app computes from an `otpauth://` URI (RFC 6238
/// with SHA-1, 6 digits, 30 s), written here independently of PSS.
fn authenticator_code(uri: &str, unix_seconds: i64) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let secret = uri
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .expect("a secret in the URI");
    let mut key = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in secret.chars().filter(|c| *c != '=') {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("base32") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            key.push((buffer >> bits) as u8);
        }
    }
    let counter = (unix_seconds / 30).to_be_bytes();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&counter);
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let number = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", number % 1_000_000)
}

fn quoted_printable_undone(message: &str) -> String {
    message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

db_test!(
    account_security_and_privacy_as_a_new_user_finds_them,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let sink = kernel::testing::SmtpSink::start().await;
        let node = TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        let deliver = |n: usize| {
            let (node, sink) = (&node, &sink);
            async move {
                pss::job_worker(&node.state)
                    .run_due(&node.state.db)
                    .await
                    .unwrap();
                sink.wait_for(n, std::time::Duration::from_secs(10)).await
            }
        };
        node.post("/api/popia/privacy-policies/")
        .bearer(&admin.access)
        .json(&json!({"version": "1.0", "title": "How PSS uses your data", "content": "…", "is_active": true}))
        .send()
        .await
        .assert_status(201);

        // Ayanda registers and consents to the policy in force.
        let email = format!("ayanda-{}@example.org", tag());
        let r = node
        .post("/api/auth/register/")
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Ayanda", "last_name": "Mokoena"}))
        .send()
        .await;
        r.assert_status(201);
        let first = r.json["access"].as_str().unwrap().to_owned();
        let policy = node.get("/api/popia/privacy-policy/").send().await;
        for consent_type in ["data_processing", "medical_data"] {
            node.post("/api/popia/consents/grant/")
            .bearer(&first)
            .json(&json!({"consent_type": consent_type, "privacy_policy_version_id": policy.json["id"]}))
            .send()
            .await
            .assert_status(201);
        }

        // She forgets her password and resets it through the emailed link.
        node.post("/api/auth/password-reset/request/")
            .json(&json!({"email": email}))
            .send()
            .await
            .assert_status(200);
        let mail = quoted_printable_undone(&deliver(1).await[0]);
        let link = "http://localhost:3000/reset-password?token=";
        let token: String = mail[mail.find(link).expect("a reset link") + link.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let new_password = "Kettle-On-The-Stove-31!";
        node.post("/api/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": new_password}))
            .send()
            .await
            .assert_status(200);
        node.post("/api/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": "Another-Fresh-Pass-55!"}))
            .send()
            .await
            .assert_status(400);
        node.get("/api/auth/me/")
            .bearer(&first)
            .send()
            .await
            .assert_status(401);
        let me = node.sign_in(&email, new_password).await;

        // She enables 2FA with her authenticator app.
        let mut now = chrono::Utc::now().timestamp();
        if now.rem_euclid(30) >= 20 {
            tokio::time::sleep(std::time::Duration::from_secs(
                (31 - now.rem_euclid(30)) as u64,
            ))
            .await;
            now = chrono::Utc::now().timestamp();
        }
        let r = node
            .post("/api/auth/2fa/setup/")
            .bearer(&me.access)
            .send()
            .await;
        r.assert_status(200);
        let uri = r.json["provisioning_uri"].as_str().unwrap().to_owned();
        let r = node
            .post("/api/auth/2fa/verify-setup/")
            .bearer(&me.access)
            .json(&json!({"totp_code": authenticator_code(&uri, now - 30)}))
            .send()
            .await;
        r.assert_status(200);
        let backup = r.json["backup_codes"][0].as_str().unwrap().to_owned();

        // Her laptop signs in with the app's code; her phone with a backup code.
        let two_step = |ua: &'static str, code: String| {
            let (node, email) = (&node, &email);
            async move {
                let r = node
                    .post("/api/auth/login/")
                    .header("user-agent", ua)
                    .json(&json!({"email": email, "password": new_password}))
                    .send()
                    .await;
                assert_eq!(r.json["requires_2fa"], true, "{}", r.json);
                assert!(r.json.get("access").is_none());
                let r = node
                    .post("/api/auth/2fa/verify-code/")
                    .header("user-agent", ua)
                    .json(&json!({"email": email, "code": code}))
                    .send()
                    .await;
                r.assert_status(200);
                r.json["access"].as_str().unwrap().to_owned()
            }
        };
        let laptop = two_step(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36",
            authenticator_code(&uri, now),
        )
        .await;
        let phone = two_step(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1",
        backup.clone(),
    )
    .await;
        // The backup code works once, and she is told it was used.
        node.post("/api/auth/login/")
            .json(&json!({"email": email, "password": new_password}))
            .send()
            .await
            .assert_status(200);
        node.post("/api/auth/2fa/verify-code/")
            .json(&json!({"email": email, "code": backup}))
            .send()
            .await
            .assert_status(401);
        let mails = deliver(3).await;
        assert!(
            mails
                .iter()
                .any(|m| m.contains("A backup code was used to sign in"))
        );

        // From her phone she sees the laptop's session and ends it.
        let r = node.get("/api/auth/sessions/").bearer(&phone).send().await;
        r.assert_status(200);
        let sessions = r.json["sessions"].as_array().unwrap();
        let windows = sessions
            .iter()
            .find(|s| s["os"].as_str().unwrap_or("").starts_with("Windows"))
            .expect("the laptop's session");
        node.delete(&format!("/api/auth/sessions/{}/", windows["id"]))
            .bearer(&phone)
            .send()
            .await
            .assert_status(200);
        node.get("/api/auth/me/")
            .bearer(&laptop)
            .send()
            .await
            .assert_status(401);

        // She downloads everything held about her.
        let r = node
            .get("/api/popia/data-export/")
            .bearer(&phone)
            .send()
            .await;
        r.assert_status(200);
        assert!(
            r.header("content-disposition")
                .unwrap()
                .starts_with("attachment;")
        );
        let data: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(data["user_account"]["email"], email);
        assert_eq!(data["consents"].as_array().unwrap().len(), 2);
        assert_eq!(data["two_factor"]["enabled"], true);
        assert_eq!(data["two_factor"]["unused_backup_codes"], 9);

        // She asks to be forgotten; an administrator approves and executes it.
        let r = node
            .post("/api/popia/deletion-requests/create/")
            .bearer(&phone)
            .json(&json!({"reason": "Finished the programme"}))
            .send()
            .await;
        r.assert_status(201);
        let request = r.json["id"].as_i64().unwrap();
        node.post(&format!("/api/popia/deletion-requests/{request}/review/"))
            .bearer(&admin.access)
            .json(&json!({"action": "approve"}))
            .send()
            .await
            .assert_status(200);
        node.post(&format!("/api/popia/deletion-requests/{request}/execute/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
        node.get("/api/auth/me/")
            .bearer(&phone)
            .send()
            .await
            .assert_status(401);
        let mails = deliver(5).await;
        assert!(
            mails
                .iter()
                .any(|m| m.contains("Your personal data has been deleted"))
        );
        let stored = crate::popia::everything_stored(&node).await;
        for gone in [email.as_str(), "Ayanda", "Mokoena"] {
            assert!(!stored.contains(gone), "{gone} is still stored");
        }
    }
);
