//! `platform/audit-logs/` and `platform/stats/`.

use std::collections::BTreeMap;

use axum::extract::State;
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiResult, Json};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PlatformAdmin;
use crate::Oryne;
use crate::audit::{AuditLogOut, instant, out_of};
use crate::entities::{platform_audit_log, tenant};
use crate::envelope::{Data, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_platform_audit_logs))
        .routes(routes!(platform_stats))
}

/// Platform actions, newest first (filters `action`, `resource_type`, `user_id`, `from`, `to`).
#[utoipa::path(get, path = "/api/v1/platform/audit-logs/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("action" = Option<String>, Query), ("resource_type" = Option<String>, Query),
        ("user_id" = Option<i64>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AuditLogOut>))),
    security(("jwt" = [])))]
pub async fn list_platform_audit_logs(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AuditLogOut>>> {
    use platform_audit_log::Column as C;
    let mut query = platform_audit_log::Entity::find();
    if let Some(action) = list.get("action") {
        query = query.filter(C::Action.eq(action.to_ascii_uppercase()));
    }
    if let Some(kind) = list.get("resource_type") {
        query = query.filter(C::ResourceType.eq(kind));
    }
    if let Some(user) = list.get("user_id") {
        let id = user
            .parse::<i64>()
            .map_err(|_| kernel::ApiError::field("user_id", "A valid integer is required."))?;
        query = query.filter(C::UserId.eq(id));
    }
    if let Some(from) = list.get("from") {
        let at = instant(from, false)
            .ok_or_else(|| kernel::ApiError::field("from", "Enter a valid date or datetime."))?;
        query = query.filter(C::Timestamp.gte(at));
    }
    if let Some(to) = list.get("to") {
        let at = instant(to, true)
            .ok_or_else(|| kernel::ApiError::field("to", "Enter a valid date or datetime."))?;
        query = query.filter(C::Timestamp.lte(at));
    }
    let query = query.order_by_desc(C::Id);
    Ok(Json(
        list.page(
            &state.db,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub total: i64,
    pub by_status: BTreeMap<String, i64>,
    pub by_plan: BTreeMap<String, i64>,
    /// Tenants whose provisioning failed.
    pub provisioning_failures: i64,
}

/// Tenants by status and plan.
#[utoipa::path(get, path = "/api/v1/platform/stats/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    responses((status = 200, body = inline(Data<StatsOut>))),
    security(("jwt" = [])))]
pub async fn platform_stats(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
) -> ApiResult<Data<StatsOut>> {
    let rows: Vec<(String, String, i64)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Status)
        .column(tenant::Column::Plan)
        .column_as(
            kernel::db::as_bigint(
                state.db.get_database_backend(),
                sea_orm::sea_query::Expr::cust("COUNT(*)"),
            ),
            "n",
        )
        .group_by(tenant::Column::Status)
        .group_by(tenant::Column::Plan)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut out = StatsOut {
        total: 0,
        by_status: BTreeMap::new(),
        by_plan: BTreeMap::new(),
        provisioning_failures: 0,
    };
    for status in crate::platform::tenants::STATUSES {
        out.by_status.insert((*status).to_owned(), 0);
    }
    for plan in crate::platform::tenants::PLANS {
        out.by_plan.insert((*plan).to_owned(), 0);
    }
    for (status, plan, n) in rows {
        out.total += n;
        *out.by_status.entry(status.clone()).or_default() += n;
        *out.by_plan.entry(plan).or_default() += n;
        if status == "failed" {
            out.provisioning_failures += n;
        }
    }
    Ok(ok(out))
}
