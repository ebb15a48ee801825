//! `/api/audit-logs/`: the audit trail of PSS (superusers only). Rows are
//! written in the transaction of each change, and for every read of someone
//! else's profile, intake or journal entry.

use kernel::Db;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::audit_log::{ACTIONS, entity as audit_log};
use kernel::extract::IntId;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, FieldErrors, FilterKind, Json, Page, PageSize};
use sea_orm::{ColumnTrait, EntityTrait, IntoSimpleExpr, Order, QueryFilter, Select};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::entities::user;
use crate::principal::Superuser;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_logs))
        .routes(routes!(retrieve_audit_log))
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogOut {
    pub id: i64,
    /// Who did it (null for the system itself).
    pub actor: Option<i64>,
    pub actor_email: Option<String>,
    /// create, update, delete or read.
    pub action: String,
    /// `User`, `UserProfile`, `IntakeForm`, `JournalEntry` or `AdminNote`.
    pub object_type: String,
    pub object_id: String,
    /// Which fields changed (`"changed"`); values only for `role`,
    /// `is_active` and `has_completed_intake`. Never a personal or medical value.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

async fn render(
    db: &sea_orm::DatabaseConnection,
    rows: Vec<audit_log::Model>,
) -> ApiResult<Vec<AuditLogOut>> {
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.actor_id.as_deref()?.parse().ok())
        .collect();
    let emails: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let actor = r.actor_id.as_deref().and_then(|a| a.parse::<i64>().ok());
            AuditLogOut {
                id: r.id,
                actor,
                actor_email: actor.and_then(|a| emails.get(&a).cloned()),
                action: r.action,
                object_type: r.object_type,
                object_id: r.object_id,
                changes: r.changes,
                ip_address: r.ip_address,
                created_at: r.created_at,
            }
        })
        .collect())
}

fn ours() -> Select<audit_log::Entity> {
    audit_log::Entity::find().filter(audit_log::Column::System.eq(crate::NAME))
}

/// `YYYY-MM-DD` (from midnight UTC) or an RFC 3339 time, in years 1900 to
/// 9999 (which every database compares).
fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let raw = raw.trim();
    let time = DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })?;
    (1900..=9999).contains(&time.year()).then_some(time)
}

kernel::choices!(
    /// What an audited change did.
    pub AuditAction = ACTIONS
);

/// A user id: a positive whole number.
pub struct ActorId;

impl utoipa::PartialSchema for ActorId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1))
            .into()
    }
}

impl utoipa::ToSchema for ActorId {}

/// What [`parse_time`] reads.
pub struct TimeFrom1900;

impl utoipa::PartialSchema for TimeFrom1900 {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(kernel::form::schema::date_from_1900())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .pattern(Some("^(19[0-9]{2}|[2-9][0-9]{3})-")),
            )
            .into()
    }
}

impl utoipa::ToSchema for TimeFrom1900 {}

/// List audit rows, newest first. Filters: `action`, `object_type`,
/// `object_id`, `actor`, `created_after`, `created_before`; ordering:
/// `created_at`, `action`, `object_type`.
#[utoipa::path(get, path = "/api/audit-logs/", tag = "audit", security(("jwt" = [])),
    params(("action" = inline(Option<AuditAction>), Query), ("object_type" = Option<String>, Query), ("object_id" = Option<String>, Query),
           ("actor" = inline(Option<ActorId>), Query), ("created_after" = inline(Option<TimeFrom1900>), Query),
           ("created_before" = inline(Option<TimeFrom1900>), Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AuditLogOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_audit_logs(
    Db(db): Db,
    _superuser: Superuser,
    list: ListQuery,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    let mut query = ours();
    query = list.filter(
        query,
        "action",
        audit_log::Column::Action,
        FilterKind::Choice(ACTIONS),
    )?;
    query = list.filter(
        query,
        "object_type",
        audit_log::Column::ObjectType,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "object_id",
        audit_log::Column::ObjectId,
        FilterKind::Text,
    )?;
    if let Some(raw) = list.get("actor") {
        let id = kernel::extract::parse_int_id(raw.trim())
            .ok_or_else(|| ApiError::field("actor", "Enter a whole number."))?;
        query = query.filter(audit_log::Column::ActorId.eq(id.to_string()));
    }
    let mut errors = FieldErrors::new();
    for (name, after) in [("created_after", true), ("created_before", false)] {
        let Some(raw) = list.get(name) else { continue };
        match parse_time(raw) {
            Some(t) if after => query = query.filter(audit_log::Column::CreatedAt.gte(t)),
            Some(t) => query = query.filter(audit_log::Column::CreatedAt.lte(t)),
            None => errors.add(name, "Enter a valid date/time."),
        }
    }
    errors.into_result()?;
    let query = list.order(
        query,
        &[
            (
                "created_at",
                audit_log::Column::CreatedAt.into_simple_expr(),
            ),
            ("action", audit_log::Column::Action.into_simple_expr()),
            (
                "object_type",
                audit_log::Column::ObjectType.into_simple_expr(),
            ),
        ],
        &[("created_at", Order::Desc)],
        audit_log::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let results = render(&db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

/// One audit row.
#[utoipa::path(get, path = "/api/audit-logs/{id}/", tag = "audit", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = AuditLogOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_audit_log(
    Db(db): Db,
    _superuser: Superuser,
    IntId(id): IntId,
) -> ApiResult<Json<AuditLogOut>> {
    let row = ours()
        .filter(audit_log::Column::Id.eq(id))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No AuditLog matches the given query."))?;
    let mut out = render(&db, vec![row]).await?;
    out.pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found_msg("No AuditLog matches the given query."))
}
