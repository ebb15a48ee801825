//! `/api/academics/…`: schools, academic departments and courses that
//! student records point to. Any signed-in user reads; administrators write.

use axum::http::StatusCode;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoSimpleExpr, Order,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user;
use crate::entities::{academic_department, course, school};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schools, create_school))
        .routes(routes!(retrieve_school, destroy_school))
        .routes(routes!(
            list_academic_departments,
            create_academic_department
        ))
        .routes(routes!(
            retrieve_academic_department,
            destroy_academic_department
        ))
        .routes(routes!(list_courses, create_course))
        .routes(routes!(retrieve_course, destroy_course))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolOut {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub dean_email: String,
    pub description: String,
    pub is_active: bool,
}

impl From<school::Model> for SchoolOut {
    fn from(s: school::Model) -> Self {
        Self {
            id: s.id,
            name: s.name,
            code: s.code,
            dean_email: s.dean_email,
            description: s.description,
            is_active: s.is_active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicDepartmentOut {
    pub id: Uuid,
    pub school: Uuid,
    pub name: String,
    pub code: String,
    pub head_email: String,
    pub description: String,
    pub is_active: bool,
}

impl From<academic_department::Model> for AcademicDepartmentOut {
    fn from(d: academic_department::Model) -> Self {
        Self {
            id: d.id,
            school: d.school_id,
            name: d.name,
            code: d.code,
            head_email: d.head_email,
            description: d.description,
            is_active: d.is_active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseOut {
    pub id: Uuid,
    pub department: Uuid,
    pub name: String,
    pub code: String,
    pub duration_years: i32,
    pub description: String,
    pub is_active: bool,
}

impl From<course::Model> for CourseOut {
    fn from(c: course::Model) -> Self {
        Self {
            id: c.id,
            department: c.department_id,
            name: c.name,
            code: c.code,
            duration_years: c.duration_years,
            description: c.description,
            is_active: c.is_active,
        }
    }
}

/// A school or faculty to add.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SchoolIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub name: Field<String>,
    /// Stored upper-case; unique among schools.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    /// The dean's address.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_email)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub description: Field<String>,
    /// Defaults to true.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

/// An academic department to add to a school.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicDepartmentIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub school: Field<Uuid>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub name: Field<String>,
    /// Stored upper-case; unique among departments.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    /// The head's address.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_email)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub description: Field<String>,
    /// Defaults to true.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

/// A course to add to an academic department.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CourseIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub department: Field<Uuid>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub name: Field<String>,
    /// Stored upper-case; unique among courses.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    /// 1 to 10; defaults to 4.
    #[serde(default)]
    #[schema(schema_with = duration_years)]
    pub duration_years: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub description: Field<String>,
    /// Defaults to true.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

fn duration_years() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1, 10)
}

struct Common {
    name: String,
    code: String,
    email: String,
    description: String,
    is_active: bool,
}

/// Reads the fields every kind shares; `email` is `Field::Absent` for a course.
fn common(
    c: &mut Checker,
    name: Field<String>,
    code: Field<String>,
    email: Field<String>,
    description: Field<String>,
    is_active: Field<bool>,
) -> Common {
    Common {
        name: c.text("name", name, 255).unwrap_or_default(),
        code: c
            .text("code", code, 20)
            .map(|s| s.to_uppercase())
            .unwrap_or_default(),
        email: match email {
            Field::Absent | Field::Null => String::new(),
            other => c.email("email", other).unwrap_or_default(),
        },
        description: c
            .blank_text("description", description, 10_000)
            .unwrap_or_default(),
        is_active: c.boolean("is_active", is_active, true).unwrap_or(true),
    }
}

#[allow(clippy::too_many_arguments)]
async fn record<C: ConnectionTrait>(
    db: &C,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    action: Action,
    content_type: &str,
    id: Uuid,
    name: &str,
    changes: serde_json::Value,
) -> ApiResult<()> {
    audit::record(
        db,
        Actor::user(me.id, ip),
        action,
        content_type,
        id,
        name,
        changes,
    )
    .await
}

fn code_conflict(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "code") {
        ApiError::field("code", "An entry with this code already exists.")
    } else {
        e.into()
    }
}

fn in_use(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_foreign_key_violation(&e) {
        ApiError::Conflict("This entry is still referenced; deactivate it instead.".into())
    } else {
        e.into()
    }
}

/// What the three academic tables share: a name and a code to search and
/// order by, an active flag, an optional parent, and how they are shown.
trait Academic: EntityTrait<Model: Sync> {
    /// Their name in the audit log.
    const KIND: &'static str;
    /// The filter naming the parent (`school`, `department`), if any.
    const PARENT: Option<(&'static str, Self::Column)>;
    const NAME: Self::Column;
    const CODE: Self::Column;
    const IS_ACTIVE: Self::Column;
    const ID: Self::Column;
    type Out: Serialize + From<Self::Model> + Send;
    /// The id and name of a row.
    fn key(model: &Self::Model) -> (Uuid, &str);
}

impl Academic for school::Entity {
    const KIND: &'static str = "School";
    const PARENT: Option<(&'static str, Self::Column)> = None;
    const NAME: Self::Column = school::Column::Name;
    const CODE: Self::Column = school::Column::Code;
    const IS_ACTIVE: Self::Column = school::Column::IsActive;
    const ID: Self::Column = school::Column::Id;
    type Out = SchoolOut;
    fn key(model: &school::Model) -> (Uuid, &str) {
        (model.id, &model.name)
    }
}

impl Academic for academic_department::Entity {
    const KIND: &'static str = "AcademicDepartment";
    const PARENT: Option<(&'static str, Self::Column)> =
        Some(("school", academic_department::Column::SchoolId));
    const NAME: Self::Column = academic_department::Column::Name;
    const CODE: Self::Column = academic_department::Column::Code;
    const IS_ACTIVE: Self::Column = academic_department::Column::IsActive;
    const ID: Self::Column = academic_department::Column::Id;
    type Out = AcademicDepartmentOut;
    fn key(model: &academic_department::Model) -> (Uuid, &str) {
        (model.id, &model.name)
    }
}

impl Academic for course::Entity {
    const KIND: &'static str = "Course";
    const PARENT: Option<(&'static str, Self::Column)> =
        Some(("department", course::Column::DepartmentId));
    const NAME: Self::Column = course::Column::Name;
    const CODE: Self::Column = course::Column::Code;
    const IS_ACTIVE: Self::Column = course::Column::IsActive;
    const ID: Self::Column = course::Column::Id;
    type Out = CourseOut;
    fn key(model: &course::Model) -> (Uuid, &str) {
        (model.id, &model.name)
    }
}

/// A page of `E`: filters by parent and `is_active`, `?search=` over name and
/// code, ordering by name (default) or code.
async fn page_of<E: Academic>(
    db: &sea_orm::DatabaseConnection,
    list: &ListQuery,
) -> ApiResult<Page<E::Out>> {
    let mut query = E::find();
    if let Some((name, column)) = E::PARENT {
        query = list.filter(query, name, column, FilterKind::Uuid)?;
    }
    query = list.filter(query, "is_active", E::IS_ACTIVE, FilterKind::Bool)?;
    query = list.search(
        query,
        &[E::NAME.into_simple_expr(), E::CODE.into_simple_expr()],
    );
    let query = list.order(
        query,
        &[
            ("name", E::NAME.into_simple_expr()),
            ("code", E::CODE.into_simple_expr()),
        ],
        &[("name", Order::Asc)],
        E::ID,
    );
    Ok(list
        .page(db, query, PageSize::DEFAULT)
        .await?
        .map(E::Out::from))
}

/// Deletes row `id` of `E` (admin), audited; 409 while students point to it.
async fn destroy<E: Academic>(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
) -> ApiResult<StatusCode>
where
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let txn = kernel::db::begin_write(db).await?;
    let existing = find::<E, _>(&txn, id).await?;
    let snapshot = kernel::audit::snapshot(&E::Out::from(existing.clone()));
    let (key, name) = E::key(&existing);
    record(
        &txn,
        me,
        ip,
        Action::DELETE,
        E::KIND,
        key,
        name,
        kernel::audit::deleted(&snapshot),
    )
    .await?;
    E::delete_by_id(key).exec(&txn).await.map_err(in_use)?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Schools and faculties.
#[utoipa::path(get, path = "/api/academics/schools/", tag = "academics", security(("jwt" = [])),
    params(("is_active" = Option<bool>, Query), ("search" = Option<String>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, body = Page<SchoolOut>), (status = 401)))]
pub async fn list_schools(
    Db(db): Db,
    _me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<SchoolOut>>> {
    Ok(Json(page_of::<school::Entity>(&db, &list).await?))
}

/// Add a school (admin).
#[utoipa::path(post, path = "/api/academics/schools/", tag = "academics", security(("jwt" = [])), request_body = SchoolIn,
    responses((status = 201, body = SchoolOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_school(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<SchoolIn>,
) -> ApiResult<(StatusCode, Json<SchoolOut>)> {
    let mut c = Checker::new();
    let f = common(
        &mut c,
        input.name,
        input.code,
        input.email,
        input.description,
        input.is_active,
    );
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = school::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(f.name),
        code: Set(f.code),
        dean_email: Set(f.email),
        description: Set(f.description),
        is_active: Set(f.is_active),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(code_conflict)?;
    let snapshot = kernel::audit::snapshot(&SchoolOut::from(created.clone()));
    record(
        &txn,
        &me,
        ip,
        Action::CREATE,
        "School",
        created.id,
        &created.name,
        kernel::audit::created(&snapshot),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn find<E: EntityTrait, C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<E::Model>
where
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    E::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One school.
#[utoipa::path(get, path = "/api/academics/schools/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SchoolOut), (status = 401), (status = 404)))]
pub async fn retrieve_school(
    Db(db): Db,
    _me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<SchoolOut>> {
    Ok(Json(find::<school::Entity, _>(&db, id).await?.into()))
}

/// Remove a school and its departments and courses (admin); students keep their records.
#[utoipa::path(delete, path = "/api/academics/schools/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_school(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    destroy::<school::Entity>(&db, &me, ip, id).await
}

/// Academic departments. Filter: `school`.
#[utoipa::path(get, path = "/api/academics/departments/", tag = "academics", security(("jwt" = [])),
    params(("school" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query), ("search" = Option<String>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, body = Page<AcademicDepartmentOut>), (status = 401)))]
pub async fn list_academic_departments(
    Db(db): Db,
    _me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<AcademicDepartmentOut>>> {
    Ok(Json(
        page_of::<academic_department::Entity>(&db, &list).await?,
    ))
}

/// Add an academic department to a school (admin).
#[utoipa::path(post, path = "/api/academics/departments/", tag = "academics", security(("jwt" = [])), request_body = AcademicDepartmentIn,
    responses((status = 201, body = AcademicDepartmentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_academic_department(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<AcademicDepartmentIn>,
) -> ApiResult<(StatusCode, Json<AcademicDepartmentOut>)> {
    let mut c = Checker::new();
    let f = common(
        &mut c,
        input.name,
        input.code,
        input.email,
        input.description,
        input.is_active,
    );
    let parent = c.value("school", input.school);
    if let Some(id) = parent
        && school::Entity::find_by_id(id).one(&db).await?.is_none()
    {
        c.error(
            "school",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = academic_department::ActiveModel {
        id: Set(Uuid::new_v4()),
        school_id: Set(parent.unwrap_or_default()),
        name: Set(f.name),
        code: Set(f.code),
        head_email: Set(f.email),
        description: Set(f.description),
        is_active: Set(f.is_active),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(code_conflict)?;
    let snapshot = kernel::audit::snapshot(&AcademicDepartmentOut::from(created.clone()));
    record(
        &txn,
        &me,
        ip,
        Action::CREATE,
        "AcademicDepartment",
        created.id,
        &created.name,
        kernel::audit::created(&snapshot),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One academic department.
#[utoipa::path(get, path = "/api/academics/departments/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AcademicDepartmentOut), (status = 401), (status = 404)))]
pub async fn retrieve_academic_department(
    Db(db): Db,
    _me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<AcademicDepartmentOut>> {
    Ok(Json(
        find::<academic_department::Entity, _>(&db, id)
            .await?
            .into(),
    ))
}

/// Remove an academic department and its courses (admin).
#[utoipa::path(delete, path = "/api/academics/departments/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_academic_department(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    destroy::<academic_department::Entity>(&db, &me, ip, id).await
}

/// Courses. Filter: `department`.
#[utoipa::path(get, path = "/api/academics/courses/", tag = "academics", security(("jwt" = [])),
    params(("department" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query), ("search" = Option<String>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, body = Page<CourseOut>), (status = 401)))]
pub async fn list_courses(
    Db(db): Db,
    _me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<CourseOut>>> {
    Ok(Json(page_of::<course::Entity>(&db, &list).await?))
}

/// Add a course to an academic department (admin).
#[utoipa::path(post, path = "/api/academics/courses/", tag = "academics", security(("jwt" = [])), request_body = CourseIn,
    responses((status = 201, body = CourseOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_course(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<CourseIn>,
) -> ApiResult<(StatusCode, Json<CourseOut>)> {
    let mut c = Checker::new();
    let f = common(
        &mut c,
        input.name,
        input.code,
        Field::Absent,
        input.description,
        input.is_active,
    );
    let parent = c.value("department", input.department);
    let years = match input.duration_years {
        Field::Absent => Some(4),
        other => c.int("duration_years", other, 1, 10),
    };
    if let Some(id) = parent
        && academic_department::Entity::find_by_id(id)
            .one(&db)
            .await?
            .is_none()
    {
        c.error(
            "department",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = course::ActiveModel {
        id: Set(Uuid::new_v4()),
        department_id: Set(parent.unwrap_or_default()),
        name: Set(f.name),
        code: Set(f.code),
        duration_years: Set(years.and_then(|y| i32::try_from(y).ok()).unwrap_or(4)),
        description: Set(f.description),
        is_active: Set(f.is_active),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(code_conflict)?;
    let snapshot = kernel::audit::snapshot(&CourseOut::from(created.clone()));
    record(
        &txn,
        &me,
        ip,
        Action::CREATE,
        "Course",
        created.id,
        &created.name,
        kernel::audit::created(&snapshot),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One course.
#[utoipa::path(get, path = "/api/academics/courses/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CourseOut), (status = 401), (status = 404)))]
pub async fn retrieve_course(
    Db(db): Db,
    _me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<CourseOut>> {
    Ok(Json(find::<course::Entity, _>(&db, id).await?.into()))
}

/// Remove a course (admin).
#[utoipa::path(delete, path = "/api/academics/courses/{id}/", tag = "academics", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_course(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    destroy::<course::Entity>(&db, &me, ip, id).await
}
