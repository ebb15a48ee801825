//! The platform API (contract §1): tenants and their lifecycle, domains,
//! usage, platform users, platform audit and stats. Platform context only
//! (a platform host without `X-Tenant-ID`) and PlatformAdmin tokens only.

pub mod audit;
pub mod tenants;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::ApiError;
use utoipa_axum::router::OpenApiRouter;

use crate::entities::platform_user;
use crate::state::{AppState, Platform};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenants::router())
        .merge(users::router())
        .merge(audit::router())
}

/// A signed-in platform administrator.
#[derive(Debug, Clone)]
pub struct PlatformAdmin(pub platform_user::Model);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if AppState::tenant_id().is_some() {
            return Err(crate::envelope::other_tenant());
        }
        let claims = kernel::jwt::AccessClaims::from_request_parts(parts, state)
            .await?
            .0;
        let account =
            kernel::identity::account_for(&Platform(state.clone()), &state.db, &claims).await?;
        let roles: Vec<String> = serde_json::from_value(account.roles.clone()).unwrap_or_default();
        if !roles.iter().any(|r| r == "PlatformAdmin") {
            return Err(ApiError::no_permission());
        }
        Ok(PlatformAdmin(account))
    }
}
