//! The audit trail (contract §14): one `audit_logs` row per write in a
//! tenant, and one `platform_audit_logs` row per platform action, each in
//! the transaction of the change; `changes` is `{field: [old, new]}` with
//! secrets left out. Plus `audit-logs/` and `platform/audit-logs/`.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiResult, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::entities::{audit_log, platform_audit_log};
use crate::envelope::{Data, ok};
use crate::rbac::Me;
use crate::state::AppState;

pub const CREATE: &str = "CREATE";
pub const UPDATE: &str = "UPDATE";
pub const DELETE: &str = "DELETE";
pub const LOGIN: &str = "LOGIN";
pub const LOGOUT: &str = "LOGOUT";

/// Where a request came from, for audit rows.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
}

impl FromRequestParts<AppState> for Trail {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user_agent: String = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(255)
            .collect();
        Ok(Trail {
            ip: kernel::extract::client_ip(parts, state.settings.trusted_proxies),
            user_agent,
        })
    }
}

/// One audit row: `user_id` did `action` to `resource_type` `resource_id`.
pub struct Event<'a> {
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: String,
    pub changes: Value,
}

impl<'a> Event<'a> {
    pub fn new(
        user_id: Option<i64>,
        action: &'a str,
        resource_type: &'a str,
        id: impl std::fmt::Display,
    ) -> Self {
        Self {
            user_id,
            action,
            resource_type,
            resource_id: id.to_string(),
            changes: Value::Object(Default::default()),
        }
    }

    /// A row created with these fields.
    pub fn created(mut self, after: &Value) -> Self {
        self.changes = kernel::audit::created(after);
        self
    }

    /// A row changed from `before` to `after`.
    pub fn diff(mut self, before: &Value, after: &Value) -> Self {
        self.changes = kernel::audit::diff(before, after);
        self
    }

    /// A row deleted with these fields.
    pub fn deleted(mut self, before: &Value) -> Self {
        self.changes = kernel::audit::deleted(before);
        self
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = changes;
        self
    }

    /// Writes it in the tenant's `audit_logs`, on `db` (the change's transaction).
    pub async fn write(self, db: &impl ConnectionTrait, trail: &Trail) -> ApiResult<()> {
        audit_log::ActiveModel {
            user_id: Set(self.user_id),
            action: Set(self.action.to_owned()),
            resource_type: Set(self.resource_type.to_owned()),
            resource_id: Set(self.resource_id),
            changes: Set(self.changes),
            ip_address: Set(trail.ip.map(|ip| ip.to_string())),
            user_agent: Set(trail.user_agent.clone()),
            timestamp: Set(kernel::time::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok(())
    }

    /// Writes it in the platform's `platform_audit_logs`.
    pub async fn write_platform(self, db: &impl ConnectionTrait, trail: &Trail) -> ApiResult<()> {
        platform_audit_log::ActiveModel {
            user_id: Set(self.user_id),
            action: Set(self.action.to_owned()),
            resource_type: Set(self.resource_type.to_owned()),
            resource_id: Set(self.resource_id),
            changes: Set(self.changes),
            ip_address: Set(trail.ip.map(|ip| ip.to_string())),
            user_agent: Set(trail.user_agent.clone()),
            timestamp: Set(kernel::time::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok(())
    }
}

/// An audit row as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogOut {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub changes: Value,
    pub ip_address: Option<String>,
    pub user_agent: String,
    pub timestamp: DateTime<Utc>,
}

macro_rules! out_of {
    ($row:expr) => {{
        let r = $row;
        AuditLogOut {
            id: r.id,
            user_id: r.user_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            changes: r.changes,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            timestamp: r.timestamp,
        }
    }};
}

pub(crate) use out_of;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_logs))
        .routes(routes!(retrieve_audit_log))
}

/// The datetime or date `raw` names (a date is its midnight, UTC).
pub(crate) fn instant(raw: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Some(at.with_timezone(&Utc));
    }
    let date = kernel::form::parse_date(raw)?;
    let time = if end_of_day {
        date.and_hms_micro_opt(23, 59, 59, 999_999)?
    } else {
        date.and_hms_opt(0, 0, 0)?
    };
    Some(time.and_utc())
}

/// The tenant's audit trail, newest first (`audit:read`; filters `action`,
/// `resource_type`, `user_id`, `from`, `to`).
#[utoipa::path(get, path = "/api/v1/audit-logs/", tag = "audit",
    description = "Permission: `audit:read`.",
    params(("action" = Option<String>, Query), ("resource_type" = Option<String>, Query),
        ("user_id" = Option<i64>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AuditLogOut>))),
    security(("jwt" = [])))]
pub async fn list_audit_logs(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AuditLogOut>>> {
    me.require("audit:read")?;
    let mut query = audit_log::Entity::find();
    if let Some(action) = list.get("action") {
        query = query.filter(audit_log::Column::Action.eq(action.to_ascii_uppercase()));
    }
    if let Some(kind) = list.get("resource_type") {
        query = query.filter(audit_log::Column::ResourceType.eq(kind));
    }
    if let Some(user) = list.get("user_id") {
        let id = user
            .parse::<i64>()
            .map_err(|_| kernel::ApiError::field("user_id", "A valid integer is required."))?;
        query = query.filter(audit_log::Column::UserId.eq(id));
    }
    if let Some(from) = list.get("from") {
        let at = instant(from, false)
            .ok_or_else(|| kernel::ApiError::field("from", "Enter a valid date or datetime."))?;
        query = query.filter(audit_log::Column::Timestamp.gte(at));
    }
    if let Some(to) = list.get("to") {
        let at = instant(to, true)
            .ok_or_else(|| kernel::ApiError::field("to", "Enter a valid date or datetime."))?;
        query = query.filter(audit_log::Column::Timestamp.lte(at));
    }
    let query = query.order_by_desc(audit_log::Column::Id);
    Ok(Json(
        list.page(
            &db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(|r| out_of!(r)),
    ))
}

/// One audit row (`audit:read`).
#[utoipa::path(get, path = "/api/v1/audit-logs/{id}/", tag = "audit",
    description = "Permission: `audit:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AuditLogOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_audit_log(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AuditLogOut>> {
    me.require("audit:read")?;
    let row = audit_log::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(kernel::ApiError::not_found)?;
    Ok(ok(out_of!(row)))
}
