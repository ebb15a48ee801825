//! `/api/auth/2fa/…`: TOTP setup, sign-in with a second factor, backup
//! codes, disabling, and mandatory 2FA for administrators.

use crate::common::*;
use pss::totp;

/// Now, after waiting out the end of a time step so that a test has at
/// least 10 seconds within one step.
async fn steady_now() -> i64 {
    let now = chrono::Utc::now().timestamp();
    if now.rem_euclid(30) >= 20 {
        let wait = 31 - now.rem_euclid(30);
        tokio::time::sleep(std::time::Duration::from_secs(wait as u64)).await;
    }
    chrono::Utc::now().timestamp()
}

/// The code of the time step `offset` steps from `now`.
fn code(secret: &str, now: i64, offset: i64) -> String {
    let key = totp::base32_decode(secret).unwrap();
    format!("{:06}", totp::code_at(&key, totp::step_of(now) + offset))
}

/// Sets 2FA up for a bearer (confirming with the previous step's code);
/// returns the secret and the backup codes.
async fn enable(app: &TestApp, bearer: &str, now: i64) -> (String, Vec<String>) {
    let r = app.post("/api/auth/2fa/setup/").bearer(bearer).send().await;
    r.assert_status(200);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/auth/2fa/verify-setup/")
        .bearer(bearer)
        .json(&json!({"totp_code": code(&secret, now, -1)}))
        .send()
        .await;
    r.assert_status(200);
    let codes = r.json["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn password_login(app: &TestApp, email: &str) -> Value {
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    r.json.clone()
}

async fn verify(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .post("/api/auth/2fa/verify-code/")
        .json(&body)
        .send()
        .await;
    (r.status.as_u16(), r.json.clone())
}

const EXPIRED: &str = "2FA session expired. Please login again with your email and password.";

db_test!(totp_sign_in_end_to_end, |app| {
    let now = steady_now().await;
    let user = app.candidate().await;
    let r = app
        .post("/api/auth/2fa/setup/")
        .bearer(&user.access)
        .send()
        .await;
    r.assert_status(200);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert_eq!(totp::base32_decode(&secret).unwrap().len(), 20);
    let uri = r.json["provisioning_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/PSS%20Backend:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")));
    assert_eq!(r.json["issuer"], "PSS Backend");
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(r.json["qr_code_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // Missing and wrong confirmation codes.
    let r = app
        .post("/api/auth/2fa/verify-setup/")
        .bearer(&user.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["totp_code"].is_array(), "{}", r.json);
    let wrong = format!(
        "{:06}",
        (code(&secret, now, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let r = app
        .post("/api/auth/2fa/verify-setup/")
        .bearer(&user.access)
        .json(&json!({"totp_code": wrong}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "Invalid TOTP code. Please try again.");
    let r = app
        .post("/api/auth/2fa/verify-setup/")
        .bearer(&user.access)
        .json(&json!({"totp_code": code(&secret, now, -1)}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "2FA has been enabled successfully");
    let backup: Vec<String> = r.json["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(backup.len(), 10);
    let shape = regex::Regex::new("^[A-Z0-9]{4}-[A-Z0-9]{4}$").unwrap();
    assert!(backup.iter().all(|c| shape.is_match(c)), "{backup:?}");

    // Already enabled.
    let r = app
        .post("/api/auth/2fa/setup/")
        .bearer(&user.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "2FA is already enabled for this account");

    // At rest: the secret sealed, the backup codes hashed.
    use pss::entities::{backup_code, two_factor};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = two_factor::Entity::find()
        .filter(two_factor::Column::UserId.eq(user.id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let stored = app.raw("pss_two_factor", "secret", row.id).await.unwrap();
    assert!(
        stored.starts_with("enc:v1:") && !stored.contains(&secret),
        "{stored}"
    );
    assert_eq!(
        app.raw("pss_two_factor", "pending_secret", row.id).await,
        None
    );
    let hashes = backup_code::Entity::find()
        .filter(backup_code::Column::UserId.eq(user.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    assert!(hashes.iter().all(|h| !backup.contains(&h.code_hash)));

    // The password alone no longer signs in.
    let first = password_login(&app, &user.email).await;
    assert_eq!(first["requires_2fa"], true);
    assert_eq!(first["email"], user.email.as_str());
    assert!(first.get("access").is_none() && first.get("refresh").is_none());
    let challenge = first["challenge"].as_str().unwrap().to_owned();

    // A wrong code, a wrong challenge.
    let (status, body) = verify(&app, json!({"email": user.email, "code": wrong})).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Invalid 2FA code"))
    );
    let (status, _) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 0), "challenge": "nope"}),
    )
    .await;
    assert_eq!(status, 401);
    // The right code completes the sign-in.
    let (status, body) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 0), "challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], user.email.as_str());
    app.get("/api/users/me/")
        .bearer(body["access"].as_str().unwrap())
        .send()
        .await
        .assert_status(200);
    // The sign-in window closed with it.
    let (status, body) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 1)}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["detail"], EXPIRED);
    // A used code cannot be replayed, even after a new password.
    password_login(&app, &user.email).await;
    let (status, body) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 0)}),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Invalid 2FA code"))
    );
    // A backup code works once (typed loosely).
    let loose = backup[3].replace('-', " ").to_lowercase();
    let (status, body) = verify(&app, json!({"email": user.email, "code": loose})).await;
    assert_eq!(status, 200, "{body}");
    password_login(&app, &user.email).await;
    let (status, _) = verify(&app, json!({"email": user.email, "code": backup[3]})).await;
    assert_eq!(status, 401);
    // The next step's code still works.
    let (status, _) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 1)}),
    )
    .await;
    assert_eq!(status, 200);

    // Audited without secrets.
    let rows = app.audit_rows("User", user.id).await;
    let text = serde_json::to_string(&rows.iter().map(|r| &r.changes).collect::<Vec<_>>()).unwrap();
    assert!(text.contains("\"two_factor\":\"enabled\""), "{text}");
    assert!(!text.contains(&secret) && !backup.iter().any(|c| text.contains(c)));
    // Each completed sign-in says how; a spent backup code says how many remain.
    assert_eq!(
        text.matches("\"two_factor_login\":\"totp\"").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("\"backup_codes_remaining\":9,\"two_factor_login\":\"backup_code\"")
            || text.contains("\"two_factor_login\":\"backup_code\",\"backup_codes_remaining\":9"),
        "{text}"
    );
});

db_test!(a_code_alone_signs_no_one_in, |app| {
    let now = steady_now().await;
    let user = app.candidate().await;
    let (secret, backup) = enable(&app, &user.access, now).await;
    for code in [code(&secret, now, 0), backup[0].clone()] {
        let (status, body) = verify(&app, json!({"email": user.email, "code": code})).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["detail"], EXPIRED);
    }
    let (status, body) = verify(
        &app,
        json!({"email": "nobody@example.org", "code": "123456"}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = verify(&app, json!({})).await;
    assert_eq!(status, 400);
    assert!(
        body["email"].is_array() && body["code"].is_array(),
        "{body}"
    );
    // Wrong codes count toward the sign-in lockout.
    password_login(&app, &user.email).await;
    for _ in 0..5 {
        let (status, _) = verify(&app, json!({"email": user.email, "code": "000000x"})).await;
        assert_eq!(status, 401);
    }
    let (status, _) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 0)}),
    )
    .await;
    assert_eq!(status, 429);
    app.post("/api/auth/login/")
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .assert_status(429);
});

db_test!(
    parallel_wrong_codes_are_evaluated_at_most_five_times,
    |app| {
        let now = steady_now().await;
        let user = app.candidate().await;
        let (secret, _) = enable(&app, &user.access, now).await;
        password_login(&app, &user.email).await;
        let sent: Vec<_> = (0..30)
            .map(|i| {
                let client = app.client.clone();
                let body = json!({"email": user.email, "code": format!("WRONG-{i:03}")});
                tokio::spawn(async move {
                    client
                        .post("/api/auth/2fa/verify-code/")
                        .json(&body)
                        .send()
                        .await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for response in sent {
            let r = response.await.unwrap();
            if r.status == 429 {
                assert_eq!(
                    r.json["detail"],
                    "Account locked: too many login attempts. Please try again later."
                );
            }
            statuses.push(r.status.as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            5,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            25,
            "{statuses:?}"
        );
        // The right code is refused as well now.
        let (status, _) = verify(
            &app,
            json!({"email": user.email, "code": code(&secret, now, 0)}),
        )
        .await;
        assert_eq!(status, 429);
    }
);

db_test!(disable_and_regenerate_need_the_password, |app| {
    let now = steady_now().await;
    let user = app.candidate().await;
    for path in ["/api/auth/2fa/disable/", "/api/auth/2fa/backup-codes/"] {
        let r = app
            .post(path)
            .bearer(&user.access)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "2FA is not enabled for this account");
    }
    let (secret, old) = enable(&app, &user.access, now).await;
    for path in ["/api/auth/2fa/disable/", "/api/auth/2fa/backup-codes/"] {
        let r = app
            .post(path)
            .bearer(&user.access)
            .json(&json!({"password": "Wrong-Password-1!"}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["detail"], "Password is incorrect");
        let r = app
            .post(path)
            .bearer(&user.access)
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["password"].is_array());
        app.post(path)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .assert_status(401);
    }
    let r = app
        .post("/api/auth/2fa/backup-codes/")
        .bearer(&user.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 10);
    let new = r.json["backup_codes"][0].as_str().unwrap().to_owned();
    assert!(!old.contains(&new));
    password_login(&app, &user.email).await;
    let (status, _) = verify(&app, json!({"email": user.email, "code": old[0]})).await;
    assert_eq!(status, 401, "old codes stop working");
    let (status, _) = verify(&app, json!({"email": user.email, "code": new})).await;
    assert_eq!(status, 200);

    let r = app
        .post("/api/auth/2fa/disable/")
        .bearer(&user.access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "2FA has been disabled for your account");
    let body = password_login(&app, &user.email).await;
    assert!(body["access"].is_string(), "{body}");
    let (status, _) = verify(
        &app,
        json!({"email": user.email, "code": code(&secret, now, 1)}),
    )
    .await;
    assert_eq!(status, 401);
    let changes: Vec<String> = app
        .audit_rows("User", user.id)
        .await
        .iter()
        .map(|r| serde_json::to_string(&r.changes).unwrap())
        .collect();
    assert!(
        changes.iter().any(|a| a.contains("disabled")),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .filter(|a| a.contains("backup_codes"))
            .count()
            >= 3
    );
});

db_test!(
    mandatory_admin_2fa_uses_a_setup_token,
    settings = &[("CAMPUS_PSS_REQUIRE_ADMIN_2FA", "true")],
    |app| {
        let now = steady_now().await;
        let email = format!("root-{}@example.org", tag());
        pss::create_superuser(&app.state, &email, PASSWORD, "Sipho Mthembu")
            .await
            .unwrap();
        let r = app
            .post("/api/auth/login/")
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(r.json["requires_2fa_setup"], true);
        assert_eq!(r.json["setup_url"], "/auth/2fa/setup/");
        assert!(r.json.get("access").is_none());
        let token = r.json["setup_token"].as_str().unwrap().to_owned();
        // Refused everywhere but the setup endpoints.
        for path in ["/api/users/me/", "/api/auth/sessions/", "/api/users/"] {
            app.get(path).bearer(&token).send().await.assert_status(401);
        }
        app.post("/api/auth/2fa/disable/")
            .bearer(&token)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .assert_status(401);
        app.post("/api/auth/refresh/")
            .json(&json!({"refresh": token}))
            .send()
            .await
            .assert_status(401);
        // An altered token is refused by the setup endpoints too.
        app.post("/api/auth/2fa/setup/")
            .bearer(&format!("{token}x"))
            .send()
            .await
            .assert_status(401);
        let (secret, _) = enable(&app, &token, now).await;
        // Spent once 2FA is on.
        app.post("/api/auth/2fa/setup/")
            .bearer(&token)
            .send()
            .await
            .assert_status(401);
        let first = password_login(&app, &email).await;
        assert_eq!(first["requires_2fa"], true);
        let (status, body) =
            verify(&app, json!({"email": email, "code": code(&secret, now, 0)})).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access"].as_str().unwrap();
        let r = app
            .post("/api/auth/2fa/disable/")
            .bearer(access)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "2FA is mandatory for admin and superuser accounts and cannot be disabled"
        );
        // Candidates sign in as before.
        let user = app.candidate().await;
        let body = password_login(&app, &user.email).await;
        assert!(body["access"].is_string());
    }
);
