//! Password sign-in with SimpleJWT-compatible tokens (axis contract §1.1):
//! `auth/token/` (alias `auth/login/`), refresh with rotation and
//! blacklisting from the body or the `refresh_token` cookie, `verify/`,
//! `logout/` ending every token, `me/` and `change-password/`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kernel::jwt::{TokenPair, TokenType};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, RequestInfo};
use crate::audit::{self, Event, Who};
use crate::entities::user;
use crate::state::AppState;
use crate::users::{self, UserOut};

pub const COOKIE: &str = "refresh_token";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(obtain_token))
        .routes(routes!(refresh_token))
        .routes(routes!(verify_token))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}

pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route("/api/auth/login/", axum::routing::post(obtain_token))
}

/// The refresh cookie for `token` (`Secure` in production mode); an empty
/// token deletes it.
pub fn refresh_cookie(state: &AppState, token: &str) -> HeaderValue {
    let lifetime = if token.is_empty() {
        0
    } else {
        state.jwt.refresh_lifetime.as_secs()
    };
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/api/auth/; Max-Age={lifetime}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `body` with the refresh cookie of `pair` set.
pub fn with_cookie(state: &AppState, token: &str, body: Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(state, token));
    response
}

fn pair_body(pair: &TokenPair) -> Value {
    json!({"access": pair.access, "refresh": pair.refresh})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenIn {
    /// Matched case-insensitively; an unknown address is a 401.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    password: Field<String>,
}

fn bad_login() -> ApiError {
    ApiError::auth_failed(
        "No active account found with the given credentials",
        "authentication_failed",
    )
}

/// Sign in with email and password: `{access, refresh}` and the refresh cookie.
#[utoipa::path(post, path = "/api/auth/token/", tag = "auth", request_body = TokenIn,
    responses((status = 200, description = "`{access, refresh}`", body = TokenPair), (status = 401, description = "Wrong credentials"),
        (status = 429, description = "Too many failed sign-ins for this account from this address")))]
pub async fn obtain_token(
    State(state): State<AppState>,
    Db(db): Db,
    request: RequestInfo,
    Json(input): Json<TokenIn>,
) -> ApiResult<Response> {
    // A blank field is as missing as an absent one (contract §1.1).
    let mut c = Checker::new();
    let email = match input.email {
        Field::Value(blank) if blank.trim().is_empty() => Field::Absent,
        other => other,
    };
    let email = c.text("email", email, 254);
    let password = c.value("password", input.password);
    if password.as_deref().is_some_and(str::is_empty) {
        c.error("password", kernel::form::REQUIRED);
    }
    c.finish()?;
    let email = email.unwrap_or_default().to_lowercase();
    let password = password.unwrap_or_default();
    let matched =
        kernel::identity::check_password(&state, &db, &email, &password, request.ip).await?;
    let matched = matched.ok_or_else(bad_login)?;
    let txn = kernel::db::begin_write(&db).await?;
    let user = matched.sign_in(&txn).await?;
    let who = Who {
        user_id: Some(&user.id),
        email: Some(&user.email),
        request: &request,
    };
    let event = Event::new("Login", "User", &user.id).data("provider", json!("password"));
    audit::record(&txn, who, event).await?;
    txn.commit().await?;
    let pair = kernel::identity::issue(&state, &user, serde_json::Map::new())?;
    Ok(with_cookie(&state, &pair.refresh, pair_body(&pair)))
}

/// The refresh token to end with the session, if the caller has one at hand
/// (else the `refresh_token` cookie's).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefreshIn {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    refresh: Field<String>,
}

/// The refresh token to rotate.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RotateIn {
    /// May be left out when the `refresh_token` cookie carries it (the
    /// frontend posts `{}` with credentials); with neither, 400.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::non_blank, required = true)]
    refresh: Field<String>,
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The refresh token sent in the body, else in the cookie.
fn sent_refresh(input: Field<String>, headers: &HeaderMap) -> Option<String> {
    input
        .value()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| cookie(headers, COOKIE).map(str::to_owned))
}

/// A new pair for a refresh token (body, else the cookie); the used one is
/// blacklisted.
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RotateIn,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid, used or ended token")))]
pub async fn refresh_token(
    State(state): State<AppState>,
    Db(db): Db,
    headers: HeaderMap,
    Json(input): Json<RotateIn>,
) -> ApiResult<Response> {
    let Some(token) = sent_refresh(input.refresh, &headers) else {
        return Err(ApiError::field("refresh", kernel::form::REQUIRED));
    };
    let (_, user) = kernel::identity::rotate(&state, &db, &token)
        .await
        .map_err(|_| kernel::jwt::access_token_error(kernel::jwt::TokenError::Invalid))?;
    let pair = kernel::identity::issue(&state, &user, serde_json::Map::new())?;
    Ok(with_cookie(&state, &pair.refresh, pair_body(&pair)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<4096>, required = true)]
    token: Field<String>,
}

/// `{}` when the token is a live access or refresh token.
#[utoipa::path(post, path = "/api/auth/token/verify/", tag = "auth", request_body = VerifyIn,
    responses((status = 200, description = "`{}`"), (status = 401, description = "Not a live token")))]
pub async fn verify_token(
    State(state): State<AppState>,
    Db(db): Db,
    Json(input): Json<VerifyIn>,
) -> ApiResult<Json<Value>> {
    let mut c = Checker::new();
    let token = c.text("token", input.token, 4096);
    c.finish()?;
    let token = token.unwrap_or_default();
    let invalid = || kernel::jwt::access_token_error(kernel::jwt::TokenError::Invalid);
    let live = match state.jwt.verify(&token, TokenType::Access) {
        Ok(claims) => kernel::identity::account_for(&state, &db, &claims)
            .await
            .is_ok(),
        Err(_) => match kernel::identity::check_refresh(&state, &db, &token).await {
            Ok((claims, _)) => kernel::jwt::blacklist::Entity::find_by_id(claims.jti)
                .one(&db)
                .await?
                .is_none(),
            Err(_) => false,
        },
    };
    if !live {
        return Err(invalid());
    }
    Ok(Json(json!({})))
}

/// What `logout/` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    #[schema(value_type = String, pattern = "^Logged out successfully$")]
    pub message: &'static str,
    #[schema(value_type = String, pattern = "^Successfully logged out\\.$")]
    pub detail: &'static str,
}

/// Ends every token of the account (access tokens included), deletes the
/// cookie; audited as `Logout`.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", request_body = RefreshIn, security(("jwt" = [])),
    responses((status = 200, description = "`{message, detail}`", body = LoggedOut)))]
pub async fn logout(
    State(state): State<AppState>,
    Db(db): Db,
    me: Me,
    headers: HeaderMap,
    Json(input): Json<RefreshIn>,
) -> ApiResult<Response> {
    let refresh = sent_refresh(input.refresh, &headers)
        .and_then(|t| kernel::identity::own_refresh(&state, &me.user, &t));
    let txn = kernel::db::begin_write(&db).await?;
    kernel::identity::end_tokens(&txn, &me.user, refresh.as_ref()).await?;
    audit::record(&txn, Who::from(&me), Event::new("Logout", "User", me.id())).await?;
    txn.commit().await?;
    Ok(with_cookie(
        &state,
        "",
        json!(LoggedOut {
            message: "Logged out successfully",
            detail: "Successfully logged out."
        }),
    ))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = UserOut)))]
pub async fn me(Db(db): Db, me: Me) -> ApiResult<Json<UserOut>> {
    Ok(Json(users::render_one(&db, me.user).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChangePasswordIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    old_password: Field<String>,
    /// At least 8 characters; not too like the email or name, not a common
    /// password, not all digits.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    new_password: Field<String>,
}

/// What `change-password/` answers: a fresh pair for this session.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    #[schema(value_type = String, pattern = "^Password changed$")]
    pub detail: &'static str,
    pub access: String,
    pub refresh: String,
}

/// Changes the caller's password and ends every token issued before; the
/// answer carries a fresh pair (and cookie) for this session.
#[utoipa::path(post, path = "/api/auth/change-password/", tag = "auth", security(("jwt" = [])), request_body = ChangePasswordIn,
    responses((status = 200, description = "`{detail: \"Password changed\", access, refresh}`", body = PasswordChanged)))]
pub async fn change_password(
    State(state): State<AppState>,
    Db(db): Db,
    me: Me,
    Json(input): Json<ChangePasswordIn>,
) -> ApiResult<Response> {
    let mut c = Checker::new();
    let old = c.value("old_password", input.old_password);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    if !state.hasher.verify(&old, &me.user.password).await?.matches {
        return Err(ApiError::field(
            "old_password",
            "Your old password was entered incorrectly. Please enter it again.",
        ));
    }
    users::check_password("new_password", &new, &me.user.email, &me.user.full_name())?;
    let hash = state.hasher.make(&new).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = me.user.clone();
    let mut row: user::ActiveModel = me.user.clone().into();
    row.password = Set(hash);
    row.token_epoch = Set(me.user.token_epoch + 1);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event = Event::new("Update", "User", me.id()).change(audit::Change::updated(
        &users::record(&before),
        &users::record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    txn.commit().await?;
    let pair = kernel::identity::issue(&state, &after, serde_json::Map::new())?;
    Ok(with_cookie(
        &state,
        &pair.refresh,
        json!(PasswordChanged {
            detail: "Password changed",
            access: pair.access,
            refresh: pair.refresh.clone()
        }),
    ))
}
