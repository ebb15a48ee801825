//! `/api/auth/…` and `/api/health/`.

use kernel::testing::TestResponse;

use crate::common::*;

fn register_body(email: &str) -> Value {
    json!({"email": email, "full_name": "Grace Njeri", "password": PASSWORD, "password_confirm": PASSWORD, "admission_number": "ADM-001"})
}

db_test!(health_is_public_and_exact, |app| {
    let r = app.get("/api/health/").send().await;
    r.assert_status(200);
    assert_eq!(
        r.body,
        br#"{"status":"healthy","service":"Machakos Clearance System API"}"#
    );
    let r = app.get("/api/auth/health/").send().await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "healthy");
});

db_test!(register_creates_a_student_and_signs_in, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("grace@students.mksu.ac.ke"))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["message"], "User registered successfully");
    assert_eq!(r.json["user"]["role"], "student");
    assert_eq!(r.json["user"]["role_display"], "Student");
    assert_eq!(r.json["user"]["admission_number"], "ADM-001");
    assert!(
        r.json["user"].get("password").is_none(),
        "the hash never leaves the server"
    );
    assert_eq!(r.json["access"], r.json["tokens"]["access"]);
    let access = r.json["access"].as_str().unwrap();
    let me = app.get("/api/auth/profile/").bearer(access).send().await;
    me.assert_status(200);
    assert_eq!(me.json["email"], "grace@students.mksu.ac.ke");
});

db_test!(register_refuses_other_roles_and_bad_input, |app| {
    let mut body = register_body("boss@mksu.ac.ke");
    body["role"] = json!("admin");
    let r = app.post("/api/auth/register/").json(&body).send().await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"role": ["Self-registration can only create student accounts."]})
    );

    let r = app
        .post("/api/auth/register/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    for field in ["email", "full_name", "password"] {
        assert_eq!(r.json[field], json!(["This field is required."]), "{field}");
    }

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "not-an-email", "full_name": "", "password": "123", "password_confirm": "123"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["email"], json!(["Enter a valid email address."]));
    assert_eq!(r.json["full_name"], json!(["This field may not be blank."]));
    assert_eq!(
        r.json["password"],
        json!([
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric."
        ])
    );

    let mut body = register_body("mismatch@mksu.ac.ke");
    body["password_confirm"] = json!("Something-Else-99");
    let r = app.post("/api/auth/register/").json(&body).send().await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"password": ["Password fields didn't match."]})
    );

    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": 5, "full_name": "X", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"email": ["Not a valid string."]}));

    // Nothing above created an account.
    let admin = app.admin().await;
    let users = app.get("/api/users/").bearer(&admin.access).send().await;
    assert_eq!(users.json["count"], 1);
});

db_test!(register_refuses_duplicates, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("dup@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("dup@MKSU.ac.ke"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["email"],
        json!(["User with this email already exists."])
    );
    assert_eq!(
        r.json["admission_number"],
        json!(["User with this admission number already exists."])
    );
});

db_test!(token_and_login_speak_simplejwt_and_the_original, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("jo@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);

    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "jo@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["access"].is_string() && r.json["refresh"].is_string());
    assert_eq!(r.json["user"]["email"], "jo@mksu.ac.ke");

    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "jo@mksu.ac.ke", "password": "wrong-password"}))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(
        r.json["detail"],
        "No active account found with the given credentials"
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "nobody@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);

    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "jo@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Login successful");
    assert!(r.json["tokens"]["access"].is_string());
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "jo@mksu.ac.ke", "password": "nope-nope-nope"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "jo@mksu.ac.ke"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"password": ["This field is required."]}));
});

db_test!(access_token_carries_the_spec_claims, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("claims@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    let actor = app.sign_in("claims@mksu.ac.ke", PASSWORD).await;
    let payload = actor.access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    for claim in [
        "user_id",
        "email",
        "role",
        "full_name",
        "admission_number",
        "token_type",
        "exp",
        "iat",
        "jti",
    ] {
        assert!(claims.get(claim).is_some(), "missing claim {claim}");
    }
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["role"], "student");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300,
        "5 minutes per spec"
    );
});

db_test!(inactive_accounts_cannot_sign_in, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    app.patch(&format!("/api/users/{}/", staff.id))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": staff.email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(401);
    // Deactivation also ends the tokens it already had.
    app.get("/api/auth/profile/")
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(401);
});

db_test!(refresh_rotates_and_a_reused_token_fails, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("rot@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    let actor = app.sign_in("rot@mksu.ac.ke", PASSWORD).await;
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": actor.refresh}))
        .send()
        .await;
    r.assert_status(200);
    let next_refresh = r.json["refresh"].as_str().unwrap().to_owned();
    assert_ne!(next_refresh, actor.refresh);
    app.get("/api/auth/verify/")
        .bearer(r.json["access"].as_str().unwrap())
        .send()
        .await
        .assert_status(200);

    let reused = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": actor.refresh}))
        .send()
        .await;
    reused.assert_status(401);
    assert_eq!(
        reused.json,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );

    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": next_refresh}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": actor.access}))
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(r.json["code"], "token_not_valid");
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": "garbage"}))
        .send()
        .await;
    r.assert_status(401);
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"refresh": ["This field is required."]}));
});

db_test!(concurrent_refreshes_of_one_token_succeed_once, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("race@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    let actor = app.sign_in("race@mksu.ac.ke", PASSWORD).await;
    let attempts = (0..6).map(|_| {
        let client = app.client.clone();
        let refresh = actor.refresh.clone();
        tokio::spawn(async move {
            client
                .post("/api/auth/token/refresh/")
                .json(&json!({"refresh": refresh}))
                .send()
                .await
                .status
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
});

db_test!(concurrent_password_changes_succeed_once, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("swap@mksu.ac.ke"))
        .send()
        .await;
    let access = r.json["access"].as_str().unwrap().to_owned();
    let attempts = (0..10).map(|i| {
        let client = app.client.clone();
        let access = access.clone();
        tokio::spawn(async move {
            client
                .put("/api/auth/change-password/")
                .bearer(&access)
                .json(&json!({"old_password": PASSWORD, "new_password": format!("Parallel-Secret-{i}!")}))
                .send()
                .await
        })
    });
    let mut won = Vec::new();
    let mut statuses = Vec::new();
    for (i, attempt) in attempts.enumerate() {
        let r = attempt.await.unwrap();
        statuses.push(r.status.as_u16());
        if r.status == 200 {
            won.push(i);
        }
    }
    assert_eq!(won.len(), 1, "{statuses:?}");
    // The losers were refused as a wrong old password, or (arriving after
    // the winner committed) with a token the change had already ended.
    assert!(
        statuses.iter().all(|s| [200, 400, 401].contains(s)),
        "{statuses:?}"
    );
    // Only the winner's password signs in now.
    app.sign_in("swap@mksu.ac.ke", &format!("Parallel-Secret-{}!", won[0]))
        .await;
    let other = (won[0] + 1) % 10;
    app.post("/api/auth/token/")
        .json(&json!({"email": "swap@mksu.ac.ke", "password": format!("Parallel-Secret-{other}!")}))
        .send()
        .await
        .assert_status(401);
});

db_test!(logout_blacklists_and_ends_every_token, |app| {
    app.post("/api/auth/register/")
        .json(&register_body("out@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    let first = app.sign_in("out@mksu.ac.ke", PASSWORD).await;
    let second = app.sign_in("out@mksu.ac.ke", PASSWORD).await;

    app.post("/api/auth/logout/")
        .json(&json!({"refresh": first.refresh}))
        .send()
        .await
        .assert_status(401);
    let r = app
        .post("/api/auth/logout/")
        .bearer(&first.access)
        .json(&json!({"refresh": "not-a-token"}))
        .send()
        .await;
    r.assert_status(400);
    app.get("/api/auth/profile/")
        .bearer(&first.access)
        .send()
        .await
        .assert_status(200);

    let r = app
        .post("/api/auth/logout/")
        .bearer(&first.access)
        .json(&json!({"refresh": first.refresh}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"message": "Logout successful"}));
    for token in [&first.access, &second.access] {
        let r = app.get("/api/auth/profile/").bearer(token).send().await;
        r.assert_status(401);
        assert_eq!(r.json["code"], "token_not_valid");
    }
    for refresh in [&first.refresh, &second.refresh] {
        app.post("/api/auth/token/refresh/")
            .json(&json!({"refresh": refresh}))
            .send()
            .await
            .assert_status(401);
    }
    // Signing in again works; the frontend's empty logout body is accepted.
    let again = app.sign_in("out@mksu.ac.ke", PASSWORD).await;
    app.post("/api/auth/logout/")
        .bearer(&again.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
});

db_test!(profile_edits_only_name_and_admission_number, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("pro@mksu.ac.ke"))
        .send()
        .await;
    let access = r.json["access"].as_str().unwrap().to_owned();
    app.get("/api/auth/profile/")
        .send()
        .await
        .assert_status(401);

    let r = app
        .patch("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"full_name": "Grace W. Njeri", "role": "admin", "is_active": false, "email": "x@y.org", "password": "x"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["full_name"], "Grace W. Njeri");
    assert_eq!(r.json["role"], "student");
    assert_eq!(r.json["email"], "pro@mksu.ac.ke");
    assert_eq!(r.json["is_active"], true);
    app.post("/api/auth/token/")
        .json(&json!({"email": "pro@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await
        .assert_status(200);

    let r = app
        .put("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"admission_number": "ADM-9"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"full_name": ["This field is required."]}));
    let r = app
        .put("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"full_name": "G N", "admission_number": "ADM-9"}))
        .send()
        .await;
    r.assert_status(200);
    // A PUT leaves an omitted optional field as it is (DRF skips it)...
    let r = app
        .put("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"full_name": "Grace N"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["full_name"], "Grace N");
    assert_eq!(r.json["admission_number"], "ADM-9");
    // ... and null clears it.
    let r = app
        .put("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"full_name": "G N", "admission_number": null}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["admission_number"], Value::Null);
});

db_test!(change_password_checks_and_revokes, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("pw@mksu.ac.ke"))
        .send()
        .await;
    let access = r.json["access"].as_str().unwrap().to_owned();

    let r = app
        .put("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": "wrong", "new_password": "An0ther-Secret!"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"old_password": ["Old password is not correct."]})
    );
    let r = app
        .put("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": PASSWORD, "new_password": "An0ther-Secret!", "new_password_confirm": "different"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"new_password": ["Password fields didn't match."]})
    );
    let r = app
        .put("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": PASSWORD, "new_password": "short"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["new_password"][0],
        "This password is too short. It must contain at least 8 characters."
    );

    // The original frontend POSTs without a confirmation.
    let r = app
        .post("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": PASSWORD, "new_password": "An0ther-Secret!"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Password changed successfully");
    app.get("/api/auth/profile/")
        .bearer(&access)
        .send()
        .await
        .assert_status(401);
    app.get("/api/auth/profile/")
        .bearer(r.json["tokens"]["access"].as_str().unwrap())
        .send()
        .await
        .assert_status(200);
    app.post("/api/auth/token/")
        .json(&json!({"email": "pw@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await
        .assert_status(401);
    app.post("/api/auth/token/")
        .json(&json!({"email": "pw@mksu.ac.ke", "password": "An0ther-Secret!"}))
        .send()
        .await
        .assert_status(200);
});

db_test!(verify_returns_the_user_and_refuses_bad_tokens, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("ver@mksu.ac.ke"))
        .send()
        .await;
    let access = r.json["access"].as_str().unwrap().to_owned();
    let refresh = r.json["refresh"].as_str().unwrap().to_owned();
    for request in [app.get("/api/auth/verify/"), app.post("/api/auth/verify/")] {
        let r = request.bearer(&access).send().await;
        r.assert_status(200);
        assert_eq!(r.json["valid"], true);
        assert_eq!(r.json["user"]["email"], "ver@mksu.ac.ke");
    }
    let r = app.get("/api/auth/verify/").send().await;
    r.assert_status(401);
    assert_eq!(
        r.json,
        json!({"detail": "Authentication credentials were not provided.", "code": "not_authenticated"})
    );
    let r = app.get("/api/auth/verify/").bearer(&refresh).send().await;
    r.assert_status(401);
    assert_eq!(r.json["code"], "token_not_valid");
    let mut forged = access.clone();
    forged.push('x');
    app.get("/api/auth/verify/")
        .bearer(&forged)
        .send()
        .await
        .assert_status(401);
    let r = app
        .get("/api/auth/verify/")
        .header("authorization", "Token abc")
        .send()
        .await;
    r.assert_status(401);
});

db_test!(expired_access_tokens_are_refused, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("exp@mksu.ac.ke"))
        .send()
        .await;
    let id = Uuid::parse_str(r.json["user"]["id"].as_str().unwrap()).unwrap();
    let past = kernel::jwt::Jwt::new(
        "campus-test-secret-key-0123456789",
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
    );
    let pair = past.issue_pair(id, 0, &serde_json::Map::new()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = app
        .get("/api/auth/profile/")
        .bearer(&pair.access)
        .send()
        .await;
    r.assert_status(401);
    assert_eq!(r.json["code"], "token_not_valid");
    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": pair.refresh}))
        .send()
        .await
        .assert_status(401);
});

db_test!(imported_django_hashes_verify_and_are_upgraded, |app| {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("imp@mksu.ac.ke"))
        .send()
        .await;
    let id = Uuid::parse_str(r.json["user"]["id"].as_str().unwrap()).unwrap();
    // Made by Django 4.2's Argon2PasswordHasher for "lètmein-campus".
    let django = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2Vhc2FsdDAxMjM0NTY3ODlhYmNkZQ$PNT3uGeXznfTNLAn2CfThQveRvYzaGsnCToZMeYOxl8";
    let user = clearance::entities::user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut model: clearance::entities::user::ActiveModel = user.into();
    model.password = Set(django.to_owned());
    model.update(&app.state.db).await.unwrap();

    app.sign_in("imp@mksu.ac.ke", "lètmein-campus").await;
    let user = clearance::entities::user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password.starts_with("pbkdf2_sha256$1000$"),
        "re-hashed with the configured hasher"
    );
    app.sign_in("imp@mksu.ac.ke", "lètmein-campus").await;
});

#[tokio::test]
async fn throttling_follows_drf() {
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[
            ("CAMPUS_THROTTLE_ANON", "3/minute"),
            ("CAMPUS_THROTTLE_USER", "5/minute"),
        ],
    )
    .await;
    for _ in 0..3 {
        app.get("/api/departments/").send().await.assert_status(401);
    }
    let r = app.get("/api/departments/").send().await;
    r.assert_status(429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(
        r.json["detail"],
        format!("Request was throttled. Expected available in {wait} seconds.")
    );
    // Health probes are never throttled.
    app.get("/api/health/").send().await.assert_status(200);
}

#[tokio::test]
async fn authenticated_requests_use_the_user_rate() {
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[
            ("CAMPUS_THROTTLE_ANON", "100/minute"),
            ("CAMPUS_THROTTLE_USER", "2/minute"),
        ],
    )
    .await;
    let admin = app.admin().await;
    let other = app.user(&admin, "department_staff", None).await;
    app.get("/api/departments/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    app.get("/api/departments/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(429);
    // Another user has their own window.
    app.get("/api/departments/")
        .bearer(&other.access)
        .send()
        .await
        .assert_status(200);
}

/// Sends one `POST /api/auth/token/` per password for `email`, all at once.
async fn at_once(app: &TestApp, email: &str, passwords: &[&str]) -> Vec<TestResponse> {
    let sent: Vec<_> = passwords
        .iter()
        .map(|password| {
            let client = app.client.clone();
            let body = json!({"email": email, "password": password});
            tokio::spawn(async move { client.post("/api/auth/token/").json(&body).send().await })
        })
        .collect();
    let mut responses = Vec::new();
    for response in sent {
        responses.push(response.await.unwrap());
    }
    responses
}

/// Parallel guesses with the right password among them: at most one
/// succeeds; without a success exactly `limit` were evaluated. A success
/// forgets the failures settled before it (as django-axes does), so a guess
/// that reaches the guard only after it gets a fresh count: never more than
/// `2 * limit` evaluated in all. Everyone else was locked out.
fn assert_bounded(responses: &[TestResponse], limit: usize) {
    let (ok, wrong) = (count(responses, 200), count(responses, 401));
    assert!(ok <= 1, "{ok} successes");
    if ok == 0 {
        assert_eq!(wrong, limit);
    }
    assert!(ok + wrong <= 2 * limit, "{ok} + {wrong} evaluated");
    assert_eq!(count(responses, 429), responses.len() - ok - wrong);
}

fn count(responses: &[TestResponse], status: u16) -> usize {
    responses
        .iter()
        .filter(|r| r.status.as_u16() == status)
        .count()
}

fn assert_locked_out(responses: &[TestResponse]) {
    for r in responses.iter().filter(|r| r.status.as_u16() == 429) {
        assert_eq!(
            r.json["detail"],
            "Account locked: too many login attempts. Please try again later."
        );
        assert!(r.header("retry-after").is_some());
    }
}

db_test!(
    parallel_wrong_passwords_are_evaluated_at_most_ten_times,
    |app| {
        app.post("/api/auth/register/")
            .json(&register_body("storm@mksu.ac.ke"))
            .send()
            .await
            .assert_status(201);
        let responses = at_once(&app, "storm@mksu.ac.ke", &["guess-guess-guess"; 100]).await;
        assert_eq!(count(&responses, 401), 10);
        assert_eq!(count(&responses, 429), 90);
        assert_locked_out(&responses);
        app.post("/api/auth/token/")
            .json(&json!({"email": "storm@mksu.ac.ke", "password": PASSWORD}))
            .send()
            .await
            .assert_status(429);
    }
);

db_test!(
    a_right_password_among_parallel_guesses_gets_no_extra_tries,
    |app| {
        app.post("/api/auth/register/")
            .json(&register_body("mixed@mksu.ac.ke"))
            .send()
            .await
            .assert_status(201);
        let mut passwords = vec!["guess-guess-guess"; 29];
        passwords.insert(17, PASSWORD);
        let responses = at_once(&app, "mixed@mksu.ac.ke", &passwords).await;
        assert_bounded(&responses, 10);
        assert_locked_out(&responses);
    }
);

/// The same bound with the counts in Redis.
#[cfg(campus_redis)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bounds_parallel_guesses() {
    let redis = std::env::var("CAMPUS_TEST_REDIS_URL").unwrap();
    let app = TestApp::with_settings(TestBackend::Sqlite, &[("CAMPUS_REDIS_URL", &redis)]).await;
    // Redis outlives the test database: an address of its own keeps runs apart.
    let email = format!(
        "redis-{}@mksu.ac.ke",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    app.post("/api/auth/register/")
        .json(&register_body(&email))
        .send()
        .await
        .assert_status(201);
    let mut passwords = vec!["guess-guess-guess"; 29];
    passwords.insert(3, PASSWORD);
    let responses = at_once(&app, &email, &passwords).await;
    assert_bounded(&responses, 10);
    assert_locked_out(&responses);
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_account_from_that_address() {
    let app =
        TestApp::with_settings(TestBackend::Sqlite, &[("CAMPUS_LOGIN_MAX_FAILURES", "3")]).await;
    app.post("/api/auth/register/")
        .json(&register_body("lock@mksu.ac.ke"))
        .send()
        .await
        .assert_status(201);
    for _ in 0..3 {
        app.post("/api/auth/token/")
            .json(&json!({"email": "lock@mksu.ac.ke", "password": "guess-guess-guess"}))
            .send()
            .await
            .assert_status(401);
    }
    // Now even the right password is refused from this address, on both endpoints.
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "lock@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(429);
    assert!(r.header("retry-after").is_some());
    app.post("/api/auth/login/")
        .json(&json!({"email": "LOCK@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await
        .assert_status(429);
    // Other accounts are unaffected.
    app.post("/api/auth/register/")
        .json(
            &json!({"email": "free@mksu.ac.ke", "full_name": "Free Person", "password": PASSWORD}),
        )
        .send()
        .await
        .assert_status(201);
    app.sign_in("free@mksu.ac.ke", PASSWORD).await;
}

db_test!(self_service_writes_are_audited, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&register_body("audited@mksu.ac.ke"))
        .send()
        .await;
    r.assert_status(201);
    let id = r.json["user"]["id"].as_str().unwrap().to_owned();
    let me = Uuid::parse_str(&id).unwrap();
    let access = r.json["access"].as_str().unwrap().to_owned();
    let created = app.audit_rows("create", &id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].content_type, "User");
    assert_eq!(
        created[0].user_id,
        Some(me),
        "the new account is its own actor"
    );
    let changes = created[0].changes.clone().unwrap();
    assert_eq!(
        changes["email"],
        json!([null, "audited@mksu.ac.ke"]),
        "{changes}"
    );
    assert_eq!(changes["role"], json!([null, "student"]));

    // A refused registration writes nothing.
    app.post("/api/auth/register/")
        .json(&register_body("audited@mksu.ac.ke"))
        .send()
        .await
        .assert_status(400);
    assert_eq!(app.audit_rows("create", &id).await.len(), 1);

    app.put("/api/auth/profile/")
        .bearer(&access)
        .json(&json!({"full_name": "Grace Wanjiru", "admission_number": "ADM-001"}))
        .send()
        .await
        .assert_status(200);
    app.patch("/api/users/profile/")
        .bearer(&access)
        .json(&json!({"admission_number": "ADM-777"}))
        .send()
        .await
        .assert_status(200);
    let updates = app.audit_rows("update", &id).await;
    let mut seen: Vec<Value> = updates.iter().map(|u| u.changes.clone().unwrap()).collect();
    seen.sort_by_key(|c| c.to_string());
    assert_eq!(
        seen,
        vec![
            json!({"admission_number": ["ADM-001", "ADM-777"]}),
            json!({"full_name": ["Grace Njeri", "Grace Wanjiru"]}),
        ]
    );
    assert!(updates.iter().all(|u| u.user_id == Some(me)));

    let r = app
        .put("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": PASSWORD, "new_password": "An0ther-Secret!"}))
        .send()
        .await;
    r.assert_status(200);
    let access = r.json["tokens"]["access"].as_str().unwrap().to_owned();
    app.post("/api/auth/change-password/")
        .bearer(&access)
        .json(&json!({"old_password": "An0ther-Secret!", "new_password": "Yet-An0ther-One!"}))
        .send()
        .await
        .assert_status(200);
    let updates = app.audit_rows("update", &id).await;
    assert_eq!(updates.len(), 4);
    let passwords: Vec<Value> = updates
        .iter()
        .map(|u| u.changes.clone().unwrap())
        .filter(|c| c.get("password").is_some())
        .collect();
    assert_eq!(
        passwords,
        vec![
            json!({"password": "changed"}),
            json!({"password": "changed"})
        ]
    );
    // Stored hashes look like "pbkdf2_sha256$...": none reaches the audit log.
    for row in &updates {
        let text = row.changes.as_ref().unwrap().to_string();
        assert!(!text.contains('$') && !text.contains("An0ther"), "{text}");
    }
});
