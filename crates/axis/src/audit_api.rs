//! The audit trail's read API (axis contract §11), for administrators and
//! managers: `audit-logs/`, `entity-changes/`, `field-changes/` with their
//! filters and history queries. Nothing here writes: other methods are 405.

use std::collections::HashMap;

use axum::extract::Path;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::{ApiError, ApiResult, Db, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::Platform;
use crate::entities::{audit_log, entity_change, field_change, user};
use crate::rest::{self, List, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_logs))
        .routes(routes!(recent_audit_logs))
        .routes(routes!(user_audit_logs))
        .routes(routes!(entity_audit_logs))
        .routes(routes!(get_audit_log))
        .routes(routes!(list_entity_changes))
        .routes(routes!(recent_entity_changes))
        .routes(routes!(user_entity_changes))
        .routes(routes!(entity_history))
        .routes(routes!(get_entity_change))
        .routes(routes!(list_field_changes))
        .routes(routes!(entity_change_fields))
        .routes(routes!(field_history))
        .routes(routes!(get_field_change))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditLogOut {
    pub id: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The same as `created_at`.
    pub timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub ip_address: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_agent: Option<Option<String>>,
}

async fn emails(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = String>,
) -> ApiResult<HashMap<String, String>> {
    let ids: Vec<String> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Email)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

async fn render_logs(
    db: &impl ConnectionTrait,
    rows: Vec<audit_log::Model>,
    detail: bool,
) -> ApiResult<Vec<AuditLogOut>> {
    let emails = emails(db, rows.iter().filter_map(|r| r.user_id.clone())).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditLogOut {
            user_email: r.user_id.as_ref().and_then(|u| emails.get(u).cloned()),
            id: r.id,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            user_id: r.user_id,
            created_at: r.created_at,
            timestamp: r.created_at,
            data: detail.then_some(r.data),
            ip_address: detail.then_some(r.ip_address),
            user_agent: detail.then_some(r.user_agent),
        })
        .collect())
}

/// What [`instant`] reads: a `YYYY-MM-DD` date or an RFC 3339 date-time.
pub struct DateOrTime;

impl utoipa::PartialSchema for DateOrTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        let formatted = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        AnyOfBuilder::new()
            .item(formatted(KnownFormat::Date))
            .item(formatted(KnownFormat::DateTime))
            .into()
    }
}

impl utoipa::ToSchema for DateOrTime {}

/// A date or time filter: `YYYY-MM-DD` (the day's start; for `date_to`
/// its end) or RFC 3339.
fn instant(list: &List, name: &str, end_of_day: bool) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(raw) = list.get(name) else {
        return Ok(None);
    };
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::field(name, "Enter a valid date (YYYY-MM-DD) or date and time."))?;
    let time = if end_of_day {
        day.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    Ok(time.map(|t| t.and_utc()))
}

fn recent_since(list: &List) -> ApiResult<DateTime<Utc>> {
    let days = rest::days(list.get("days"), 7)?;
    Ok(kernel::time::now() - chrono::TimeDelta::days(days))
}

/// The audit log, newest first; filters `action, entity_type, entity_id,
/// user_id` (alias `user`), `date_from, date_to`; search over entity type,
/// entity id and user email.
#[utoipa::path(get, path = "/api/audit-logs/", tag = "audit", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("action" = inline(Option<AuditAction>), Query),
        ("entity_type" = Option<String>, Query), ("entity_id" = Option<String>, Query), ("user_id" = Option<String>, Query),
        ("user" = Option<String>, Query), ("date_from" = inline(Option<DateOrTime>), Query), ("date_to" = inline(Option<DateOrTime>), Query)),
    responses((status = 200, body = Page<AuditLogOut>)))]
pub async fn list_audit_logs(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    let mut query = audit_log::Entity::find();
    if let Some(action) = list.get("action") {
        query = query.filter(audit_log::Column::Action.eq(ACTIONS.check("action", action)?));
    }
    if let Some(v) = list.get("entity_type") {
        query = query.filter(audit_log::Column::EntityType.eq(v.trim()));
    }
    if let Some(v) = list.get("entity_id") {
        query = query.filter(audit_log::Column::EntityId.eq(v.trim()));
    }
    if let Some(v) = list.get("user_id").or(list.get("user")) {
        query = query.filter(audit_log::Column::UserId.eq(v.trim()));
    }
    if let Some(from) = instant(&list, "date_from", false)? {
        query = query.filter(audit_log::Column::CreatedAt.gte(from));
    }
    if let Some(to) = instant(&list, "date_to", true)? {
        query = query.filter(audit_log::Column::CreatedAt.lte(to));
    }
    if let Some(condition) = list.search_condition(&[
        Expr::col(audit_log::Column::EntityType),
        Expr::col(audit_log::Column::EntityId),
    ]) {
        let by_email = list.search_condition(&[Expr::col(user::Column::Email)]);
        let users: Vec<String> = match by_email {
            Some(c) => {
                user::Entity::find()
                    .select_only()
                    .column(user::Column::Id)
                    .filter(c)
                    .limit(1000)
                    .into_tuple()
                    .all(&db)
                    .await?
            }
            None => Vec::new(),
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(condition)
                .add(audit_log::Column::UserId.is_in(users)),
        );
    }
    let query = list.order(
        query,
        &[
            ("created_at", Expr::col(audit_log::Column::CreatedAt)),
            ("timestamp", Expr::col(audit_log::Column::CreatedAt)),
            ("action", Expr::col(audit_log::Column::Action)),
            ("entity_type", Expr::col(audit_log::Column::EntityType)),
        ],
        &[("created_at", Order::Desc)],
        audit_log::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render_logs(&db, page.data.clone(), false).await?;
    Ok(Json(page.with_data(rows)))
}

const ACTIONS: rest::Choices = rest::Choices(&[
    "Create", "Update", "Delete", "Login", "Logout", "Verify", "Approve", "Reject", "Other",
]);

kernel::choices!(
    /// What an audited request did (also accepted in any case).
    pub AuditAction = ACTIONS.0
);

async fn logs_where(
    db: &impl ConnectionTrait,
    condition: sea_orm::Condition,
) -> ApiResult<Json<Vec<AuditLogOut>>> {
    let rows = audit_log::Entity::find()
        .filter(condition)
        .order_by_desc(audit_log::Column::CreatedAt)
        .order_by_desc(audit_log::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(render_logs(db, rows, false).await?))
}

/// The audit rows of the last `days` (7), newest first.
#[utoipa::path(get, path = "/api/audit-logs/recent/", tag = "audit", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<AuditLogOut>)))]
pub async fn recent_audit_logs(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Vec<AuditLogOut>>> {
    let since = recent_since(&list)?;
    logs_where(
        &db,
        sea_orm::Condition::all().add(audit_log::Column::CreatedAt.gte(since)),
    )
    .await
}

/// The entity types the trail records (§11), matched case-insensitively.
const ENTITY_TYPES: rest::Choices = rest::Choices(&[
    "Client",
    "Contract",
    "Industry",
    "ClientTag",
    "ClientContact",
    "ClientActivity",
    "Person",
    "ServiceCategory",
    "Service",
    "ServiceProvider",
    "ServiceAssignment",
    "ServiceSession",
    "SessionFeedback",
    "Document",
    "KPIType",
    "KPI",
    "KPIAssignment",
    "User",
    "UserClient",
]);

/// The canonical type and the id of an entity named in a path; an unknown
/// type or a malformed id is a 404. A deleted entity's history stays
/// readable, so the row itself need not exist.
fn entity(entity_type: &str, entity_id: &str) -> ApiResult<(&'static str, String)> {
    let kind = ENTITY_TYPES
        .parse(entity_type)
        .ok_or_else(|| rest::not_found("Entity"))?;
    Ok((kind, rest::path_id(entity_id, "Entity")?))
}

/// What one user did, newest first.
#[utoipa::path(get, path = "/api/audit-logs/user/{user_id}/", tag = "audit", security(("jwt" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Vec<AuditLogOut>)))]
pub async fn user_audit_logs(
    Db(db): Db,
    _: Platform,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Vec<AuditLogOut>>> {
    let user_id = rest::path_id(&user_id, "User")?;
    logs_where(
        &db,
        sea_orm::Condition::all().add(audit_log::Column::UserId.eq(user_id)),
    )
    .await
}

/// One entity's audit rows, newest first.
#[utoipa::path(get, path = "/api/audit-logs/entity/{entity_type}/{entity_id}/", tag = "audit", security(("jwt" = [])),
    params(("entity_type" = String, Path), ("entity_id" = String, Path)), responses((status = 200, body = Vec<AuditLogOut>)))]
pub async fn entity_audit_logs(
    Db(db): Db,
    _: Platform,
    Path((entity_type, entity_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<AuditLogOut>>> {
    let (entity_type, entity_id) = entity(&entity_type, &entity_id)?;
    logs_where(
        &db,
        sea_orm::Condition::all()
            .add(audit_log::Column::EntityType.eq(entity_type))
            .add(audit_log::Column::EntityId.eq(entity_id)),
    )
    .await
}

/// One audit row, with its data, address and user agent.
#[utoipa::path(get, path = "/api/audit-logs/{id}/", tag = "audit", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AuditLogOut)))]
pub async fn get_audit_log(
    Db(db): Db,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditLogOut>> {
    let id = rest::path_id(&id, "Audit log")?;
    let row = audit_log::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Audit log"))?;
    render_logs(&db, vec![row], true)
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| rest::not_found("Audit log"))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChangeOut {
    pub id: String,
    pub entity_change_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub field_name: String,
    pub change_type: String,
    pub created_at: DateTime<Utc>,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_changed: Option<bool>,
}

fn field_out(r: field_change::Model, detail: bool) -> FieldChangeOut {
    FieldChangeOut {
        has_changed: detail.then(|| r.old_value != r.new_value),
        id: r.id,
        entity_change_id: r.entity_change_id,
        entity_type: r.entity_type,
        entity_id: r.entity_id,
        field_name: r.field_name,
        change_type: r.change_type,
        created_at: r.created_at,
        old_value: r.old_value,
        new_value: r.new_value,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityChangeOut {
    pub id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub change_type: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<String>,
    pub changed_by_email: Option<String>,
    pub is_active: bool,
}

/// One entity change with its snapshots and field changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityChangeDetail {
    #[serde(flatten)]
    pub change: EntityChangeOut,
    pub change_reason: Option<String>,
    pub old_data: Option<Value>,
    pub new_data: Option<Value>,
    pub metadata: Value,
    pub field_changes_count: usize,
    pub field_changes: Vec<FieldChangeOut>,
}

fn change_detail(r: entity_change::Model, fields: Vec<FieldChangeOut>) -> EntityChangeDetail {
    EntityChangeDetail {
        change_reason: r.change_reason.clone(),
        old_data: r.old_data.clone(),
        new_data: r.new_data.clone(),
        metadata: r.metadata.clone(),
        field_changes_count: fields.len(),
        field_changes: fields,
        change: change_out(r),
    }
}

fn change_out(r: entity_change::Model) -> EntityChangeOut {
    EntityChangeOut {
        id: r.id,
        entity_type: r.entity_type,
        entity_id: r.entity_id,
        change_type: r.change_type,
        changed_at: r.changed_at,
        changed_by: r.changed_by,
        changed_by_email: r.changed_by_email,
        is_active: r.is_active,
    }
}

const CHANGE_TYPES: rest::Choices = rest::Choices(&[
    "Create",
    "Update",
    "Delete",
    "Restore",
    "Archive",
    "Unarchive",
    "Deactivate",
    "Activate",
]);

kernel::choices!(
    /// What an entity change did (also accepted in any case).
    pub ChangeType = CHANGE_TYPES.0
);

/// Entity changes, newest first; filters `entity_type, entity_id,
/// change_type, changed_by`.
#[utoipa::path(get, path = "/api/entity-changes/", tag = "audit", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("entity_type" = Option<String>, Query), ("entity_id" = Option<String>, Query),
        ("change_type" = inline(Option<ChangeType>), Query), ("changed_by" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = Page<EntityChangeOut>)))]
pub async fn list_entity_changes(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Page<EntityChangeOut>>> {
    let mut query = entity_change::Entity::find();
    if let Some(v) = list.get("entity_type") {
        query = query.filter(entity_change::Column::EntityType.eq(v.trim()));
    }
    if let Some(v) = list.get("entity_id") {
        query = query.filter(entity_change::Column::EntityId.eq(v.trim()));
    }
    if let Some(v) = list.get("change_type") {
        query = query
            .filter(entity_change::Column::ChangeType.eq(CHANGE_TYPES.check("change_type", v)?));
    }
    if let Some(v) = list.get("changed_by") {
        query = query.filter(entity_change::Column::ChangedBy.eq(v.trim()));
    }
    let query = list.order(
        query,
        &[("changed_at", Expr::col(entity_change::Column::ChangedAt))],
        &[("changed_at", Order::Desc)],
        entity_change::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    Ok(Json(page.map(change_out)))
}

async fn changes_where(
    db: &impl ConnectionTrait,
    condition: sea_orm::Condition,
    order: Order,
) -> ApiResult<Json<Vec<EntityChangeOut>>> {
    let rows = entity_change::Entity::find()
        .filter(condition)
        .order_by(entity_change::Column::ChangedAt, order.clone())
        .order_by(entity_change::Column::Id, order)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(rows.into_iter().map(change_out).collect()))
}

/// Entity changes of the last `days` (7), newest first.
#[utoipa::path(get, path = "/api/entity-changes/recent/", tag = "audit", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<EntityChangeOut>)))]
pub async fn recent_entity_changes(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Vec<EntityChangeOut>>> {
    let since = recent_since(&list)?;
    changes_where(
        &db,
        sea_orm::Condition::all().add(entity_change::Column::ChangedAt.gte(since)),
        Order::Desc,
    )
    .await
}

/// What one user changed, newest first.
#[utoipa::path(get, path = "/api/entity-changes/user/{user_id}/", tag = "audit", security(("jwt" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Vec<EntityChangeOut>)))]
pub async fn user_entity_changes(
    Db(db): Db,
    _: Platform,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Vec<EntityChangeOut>>> {
    let user_id = rest::path_id(&user_id, "User")?;
    changes_where(
        &db,
        sea_orm::Condition::all().add(entity_change::Column::ChangedBy.eq(user_id)),
        Order::Desc,
    )
    .await
}

/// One entity's history, oldest first.
#[utoipa::path(get, path = "/api/entity-changes/entity/{entity_type}/{entity_id}/", tag = "audit", security(("jwt" = [])),
    params(("entity_type" = String, Path), ("entity_id" = String, Path)), responses((status = 200, body = Vec<EntityChangeOut>)))]
pub async fn entity_history(
    Db(db): Db,
    _: Platform,
    Path((entity_type, entity_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<EntityChangeOut>>> {
    let (entity_type, entity_id) = entity(&entity_type, &entity_id)?;
    changes_where(
        &db,
        sea_orm::Condition::all()
            .add(entity_change::Column::EntityType.eq(entity_type))
            .add(entity_change::Column::EntityId.eq(entity_id)),
        Order::Asc,
    )
    .await
}

/// One entity change with its snapshots and field changes.
#[utoipa::path(get, path = "/api/entity-changes/{id}/", tag = "audit", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = EntityChangeDetail)))]
pub async fn get_entity_change(
    Db(db): Db,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<EntityChangeDetail>> {
    let id = rest::path_id(&id, "Entity change")?;
    let row = entity_change::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Entity change"))?;
    let fields = field_change::Entity::find()
        .filter(field_change::Column::EntityChangeId.eq(row.id.as_str()))
        .order_by_asc(field_change::Column::FieldName)
        .all(&db)
        .await?
        .into_iter()
        .map(|f| field_out(f, false))
        .collect();
    Ok(Json(change_detail(row, fields)))
}

/// Field changes, newest first; filters `entity_change_id, field_name,
/// change_type`.
#[utoipa::path(get, path = "/api/field-changes/", tag = "audit", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("entity_change_id" = Option<String>, Query), ("field_name" = Option<String>, Query), ("change_type" = inline(Option<ChangeType>), Query)),
    responses((status = 200, body = Page<FieldChangeOut>)))]
pub async fn list_field_changes(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Page<FieldChangeOut>>> {
    let mut query = field_change::Entity::find();
    if let Some(v) = list.get("entity_change_id") {
        query = query.filter(field_change::Column::EntityChangeId.eq(v.trim()));
    }
    if let Some(v) = list.get("field_name") {
        query = query.filter(field_change::Column::FieldName.eq(v.trim()));
    }
    if let Some(v) = list.get("change_type") {
        query = query
            .filter(field_change::Column::ChangeType.eq(CHANGE_TYPES.check("change_type", v)?));
    }
    let query = list.order(
        query,
        &[("created_at", Expr::col(field_change::Column::CreatedAt))],
        &[("created_at", Order::Desc)],
        field_change::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    Ok(Json(page.map(|r| field_out(r, false))))
}

/// The fields one entity change changed.
#[utoipa::path(get, path = "/api/field-changes/entity-change/{entity_change_id}/", tag = "audit", security(("jwt" = [])),
    params(("entity_change_id" = String, Path)), responses((status = 200, body = Vec<FieldChangeOut>)))]
pub async fn entity_change_fields(
    Db(db): Db,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FieldChangeOut>>> {
    let id = rest::path_id(&id, "Entity change")?;
    let rows = field_change::Entity::find()
        .filter(field_change::Column::EntityChangeId.eq(id))
        .order_by_asc(field_change::Column::FieldName)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    Ok(Json(
        rows.into_iter().map(|r| field_out(r, false)).collect(),
    ))
}

/// One field's history on one entity, oldest first.
#[utoipa::path(get, path = "/api/field-changes/field-history/{entity_type}/{entity_id}/{field_name}/", tag = "audit", security(("jwt" = [])),
    params(("entity_type" = String, Path), ("entity_id" = String, Path), ("field_name" = String, Path)),
    responses((status = 200, body = Vec<FieldChangeOut>)))]
pub async fn field_history(
    Db(db): Db,
    _: Platform,
    Path((entity_type, entity_id, field_name)): Path<(String, String, String)>,
) -> ApiResult<Json<Vec<FieldChangeOut>>> {
    let (entity_type, entity_id) = entity(&entity_type, &entity_id)?;
    let rows = field_change::Entity::find()
        .filter(field_change::Column::EntityType.eq(entity_type))
        .filter(field_change::Column::EntityId.eq(entity_id))
        .filter(field_change::Column::FieldName.eq(field_name))
        .order_by_asc(field_change::Column::CreatedAt)
        .order_by_asc(field_change::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    Ok(Json(
        rows.into_iter().map(|r| field_out(r, false)).collect(),
    ))
}

/// One field change.
#[utoipa::path(get, path = "/api/field-changes/{id}/", tag = "audit", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = FieldChangeOut)))]
pub async fn get_field_change(
    Db(db): Db,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<FieldChangeOut>> {
    let id = rest::path_id(&id, "Field change")?;
    let row = field_change::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Field change"))?;
    Ok(Json(field_out(row, true)))
}
