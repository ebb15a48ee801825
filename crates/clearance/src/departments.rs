//! `/api/departments/`: the clearance offices and their approval order (spec §3.5).

use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::entities::{approval, department};
use crate::principal::CurrentUser;
use crate::state::AppState;

const ADMIN_ONLY: &str = "Only administrators can modify this resource.";

kernel::gate! {
    /// An administrator; anyone else gets the original's 403 for offices.
    pub OfficeAdmin(user::Model) for AppState = |me| {
        if me.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(ADMIN_ONLY))
        }
    }
}
const CODE_TAKEN: &str = "Department with this code already exists.";
const IN_USE: &str =
    "This department has clearance approvals and cannot be deleted; deactivate it instead.";

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    /// finance, faculty, library, mess, hostel, workshop, sports or other.
    pub department_type: String,
    pub head_email: String,
    pub description: String,
    pub is_active: bool,
    /// Offices with the same order decide in parallel; higher orders wait for lower ones.
    pub approval_order: i32,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl From<department::Model> for DepartmentOut {
    fn from(d: department::Model) -> Self {
        Self {
            id: d.id,
            name: d.name,
            code: d.code,
            department_type: d.department_type,
            head_email: d.head_email,
            description: d.description,
            is_active: d.is_active,
            approval_order: d.approval_order,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

kernel::choices!(
    /// The kind of office.
    pub DepartmentType = department::TYPES
);

fn approval_order() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(0, 1000)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DepartmentIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub name: Field<String>,
    /// Stored upper-cased; unique.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    #[serde(default)]
    #[schema(value_type = DepartmentType, required = true)]
    pub department_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub head_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = approval_order, required = false)]
    pub approval_order: Field<i64>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_departments, create_department))
        .routes(routes!(approval_workflow))
        .routes(routes!(academic_departments))
        .routes(routes!(administrative_departments))
        .routes(routes!(department_staff))
        .routes(routes!(department_statistics))
        .routes(routes!(
            retrieve_department,
            update_department,
            partial_update_department,
            destroy_department
        ))
}

/// What an audit row shows of an office.
fn audit_snapshot(d: &department::Model) -> serde_json::Value {
    kernel::audit::snapshot(&serde_json::json!({
        "name": d.name,
        "code": d.code,
        "department_type": d.department_type,
        "head_email": d.head_email,
        "description": d.description,
        "is_active": d.is_active,
        "approval_order": d.approval_order,
    }))
}

/// How an office is named in audit rows.
fn audit_name(d: &department::Model) -> String {
    format!("{} ({})", d.name, d.code)
}

fn actor(me: &user::Model, ip: Option<std::net::IpAddr>) -> Actor {
    Actor::user(me.id, ip)
}

/// List offices (any signed-in user). Filters: `department_type`, `is_active`;
/// search: name, code. Default order: approval order, then name.
#[utoipa::path(get, path = "/api/departments/", tag = "departments", security(("jwt" = [])),
    params(("department_type" = inline(Option<DepartmentType>), Query), ("is_active" = Option<bool>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<DepartmentOut>), (status = 401)))]
pub async fn list_departments(
    Db(db): Db,
    _me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<DepartmentOut>>> {
    let mut query = department::Entity::find();
    query = list.filter(
        query,
        "department_type",
        department::Column::DepartmentType,
        FilterKind::Choice(department::TYPES),
    )?;
    query = list.filter(
        query,
        "is_active",
        department::Column::IsActive,
        FilterKind::Bool,
    )?;
    query = list.search(
        query,
        &[
            department::Column::Name.into_simple_expr(),
            department::Column::Code.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "approval_order",
                department::Column::ApprovalOrder.into_simple_expr(),
            ),
            ("name", department::Column::Name.into_simple_expr()),
            ("code", department::Column::Code.into_simple_expr()),
            (
                "created_at",
                department::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("approval_order", Order::Asc), ("name", Order::Asc)],
        department::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    Ok(Json(page.map(DepartmentOut::from)))
}

struct Valid {
    name: Option<String>,
    code: Option<String>,
    department_type: Option<String>,
    head_email: Option<String>,
    description: Option<String>,
    is_active: Option<bool>,
    approval_order: Option<i32>,
}

async fn validate<C: ConnectionTrait>(
    db: &C,
    input: DepartmentIn,
    partial: bool,
    except: Option<Uuid>,
) -> ApiResult<Valid> {
    let mut c = Checker::partial(partial);
    let name = c.text("name", input.name, 255);
    let code = c
        .text("code", input.code, 20)
        .map(|code| code.to_uppercase());
    let department_type = c.choice("department_type", input.department_type, department::TYPES);
    let head_email = c.email("head_email", input.head_email);
    let description = c.blank_text("description", input.description, 10_000);
    let is_active = c.boolean("is_active", input.is_active, true);
    let approval_order = match input.approval_order {
        Field::Absent if !partial => Some(0),
        other => c.patch_int("approval_order", other, 0, 1000),
    };
    if let Some(code) = &code {
        let mut query = department::Entity::find().filter(department::Column::Code.eq(code));
        if let Some(id) = except {
            query = query.filter(department::Column::Id.ne(id));
        }
        if query.one(db).await?.is_some() {
            c.error("code", CODE_TAKEN);
        }
    }
    c.finish()?;
    Ok(Valid {
        name,
        code,
        department_type,
        head_email,
        description,
        is_active,
        approval_order: approval_order.and_then(|o| i32::try_from(o).ok()),
    })
}

fn conflict(error: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&error, "code") {
        ApiError::field("code", CODE_TAKEN)
    } else {
        error.into()
    }
}

/// Create an office (admin).
#[utoipa::path(post, path = "/api/departments/", tag = "departments", security(("jwt" = [])), request_body = DepartmentIn,
    responses((status = 201, body = DepartmentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_department(
    Db(db): Db,
    OfficeAdmin(me): OfficeAdmin,
    ClientIp(ip): ClientIp,
    Json(input): Json<DepartmentIn>,
) -> ApiResult<(StatusCode, Json<DepartmentOut>)> {
    let v = validate(&db, input, false, None).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = department::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(v.name.unwrap_or_default()),
        code: Set(v.code.unwrap_or_default()),
        department_type: Set(v.department_type.unwrap_or_default()),
        head_email: Set(v.head_email.unwrap_or_default()),
        description: Set(v.description.unwrap_or_default()),
        is_active: Set(v.is_active.unwrap_or(true)),
        approval_order: Set(v.approval_order.unwrap_or(0)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(conflict)?;
    audit::record(
        &txn,
        actor(&me, ip),
        Action::CREATE,
        "Department",
        created.id,
        &audit_name(&created),
        kernel::audit::created(&audit_snapshot(&created)),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No Department matches the given query.")
}

async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<department::Model> {
    department::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Retrieve an office (any signed-in user).
#[utoipa::path(get, path = "/api/departments/{id}/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DepartmentOut), (status = 401), (status = 404)))]
pub async fn retrieve_department(
    Db(db): Db,
    _me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<DepartmentOut>> {
    Ok(Json(find(&db, id).await?.into()))
}

async fn write(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<DepartmentIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<DepartmentOut>> {
    // DRF's order: the object (404), then the body (400).
    find(db, id).await?;
    let Json(input) = body?;
    let v = validate(db, input, partial, Some(id)).await?;
    let txn = kernel::db::begin_write(db).await?;
    // Read under the lock so the audit row's "before" is what is replaced.
    let existing = department::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let mut model: department::ActiveModel = existing.clone().into();
    if let Some(x) = v.name {
        model.name = Set(x);
    }
    if let Some(x) = v.code {
        model.code = Set(x);
    }
    if let Some(x) = v.department_type {
        model.department_type = Set(x);
    }
    if let Some(x) = v.head_email {
        model.head_email = Set(x);
    }
    if let Some(x) = v.description {
        model.description = Set(x);
    }
    if let Some(x) = v.is_active {
        model.is_active = Set(x);
    }
    if let Some(x) = v.approval_order {
        model.approval_order = Set(x);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(conflict)?;
    audit::record(
        &txn,
        actor(&me, ip),
        Action::UPDATE,
        "Department",
        updated.id,
        &audit_name(&updated),
        kernel::audit::diff(&audit_snapshot(&existing), &audit_snapshot(&updated)),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace an office's fields (admin).
#[utoipa::path(put, path = "/api/departments/{id}/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = DepartmentIn,
    responses((status = 200, body = DepartmentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_department(
    Db(db): Db,
    OfficeAdmin(me): OfficeAdmin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<DepartmentIn>, ApiError>,
) -> ApiResult<Json<DepartmentOut>> {
    write(&db, me, ip, id, body, false).await
}

/// Change some of an office's fields (admin).
#[utoipa::path(patch, path = "/api/departments/{id}/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = DepartmentIn,
    responses((status = 200, body = DepartmentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_department(
    Db(db): Db,
    OfficeAdmin(me): OfficeAdmin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<DepartmentIn>, ApiError>,
) -> ApiResult<Json<DepartmentOut>> {
    write(&db, me, ip, id, body, true).await
}

/// Delete an office (admin). Staff assigned to it lose their office.
#[utoipa::path(delete, path = "/api/departments/{id}/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn destroy_department(
    Db(db): Db,
    OfficeAdmin(me): OfficeAdmin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find(&db, id).await?;
    let in_use = approval::Entity::find()
        .filter(approval::Column::DepartmentId.eq(id))
        .one(&db)
        .await?
        .is_some();
    if in_use {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let txn = kernel::db::begin_write(&db).await?;
    audit::record(
        &txn,
        actor(&me, ip),
        Action::DELETE,
        "Department",
        existing.id,
        &audit_name(&existing),
        kernel::audit::deleted(&audit_snapshot(&existing)),
    )
    .await?;
    let deleted = department::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowStep {
    pub order: i32,
    pub department: String,
    pub code: String,
    #[serde(rename = "type")]
    pub department_type: String,
    pub contact: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowOut {
    pub total_steps: usize,
    pub workflow: Vec<WorkflowStep>,
}

/// The active offices in approval order (any signed-in user).
#[utoipa::path(get, path = "/api/departments/approval_workflow/", tag = "departments", security(("jwt" = [])),
    responses((status = 200, body = WorkflowOut), (status = 401)))]
pub async fn approval_workflow(Db(db): Db, _me: CurrentUser) -> ApiResult<Json<WorkflowOut>> {
    let rows = active_offices(&db, None).await?;
    let workflow: Vec<WorkflowStep> = rows
        .into_iter()
        .map(|d| WorkflowStep {
            order: d.approval_order,
            department: d.name,
            code: d.code,
            department_type: d.department_type,
            contact: d.head_email,
        })
        .collect();
    Ok(Json(WorkflowOut {
        total_steps: workflow.len(),
        workflow,
    }))
}

async fn active_offices(
    db: &sea_orm::DatabaseConnection,
    academic: Option<bool>,
) -> ApiResult<Vec<department::Model>> {
    let mut query = department::Entity::find().filter(department::Column::IsActive.eq(true));
    match academic {
        Some(true) => query = query.filter(department::Column::DepartmentType.eq("faculty")),
        Some(false) => query = query.filter(department::Column::DepartmentType.ne("faculty")),
        None => {}
    }
    Ok(query
        .order_by(department::Column::ApprovalOrder, Order::Asc)
        .order_by(department::Column::Name, Order::Asc)
        .all(db)
        .await?)
}

/// Active academic offices (`faculty` type).
#[utoipa::path(get, path = "/api/departments/academic/", tag = "departments", security(("jwt" = [])),
    responses((status = 200, body = Vec<DepartmentOut>), (status = 401)))]
pub async fn academic_departments(
    Db(db): Db,
    _me: CurrentUser,
) -> ApiResult<Json<Vec<DepartmentOut>>> {
    Ok(Json(
        active_offices(&db, Some(true))
            .await?
            .into_iter()
            .map(DepartmentOut::from)
            .collect(),
    ))
}

/// Active administrative offices (every type but `faculty`).
#[utoipa::path(get, path = "/api/departments/administrative/", tag = "departments", security(("jwt" = [])),
    responses((status = 200, body = Vec<DepartmentOut>), (status = 401)))]
pub async fn administrative_departments(
    Db(db): Db,
    _me: CurrentUser,
) -> ApiResult<Json<Vec<DepartmentOut>>> {
    Ok(Json(
        active_offices(&db, Some(false))
            .await?
            .into_iter()
            .map(DepartmentOut::from)
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMemberOut {
    pub id: Uuid,
    pub full_name: String,
    pub email: String,
    pub admission_number: Option<String>,
    pub is_active: bool,
}

/// The active staff of an office (administrators and office staff).
#[utoipa::path(get, path = "/api/departments/{id}/staff/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<StaffMemberOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn department_staff(
    Db(db): Db,
    me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<Vec<StaffMemberOut>>> {
    if me.is_student() {
        return Err(ApiError::no_permission());
    }
    find(&db, id).await?;
    let rows = crate::entities::user::Entity::find()
        .filter(crate::entities::user::Column::DepartmentId.eq(id))
        .filter(
            crate::entities::user::Column::Role.eq(crate::entities::user::Role::DepartmentStaff),
        )
        .filter(crate::entities::user::Column::IsActive.eq(true))
        .order_by(crate::entities::user::Column::FullName, Order::Asc)
        .all(&db)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|u| StaffMemberOut {
                id: u.id,
                full_name: u.full_name,
                email: u.email,
                admission_number: u.admission_number,
                is_active: u.is_active,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeStatistics {
    pub total_approvals: u64,
    pub pending_approvals: u64,
    pub approved_count: u64,
    pub rejected_count: u64,
    pub approval_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentStatisticsOut {
    pub department: DepartmentOut,
    pub statistics: OfficeStatistics,
}

/// Decision counts of one office (administrators and office staff).
#[utoipa::path(get, path = "/api/departments/{id}/statistics/", tag = "departments", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DepartmentStatisticsOut), (status = 401), (status = 403), (status = 404)))]
pub async fn department_statistics(
    Db(db): Db,
    me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<DepartmentStatisticsOut>> {
    if me.is_student() {
        return Err(ApiError::no_permission());
    }
    let office = find(&db, id).await?;
    let counts: Option<(i64, i64, i64)> = approval::Entity::find()
        .select_only()
        .column_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "total")
        .column_as(
            sea_orm::sea_query::Expr::cust("COUNT(CASE WHEN status = 'pending' THEN 1 END)"),
            "pending",
        )
        .column_as(
            sea_orm::sea_query::Expr::cust("COUNT(CASE WHEN status = 'rejected' THEN 1 END)"),
            "rejected",
        )
        .filter(approval::Column::DepartmentId.eq(id))
        .into_tuple()
        .one(&db)
        .await?;
    let (total, pending, rejected) = counts.unwrap_or_default();
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let approved = n(total).saturating_sub(n(pending) + n(rejected));
    Ok(Json(DepartmentStatisticsOut {
        department: office.into(),
        statistics: OfficeStatistics {
            total_approvals: n(total),
            pending_approvals: n(pending),
            approved_count: approved,
            rejected_count: n(rejected),
            approval_rate: crate::workflow::completion_percentage(approved, n(total)),
        },
    }))
}
