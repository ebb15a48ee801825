//! Programmes of study (contract §2): `/api/programmes/`, each in one
//! department, its name unique there.

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Manager, Me, Role};
use crate::audit::Log;
use crate::entities::{class_group, department, programme, user};
use crate::state::AppState;

pub const LEVELS: &[&str] = &[
    "certificate",
    "diploma",
    "higher_diploma",
    "degree",
    "artisan",
    "other",
];

kernel::choices!(
    /// A programme's level.
    pub ProgrammeLevel = LEVELS
);

const NAME_TAKEN: &str = "A programme with this name already exists in this department.";
const CODE_TAKEN: &str = "Programme with this code already exists.";
const IN_USE: &str = "This programme has class groups and cannot be deleted.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_programmes, create_programme))
        .routes(routes!(
            get_programme,
            put_programme,
            patch_programme,
            delete_programme
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeOut {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub department: Uuid,
    pub level: String,
    pub duration_years: i32,
    pub description: Option<String>,
    pub is_active: bool,
    pub class_group_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProgrammeIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(value_type = ProgrammeLevel, required = true)]
    pub level: Field<String>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 6)]
    pub duration_years: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
}

/// Which departments' rows a caller reaches: all (`None`) or these.
pub async fn department_reach(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> ApiResult<Option<Vec<Uuid>>> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => None,
        Role::Hod => Some(
            crate::access::headed_department(db, me)
                .await?
                .into_iter()
                .collect(),
        ),
        Role::Trainer => Some(crate::access::trainer_departments(db, me.id).await?),
        Role::Trainee => {
            let groups = crate::access::trainee_class_groups(db, me.id).await?;
            let programmes: Vec<Uuid> = class_group::Entity::find()
                .select_only()
                .column(class_group::Column::ProgrammeId)
                .filter(class_group::Column::Id.is_in(groups))
                .into_tuple()
                .all(db)
                .await?;
            programme::Entity::find()
                .select_only()
                .column(programme::Column::DepartmentId)
                .filter(programme::Column::Id.is_in(programmes))
                .into_tuple::<Uuid>()
                .all(db)
                .await
                .map(Some)?
        }
    })
}

/// The programmes `me` reads: all (admin, dp), the headed department's
/// (hod), the trainer's departments', the trainee's class groups'.
pub async fn visible(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    Ok(match me.role() {
        Role::Trainee => {
            let groups = crate::access::trainee_class_groups(db, me.id).await?;
            let programmes: Vec<Uuid> = class_group::Entity::find()
                .select_only()
                .column(class_group::Column::ProgrammeId)
                .filter(class_group::Column::Id.is_in(groups))
                .into_tuple()
                .all(db)
                .await?;
            Condition::all().add(programme::Column::Id.is_in(programmes))
        }
        _ => match department_reach(db, me).await? {
            None => Condition::all(),
            Some(departments) => {
                Condition::all().add(programme::Column::DepartmentId.is_in(departments))
            }
        },
    })
}

/// Whether `me` may write rows of `department`: admin always, a HOD for the
/// department they head; everyone else 403.
pub async fn may_write_department(
    db: &impl ConnectionTrait,
    me: &user::Model,
    department: Uuid,
) -> ApiResult<()> {
    match me.role() {
        Role::Admin => Ok(()),
        Role::Hod if crate::access::headed_department(db, me).await? == Some(department) => Ok(()),
        _ => Err(crate::access::forbidden()),
    }
}

/// A programme `me` reads, else 404.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<programme::Model> {
    programme::Entity::find_by_id(id)
        .filter(visible(db, me).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn out(db: &impl ConnectionTrait, p: programme::Model) -> ApiResult<ProgrammeOut> {
    let class_group_count = class_group::Entity::find()
        .filter(class_group::Column::ProgrammeId.eq(p.id))
        .count(db)
        .await?;
    Ok(ProgrammeOut {
        id: p.id,
        name: p.name,
        code: p.code,
        department: p.department_id,
        level: p.level,
        duration_years: p.duration_years,
        description: p.description,
        is_active: p.is_active,
        class_group_count,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

fn snapshot(p: &programme::Model) -> serde_json::Value {
    kernel::audit::snapshot(&json!({
        "name": p.name, "code": p.code, "department": p.department_id, "level": p.level,
        "duration_years": p.duration_years, "description": p.description, "is_active": p.is_active,
    }))
}

/// List programmes in reach. Filters `department`, `level`, `is_active`;
/// search name, code; ordering `name`, `code`, `created_at`.
#[utoipa::path(get, path = "/api/programmes/", tag = "school", security(("jwt" = [])),
    params(("department" = Option<Uuid>, Query), ("level" = inline(Option<ProgrammeLevel>), Query), ("is_active" = Option<bool>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<ProgrammeOut>), (status = 401)))]
pub async fn list_programmes(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, ProgrammeOut>>> {
    let query = programme::Entity::find().filter(visible(&db, &me).await?);
    let query = list.filter(
        query,
        "department",
        programme::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    let query = list.filter(
        query,
        "level",
        programme::Column::Level,
        FilterKind::Choice(LEVELS),
    )?;
    let query = list.filter(
        query,
        "is_active",
        programme::Column::IsActive,
        FilterKind::Bool,
    )?;
    let query = list.search(
        query,
        &[
            programme::Column::Name.into_simple_expr(),
            programme::Column::Code.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", programme::Column::Name.into_simple_expr()),
            ("code", programme::Column::Code.into_simple_expr()),
            (
                "created_at",
                programme::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("name", Order::Asc)],
        programme::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for p in &page.results {
        rows.push(out(&db, p.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

struct Valid {
    name: Option<String>,
    code: Option<String>,
    department: Option<Uuid>,
    level: Option<String>,
    duration_years: Option<i32>,
    description: Option<Option<String>>,
    is_active: Option<bool>,
}

async fn validate(
    db: &impl ConnectionTrait,
    input: ProgrammeIn,
    existing: Option<&programme::Model>,
    partial: bool,
) -> ApiResult<Valid> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = c.text("name", input.name, 200);
    let code = c.text("code", input.code, 20).map(|c| c.to_uppercase());
    let level = c.choice("level", input.level, LEVELS);
    let duration = c.int("duration_years", input.duration_years, 1, 6);
    let description = c.optional_text("description", input.description, 10_000);
    let is_active = c.boolean("is_active", input.is_active, true);
    let department = match c.value("department", input.department) {
        Some(raw) => {
            match crate::rest::referenced::<department::Entity>(db, "department", &raw).await {
                Ok(d) => Some(d.id),
                Err(ApiError::Validation(e)) => {
                    c.error("department", crate::departments::first_message(&e));
                    None
                }
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    let except = existing.map(|p| p.id);
    if let Some(code) = &code {
        let mut q = programme::Entity::find().filter(programme::Column::Code.eq(code.as_str()));
        if let Some(id) = except {
            q = q.filter(programme::Column::Id.ne(id));
        }
        if q.one(db).await?.is_some() {
            c.error("code", CODE_TAKEN);
        }
    }
    let dept = department.or(existing.map(|p| p.department_id));
    let target_name = name.clone().or(existing.map(|p| p.name.clone()));
    if let (Some(dept), Some(target)) = (dept, target_name) {
        let mut q = programme::Entity::find()
            .filter(programme::Column::DepartmentId.eq(dept))
            .filter(programme::Column::Name.eq(target));
        if let Some(id) = except {
            q = q.filter(programme::Column::Id.ne(id));
        }
        if q.one(db).await?.is_some() {
            c.error("name", NAME_TAKEN);
        }
    }
    c.finish()?;
    Ok(Valid {
        name,
        code,
        department,
        level,
        duration_years: duration.and_then(|d| i32::try_from(d).ok()),
        description,
        is_active,
    })
}

fn unique_error(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "code") {
        ApiError::field("code", CODE_TAKEN)
    } else if kernel::error::is_unique_violation(&e, "name") {
        ApiError::field("name", NAME_TAKEN)
    } else {
        e.into()
    }
}

/// Create a programme (admin; a HOD in their department).
#[utoipa::path(post, path = "/api/programmes/", tag = "school", security(("jwt" = [])), request_body = ProgrammeIn,
    responses((status = 201, body = ProgrammeOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_programme(
    Db(db): Db,
    Caller(Manager(me), actor): Caller<Manager>,
    Json(input): Json<ProgrammeIn>,
) -> ApiResult<(StatusCode, Json<ProgrammeOut>)> {
    if me.role() == Role::DpAcademics {
        return Err(crate::access::forbidden());
    }
    let v = validate(&db, input, None, false).await?;
    let department = v.department.unwrap_or_default();
    may_write_department(&db, &me, department).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = programme::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(v.name.unwrap_or_default()),
        code: Set(v.code.unwrap_or_default()),
        department_id: Set(department),
        level: Set(v.level.unwrap_or_default()),
        duration_years: Set(v.duration_years.unwrap_or(1)),
        description: Set(v.description.flatten()),
        is_active: Set(v.is_active.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(unique_error)?;
    let entry = Entry::new(&actor, Action::CREATE, "programme", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

/// A programme in reach.
#[utoipa::path(get, path = "/api/programmes/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ProgrammeOut), (status = 401), (status = 404)))]
pub async fn get_programme(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<ProgrammeOut>> {
    Ok(Json(out(&db, find_visible(&db, &me, id).await?).await?))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<ProgrammeIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<ProgrammeOut>> {
    let existing = find_visible(db, me, id).await?;
    may_write_department(db, me, existing.department_id).await?;
    let Json(input) = body?;
    let v = validate(db, input, Some(&existing), partial).await?;
    if let Some(department) = v.department {
        may_write_department(db, me, department).await?;
    }
    if let Some(years) = v.duration_years {
        let beyond = class_group::Entity::find()
            .filter(class_group::Column::ProgrammeId.eq(id))
            .filter(class_group::Column::YearOfStudy.gt(years))
            .count(db)
            .await?;
        if beyond > 0 {
            return Err(ApiError::field(
                "duration_years",
                "Class groups of this programme are in a later year of study.",
            ));
        }
    }
    let txn = kernel::db::begin_write(db).await?;
    let mut row: programme::ActiveModel = existing.clone().into();
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(x) = v.code {
        row.code = Set(x);
    }
    if let Some(x) = v.department {
        row.department_id = Set(x);
    }
    if let Some(x) = v.level {
        row.level = Set(x);
    }
    if let Some(x) = v.duration_years {
        row.duration_years = Set(x);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    if let Some(x) = v.is_active {
        row.is_active = Set(x);
    }
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(unique_error)?;
    let entry = Entry::new(actor, Action::UPDATE, "programme", id);
    let changes = kernel::audit::diff(&snapshot(&existing), &snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a programme (admin; its department's HOD).
#[utoipa::path(put, path = "/api/programmes/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ProgrammeIn,
    responses((status = 200, body = ProgrammeOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_programme(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<ProgrammeIn>, ApiError>,
) -> ApiResult<Json<ProgrammeOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a programme (admin; its department's HOD).
#[utoipa::path(patch, path = "/api/programmes/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ProgrammeIn,
    responses((status = 200, body = ProgrammeOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_programme(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<ProgrammeIn>, ApiError>,
) -> ApiResult<Json<ProgrammeOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete a programme (admin; its department's HOD); 409 with class groups.
#[utoipa::path(delete, path = "/api/programmes/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_programme(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_visible(&db, &me, id).await?;
    may_write_department(&db, &me, existing.department_id).await?;
    let groups = class_group::Entity::find()
        .filter(class_group::Column::ProgrammeId.eq(id))
        .count(&db)
        .await?;
    if groups > 0 {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let txn = kernel::db::begin_write(&db).await?;
    programme::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    let entry = Entry::new(&actor, Action::DELETE, "programme", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
