//! Who is asking and what they may reach (axis contract §3).
//!
//! **admin** = superuser, `is_staff` or role `admin`; **manager** = role
//! `manager`; together the *platform* users. Anyone else is a *scoped* user
//! who sees only rows tied to the clients a live `user-clients` row grants.
//! [`Me`] carries the caller with their roles and grants, loaded once per
//! request; [`Platform`] and [`AdminOnly`] are the role gates (403 before the
//! body is read). Rows outside a caller's scope are absent (404).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::{ApiError, ApiResult, Current};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{client, role, user, user_client, user_role};
use crate::state::AppState;

/// What audit rows keep of a request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    /// The raw `X-Client-ID` header.
    pub client_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for RequestInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(500).collect::<String>())
        };
        Ok(Self {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            client_id: header("x-client-id"),
            ip: kernel::extract::client_ip(parts, state.settings.trusted_proxies),
            user_agent: header("user-agent"),
        })
    }
}

/// The caller: their user row, role names, granted client ids, and the
/// request as audit rows keep it.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: user::Model,
    pub roles: Vec<String>,
    /// Live grants to live clients.
    pub grants: Vec<String>,
    pub request: RequestInfo,
}

impl Me {
    pub fn id(&self) -> &str {
        &self.user.id
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r == name)
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_superuser || self.user.is_staff || self.has_role("admin")
    }

    pub fn is_platform(&self) -> bool {
        self.is_admin() || self.has_role("manager")
    }

    /// Whether the caller may see rows of client `id`.
    pub fn sees_client(&self, id: &str) -> bool {
        self.is_platform() || self.grants.iter().any(|g| g == id)
    }

    /// Rows whose `column` names a client the caller may see.
    pub fn client_condition(&self, column: impl ColumnTrait) -> Condition {
        if self.is_platform() {
            Condition::all()
        } else {
            Condition::all().add(column.is_in(self.grants.clone()))
        }
    }

    /// The caller's role names and granted (live) client ids.
    pub async fn load(
        db: &impl sea_orm::ConnectionTrait,
        user: user::Model,
        request: RequestInfo,
    ) -> ApiResult<Self> {
        let roles: Vec<String> = role::Entity::find()
            .select_only()
            .column(role::Column::Name)
            .filter(role::Column::DeletedAt.is_null())
            .filter(
                role::Column::Id.in_subquery(
                    Query::select()
                        .column(user_role::Column::RoleId)
                        .from(user_role::Entity)
                        .and_where(Expr::col(user_role::Column::UserId).eq(user.id.as_str()))
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(db)
            .await?;
        let grants: Vec<String> = user_client::Entity::find()
            .select_only()
            .column(user_client::Column::ClientId)
            .filter(user_client::Column::UserId.eq(user.id.as_str()))
            .filter(user_client::Column::DeletedAt.is_null())
            .filter(
                user_client::Column::ClientId.in_subquery(
                    Query::select()
                        .column(client::Column::Id)
                        .from(client::Entity)
                        .and_where(Expr::col(client::Column::DeletedAt).is_null())
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self {
            user,
            roles,
            grants,
            request,
        })
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(me) = parts.extensions.get::<Me>() {
            return Ok(me.clone());
        }
        let Current(user) = Current::<user::Model>::from_request_parts(parts, state)
            .await
            .map_err(ended_token)?;
        let request = RequestInfo::from_request_parts(parts, state).await?;
        let db = kernel::Db::of(parts, state);
        let me = Me::load(&*db, user, request).await?;
        parts.extensions.insert(me.clone());
        Ok(me)
    }
}

/// A token whose account was deactivated, suspended or deleted since it was
/// issued is an ended token: 401 `token_not_valid` like any other (§0), not
/// SimpleJWT's `user_inactive` / `user_not_found`.
fn ended_token(error: ApiError) -> ApiError {
    match error {
        ApiError::AuthenticationFailed {
            code: "user_inactive" | "user_not_found",
            ..
        } => kernel::jwt::access_token_error(kernel::jwt::TokenError::Invalid),
        other => other,
    }
}

pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";

/// An administrator or manager; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct Platform(pub Me);

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let me = Me::from_request_parts(parts, state).await?;
        if me.is_platform() {
            Ok(Self(me))
        } else {
            Err(ApiError::forbidden(NO_PERMISSION))
        }
    }
}

/// An administrator; anyone else authenticated gets 403.
#[derive(Debug, Clone)]
pub struct AdminOnly(pub Me);

impl FromRequestParts<AppState> for AdminOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let me = Me::from_request_parts(parts, state).await?;
        if me.is_admin() {
            Ok(Self(me))
        } else {
            Err(ApiError::forbidden(NO_PERMISSION))
        }
    }
}

/// The client an `X-Client-ID` header selects, checked (§3): the right
/// form (else 403 `Invalid client ID format`), a live client (else 403
/// `Client not found or has been deleted`) and, for a scoped caller, a
/// granted one (else 403 `You do not have access to this client`). `None`
/// without the header. Resources tied to clients narrow their lists to it;
/// a client's contacts and activities check it (a scoped user cannot send
/// another client's id), as the URL already names their client.
#[derive(Debug, Clone)]
pub struct SelectedClient(pub Option<String>);

impl FromRequestParts<AppState> for SelectedClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let me = Me::from_request_parts(parts, state).await?;
        let Some(raw) = me
            .request
            .client_id
            .clone()
            .filter(|v| !v.trim().is_empty())
        else {
            return Ok(Self(None));
        };
        let raw = raw.trim().to_owned();
        if !crate::rest::is_id(&raw) {
            return Err(ApiError::forbidden("Invalid client ID format"));
        }
        let db = kernel::Db::of(parts, state);
        let live = client::Entity::find_by_id(raw.clone())
            .filter(client::Column::DeletedAt.is_null())
            .one(&*db)
            .await?
            .is_some();
        if !live {
            return Err(ApiError::forbidden("Client not found or has been deleted"));
        }
        if !me.sees_client(&raw) {
            return Err(ApiError::forbidden("You do not have access to this client"));
        }
        Ok(Self(Some(raw)))
    }
}
