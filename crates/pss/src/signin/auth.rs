//! `/api/auth/…`: registration, sign-in with brute-force lockout, refresh
//! rotation with blacklisting, logout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::identity::RefreshIn;
use kernel::jwt::TokenPair;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::{EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::entities::user::{self, Role};
use crate::original::Said;
use crate::principal::CurrentUser;
use crate::state::AppState;
use crate::users::{NewAccount, UserDetailOut};
use serde_json::json;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh_token))
        .routes(routes!(logout))
        .routes(routes!(change_password))
}

/// SimpleJWT's refresh path, which the original frontends may call.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/auth/token/refresh/",
        axum::routing::post(refresh_token),
    )
}

/// Opens a session (see `crate::sessions`) and issues its tokens. Tokens
/// carry only SimpleJWT's claims, the token epoch and the session id: no
/// personal data.
async fn issue(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    user: &user::Model,
    ip: Option<std::net::IpAddr>,
    ua: &str,
) -> ApiResult<TokenPair> {
    let sid = crate::sessions::start(db, state, user.id, ip, ua).await?;
    crate::sessions::issue(state, user, sid)
}

/// Tokens and the signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub access: String,
    pub refresh: String,
    pub user: UserDetailOut,
}

pub(crate) async fn signed_in(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    user: &user::Model,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> ApiResult<SessionOut> {
    let pair = issue(state, db, user, ip, &crate::sessions::user_agent(headers)).await?;
    let (out, _) = UserDetailOut::load(state, db, user).await?;
    Ok(SessionOut {
        access: pair.access,
        refresh: pair.refresh,
        user: out,
    })
}

fn self_registered_role() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::optional_choice(&[Role::Candidate.as_str()])
}

/// Any non-empty password of up to 128 characters.
fn login_password() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(128))
        .write_only(true)
        .into()
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegisterIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    /// At least 12 characters with upper and lower case, a digit and a
    /// symbol, not containing the email's name or the user's names.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<12>, required = true)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub last_name: Field<String>,
    /// Only `candidate` may be self-registered.
    #[serde(default)]
    #[schema(schema_with = self_registered_role)]
    pub role: Field<String>,
}

/// Register a candidate account (with its empty profile) and sign it in.
#[utoipa::path(post, path = "/api/auth/register/", tag = "auth", request_body = RegisterIn,
    responses((status = 201, body = SessionOut), (status = 400)))]
pub async fn register(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<RegisterIn>,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    let mut c = Checker::new();
    if let Field::Value(role) = &input.role
        && role != Role::Candidate.as_str()
    {
        c.error(
            "role",
            "Self-registration can only create candidate accounts.",
        );
    }
    let created = crate::users::create_account(
        &state,
        &db,
        c,
        NewAccount {
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
            role: Role::Candidate,
        },
        ip,
    )
    .await
    .map_err(|e| crate::original::explain(e, true, registration_said))?;
    Ok((
        StatusCode::CREATED,
        Json(signed_in(&state, &db, &created, ip, &headers).await?),
    ))
}

/// The original's `error` and `errors` for a refused registration.
fn registration_said(fields: &serde_json::Map<String, serde_json::Value>) -> Said {
    use crate::original::{messages, missing};
    let (email, password) = (missing(fields, "email"), missing(fields, "password"));
    if email || password {
        let required = |gone: bool| {
            if gone {
                vec![kernel::form::REQUIRED]
            } else {
                vec![]
            }
        };
        return Said::with(
            "Email and password are required",
            json!({"email": required(email), "password": required(password)}),
        );
    }
    if messages(fields, "email").contains(&crate::users::EMAIL_TAKEN) {
        return Said::with(
            "User already exists",
            json!({"email": ["Email already in use"]}),
        );
    }
    if fields.contains_key("email") {
        return Said::with("Invalid email", json!({"email": fields["email"]}));
    }
    if fields.contains_key("password") {
        return Said::with("Invalid password", json!({"password": fields["password"]}));
    }
    if let Some(name) = ["first_name", "last_name"]
        .iter()
        .find(|f| fields.contains_key(**f))
    {
        return Said::with("Invalid name", json!({"name": fields[*name]}));
    }
    Said::plain(crate::original::first_message(fields), fields)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CredentialsIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = login_password, required = true)]
    pub password: Field<String>,
}

/// What a password sign-in answers: a session, or a 2FA challenge.
pub struct LoginOut;

impl utoipa::PartialSchema for LoginOut {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("SessionOut"))
            .item(utoipa::openapi::Ref::from_schema_name(
                "TwoFactorChallengeOut",
            ))
            .into()
    }
}

impl utoipa::ToSchema for LoginOut {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("SessionOut".into(), SessionOut::schema()));
        schemas.push((
            "TwoFactorChallengeOut".into(),
            crate::two_factor::TwoFactorChallengeOut::schema(),
        ));
        SessionOut::schemas(schemas);
    }
}

pub const INVALID_CREDENTIALS: &str = "Invalid email or password";

/// Sign in with email and password.
///
/// Wrong credentials, an unknown or inactive account: 401 `Invalid email or
/// password` (indistinguishable, also by timing). Five failures for one email
/// from one address within 15 minutes lock that pair for 15 minutes: 429 even
/// with the right password. A success forgets the failures.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = CredentialsIn,
    responses((status = 200, body = LoginOut, description = "Signed in, or (2FA on) a challenge for the code."), (status = 400), (status = 401),
        (status = 403, body = crate::two_factor::TwoFactorSetupRequiredOut, description = "Staff must set 2FA up first (`CAMPUS_PSS_REQUIRE_ADMIN_2FA`)."),
        (status = 429)))]
pub async fn login(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<CredentialsIn>,
) -> ApiResult<Response> {
    let mut c = Checker::new();
    let email = c.text("email", input.email, 254);
    let password = c.value("password", input.password);
    if password.as_deref() == Some("") {
        c.error("password", kernel::form::NOT_BLANK);
    }
    if password.as_deref().is_some_and(|p| p.chars().count() > 128) {
        c.error(
            "password",
            "Ensure this field has no more than 128 characters.",
        );
    }
    c.finish()?;
    let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
    let email = kernel::form::normalize_email(&email).unwrap_or_else(|| email.to_lowercase());
    let invalid = || ApiError::auth_failed(INVALID_CREDENTIALS, "authentication_failed");
    let matched = kernel::identity::check_password(&state, &db, &email, &password, ip)
        .await?
        .ok_or_else(invalid)?;
    // With 2FA the failures are forgotten only once the code is right too;
    // the right password itself is not counted.
    let second_factor = crate::two_factor::find(&db, matched.account.id).await?;
    if second_factor.as_ref().is_some_and(|r| r.enabled) {
        let found = matched.release().await?;
        return crate::two_factor::start_login(&db, &found).await;
    }
    if state.require_admin_2fa && matched.account.role.is_staff() {
        let found = matched.release().await?;
        return crate::two_factor::require_setup(&db, &found).await;
    }
    let user = matched.sign_in(&db).await?;
    Ok(Json(signed_in(&state, &db, &user, ip, &headers).await?).into_response())
}

/// Rotate a refresh token: the old one is blacklisted and a new pair
/// returned; reusing a rotated (or logged-out) refresh token fails with 401.
#[utoipa::path(post, path = "/api/auth/refresh/", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokenPair), (status = 400), (status = 401)))]
pub async fn refresh_token(
    State(state): State<AppState>,
    Db(db): Db,
    Json(input): Json<RefreshIn>,
) -> ApiResult<Json<TokenPair>> {
    // The session carries over to the new pair; an ended session's refresh
    // token is dead (see `AppState::check_token`).
    let (claims, user) = kernel::identity::rotate(&state, &db, &input.token()?).await?;
    let sid = crate::sessions::sid(&claims)
        .ok_or_else(|| kernel::identity::refresh_error("Token is invalid or expired"))?;
    Ok(Json(crate::sessions::issue(&state, &user, sid)?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutIn {
    /// The refresh token to blacklist (optional).
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub refresh: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailOut {
    pub detail: String,
}

/// Log out: blacklists the given refresh token and ends every access and
/// refresh token of the account (on every device).
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", security(("jwt" = [])), request_body = LogoutIn,
    responses((status = 200, body = DetailOut), (status = 400), (status = 401)))]
pub async fn logout(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    Json(input): Json<LogoutIn>,
) -> ApiResult<Json<DetailOut>> {
    let claims = match input.refresh {
        Field::Value(token) if !token.trim().is_empty() => Some(
            kernel::identity::own_refresh(&state, &me, &token).ok_or_else(|| {
                ApiError::BadRequest {
                    detail: "Invalid token".into(),
                    code: "token_not_valid",
                }
            })?,
        ),
        _ => None,
    };
    let txn = kernel::db::begin_write(&db).await?;
    crate::sessions::end_all(&txn, me.id(), None).await?;
    kernel::identity::end_tokens(&txn, &*me, claims.as_ref()).await?;
    txn.commit().await?;
    Ok(Json(DetailOut {
        detail: "Successfully logged out".into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasswordChangeIn {
    #[serde(default)]
    #[schema(value_type = String, write_only, required = true)]
    pub old_password: Field<String>,
    /// The same policy as at registration.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<12>, required = true)]
    pub new_password: Field<String>,
}

const OLD_PASSWORD_WRONG: &str = "Old password is incorrect";

/// A new token pair: changing the password ends every earlier token.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChangedOut {
    pub message: String,
    pub detail: String,
    pub access: String,
    pub refresh: String,
}

/// Change the caller's password. None of the last 5 passwords may be
/// reused. Every earlier token of the account (on every device) stops
/// working; the answer carries a fresh pair, and a confirmation is emailed.
#[utoipa::path(post, path = "/api/auth/password-change/", tag = "auth", security(("jwt" = [])), request_body = PasswordChangeIn,
    responses((status = 200, body = PasswordChangedOut), (status = 400), (status = 401)))]
pub async fn change_password(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<PasswordChangeIn>,
) -> ApiResult<Json<PasswordChangedOut>> {
    change(&state, &db, &me, ip, &headers, input)
        .await
        .map_err(|e| crate::original::explain(e, false, password_change_said))
}

/// The original's `detail` and `errors` for a refused password change.
fn password_change_said(fields: &serde_json::Map<String, serde_json::Value>) -> Said {
    use crate::original::messages;
    if messages(fields, "old_password").contains(&OLD_PASSWORD_WRONG) {
        return Said::with(
            OLD_PASSWORD_WRONG,
            json!({"old_password": ["Password is incorrect"]}),
        );
    }
    if messages(fields, "new_password").contains(&crate::passwords::SAME_AS_OLD) {
        return Said::with(
            "New password cannot be the same as your old password",
            json!({"new_password": ["Please choose a different password."]}),
        );
    }
    Said::plain("Password change validation failed", fields)
}

async fn change(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    input: PasswordChangeIn,
) -> ApiResult<Json<PasswordChangedOut>> {
    let mut c = Checker::new();
    let old = c.value("old_password", input.old_password);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    let user = &me.0;
    let mut c = Checker::new();
    if !state.hasher.verify(&old, &user.password).await?.matches {
        c.error("old_password", OLD_PASSWORD_WRONG);
        if new.is_empty() {
            c.error("new_password", kernel::form::NOT_BLANK);
        } else {
            for problem in crate::users::password_problems(
                &new,
                &user.email,
                &user.first_name,
                &user.last_name,
            ) {
                c.error("new_password", problem);
            }
        }
    } else {
        crate::passwords::check_new(state, db, &mut c, "new_password", user, &new).await?;
    }
    c.finish()?;
    let hash = state.hasher.make(&new).await?;
    let txn = kernel::db::begin_write(db).await?;
    // The row stays locked until the change commits: of parallel changes
    // made with one old password, the first wins and the others find the
    // stored hash changed under them, their old password no longer right.
    let current = user::Entity::find_by_id(user.id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if current.password != user.password
        && !state.hasher.verify(&old, &current.password).await?.matches
    {
        return Err(ApiError::field("old_password", OLD_PASSWORD_WRONG));
    }
    let updated = crate::passwords::set(&txn, &current, hash).await?;
    crate::sessions::end_all(&txn, updated.id, None).await?;
    let (subject, body) = crate::passwords::confirmation(&updated, "changed");
    let queued = crate::email::queue(&txn, state, &updated.email, &subject, &body).await?;
    crate::audit::record(
        &txn,
        crate::audit::Actor::user(me.id(), ip),
        Action::UPDATE,
        "User",
        updated.id,
        Some(serde_json::json!({"password": "changed"})),
    )
    .await?;
    txn.commit().await?;
    crate::email::wake(state, queued);
    let pair = issue(
        state,
        db,
        &updated,
        ip,
        &crate::sessions::user_agent(headers),
    )
    .await?;
    Ok(Json(PasswordChangedOut {
        message: "Password changed successfully".into(),
        detail: "Your password has been updated. You may need to log in again on other devices."
            .into(),
        access: pair.access,
        refresh: pair.refresh,
    }))
}
