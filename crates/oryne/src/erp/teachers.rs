//! `erp/teachers/` (contract §3 People): teachers, created with their user
//! (role Teacher) in one transaction; their class assignments (what the
//! `:class` scope reaches), by subject, statistics.
//!
//! Reading needs `teachers:read` (every row) or `teachers:read:own` (their
//! own row); writing `teachers:write`, deleting `teachers:delete`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::listing::{FilterKind, ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{academic_year, subject, teacher, teacher_assignment, user};
use crate::envelope::{Data, created, ok};
use crate::erp::students::{
    apply_names, brief, choice_or, class_problems, date, deactivate, name_change, object,
    problems_into, tally, user_join, user_of, users_by_id,
};
use crate::rbac::{self, Me};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;
use crate::users::{self, UserBrief};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teachers, create_teacher))
        .routes(routes!(teachers_by_subject))
        .routes(routes!(teacher_statistics))
        .routes(routes!(
            retrieve_teacher,
            update_teacher,
            partial_update_teacher,
            destroy_teacher
        ))
        .routes(routes!(teacher_class_assignments))
        .routes(routes!(teacher_assign_class))
}

pub const EMPLOYMENT_TYPES: &[&str] = &["permanent", "contract", "visiting"];
pub const STATUSES: &[&str] = &["active", "on_leave", "resigned"];
pub const ASSIGNMENT_ROLES: &[&str] = &["class_teacher", "subject_teacher"];

/// A teacher as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ErpTeacherOut)]
pub struct TeacherOut {
    pub id: i64,
    pub user: UserBrief,
    pub full_name: String,
    pub employee_no: String,
    pub designation: String,
    pub department: String,
    pub qualification: String,
    pub experience_years: i32,
    pub specialization: String,
    pub subjects: Vec<String>,
    pub address: String,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub emergency_contact: String,
    pub joining_date: Option<NaiveDate>,
    pub employment_type: String,
    pub status: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn subjects_of(t: &teacher::Model) -> Vec<String> {
    serde_json::from_value(t.subjects.clone()).unwrap_or_default()
}

impl TeacherOut {
    pub fn of(t: &teacher::Model, u: Option<&user::Model>) -> Self {
        let (user, full_name) = brief(u);
        Self {
            id: t.id,
            user,
            full_name,
            employee_no: t.employee_no.clone(),
            designation: t.designation.clone(),
            department: t.department.clone(),
            qualification: t.qualification.clone(),
            experience_years: t.experience_years,
            specialization: t.specialization.clone(),
            subjects: subjects_of(t),
            address: t.address.clone(),
            city: t.city.clone(),
            state: t.state.clone(),
            pincode: t.pincode.clone(),
            emergency_contact: t.emergency_contact.clone(),
            joining_date: t.joining_date,
            employment_type: t.employment_type.clone(),
            status: t.status.clone(),
            metadata: t.metadata.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

fn snapshot(t: &teacher::Model, u: &user::Model) -> Value {
    json!({
        "user_id": t.user_id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "phone": u.phone, "is_active": u.is_active, "employee_no": t.employee_no,
        "designation": t.designation, "department": t.department, "qualification": t.qualification,
        "experience_years": t.experience_years, "specialization": t.specialization,
        "subjects": t.subjects, "address": t.address, "city": t.city, "state": t.state,
        "pincode": t.pincode, "emergency_contact": t.emergency_contact,
        "joining_date": t.joining_date, "employment_type": t.employment_type,
        "status": t.status, "metadata": t.metadata,
    })
}

/// A teacher to create or change: the user's fields flat beside the teacher's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpTeacherIn)]
pub struct TeacherIn {
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
    pub designation: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub qualification: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub experience_years: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub specialization: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub subjects: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub address: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub state: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub pincode: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub emergency_contact: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub joining_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = employment_schema)]
    pub employment_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = status_schema)]
    pub status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Field<Value>,
}

fn employment_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(EMPLOYMENT_TYPES)
}

fn status_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(STATUSES)
}

#[derive(Debug, Default)]
struct TeacherFields {
    employee_no: Option<String>,
    designation: Option<String>,
    department: Option<String>,
    qualification: Option<String>,
    experience_years: Option<i32>,
    specialization: Option<String>,
    subjects: Option<Value>,
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    pincode: Option<String>,
    emergency_contact: Option<String>,
    joining_date: Option<Option<NaiveDate>>,
    employment_type: Option<String>,
    status: Option<String>,
    metadata: Option<Value>,
}

fn check_teacher(c: &mut Checker, body: TeacherIn, create: bool) -> TeacherFields {
    let experience_years = if body.experience_years.is_absent() {
        create.then_some(0)
    } else {
        c.int("experience_years", body.experience_years, 0, 80)
            .and_then(|n| i32::try_from(n).ok())
    };
    let subjects = match body.subjects {
        Field::Absent => create.then(|| json!([])),
        Field::Null => Some(json!([])),
        Field::Value(list) => {
            let mut clean: Vec<String> = Vec::new();
            for s in list {
                let s = s.trim().to_owned();
                if s.is_empty() || s.chars().count() > 100 || s.contains('\0') {
                    c.error("subjects", "Each subject must be 1 to 100 characters.");
                    break;
                }
                if !clean.contains(&s) {
                    clean.push(s);
                }
            }
            Some(json!(clean))
        }
    };
    TeacherFields {
        employee_no: c.text("employee_no", body.employee_no, 50),
        designation: c.blank_text("designation", body.designation, 100),
        department: c.blank_text("department", body.department, 100),
        qualification: c.blank_text("qualification", body.qualification, 200),
        experience_years,
        specialization: c.blank_text("specialization", body.specialization, 200),
        subjects,
        address: c.blank_text("address", body.address, 1000),
        city: c.blank_text("city", body.city, 100),
        state: c.blank_text("state", body.state, 100),
        pincode: c.blank_text("pincode", body.pincode, 10),
        emergency_contact: c.blank_text("emergency_contact", body.emergency_contact, 20),
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
        metadata: object(c, "metadata", body.metadata, create),
    }
}

impl TeacherFields {
    fn apply(self, row: &mut teacher::ActiveModel) {
        macro_rules! set {
            ($($f:ident),*) => {$(if let Some(v) = self.$f { row.$f = Set(v); })*};
        }
        set!(
            employee_no,
            designation,
            department,
            qualification,
            experience_years,
            specialization,
            subjects,
            address,
            city,
            state,
            pincode,
            emergency_contact,
            joining_date,
            employment_type,
            status,
            metadata
        );
    }
}

async fn employee_no_taken(db: &impl ConnectionTrait, no: &str, id: Option<i64>) -> ApiResult<()> {
    let mut q = teacher::Entity::find().filter(teacher::Column::EmployeeNo.eq(no));
    if let Some(id) = id {
        q = q.filter(teacher::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(ApiError::field(
            "employee_no",
            "A teacher with this employee number already exists.",
        ));
    }
    Ok(())
}

fn unique_employee(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "employee_no") {
        ApiError::field(
            "employee_no",
            "A teacher with this employee number already exists.",
        )
    } else {
        e.into()
    }
}

fn read_scope(me: &Me) -> ApiResult<Option<Condition>> {
    let reach = me.reach("teachers", "read")?;
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any();
    if reach.own {
        any = any.add(teacher::Column::UserId.eq(me.id()));
    }
    Ok(Some(if any.is_empty() {
        kernel::scope::none()
    } else {
        any
    }))
}

async fn find_readable(db: &impl ConnectionTrait, me: &Me, id: i64) -> ApiResult<teacher::Model> {
    let mut query = teacher::Entity::find_by_id(id);
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
) -> ApiResult<teacher::Model> {
    if me.can(code) {
        return teacher::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found);
    }
    find_readable(db, me, id).await?;
    Err(ApiError::no_permission())
}

/// Teachers in the caller's reach (filters `department, status,
/// employment_type`; search name, employee_no, department).
#[utoipa::path(get, path = "/api/v1/erp/teachers/", tag = "erp",
    description = "Permission: `teachers:read` (`:own` their own row).",
    params(("department" = Option<String>, Query), ("status" = Option<String>, Query),
        ("employment_type" = Option<String>, Query), ("search" = Option<String>, Query),
        ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<TeacherOut>))),
    security(("jwt" = [])))]
pub async fn list_teachers(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, TeacherOut>>> {
    let scope = read_scope(&me)?;
    let mut query = teacher::Entity::find().join(
        JoinType::InnerJoin,
        user_join::<teacher::Entity>(teacher::Column::UserId),
    );
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    query = list.filter(
        query,
        "department",
        teacher::Column::Department,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "status",
        teacher::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "employment_type",
        teacher::Column::EmploymentType,
        FilterKind::Choice(EMPLOYMENT_TYPES),
    )?;
    let query = list.search(
        query,
        &[
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
            teacher::Column::EmployeeNo.into_simple_expr(),
            teacher::Column::Department.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "employee_no",
                teacher::Column::EmployeeNo.into_simple_expr(),
            ),
            ("department", teacher::Column::Department.into_simple_expr()),
            (
                "joining_date",
                teacher::Column::JoiningDate.into_simple_expr(),
            ),
            (
                "experience_years",
                teacher::Column::ExperienceYears.into_simple_expr(),
            ),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("id", teacher::Column::Id.into_simple_expr()),
        ],
        &[("employee_no", sea_orm::Order::Asc)],
        teacher::Column::Id,
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
    let users = users_by_id(&db, page.data.iter().map(|t| t.user_id)).await?;
    Ok(Json(
        page.map(|t| TeacherOut::of(&t, users.get(&t.user_id))),
    ))
}

/// Creates a teacher with their user (role Teacher) in one transaction.
#[utoipa::path(post, path = "/api/v1/erp/teachers/", tag = "erp",
    description = "Permission: `teachers:write`. Counts against the plan's `max_users`.",
    request_body = TeacherIn,
    responses((status = 201, body = inline(Data<TeacherOut>))),
    security(("jwt" = [])))]
pub async fn create_teacher(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Json(mut body): Json<TeacherIn>,
) -> ApiResult<(StatusCode, Data<TeacherOut>)> {
    me.require("teachers:write")?;
    let mut c = Checker::new();
    let mut account = users::check_account(
        &mut c,
        std::mem::take(&mut body.email),
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
        std::mem::take(&mut body.password),
    );
    let fields = check_teacher(&mut c, body, true);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    employee_no_taken(
        &*txn,
        fields.employee_no.as_deref().unwrap_or_default(),
        None,
    )
    .await?;
    account.roles = vec![rbac::TEACHER.into()];
    let u = users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    let now = kernel::time::now();
    let mut row = teacher::ActiveModel {
        user_id: Set(u.id),
        employee_no: Set(String::new()),
        designation: Set(String::new()),
        department: Set(String::new()),
        qualification: Set(String::new()),
        experience_years: Set(0),
        specialization: Set(String::new()),
        subjects: Set(json!([])),
        address: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        pincode: Set(String::new()),
        emergency_contact: Set(String::new()),
        joining_date: Set(None),
        employment_type: Set("permanent".into()),
        status: Set("active".into()),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    fields.apply(&mut row);
    let t = row.insert(&*txn).await.map_err(unique_employee)?;
    Event::new(Some(me.id()), CREATE, "Teacher", t.id)
        .created(&snapshot(&t, &u))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(TeacherOut::of(&t, Some(&u))))
}

/// One teacher in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/teachers/{id}/", tag = "erp",
    description = "Permission: `teachers:read` (`:own`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<TeacherOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_teacher(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<TeacherOut>> {
    let t = find_readable(&db, &me, id).await?;
    let u = user_of(&db, t.user_id).await?;
    Ok(ok(TeacherOut::of(&t, Some(&u))))
}

async fn change_teacher(
    me: &Me,
    db: &sea_orm::DatabaseConnection,
    trail: &Trail,
    id: i64,
    mut body: TeacherIn,
    partial: bool,
) -> ApiResult<TeacherOut> {
    let mut c = Checker::partial(partial);
    let names = name_change(
        &mut c,
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
    );
    let fields = check_teacher(&mut c, body, false);
    let txn = kernel::db::begin_write(db).await?;
    let before = find_writable(&*txn, me, id, "teachers:write").await?;
    c.finish()?;
    if let Some(no) = &fields.employee_no {
        employee_no_taken(&*txn, no, Some(id)).await?;
    }
    let u_before = user_of(&*txn, before.user_id).await?;
    let mut row: teacher::ActiveModel = before.clone().into();
    fields.apply(&mut row);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await.map_err(unique_employee)?;
    let u = apply_names(&*txn, u_before.clone(), names).await?;
    Event::new(Some(me.id()), UPDATE, "Teacher", id)
        .diff(&snapshot(&before, &u_before), &snapshot(&after, &u))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(TeacherOut::of(&after, Some(&u)))
}

/// Replaces a teacher's fields (`teachers:write`).
#[utoipa::path(put, path = "/api/v1/erp/teachers/{id}/", tag = "erp",
    description = "Permission: `teachers:write`.",
    params(("id" = i64, Path)), request_body = TeacherIn,
    responses((status = 200, body = inline(Data<TeacherOut>))),
    security(("jwt" = [])))]
pub async fn update_teacher(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<TeacherIn>,
) -> ApiResult<Data<TeacherOut>> {
    Ok(ok(change_teacher(&me, &db, &trail, id, body, false).await?))
}

/// Changes some of a teacher's fields (`teachers:write`).
#[utoipa::path(patch, path = "/api/v1/erp/teachers/{id}/", tag = "erp",
    description = "Permission: `teachers:write`.",
    params(("id" = i64, Path)), request_body = TeacherIn,
    responses((status = 200, body = inline(Data<TeacherOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_teacher(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<TeacherIn>,
) -> ApiResult<Data<TeacherOut>> {
    Ok(ok(change_teacher(&me, &db, &trail, id, body, true).await?))
}

/// Deactivates a teacher's user (tokens end); status `resigned` (`teachers:delete`).
#[utoipa::path(delete, path = "/api/v1/erp/teachers/{id}/", tag = "erp",
    description = "Permission: `teachers:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_teacher(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_writable(&*txn, &me, id, "teachers:delete").await?;
    let u = user_of(&*txn, before.user_id).await?;
    deactivate(&*txn, &me, &u).await?;
    let mut row: teacher::ActiveModel = before.clone().into();
    row.status = Set("resigned".into());
    row.updated_at = Set(kernel::time::now());
    row.update(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Teacher", id)
        .changes(json!({"status": [before.status, "resigned"], "is_active": [u.is_active, false]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A teacher's class assignment.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpTeacherClassOut)]
pub struct ClassAssignmentOut {
    pub id: i64,
    pub teacher_id: i64,
    pub class_name: String,
    pub section: String,
    pub subject_id: Option<i64>,
    pub academic_year_id: Option<i64>,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl ClassAssignmentOut {
    fn of(a: teacher_assignment::Model) -> Self {
        Self {
            id: a.id,
            teacher_id: a.teacher_id,
            class_name: a.class_name,
            section: a.section,
            subject_id: a.subject_id,
            academic_year_id: a.academic_year_id,
            role: a.role,
            created_at: a.created_at,
        }
    }
}

/// A teacher's class assignments.
#[utoipa::path(get, path = "/api/v1/erp/teachers/{id}/assignments/", tag = "erp",
    description = "Permission: `teachers:read` (`:own`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<Vec<ClassAssignmentOut>>))),
    security(("jwt" = [])))]
pub async fn teacher_class_assignments(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<Vec<ClassAssignmentOut>>> {
    let t = find_readable(&db, &me, id).await?;
    let rows = teacher_assignment::Entity::find()
        .filter(teacher_assignment::Column::TeacherId.eq(t.id))
        .order_by_asc(teacher_assignment::Column::ClassName)
        .order_by_asc(teacher_assignment::Column::Section)
        .order_by_asc(teacher_assignment::Column::Id)
        .all(&db)
        .await?;
    Ok(ok(rows.into_iter().map(ClassAssignmentOut::of).collect()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpAssignClassIn)]
pub struct AssignClassIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub class_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<10>, required = true)]
    pub section: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub subject_id: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub academic_year_id: Field<i64>,
    /// `class_teacher` or `subject_teacher` (default).
    #[serde(default)]
    #[schema(schema_with = role_schema)]
    pub role: Field<String>,
}

fn role_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(ASSIGNMENT_ROLES)
}

/// Assigns a teacher to a class and section (`teachers:write`): a
/// `teacher_assignments` row, which the `:class` scope follows.
#[utoipa::path(post, path = "/api/v1/erp/teachers/{id}/assign_class/", tag = "erp",
    description = "Permission: `teachers:write`.",
    params(("id" = i64, Path)), request_body = AssignClassIn,
    responses((status = 201, body = inline(Data<ClassAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn teacher_assign_class(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AssignClassIn>,
) -> ApiResult<(StatusCode, Data<ClassAssignmentOut>)> {
    let mut c = Checker::new();
    let class_name = c.text("class_name", body.class_name, 20);
    let section = c.text("section", body.section, 10);
    let subject_id = c.nullable(body.subject_id).flatten();
    let year_id = c.nullable(body.academic_year_id).flatten();
    let role = choice_or(
        &mut c,
        "role",
        body.role,
        ASSIGNMENT_ROLES,
        "subject_teacher",
        true,
    );
    let txn = kernel::db::begin_write(&db).await?;
    let t = find_writable(&*txn, &me, id, "teachers:write").await?;
    c.finish()?;
    let (Some(class_name), Some(section), Some(role)) = (class_name, section, role) else {
        return Err(ApiError::non_field("Invalid input."));
    };
    let mut problems = class_problems(&*txn, &class_name, &section).await?;
    if let Some(sid) = subject_id
        && subject::Entity::find_by_id(sid).one(&*txn).await?.is_none()
    {
        problems.push((
            "subject_id",
            format!("Invalid pk \"{sid}\" - object does not exist."),
        ));
    }
    if let Some(yid) = year_id
        && academic_year::Entity::find_by_id(yid)
            .one(&*txn)
            .await?
            .is_none()
    {
        problems.push((
            "academic_year_id",
            format!("Invalid pk \"{yid}\" - object does not exist."),
        ));
    }
    problems_into(problems)?;
    let mut dup = teacher_assignment::Entity::find()
        .filter(teacher_assignment::Column::TeacherId.eq(t.id))
        .filter(teacher_assignment::Column::ClassName.eq(class_name.clone()))
        .filter(teacher_assignment::Column::Section.eq(section.clone()))
        .filter(teacher_assignment::Column::Role.eq(role.clone()));
    dup = match subject_id {
        Some(sid) => dup.filter(teacher_assignment::Column::SubjectId.eq(sid)),
        None => dup.filter(teacher_assignment::Column::SubjectId.is_null()),
    };
    if dup.count(&*txn).await? > 0 {
        return Err(ApiError::non_field(
            "This teacher already has this assignment.",
        ));
    }
    let a = teacher_assignment::ActiveModel {
        teacher_id: Set(t.id),
        class_name: Set(class_name),
        section: Set(section),
        subject_id: Set(subject_id),
        academic_year_id: Set(year_id),
        role: Set(role),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "TeacherAssignment", a.id)
        .created(
            &json!({"teacher_id": a.teacher_id, "class_name": a.class_name, "section": a.section,
            "subject_id": a.subject_id, "academic_year_id": a.academic_year_id, "role": a.role}),
        )
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(ClassAssignmentOut::of(a)))
}

/// Teachers in the caller's reach whose `subjects` list holds `subject`
/// (case-insensitive).
#[utoipa::path(get, path = "/api/v1/erp/teachers/by_subject/", tag = "erp",
    description = "Permission: `teachers:read` (`:own`).",
    params(("subject" = String, Query)),
    responses((status = 200, body = inline(Data<Vec<TeacherOut>>))),
    security(("jwt" = [])))]
pub async fn teachers_by_subject(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Data<Vec<TeacherOut>>> {
    let scope = read_scope(&me)?;
    let Some(wanted) = list.get("subject").map(|s| s.trim().to_lowercase()) else {
        return Err(ApiError::field("subject", kernel::form::REQUIRED));
    };
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "LOWER(CAST(subjects AS TEXT)) LIKE $1"
    } else {
        "LOWER(CAST(subjects AS TEXT)) LIKE ?"
    };
    let needle: String = wanted.replace(['"', '%', '_', '\\'], "");
    let mut query =
        teacher::Entity::find().filter(Expr::cust_with_values(sql, [format!("%{needle}%")]));
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    let rows: Vec<teacher::Model> = query
        .order_by_asc(teacher::Column::EmployeeNo)
        .all(&db)
        .await?
        .into_iter()
        .filter(|t| subjects_of(t).iter().any(|s| s.to_lowercase() == wanted))
        .collect();
    let users = users_by_id(&db, rows.iter().map(|t| t.user_id)).await?;
    Ok(ok(rows
        .iter()
        .map(|t| TeacherOut::of(t, users.get(&t.user_id)))
        .collect()))
}

/// Teacher statistics.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpTeacherStatistics)]
pub struct TeacherStatistics {
    pub total: u64,
    pub by_department: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_employment_type: BTreeMap<String, u64>,
}

/// Counts of the teachers in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/teachers/statistics/", tag = "erp",
    description = "Permission: `teachers:read` (over the caller's reach).",
    responses((status = 200, body = inline(Data<TeacherStatistics>))),
    security(("jwt" = [])))]
pub async fn teacher_statistics(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<TeacherStatistics>> {
    let scope = read_scope(&me)?;
    let mut query = teacher::Entity::find()
        .select_only()
        .column(teacher::Column::Department)
        .column(teacher::Column::Status)
        .column(teacher::Column::EmploymentType);
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    let rows: Vec<(String, String, String)> = query.into_tuple().all(&db).await?;
    Ok(ok(TeacherStatistics {
        total: rows.len() as u64,
        by_department: tally(rows.iter().map(|r| r.0.as_str())),
        by_status: tally(rows.iter().map(|r| r.1.as_str())),
        by_employment_type: tally(rows.iter().map(|r| r.2.as_str())),
    }))
}
