//! Signing in (contract §1): JWT pairs with rotation, verification, logout
//! and the caller's own account. Sign-in is refused until the email address
//! is verified.

use axum::extract::State;
use kernel::extract::ClientIp;
use kernel::identity::RefreshIn;
use kernel::jwt::TokenPair;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use axum::http::StatusCode;
use kernel::audit::{Action, Actor, AuditSink, Entry};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::access::{Me, Role};
use crate::audit::Log;
use crate::email::{self, Purpose};
use crate::entities::user;
use crate::notify::{self, Kind, Note};
use crate::state::AppState;
use crate::users::{UserOut, Writer};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(obtain_token))
        .routes(routes!(login))
        .routes(routes!(refresh_token))
        .routes(routes!(verify_token))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(register))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(change_password))
        .routes(routes!(reset_password))
        .routes(routes!(reset_password_confirm))
}

/// `/api/users/me/`: the same as `/api/auth/me/` (GET, PATCH).
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route("/api/users/me/", axum::routing::get(me).patch(update_me))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CredentialsIn {
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    #[serde(default)]
    pub email: Field<String>,
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    #[serde(default)]
    pub password: Field<String>,
}

/// Tokens and the signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub access: String,
    pub refresh: String,
    pub user: UserOut,
}

fn no_account() -> ApiError {
    ApiError::auth_failed(
        "No active account found with the given credentials",
        "no_active_account",
    )
}

async fn sign_in(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    ip: ClientIp,
    input: CredentialsIn,
) -> ApiResult<Json<TokenOut>> {
    let mut c = Checker::new();
    let email = c.text("email", input.email, 254);
    let password = c.value("password", input.password);
    if password.as_deref() == Some("") {
        c.error("password", kernel::form::NOT_BLANK);
    }
    c.finish()?;
    let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
    let email = email.trim().to_lowercase();
    let matched = kernel::identity::check_password(state, db, &email, &password, ip.0)
        .await?
        .ok_or_else(no_account)?;
    if !matched.account.email_verified {
        // The password was right: not a failure to count, and not a sign-in.
        matched.release().await?;
        return Err(ApiError::detailed(
            axum::http::StatusCode::FORBIDDEN,
            "Verify your email address before signing in.",
            "email_not_verified",
            Value::Null,
        ));
    }
    let user = matched.sign_in(db).await?;
    let pair = kernel::identity::issue(state, &user, Map::new())?;
    Ok(Json(TokenOut {
        access: pair.access,
        refresh: pair.refresh,
        user: UserOut::load(db, &user).await?,
    }))
}

/// Obtain a token pair with email and password.
#[utoipa::path(post, path = "/api/auth/token/", tag = "auth", request_body = CredentialsIn,
    responses((status = 200, body = TokenOut), (status = 400), (status = 401),
        (status = 403, description = "The email address is not verified yet."),
        (status = 429, description = "Too many failed sign-ins for this account from this address.")))]
async fn obtain_token(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(input): Json<CredentialsIn>,
) -> ApiResult<Json<TokenOut>> {
    sign_in(&state, &db, ip, input).await
}

/// Alias of `POST /api/auth/token/`.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = CredentialsIn,
    responses((status = 200, body = TokenOut), (status = 400), (status = 401), (status = 403), (status = 429)))]
async fn login(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(input): Json<CredentialsIn>,
) -> ApiResult<Json<TokenOut>> {
    sign_in(&state, &db, ip, input).await
}

/// Rotate a refresh token: the old one is blacklisted, a new pair returned.
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokenPair), (status = 400), (status = 401)))]
async fn refresh_token(
    State(state): State<AppState>,
    Db(db): Db,
    Json(input): Json<RefreshIn>,
) -> ApiResult<Json<TokenPair>> {
    let (_, user) = kernel::identity::rotate(&state, &db, &input.token()?).await?;
    Ok(Json(kernel::identity::issue(&state, &user, Map::new())?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyIn {
    #[schema(schema_with = kernel::form::schema::text::<4096>, required = true)]
    #[serde(default)]
    pub token: Field<String>,
}

/// Check a token: `{}` when it is valid and current.
#[utoipa::path(post, path = "/api/auth/token/verify/", tag = "auth", request_body = VerifyIn,
    responses((status = 200, body = Object), (status = 400), (status = 401)))]
async fn verify_token(
    State(state): State<AppState>,
    Db(db): Db,
    Json(input): Json<VerifyIn>,
) -> ApiResult<Json<Value>> {
    let mut c = Checker::new();
    let token = c.text("token", input.token, 4096);
    c.finish()?;
    let token = token.unwrap_or_default();
    let invalid = || ApiError::auth_failed("Token is invalid or expired", "token_not_valid");
    let claims = [
        kernel::jwt::TokenType::Access,
        kernel::jwt::TokenType::Refresh,
    ]
    .into_iter()
    .find_map(|kind| state.jwt.verify(&token, kind).ok())
    .ok_or_else(invalid)?;
    if claims.token_type == kernel::jwt::TokenType::Refresh {
        kernel::identity::check_refresh(&state, &db, &token).await?;
    } else {
        kernel::identity::account_for(&state, &db, &claims).await?;
    }
    Ok(Json(Value::Object(Map::new())))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutIn {
    /// The refresh token to blacklist.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub refresh: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailOut {
    pub detail: String,
}

/// Log out: blacklists the refresh token and ends every access token of the account.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", security(("jwt" = [])), request_body = LogoutIn,
    responses((status = 200, body = DetailOut), (status = 400), (status = 401)))]
async fn logout(
    State(state): State<AppState>,
    Db(db): Db,
    kernel::Current(me): Me,
    Json(input): Json<LogoutIn>,
) -> ApiResult<Json<DetailOut>> {
    let refresh = match input.refresh.value().filter(|t| !t.trim().is_empty()) {
        Some(token) => Some(
            kernel::identity::own_refresh(&state, &me, &token).ok_or_else(|| {
                ApiError::BadRequest {
                    detail: "Token is invalid or expired".into(),
                    code: "token_not_valid",
                }
            })?,
        ),
        None => None,
    };
    let txn = kernel::db::begin_write(&db).await?;
    kernel::identity::end_tokens(&txn, &me, refresh.as_ref()).await?;
    txn.commit().await?;
    Ok(Json(DetailOut {
        detail: "Successfully logged out.".into(),
    }))
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/auth/me/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = UserOut), (status = 401)))]
async fn me(Db(db): Db, kernel::Current(me): Me) -> ApiResult<Json<UserOut>> {
    Ok(Json(UserOut::load(&db, &me).await?))
}

/// Edit your own account: names, phone, address, gender, date of birth and
/// (trainers) qualifications and specialization; other fields are ignored.
#[utoipa::path(patch, path = "/api/auth/me/", tag = "auth", security(("jwt" = [])), request_body = crate::users::UserChangesIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401)))]
async fn update_me(
    Db(db): Db,
    kernel::Current(me): Me,
    ip: ClientIp,
    Json(body): Json<Value>,
) -> ApiResult<Json<UserOut>> {
    let Value::Object(body) = body else {
        return Err(ApiError::non_field("Invalid data. Expected a dictionary."));
    };
    let changes =
        crate::users::read_changes(&body, Writer::Owner, false).map_err(ApiError::Validation)?;
    let txn = kernel::db::begin_write(&db).await?;
    let updated = crate::users::apply_changes(&txn, &me, &changes).await?;
    let actor = Actor::of(&me, ip.0);
    let entry = Entry::new(&actor, Action::UPDATE, "user", me.id).label(me.email.clone());
    Log::write(
        &txn,
        entry.changes(serde_json::json!({"fields": body.keys().collect::<Vec<_>>()})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(UserOut::load(&db, &updated).await?))
}

/// `{user, detail}` of a registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredOut {
    pub user: UserOut,
    pub detail: String,
}

/// Register as a trainee (public). The account stays unverified until the
/// emailed link is opened; no tokens are issued.
#[utoipa::path(post, path = "/api/auth/register/", tag = "auth", request_body = crate::users::RegisterIn,
    responses((status = 201, body = RegisteredOut), (status = 400)))]
async fn register(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<RegisteredOut>)> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::non_field("Invalid data. Expected a dictionary."));
    };
    // Only the self-registration fields; the role is forced.
    body.retain(|k, _| {
        [
            "email",
            "password",
            "first_name",
            "last_name",
            "gender",
            "phone",
            "id_number",
            "address",
            "date_of_birth",
            "admission_number",
        ]
        .contains(&k.as_str())
    });
    body.insert("role".into(), Role::Trainee.as_str().into());
    let mut errors = kernel::error::FieldErrors::new();
    match body.get("password") {
        Some(Value::String(p)) if !p.is_empty() => {}
        _ => errors.add("password", "This field is required."),
    }
    let changes = match crate::users::read_changes(&body, Writer::Admin, true) {
        Ok(c) => Some(c),
        Err(e) => {
            for (field, messages) in e.to_json().as_object().into_iter().flatten() {
                for m in messages.as_array().into_iter().flatten() {
                    errors.add(field.clone(), m.as_str().unwrap_or_default());
                }
            }
            None
        }
    };
    errors.into_result()?;
    let Some(changes) = changes else {
        return Err(ApiError::non_field("Invalid data."));
    };
    crate::users::unique_problems(&db, &changes)
        .await?
        .into_result()?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = crate::users::create_account(&state, &txn, &changes).await?;
    let actor = Actor::user(created.id, ip.0);
    let entry = Entry::new(&actor, Action::CREATE, "user", created.id).label(created.email.clone());
    Log::write(&txn, entry.changes(serde_json::json!({"registered": true}))).await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredOut {
            user: UserOut::load(&db, &created).await?,
            detail: "Registration successful. Check your email to verify your address.".into(),
        }),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EmailTokenIn {
    #[schema(schema_with = kernel::form::schema::text::<512>, required = true)]
    #[serde(default)]
    pub token: Field<String>,
}

/// An emailed link's token (or, for a reset, the account it names) is not
/// one the server issued, or no longer valid.
const BAD_LINK: &str = "This link is invalid or has expired.";

fn bad_link() -> ApiError {
    ApiError::field("token", BAD_LINK)
}

/// Verify an email address with the emailed token.
#[utoipa::path(post, path = "/api/auth/verify-email/", tag = "auth", request_body = EmailTokenIn,
    responses((status = 200, body = DetailOut), (status = 400)))]
async fn verify_email(Db(db): Db, Json(input): Json<EmailTokenIn>) -> ApiResult<Json<DetailOut>> {
    let mut c = Checker::new();
    let token = c.text("token", input.token, 512);
    c.finish()?;
    let token = token.unwrap_or_default();
    let txn = kernel::db::begin_write(&db).await?;
    let (id, _) = email::redeem(&txn, &token, &[Purpose::Verify], None)
        .await?
        .ok_or_else(bad_link)?;
    let account = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(bad_link)?;
    let mut row: user::ActiveModel = account.clone().into();
    row.email_verified = Set(true);
    row.updated_at = Set(kernel::time::now());
    row.update(&txn).await?;
    let actor = Actor::user(id, None);
    Log::write(&txn, Entry::new(&actor, Action("verify_email"), "user", id)).await?;
    txn.commit().await?;
    Ok(Json(DetailOut {
        detail: "Your email address is verified. You can sign in now.".into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EmailIn {
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    #[serde(default)]
    pub email: Field<String>,
}

fn read_email(input: EmailIn) -> ApiResult<String> {
    let mut c = Checker::new();
    let email = c.email("email", input.email);
    c.finish()?;
    Ok(email.unwrap_or_default())
}

async fn active_by_email(
    db: &impl sea_orm::ConnectionTrait,
    email: &str,
) -> ApiResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::IsActive.eq(true))
        .one(db)
        .await?)
}

/// Send the verification email again (200 whether or not the address is known).
#[utoipa::path(post, path = "/api/auth/resend-verification/", tag = "auth", request_body = EmailIn,
    responses((status = 200, body = DetailOut), (status = 400)))]
async fn resend_verification(Db(db): Db, Json(input): Json<EmailIn>) -> ApiResult<Json<DetailOut>> {
    let email = read_email(input)?;
    if let Some(account) = active_by_email(&db, &email)
        .await?
        .filter(|u| !u.email_verified)
    {
        let txn = kernel::db::begin_write(&db).await?;
        email::queue(&txn, account.id, Purpose::Verify).await?;
        txn.commit().await?;
    }
    Ok(Json(DetailOut {
        detail: "If an unverified account uses this address, a verification email has been sent."
            .into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasswordChangeIn {
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    #[serde(default)]
    pub old_password: Field<String>,
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    #[serde(default)]
    pub new_password: Field<String>,
}

fn new_password_problems(password: &str, account: &user::Model) -> ApiResult<()> {
    let problems = crate::users::password_problems(
        password,
        &account.email,
        &account.first_name,
        &account.last_name,
    );
    let mut errors = kernel::error::FieldErrors::new();
    for p in problems {
        errors.add("new_password", p);
    }
    errors.into_result()
}

/// Sets `account`'s password in `txn`, ends every token and unused link,
/// and tells the user.
async fn set_password(
    state: &AppState,
    txn: &impl sea_orm::ConnectionTrait,
    account: &user::Model,
    password: &str,
    verify: bool,
) -> ApiResult<()> {
    let mut row: user::ActiveModel = account.clone().into();
    row.password = Set(state.hasher.make(password).await?);
    if verify {
        row.email_verified = Set(true);
    }
    row.updated_at = Set(kernel::time::now());
    row.update(txn).await?;
    kernel::identity::bump_epoch::<user::Model>(txn, account.id).await?;
    email::retire(txn, account.id, &[Purpose::Reset, Purpose::Invite]).await?;
    notify::send(
        txn,
        [account.id],
        &Note::new(
            Kind::Account,
            "Password changed",
            "Your password was changed. If this was not you, contact an administrator.",
        )
        .about("user", account.id),
    )
    .await?;
    Ok(())
}

/// Change your password; every token of the account ends (sign in again).
#[utoipa::path(post, path = "/api/auth/password/change/", tag = "auth", security(("jwt" = [])),
    request_body = PasswordChangeIn,
    responses((status = 200, body = DetailOut), (status = 400), (status = 401)))]
async fn change_password(
    State(state): State<AppState>,
    Db(db): Db,
    kernel::Current(me): Me,
    ip: ClientIp,
    Json(input): Json<PasswordChangeIn>,
) -> ApiResult<Json<DetailOut>> {
    let mut c = Checker::new();
    let old = c.value("old_password", input.old_password);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    if !state.hasher.verify(&old, &me.password).await?.matches {
        return Err(ApiError::field(
            "old_password",
            "Your old password was entered incorrectly. Please enter it again.",
        ));
    }
    new_password_problems(&new, &me)?;
    let txn = kernel::db::begin_write(&db).await?;
    set_password(&state, &txn, &me, &new, false).await?;
    let actor = Actor::of(&me, ip.0);
    Log::write(
        &txn,
        Entry::new(&actor, Action("password_change"), "user", me.id),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(DetailOut {
        detail: "Password has been changed. Sign in again with the new password.".into(),
    }))
}

/// Ask for a password reset link (200 whether or not the address is known).
#[utoipa::path(post, path = "/api/auth/password/reset/", tag = "auth", request_body = EmailIn,
    responses((status = 200, body = DetailOut), (status = 400)))]
async fn reset_password(Db(db): Db, Json(input): Json<EmailIn>) -> ApiResult<Json<DetailOut>> {
    let email = read_email(input)?;
    if let Some(account) = active_by_email(&db, &email).await? {
        let txn = kernel::db::begin_write(&db).await?;
        email::queue(&txn, account.id, Purpose::Reset).await?;
        txn.commit().await?;
    }
    Ok(Json(DetailOut {
        detail: "If an account uses this address, a password reset link has been sent.".into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResetConfirmIn {
    #[schema(value_type = Uuid, required = true)]
    #[serde(default)]
    pub uid: Field<String>,
    #[schema(schema_with = kernel::form::schema::text::<512>, required = true)]
    #[serde(default)]
    pub token: Field<String>,
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    #[serde(default)]
    pub new_password: Field<String>,
}

/// Set a new password with an emailed reset or invitation link (an
/// invitation also verifies the address); every token of the account ends.
#[utoipa::path(post, path = "/api/auth/password/reset/confirm/", tag = "auth", request_body = ResetConfirmIn,
    responses((status = 200, body = DetailOut), (status = 400)))]
async fn reset_password_confirm(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(input): Json<ResetConfirmIn>,
) -> ApiResult<Json<DetailOut>> {
    let mut c = Checker::new();
    let uid = c.text("uid", input.uid, 64);
    let token = c.text("token", input.token, 512);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let uid = Uuid::parse_str(uid.unwrap_or_default().trim())
        .map_err(|_| ApiError::field("uid", BAD_LINK))?;
    let (token, new) = (token.unwrap_or_default(), new.unwrap_or_default());
    let account = user::Entity::find_by_id(uid)
        .filter(user::Column::IsActive.eq(true))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::field("uid", BAD_LINK))?;
    new_password_problems(&new, &account)?;
    let txn = kernel::db::begin_write(&db).await?;
    let (_, purpose) = email::redeem(&txn, &token, &[Purpose::Reset, Purpose::Invite], Some(uid))
        .await?
        .ok_or_else(bad_link)?;
    set_password(&state, &txn, &account, &new, purpose == Purpose::Invite).await?;
    let actor = Actor::user(uid, ip.0);
    Log::write(
        &txn,
        Entry::new(&actor, Action("password_reset"), "user", uid),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(DetailOut {
        detail: "Password has been reset with the new password.".into(),
    }))
}
