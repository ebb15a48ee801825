//! Who is asking: the authenticated user behind a request, role gates, and
//! whose data each role may reach.
//!
//! Candidates reach only their own data; administrators their own and every
//! candidate's; superusers everything. Role gates answer 403; an object
//! outside the caller's reach answers 404, as if it did not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::ApiError;
use kernel::jwt::AccessClaims;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait};

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

/// The active user a token's claims belong to, if the token is still current
/// (same token epoch).
pub async fn user_for_claims(
    state: &AppState,
    claims: &kernel::jwt::Claims,
) -> Result<user::Model, ApiError> {
    let id = claims.user_int().ok_or_else(|| {
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
        // Logged out, deactivated or role changed since this token was issued.
        return Err(kernel::jwt::access_token_error(
            kernel::jwt::TokenError::Invalid,
        ));
    }
    // The token's session must still be live (ended sessions end their
    // access tokens at once).
    if let Some(sid) = crate::sessions::sid(claims)
        && crate::sessions::live(&state.db, user.id, sid)
            .await?
            .is_none()
    {
        return Err(kernel::jwt::access_token_error(
            kernel::jwt::TokenError::Invalid,
        ));
    }
    Ok(user)
}

impl CurrentUser {
    pub fn id(&self) -> i64 {
        self.0.id
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    /// An administrator or a superuser.
    pub fn is_staff(&self) -> bool {
        self.0.role.is_staff()
    }

    pub fn is_superuser(&self) -> bool {
        self.0.role == Role::Superuser
    }

    /// Whether the caller may reach `target`'s data.
    pub fn can_reach(&self, target: &user::Model) -> bool {
        target.id == self.0.id
            || match self.0.role {
                Role::Superuser => true,
                Role::Admin => target.role == Role::Candidate,
                Role::Candidate => false,
            }
    }

    /// The condition on `pss_users` selecting the accounts whose data the
    /// caller may reach (join `pss_users` to use it on owned rows).
    pub fn reachable_users(&self) -> Condition {
        let me = user::Column::Id.eq(self.0.id);
        match self.0.role {
            Role::Superuser => Condition::all(),
            Role::Admin => Condition::any()
                .add(me)
                .add(Expr::col((user::Entity, user::Column::Role)).eq(Role::Candidate.as_str())),
            Role::Candidate => Condition::all().add(me),
        }
    }
}

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
