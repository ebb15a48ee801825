//! `/api/v1/auth/` (contract §2): sign-in for tenant users in a school's
//! context and for platform users in the platform context; refresh with
//! rotation, verify, logout (every token of the account ends), profile,
//! password change and reset, and self-registration where a school allows it.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::routing::post;
use kernel::extract::ClientIp;
use kernel::identity::{self, RefreshIn};
use kernel::jwt::TokenType;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{Event, LOGIN, LOGOUT, Trail, UPDATE};
use crate::entities::{password_reset, user};
use crate::envelope::{self, Data, Message, created, message, ok};
use crate::notify::{self, Notice};
use crate::platform::PlatformAdmin;
use crate::platform::users::PlatformUserOut;
use crate::rbac::{self, Me};
use crate::state::{AppState, Platform};
use crate::tenant_info::{CurrentTenant, TenantOut};
use crate::users::{UserOut, check_account, new_account, snapshot};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(verify))
        .routes(routes!(logout))
        .routes(routes!(profile, replace_profile, update_profile))
        .routes(routes!(change_password))
        .routes(routes!(password_reset_request))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(register))
}

/// `auth/token/`: the spec's other spelling of `login/`.
pub fn aliases() -> Router<AppState> {
    Router::new().route("/api/v1/auth/token/", post(login))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LoginIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    pub email: Field<String>,
    /// Alias of `email` (when `email` is absent).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>)]
    pub username_or_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<128>, required = true)]
    pub password: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    pub access: String,
    pub refresh: String,
    /// A tenant user, or a platform user in the platform context.
    #[schema(value_type = Object)]
    pub user: Value,
    /// The school; null on the platform.
    pub tenant: Option<TenantOut>,
}

fn bad_credentials() -> ApiError {
    ApiError::auth_failed("Invalid email or password.", envelope::BAD_CREDENTIALS)
}

/// An access token's own claims: its type and the caller's permissions, a
/// hint for clients (checks read the roles stored now). Holding the whole
/// catalogue is written `["*"]`, so a TenantAdmin's token stays small.
fn extra(kind: &str, permissions: Value) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("type".into(), json!(kind));
    let all = rbac::catalogue().len();
    let permissions = match permissions.as_array() {
        Some(codes) if codes.len() >= all => json!(["*"]),
        _ => permissions,
    };
    claims.insert("permissions".into(), permissions);
    claims
}

/// Signs in: a school's user in its context, a platform user on a platform host.
#[utoipa::path(post, path = "/api/v1/auth/login/", tag = "auth",
    request_body = LoginIn,
    responses((status = 200, body = inline(Data<LoginOut>)), (status = 401, description = "`ERR_AUTH_01`"), (status = 429, description = "`ERR_AUTH_04`")))]
pub async fn login(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    ClientIp(ip): ClientIp,
    trail: Trail,
    Json(body): Json<LoginIn>,
) -> ApiResult<Data<LoginOut>> {
    let mut c = Checker::new();
    let email = if body.email.is_absent() {
        body.username_or_email
    } else {
        body.email
    };
    let email = c.text("email", email, 254);
    let password = c.text("password", body.password, 128);
    c.finish()?;
    let email = kernel::form::normalize_email(&email.unwrap_or_default()).unwrap_or_default();
    let password = password.unwrap_or_default();
    match AppState::tenant_id() {
        Some(tenant_id) => {
            let matched = identity::check_password(&state, &db, &email, &password, ip)
                .await?
                .ok_or_else(bad_credentials)?;
            let account = matched.sign_in(&db).await?;
            let perms = rbac::perms_of(&db, &account.role_names()).await?;
            let pair = identity::issue(&state, &account, extra("access", json!(perms.sorted())))?;
            Event::new(Some(account.id), LOGIN, "User", account.id)
                .write(&db, &trail)
                .await?;
            let tenant = state
                .tenants
                .get(tenant_id)
                .await?
                .ok_or_else(envelope::tenant_not_found)?;
            let mut user = serde_json::to_value(UserOut::of(&account)).unwrap_or_default();
            user["permissions"] = json!(perms.sorted());
            Ok(ok(LoginOut {
                access: pair.access,
                refresh: pair.refresh,
                user,
                tenant: Some(TenantOut::of(&tenant)),
            }))
        }
        None => {
            let platform = Platform(state.clone());
            let matched = identity::check_password(&platform, &state.db, &email, &password, ip)
                .await?
                .ok_or_else(bad_credentials)?;
            let account = matched.sign_in(&state.db).await?;
            let pair = identity::issue(&platform, &account, extra("access", json!([])))?;
            Event::new(Some(account.id), LOGIN, "PlatformUser", account.id)
                .write_platform(&state.db, &trail)
                .await?;
            let user = serde_json::to_value(PlatformUserOut::of(account)).unwrap_or_default();
            Ok(ok(LoginOut {
                access: pair.access,
                refresh: pair.refresh,
                user,
                tenant: None,
            }))
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairOut {
    pub access: String,
    pub refresh: String,
}

/// Trades a refresh token for a new pair (the used one is dead).
#[utoipa::path(post, path = "/api/v1/auth/token/refresh/", tag = "auth",
    request_body = RefreshIn,
    responses((status = 200, body = inline(Data<PairOut>)), (status = 401, description = "Invalid, used, expired or another tenant's.")))]
pub async fn refresh(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<RefreshIn>,
) -> ApiResult<Data<PairOut>> {
    let token = body.token()?;
    let pair = match AppState::tenant_id() {
        Some(_) => {
            let (_, account) = identity::rotate(&state, &db, &token).await?;
            let perms = rbac::perms_of(&db, &account.role_names()).await?;
            identity::issue(&state, &account, extra("access", json!(perms.sorted())))?
        }
        None => {
            let platform = Platform(state.clone());
            let (_, account) = identity::rotate(&platform, &state.db, &token).await?;
            identity::issue(&platform, &account, extra("access", json!([])))?
        }
    };
    Ok(ok(PairOut {
        access: pair.access,
        refresh: pair.refresh,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<4096>, required = true)]
    pub token: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    pub valid: bool,
    pub token_type: String,
}

/// Whether a token is good here (signature, expiry, this tenant, a current account).
#[utoipa::path(post, path = "/api/v1/auth/token/verify/", tag = "auth",
    request_body = VerifyIn,
    responses((status = 200, body = inline(Data<VerifyOut>)), (status = 401, description = "Not valid here.")))]
pub async fn verify(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<VerifyIn>,
) -> ApiResult<Data<VerifyOut>> {
    let mut c = Checker::new();
    let token = c.text("token", body.token, 4096).unwrap_or_default();
    c.finish()?;
    let jwt = &state.jwt;
    let (claims, kind) = match jwt.verify(&token, TokenType::Access) {
        Ok(claims) => (claims, "access"),
        Err(kernel::jwt::TokenError::WrongType) => (
            jwt.verify(&token, TokenType::Refresh)
                .map_err(kernel::jwt::access_token_error)?,
            "refresh",
        ),
        Err(e) => return Err(kernel::jwt::access_token_error(e)),
    };
    let current = match AppState::tenant_id() {
        Some(_) => identity::account_for(&state, &db, &claims).await.map(drop),
        None => identity::account_for(&Platform(state.clone()), &state.db, &claims)
            .await
            .map(drop),
    };
    current?;
    Ok(ok(VerifyOut {
        valid: true,
        token_type: kind.into(),
    }))
}

/// A signed-in account in either context.
pub enum Signed {
    Tenant(Me),
    Platform(PlatformAdmin),
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        match AppState::tenant_id() {
            Some(_) => Me::from_request_parts(parts, state)
                .await
                .map(Signed::Tenant),
            None => PlatformAdmin::from_request_parts(parts, state)
                .await
                .map(Signed::Platform),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutIn {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub refresh: Field<String>,
}

/// Signs out: every token of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/logout/", tag = "auth",
    request_body = LogoutIn,
    responses((status = 200, body = inline(Data<Message>))),
    security(("jwt" = [])))]
pub async fn logout(
    signed: Signed,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    trail: Trail,
    Json(body): Json<LogoutIn>,
) -> ApiResult<Data<Message>> {
    let refresh = body.refresh.value().unwrap_or_default();
    match signed {
        Signed::Tenant(me) => {
            let claims = identity::own_refresh(&state, &me.user, &refresh);
            let txn = kernel::db::begin_write(&db).await?;
            identity::end_tokens(&*txn, &me.user, claims.as_ref()).await?;
            Event::new(Some(me.id()), LOGOUT, "User", me.id())
                .write(&*txn, &trail)
                .await?;
            txn.commit().await?;
        }
        Signed::Platform(PlatformAdmin(account)) => {
            let platform = Platform(state.clone());
            let claims = identity::own_refresh(&platform, &account, &refresh);
            identity::end_tokens(&state.db, &account, claims.as_ref()).await?;
            Event::new(Some(account.id), LOGOUT, "PlatformUser", account.id)
                .write_platform(&state.db, &trail)
                .await?;
        }
    }
    Ok(message("Signed out."))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileOut {
    #[serde(flatten)]
    pub user: UserOut,
    pub permissions: Vec<String>,
}

/// The signed-in user with the permissions their roles hold now.
#[utoipa::path(get, path = "/api/v1/auth/profile/", tag = "auth",
    responses((status = 200, body = inline(Data<ProfileOut>))),
    security(("jwt" = [])))]
pub async fn profile(signed: Signed) -> ApiResult<Data<Value>> {
    Ok(ok(match signed {
        Signed::Tenant(me) => serde_json::to_value(ProfileOut {
            user: UserOut::of(&me.user),
            permissions: me.perms.sorted(),
        })
        .unwrap_or_default(),
        Signed::Platform(PlatformAdmin(account)) => {
            serde_json::to_value(PlatformUserOut::of(account)).unwrap_or_default()
        }
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<500>)]
    pub avatar: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub preferences: Field<Value>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub profile_data: Field<Value>,
}

async fn save_profile(
    me: Me,
    trail: &Trail,
    db: &sea_orm::DatabaseConnection,
    body: ProfileIn,
    partial: bool,
) -> ApiResult<Data<ProfileOut>> {
    let mut c = Checker::partial(partial);
    let first = c.text("first_name", body.first_name, 100);
    let last = c.text("last_name", body.last_name, 100);
    let phone = c.optional_text("phone", body.phone, 20);
    let avatar = c.optional_text("avatar", body.avatar, 500);
    let mut objects = Vec::new();
    for (name, field) in [
        ("preferences", body.preferences),
        ("profile_data", body.profile_data),
    ] {
        let value = if field.is_absent() {
            None
        } else {
            c.value(name, field)
        };
        if value.as_ref().is_some_and(|v| !v.is_object()) {
            c.error(name, "Expected an object.");
        }
        objects.push(value);
    }
    c.finish()?;
    let before = me.user.clone();
    let mut row: user::ActiveModel = before.clone().into();
    if let Some(v) = first {
        row.first_name = Set(v);
    }
    if let Some(v) = last {
        row.last_name = Set(v);
    }
    if let Some(v) = phone {
        row.phone = Set(v.unwrap_or_default());
    }
    if let Some(v) = avatar {
        row.avatar = Set(v.unwrap_or_default());
    }
    if let Some(Some(v)) = objects.first().cloned() {
        row.preferences = Set(v);
    }
    if let Some(Some(v)) = objects.get(1).cloned() {
        row.profile_data = Set(v);
    }
    row.updated_at = Set(kernel::time::now());
    let txn = kernel::db::begin_write(db).await?;
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "User", me.id())
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(ok(ProfileOut {
        user: UserOut::of(&after),
        permissions: me.perms.sorted(),
    }))
}

/// Replaces the signed-in user's own fields.
#[utoipa::path(put, path = "/api/v1/auth/profile/", tag = "auth",
    request_body = ProfileIn,
    responses((status = 200, body = inline(Data<ProfileOut>))),
    security(("jwt" = [])))]
pub async fn replace_profile(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<ProfileIn>,
) -> ApiResult<Data<ProfileOut>> {
    save_profile(me, &trail, &db, body, false).await
}

/// Changes the signed-in user's own fields.
#[utoipa::path(patch, path = "/api/v1/auth/profile/", tag = "auth",
    request_body = ProfileIn,
    responses((status = 200, body = inline(Data<ProfileOut>))),
    security(("jwt" = [])))]
pub async fn update_profile(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<ProfileIn>,
) -> ApiResult<Data<ProfileOut>> {
    save_profile(me, &trail, &db, body, true).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChangePasswordIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<128>, required = true)]
    pub old_password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::password, required = true)]
    pub new_password: Field<String>,
    /// When given, equal to `new_password`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub new_password_confirm: Field<String>,
}

/// Changes the caller's password; every token of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/change-password/", tag = "auth",
    request_body = ChangePasswordIn,
    responses((status = 200, body = inline(Data<Message>))),
    security(("jwt" = [])))]
pub async fn change_password(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<ChangePasswordIn>,
) -> ApiResult<Data<Message>> {
    let mut c = Checker::new();
    let old = c
        .text("old_password", body.old_password, 128)
        .unwrap_or_default();
    let new = c
        .text("new_password", body.new_password, 128)
        .unwrap_or_default();
    let confirm = c.nullable(body.new_password_confirm).flatten();
    c.finish()?;
    if !state.hasher.verify(&old, &me.user.password).await?.matches {
        return Err(ApiError::field(
            "old_password",
            "Your old password was entered incorrectly.",
        ));
    }
    if confirm.is_some_and(|c| c != new) {
        return Err(ApiError::field(
            "new_password_confirm",
            "The two password fields didn't match.",
        ));
    }
    crate::users::field_errors(
        "new_password",
        kernel::password::validate(
            &new,
            &[
                ("email address", me.user.email.as_str()),
                ("first name", me.user.first_name.as_str()),
                ("last name", me.user.last_name.as_str()),
            ],
        ),
    )?;
    let hash = state.hasher.make(&new).await?;
    let txn = kernel::db::begin_write(&db).await?;
    user::Entity::update_many()
        .col_expr(user::Column::Password, Expr::value(hash))
        .col_expr(
            user::Column::TokenEpoch,
            Expr::value(me.user.token_epoch + 1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(user::Column::Id.eq(me.id()))
        .exec(&*txn)
        .await?;
    Event::new(Some(me.id()), UPDATE, "User", me.id())
        .changes(json!({"password": ["(changed)", "(changed)"]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(message("Password changed. Sign in again."))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResetIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
}

/// Sends a one-hour reset link if the email belongs to an active user;
/// answers the same either way.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/", tag = "auth",
    request_body = ResetIn,
    responses((status = 200, body = inline(Data<Message>))))]
pub async fn password_reset_request(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<ResetIn>,
) -> ApiResult<Data<Message>> {
    let mut c = Checker::new();
    let email = c.email("email", body.email).unwrap_or_default();
    c.finish()?;
    let answer = "If the email belongs to an account, a reset link was sent.";
    let Some(tenant_id) = AppState::tenant_id() else {
        return Ok(message(answer));
    };
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::IsActive.eq(true))
        .one(&db)
        .await?;
    if let Some(account) = found {
        let tenant = state
            .tenants
            .get(tenant_id)
            .await?
            .ok_or_else(envelope::tenant_not_found)?;
        let data = json!({
            "first_name": account.first_name,
            "login_url": state.config.login_url_of(&tenant.subdomain),
            "set_password_for": account.id,
        });
        let txn = kernel::db::begin_write(&db).await?;
        notify::queue(
            &*txn,
            Notice::new("password_reset", "email", account.email.clone(), data).to_user(account.id),
        )
        .await?;
        txn.commit().await?;
        state.wake_jobs();
    }
    Ok(message(answer))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResetConfirmIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<256>, required = true)]
    pub token: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::password, required = true)]
    pub new_password: Field<String>,
}

/// Sets a new password with a reset or invitation token (single use).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm/", tag = "auth",
    request_body = ResetConfirmIn,
    responses((status = 200, body = inline(Data<Message>)), (status = 400, description = "Token invalid, used or expired; weak password.")))]
pub async fn password_reset_confirm(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    trail: Trail,
    Json(body): Json<ResetConfirmIn>,
) -> ApiResult<Data<Message>> {
    let mut c = Checker::new();
    let token = c.text("token", body.token, 256).unwrap_or_default();
    let new = c
        .text("new_password", body.new_password, 128)
        .unwrap_or_default();
    c.finish()?;
    if AppState::tenant_id().is_none() {
        return Err(ApiError::field("token", "Invalid or expired token."));
    }
    let invalid = || ApiError::field("token", "Invalid or expired token.");
    let now = kernel::time::now();
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(notify::token_hash(&token)))
        .one(&db)
        .await?
        .filter(|r| r.used_at.is_none() && r.expires_at > now)
        .ok_or_else(invalid)?;
    let account = user::Entity::find_by_id(row.user_id)
        .one(&db)
        .await?
        .ok_or_else(invalid)?;
    crate::users::field_errors(
        "new_password",
        kernel::password::validate(&new, &[("email address", account.email.as_str())]),
    )?;
    let hash = state.hasher.make(&new).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let used = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(row.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&*txn)
        .await?;
    if used.rows_affected != 1 {
        return Err(invalid());
    }
    user::Entity::update_many()
        .col_expr(user::Column::Password, Expr::value(hash))
        .col_expr(
            user::Column::TokenEpoch,
            Expr::value(account.token_epoch + 1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .exec(&*txn)
        .await?;
    Event::new(Some(account.id), UPDATE, "User", account.id)
        .changes(json!({"password": ["(reset)", "(reset)"]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(message("Password set. You can sign in now."))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegisterIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::password, required = true)]
    pub password: Field<String>,
    /// `Student` or `Parent` (default `Student`).
    #[serde(default)]
    #[schema(schema_with = register_roles)]
    pub role: Field<String>,
}

/// Self-registration, where the school's `settings.allow_self_registration`
/// is on: an inactive Student or Parent account awaiting approval.
#[utoipa::path(post, path = "/api/v1/auth/register/", tag = "auth",
    request_body = RegisterIn,
    responses((status = 201, body = inline(Data<UserOut>)), (status = 403, description = "The school does not allow it.")))]
pub async fn register(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    trail: Trail,
    CurrentTenant(tenant): CurrentTenant,
    Json(body): Json<RegisterIn>,
) -> ApiResult<(StatusCode, Data<UserOut>)> {
    if tenant.settings["allow_self_registration"] != json!(true) {
        return Err(ApiError::forbidden(
            "This school does not allow self-registration.",
        ));
    }
    let mut c = Checker::new();
    let mut account = check_account(
        &mut c,
        body.email,
        body.first_name,
        body.last_name,
        body.phone,
        body.password.clone(),
    );
    if body.password.is_absent() {
        c.error("password", kernel::form::REQUIRED);
    }
    let role = if body.role.is_absent() {
        rbac::STUDENT.to_owned()
    } else {
        c.choice("role", body.role, &[rbac::STUDENT, rbac::PARENT])
            .unwrap_or_default()
    };
    c.finish()?;
    account.roles = vec![role];
    account.is_active = false;
    let txn = kernel::db::begin_write(&db).await?;
    let row = new_account(&state, &*txn, &tenant, None, &trail, account).await?;
    txn.commit().await?;
    Ok(created(UserOut::of(&row)))
}

fn register_roles() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(&[rbac::STUDENT, rbac::PARENT])
}
