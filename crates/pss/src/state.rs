//! What every handler can reach: the shared [`Kernel`] and PSS's own parts.

use std::sync::Arc;

use kernel::crypto::KeyRing;
use kernel::jwt::{Claims, TokenType};
use kernel::{ApiResult, Kernel};

use crate::entities::user;

#[derive(Clone)]
pub struct AppState {
    pub kernel: Kernel,
    /// Seals and opens the encrypted columns.
    pub keys: Arc<KeyRing>,
    /// Email domains accounts may use; empty allows any.
    pub allowed_email_domains: Arc<Vec<String>>,
    /// `CAMPUS_FRONTEND_URL`, without a trailing slash: reset links point there.
    pub frontend_url: Arc<String>,
    /// Per-address and per-account limits of password-reset requests.
    pub reset_limits: Arc<crate::password_reset::ResetLimits>,
    /// Administrators and superusers must use 2FA.
    pub require_admin_2fa: bool,
    /// Candidate accounts unused this long are warned, then erased.
    pub retention: Option<chrono::TimeDelta>,
}

kernel::has_kernel!(AppState.kernel);

/// Tokens carry only SimpleJWT's claims, the token epoch and the session id
/// (`sid`): no personal data.
impl kernel::identity::Identity for AppState {
    type Account = user::Model;

    /// A token's session must still be live: ending a session ends its
    /// tokens at once. Refresh tokens always name one.
    async fn check_token(&self, user: &user::Model, claims: &Claims) -> ApiResult<()> {
        let invalid = || kernel::jwt::access_token_error(kernel::jwt::TokenError::Invalid);
        let live = match crate::sessions::sid(claims) {
            Some(sid) => crate::sessions::live(&self.db, user.id, sid)
                .await?
                .is_some(),
            None => claims.token_type == TokenType::Access,
        };
        if !live {
            return Err(invalid());
        }
        Ok(())
    }
}
