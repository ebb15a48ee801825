//! `/api/auth/password-reset/…`: a link with a single-use token, valid for
//! one hour, emailed to the account's address. The token is 32 random bytes
//! (URL-safe base64 in the link); only its SHA-256 digest is stored.

use kernel::Db;
use kernel::audit::Action;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use kernel::extract::ClientIp;
use kernel::lockout::{LockoutSettings, LoginGuard};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::entities::password_reset_token as token;
use crate::entities::user;
use crate::original::Said;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(validate_token))
        .routes(routes!(confirm_reset))
}

/// How long a reset link works.
pub const LIFETIME: Duration = Duration::from_secs(3600);
/// Requests per account (by email) per hour.
pub const PER_ACCOUNT: LockoutSettings = LockoutSettings {
    max_failures: 5,
    window: Duration::from_secs(3600),
};
/// Requests per client address per hour.
pub const PER_ADDRESS: LockoutSettings = LockoutSettings {
    max_failures: 20,
    window: Duration::from_secs(3600),
};

/// How many reset requests each address and each account made lately: in
/// this process, or in Redis (`CAMPUS_REDIS_URL`) so every node shares them.
pub struct ResetLimits {
    per_address: LoginGuard,
    per_account: LoginGuard,
}

impl ResetLimits {
    pub fn new(redis: Option<&kernel::shared::SharedRedis>) -> Self {
        Self {
            per_address: LoginGuard::new(PER_ADDRESS, redis, "reset-address"),
            per_account: LoginGuard::new(PER_ACCOUNT, redis, "reset-account"),
        }
    }

    /// Counts one request, or refuses it with 429 once the address or the
    /// account used up its hour.
    async fn admit(&self, address: &str, email: &str) -> ApiResult<()> {
        // Without its counts (Redis down) the limit is not dropped: refuse.
        let unavailable = |error: ApiError| match error {
            ApiError::Unavailable(_) => ApiError::Unavailable(
                "Password reset is temporarily unavailable. Please try again later.".into(),
            ),
            other => other,
        };
        for (guard, key) in [(&self.per_address, address), (&self.per_account, email)] {
            // Counted as it is admitted, atomically: parallel requests cannot
            // all slip under the limit.
            match guard.try_reserve(key).await.map_err(unavailable)? {
                Ok(request) => request.fail().await.map_err(unavailable)?,
                Err(wait) => return Err(throttled(wait)),
            }
        }
        Ok(())
    }
}

/// The least time a reset request takes, whether or not the account exists.
const ANSWER_FLOOR: Duration = Duration::from_millis(100);

const INVALID: &str = "Invalid, expired, or already used token";

/// SHA-256 of `value`, in lowercase hex.
pub(crate) fn digest(value: &str) -> String {
    sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn throttled(wait: Duration) -> ApiError {
    ApiError::Throttled {
        wait_seconds: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResetRequestIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetailOut {
    pub message: String,
    pub detail: String,
}

/// Ask for a password-reset link. The answer is the same whether or not an
/// account has this email; when one does (and is active), a link valid for
/// one hour is emailed to it. At most 5 requests per email and 20 per client
/// address in an hour (429 beyond).
#[utoipa::path(post, path = "/api/auth/password-reset/request/", tag = "auth", request_body = ResetRequestIn,
    responses((status = 200, body = MessageDetailOut), (status = 400), (status = 429)))]
pub async fn request_reset(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(input): Json<ResetRequestIn>,
) -> ApiResult<Json<MessageDetailOut>> {
    let mut c = Checker::new();
    let email = crate::users::check_email(&mut c, &state, input.email);
    c.finish().map_err(|e| {
        crate::original::explain(e, false, |fields| {
            let detail = if crate::original::missing(fields, "email") {
                "Email is required"
            } else {
                "Invalid email"
            };
            Said::plain(detail, fields)
        })
    })?;
    let email = email.unwrap_or_default();
    // Known and unknown emails answer after the same minimum time.
    let answer_at = tokio::time::Instant::now() + ANSWER_FLOOR;
    let address = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    state.reset_limits.admit(&address, &email).await?;

    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .filter(user::Column::IsActive.eq(true))
        .one(&db)
        .await?;
    // The random token is drawn either way, so both answers cost the same.
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = digest(&secret);
    if let Some(found) = found {
        let user_agent: String = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        let created = kernel::time::now();
        let txn = kernel::db::begin_write(&db).await?;
        let row = token::ActiveModel {
            user_id: Set(found.id),
            token_hash: Set(hash),
            created_at: Set(created),
            expires_at: Set(created + LIFETIME),
            used_at: Set(None),
            ip_address: Set(ip.map(|ip| ip.to_string())),
            user_agent: Set(user_agent),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let link = format!("{}/reset-password?token={secret}", state.frontend_url);
        let name = if found.first_name.is_empty() {
            "there"
        } else {
            &found.first_name
        };
        let body = format!(
            "Hello {name},\n\nSomeone asked to reset the password of your PSS account. \
             To choose a new password, open this link within one hour:\n\n{link}\n\n\
             The link works once. If you did not ask for it, ignore this email: \
             your password stays as it is.\n\n-- PSS Backend"
        );
        let queued =
            crate::email::queue(&txn, &state, &found.email, "Reset your PSS password", &body)
                .await?;
        crate::audit::record(
            &txn,
            crate::audit::Actor::user(found.id, ip),
            Action::CREATE,
            "PasswordResetToken",
            row.id,
            Some(serde_json::json!({"requested": true})),
        )
        .await?;
        txn.commit().await?;
        crate::email::wake(&state, queued);
    }
    tokio::time::sleep_until(answer_at).await;
    Ok(Json(MessageDetailOut {
        message: "If an account with that email exists, a password reset link has been sent."
            .into(),
        detail: "Please check your email for instructions.".into(),
    }))
}

/// The token row and its user, when the token is unused, unexpired and
/// belongs to an active account.
async fn usable(
    db: &sea_orm::DatabaseConnection,
    secret: &str,
) -> ApiResult<Option<(token::Model, user::Model)>> {
    if secret.is_empty() || secret.len() > 128 {
        return Ok(None);
    }
    let found = token::Entity::find()
        .filter(token::Column::TokenHash.eq(digest(secret)))
        .filter(token::Column::UsedAt.is_null())
        .filter(token::Column::ExpiresAt.gt(kernel::time::now()))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(match found {
        Some((row, Some(user))) if user.is_active => Some((row, user)),
        _ => None,
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<4096>, required = true)]
    pub token: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenValidityOut {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub detail: String,
}

/// A 400 of `validate-token/`: the token's verdict, or the kernel's error
/// body when there was no token to judge.
pub struct TokenRefusedOut;

impl utoipa::PartialSchema for TokenRefusedOut {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("TokenValidityOut"))
            .item(utoipa::openapi::Ref::from_schema_name("ValidationError"))
            .into()
    }
}

impl utoipa::ToSchema for TokenRefusedOut {}

/// Whether a reset token still works: 200 `{valid: true, email}` or 400
/// `{valid: false}`.
#[utoipa::path(post, path = "/api/auth/password-reset/validate-token/", tag = "auth", request_body = TokenIn,
    responses((status = 200, body = TokenValidityOut),
        (status = 400, body = TokenRefusedOut, description = "`{valid: false}` for a token that does not work; a field map when no token was sent.")))]
pub async fn validate_token(
    Db(db): Db,
    Json(input): Json<TokenIn>,
) -> ApiResult<(StatusCode, Json<TokenValidityOut>)> {
    let mut c = Checker::new();
    let secret = c.text("token", input.token, 4096);
    c.finish().map_err(|e| {
        let e = crate::original::explain(e, false, |fields| {
            let detail = if crate::original::missing(fields, "token") {
                "Token is required"
            } else {
                "Token is invalid, expired, or already used"
            };
            Said::plain(detail, fields)
        });
        crate::original::with_member(e, "valid", false.into())
    })?;
    Ok(
        match usable(&db, secret.as_deref().unwrap_or_default()).await? {
            Some((_, user)) => (
                StatusCode::OK,
                Json(TokenValidityOut {
                    valid: true,
                    email: Some(user.email),
                    detail: "Token is valid".into(),
                }),
            ),
            None => (
                StatusCode::BAD_REQUEST,
                Json(TokenValidityOut {
                    valid: false,
                    email: None,
                    detail: "Token is invalid, expired, or already used".into(),
                }),
            ),
        },
    )
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResetConfirmIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<4096>, required = true)]
    pub token: Field<String>,
    /// The registration policy; none of the last 5 passwords.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<12>, required = true)]
    pub new_password: Field<String>,
}

/// Set a new password with a reset token. The token is used up, every
/// session and token of the account ends, and a confirmation is emailed.
#[utoipa::path(post, path = "/api/auth/password-reset/confirm/", tag = "auth", request_body = ResetConfirmIn,
    responses((status = 200, body = MessageDetailOut), (status = 400)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    Json(input): Json<ResetConfirmIn>,
) -> ApiResult<Json<MessageDetailOut>> {
    confirm(&state, &db, ip, input)
        .await
        .map_err(|e| crate::original::explain(e, false, confirm_said))
}

/// The original's `detail` and `errors` for a refused confirmation.
fn confirm_said(fields: &serde_json::Map<String, serde_json::Value>) -> Said {
    use crate::original::{messages, missing};
    if missing(fields, "token") || missing(fields, "new_password") {
        return Said::plain("Token and new password are required", fields);
    }
    if messages(fields, "new_password").contains(&crate::passwords::SAME_AS_OLD) {
        return Said::plain("New password cannot be old password", fields);
    }
    if fields.contains_key("new_password") {
        return Said::with(
            "Invalid password",
            serde_json::json!({"new_password": fields["new_password"]}),
        );
    }
    Said::plain(INVALID, fields)
}

async fn confirm(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    ip: Option<std::net::IpAddr>,
    input: ResetConfirmIn,
) -> ApiResult<Json<MessageDetailOut>> {
    let mut c = Checker::new();
    let secret = c.text("token", input.token, 4096);
    let new = c.value("new_password", input.new_password);
    c.finish()?;
    let (secret, new) = (secret.unwrap_or_default(), new.unwrap_or_default());
    let invalid = || ApiError::BadRequest {
        detail: INVALID.into(),
        code: "invalid_token",
    };
    let (row, user) = usable(db, &secret).await?.ok_or_else(invalid)?;
    let mut c = Checker::new();
    crate::passwords::check_new(state, db, &mut c, "new_password", &user, &new).await?;
    c.finish()?;
    let hash = state.hasher.make(&new).await?;

    let txn = kernel::db::begin_write(db).await?;
    let now = kernel::time::now();
    // Single use even under concurrent confirmations: only one update wins.
    let taken = token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(Some(now)))
        .filter(token::Column::Id.eq(row.id))
        .filter(token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        return Err(invalid());
    }
    // Any other outstanding link of the account stops working too.
    token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(Some(now)))
        .filter(token::Column::UserId.eq(user.id))
        .filter(token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let current = user::Entity::find_by_id(user.id)
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    let updated = crate::passwords::set(&txn, &current, hash).await?;
    // A reset ends every session, not only their tokens.
    crate::sessions::end_all(&txn, updated.id, None).await?;
    let (subject, body) = crate::passwords::confirmation(&updated, "reset");
    let queued = crate::email::queue(&txn, state, &updated.email, &subject, &body).await?;
    crate::audit::record(
        &txn,
        crate::audit::Actor::user(updated.id, ip),
        Action::UPDATE,
        "User",
        updated.id,
        Some(serde_json::json!({"password": "reset"})),
    )
    .await?;
    txn.commit().await?;
    crate::email::wake(state, queued);
    Ok(Json(MessageDetailOut {
        message: "Password has been reset successfully".into(),
        detail: "You can now log in with your new password".into(),
    }))
}
