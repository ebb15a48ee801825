//! Who is asking: the authenticated user behind a request (the kernel's
//! [`kernel::Current`] over clearance's users), and role gates.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::ApiError;

use crate::entities::user;
use crate::state::AppState;

/// The user whose valid, current access token came with the request.
pub type CurrentUser = kernel::Current<user::Model>;

pub const ADMIN_ONLY: &str = "You must be an administrator to perform this action.";

/// An administrator; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub user::Model);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let kernel::Current(user) = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::forbidden(ADMIN_ONLY));
        }
        Ok(Admin(user))
    }
}
