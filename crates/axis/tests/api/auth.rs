//! Password sign-in and SimpleJWT-compatible tokens (axis contract §1.1),
//! and what every response carries (§0: the error envelope, security
//! headers, CORS, health).

use crate::common::*;
use axis::entities::user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

const BAD_LOGIN: &str = "No active account found with the given credentials";
const BAD_TOKEN: &str = "Given token not valid for any token type";

/// The `Set-Cookie` header of a response.
fn set_cookie(r: &kernel::testing::TestResponse) -> String {
    r.header("set-cookie")
        .expect("a Set-Cookie header")
        .to_owned()
}

/// A token signed with the test secret key (HS256) carrying `claims`.
fn mint(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET_KEY.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

db_test!(
    obtain_token_answers_the_pair_and_the_refresh_cookie,
    |app| {
        let root = app.superuser().await;
        let before = app.audit_logs().await.len();
        let r = app
            .post("/api/auth/token/")
            .header("user-agent", "axis-tests/1.0")
            .json(&json!({"email": "root@axis.example", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(keys(&r.json), sorted(&["access", "refresh"]));
        let refresh = r.json["refresh"].as_str().unwrap();
        let cookie = set_cookie(&r);
        assert!(
            cookie.starts_with(&format!("refresh_token={refresh};")),
            "{cookie}"
        );
        for part in ["HttpOnly", "SameSite=Lax", "Path=/api/auth/"] {
            assert!(cookie.split("; ").any(|p| p == part), "{part} in {cookie}");
        }

        // Success records the sign-in and writes a Login row.
        let row = app.user_row(&root.id).await;
        assert!(row.last_login_at.is_some());
        let logs = app.audit_logs().await;
        assert_eq!(logs.len(), before + 1);
        let login = logs.last().unwrap();
        assert_eq!(
            (login.action.as_str(), login.entity_type.as_str()),
            ("Login", "User")
        );
        assert_eq!(login.entity_id, root.id);
        assert_eq!(login.user_id.as_deref(), Some(root.id.as_str()));
        assert_eq!(login.data["provider"], "password");
        assert_eq!(login.data["method"], "POST");
        assert_eq!(login.data["path"], "/api/auth/token/");
        assert_eq!(login.ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(login.user_agent.as_deref(), Some("axis-tests/1.0"));
        // A sign-in changes no entity.
        let (_, changes, _) = app.trail_counts().await;
        assert_eq!(changes, 0);
    }
);

db_test!(tokens_carry_the_claims_the_frontend_reads, |app| {
    let root = app.superuser().await;
    for (token, kind, lifetime) in [
        (&root.access, "access", 86_400),
        (&root.refresh, "refresh", 7 * 86_400),
    ] {
        assert_eq!(token_header(token)["alg"], "HS256");
        let c = claims(token);
        assert_eq!(c["token_type"], kind);
        assert_eq!(c["user_id"], root.id.as_str());
        assert!(is_cuid(c["user_id"].as_str().unwrap()));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            lifetime
        );
        assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert_eq!(c["email"], "root@axis.example");
        assert_eq!(c["name"], "Nomsa Dlamini");
        assert_eq!(c["username"], "root@axis.example");
        assert_eq!(c["first_name"], "Nomsa");
        assert_eq!(c["last_name"], "Dlamini");
        assert_eq!(c["status"], "Active");
        assert!(c["email_verified"].is_string());
        assert_eq!(c["is_staff"], true);
        assert_eq!(c["is_superuser"], true);
    }
    assert_ne!(claims(&root.access)["jti"], claims(&root.refresh)["jti"]);
});

db_test!(email_matching_is_case_insensitive, |app| {
    app.superuser().await;
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "  ROOT@Axis.Example ", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        claims(r.json["access"].as_str().unwrap())["email"],
        "root@axis.example"
    );
});

db_test!(bad_credentials_are_one_401, |app| {
    let root = app.superuser().await;
    let audit_before = app.audit_logs().await.len();
    for body in [
        json!({"email": "root@axis.example", "password": "Wrong-Password-99"}),
        json!({"email": "nobody@axis.example", "password": PASSWORD}),
        json!({"email": "root@axis.example", "password": PASSWORD.to_lowercase()}),
    ] {
        let r = app.post("/api/auth/token/").json(&body).send().await;
        assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
        assert!(r.header("set-cookie").is_none());
    }

    // Disabled accounts: each status that may not sign in, and is_active false.
    for status in ["Suspended", "Banned", "Inactive"] {
        let email = format!("{}@axis.example", status.to_lowercase());
        app.create_user(
            &root,
            json!({"email": email, "password": PASSWORD, "status": status}),
        )
        .await;
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await;
        assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
    }
    let off = app
        .create_user(
            &root,
            json!({"email": "off@axis.example", "password": PASSWORD}),
        )
        .await;
    let mut row: user::ActiveModel = app.user_row(off["id"].as_str().unwrap()).await.into();
    row.is_active = Set(false);
    row.update(app.conn()).await.unwrap();
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "off@axis.example", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 401, "authentication_failed", BAD_LOGIN);

    // A Microsoft-only account has no usable password.
    app.create_user(&root, json!({"email": "entra-only@axis.example"}))
        .await;
    let stored = app
        .audit_logs()
        .await
        .last()
        .map(|l| l.entity_id.clone())
        .unwrap();
    let hash = app.user_row(&stored).await.password;
    for password in ["!", PASSWORD, hash.as_str()] {
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": "entra-only@axis.example", "password": password}))
            .send()
            .await;
        assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
    }

    // Failed sign-ins write nothing (the users above wrote their Create rows).
    let logins = app
        .audit_logs()
        .await
        .into_iter()
        .skip(audit_before)
        .filter(|l| l.action != "Create")
        .count();
    assert_eq!(logins, 0);
});

db_test!(missing_fields_are_field_errors, |app| {
    let r = app.post("/api/auth/token/").json(&json!({})).send().await;
    assert_field_error(&r, "email", Some("This field is required."));
    assert_field_error(&r, "password", Some("This field is required."));

    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "root@axis.example"}))
        .send()
        .await;
    assert_field_error(&r, "password", Some("This field is required."));
    assert!(r.json["errors"].get("email").is_none());

    // Blank is as missing as absent.
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "  ", "password": ""}))
        .send()
        .await;
    assert_field_error(&r, "email", Some("This field is required."));
    assert_field_error(&r, "password", Some("This field is required."));
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": null, "password": 42}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "validation_error");
    // What no database can compare is refused before it is looked up.
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "root\u{0}@axis.example", "password": PASSWORD}))
        .send()
        .await;
    assert_field_error(&r, "email", None);
});

db_test!(login_is_an_alias_of_token, |app| {
    let root = app.superuser().await;
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "root@axis.example", "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(&["access", "refresh"]));
    assert!(set_cookie(&r).starts_with("refresh_token="));
    let me = app
        .get("/api/auth/me/")
        .bearer(r.json["access"].as_str().unwrap())
        .send()
        .await;
    me.assert_status(200);
    assert_eq!(me.json["id"], root.id.as_str());
    let r = app
        .post("/api/auth/login/")
        .json(&json!({"email": "root@axis.example", "password": "nope-nope-nope"}))
        .send()
        .await;
    assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
});

db_test!(refresh_rotates_from_the_body_or_the_cookie, |app| {
    let root = app.superuser().await;

    // From the body.
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(keys(&r.json), sorted(&["access", "refresh"]));
    let second = r.json["refresh"].as_str().unwrap().to_owned();
    assert_ne!(second, root.refresh);
    assert!(set_cookie(&r).starts_with(&format!("refresh_token={second};")));
    assert_eq!(
        claims(r.json["access"].as_str().unwrap())["user_id"],
        root.id.as_str()
    );
    app.get("/api/auth/me/")
        .bearer(r.json["access"].as_str().unwrap())
        .send()
        .await
        .assert_status(200);

    // The used token is blacklisted.
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);

    // From the cookie, as the frontend posts `{}` with credentials.
    let r = app
        .post("/api/auth/token/refresh/")
        .header("cookie", &format!("theme=dark; refresh_token={second}"))
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    let third = r.json["refresh"].as_str().unwrap().to_owned();
    assert!(set_cookie(&r).starts_with(&format!("refresh_token={third};")));
    // ... and with no body at all.
    let r = app
        .post("/api/auth/token/refresh/")
        .header("cookie", &format!("refresh_token={third}"))
        .send()
        .await;
    r.assert_status(200);
    // The cookie's token is now used too.
    let r = app
        .post("/api/auth/token/refresh/")
        .header("cookie", &format!("refresh_token={second}"))
        .json(&json!({}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
});

db_test!(refresh_refuses_access_tokens_and_nothing, |app| {
    let root = app.superuser().await;
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.access}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": "not-a-token"}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    for body in [json!({}), json!({"refresh": ""})] {
        let r = app
            .post("/api/auth/token/refresh/")
            .json(&body)
            .send()
            .await;
        assert_field_error(&r, "refresh", Some("This field is required."));
    }
    // An expired refresh token (minted with a past exp).
    let mut expired = claims(&root.refresh);
    expired["exp"] = json!(now() - 10);
    expired["iat"] = json!(now() - 1000);
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": mint(&expired)}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    // The unexpired original still works: the refusals used nothing up.
    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await
        .assert_status(200);
});

db_test!(verify_tells_live_tokens_from_the_rest, |app| {
    let root = app.superuser().await;
    for token in [&root.access, &root.refresh] {
        let r = app
            .post("/api/auth/token/verify/")
            .json(&json!({"token": token}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json, json!({}));
    }
    let r = app
        .post("/api/auth/token/verify/")
        .json(&json!({"token": "a.b.c"}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    for body in [json!({}), json!({"token": " "})] {
        let r = app.post("/api/auth/token/verify/").json(&body).send().await;
        assert_field_error(&r, "token", None);
    }
    // A used (blacklisted) refresh token is no longer live.
    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/auth/token/verify/")
        .json(&json!({"token": root.refresh}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    // Nor an expired access token.
    let mut expired = claims(&root.access);
    expired["exp"] = json!(now() - 1);
    let r = app
        .post("/api/auth/token/verify/")
        .json(&json!({"token": mint(&expired)}))
        .send()
        .await;
    assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
});

db_test!(logout_ends_every_token, |app| {
    let root = app.superuser().await;
    let other = app.sign_in("root@axis.example", PASSWORD).await;
    let r = app
        .post("/api/auth/logout/")
        .bearer(&root.access)
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"message": "Logged out successfully", "detail": "Successfully logged out."})
    );
    let cookie = set_cookie(&r);
    assert!(cookie.starts_with("refresh_token=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert!(cookie.contains("Path=/api/auth/"), "{cookie}");

    // Every token of the account issued before, from either sign-in.
    for access in [&root.access, &other.access] {
        let r = app.get("/api/auth/me/").bearer(access).send().await;
        assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    }
    for refresh in [&root.refresh, &other.refresh] {
        let r = app
            .post("/api/auth/token/refresh/")
            .json(&json!({"refresh": refresh}))
            .send()
            .await;
        assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
        let r = app
            .post("/api/auth/token/verify/")
            .json(&json!({"token": refresh}))
            .send()
            .await;
        r.assert_status(401);
    }
    // A new sign-in works.
    let fresh = app.sign_in("root@axis.example", PASSWORD).await;
    app.get("/api/auth/me/")
        .bearer(&fresh.access)
        .send()
        .await
        .assert_status(200);

    let logouts: Vec<_> = app
        .audit_logs()
        .await
        .into_iter()
        .filter(|l| l.action == "Logout")
        .collect();
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].entity_type, "User");
    assert_eq!(logouts[0].entity_id, root.id);
    assert_eq!(logouts[0].user_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(logouts[0].data["path"], "/api/auth/logout/");
    // The refresh token never reaches the trail.
    for table in [
        "axis_audit_logs",
        "axis_entity_changes",
        "axis_field_changes",
    ] {
        assert_eq!(
            kernel::testing::rows_containing(app.conn(), table, &root.refresh).await,
            0
        );
    }
});

db_test!(logout_takes_the_cookie_and_needs_a_token, |app| {
    let root = app.superuser().await;
    let r = app.post("/api/auth/logout/").send().await;
    assert_error(
        &r,
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    let r = app
        .post("/api/auth/logout/")
        .bearer(&root.access)
        .header("cookie", &format!("refresh_token={}", root.refresh))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": root.refresh}))
        .send()
        .await;
    r.assert_status(401);
});

db_test!(me_is_the_user_shape, |app| {
    let root = app.superuser().await;
    let r = app.get("/api/auth/me/").bearer(&root.access).send().await;
    r.assert_status(200);
    assert_eq!(
        keys(&r.json),
        sorted(&[
            "id",
            "email",
            "username",
            "first_name",
            "last_name",
            "full_name",
            "status",
            "is_active",
            "is_staff",
            "is_superuser",
            "email_verified",
            "last_login_at",
            "roles",
            "client_ids",
            "profile",
            "created_at",
            "updated_at",
        ])
    );
    assert_eq!(r.json["id"], root.id.as_str());
    assert_eq!(r.json["email"], "root@axis.example");
    assert_eq!(r.json["full_name"], "Nomsa Dlamini");
    assert_eq!(r.json["status"], "Active");
    assert_eq!(r.json["is_active"], true);
    assert_eq!(r.json["is_staff"], true);
    assert_eq!(r.json["is_superuser"], true);
    assert_eq!(r.json["roles"], json!([]));
    assert_eq!(r.json["client_ids"], json!([]));
    assert_eq!(
        r.json["profile"],
        json!({"full_name": "Nomsa Dlamini", "email": "root@axis.example", "phone": null, "image": null, "bio": null})
    );
    assert!(r.json["last_login_at"].as_str().unwrap().ends_with('Z'));
    let r = app.get("/api/auth/me/").send().await;
    r.assert_status(401);
});

db_test!(change_password_checks_the_old_and_the_new, |app| {
    let root = app.superuser().await;
    let r = app
        .post("/api/auth/change-password/")
        .bearer(&root.access)
        .json(&json!({"old_password": "not-my-password", "new_password": "Brand-New-Secret-77"}))
        .send()
        .await;
    assert_field_error(&r, "old_password", None);
    for weak in ["short", "12345678901", "password123", "root@axis.example"] {
        let r = app
            .post("/api/auth/change-password/")
            .bearer(&root.access)
            .json(&json!({"old_password": PASSWORD, "new_password": weak}))
            .send()
            .await;
        assert_field_error(&r, "new_password", None);
    }
    let r = app
        .post("/api/auth/change-password/")
        .bearer(&root.access)
        .json(&json!({}))
        .send()
        .await;
    assert_field_error(&r, "old_password", Some("This field is required."));
    assert_field_error(&r, "new_password", Some("This field is required."));
    // Nothing changed so far.
    app.get("/api/auth/me/")
        .bearer(&root.access)
        .send()
        .await
        .assert_status(200);
    app.sign_in("root@axis.example", PASSWORD).await;
});

db_test!(change_password_ends_the_old_tokens, |app| {
    let root = app.superuser().await;
    let elsewhere = app.sign_in("root@axis.example", PASSWORD).await;
    let r = app
        .post("/api/auth/change-password/")
        .bearer(&root.access)
        .json(&json!({"old_password": PASSWORD, "new_password": "Brand-New-Secret-77"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["detail"], "Password changed");
    let access = r.json["access"].as_str().unwrap().to_owned();
    let refresh = r.json["refresh"].as_str().unwrap().to_owned();
    assert!(set_cookie(&r).starts_with(&format!("refresh_token={refresh};")));

    for old in [&root.access, &elsewhere.access] {
        let r = app.get("/api/auth/me/").bearer(old).send().await;
        assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
    }
    let r = app
        .post("/api/auth/token/refresh/")
        .json(&json!({"refresh": elsewhere.refresh}))
        .send()
        .await;
    r.assert_status(401);
    app.get("/api/auth/me/")
        .bearer(&access)
        .send()
        .await
        .assert_status(200);
    app.post("/api/auth/token/refresh/")
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/auth/token/")
        .json(&json!({"email": "root@axis.example", "password": PASSWORD}))
        .send()
        .await;
    assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
    app.sign_in("root@axis.example", "Brand-New-Secret-77")
        .await;
});

db_test!(no_credentials_is_a_401_with_www_authenticate, |app| {
    for path in [
        "/api/auth/me/",
        "/api/users/",
        "/api/audit-logs/",
        "/api/roles/",
    ] {
        let r = app.get(path).send().await;
        assert_error(
            &r,
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        assert!(
            r.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{path}: {:?}",
            r.headers
        );
    }
    let r = app
        .get("/api/auth/me/")
        .header("authorization", "Basic cm9vdDpyb290")
        .send()
        .await;
    r.assert_status(401);
    assert!(r.header("www-authenticate").is_some());
});

db_test!(malformed_json_is_a_parse_error, |app| {
    let r = app
        .post("/api/auth/token/")
        .raw("application/json", "{\"email\": ")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], "parse_error");
    assert_eq!(r.json["status_code"], 400);
    let text = r.json["error"].as_str().unwrap();
    assert!(text.starts_with("JSON parse error - "), "{text}");
    assert_eq!(r.json["detail"], r.json["error"]);
    assert_eq!(r.json["message"], r.json["error"]);

    let r = app
        .post("/api/auth/token/")
        .raw("text/plain", "email=x")
        .send()
        .await;
    assert_error(
        &r,
        415,
        "unsupported_media_type",
        "Unsupported media type \"text/plain\" in request.",
    );
});

db_test!(forged_and_unsigned_tokens_are_refused, |app| {
    let root = app.superuser().await;
    let good = claims(&root.access);
    // Control: a token minted with the real key and live claims is accepted.
    app.get("/api/auth/me/")
        .bearer(&mint(&good))
        .send()
        .await
        .assert_status(200);

    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"somebody-elses-secret-key-000000"),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good.to_string().as_bytes())
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(SECRET_KEY.as_bytes()),
    )
    .unwrap();
    let mut tampered_claims = good.clone();
    tampered_claims["is_superuser"] = json!(true);
    tampered_claims["user_id"] = json!("cxxxxxxxxxxxxxxxxxxxxxxxx");
    let signature = root.access.rsplit('.').next().unwrap();
    let tampered = format!(
        "{}.{}.{signature}",
        root.access.split('.').next().unwrap(),
        b64(tampered_claims.to_string().as_bytes())
    );
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 5);
    expired["iat"] = json!(now() - 3600);
    for token in [
        forged,
        unsigned,
        hs512,
        tampered,
        mint(&expired),
        root.refresh.clone(),
        "garbage".to_owned(),
    ] {
        let r = app.get("/api/auth/me/").bearer(&token).send().await;
        assert_error(&r, 401, "token_not_valid", BAD_TOKEN);
        assert!(r.header("www-authenticate").is_some());
    }
});

db_test!(every_response_carries_the_security_headers, |app| {
    let root = app.superuser().await;
    let responses = [
        app.get("/api/health/").send().await,
        app.get("/api/auth/me/").bearer(&root.access).send().await,
        app.get("/api/auth/me/").send().await,
        app.get("/api/no-such-route/").send().await,
        app.post("/api/auth/token/").json(&json!({})).send().await,
    ];
    for r in &responses {
        assert_eq!(
            r.header("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    assert_error(&responses[3], 404, "not_found", "Not found.");
});

db_test!(health_is_public, |app| {
    let r = app.get("/api/health/").send().await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"status": "healthy", "service": "AXIS EAP API"})
    );
});

db_test!(wrong_methods_are_405_with_allow, |app| {
    let root = app.superuser().await;
    let r = app.get("/api/auth/token/").send().await;
    assert_error(&r, 405, "method_not_allowed", "Method \"GET\" not allowed.");
    assert!(r.header("allow").is_some_and(|a| a.contains("POST")));
    let r = app
        .put("/api/auth/me/")
        .bearer(&root.access)
        .json(&json!({}))
        .send()
        .await;
    assert_error(&r, 405, "method_not_allowed", "Method \"PUT\" not allowed.");
});

db_test!(
    cors_allows_the_frontend_with_credentials,
    settings = &[("CAMPUS_CORS_ALLOWED_ORIGINS", "https://axis.example.org")],
    |app| {
        let r = app
            .request(axum::http::Method::OPTIONS, "/api/users/")
            .header("origin", "https://axis.example.org")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-client-id",
            )
            .send()
            .await;
        assert!(r.status.is_success(), "{:?}", r.status);
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://axis.example.org")
        );
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
        let headers = r
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for name in ["authorization", "content-type", "x-client-id"] {
            assert!(headers.contains(name), "{name} in {headers}");
        }
        let methods = r
            .header("access-control-allow-methods")
            .unwrap()
            .to_ascii_uppercase();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(methods.contains(method), "{method} in {methods}");
        }

        // A simple request from the origin is answered with it.
        let r = app
            .get("/api/health/")
            .header("origin", "https://axis.example.org")
            .send()
            .await;
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://axis.example.org")
        );
        // Another origin is not.
        let r = app
            .request(axum::http::Method::OPTIONS, "/api/users/")
            .header("origin", "https://evil.example.net")
            .header("access-control-request-method", "POST")
            .send()
            .await;
        assert!(r.header("access-control-allow-origin").is_none());
    }
);

#[test]
fn the_defaults_are_the_contracts() {
    let lookup = |key: &str| match key {
        "CAMPUS_DATABASE_URL" => Some("sqlite://axis-defaults.db?mode=rwc".to_owned()),
        "CAMPUS_SECRET_KEY" => Some(SECRET_KEY.to_owned()),
        _ => None,
    };
    let (settings, config) = kernel::system::configure::<axis::Axis>(&lookup).unwrap();
    assert_eq!(settings.access_token_lifetime.as_secs(), 86_400);
    assert_eq!(settings.refresh_token_lifetime.as_secs(), 7 * 86_400);
    let anon = settings.throttle_anon.unwrap();
    assert_eq!((anon.requests, anon.period.as_secs()), (100, 3600));
    let user = settings.throttle_user.unwrap();
    assert_eq!((user.requests, user.period.as_secs()), (1000, 3600));
    assert_eq!(settings.max_body_bytes, 12 * 1024 * 1024);
    assert!(config.microsoft.is_none());
    // Production mode makes the refresh cookie Secure.
    let production = |key: &str| match key {
        "CAMPUS_ENV" => Some("production".to_owned()),
        other => lookup(other),
    };
    assert!(
        axis::Config::from_lookup(production)
            .unwrap()
            .secure_cookies
    );
    assert!(!axis::Config::from_lookup(lookup).unwrap().secure_cookies);
}

db_test!(
    anonymous_callers_are_throttled,
    settings = &[("CAMPUS_THROTTLE_ANON", "3/hour")],
    |app| {
        // Health probes are never throttled.
        for _ in 0..5 {
            app.get("/api/health/").send().await.assert_status(200);
        }
        for _ in 0..3 {
            app.get("/api/roles/").send().await.assert_status(401);
        }
        let r = app.get("/api/roles/").send().await;
        r.assert_status(429);
        assert_eq!(r.json["code"], "throttled");
        assert_eq!(r.json["status_code"], 429);
        let text = r.json["error"].as_str().unwrap();
        assert!(
            text.starts_with("Request was throttled. Expected available in ")
                && text.ends_with(" seconds."),
            "{text}"
        );
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!(wait > 0 && wait <= 3600);
    }
);

db_test!(
    oversized_bodies_are_413,
    settings = &[("CAMPUS_MAX_BODY_BYTES", "2048")],
    |app| {
        let padding = "x".repeat(4096);
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": "root@axis.example", "password": padding}))
            .send()
            .await;
        assert_error(&r, 413, "payload_too_large", "Request body too large");
    }
);

db_test!(
    audit_rows_keep_the_client_header_and_the_real_address,
    |app| {
        let root = app.superuser().await;
        // X-Client-ID is ignored on users and auth (even malformed), but kept.
        let r = app
            .patch(&format!("/api/users/{}/", root.id))
            .bearer(&root.access)
            .header("x-client-id", "not-a-client-id")
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"timezone": "Africa/Nairobi"}))
            .send()
            .await;
        r.assert_status(200);
        let log = app.audit_logs().await.pop().unwrap();
        assert_eq!(log.action, "Update");
        assert_eq!(log.data["client_id"], "not-a-client-id");
        // No trusted proxy is configured: the forwarded address is not believed.
        assert_eq!(log.ip_address.as_deref(), Some("127.0.0.1"));
    }
);

db_test!(
    behind_a_trusted_proxy_the_forwarded_address_is_kept,
    settings = &[("CAMPUS_TRUSTED_PROXIES", "1")],
    |app| {
        let r = app
            .post("/api/auth/token/")
            .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
            .json(&json!({"email": "nobody@axis.example", "password": "x"}))
            .send()
            .await;
        r.assert_status(401);
        let account = kernel::system::NewSuperuser {
            email: "root@axis.example".into(),
            password: PASSWORD.into(),
            full_name: "Nomsa Dlamini".into(),
        };
        axis::create_superuser(&app.state, &account).await.unwrap();
        let r = app
            .post("/api/auth/token/")
            .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
            .json(&json!({"email": "root@axis.example", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(200);
        let log = app.audit_logs().await.pop().unwrap();
        assert_eq!(log.ip_address.as_deref(), Some("203.0.113.9"));
    }
);

db_test!(
    repeated_failures_lock_the_account_from_that_address,
    settings = &[("CAMPUS_LOGIN_MAX_FAILURES", "3")],
    |app| {
        app.superuser().await;
        for _ in 0..3 {
            let r = app
                .post("/api/auth/token/")
                .json(&json!({"email": "root@axis.example", "password": "guess-guess-guess"}))
                .send()
                .await;
            assert_error(&r, 401, "authentication_failed", BAD_LOGIN);
        }
        // Locked now, even with the right password.
        let r = app
            .post("/api/auth/token/")
            .json(&json!({"email": "root@axis.example", "password": PASSWORD}))
            .send()
            .await;
        r.assert_status(429);
        assert_eq!(r.json["code"], "account_locked");
        assert_eq!(r.json["status_code"], 429);
        assert!(r.header("retry-after").is_some());
        // Another account is not.
        let other = kernel::system::NewSuperuser {
            email: "second@axis.example".into(),
            password: PASSWORD.into(),
            full_name: "Second Root".into(),
        };
        axis::create_superuser(&app.state, &other).await.unwrap();
        app.sign_in("second@axis.example", PASSWORD).await;
    }
);
