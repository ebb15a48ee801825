//! Emailed single-use links (contract §1): email verification, invitation
//! (set a password, which also verifies the address) and password reset.
//!
//! The handler's transaction only queues a job holding the user id and the
//! purpose. The job mints the token, stores its SHA-256 in
//! `roster_email_tokens` and sends the link, so no secret ever sits in the
//! job queue or the database. Redeeming a token marks it used (once, even
//! under races) and checks its expiry.

use base64::Engine;
use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::{email_token, user};
use crate::state::AppState;

/// The job that mints a token and emails its link: `{"user_id", "purpose"}`.
pub const LINK_JOB: &str = "roster.email.link";

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms the address of a self-registered account (7 days).
    Verify,
    /// Sets the first password of an account an administrator created (7 days).
    Invite,
    /// Sets a new password (1 hour).
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Verify, Self::Invite, Self::Reset]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }

    fn lifetime(self) -> Duration {
        match self {
            Self::Verify | Self::Invite => Duration::days(7),
            Self::Reset => Duration::hours(1),
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Self::Verify => "Verify your Smart Roster email address",
            Self::Invite => "Your Smart Roster account",
            Self::Reset => "Reset your Smart Roster password",
        }
    }

    fn body(self, link: &str) -> String {
        match self {
            Self::Verify => format!(
                "Please confirm your email address by opening this link (valid for 7 days):\n\n{link}"
            ),
            Self::Invite => format!(
                "An account was created for you on Smart Roster. Choose your password with this link (valid for 7 days):\n\n{link}"
            ),
            Self::Reset => format!(
                "A password reset was requested for your account. Choose a new password with this link (valid for 1 hour):\n\n{link}\n\nIf you did not ask for this, ignore this email."
            ),
        }
    }

    fn link(self, frontend: &str, user: Uuid, token: &str) -> String {
        match self {
            Self::Verify => format!("{frontend}/verify-email?token={token}"),
            Self::Invite => format!("{frontend}/set-password?uid={user}&token={token}"),
            Self::Reset => format!("{frontend}/reset-password?uid={user}&token={token}"),
        }
    }
}

/// Queues the email of a `purpose` link to `user`, in `db`'s transaction.
pub async fn queue(
    db: &impl ConnectionTrait,
    user: Uuid,
    purpose: Purpose,
) -> Result<(), sea_orm::DbErr> {
    kernel::jobs::enqueue(
        db,
        LINK_JOB,
        json!({"user_id": user.to_string(), "purpose": purpose.as_str()}),
    )
    .await
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The job: mints the token, stores its hash and emails the link. Without a
/// mail transport nothing is minted (no link could reach anyone).
pub async fn send_link(state: AppState, payload: Value) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let id = payload["user_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or("bad payload")?;
    let purpose = payload["purpose"]
        .as_str()
        .and_then(Purpose::parse)
        .ok_or("bad payload")?;
    let Some(recipient) = user::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if !recipient.is_active {
        return Ok(());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = Utc::now();
    email_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(recipient.id),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(hash(&token)),
        expires_at: Set(now + purpose.lifetime()),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await
    .map_err(|e| e.to_string())?;
    let link = purpose.link(&state.frontend_url, recipient.id, &token);
    let body = format!(
        "Dear {},\n\n{}\n\n— Smart Roster",
        recipient.full_name(),
        purpose.body(&link)
    );
    mailer
        .send(&recipient.email, purpose.subject(), &body)
        .await
}

/// Redeems `token` for one of `purposes` (and, when given, for user `uid`):
/// the user it was minted for, once. An unknown, used, expired or
/// mismatched token is `None`.
pub async fn redeem(
    db: &impl ConnectionTrait,
    token: &str,
    purposes: &[Purpose],
    uid: Option<Uuid>,
) -> Result<Option<(Uuid, Purpose)>, sea_orm::DbErr> {
    let Some(row) = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(hash(token.trim())))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let Some(purpose) = Purpose::parse(&row.purpose).filter(|p| purposes.contains(p)) else {
        return Ok(None);
    };
    if row.used_at.is_some() || row.expires_at <= now || uid.is_some_and(|u| u != row.user_id) {
        return Ok(None);
    }
    let claimed = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::Id.eq(row.id))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok((claimed.rows_affected == 1).then_some((row.user_id, purpose)))
}

/// Ends every unused link of `user` for `purposes` (after a password was set).
pub async fn retire(
    db: &impl ConnectionTrait,
    user: Uuid,
    purposes: &[Purpose],
) -> Result<(), sea_orm::DbErr> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Utc::now()))
        .filter(email_token::Column::UserId.eq(user))
        .filter(email_token::Column::Purpose.is_in(purposes.iter().map(|p| p.as_str())))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
