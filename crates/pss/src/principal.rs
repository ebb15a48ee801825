//! Who is asking: the authenticated user behind a request, and role gates.
//!
//! Candidates reach only their own data; administrators their own and every
//! candidate's; superusers everything. Role gates answer 403; an object
//! outside the caller's reach answers 404, as if it did not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::ApiError;

use crate::entities::user::{self, Role};
use crate::state::AppState;

/// The user whose valid, current access token came with the request (the
/// kernel's [`kernel::Current`] over PSS's users; see `user::Model` for
/// whose data each role reaches).
pub type CurrentUser = kernel::Current<user::Model>;

pub const STAFF_ONLY: &str = "You do not have permission to perform this action.";

/// An administrator or superuser; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_staff() {
            return Err(ApiError::forbidden(STAFF_ONLY));
        }
        Ok(Staff(user))
    }
}

/// A superuser; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct Superuser;

impl FromRequestParts<AppState> for Superuser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_superuser() {
            return Err(ApiError::forbidden(STAFF_ONLY));
        }
        Ok(Superuser)
    }
}

/// A candidate; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct Candidate(pub CurrentUser);

impl FromRequestParts<AppState> for Candidate {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role() != Role::Candidate {
            return Err(ApiError::forbidden(
                "Only candidates have candidate statistics.",
            ));
        }
        Ok(Candidate(user))
    }
}
