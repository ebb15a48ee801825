//! `/api/auth/2fa/…`: TOTP second factor (RFC 6238) with single-use backup
//! codes. The secret is sealed at rest (bound to `pss_two_factor`, its
//! column and row); backup codes, the login challenge and the setup token are
//! stored only as SHA-256 hex. Secrets never reach logs or audit rows.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{TimeDelta, Utc};
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::user::{self};
use crate::entities::{backup_code, two_factor};
use crate::principal::CurrentUser;
use crate::seal::Row;
use crate::state::AppState;
use crate::totp;

/// How long a setup may wait for its confirmation.
const SETUP_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// How long after a correct password a code may complete the sign-in.
const LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// How long a mandatory-2FA setup token lasts.
const SETUP_TOKEN_WINDOW: TimeDelta = TimeDelta::minutes(10);
const SETUP_TOKEN_PREFIX: &str = "2fa-setup.";

pub const EXPIRED: &str = "2FA session expired. Please login again with your email and password.";
pub const INVALID_CODE: &str = "Invalid 2FA code";
pub const MANDATORY: &str =
    "2FA is mandatory for admin and superuser accounts. Please set up 2FA to continue.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(verify_setup))
        .routes(routes!(verify_code))
        .routes(routes!(disable))
        .routes(routes!(regenerate_backup_codes))
}

/// The user's 2FA row, created (disabled) when missing.
async fn row_for<C: ConnectionTrait>(db: &C, user_id: i64) -> ApiResult<two_factor::Model> {
    if let Some(found) = find(db, user_id).await? {
        return Ok(found);
    }
    let now = kernel::time::now();
    let inserted = two_factor::ActiveModel {
        user_id: Set(user_id),
        enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => Ok(row),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            find(db, user_id)
                .await?
                .ok_or_else(|| ApiError::internal(e))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> ApiResult<Option<two_factor::Model>> {
    Ok(two_factor::Entity::find()
        .filter(two_factor::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

fn same_hash(stored: Option<&str>, presented: &str) -> bool {
    stored.is_some_and(|s| bool::from(s.as_bytes().ct_eq(totp::sha256_hex(presented).as_bytes())))
}

/// What a correct password answers for an account with 2FA: a challenge the
/// client may send back with the code; either way a code is accepted only
/// within 5 minutes of the password.
/// A password sign-in of an account with 2FA: the code is still to come
/// (`POST /api/auth/2fa/verify-code/`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorChallengeOut {
    /// Always true.
    pub requires_2fa: bool,
    pub email: String,
    pub message: String,
    /// To send back with the code.
    pub challenge: String,
}

/// A staff sign-in while 2FA is mandatory and not set up: no tokens, a
/// setup token for the 2FA setup endpoints instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorSetupRequiredOut {
    /// Always true.
    pub requires_2fa_setup: bool,
    pub message: String,
    pub setup_url: String,
    pub setup_token: String,
}

pub async fn start_login(
    db: &sea_orm::DatabaseConnection,
    user: &user::Model,
) -> ApiResult<Response> {
    let challenge = totp::random_token();
    two_factor::Entity::update_many()
        .col_expr(
            two_factor::Column::LoginChallenge,
            Expr::value(totp::sha256_hex(&challenge)),
        )
        .col_expr(
            two_factor::Column::LoginUntil,
            Expr::value(kernel::time::now() + LOGIN_WINDOW),
        )
        .filter(two_factor::Column::UserId.eq(user.id))
        .exec(db)
        .await?;
    Ok(Json(TwoFactorChallengeOut {
        requires_2fa: true,
        email: user.email.clone(),
        message: "Please enter your 2FA authentication code".to_owned(),
        challenge,
    })
    .into_response())
}

/// Mandatory 2FA not yet set up: 403 with a setup token that only the 2FA
/// setup endpoints accept.
pub async fn require_setup(
    db: &sea_orm::DatabaseConnection,
    user: &user::Model,
) -> ApiResult<Response> {
    let token = format!("{SETUP_TOKEN_PREFIX}{}.{}", user.id, totp::random_token());
    let txn = kernel::db::begin_write(db).await?;
    let row = row_for(&txn, user.id).await?;
    let mut model: two_factor::ActiveModel = row.into();
    model.setup_token = Set(Some(totp::sha256_hex(&token)));
    model.setup_until = Set(Some(kernel::time::now() + SETUP_TOKEN_WINDOW));
    model.updated_at = Set(kernel::time::now());
    model.update(&txn).await?;
    txn.commit().await?;
    Ok((
        StatusCode::FORBIDDEN,
        Json(TwoFactorSetupRequiredOut {
            requires_2fa_setup: true,
            message: MANDATORY.to_owned(),
            setup_url: "/auth/2fa/setup/".to_owned(),
            setup_token: token,
        }),
    )
        .into_response())
}

/// Who may set 2FA up: a signed-in user, or (mandatory 2FA) the bearer of a
/// setup token from the password sign-in.
pub struct SetupCaller(pub user::Model);

impl FromRequestParts<AppState> for SetupCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = kernel::jwt::bearer_token(parts)
            .and_then(|t| t.strip_prefix(SETUP_TOKEN_PREFIX).map(|rest| (t, rest)))
        else {
            return Ok(SetupCaller(
                CurrentUser::from_request_parts(parts, state).await?.0,
            ));
        };
        let (full, rest) = token;
        let refused = || kernel::jwt::access_token_error(kernel::jwt::TokenError::Invalid);
        let user_id: i64 = rest
            .split_once('.')
            .and_then(|(id, _)| id.parse().ok())
            .ok_or_else(refused)?;
        let db = Db::of(parts, state);
        let row = find(&*db, user_id).await?.ok_or_else(refused)?;
        if !same_hash(row.setup_token.as_deref(), full)
            || row
                .setup_until
                .is_none_or(|until| until <= kernel::time::now())
        {
            return Err(refused());
        }
        let user = user::Entity::find_by_id(user_id)
            .one(&*db)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(refused)?;
        Ok(SetupCaller(user))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupOut {
    /// Base32; shown only now.
    pub secret: String,
    /// PNG of the provisioning URI's QR code, base64.
    pub qr_code_base64: String,
    pub provisioning_uri: String,
    pub issuer: String,
    pub message: String,
}

fn already_enabled() -> ApiError {
    ApiError::bad_request("2FA is already enabled for this account")
}

/// Start 2FA setup: a new secret, its `otpauth://` URI and QR code. Confirm
/// with `verify-setup/` within 15 minutes. Accepts a setup token.
#[utoipa::path(post, path = "/api/auth/2fa/setup/", tag = "2fa", security(("jwt" = [])),
    responses((status = 200, body = SetupOut), (status = 400), (status = 401)))]
pub async fn setup(
    State(state): State<AppState>,
    Db(db): Db,
    SetupCaller(me): SetupCaller,
    ClientIp(ip): ClientIp,
) -> ApiResult<Json<SetupOut>> {
    let secret = totp::new_secret();
    let uri = totp::provisioning_uri(&secret, &me.email);
    let png = totp::qr_png(&uri).ok_or_else(|| ApiError::internal("QR code too long"))?;
    let txn = kernel::db::begin_write(&db).await?;
    let row = row_for(&txn, me.id).await?;
    if row.enabled {
        return Err(already_enabled());
    }
    let sealed =
        Row::new(&state.keys, two_factor::TABLE, row.id).seal("pending_secret", Some(&secret));
    let mut model: two_factor::ActiveModel = row.into();
    model.pending_secret = Set(sealed);
    model.pending_at = Set(Some(kernel::time::now()));
    model.updated_at = Set(kernel::time::now());
    model.update(&txn).await?;
    // A new pending secret replaces any earlier one: worth a row, never its value.
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "User",
        me.id,
        Some(json!({"two_factor": "setup_started"})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(SetupOut {
        secret,
        qr_code_base64: base64::engine::general_purpose::STANDARD.encode(png),
        provisioning_uri: uri,
        issuer: totp::ISSUER.into(),
        message: "Scan the QR code with your authenticator app, then confirm with a code.".into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifySetupIn {
    /// The 6-digit code the authenticator shows.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<16>, required = true)]
    pub totp_code: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodesOut {
    pub message: String,
    /// Ten single-use codes `XXXX-XXXX`; shown only now.
    pub backup_codes: Vec<String>,
    pub backup_codes_warning: String,
}

const CODES_WARNING: &str =
    "Save these backup codes in a safe place. Each can be used once; they will not be shown again.";

/// Replaces the user's backup codes with ten new ones; returns them.
async fn new_backup_codes<C: ConnectionTrait>(db: &C, user_id: i64) -> ApiResult<Vec<String>> {
    backup_code::Entity::delete_many()
        .filter(backup_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let codes = totp::backup_codes();
    let now = kernel::time::now();
    backup_code::Entity::insert_many(codes.iter().map(|code| backup_code::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(totp::sha256_hex(code)),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec(db)
    .await?;
    Ok(codes)
}

/// Confirm setup with a current code: 2FA is on, and ten backup codes are
/// returned (once). Accepts a setup token; after it, sign in again.
#[utoipa::path(post, path = "/api/auth/2fa/verify-setup/", tag = "2fa", security(("jwt" = [])), request_body = VerifySetupIn,
    responses((status = 200, body = BackupCodesOut), (status = 400), (status = 401)))]
pub async fn verify_setup(
    State(state): State<AppState>,
    Db(db): Db,
    SetupCaller(me): SetupCaller,
    ClientIp(ip): ClientIp,
    Json(input): Json<VerifySetupIn>,
) -> ApiResult<Json<BackupCodesOut>> {
    let mut c = Checker::new();
    let code = c.text("totp_code", input.totp_code, 16);
    c.finish()?;
    let code: String = code
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let txn = kernel::db::begin_write(&db).await?;
    let row = row_for(&txn, me.id).await?;
    if row.enabled {
        return Err(already_enabled());
    }
    let expired = || ApiError::bad_request("Setup session expired. Please restart 2FA setup.");
    if row
        .pending_at
        .is_none_or(|at| kernel::time::now() - at > SETUP_WINDOW)
    {
        return Err(expired());
    }
    let cell = Row::new(&state.keys, two_factor::TABLE, row.id);
    let secret = cell
        .open("pending_secret", row.pending_secret.as_deref())?
        .ok_or_else(expired)?;
    let step = totp::matching_step(&secret, &code, kernel::time::now().timestamp(), None)
        .ok_or_else(|| ApiError::bad_request("Invalid TOTP code. Please try again."))?;
    let now = kernel::time::now();
    let sealed = cell.seal("secret", Some(&secret));
    let mut model: two_factor::ActiveModel = row.into();
    model.secret = Set(sealed);
    model.enabled = Set(true);
    model.enabled_at = Set(Some(now));
    model.last_step = Set(Some(step));
    model.pending_secret = Set(None);
    model.pending_at = Set(None);
    model.setup_token = Set(None);
    model.setup_until = Set(None);
    model.updated_at = Set(now);
    model.update(&txn).await?;
    let codes = new_backup_codes(&txn, me.id).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "User",
        me.id,
        Some(json!({"two_factor": "enabled", "backup_codes": "changed"})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(BackupCodesOut {
        message: "2FA has been enabled successfully".into(),
        backup_codes: codes,
        backup_codes_warning: CODES_WARNING.into(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyCodeIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<254>, required = true)]
    pub email: Field<String>,
    /// A 6-digit TOTP code or a backup code.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<32>, required = true)]
    pub code: Field<String>,
    /// The challenge the password sign-in answered (optional; when sent it
    /// must match).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<128>)]
    pub challenge: Field<String>,
}

/// Complete a sign-in that answered `requires_2fa`: within 5 minutes of the
/// correct password, a TOTP code (each time step once) or an unused backup
/// code. Wrong codes count toward the sign-in lockout.
#[utoipa::path(post, path = "/api/auth/2fa/verify-code/", tag = "2fa", request_body = VerifyCodeIn,
    responses((status = 200, body = crate::auth::SessionOut), (status = 400), (status = 401), (status = 429)))]
pub async fn verify_code(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<VerifyCodeIn>,
) -> ApiResult<Json<crate::auth::SessionOut>> {
    let mut c = Checker::new();
    let email = c.text("email", input.email, 254);
    let code = c.text("code", input.code, 32);
    let challenge = c.optional_text("challenge", input.challenge, 128);
    c.finish()?;
    let email = email.unwrap_or_default();
    let email = kernel::form::normalize_email(&email).unwrap_or_else(|| email.to_lowercase());
    let code: String = code
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let key = format!(
        "{email}|{}",
        ip.map_or_else(String::new, |ip| ip.to_string())
    );
    // Reserved before the code is checked: parallel guesses cannot outrun
    // the count. Without a sign-in waiting for its code there is nothing to
    // guess, and the reservation is handed back.
    let attempt = state.lockout.reserve(&key).await?;
    let now = kernel::time::now();
    let (user, row) = match awaiting_code(&db, &email, challenge.flatten().as_deref(), now).await {
        Ok(found) => found,
        Err(error) => {
            attempt.release().await?;
            return Err(error);
        }
    };
    let txn = kernel::db::begin_write(&db).await?;
    let by_totp = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let accepted = if by_totp {
        let secret = Row::new(&state.keys, two_factor::TABLE, row.id)
            .open("secret", row.secret.as_deref())?
            .unwrap_or_default();
        match totp::matching_step(&secret, &code, now.timestamp(), row.last_step) {
            // Record the step atomically: of two uses of one code, one wins.
            Some(step) => {
                two_factor::Entity::update_many()
                    .col_expr(two_factor::Column::LastStep, Expr::value(step))
                    .filter(two_factor::Column::Id.eq(row.id))
                    .filter(
                        Condition::any()
                            .add(two_factor::Column::LastStep.is_null())
                            .add(two_factor::Column::LastStep.lt(step)),
                    )
                    .exec(&txn)
                    .await?
                    .rows_affected
                    == 1
            }
            None => false,
        }
    } else {
        let hash = totp::sha256_hex(&totp::normalize_backup(&code));
        backup_code::Entity::update_many()
            .col_expr(backup_code::Column::UsedAt, Expr::value(now))
            .filter(backup_code::Column::UserId.eq(user.id))
            .filter(backup_code::Column::CodeHash.eq(hash))
            .filter(backup_code::Column::UsedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            >= 1
    };
    if !accepted {
        drop(txn);
        attempt.fail().await?;
        return Err(ApiError::auth_failed(INVALID_CODE, "authentication_failed"));
    }
    two_factor::Entity::update_many()
        .col_expr(
            two_factor::Column::LoginChallenge,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            two_factor::Column::LoginUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(two_factor::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    let mut model: user::ActiveModel = user.into();
    model.last_login = Set(Some(now));
    let user = model.update(&txn).await?;
    let mut changes = json!({"two_factor_login": if by_totp { "totp" } else { "backup_code" }});
    let mut queued = false;
    if !by_totp {
        // A spent backup code is worth knowing about: it may not have been you.
        let remaining = backup_code::Entity::find()
            .filter(backup_code::Column::UserId.eq(user.id))
            .filter(backup_code::Column::UsedAt.is_null())
            .count(&txn)
            .await?;
        changes["backup_codes_remaining"] = json!(remaining);
        queued = crate::email::queue(
            &txn,
            &state,
            &user.email,
            "A backup code was used to sign in",
            &format!(
                "Hello {},\n\nA backup code was just used to sign in to your PSS account{}. \
                 {remaining} unused backup codes remain.\n\nIf this was not you, change your \
                 password and end your other sessions at once.\n",
                user.first_name.trim(),
                ip.map(|ip| format!(" from {ip}")).unwrap_or_default(),
            ),
        )
        .await?;
    }
    audit::record(
        &txn,
        Actor::user(user.id, ip),
        Action::UPDATE,
        "User",
        user.id,
        Some(changes),
    )
    .await?;
    txn.commit().await?;
    crate::email::wake(&state, queued);
    attempt.succeed().await?;
    Ok(Json(
        crate::auth::signed_in(&state, &db, &user, ip, &headers).await?,
    ))
}

/// The active account `email` and its 2FA row, while a sign-in with the
/// right password waits for its code (and `challenge`, when given, is the
/// one that sign-in answered); 401 `EXPIRED` otherwise.
async fn awaiting_code(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    challenge: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> ApiResult<(user::Model, two_factor::Model)> {
    let expired = || ApiError::auth_failed(EXPIRED, "authentication_failed");
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(expired)?;
    let row = find(db, user.id)
        .await?
        .filter(|r| r.enabled && r.login_until.is_some_and(|until| until > now))
        .ok_or_else(expired)?;
    if let Some(challenge) = challenge
        && !challenge.is_empty()
        && !same_hash(row.login_challenge.as_deref(), challenge)
    {
        return Err(expired());
    }
    Ok((user, row))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasswordIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::secret, required = true)]
    pub password: Field<String>,
}

async fn check_password(state: &AppState, me: &user::Model, input: Field<String>) -> ApiResult<()> {
    let mut c = Checker::new();
    let password = c.value("password", input);
    if password.as_deref() == Some("") {
        c.error("password", kernel::form::NOT_BLANK);
    }
    c.finish()?;
    if !state
        .hasher
        .verify(&password.unwrap_or_default(), &me.password)
        .await?
        .matches
    {
        return Err(ApiError::bad_request("Password is incorrect"));
    }
    Ok(())
}

fn not_enabled() -> ApiError {
    ApiError::bad_request("2FA is not enabled for this account")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub message: String,
}

/// Whoever may turn their 2FA off: anyone, except administrators and
/// superusers while 2FA is mandatory for them (403).
pub struct MayDisable2fa(CurrentUser);

impl FromRequestParts<AppState> for MayDisable2fa {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let me = CurrentUser::from_request_parts(parts, state).await?;
        if state.require_admin_2fa && me.is_staff() {
            return Err(ApiError::forbidden(
                "2FA is mandatory for admin and superuser accounts and cannot be disabled",
            ));
        }
        Ok(Self(me))
    }
}

/// Turn 2FA off (the password confirms). Refused for administrators and
/// superusers when 2FA is mandatory.
#[utoipa::path(post, path = "/api/auth/2fa/disable/", tag = "2fa", security(("jwt" = [])), request_body = PasswordIn,
    responses((status = 200, body = MessageOut), (status = 400), (status = 401), (status = 403)))]
pub async fn disable(
    State(state): State<AppState>,
    Db(db): Db,
    MayDisable2fa(me): MayDisable2fa,
    ClientIp(ip): ClientIp,
    Json(input): Json<PasswordIn>,
) -> ApiResult<Json<MessageOut>> {
    check_password(&state, &me.0, input.password).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let row = find(&txn, me.id())
        .await?
        .filter(|r| r.enabled)
        .ok_or_else(not_enabled)?;
    let mut model: two_factor::ActiveModel = row.into();
    model.secret = Set(None);
    model.enabled = Set(false);
    model.enabled_at = Set(None);
    model.last_step = Set(None);
    model.pending_secret = Set(None);
    model.pending_at = Set(None);
    model.login_challenge = Set(None);
    model.login_until = Set(None);
    model.updated_at = Set(kernel::time::now());
    model.update(&txn).await?;
    backup_code::Entity::delete_many()
        .filter(backup_code::Column::UserId.eq(me.id()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "User",
        me.id(),
        Some(json!({"two_factor": "disabled", "backup_codes": "changed"})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(MessageOut {
        message: "2FA has been disabled for your account".into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegeneratedOut {
    pub message: String,
    pub backup_codes: Vec<String>,
    pub count: usize,
    pub warning: String,
}

/// Replace the backup codes with ten new ones (the password confirms; 2FA
/// must be on). The old codes stop working.
#[utoipa::path(post, path = "/api/auth/2fa/backup-codes/", tag = "2fa", security(("jwt" = [])), request_body = PasswordIn,
    responses((status = 200, body = RegeneratedOut), (status = 400), (status = 401)))]
pub async fn regenerate_backup_codes(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<PasswordIn>,
) -> ApiResult<Json<RegeneratedOut>> {
    check_password(&state, &me.0, input.password).await?;
    let txn = kernel::db::begin_write(&db).await?;
    find(&txn, me.id())
        .await?
        .filter(|r| r.enabled)
        .ok_or_else(not_enabled)?;
    let codes = new_backup_codes(&txn, me.id()).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "User",
        me.id(),
        Some(json!({"backup_codes": "changed"})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(RegeneratedOut {
        message: "Backup codes regenerated successfully".into(),
        count: codes.len(),
        backup_codes: codes,
        warning: CODES_WARNING.into(),
    }))
}
