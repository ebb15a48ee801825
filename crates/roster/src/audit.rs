//! The audit trail (contract §0): every mutation leaves one row in the
//! kernel's audit table, written in the same transaction; administrators
//! read it at `GET /api/audit-logs/`.

use chrono::{DateTime, Utc};
use kernel::audit_log::entity as row;
use kernel::listing::{FilterKind, ListOf, Page, PageOf};
use kernel::{ApiResult, Db, Json};
use sea_orm::{ColumnTrait, EntityTrait, IntoSimpleExpr, Order, QueryFilter};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::Roster;
use crate::access::Admin;
use crate::state::AppState;

/// Where roster's audit rows go.
pub type Log = kernel::audit::KernelLog<Roster>;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_logs))
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogOut {
    pub id: i64,
    /// The acting user's id; null for the system itself.
    pub actor: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    #[schema(value_type = Object)]
    pub changes: Option<Value>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<row::Model> for AuditLogOut {
    fn from(r: row::Model) -> Self {
        Self {
            id: r.id,
            actor: r.actor_id,
            action: r.action,
            resource_type: r.object_type,
            resource_id: r.object_id,
            changes: r.changes,
            ip_address: r.ip_address,
            created_at: r.created_at,
        }
    }
}

/// The audit trail, newest first (admin). Filters: `actor`, `action`,
/// `resource_type`, `resource_id`.
#[utoipa::path(get, path = "/api/audit-logs/", tag = "audit", security(("jwt" = [])),
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query),
           ("resource_type" = Option<String>, Query), ("resource_id" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AuditLogOut>), (status = 401), (status = 403)))]
async fn list_audit_logs(
    Db(db): Db,
    _admin: Admin,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, AuditLogOut>>> {
    let mut query = row::Entity::find().filter(row::Column::System.eq(crate::NAME));
    query = list.filter(query, "actor", row::Column::ActorId, FilterKind::Text)?;
    query = list.filter(query, "action", row::Column::Action, FilterKind::Text)?;
    query = list.filter(
        query,
        "resource_type",
        row::Column::ObjectType,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "resource_id",
        row::Column::ObjectId,
        FilterKind::Text,
    )?;
    let query = list.order(
        query,
        &[("created_at", row::Column::CreatedAt.into_simple_expr())],
        &[("created_at", Order::Desc)],
        row::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    Ok(Json(page.map(AuditLogOut::from)))
}
