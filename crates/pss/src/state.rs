//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use kernel::config::Settings;
use kernel::crypto::KeyRing;
use kernel::jwt::Jwt;
use kernel::lockout::LoginGuard;
use kernel::mail::Mailer;
use kernel::password::Hasher;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: Arc<Jwt>,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    /// Brute-force protection of sign-in (in Redis when configured).
    pub lockout: Arc<LoginGuard>,
    /// Seals and opens the encrypted columns.
    pub keys: Arc<KeyRing>,
    /// Email domains accounts may use; empty allows any.
    pub allowed_email_domains: Arc<Vec<String>>,
    /// Outgoing email, when `CAMPUS_EMAIL_URL` is set.
    pub mailer: Option<Mailer>,
    /// Wakes the job worker after a transaction queued a job.
    pub jobs_wake: Arc<Notify>,
    /// `CAMPUS_FRONTEND_URL`, without a trailing slash: reset links point there.
    pub frontend_url: Arc<String>,
    /// Per-address and per-account limits of password-reset requests.
    pub reset_limits: Arc<crate::password_reset::ResetLimits>,
    /// Administrators and superusers must use 2FA.
    pub require_admin_2fa: bool,
    /// Candidate accounts unused this long are warned, then erased.
    pub retention: Option<chrono::TimeDelta>,
}

impl FromRef<AppState> for Arc<Jwt> {
    fn from_ref(state: &AppState) -> Self {
        state.jwt.clone()
    }
}

impl FromRef<AppState> for Arc<Settings> {
    fn from_ref(state: &AppState) -> Self {
        state.settings.clone()
    }
}
