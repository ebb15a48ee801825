//! `erp/staff/` (contract §3 People): office staff, created with their user
//! (role Staff) in one transaction.
//!
//! Reading needs `staff:read` (every row) or `staff:read:own` (their own
//! row); writing `staff:write`, deleting `staff:delete`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::listing::{FilterKind, ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{staff, user};
use crate::envelope::{Data, created, ok};
use crate::erp::students::{
    apply_names, brief, choice_or, date, deactivate, name_change, user_join, user_of, users_by_id,
};
use crate::erp::teachers::{EMPLOYMENT_TYPES, STATUSES};
use crate::rbac::{self, Me};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;
use crate::users::{self, UserBrief};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(
            retrieve_staff,
            update_staff,
            partial_update_staff,
            destroy_staff
        ))
}

/// A staff member as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ErpStaffOut)]
pub struct StaffOut {
    pub id: i64,
    pub user: UserBrief,
    pub full_name: String,
    pub employee_no: String,
    pub department: String,
    pub designation: String,
    pub joining_date: Option<NaiveDate>,
    pub employment_type: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StaffOut {
    pub fn of(s: &staff::Model, u: Option<&user::Model>) -> Self {
        let (user, full_name) = brief(u);
        Self {
            id: s.id,
            user,
            full_name,
            employee_no: s.employee_no.clone(),
            department: s.department.clone(),
            designation: s.designation.clone(),
            joining_date: s.joining_date,
            employment_type: s.employment_type.clone(),
            status: s.status.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn snapshot(s: &staff::Model, u: &user::Model) -> Value {
    json!({
        "user_id": s.user_id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "phone": u.phone, "is_active": u.is_active, "employee_no": s.employee_no,
        "department": s.department, "designation": s.designation, "joining_date": s.joining_date,
        "employment_type": s.employment_type, "status": s.status,
    })
}

/// A staff member to create or change: the user's fields flat beside the row's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpStaffIn)]
pub struct StaffIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<50>)]
    pub employee_no: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub designation: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub joining_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = employment_schema)]
    pub employment_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = status_schema)]
    pub status: Field<String>,
}

fn employment_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(EMPLOYMENT_TYPES)
}

fn status_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(STATUSES)
}

#[derive(Debug, Default)]
struct StaffFields {
    employee_no: Option<String>,
    department: Option<String>,
    designation: Option<String>,
    joining_date: Option<Option<NaiveDate>>,
    employment_type: Option<String>,
    status: Option<String>,
}

fn check_staff(c: &mut Checker, body: StaffIn, create: bool) -> StaffFields {
    StaffFields {
        employee_no: c.text("employee_no", body.employee_no, 50),
        department: c.blank_text("department", body.department, 100),
        designation: c.blank_text("designation", body.designation, 100),
        joining_date: date(c, "joining_date", body.joining_date),
        employment_type: choice_or(
            c,
            "employment_type",
            body.employment_type,
            EMPLOYMENT_TYPES,
            "permanent",
            create,
        ),
        status: choice_or(c, "status", body.status, STATUSES, "active", create),
    }
}

impl StaffFields {
    fn apply(self, row: &mut staff::ActiveModel) {
        macro_rules! set {
            ($($f:ident),*) => {$(if let Some(v) = self.$f { row.$f = Set(v); })*};
        }
        set!(
            employee_no,
            department,
            designation,
            joining_date,
            employment_type,
            status
        );
    }
}

async fn employee_no_taken(db: &impl ConnectionTrait, no: &str, id: Option<i64>) -> ApiResult<()> {
    let mut q = staff::Entity::find().filter(staff::Column::EmployeeNo.eq(no));
    if let Some(id) = id {
        q = q.filter(staff::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(ApiError::field(
            "employee_no",
            "A staff member with this employee number already exists.",
        ));
    }
    Ok(())
}

fn unique_employee(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "employee_no") {
        ApiError::field(
            "employee_no",
            "A staff member with this employee number already exists.",
        )
    } else {
        e.into()
    }
}

fn read_scope(me: &Me) -> ApiResult<Option<Condition>> {
    let reach = me.reach("staff", "read")?;
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any();
    if reach.own {
        any = any.add(staff::Column::UserId.eq(me.id()));
    }
    Ok(Some(if any.is_empty() {
        kernel::scope::none()
    } else {
        any
    }))
}

async fn find_readable(db: &impl ConnectionTrait, me: &Me, id: i64) -> ApiResult<staff::Model> {
    let mut query = staff::Entity::find_by_id(id);
    if let Some(scope) = read_scope(me)? {
        query = query.filter(scope);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

async fn find_writable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
    code: &str,
) -> ApiResult<staff::Model> {
    if me.can(code) {
        return staff::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found);
    }
    find_readable(db, me, id).await?;
    Err(ApiError::no_permission())
}

/// Staff in the caller's reach (filters `department, status,
/// employment_type`; search name, employee_no).
#[utoipa::path(get, path = "/api/v1/erp/staff/", tag = "erp",
    description = "Permission: `staff:read` (`:own` their own row).",
    params(("department" = Option<String>, Query), ("status" = Option<String>, Query),
        ("employment_type" = Option<String>, Query), ("search" = Option<String>, Query),
        ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<StaffOut>))),
    security(("jwt" = [])))]
pub async fn list_staff(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, StaffOut>>> {
    let scope = read_scope(&me)?;
    let mut query = staff::Entity::find().join(
        JoinType::InnerJoin,
        user_join::<staff::Entity>(staff::Column::UserId),
    );
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    query = list.filter(
        query,
        "department",
        staff::Column::Department,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "status",
        staff::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "employment_type",
        staff::Column::EmploymentType,
        FilterKind::Choice(EMPLOYMENT_TYPES),
    )?;
    let query = list.search(
        query,
        &[
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
            staff::Column::EmployeeNo.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("employee_no", staff::Column::EmployeeNo.into_simple_expr()),
            ("department", staff::Column::Department.into_simple_expr()),
            (
                "joining_date",
                staff::Column::JoiningDate.into_simple_expr(),
            ),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("id", staff::Column::Id.into_simple_expr()),
        ],
        &[("employee_no", sea_orm::Order::Asc)],
        staff::Column::Id,
    );
    let page = list
        .page(
            &db,
            query,
            PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?;
    let users = users_by_id(&db, page.data.iter().map(|s| s.user_id)).await?;
    Ok(Json(page.map(|s| StaffOut::of(&s, users.get(&s.user_id)))))
}

/// Creates a staff member with their user (role Staff) in one transaction.
#[utoipa::path(post, path = "/api/v1/erp/staff/", tag = "erp",
    description = "Permission: `staff:write`. Counts against the plan's `max_users`.",
    request_body = StaffIn,
    responses((status = 201, body = inline(Data<StaffOut>))),
    security(("jwt" = [])))]
pub async fn create_staff(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Json(mut body): Json<StaffIn>,
) -> ApiResult<(StatusCode, Data<StaffOut>)> {
    me.require("staff:write")?;
    let mut c = Checker::new();
    let mut account = users::check_account(
        &mut c,
        std::mem::take(&mut body.email),
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
        std::mem::take(&mut body.password),
    );
    let fields = check_staff(&mut c, body, true);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    employee_no_taken(
        &*txn,
        fields.employee_no.as_deref().unwrap_or_default(),
        None,
    )
    .await?;
    account.roles = vec![rbac::STAFF.into()];
    let u = users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    let now = kernel::time::now();
    let mut row = staff::ActiveModel {
        user_id: Set(u.id),
        employee_no: Set(String::new()),
        department: Set(String::new()),
        designation: Set(String::new()),
        joining_date: Set(None),
        employment_type: Set("permanent".into()),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    fields.apply(&mut row);
    let s = row.insert(&*txn).await.map_err(unique_employee)?;
    Event::new(Some(me.id()), CREATE, "Staff", s.id)
        .created(&snapshot(&s, &u))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(StaffOut::of(&s, Some(&u))))
}

/// One staff member in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/staff/{id}/", tag = "erp",
    description = "Permission: `staff:read` (`:own`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<StaffOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_staff(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<StaffOut>> {
    let s = find_readable(&db, &me, id).await?;
    let u = user_of(&db, s.user_id).await?;
    Ok(ok(StaffOut::of(&s, Some(&u))))
}

async fn change_staff(
    me: &Me,
    db: &sea_orm::DatabaseConnection,
    trail: &Trail,
    id: i64,
    mut body: StaffIn,
    partial: bool,
) -> ApiResult<StaffOut> {
    let mut c = Checker::partial(partial);
    let names = name_change(
        &mut c,
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
    );
    let fields = check_staff(&mut c, body, false);
    let txn = kernel::db::begin_write(db).await?;
    let before = find_writable(&*txn, me, id, "staff:write").await?;
    c.finish()?;
    if let Some(no) = &fields.employee_no {
        employee_no_taken(&*txn, no, Some(id)).await?;
    }
    let u_before = user_of(&*txn, before.user_id).await?;
    let mut row: staff::ActiveModel = before.clone().into();
    fields.apply(&mut row);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await.map_err(unique_employee)?;
    let u = apply_names(&*txn, u_before.clone(), names).await?;
    Event::new(Some(me.id()), UPDATE, "Staff", id)
        .diff(&snapshot(&before, &u_before), &snapshot(&after, &u))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(StaffOut::of(&after, Some(&u)))
}

/// Replaces a staff member's fields (`staff:write`).
#[utoipa::path(put, path = "/api/v1/erp/staff/{id}/", tag = "erp",
    description = "Permission: `staff:write`.",
    params(("id" = i64, Path)), request_body = StaffIn,
    responses((status = 200, body = inline(Data<StaffOut>))),
    security(("jwt" = [])))]
pub async fn update_staff(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<StaffIn>,
) -> ApiResult<Data<StaffOut>> {
    Ok(ok(change_staff(&me, &db, &trail, id, body, false).await?))
}

/// Changes some of a staff member's fields (`staff:write`).
#[utoipa::path(patch, path = "/api/v1/erp/staff/{id}/", tag = "erp",
    description = "Permission: `staff:write`.",
    params(("id" = i64, Path)), request_body = StaffIn,
    responses((status = 200, body = inline(Data<StaffOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_staff(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<StaffIn>,
) -> ApiResult<Data<StaffOut>> {
    Ok(ok(change_staff(&me, &db, &trail, id, body, true).await?))
}

/// Deactivates a staff member's user (tokens end); status `resigned` (`staff:delete`).
#[utoipa::path(delete, path = "/api/v1/erp/staff/{id}/", tag = "erp",
    description = "Permission: `staff:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_staff(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_writable(&*txn, &me, id, "staff:delete").await?;
    let u = user_of(&*txn, before.user_id).await?;
    deactivate(&*txn, &me, &u).await?;
    let mut row: staff::ActiveModel = before.clone().into();
    row.status = Set("resigned".into());
    row.updated_at = Set(kernel::time::now());
    row.update(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Staff", id)
        .changes(json!({"status": [before.status, "resigned"], "is_active": [u.is_active, false]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
