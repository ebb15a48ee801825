//! `/api/audit-logs/`: the audit trail, read by administrators (spec §3.9).
//! Rows are written by `audit::record` in the transaction of each change.

use kernel::Db;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, FilterKind, Id, Json, Page, PageSize};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, IntoSimpleExpr, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::entities::audit_log;
use crate::entities::user;
use crate::principal::Admin;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_logs))
        .routes(routes!(audit_statistics))
        .routes(routes!(recent_audit_logs))
        .routes(routes!(audit_logs_by_user))
        .routes(routes!(retrieve_audit_log))
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogOut {
    pub id: Uuid,
    /// Who did it (null once that account is deleted, or for the system).
    pub user: Option<Uuid>,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    /// create, update, delete, approve, reject or verify.
    pub action: String,
    /// The kind of object affected (`User`, `Student`, `ClearanceApproval`, ...).
    pub content_type: String,
    pub object_id: Uuid,
    pub object_str: String,
    /// `{field: [old, new]}`; secrets are never recorded.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl AuditLogOut {
    fn new(row: audit_log::Model, actor: Option<&user::Model>) -> Self {
        Self {
            id: row.id,
            user: row.user_id,
            user_email: actor.map(|u| u.email.clone()),
            user_name: actor.map(|u| u.full_name.clone()),
            action: row.action,
            content_type: row.content_type,
            object_id: row.object_id,
            object_str: row.object_str,
            changes: row.changes,
            ip_address: row.ip_address,
            created_at: row.created_at,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No AuditLog matches the given query.")
}

/// Reads a datetime filter: RFC 3339 (`2026-01-31T08:00:00Z`), or a naive
/// `YYYY-MM-DDTHH:MM[:SS]` / `YYYY-MM-DD` taken as UTC. A `+` that arrived
/// unencoded in the query string reads as a space and is put back.
fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    let candidates = [text.to_owned(), text.replace(' ', "+")];
    for candidate in &candidates {
        if let Ok(t) = DateTime::parse_from_rfc3339(candidate) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

kernel::choices!(
    /// What an audited change did.
    pub AuditAction = audit_log::ACTIONS
);

const INVALID_DATETIME: &str = "Enter a valid date/time.";
const INVALID_DATE: &str = "Enter a valid date.";

/// Applies one exact-match filter, collecting its error so that every bad
/// parameter is reported at once, as django-filter does.
fn exact(
    errors: &mut kernel::FieldErrors,
    list: &ListQuery,
    query: Select<audit_log::Entity>,
    name: &str,
    column: audit_log::Column,
    kind: FilterKind,
) -> Select<audit_log::Entity> {
    match list.filter(query.clone(), name, column, kind) {
        Ok(filtered) => filtered,
        Err(ApiError::Validation(e)) => {
            let messages = e.to_json();
            for message in messages[name].as_array().into_iter().flatten() {
                errors.add(name, message.as_str().unwrap_or_default());
            }
            query
        }
        Err(_) => query,
    }
}

/// The declared filters, search and ordering; `user` is left to the caller
/// when `with_user` is false (`by_user/` takes it from `user_id`).
fn filtered(
    list: &ListQuery,
    mut query: Select<audit_log::Entity>,
    with_user: bool,
) -> ApiResult<Select<audit_log::Entity>> {
    let mut errors = kernel::FieldErrors::new();
    query = exact(
        &mut errors,
        list,
        query,
        "action",
        audit_log::Column::Action,
        FilterKind::Choice(audit_log::ACTIONS),
    );
    if with_user {
        query = exact(
            &mut errors,
            list,
            query,
            "user",
            audit_log::Column::UserId,
            FilterKind::Uuid,
        );
    }
    query = exact(
        &mut errors,
        list,
        query,
        "content_type",
        audit_log::Column::ContentType,
        FilterKind::Text,
    );
    query = exact(
        &mut errors,
        list,
        query,
        "object_id",
        audit_log::Column::ObjectId,
        FilterKind::Uuid,
    );
    if let Some(raw) = list.get("start") {
        match parse_datetime(raw) {
            Some(t) => query = query.filter(audit_log::Column::CreatedAt.gte(t)),
            None => errors.add("start", INVALID_DATETIME),
        }
    }
    if let Some(raw) = list.get("end") {
        match parse_datetime(raw) {
            Some(t) => query = query.filter(audit_log::Column::CreatedAt.lte(t)),
            None => errors.add("end", INVALID_DATETIME),
        }
    }
    if let Some(raw) = list.get("date_start") {
        match parse_date(raw).and_then(|d| d.and_hms_opt(0, 0, 0)) {
            Some(t) => query = query.filter(audit_log::Column::CreatedAt.gte(t.and_utc())),
            None => errors.add("date_start", INVALID_DATE),
        }
    }
    if let Some(raw) = list.get("date_end") {
        // Inclusive: everything before the next day's midnight.
        match parse_date(raw)
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
        {
            Some(t) => query = query.filter(audit_log::Column::CreatedAt.lt(t.and_utc())),
            None => errors.add("date_end", INVALID_DATE),
        }
    }
    errors.into_result()?;
    query = list.search(
        query,
        &[
            audit_log::Column::ObjectStr.into_simple_expr(),
            audit_log::Column::ContentType.into_simple_expr(),
        ],
    );
    Ok(list.order(
        query,
        &[
            (
                "created_at",
                audit_log::Column::CreatedAt.into_simple_expr(),
            ),
            ("action", audit_log::Column::Action.into_simple_expr()),
            (
                "content_type",
                audit_log::Column::ContentType.into_simple_expr(),
            ),
            (
                "object_str",
                audit_log::Column::ObjectStr.into_simple_expr(),
            ),
        ],
        &[("created_at", Order::Desc)],
        audit_log::Column::Id,
    ))
}

async fn page_out(
    db: &sea_orm::DatabaseConnection,
    list: &ListQuery,
    query: Select<audit_log::Entity>,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    // Paged on the audit table alone, so the count reads one table (SQLite
    // counts a bare table from its b-tree; with the actors joined it visited
    // every row); the page's actors come in one more query.
    let page = list.page(db, query, PageSize::DEFAULT).await?;
    let ids = page.results.iter().filter_map(|row| row.user_id).collect();
    let actors = crate::users::by_id(db, ids).await?;
    Ok(Json(page.map(|row| {
        let actor = row.user_id.and_then(|id| actors.get(&id));
        AuditLogOut::new(row, actor)
    })))
}

/// The `limit` newest rows, with their actors.
async fn newest(db: &sea_orm::DatabaseConnection, limit: u64) -> ApiResult<Vec<AuditLogOut>> {
    let rows = audit_log::Entity::find()
        .order_by(audit_log::Column::CreatedAt, Order::Desc)
        .order_by(audit_log::Column::Id, Order::Asc)
        .limit(limit)
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, actor)| AuditLogOut::new(row, actor.as_ref()))
        .collect())
}

/// List audit rows, newest first (admin). Filters: `action`, `user`,
/// `content_type`, `object_id`, `start`/`end` (date-times),
/// `date_start`/`date_end` (dates, inclusive); search: object, content type.
#[utoipa::path(get, path = "/api/audit-logs/", tag = "audit", security(("jwt" = [])),
    params(("action" = inline(Option<AuditAction>), Query), ("user" = Option<Uuid>, Query), ("content_type" = Option<String>, Query),
           ("object_id" = Option<Uuid>, Query), ("start" = Option<DateTime<Utc>>, Query), ("end" = Option<DateTime<Utc>>, Query),
           ("date_start" = Option<NaiveDate>, Query), ("date_end" = Option<NaiveDate>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AuditLogOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_audit_logs(
    Db(db): Db,
    _admin: Admin,
    list: ListQuery,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    let query = filtered(&list, audit_log::Entity::find(), true)?;
    page_out(&db, &list, query).await
}

/// One audit row (admin).
#[utoipa::path(get, path = "/api/audit-logs/{id}/", tag = "audit", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AuditLogOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_audit_log(
    Db(db): Db,
    _admin: Admin,
    Id(id): Id,
) -> ApiResult<Json<AuditLogOut>> {
    let (row, actor) = audit_log::Entity::find_by_id(id)
        .find_also_related(user::Entity)
        .one(&db)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(AuditLogOut::new(row, actor.as_ref())))
}

/// The 20 newest audit rows (admin).
#[utoipa::path(get, path = "/api/audit-logs/recent/", tag = "audit", security(("jwt" = [])),
    responses((status = 200, body = Vec<AuditLogOut>), (status = 401), (status = 403)))]
pub async fn recent_audit_logs(Db(db): Db, _admin: Admin) -> ApiResult<Json<Vec<AuditLogOut>>> {
    Ok(Json(newest(&db, 20).await?))
}

/// Audit rows of one actor, `?user_id=<uuid>` (the original's `?user=` is
/// accepted too), newest first (admin). The list's other filters apply too.
#[utoipa::path(get, path = "/api/audit-logs/by_user/", tag = "audit", security(("jwt" = [])),
    params(("user_id" = Uuid, Query), ("action" = inline(Option<AuditAction>), Query), ("content_type" = Option<String>, Query),
           ("object_id" = Option<Uuid>, Query), ("start" = Option<DateTime<Utc>>, Query), ("end" = Option<DateTime<Utc>>, Query),
           ("date_start" = Option<NaiveDate>, Query), ("date_end" = Option<NaiveDate>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AuditLogOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn audit_logs_by_user(
    Db(db): Db,
    _admin: Admin,
    list: ListQuery,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    let (name, raw) = match (list.get("user_id"), list.get("user")) {
        (Some(raw), _) => ("user_id", raw),
        (None, Some(raw)) => ("user", raw),
        (None, None) => {
            return Err(ApiError::field(
                "user_id",
                "This query parameter is required.",
            ));
        }
    };
    let actor =
        Uuid::parse_str(raw.trim()).map_err(|_| ApiError::field(name, "Enter a valid UUID."))?;
    let query = filtered(
        &list,
        audit_log::Entity::find().filter(audit_log::Column::UserId.eq(actor)),
        false,
    )?;
    page_out(&db, &list, query).await
}

/// Rows per action; every action is present.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ByAction {
    pub create: u64,
    pub update: u64,
    pub delete: u64,
    pub approve: u64,
    pub reject: u64,
    pub verify: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentTypeCount {
    pub content_type: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopUser {
    pub user: Uuid,
    pub email: String,
    pub full_name: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditStatistics {
    pub total_logs: u64,
    pub by_action: ByAction,
    /// The ten most frequent content types.
    pub by_content_type: Vec<ContentTypeCount>,
    /// The five most active users.
    pub top_users: Vec<TopUser>,
    /// The ten newest rows.
    pub recent_logs: Vec<AuditLogOut>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Counts by action and content type, the most active users and the newest
/// rows (admin).
#[utoipa::path(get, path = "/api/audit-logs/statistics/", tag = "audit", security(("jwt" = [])),
    responses((status = 200, body = AuditStatistics), (status = 401), (status = 403)))]
pub async fn audit_statistics(Db(db): Db, _admin: Admin) -> ApiResult<Json<AuditStatistics>> {
    let actions: Vec<(String, i64)> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Action)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(audit_log::Column::Action)
        .into_tuple()
        .all(&db)
        .await?;
    let actions: HashMap<String, u64> = actions.into_iter().map(|(a, n)| (a, count(n))).collect();
    let of = |action: &str| actions.get(action).copied().unwrap_or(0);
    let by_action = ByAction {
        create: of("create"),
        update: of("update"),
        delete: of("delete"),
        approve: of("approve"),
        reject: of("reject"),
        verify: of("verify"),
    };
    let total_logs = actions.values().sum();

    let content_types: Vec<(String, i64)> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::ContentType)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(audit_log::Column::ContentType)
        .order_by(Expr::cust("COUNT(*)"), Order::Desc)
        .order_by(audit_log::Column::ContentType, Order::Asc)
        .limit(10)
        .into_tuple()
        .all(&db)
        .await?;

    let users: Vec<(Uuid, String, String, i64)> = audit_log::Entity::find()
        .select_only()
        .inner_join(user::Entity)
        .column(user::Column::Id)
        .column(user::Column::Email)
        .column(user::Column::FullName)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(user::Column::Id)
        .group_by(user::Column::Email)
        .group_by(user::Column::FullName)
        .order_by(Expr::cust("COUNT(*)"), Order::Desc)
        .order_by(user::Column::Email, Order::Asc)
        .limit(5)
        .into_tuple()
        .all(&db)
        .await?;

    Ok(Json(AuditStatistics {
        total_logs,
        by_action,
        by_content_type: content_types
            .into_iter()
            .map(|(content_type, n)| ContentTypeCount {
                content_type,
                count: count(n),
            })
            .collect(),
        top_users: users
            .into_iter()
            .map(|(user, email, full_name, n)| TopUser {
                user,
                email,
                full_name,
                count: count(n),
            })
            .collect(),
        recent_logs: newest(&db, 10).await?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_read_as_django_reads_them() {
        let t = |s: &str| parse_datetime(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2026-01-31T08:00:00Z").as_deref(),
            Some("2026-01-31T08:00:00+00:00")
        );
        assert_eq!(
            t("2026-01-31T11:00:00 03:00").as_deref(),
            Some("2026-01-31T08:00:00+00:00"),
            "an unencoded + arrives as a space"
        );
        assert_eq!(
            t("2026-01-31T08:00").as_deref(),
            Some("2026-01-31T08:00:00+00:00")
        );
        assert_eq!(
            t("2026-01-31").as_deref(),
            Some("2026-01-31T00:00:00+00:00")
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2026-02-30"), None);
        assert_eq!(parse_date("2026-13-01"), None);
    }
}
