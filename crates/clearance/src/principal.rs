//! Who is asking: the authenticated user behind a request, and role gates.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::ApiError;
use kernel::jwt::AccessClaims;
use sea_orm::EntityTrait;

use crate::entities::user::{self, Role};
use crate::state::AppState;

/// The user whose valid, current access token came with the request.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub user::Model);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let AccessClaims(claims) = AccessClaims::from_request_parts(parts, state).await?;
        let user = user_for_claims(state, &claims).await?;
        let current = CurrentUser(user);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// The active user an access token's claims belong to, if the token is still
/// current (same token epoch).
pub async fn user_for_claims(
    state: &AppState,
    claims: &kernel::jwt::Claims,
) -> Result<user::Model, ApiError> {
    let id = claims.user_uuid().ok_or_else(|| {
        ApiError::auth_failed(
            "Token contained no recognizable user identification",
            "token_not_valid",
        )
    })?;
    let user = user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::auth_failed("User not found", "user_not_found"))?;
    if !user.is_active {
        return Err(ApiError::auth_failed("User is inactive", "user_inactive"));
    }
    if claims.epoch != user.token_epoch {
        // Logged out or password changed since this token was issued.
        return Err(kernel::jwt::access_token_error(
            kernel::jwt::TokenError::Invalid,
        ));
    }
    Ok(user)
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    pub fn is_student(&self) -> bool {
        self.0.role == Role::Student
    }
}

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
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::forbidden(ADMIN_ONLY));
        }
        Ok(Admin(user.0))
    }
}
