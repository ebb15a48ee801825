//! `/api/auth/…`: registration, JWT sign-in, refresh rotation, logout, the
//! caller's own profile and password (spec §3.1, §4).

use axum::extract::State;
use axum::http::StatusCode;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::identity::RefreshIn;
use kernel::jwt::TokenPair;
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json, MessageOut};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::principal::CurrentUser;
use crate::state::AppState;
use crate::users::{
    ADMISSION_TAKEN, EMAIL_TAKEN, UserOut, admission_taken, audit_name, audit_snapshot,
    email_taken, user_conflict,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(obtain_token))
        .routes(routes!(login))
        .routes(routes!(refresh_token))
        .routes(routes!(logout))
        .routes(routes!(get_profile, update_profile, partial_update_profile))
        .routes(routes!(change_password, change_password_post))
        .routes(routes!(verify_token, verify_token_post))
        .routes(routes!(health))
        .routes(routes!(auth_health))
}

/// The routes the original also mounted under `/api/users/…`.
pub fn user_aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/users/register/", post(register))
        .route("/api/users/token/", post(obtain_token))
        .route("/api/users/login/", post(login))
        .route("/api/users/token/refresh/", post(refresh_token))
        .route("/api/users/logout/", post(logout))
        .route(
            "/api/users/profile/",
            get(get_profile)
                .put(update_profile)
                .patch(partial_update_profile),
        )
        .route(
            "/api/users/change-password/",
            axum::routing::put(change_password)
                .patch(change_password)
                .post(change_password_post),
        )
        .route(
            "/api/users/verify/",
            get(verify_token).post(verify_token_post),
        )
}

fn issue(state: &AppState, user: &user::Model) -> ApiResult<TokenPair> {
    kernel::identity::issue(state, user, Map::new())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegisterIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    pub password: Field<String>,
    /// Optional; when given it must equal `password`.
    #[serde(default)]
    #[schema(value_type = Option<String>, write_only)]
    pub password_confirm: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub admission_number: Field<String>,
    /// Only `student` may be self-registered.
    #[serde(default)]
    #[schema(schema_with = self_registered_role)]
    pub role: Field<String>,
}

fn self_registered_role() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::optional_choice(&[Role::Student.as_str()])
}

/// Tokens with the signed-in user, in both the spec's and the original's shapes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub access: String,
    pub refresh: String,
    pub user: UserOut,
    pub tokens: TokenPair,
    pub message: String,
}

impl SessionOut {
    fn new(pair: TokenPair, user: UserOut, message: &str) -> Self {
        Self {
            access: pair.access.clone(),
            refresh: pair.refresh.clone(),
            user,
            tokens: pair,
            message: message.to_owned(),
        }
    }
}

/// Register a student account and sign it in.
#[utoipa::path(post, path = "/api/auth/register/", tag = "auth", request_body = RegisterIn,
    responses((status = 201, body = SessionOut), (status = 400)))]
pub async fn register(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    Json(input): Json<RegisterIn>,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    let mut c = Checker::new();
    let email = c.email("email", input.email);
    let full_name = c.text("full_name", input.full_name, 255);
    let password = c.value("password", input.password);
    let admission_number = c
        .optional_text("admission_number", input.admission_number, 50)
        .flatten();
    if let Field::Value(role) = &input.role
        && role != Role::Student.as_str()
    {
        c.error(
            "role",
            "Self-registration can only create student accounts.",
        );
    }
    if let (Some(password), Field::Value(confirm)) = (&password, &input.password_confirm)
        && password != confirm
    {
        c.error("password", "Password fields didn't match.");
    }
    if let Some(email) = &email
        && email_taken(&db, email, None).await?
    {
        c.error("email", EMAIL_TAKEN);
    }
    if let Some(number) = &admission_number
        && admission_taken(&db, number, None).await?
    {
        c.error("admission_number", ADMISSION_TAKEN);
    }
    if let Some(password) = &password
        && !c.has_error("password")
    {
        let attrs = [
            ("email address", email.as_deref().unwrap_or("")),
            ("full name", full_name.as_deref().unwrap_or("")),
        ];
        for message in kernel::password::validate(password, &attrs) {
            c.error("password", message);
        }
    }
    c.finish()?;

    let hash = state.hasher.make(&password.unwrap_or_default()).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.unwrap_or_default()),
        admission_number: Set(admission_number),
        full_name: Set(full_name.unwrap_or_default()),
        password: Set(hash),
        role: Set(Role::Student),
        department_id: Set(None),
        is_active: Set(true),
        token_epoch: Set(0),
        last_login: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(user_conflict)?;
    // The new account is its own actor.
    audit::record(
        &txn,
        Actor::user(created.id, ip),
        Action::CREATE,
        "User",
        created.id,
        &audit_name(&created),
        kernel::audit::created(&audit_snapshot(&created)),
    )
    .await?;
    txn.commit().await?;
    let pair = issue(&state, &created)?;
    let out = UserOut::new(&created, None);
    Ok((
        StatusCode::CREATED,
        Json(SessionOut::new(pair, out, "User registered successfully")),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CredentialsIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    pub password: Field<String>,
}

/// Checks credentials; `None` for an unknown account, a wrong password or an
/// inactive account (indistinguishable by answer and by timing). A valid hash
/// made with other parameters is upgraded in place. Repeated failures for one
/// account from one address lock it out there for a while (429).
async fn authenticate(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    ip: ClientIp,
    input: CredentialsIn,
) -> ApiResult<Option<user::Model>> {
    let mut c = Checker::new();
    let email = c.text("email", input.email, 254);
    let password = c.value("password", input.password);
    if password.as_deref() == Some("") {
        c.error("password", kernel::form::NOT_BLANK);
    }
    c.finish()?;
    let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
    let email = kernel::form::normalize_email(&email).unwrap_or(email);
    match kernel::identity::check_password(state, db, &email, &password, ip.0).await? {
        Some(matched) => Ok(Some(matched.sign_in(db).await?)),
        None => Ok(None),
    }
}

/// Tokens and the signed-in user (spec §4.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub access: String,
    pub refresh: String,
    pub user: UserOut,
}

/// Obtain a JWT pair (SimpleJWT's `TokenObtainPairView`).
#[utoipa::path(post, path = "/api/auth/token/", tag = "auth", request_body = CredentialsIn,
    responses((status = 200, body = TokenOut), (status = 400), (status = 401),
        (status = 429, description = "Too many failed sign-ins for this account from this address.")))]
pub async fn obtain_token(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(input): Json<CredentialsIn>,
) -> ApiResult<Json<TokenOut>> {
    let user = authenticate(&state, &db, ip, input).await?.ok_or_else(|| {
        ApiError::auth_failed(
            "No active account found with the given credentials",
            "no_active_account",
        )
    })?;
    let pair = issue(&state, &user)?;
    let out = UserOut::load(&db, &user).await?;
    Ok(Json(TokenOut {
        access: pair.access,
        refresh: pair.refresh,
        user: out,
    }))
}

/// Sign in: the token pair plus the original frontend's `tokens` and `message`.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = CredentialsIn,
    responses((status = 200, body = SessionOut), (status = 400),
        (status = 429, description = "Too many failed sign-ins for this account from this address.")))]
pub async fn login(
    State(state): State<AppState>,
    Db(db): Db,
    ip: ClientIp,
    Json(input): Json<CredentialsIn>,
) -> ApiResult<Json<SessionOut>> {
    let user = authenticate(&state, &db, ip, input)
        .await?
        .ok_or_else(|| ApiError::non_field("Unable to log in with provided credentials."))?;
    let pair = issue(&state, &user)?;
    let out = UserOut::load(&db, &user).await?;
    Ok(Json(SessionOut::new(pair, out, "Login successful")))
}

/// Rotate a refresh token: the old one is blacklisted, a new pair is returned.
/// Reusing a rotated refresh token fails with 401.
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokenPair), (status = 400), (status = 401)))]
pub async fn refresh_token(
    State(state): State<AppState>,
    Db(db): Db,
    Json(input): Json<RefreshIn>,
) -> ApiResult<Json<TokenPair>> {
    let (_, user) = kernel::identity::rotate(&state, &db, &input.token()?).await?;
    Ok(Json(issue(&state, &user)?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutIn {
    /// Optional: the refresh token to blacklist.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub refresh: Field<String>,
}

/// Log out: blacklists the given refresh token and ends every outstanding
/// token of the account.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", security(("jwt" = [])), request_body = LogoutIn,
    responses((status = 200, body = MessageOut), (status = 400), (status = 401)))]
pub async fn logout(
    State(state): State<AppState>,
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Json(input): Json<LogoutIn>,
) -> ApiResult<Json<MessageOut>> {
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
    Ok(MessageOut::new("Logout successful"))
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/auth/profile/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = UserOut), (status = 401)))]
pub async fn get_profile(Db(db): Db, kernel::Current(me): CurrentUser) -> ApiResult<Json<UserOut>> {
    Ok(Json(UserOut::load(&db, &me).await?))
}

/// What a user may change about themselves: name and admission number only.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub admission_number: Field<String>,
}

async fn write_profile(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    input: ProfileIn,
    partial: bool,
) -> ApiResult<Json<UserOut>> {
    let mut c = Checker::partial(partial);
    let full_name = c.text("full_name", input.full_name, 255);
    let admission_number = c.optional_text("admission_number", input.admission_number, 50);
    if let Some(Some(number)) = &admission_number
        && admission_taken(db, number, Some(me.id)).await?
    {
        c.error("admission_number", ADMISSION_TAKEN);
    }
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    // Re-read under the lock so the audit row's "before" is what is replaced.
    let current = user::Entity::find_by_id(me.id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::auth_failed("User not found", "user_not_found"))?;
    let mut model: user::ActiveModel = current.clone().into();
    if let Some(v) = full_name {
        model.full_name = Set(v);
    }
    if let Some(v) = admission_number {
        model.admission_number = Set(v);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(user_conflict)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "User",
        updated.id,
        &audit_name(&updated),
        kernel::audit::diff(&audit_snapshot(&current), &audit_snapshot(&updated)),
    )
    .await?;
    let out = UserOut::load(&txn, &updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Update the caller's name and admission number; other fields are read-only.
#[utoipa::path(put, path = "/api/auth/profile/", tag = "auth", security(("jwt" = [])), request_body = ProfileIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401)))]
pub async fn update_profile(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<ProfileIn>,
) -> ApiResult<Json<UserOut>> {
    write_profile(&db, me, ip, input, false).await
}

/// Change some of the caller's name and admission number.
#[utoipa::path(patch, path = "/api/auth/profile/", tag = "auth", security(("jwt" = [])), request_body = ProfileIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401)))]
pub async fn partial_update_profile(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<ProfileIn>,
) -> ApiResult<Json<UserOut>> {
    write_profile(&db, me, ip, input, true).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChangePasswordIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    pub old_password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    pub new_password: Field<String>,
    /// Optional; when given it must equal `new_password`.
    #[serde(default)]
    #[schema(value_type = Option<String>, write_only)]
    pub new_password_confirm: Field<String>,
}

/// A new token pair, since changing the password ends every earlier token.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChangedOut {
    pub message: String,
    pub tokens: TokenPair,
}

/// Change the caller's password. Every earlier token of the account stops working.
#[utoipa::path(put, path = "/api/auth/change-password/", tag = "auth", security(("jwt" = [])), request_body = ChangePasswordIn,
    responses((status = 200, body = PasswordChangedOut), (status = 400), (status = 401)))]
pub async fn change_password(
    State(state): State<AppState>,
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<ChangePasswordIn>,
) -> ApiResult<Json<PasswordChangedOut>> {
    let mut c = Checker::new();
    let old = c.value("old_password", input.old_password);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    let mut errors = FieldErrors::new();
    if !state.hasher.verify(&old, &me.password).await?.matches {
        errors.add("old_password", "Old password is not correct.");
    }
    if let Field::Value(confirm) = &input.new_password_confirm
        && *confirm != new
    {
        errors.add("new_password", "Password fields didn't match.");
    } else {
        let attrs = [
            ("email address", me.email.as_str()),
            ("full name", me.full_name.as_str()),
        ];
        for message in kernel::password::validate(&new, &attrs) {
            errors.add("new_password", message);
        }
    }
    errors.into_result()?;
    let hash = state.hasher.make(&new).await?;
    let txn = kernel::db::begin_write(&db).await?;
    // Compare-and-swap on the hash the old password was checked against: of
    // parallel changes made with the same old password exactly one wins.
    let swapped = user::Entity::update_many()
        .col_expr(user::Column::Password, Expr::value(hash))
        .col_expr(user::Column::TokenEpoch, Expr::value(me.token_epoch + 1))
        .col_expr(user::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(user::Column::Id.eq(me.id))
        .filter(user::Column::Password.eq(&me.password))
        .exec(&txn)
        .await?;
    if swapped.rows_affected == 0 {
        return Err(ApiError::field(
            "old_password",
            "Old password is not correct.",
        ));
    }
    let updated = user::Entity::find_by_id(me.id)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // That it changed, never what to.
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "User",
        updated.id,
        &audit_name(&updated),
        json!({"password": "changed"}),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(PasswordChangedOut {
        message: "Password changed successfully".into(),
        tokens: issue(&state, &updated)?,
    }))
}

/// The original frontend POSTs the password change.
#[utoipa::path(post, path = "/api/auth/change-password/", tag = "auth", security(("jwt" = [])), request_body = ChangePasswordIn,
    responses((status = 200, body = PasswordChangedOut), (status = 400), (status = 401)))]
pub async fn change_password_post(
    state: State<AppState>,
    db: Db,
    me: CurrentUser,
    ip: ClientIp,
    input: Json<ChangePasswordIn>,
) -> ApiResult<Json<PasswordChangedOut>> {
    change_password(state, db, me, ip, input).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    pub valid: bool,
    pub user: UserOut,
}

/// Check the access token and return its user.
#[utoipa::path(get, path = "/api/auth/verify/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = VerifyOut), (status = 401)))]
pub async fn verify_token(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
) -> ApiResult<Json<VerifyOut>> {
    Ok(Json(VerifyOut {
        valid: true,
        user: UserOut::load(&db, &me).await?,
    }))
}

/// The original frontend POSTs the token check.
#[utoipa::path(post, path = "/api/auth/verify/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = VerifyOut), (status = 401)))]
pub async fn verify_token_post(db: Db, me: CurrentUser) -> ApiResult<Json<VerifyOut>> {
    verify_token(db, me).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    pub status: &'static str,
    pub service: &'static str,
}

/// Liveness (public).
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "healthy",
        service: "Machakos Clearance System API",
    })
}

/// The original's health endpoint under `/api/auth/` (public).
#[utoipa::path(get, path = "/api/auth/health/", tag = "health", responses((status = 200)))]
pub async fn auth_health() -> Json<Value> {
    Json(json!({"status": "healthy", "message": "MksU Clearance System API is running"}))
}
