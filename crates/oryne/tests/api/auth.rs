//! Sign-in, tokens and passwords, in a school and on the platform.

use super::common::*;

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

db_test!(tokens_carry_their_school_and_work_only_there, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let c = claims(&alpha.admin.access);
    assert_eq!(c["tenant_id"], alpha.id);
    assert_eq!(c["type"], "access");
    assert_eq!(c["token_type"], "access");
    assert_eq!(c["roles"], json!(["TenantAdmin"]));
    assert_eq!(
        c["permissions"],
        json!(["*"]),
        "the whole catalogue, compactly"
    );
    assert!(
        alpha.admin.access.len() < 1024,
        "{}",
        alpha.admin.access.len()
    );
    assert!(c["jti"].is_string() && c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() == 900);
    let r = claims(&alpha.admin.refresh);
    assert_eq!(r["tenant_id"], alpha.id);
    assert_eq!(r["type"], "refresh");
    assert!(r.get("permissions").is_none() && r.get("email").is_none());
    assert_eq!(claims(&root.access)["tenant_id"], Value::Null);

    // Same user id in both schools: A's token at B is refused.
    let r = app
        .at(&beta, "GET", "/api/v1/auth/profile/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
    let r = app
        .at(&beta, "POST", "/api/v1/auth/token/refresh/")
        .json(&json!({"refresh": alpha.admin.refresh}))
        .send()
        .await;
    assert_eq!(r.status.as_u16(), 401);
    // Platform tokens in a school, school tokens on the platform.
    let r = app
        .at(&alpha, "GET", "/api/v1/auth/profile/")
        .bearer(&root.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
    let r = app
        .get("/api/v1/tenants/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
    let r = app
        .at(&alpha, "GET", "/api/v1/tenants/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");

    // Profile in each context.
    let r = app
        .at(&alpha, "GET", "/api/v1/auth/profile/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["email"], "admin@alpha.test");
    assert_eq!(r.json["data"]["full_name"], "Ada Admin");
    assert!(r.json["data"]["permissions"].as_array().unwrap().len() > 100);
    let r = app
        .get("/api/v1/auth/profile/")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["data"]["email"], PLATFORM_EMAIL);
    let r = app.at(&alpha, "PATCH", "/api/v1/auth/profile/").bearer(&alpha.admin.access)
        .json(&json!({"phone": "0700 000 000", "roles": ["Parent"], "is_superuser": true, "preferences": {"theme": "dark"}})).send().await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["phone"], "0700 000 000");
    assert_eq!(
        r.json["data"]["roles"],
        json!(["TenantAdmin"]),
        "no mass assignment"
    );
    assert_eq!(r.json["data"]["is_superuser"], false);
    let r = app
        .at(&alpha, "PATCH", "/api/v1/auth/profile/")
        .bearer(&alpha.admin.access)
        .json(&json!({"preferences": [1]}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");

    // Verify.
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/token/verify/")
        .json(&json!({"token": alpha.admin.access}))
        .send()
        .await;
    assert_eq!(
        r.json["data"],
        json!({"valid": true, "token_type": "access"})
    );
    let r = app
        .at(&beta, "POST", "/api/v1/auth/token/verify/")
        .json(&json!({"token": alpha.admin.access}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_TENANT_02");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/token/verify/")
        .json(&json!({"token": "forged.token.here"}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_03");
});

db_test!(sign_in_fails_alike_and_locks_per_school, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let beta = app.school(&root, "beta").await;
    let wrong = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": "admin@alpha.test", "password": "nope-nope-nope"}))
        .send()
        .await;
    assert_error(&wrong, 401, "ERR_AUTH_01");
    let unknown = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": "ghost@alpha.test", "password": "nope-nope-nope"}))
        .send()
        .await;
    assert_error(&unknown, 401, "ERR_AUTH_01");
    assert_eq!(
        wrong.json["error"]["message"],
        unknown.json["error"]["message"]
    );
    // The alpha admin's email is not an account at beta.
    let r = app
        .at(&beta, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": "admin@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_01");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .json(&json!({"username_or_email": "ADMIN@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["tenant"]["subdomain"], "alpha");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/token/")
        .json(&json!({"email": "admin@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": 5}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .raw("application/json", "{")
        .send()
        .await;
    assert_error(&r, 400, "ERR_REQUEST_01");
    // Repeated failures lock the email at this school only.
    let mut locked = None;
    for _ in 0..12 {
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/login/")
            .json(&json!({"email": "admin@alpha.test", "password": "wrong-wrong-1"}))
            .send()
            .await;
        if r.status.as_u16() == 429 {
            locked = Some(r);
            break;
        }
    }
    let locked = locked.expect("locked after repeated failures");
    assert_error(&locked, 429, "ERR_AUTH_04");
    assert!(locked.header("retry-after").is_some());
    let r = app
        .at(&beta, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": "admin@alpha.test", "password": "wrong-wrong-1"}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_01");
});

db_test!(
    refresh_rotates_and_logout_or_a_new_password_ends_every_token,
    |app| {
        let root = app.platform_admin().await;
        let alpha = app.school(&root, "alpha").await;
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/token/refresh/")
            .json(&json!({"refresh": alpha.admin.refresh}))
            .send()
            .await;
        r.assert_status(200);
        let fresh = r.json["data"]["refresh"].as_str().unwrap().to_owned();
        let access = r.json["data"]["access"].as_str().unwrap().to_owned();
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/token/refresh/")
            .json(&json!({"refresh": alpha.admin.refresh}))
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 401, "a used refresh token is dead");
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/token/refresh/")
            .json(&json!({"refresh": access}))
            .send()
            .await;
        assert_eq!(
            r.status.as_u16(),
            401,
            "an access token is not a refresh token"
        );
        app.at(&alpha, "POST", "/api/v1/auth/logout/")
            .bearer(&access)
            .json(&json!({"refresh": fresh}))
            .send()
            .await
            .assert_status(200);
        let r = app
            .at(&alpha, "GET", "/api/v1/auth/profile/")
            .bearer(&access)
            .send()
            .await;
        assert_error(&r, 401, "ERR_AUTH_03");
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/token/refresh/")
            .json(&json!({"refresh": fresh}))
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 401);

        let me = app.login("alpha", "admin@alpha.test", PASSWORD).await;
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/change-password/")
            .bearer(&me.access)
            .json(&json!({"old_password": "wrong", "new_password": "Brand-New-Pass-9"}))
            .send()
            .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        assert!(r.json["error"]["details"]["old_password"].is_array());
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/change-password/")
            .bearer(&me.access)
            .json(&json!({"old_password": PASSWORD, "new_password": "12345678"}))
            .send()
            .await;
        assert_error(&r, 400, "ERR_VALIDATION_01");
        let r = app.at(&alpha, "POST", "/api/v1/auth/change-password/").bearer(&me.access)
        .json(&json!({"old_password": PASSWORD, "new_password": "Brand-New-Pass-9", "new_password_confirm": "Brand-New-Pass-9"})).send().await;
        r.assert_status(200);
        let r = app
            .at(&alpha, "GET", "/api/v1/auth/profile/")
            .bearer(&me.access)
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 401);
        app.login("alpha", "admin@alpha.test", "Brand-New-Pass-9")
            .await;
        // Platform users refresh and log out on the platform.
        let r = app
            .post("/api/v1/auth/token/refresh/")
            .json(&json!({"refresh": root.refresh}))
            .send()
            .await;
        r.assert_status(200);
        let access = r.json["data"]["access"].as_str().unwrap().to_owned();
        app.post("/api/v1/auth/logout/")
            .bearer(&access)
            .json(&json!({}))
            .send()
            .await
            .assert_status(200);
        assert_eq!(
            app.get("/api/v1/tenants/")
                .bearer(&access)
                .send()
                .await
                .status
                .as_u16(),
            401
        );
    }
);

db_test!(password_reset_mails_a_single_use_link, |app| {
    let sink = kernel::testing::SmtpSink::start().await;
    let app = app.node(&[("CAMPUS_EMAIL_URL", &sink.url)]).await;
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    app.run_jobs().await;
    let before = sink.messages().len();
    for email in ["admin@alpha.test", "ghost@alpha.test"] {
        let r = app
            .at(&alpha, "POST", "/api/v1/auth/password-reset/")
            .json(&json!({"email": email}))
            .send()
            .await;
        r.assert_status(200);
    }
    app.run_jobs().await;
    let mail = sink
        .wait_for(before + 1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mail.len(), before + 1, "nothing for an unknown email");
    let token: String = token_in(mail.last().unwrap())
        .split("token=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/password-reset/confirm/")
        .json(&json!({"token": token, "new_password": "short"}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/password-reset/confirm/")
        .json(&json!({"token": token, "new_password": "Sunlit-Valley-31"}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "GET", "/api/v1/auth/profile/")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_eq!(r.status.as_u16(), 401, "a reset ends the old tokens");
    app.login("alpha", "admin@alpha.test", "Sunlit-Valley-31")
        .await;
    // An hour later a fresh token is dead too.
    app.at(&alpha, "POST", "/api/v1/auth/password-reset/")
        .json(&json!({"email": "admin@alpha.test"}))
        .send()
        .await
        .assert_status(200);
    app.run_jobs().await;
    let mail = sink
        .wait_for(before + 2, std::time::Duration::from_secs(10))
        .await;
    let token: String = token_in(mail.last().unwrap())
        .split("token=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let r = kernel::time::shifted(
        chrono::Duration::minutes(61),
        app.at(&alpha, "POST", "/api/v1/auth/password-reset/confirm/")
            .json(&json!({"token": token, "new_password": "Sunlit-Valley-32"}))
            .send(),
    )
    .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
});

db_test!(self_registration_follows_the_school_setting, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let body = json!({"email": "kid@alpha.test", "first_name": "Kid", "last_name": "Learner", "password": PASSWORD});
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/register/")
        .json(&body)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    app.at(&alpha, "PATCH", "/api/v1/tenant/")
        .bearer(&alpha.admin.access)
        .json(&json!({"settings": {"allow_self_registration": true}}))
        .send()
        .await
        .assert_status(200);
    let r = app.at(&alpha, "POST", "/api/v1/auth/register/").json(&json!({"email": "t@alpha.test", "first_name": "T", "last_name": "T", "password": PASSWORD, "role": "TenantAdmin"})).send().await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/register/")
        .json(&body)
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["roles"], json!(["Student"]));
    assert_eq!(r.json["data"]["is_active"], false);
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/login/")
        .json(&json!({"email": "kid@alpha.test", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 401, "ERR_AUTH_01");
    let r = app
        .at(&alpha, "POST", "/api/v1/auth/register/")
        .json(&body)
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["email"].is_array());
});

db_test!(
    throttles_count_per_school,
    settings = &[
        ("CAMPUS_THROTTLE_USER", "5/minute"),
        ("CAMPUS_THROTTLE_ANON", "1000/minute")
    ],
    |app| {
        let root = app.platform_admin().await;
        let alpha = app.school(&root, "alpha").await;
        let beta = app.school(&root, "beta").await;
        // User 1 of alpha uses up its allowance; user 1 of beta keeps its own.
        let mut throttled = None;
        for _ in 0..8 {
            let r = app
                .at(&alpha, "GET", "/api/v1/tenant/")
                .bearer(&alpha.admin.access)
                .send()
                .await;
            if r.status.as_u16() == 429 {
                throttled = Some(r);
                break;
            }
        }
        let r = throttled.expect("throttled");
        assert_error(&r, 429, "ERR_THROTTLE_01");
        assert!(r.header("retry-after").is_some());
        app.at(&beta, "GET", "/api/v1/tenant/")
            .bearer(&beta.admin.access)
            .send()
            .await
            .assert_status(200);
    }
);
