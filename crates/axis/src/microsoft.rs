//! Microsoft Entra ID sign-in (axis contract §1.2): `POST
//! auth/login/microsoft/` with an authorization code (exchanged at the
//! provider's token endpoint) or an ID token an MSAL frontend already holds.
//! The ID token is checked in full — RS256 only, a key of the provider's
//! JWKS (refetched once on an unknown key id, so keys rotate without a
//! restart), issuer, audience and `azp`, expiry, not-before and issue time
//! with 300 s of skew, tenant, nonce — before the account is linked, found
//! by email or created.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kernel::config::SettingError;
use kernel::{ApiError, ApiResult, Db, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::RequestInfo;
use crate::audit::{self, Change, Event, Who};
use crate::entities::{account, profile, user};
use crate::state::AppState;
use crate::users;

/// How long a discovery document is trusted.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// How long a key set is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An unknown key id refetches the key set at most this often.
const JWKS_REFETCH: Duration = Duration::from_secs(5);
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const SKEW: u64 = 300;
/// Outbound calls give up after this long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The `CAMPUS_MICROSOFT_*` settings (the spec's `MICROSOFT_*` too).
#[derive(Debug, Clone)]
pub struct Settings {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// A tenant id, or `common` / `organizations` (any tenant).
    pub tenant_id: String,
    pub redirect_uri: Option<String>,
    /// `https://login.microsoftonline.com/<tenant>/v2.0` unless set.
    pub authority: String,
    /// Unknown users are created (default) or refused.
    pub auto_create_users: bool,
}

impl Settings {
    /// `None` when no client id is configured (sign-in answers 503).
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, SettingError> {
        let get = |name: &str| {
            lookup(&format!("CAMPUS_{name}"))
                .or_else(|| lookup(name))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(client_id) = get("MICROSOFT_CLIENT_ID") else {
            return Ok(None);
        };
        let tenant_id = get("MICROSOFT_TENANT_ID").unwrap_or_else(|| "common".to_owned());
        let authority = get("MICROSOFT_AUTHORITY")
            .unwrap_or_else(|| format!("https://login.microsoftonline.com/{tenant_id}/v2.0"));
        let authority = check_authority(&authority).map_err(|reason| SettingError {
            name: "CAMPUS_MICROSOFT_AUTHORITY",
            reason,
        })?;
        let auto_create_users = match get("MICROSOFT_AUTO_CREATE_USERS")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(_) => {
                return Err(SettingError {
                    name: "CAMPUS_MICROSOFT_AUTO_CREATE_USERS",
                    reason: "expected true or false".into(),
                });
            }
        };
        Ok(Some(Self {
            client_id,
            client_secret: get("MICROSOFT_CLIENT_SECRET"),
            tenant_id,
            redirect_uri: get("MICROSOFT_REDIRECT_URI"),
            authority,
            auto_create_users,
        }))
    }

    fn any_tenant(&self) -> bool {
        matches!(
            self.tenant_id.to_ascii_lowercase().as_str(),
            "common" | "organizations"
        )
    }
}

/// An `https://` authority (plain `http://` only on a loopback host), kept
/// without its trailing slash.
fn check_authority(raw: &str) -> Result<String, String> {
    let parsed = url::Url::parse(raw).map_err(|_| format!("{raw:?} is not a URL"))?;
    let loopback = matches!(
        parsed.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be an https:// URL (http:// only on a loopback host)".into()),
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Default)]
struct Cache {
    discovery: Option<(Discovery, Instant)>,
    jwks: Option<(JwkSet, Instant)>,
    /// When an unknown key id last refetched the key set.
    jwks_refetched: Option<Instant>,
}

/// Entra ID as campus talks to it: the settings, an HTTP client and the
/// cached discovery document and key set.
pub struct Microsoft {
    pub settings: Settings,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

/// Why a sign-in was refused: the text after `Authentication failed: `.
fn failed(reason: impl std::fmt::Display) -> ApiError {
    ApiError::auth_failed(
        format!("Authentication failed: {reason}"),
        "authentication_failed",
    )
}

fn unavailable() -> ApiError {
    ApiError::Unavailable("Microsoft sign-in is unavailable; please try again later.".into())
}

impl Microsoft {
    pub fn new(settings: Settings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            http,
            cache: Mutex::new(Cache::default()),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> ApiResult<T> {
        let response = self.http.get(url).send().await.map_err(|error| {
            tracing::warn!(%error, url, "Microsoft sign-in: request failed");
            unavailable()
        })?;
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), url, "Microsoft sign-in: unexpected status");
            return Err(unavailable());
        }
        response.json().await.map_err(|error| {
            tracing::warn!(%error, url, "Microsoft sign-in: unreadable answer");
            unavailable()
        })
    }

    async fn discovery(&self) -> ApiResult<Discovery> {
        {
            let cache = self.cache.lock().await;
            if let Some((doc, at)) = &cache.discovery
                && at.elapsed() < DISCOVERY_TTL
            {
                return Ok(doc.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.authority
        );
        let doc: Discovery = self.get_json(&url).await?;
        self.cache.lock().await.discovery = Some((doc.clone(), Instant::now()));
        Ok(doc)
    }

    /// The key `kid`: from the cached set, else from a set fetched now. A
    /// key id the fresh cached set lacks refetches it (key rotation), at
    /// most once in 5 s however many unknown ids arrive; a missing or
    /// expired cache is always fetched.
    async fn key(&self, discovery: &Discovery, kid: &str) -> ApiResult<Option<DecodingKey>> {
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .jwks
            .as_ref()
            .filter(|(_, at)| at.elapsed() < JWKS_TTL)
            .map(|(set, _)| set);
        if let Some(set) = fresh {
            if let Some(jwk) = set.find(kid) {
                return Ok(DecodingKey::from_jwk(jwk).ok());
            }
            if cache
                .jwks_refetched
                .is_some_and(|at| at.elapsed() < JWKS_REFETCH)
            {
                return Ok(None);
            }
            cache.jwks_refetched = Some(Instant::now());
        }
        drop(cache);
        let set: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let key = set
            .find(kid)
            .and_then(|jwk| DecodingKey::from_jwk(jwk).ok());
        self.cache.lock().await.jwks = Some((set, Instant::now()));
        Ok(key)
    }

    /// Exchanges an authorization code for the provider's ID token.
    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: Option<&str>,
    ) -> ApiResult<String> {
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", s.client_id.as_str()),
            ("code", code),
            ("scope", "openid profile email User.Read"),
        ];
        if let Some(secret) = &s.client_secret {
            form.push(("client_secret", secret));
        }
        if let Some(uri) = &s.redirect_uri {
            form.push(("redirect_uri", uri));
        }
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "Microsoft sign-in: token endpoint unreachable");
                unavailable()
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let description = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("the authorization code was refused");
            let description: String = description.chars().take(300).collect();
            return Err(failed(description));
        }
        body["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("no ID token in the token response"))
    }

    /// The claims of a valid ID token.
    async fn validate(&self, token: &str, nonce: Option<&str>) -> ApiResult<Value> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| failed("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(failed("unsupported token algorithm"));
        }
        let kid = header.kid.ok_or_else(|| failed("token has no key id"))?;
        let discovery = self.discovery().await?;
        let key = self
            .key(&discovery, &kid)
            .await?
            .ok_or_else(|| failed("unknown signing key"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = SKEW;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => failed("token has expired"),
            jsonwebtoken::errors::ErrorKind::ImmatureSignature => failed("token is not yet valid"),
            jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(claim) => {
                failed(format!("token has no {claim} claim"))
            }
            jsonwebtoken::errors::ErrorKind::InvalidSignature => failed("invalid token signature"),
            _ => failed("invalid token"),
        })?;
        let claims = data.claims;
        let s = &self.settings;
        let tid = claims["tid"].as_str().unwrap_or_default();
        let issuer = discovery.issuer.replace("{tenantid}", tid);
        if claims["iss"].as_str() != Some(issuer.as_str()) {
            return Err(failed("wrong token issuer"));
        }
        match &claims["aud"] {
            Value::String(aud) if *aud == s.client_id => {}
            Value::Array(list) if list.iter().any(|a| a.as_str() == Some(&s.client_id)) => {
                if claims["azp"].as_str() != Some(s.client_id.as_str()) {
                    return Err(failed("wrong authorized party"));
                }
            }
            _ => return Err(failed("wrong token audience")),
        }
        let now = chrono::Utc::now().timestamp();
        let skew = i64::try_from(SKEW).unwrap_or(300);
        if claims["iat"].as_i64().is_some_and(|iat| iat > now + skew) {
            return Err(failed("token issued in the future"));
        }
        if !s.any_tenant() && !tid.eq_ignore_ascii_case(&s.tenant_id) {
            return Err(failed("wrong tenant"));
        }
        if let Some(nonce) = nonce
            && claims["nonce"].as_str() != Some(nonce)
        {
            return Err(failed("nonce mismatch"));
        }
        Ok(claims)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(microsoft_login))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MicrosoftIn {
    /// An authorization code to exchange.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    code: Field<String>,
    /// The PKCE verifier of the code.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    code_verifier: Field<String>,
    /// An ID token an MSAL frontend holds.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    id_token: Field<String>,
    /// The nonce the sign-in began with.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    nonce: Field<String>,
}

/// What a Microsoft sign-in answers.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct MicrosoftOut {
    pub user: users::UserOut,
    pub tokens: kernel::jwt::TokenPair,
}

fn text(field: Field<String>) -> Option<String> {
    field
        .value()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 16_384)
}

/// Sign in with Microsoft: `{user, tokens: {access, refresh}}` and the
/// refresh cookie; a new user is created unless that is turned off.
#[utoipa::path(post, path = "/api/auth/login/microsoft/", tag = "auth", request_body = MicrosoftIn,
    responses((status = 200, description = "`{user, tokens: {access, refresh}}`", body = MicrosoftOut),
        (status = 401, description = "`Authentication failed: <reason>`"),
        (status = 503, description = "Microsoft sign-in is not configured")))]
pub async fn microsoft_login(
    State(state): State<AppState>,
    Db(db): Db,
    request: RequestInfo,
    Json(input): Json<MicrosoftIn>,
) -> ApiResult<Response> {
    let Some(provider) = state.microsoft.clone() else {
        return Err(ApiError::Unavailable(
            "Microsoft sign-in is not configured".into(),
        ));
    };
    let nonce = text(input.nonce);
    let id_token = match (text(input.id_token), text(input.code)) {
        (Some(token), _) => token,
        (None, Some(code)) => {
            let discovery = provider.discovery().await?;
            let verifier = text(input.code_verifier);
            provider
                .exchange(&discovery, &code, verifier.as_deref())
                .await?
        }
        (None, None) => {
            return Err(ApiError::BadRequest {
                detail: "Authorization code is required".into(),
                code: "invalid",
            });
        }
    };
    let claims = provider.validate(&id_token, nonce.as_deref()).await?;
    let email = ["email", "preferred_username", "upn"]
        .iter()
        .find_map(|k| claims[*k].as_str())
        .and_then(kernel::form::normalize_email)
        .ok_or_else(|| {
            ApiError::auth_failed("Email not provided by Microsoft", "authentication_failed")
        })?;
    let oid = claims["oid"]
        .as_str()
        .or(claims["sub"].as_str())
        .ok_or_else(|| failed("token has no object id"))?
        .to_owned();
    let tid = claims["tid"].as_str().map(str::to_owned);
    let name = claims["name"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();

    let txn = kernel::db::begin_write(&db).await?;
    let (user, is_new) = resolve(&txn, &provider.settings, &oid, tid, &email, &name).await?;
    if !user.may_sign_in() {
        return Err(failed("user account is disabled"));
    }
    let now = kernel::time::now();
    let mut row: user::ActiveModel = user.clone().into();
    row.last_login_at = Set(Some(now));
    let user = row.update(&txn).await?;
    let who = Who {
        user_id: Some(&user.id),
        email: Some(&user.email),
        request: &request,
    };
    let mut event = Event::new("Login", "User", &user.id)
        .data("provider", json!("microsoft"))
        .data("email", json!(email))
        .data("is_new_user", json!(is_new));
    if is_new {
        event = event.change(Change::created(&users::record(&user)));
    }
    audit::record(&txn, who, event).await?;
    let out = users::render_one(&txn, user.clone()).await?;
    txn.commit().await?;
    let pair = kernel::identity::issue(&state, &user, serde_json::Map::new())?;
    Ok(crate::auth::with_cookie(
        &state,
        &pair.refresh,
        json!(MicrosoftOut {
            user: out,
            tokens: pair.clone()
        }),
    ))
}

/// The linked user, else the user with this email (then linked), else a
/// new one (unless creation is off); and whether it was created.
async fn resolve(
    db: &impl ConnectionTrait,
    settings: &Settings,
    oid: &str,
    tid: Option<String>,
    email: &str,
    name: &str,
) -> ApiResult<(user::Model, bool)> {
    let linked = account::Entity::find()
        .filter(account::Column::Provider.eq("microsoft"))
        .filter(account::Column::ProviderAccountId.eq(oid))
        .one(db)
        .await?;
    if let Some(link) = linked {
        let user = user::Entity::find_by_id(link.user_id)
            .filter(user::Column::DeletedAt.is_null())
            .one(db)
            .await?
            .ok_or_else(|| failed("user account is disabled"))?;
        return Ok((user, false));
    }
    let now = kernel::time::now();
    let link = |user_id: String| account::ActiveModel {
        id: Set(kernel::cuid::new()),
        user_id: Set(user_id),
        provider: Set("microsoft".into()),
        provider_account_id: Set(oid.to_owned()),
        tenant_id: Set(tid.clone()),
        created_at: Set(now),
    };
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    if let Some(user) = existing {
        link(user.id.clone()).insert(db).await.map_err(raced)?;
        return Ok((user, false));
    }
    if !settings.auto_create_users {
        return Err(failed("no account exists for this email"));
    }
    let (first, last) = match name.split_once(' ') {
        Some((first, rest)) => (first.to_owned(), rest.trim().to_owned()),
        None => (name.to_owned(), String::new()),
    };
    let id = kernel::cuid::new();
    let user = user::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.to_owned()),
        username: Set(Some(email.to_owned())),
        password: Set(kernel::password::unusable()),
        first_name: Set(first.chars().take(150).collect()),
        last_name: Set(last.chars().take(150).collect()),
        status: Set("Active".into()),
        is_active: Set(true),
        is_staff: Set(false),
        is_superuser: Set(false),
        email_verified: Set(Some(now)),
        last_login_at: Set(None),
        preferred_language: Set(None),
        timezone: Set(None),
        metadata: Set(json!({})),
        token_epoch: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(db)
    .await
    .map_err(raced)?;
    profile::ActiveModel {
        id: Set(kernel::cuid::new()),
        user_id: Set(Some(id.clone())),
        full_name: Set(if name.is_empty() {
            email.to_owned()
        } else {
            name.chars().take(255).collect()
        }),
        email: Set(Some(email.to_owned())),
        phone: Set(None),
        image: Set(None),
        bio: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await?;
    link(id).insert(db).await.map_err(raced)?;
    Ok((user, true))
}

/// Two first sign-ins of one account at once: the loser retries.
fn raced(error: sea_orm::DbErr) -> ApiError {
    if crate::rest::is_unique(&error) {
        ApiError::detailed(
            StatusCode::CONFLICT,
            "This account is being signed in elsewhere; please try again.",
            "conflict",
            serde_json::Value::Null,
        )
    } else {
        error.into()
    }
}
