//! Microsoft Entra ID sign-in (axis contract §1.2) against a fake OpenID
//! provider running in the test on loopback: a discovery document with
//! Entra's `{tenantid}` issuer template, a JWKS of RSA keys that can be
//! rotated while campus runs, and a token endpoint that issues RS256 ID
//! tokens for registered, single-use authorization codes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use axis::entities::{account, user};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::common::*;

const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const CLIENT_SECRET: &str = "fake-entra-secret~Zq8Q~0123456789";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const REDIRECT_URI: &str = "http://localhost:3000/auth/microsoft/callback";
const SCOPE: &str = "openid profile email User.Read";
const REPLAYED: &str = "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code.";
const UNKNOWN_CODE: &str = "AADSTS70000: The provided value for the 'code' parameter is not valid.";
const BAD_SECRET: &str = "AADSTS7000215: Invalid client secret provided.";

/// `rand` 0.9 behind the `rand_core` 0.6 traits the `rsa` crate takes.
struct Rng;

impl rsa::rand_core::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        rand::random()
    }
    fn next_u64(&mut self) -> u64 {
        rand::random()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        rand::fill(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for Rng {}

/// Three RSA keys, made once for the whole test binary: the provider's
/// first key, the one it rotates to, and an attacker's.
static KEYS: LazyLock<Vec<RsaPrivateKey>> = LazyLock::new(|| {
    std::thread::scope(|scope| {
        let makers: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| RsaPrivateKey::new(&mut Rng, 2048).expect("an RSA key")))
            .collect();
        makers.into_iter().map(|m| m.join().unwrap()).collect()
    })
});
const FIRST: usize = 0;
const ROTATED: usize = 1;
const ATTACKER: usize = 2;

fn encoding_key(index: usize) -> EncodingKey {
    let der = KEYS[index].to_pkcs1_der().unwrap();
    EncodingKey::from_rsa_der(der.as_bytes())
}

fn jwk(index: usize, kid: &str) -> Value {
    let key = KEYS[index].to_public_key();
    json!({
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "x5t": kid,
        "n": b64(&key.n().to_bytes_be()),
        "e": b64(&key.e().to_bytes_be()),
        "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What the fake provider holds and saw.
#[derive(Default)]
struct Provider {
    /// The key new ID tokens are signed with, and its key id.
    signing: (usize, String),
    /// The keys the JWKS publishes.
    published: Vec<(usize, String)>,
    /// Unused authorization codes and the ID tokens they redeem for.
    codes: HashMap<String, String>,
    redeemed: HashSet<String>,
    jwks_hits: usize,
    discovery_hits: usize,
    token_requests: Vec<HashMap<String, String>>,
}

type Shared = Arc<Mutex<Provider>>;

/// A fake Entra ID on `127.0.0.1`.
pub struct FakeEntra {
    pub base: String,
    state: Shared,
}

async fn discovery(
    State((base, state)): State<(String, Shared)>,
    Path(tenant): Path<String>,
) -> axum::Json<Value> {
    state.lock().unwrap().discovery_hits += 1;
    axum::Json(json!({
        "issuer": format!("{base}/{{tenantid}}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
    }))
}

async fn jwks(State((_, state)): State<(String, Shared)>) -> axum::Json<Value> {
    let mut state = state.lock().unwrap();
    state.jwks_hits += 1;
    let keys: Vec<Value> = state
        .published
        .iter()
        .map(|(i, kid)| jwk(*i, kid))
        .collect();
    axum::Json(json!({ "keys": keys }))
}

fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
) -> (StatusCode, axum::Json<Value>) {
    (
        status,
        axum::Json(
            json!({"error": error, "error_description": description, "error_codes": [70000]}),
        ),
    )
}

async fn token(
    State((_, state)): State<(String, Shared)>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, axum::Json<Value>) {
    let mut state = state.lock().unwrap();
    state.token_requests.push(form.clone());
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", BAD_SECRET);
    }
    if field("redirect_uri") != Some(REDIRECT_URI) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "AADSTS50011: The redirect URI does not match.",
        );
    }
    let code = field("code").unwrap_or_default().to_owned();
    match state.codes.remove(&code) {
        Some(id_token) => {
            state.redeemed.insert(code);
            (
                StatusCode::OK,
                axum::Json(json!({
                    "token_type": "Bearer",
                    "scope": SCOPE,
                    "expires_in": 3599,
                    "access_token": "graph-access-token-not-a-jwt",
                    "id_token": id_token,
                })),
            )
        }
        None if state.redeemed.contains(&code) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", REPLAYED)
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", UNKNOWN_CODE),
    }
}

impl FakeEntra {
    pub async fn start() -> Self {
        LazyLock::force(&KEYS);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::default();
        {
            let mut s = state.lock().unwrap();
            s.signing = (FIRST, "key-2024-a".into());
            s.published = vec![(FIRST, "key-2024-a".into())];
        }
        let router = axum::Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(jwks))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state((base.clone(), state.clone()));
        tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        Self { base, state }
    }

    /// The authority of `tenant` on this provider.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base)
    }

    /// Valid ID-token claims of a person of the configured tenant.
    pub fn claims(&self, oid: &str, email: &str, name: &str) -> Value {
        let now = now();
        json!({
            "ver": "2.0",
            "iss": format!("{}/{TENANT}/v2.0", self.base),
            "aud": CLIENT_ID,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": TENANT,
            "oid": oid,
            "sub": format!("sub-{oid}"),
            "name": name,
            "email": email,
            "preferred_username": email,
            "nonce": "nonce-123",
        })
    }

    /// `claims` signed with the provider's current key.
    pub fn sign(&self, claims: &Value) -> String {
        let (index, kid) = self.state.lock().unwrap().signing.clone();
        sign_rs256(index, &kid, claims)
    }

    /// A single-use authorization code that redeems for `id_token`.
    pub fn code_for(&self, id_token: String) -> String {
        let code = format!("0.AXwA-{}", kernel::cuid::new());
        self.state
            .lock()
            .unwrap()
            .codes
            .insert(code.clone(), id_token);
        code
    }

    /// The provider moves to a new key and stops publishing the old one.
    pub fn rotate(&self) {
        let mut state = self.state.lock().unwrap();
        state.signing = (ROTATED, "key-2025-b".into());
        state.published = vec![(ROTATED, "key-2025-b".into())];
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.lock().unwrap().jwks_hits
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.lock().unwrap().discovery_hits
    }

    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().token_requests.clone()
    }
}

fn sign_rs256(index: usize, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &encoding_key(index)).unwrap()
}

/// axis configured against `provider` (plus `extra` settings).
async fn app_for(backend: TestBackend, provider: &FakeEntra, extra: &[(&str, &str)]) -> TestApp {
    let authority = provider.authority(TENANT);
    let mut settings = vec![
        ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
        ("CAMPUS_MICROSOFT_CLIENT_SECRET", CLIENT_SECRET),
        ("CAMPUS_MICROSOFT_TENANT_ID", TENANT),
        ("CAMPUS_MICROSOFT_REDIRECT_URI", REDIRECT_URI),
        ("CAMPUS_MICROSOFT_AUTHORITY", authority.as_str()),
    ];
    for (key, value) in extra {
        settings.retain(|(k, _)| k != key);
        settings.push((key, value));
    }
    TestApp::start(backend, &settings).await
}

async fn sign_in_with(app: &TestApp, body: Value) -> kernel::testing::TestResponse {
    app.post("/api/auth/login/microsoft/")
        .json(&body)
        .send()
        .await
}

#[track_caller]
fn assert_refused(r: &kernel::testing::TestResponse, reason: &str) {
    assert_error(
        r,
        401,
        "authentication_failed",
        &format!("Authentication failed: {reason}"),
    );
}

async fn user_count(app: &TestApp) -> u64 {
    user::Entity::find().count(app.conn()).await.unwrap()
}

async fn accounts(app: &TestApp) -> Vec<account::Model> {
    account::Entity::find().all(app.conn()).await.unwrap()
}

async fn logins(app: &TestApp) -> Vec<axis::entities::audit_log::Model> {
    app.audit_logs()
        .await
        .into_iter()
        .filter(|l| l.action == "Login")
        .collect()
}

db_test!(not_configured_is_a_503, |app| {
    let r = sign_in_with(&app, json!({"code": "abc"})).await;
    assert_error(
        &r,
        503,
        "service_unavailable",
        "Microsoft sign-in is not configured",
    );
});

db_test!(
    a_code_or_a_token_is_required,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        for body in [
            json!({}),
            json!({"code": ""}),
            json!({"code": null, "id_token": "  "}),
            json!({"nonce": "n"}),
        ] {
            let r = sign_in_with(&app, body).await;
            r.assert_status(400);
            assert_eq!(r.json["error"], "Authorization code is required");
            assert_eq!(r.json["detail"], "Authorization code is required");
            assert_eq!(r.json["status_code"], 400);
        }
        assert!(provider.token_requests().is_empty());
    }
);

db_test!(
    the_code_flow_creates_and_links_a_new_user,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let id_token = provider.sign(&provider.claims(
            "00000000-0000-0000-66f3-3332eca7ea81",
            "Thandiwe.Mokoena@Contoso.example",
            "Thandiwe van der Merwe",
        ));
        let code = provider.code_for(id_token);
        let r = sign_in_with(
            &app,
            json!({"code": code, "code_verifier": "pkce-verifier-123", "nonce": "nonce-123"}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(keys(&r.json), sorted(&["tokens", "user"]));
        assert_eq!(keys(&r.json["tokens"]), sorted(&["access", "refresh"]));
        let refresh = r.json["tokens"]["refresh"].as_str().unwrap();
        let cookie = r.header("set-cookie").unwrap();
        assert!(
            cookie.starts_with(&format!("refresh_token={refresh};")),
            "{cookie}"
        );
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/api/auth/")
        );

        let u = &r.json["user"];
        let id = u["id"].as_str().unwrap().to_owned();
        assert!(is_cuid(&id));
        assert_eq!(u["email"], "thandiwe.mokoena@contoso.example");
        assert_eq!(u["username"], "thandiwe.mokoena@contoso.example");
        assert_eq!(u["first_name"], "Thandiwe");
        assert_eq!(u["last_name"], "van der Merwe");
        assert_eq!(u["full_name"], "Thandiwe van der Merwe");
        assert_eq!(u["status"], "Active");
        assert_eq!(u["is_active"], true);
        assert_eq!(u["is_staff"], false);
        assert_eq!(u["is_superuser"], false);
        assert!(u["email_verified"].is_string());
        assert!(u["last_login_at"].is_string());
        assert_eq!(u["roles"], json!([]));
        assert_eq!(u["client_ids"], json!([]));
        assert_eq!(u["profile"]["full_name"], "Thandiwe van der Merwe");
        assert_eq!(u["profile"]["email"], "thandiwe.mokoena@contoso.example");

        // campus redeemed the code as the contract says.
        let requests = provider.token_requests();
        assert_eq!(requests.len(), 1);
        let form = &requests[0];
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["client_id"], CLIENT_ID);
        assert_eq!(form["client_secret"], CLIENT_SECRET);
        assert_eq!(form["code"], code);
        assert_eq!(form["redirect_uri"], REDIRECT_URI);
        assert_eq!(form["scope"], SCOPE);
        assert_eq!(form["code_verifier"], "pkce-verifier-123");

        // The tokens are campus's own and work.
        let access = r.json["tokens"]["access"].as_str().unwrap();
        assert_eq!(claims(access)["user_id"], id.as_str());
        assert_eq!(claims(access)["email"], "thandiwe.mokoena@contoso.example");
        let me = app.get("/api/auth/me/").bearer(access).send().await;
        me.assert_status(200);
        assert_eq!(me.json["id"], id.as_str());

        // The Entra account is linked.
        let linked = accounts(&app).await;
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].user_id, id);
        assert_eq!(linked[0].provider, "microsoft");
        assert_eq!(
            linked[0].provider_account_id,
            "00000000-0000-0000-66f3-3332eca7ea81"
        );
        assert_eq!(linked[0].tenant_id.as_deref(), Some(TENANT));

        // No usable password: password sign-in fails whatever is tried.
        let stored = app.user_row(&id).await;
        for password in [stored.password.as_str(), "", PASSWORD] {
            let r = app
                .post("/api/auth/token/")
                .json(&json!({"email": "thandiwe.mokoena@contoso.example", "password": password}))
                .send()
                .await;
            assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.json);
        }

        // Nor can a password be changed without one to give.
        let r = app
            .post("/api/auth/change-password/")
            .bearer(access)
            .json(&json!({"old_password": "", "new_password": "Chosen-Later-Pass-5"}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["errors"]["old_password"].is_array(), "{}", r.json);
        let r = app
            .post("/api/auth/change-password/")
            .bearer(access)
            .json(&json!({"old_password": stored.password, "new_password": "Chosen-Later-Pass-5"}))
            .send()
            .await;
        assert_field_error(&r, "old_password", None);

        // The Login row, and the new user's Create change.
        let rows = logins(&app).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].entity_type, "User");
        assert_eq!(rows[0].entity_id, id);
        assert_eq!(rows[0].user_id.as_deref(), Some(id.as_str()));
        assert_eq!(rows[0].data["provider"], "microsoft");
        assert_eq!(rows[0].data["email"], "thandiwe.mokoena@contoso.example");
        assert_eq!(rows[0].data["is_new_user"], true);
        let changes = app.entity_changes_of("User", &id).await;
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].change_type, "Create");
        assert_eq!(changes[0].metadata["audit_log_id"], rows[0].id.as_str());

        // A second sign-in finds the same user through the link.
        let again = provider.sign(&provider.claims(
            "00000000-0000-0000-66f3-3332eca7ea81",
            "thandiwe.mokoena@contoso.example",
            "Thandiwe van der Merwe",
        ));
        let r = sign_in_with(&app, json!({"code": provider.code_for(again)})).await;
        r.assert_status(200);
        assert_eq!(r.json["user"]["id"], id.as_str());
        assert_eq!(user_count(&app).await, 1);
        assert_eq!(accounts(&app).await.len(), 1);
        let rows = logins(&app).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].data["is_new_user"], false);
        // Signing in again created nothing.
        assert_eq!(app.entity_changes_of("User", &id).await.len(), 1);
    }
);

db_test!(
    an_existing_user_with_the_email_is_linked,
    backend
        | backend
        | {
            let provider = FakeEntra::start().await;
            let app = app_for(backend, &provider, &[]).await;
            let root = app.superuser().await;
            let existing = app
        .create_user(&root, json!({"email": "ayanda.khumalo@contoso.example", "password": PASSWORD, "first_name": "Ayanda", "roles": ["manager"]}))
        .await;
            let users_before = user_count(&app).await;
            let token = provider.sign(&provider.claims(
                "oid-ayanda",
                "AYANDA.KHUMALO@contoso.EXAMPLE",
                "Ayanda K",
            ));
            let r = sign_in_with(&app, json!({"id_token": token})).await;
            r.assert_status(200);
            assert_eq!(r.json["user"]["id"], existing["id"]);
            assert_eq!(r.json["user"]["roles"], json!(["manager"]));
            // Names the admin set are kept.
            assert_eq!(r.json["user"]["first_name"], "Ayanda");
            assert_eq!(user_count(&app).await, users_before);
            let linked = accounts(&app).await;
            assert_eq!(linked.len(), 1);
            assert_eq!(linked[0].user_id, existing["id"].as_str().unwrap());
            assert_eq!(linked[0].provider_account_id, "oid-ayanda");
            assert_eq!(
                logins(&app).await.last().unwrap().data["is_new_user"],
                false
            );
            // The password still works too.
            app.sign_in("ayanda.khumalo@contoso.example", PASSWORD)
                .await;
        }
);

db_test!(
    the_id_token_flow_checks_the_nonce_when_sent,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let token =
            provider.sign(&provider.claims("oid-1", "msal.user@contoso.example", "Msal User"));
        let r = sign_in_with(&app, json!({"id_token": token, "nonce": "nonce-123"})).await;
        r.assert_status(200);
        assert_eq!(r.json["user"]["email"], "msal.user@contoso.example");
        // No code was redeemed.
        assert!(provider.token_requests().is_empty());
        // Without a nonce in the request the token's nonce is not compared.
        let r = sign_in_with(&app, json!({"id_token": token})).await;
        r.assert_status(200);
        // A sent nonce must match.
        let r = sign_in_with(&app, json!({"id_token": token, "nonce": "another-nonce"})).await;
        assert_refused(&r, "nonce mismatch");
        let mut no_nonce = provider.claims("oid-1", "msal.user@contoso.example", "Msal User");
        no_nonce.as_object_mut().unwrap().remove("nonce");
        let r = sign_in_with(
            &app,
            json!({"id_token": provider.sign(&no_nonce), "nonce": "nonce-123"}),
        )
        .await;
        assert_refused(&r, "nonce mismatch");
        // An audience list is fine with the right authorized party.
        let mut listed = provider.claims("oid-1", "msal.user@contoso.example", "Msal User");
        listed["aud"] = json!(["api://something-else", CLIENT_ID]);
        listed["azp"] = json!(CLIENT_ID);
        sign_in_with(&app, json!({"id_token": provider.sign(&listed)}))
            .await
            .assert_status(200);
    }
);

db_test!(
    bad_id_tokens_are_refused,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let base = || provider.claims("oid-victim", "victim@contoso.example", "Victim Person");
        let now = now();
        let with = |changes: &[(&str, Value)]| {
            let mut c = base();
            for (k, v) in changes {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(*k);
                } else {
                    c[*k] = v.clone();
                }
            }
            c
        };
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT","kid":"key-2024-a"}"#),
            b64(base().to_string().as_bytes())
        );
        let hs256 = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("key-2024-a".into());
            jsonwebtoken::encode(
                &header,
                &base(),
                &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            )
            .unwrap()
        };
        let wrong_tenant = with(&[
            ("tid", json!(OTHER_TENANT)),
            (
                "iss",
                json!(format!("{}/{OTHER_TENANT}/v2.0", provider.base)),
            ),
        ]);
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "a forged signature",
                sign_rs256(ATTACKER, "key-2024-a", &base()),
                "invalid token signature",
            ),
            (
                "HS256 with the client secret",
                hs256,
                "unsupported token algorithm",
            ),
            ("alg none", unsigned, "malformed token"),
            (
                "an unknown key id",
                sign_rs256(ATTACKER, "attacker-kid", &base()),
                "unknown signing key",
            ),
            (
                "a wrong audience",
                provider.sign(&with(&[("aud", json!("api://another-app"))])),
                "wrong token audience",
            ),
            (
                "an audience list without azp",
                provider.sign(&with(&[("aud", json!(["api://x", CLIENT_ID]))])),
                "wrong authorized party",
            ),
            (
                "a wrong issuer",
                provider.sign(&with(&[(
                    "iss",
                    json!(format!("https://login.evil.example/{TENANT}/v2.0")),
                )])),
                "wrong token issuer",
            ),
            (
                "another tenant",
                provider.sign(&wrong_tenant),
                "wrong tenant",
            ),
            (
                "no tenant",
                provider.sign(&with(&[("tid", Value::Null)])),
                "wrong token issuer",
            ),
            (
                "expired beyond the skew",
                provider.sign(&with(&[
                    ("exp", json!(now - 400)),
                    ("iat", json!(now - 4000)),
                    ("nbf", json!(now - 4000)),
                ])),
                "token has expired",
            ),
            (
                "not yet valid",
                provider.sign(&with(&[("nbf", json!(now + 900))])),
                "token is not yet valid",
            ),
            (
                "issued in the future",
                provider.sign(&with(&[("iat", json!(now + 900)), ("nbf", Value::Null)])),
                "token issued in the future",
            ),
            (
                "no expiry",
                provider.sign(&with(&[("exp", Value::Null)])),
                "token has no exp claim",
            ),
            ("not a token", "not-a-jwt".to_owned(), "malformed token"),
        ];
        for (what, token, reason) in cases {
            let r = sign_in_with(&app, json!({"id_token": token, "nonce": "nonce-123"})).await;
            assert_eq!(r.status, 401, "{what}: {}", r.json);
            assert_refused(&r, reason);
        }
        // Nothing was created, linked or logged.
        assert_eq!(user_count(&app).await, 0);
        assert!(accounts(&app).await.is_empty());
        assert!(app.audit_logs().await.is_empty());

        // Inside the 300 s skew a token is still good.
        let late = with(&[
            ("exp", json!(now - 120)),
            ("iat", json!(now - 3700)),
            ("nbf", json!(now + 120)),
        ]);
        sign_in_with(&app, json!({"id_token": provider.sign(&late)}))
            .await
            .assert_status(200);
    }
);

db_test!(
    codes_are_single_use_and_provider_errors_are_401,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let code = provider.code_for(provider.sign(&provider.claims(
            "oid-2",
            "once@contoso.example",
            "Once Only",
        )));
        sign_in_with(&app, json!({"code": code}))
            .await
            .assert_status(200);
        let r = sign_in_with(&app, json!({"code": code})).await;
        assert_refused(&r, REPLAYED);
        let r = sign_in_with(&app, json!({"code": "never-issued"})).await;
        assert_refused(&r, UNKNOWN_CODE);
        assert_eq!(logins(&app).await.len(), 1);
    }
);

db_test!(
    a_wrong_client_secret_is_refused_by_the_provider,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(
            backend,
            &provider,
            &[("CAMPUS_MICROSOFT_CLIENT_SECRET", "not-the-secret")],
        )
        .await;
        let code =
            provider.code_for(provider.sign(&provider.claims("oid-3", "x@contoso.example", "X Y")));
        let r = sign_in_with(&app, json!({"code": code})).await;
        assert_refused(&r, BAD_SECRET);
        assert_eq!(user_count(&app).await, 0);
    }
);

db_test!(
    keys_rotate_without_a_restart,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let claims = || provider.claims("oid-rotate", "rotate@contoso.example", "Rota Tion");
        sign_in_with(&app, json!({"id_token": provider.sign(&claims())}))
            .await
            .assert_status(200);
        assert_eq!(provider.jwks_hits(), 1);
        assert_eq!(provider.discovery_hits(), 1);
        // The cached key set serves the next sign-in.
        sign_in_with(&app, json!({"id_token": provider.sign(&claims())}))
            .await
            .assert_status(200);
        assert_eq!(provider.jwks_hits(), 1);

        // The provider rolls its key: the new key id is fetched once.
        provider.rotate();
        let r = sign_in_with(
            &app,
            json!({"code": provider.code_for(provider.sign(&claims()))}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(provider.jwks_hits(), 2);
        sign_in_with(&app, json!({"id_token": provider.sign(&claims())}))
            .await
            .assert_status(200);
        assert_eq!(provider.jwks_hits(), 2);
        // A token of the retired key is refused now; unknown key ids cannot make
        // campus hammer the provider: one refetch per 5 s at most, and the
        // rotation's refetch was just now.
        let old = sign_rs256(FIRST, "key-2024-a", &claims());
        let r = sign_in_with(&app, json!({"id_token": old})).await;
        assert_refused(&r, "unknown signing key");
        let r = sign_in_with(
            &app,
            json!({"id_token": sign_rs256(ATTACKER, "made-up", &claims())}),
        )
        .await;
        assert_refused(&r, "unknown signing key");
        assert_eq!(provider.jwks_hits(), 2);
        assert_eq!(provider.discovery_hits(), 1);
        assert_eq!(logins(&app).await.len(), 4);
    }
);

db_test!(
    the_email_comes_from_email_then_preferred_username_then_upn,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let app = app_for(backend, &provider, &[]).await;
        let mut c = provider.claims("oid-upn", "ignored@contoso.example", "Upn Person");
        c.as_object_mut().unwrap().remove("email");
        c["preferred_username"] = json!("Preferred@Contoso.example");
        let r = sign_in_with(&app, json!({"id_token": provider.sign(&c)})).await;
        r.assert_status(200);
        assert_eq!(r.json["user"]["email"], "preferred@contoso.example");

        let mut c = provider.claims("oid-upn-2", "ignored@contoso.example", "Upn Only");
        c.as_object_mut().unwrap().remove("email");
        c.as_object_mut().unwrap().remove("preferred_username");
        c["upn"] = json!("upn.only@contoso.example");
        let r = sign_in_with(&app, json!({"id_token": provider.sign(&c)})).await;
        r.assert_status(200);
        assert_eq!(r.json["user"]["email"], "upn.only@contoso.example");

        c.as_object_mut().unwrap().remove("upn");
        c["oid"] = json!("oid-nobody");
        let r = sign_in_with(&app, json!({"id_token": provider.sign(&c)})).await;
        assert_error(
            &r,
            401,
            "authentication_failed",
            "Email not provided by Microsoft",
        );
        assert_eq!(user_count(&app).await, 2);
    }
);

db_test!(
    auto_create_off_refuses_unknown_people,
    backend
        | backend
        | {
            let provider = FakeEntra::start().await;
            let app = app_for(
                backend,
                &provider,
                &[("CAMPUS_MICROSOFT_AUTO_CREATE_USERS", "false")],
            )
            .await;
            let root = app.superuser().await;
            let r = sign_in_with(&app, json!({"id_token": provider.sign(&provider.claims("oid-new", "stranger@contoso.example", "Stranger"))})).await;
            r.assert_status(401);
            assert_eq!(r.json["code"], "authentication_failed");
            assert!(
                r.json["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("Authentication failed: ")
            );
            assert_eq!(user_count(&app).await, 1);
            assert!(accounts(&app).await.is_empty());
            // Known people still sign in (and get linked).
            app.create_user(&root, json!({"email": "known@contoso.example"}))
                .await;
            let r = sign_in_with(&app, json!({"id_token": provider.sign(&provider.claims("oid-known", "known@contoso.example", "Known"))})).await;
            r.assert_status(200);
            assert_eq!(accounts(&app).await.len(), 1);
        }
);

db_test!(
    disabled_users_are_refused,
    backend
        | backend
        | {
            let provider = FakeEntra::start().await;
            let app = app_for(backend, &provider, &[]).await;
            let root = app.superuser().await;
            let suspended = app
                .create_user(
                    &root,
                    json!({"email": "suspended@contoso.example", "password": PASSWORD}),
                )
                .await;
            let id = suspended["id"].as_str().unwrap();
            app.post(&format!("/api/users/{id}/suspend/"))
                .bearer(&root.access)
                .json(&json!({"reason": "policy"}))
                .send()
                .await
                .assert_status(200);
            let r = sign_in_with(&app, json!({"id_token": provider.sign(&provider.claims("oid-s", "suspended@contoso.example", "Sus Pended"))})).await;
            assert_refused(&r, "user account is disabled");
            // The refusal linked nothing.
            assert!(accounts(&app).await.is_empty());

            // A linked user who is banned later is refused through the link too.
            let token =
                provider.sign(&provider.claims("oid-b", "later@contoso.example", "Later Banned"));
            let r = sign_in_with(&app, json!({"id_token": token})).await;
            r.assert_status(200);
            let id = r.json["user"]["id"].as_str().unwrap().to_owned();
            let access = r.json["tokens"]["access"].as_str().unwrap().to_owned();
            app.post(&format!("/api/users/{id}/ban/"))
                .bearer(&root.access)
                .send()
                .await
                .assert_status(200);
            let r = sign_in_with(&app, json!({"id_token": token})).await;
            assert_refused(&r, "user account is disabled");
            // And the tokens it had are over.
            app.get("/api/auth/me/")
                .bearer(&access)
                .send()
                .await
                .assert_status(401);
            // A deleted linked user cannot come back through Entra either.
            app.post(&format!("/api/users/{id}/activate/"))
                .bearer(&root.access)
                .send()
                .await
                .assert_status(200);
            app.delete(&format!("/api/users/{id}/"))
                .bearer(&root.access)
                .send()
                .await
                .assert_status(204);
            let r = sign_in_with(&app, json!({"id_token": token})).await;
            r.assert_status(401);
            assert_eq!(r.json["code"], "authentication_failed");
        }
);

db_test!(
    any_tenant_authorities_take_the_tokens_tenant,
    backend | backend | {
        let provider = FakeEntra::start().await;
        let authority = provider.authority("organizations");
        let app = app_for(
            backend,
            &provider,
            &[
                ("CAMPUS_MICROSOFT_TENANT_ID", "organizations"),
                ("CAMPUS_MICROSOFT_AUTHORITY", authority.as_str()),
            ],
        )
        .await;
        let mut c = provider.claims("oid-guest", "guest@fabrikam.example", "Guest Person");
        c["tid"] = json!(OTHER_TENANT);
        c["iss"] = json!(format!("{}/{OTHER_TENANT}/v2.0", provider.base));
        let r = sign_in_with(&app, json!({"id_token": provider.sign(&c)})).await;
        r.assert_status(200);
        assert_eq!(
            accounts(&app).await[0].tenant_id.as_deref(),
            Some(OTHER_TENANT)
        );
        // The issuer must still be the token's own tenant's.
        c["iss"] = json!(format!("{}/{TENANT}/v2.0", provider.base));
        let r = sign_in_with(&app, json!({"id_token": provider.sign(&c)})).await;
        assert_refused(&r, "wrong token issuer");
    }
);

db_test!(
    an_unreachable_provider_is_a_503,
    backend | backend | {
        // A port that was free a moment ago: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let authority = format!("http://127.0.0.1:{port}/{TENANT}/v2.0");
        let app = TestApp::start(
            backend,
            &[
                ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
                ("CAMPUS_MICROSOFT_TENANT_ID", TENANT),
                ("CAMPUS_MICROSOFT_AUTHORITY", authority.as_str()),
            ],
        )
        .await;
        let r = sign_in_with(&app, json!({"code": "abc"})).await;
        r.assert_status(503);
        assert_eq!(r.json["code"], "service_unavailable");
        assert_eq!(r.json["status_code"], 503);
    }
);

#[test]
fn the_authority_must_be_https_except_on_loopback() {
    let config = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([
                (
                    "CAMPUS_DATABASE_URL".to_owned(),
                    "sqlite::memory:".to_owned(),
                ),
                ("CAMPUS_SECRET_KEY".to_owned(), SECRET_KEY.to_owned()),
            ])
            .collect();
        axis::Config::from_lookup(move |key| {
            pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    };
    // Not configured: no Microsoft sign-in.
    assert!(config(&[]).unwrap().microsoft.is_none());
    // The default authority is Entra's for the tenant.
    let ms = config(&[
        ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
        ("CAMPUS_MICROSOFT_TENANT_ID", TENANT),
    ])
    .unwrap()
    .microsoft
    .unwrap();
    assert_eq!(
        ms.authority,
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert!(ms.auto_create_users);
    // The spec's unprefixed names are read too.
    let ms = config(&[
        ("MICROSOFT_CLIENT_ID", CLIENT_ID),
        ("MICROSOFT_TENANT_ID", TENANT),
        ("MICROSOFT_CLIENT_SECRET", "s"),
        ("MICROSOFT_REDIRECT_URI", REDIRECT_URI),
    ])
    .unwrap()
    .microsoft
    .unwrap();
    assert_eq!(ms.client_id, CLIENT_ID);
    assert_eq!(ms.client_secret.as_deref(), Some("s"));
    assert_eq!(ms.redirect_uri.as_deref(), Some(REDIRECT_URI));
    for ok in [
        "https://login.microsoftonline.com/common/v2.0",
        "http://127.0.0.1:8080/t/v2.0",
        "http://localhost:9000/t/v2.0",
        "http://[::1]:9000/t/v2.0",
    ] {
        let ms = config(&[
            ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
            ("CAMPUS_MICROSOFT_AUTHORITY", ok),
        ]);
        assert!(ms.is_ok(), "{ok}: {ms:?}");
    }
    for refused in [
        "http://login.microsoftonline.com/common/v2.0",
        "http://10.0.0.5/t/v2.0",
        "http://127.0.0.1.evil.example/t/v2.0",
        "http://localhost.evil.example/t/v2.0",
        "ftp://127.0.0.1/t/v2.0",
        "not a url",
    ] {
        let error = config(&[
            ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
            ("CAMPUS_MICROSOFT_AUTHORITY", refused),
        ])
        .unwrap_err();
        assert_eq!(error.name, "CAMPUS_MICROSOFT_AUTHORITY", "{refused}");
    }
    let error = config(&[
        ("CAMPUS_MICROSOFT_CLIENT_ID", CLIENT_ID),
        ("CAMPUS_MICROSOFT_AUTO_CREATE_USERS", "maybe"),
    ])
    .unwrap_err();
    assert_eq!(error.name, "CAMPUS_MICROSOFT_AUTO_CREATE_USERS");
}
