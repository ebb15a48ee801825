//! Departments (contract §2): `/api/departments/`, their head of department
//! and trainer list (`/{id}/trainers/`), with headline counts.

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Admin, Me, Role};
use crate::audit::Log;
use crate::entities::{
    class_group, class_group_trainee, course, department, department_trainer, enrollment,
    programme, term, user,
};
use crate::state::AppState;

const NAME_TAKEN: &str = "Department with this name already exists.";
const CODE_TAKEN: &str = "Department with this code already exists.";
const NOT_HOD: &str = "User must have the HOD role.";
const SCHOOL_FIRST: &str = "Create the school first.";
const IN_USE: &str = "This department has programmes or courses and cannot be deleted.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_departments, create_department))
        .routes(routes!(
            get_department,
            put_department,
            patch_department,
            delete_department
        ))
        .routes(routes!(add_trainers))
        .routes(routes!(remove_trainer))
}

/// Headline counts of a department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentStats {
    pub total_programmes: u64,
    pub total_class_groups: u64,
    pub total_trainees: u64,
    pub total_trainers: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub description: Option<String>,
    /// The head of department (a user with role `hod`).
    pub hod: Option<Uuid>,
    pub hod_name: Option<String>,
    /// Trainers of the department (a trainer may be in several).
    pub trainers: Vec<Uuid>,
    pub stats: DepartmentStats,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DepartmentIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub name: Field<String>,
    /// Upper-cased; letters, digits and hyphens.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub hod: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub trainers: Field<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TrainerIdsIn {
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>, required = true)]
    pub trainer_ids: Field<Vec<String>>,
}

/// The users `raw` names (each must exist: DRF's invalid-pk message under
/// `field`), in order, without duplicates.
pub async fn users_by_ids(
    db: &impl ConnectionTrait,
    field: &str,
    raw: &[String],
) -> ApiResult<Vec<user::Model>> {
    let mut users: Vec<user::Model> = Vec::new();
    for value in raw {
        let user = crate::rest::referenced::<user::Entity>(db, field, value).await?;
        if !users.iter().any(|u| u.id == user.id) {
            users.push(user);
        }
    }
    Ok(users)
}

/// The message naming users that do not have `role`, if any.
pub fn wrong_role(users: &[user::Model], role: Role, what: &str) -> Option<String> {
    let names: Vec<String> = users
        .iter()
        .filter(|u| u.role() != role || !u.is_active)
        .map(user::Model::full_name)
        .collect();
    (!names.is_empty()).then(|| format!("{} is not {what}.", names.join(", ")))
}

async fn trainer_ids(db: &impl ConnectionTrait, department: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(department_trainer::Entity::find()
        .select_only()
        .column(department_trainer::Column::TrainerId)
        .filter(department_trainer::Column::DepartmentId.eq(department))
        .order_by_asc(department_trainer::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?)
}

/// The class groups of a department's programmes, as a subquery.
pub fn class_groups_of(department: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column((class_group::Entity, class_group::Column::Id))
        .from(class_group::Entity)
        .inner_join(
            programme::Entity,
            Expr::col((programme::Entity, programme::Column::Id))
                .equals((class_group::Entity, class_group::Column::ProgrammeId)),
        )
        .and_where(Expr::col((programme::Entity, programme::Column::DepartmentId)).eq(department))
        .to_owned()
}

async fn stats(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<DepartmentStats> {
    let trainees: Vec<Uuid> = class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::TraineeId)
        .distinct()
        .filter(class_group_trainee::Column::ClassGroupId.in_subquery(class_groups_of(id)))
        .into_tuple()
        .all(db)
        .await?;
    Ok(DepartmentStats {
        total_programmes: programme::Entity::find()
            .filter(programme::Column::DepartmentId.eq(id))
            .count(db)
            .await?,
        total_class_groups: class_group::Entity::find()
            .filter(class_group::Column::Id.in_subquery(class_groups_of(id)))
            .count(db)
            .await?,
        total_trainees: u64::try_from(trainees.len()).unwrap_or(0),
        total_trainers: department_trainer::Entity::find()
            .filter(department_trainer::Column::DepartmentId.eq(id))
            .count(db)
            .await?,
    })
}

async fn out(db: &impl ConnectionTrait, d: department::Model) -> ApiResult<DepartmentOut> {
    let hod_name = match d.hod_id {
        Some(id) => user::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|u| u.full_name()),
        None => None,
    };
    Ok(DepartmentOut {
        trainers: trainer_ids(db, d.id).await?,
        stats: stats(db, d.id).await?,
        id: d.id,
        name: d.name,
        code: d.code,
        description: d.description,
        hod: d.hod_id,
        hod_name,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

fn snapshot(d: &department::Model, trainers: &[Uuid]) -> serde_json::Value {
    kernel::audit::snapshot(&json!({
        "name": d.name, "code": d.code, "description": d.description,
        "hod": d.hod_id, "trainers": trainers,
    }))
}

/// A department by id (every signed-in user reads every department).
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<department::Model> {
    department::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// List departments (any signed-in user). Filter `hod`; search name, code;
/// ordering `name`, `code`, `created_at`.
#[utoipa::path(get, path = "/api/departments/", tag = "school", security(("jwt" = [])),
    params(("hod" = Option<Uuid>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<DepartmentOut>), (status = 401)))]
pub async fn list_departments(
    Db(db): Db,
    _me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, DepartmentOut>>> {
    let query = list.filter(
        department::Entity::find(),
        "hod",
        department::Column::HodId,
        FilterKind::Uuid,
    )?;
    let query = list.search(
        query,
        &[
            department::Column::Name.into_simple_expr(),
            department::Column::Code.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", department::Column::Name.into_simple_expr()),
            ("code", department::Column::Code.into_simple_expr()),
            (
                "created_at",
                department::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("name", Order::Asc)],
        department::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for d in &page.results {
        rows.push(out(&db, d.clone()).await?);
    }
    Ok(Json(with_results(page, rows)))
}

/// `page` with its rows replaced by `results` (their outputs, in order).
pub fn with_results<T, U>(
    page: kernel::listing::Page<T>,
    results: Vec<U>,
) -> kernel::listing::Page<U> {
    kernel::listing::Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }
}

struct Valid {
    name: Option<String>,
    code: Option<String>,
    description: Option<Option<String>>,
    hod: Option<Option<Uuid>>,
    trainers: Option<Vec<Uuid>>,
}

async fn validate(
    db: &impl ConnectionTrait,
    input: DepartmentIn,
    existing: Option<&department::Model>,
    partial: bool,
) -> ApiResult<Valid> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let except = existing.map(|d| d.id);
    let name = c.text("name", input.name, 200);
    let code = c.text("code", input.code, 20).map(|c| c.to_uppercase());
    if let Some(code) = &code
        && !code
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
    {
        c.error(
            "code",
            "Use only letters, digits and hyphens (it is stored upper-cased).",
        );
    }
    let description = c.optional_text("description", input.description, 10_000);
    if let Some(name) = &name
        && taken(db, department::Column::Name, name, except).await?
    {
        c.error("name", NAME_TAKEN);
    }
    if let Some(code) = &code
        && taken(db, department::Column::Code, code, except).await?
    {
        c.error("code", CODE_TAKEN);
    }
    let hod = match c.nullable(input.hod) {
        Some(Some(raw)) => match hod_for(db, &raw, except).await {
            Ok(id) => Some(Some(id)),
            Err(message) => {
                c.error("hod", message);
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    let trainers = match input.trainers {
        Field::Absent if existing.is_some() => None,
        Field::Absent | Field::Null => Some(Vec::new()),
        Field::Value(raw) => match users_by_ids(db, "trainers", &raw).await {
            Ok(users) => match wrong_role(&users, Role::Trainer, "a trainer") {
                Some(message) => {
                    c.error("trainers", message);
                    None
                }
                None => Some(users.iter().map(|u| u.id).collect()),
            },
            Err(ApiError::Validation(errors)) => {
                c.error("trainers", first_message(&errors));
                None
            }
            Err(e) => return Err(e),
        },
    };
    c.finish()?;
    Ok(Valid {
        name,
        code,
        description,
        hod,
        trainers,
    })
}

/// The first message of a one-field validation error.
pub fn first_message(errors: &kernel::FieldErrors) -> String {
    errors
        .to_json()
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|v| v.get(0))
        .and_then(|v| v.as_str())
        .unwrap_or("Invalid value.")
        .to_owned()
}

async fn taken(
    db: &impl ConnectionTrait,
    column: department::Column,
    value: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = department::Entity::find().filter(column.eq(value));
    if let Some(id) = except {
        query = query.filter(department::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

/// The HOD `raw` names, if they may head this department.
async fn hod_for(
    db: &impl ConnectionTrait,
    raw: &str,
    except: Option<Uuid>,
) -> Result<Uuid, String> {
    let invalid = || crate::rest::invalid_pk(raw);
    let id = Uuid::parse_str(raw.trim()).map_err(|_| invalid())?;
    let hod = user::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|_| invalid())?
        .ok_or_else(invalid)?;
    if hod.role() != Role::Hod {
        return Err(NOT_HOD.into());
    }
    if let Some(other) = headed_elsewhere(db, id, except)
        .await
        .map_err(|_| invalid())?
    {
        return Err(format!("This HOD already heads {}.", other.name));
    }
    Ok(id)
}

async fn headed_elsewhere(
    db: &impl ConnectionTrait,
    hod: Uuid,
    except: Option<Uuid>,
) -> Result<Option<department::Model>, sea_orm::DbErr> {
    let mut query = department::Entity::find().filter(department::Column::HodId.eq(hod));
    if let Some(id) = except {
        query = query.filter(department::Column::Id.ne(id));
    }
    query.one(db).await
}

/// Maps a unique violation of a write to the field it breaks.
async fn unique_error(db: &impl ConnectionTrait, e: sea_orm::DbErr, hod: Option<Uuid>) -> ApiError {
    if kernel::error::is_unique_violation(&e, "hod_id") {
        let name = match hod {
            Some(hod) => headed_elsewhere(db, hod, None)
                .await
                .ok()
                .flatten()
                .map_or_else(|| "another department".to_owned(), |d| d.name),
            None => "another department".to_owned(),
        };
        ApiError::field("hod", format!("This HOD already heads {name}."))
    } else if kernel::error::is_unique_violation(&e, "code") {
        ApiError::field("code", CODE_TAKEN)
    } else if kernel::error::is_unique_violation(&e, "name") {
        ApiError::field("name", NAME_TAKEN)
    } else {
        e.into()
    }
}

/// Replaces a department's trainer list.
async fn set_trainers(
    db: &impl ConnectionTrait,
    department: Uuid,
    trainers: &[Uuid],
) -> ApiResult<()> {
    let current = trainer_ids(db, department).await?;
    let removed: Vec<Uuid> = current
        .iter()
        .filter(|t| !trainers.contains(t))
        .copied()
        .collect();
    for trainer in &removed {
        ensure_removable(db, department, *trainer).await?;
    }
    if !removed.is_empty() {
        department_trainer::Entity::delete_many()
            .filter(department_trainer::Column::DepartmentId.eq(department))
            .filter(department_trainer::Column::TrainerId.is_in(removed))
            .exec(db)
            .await?;
    }
    add(db, department, trainers).await
}

/// Adds trainers not yet in the department.
async fn add(db: &impl ConnectionTrait, department: Uuid, trainers: &[Uuid]) -> ApiResult<()> {
    let current = trainer_ids(db, department).await?;
    let now = kernel::time::now();
    for trainer in trainers.iter().filter(|t| !current.contains(t)) {
        department_trainer::ActiveModel {
            id: Set(Uuid::new_v4()),
            department_id: Set(department),
            trainer_id: Set(*trainer),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// 409 when the trainer teaches an active enrollment of this department's
/// courses in a term running today.
async fn ensure_removable(
    db: &impl ConnectionTrait,
    department: Uuid,
    trainer: Uuid,
) -> ApiResult<()> {
    let today = kernel::time::now().date_naive();
    let current_terms = Query::select()
        .column(term::Column::Id)
        .from(term::Entity)
        .and_where(Expr::col(term::Column::StartDate).lte(today))
        .and_where(Expr::col(term::Column::EndDate).gte(today))
        .to_owned();
    let courses = Query::select()
        .column(course::Column::Id)
        .from(course::Entity)
        .and_where(Expr::col(course::Column::DepartmentId).eq(department))
        .to_owned();
    let busy = enrollment::Entity::find()
        .filter(enrollment::Column::TrainerId.eq(trainer))
        .filter(enrollment::Column::Status.is_in(["scheduled", "in_progress"]))
        .filter(enrollment::Column::TermId.in_subquery(current_terms))
        .filter(enrollment::Column::CourseId.in_subquery(courses))
        .count(db)
        .await?;
    if busy > 0 {
        let name = user::Entity::find_by_id(trainer)
            .one(db)
            .await?
            .map_or_else(|| "This trainer".to_owned(), |u| u.full_name());
        return Err(ApiError::Conflict(
            format!("{name} teaches {busy} enrollment(s) of this department in the current term; reassign them first.")
                .into(),
        ));
    }
    Ok(())
}

/// Create a department (admin), once the school exists.
#[utoipa::path(post, path = "/api/departments/", tag = "school", security(("jwt" = [])), request_body = DepartmentIn,
    responses((status = 201, body = DepartmentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_department(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Json(input): Json<DepartmentIn>,
) -> ApiResult<(StatusCode, Json<DepartmentOut>)> {
    if crate::school::the_school(&db).await?.is_none() {
        return Err(ApiError::non_field(SCHOOL_FIRST));
    }
    let v = validate(&db, input, None, false).await?;
    let now = kernel::time::now();
    let hod = v.hod.flatten();
    let txn = kernel::db::begin_write(&db).await?;
    let inserted = department::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(v.name.unwrap_or_default()),
        code: Set(v.code.unwrap_or_default()),
        description: Set(v.description.flatten()),
        hod_id: Set(hod),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(d) => d,
        Err(e) => return Err(unique_error(&db, e, hod).await),
    };
    let trainers = v.trainers.unwrap_or_default();
    add(&txn, created.id, &trainers).await?;
    let entry = Entry::new(&actor, Action::CREATE, "department", created.id);
    let changes = kernel::audit::created(&snapshot(&created, &trainers));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

/// A department (any signed-in user).
#[utoipa::path(get, path = "/api/departments/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DepartmentOut), (status = 401), (status = 404)))]
pub async fn get_department(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<DepartmentOut>> {
    Ok(Json(out(&db, find(&db, id).await?).await?))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<DepartmentIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<DepartmentOut>> {
    let existing = find(db, id).await?;
    let Json(input) = body?;
    let v = validate(db, input, Some(&existing), partial).await?;
    let before_trainers = trainer_ids(db, id).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: department::ActiveModel = existing.clone().into();
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(x) = v.code {
        row.code = Set(x);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    let hod = v.hod.unwrap_or(existing.hod_id);
    row.hod_id = Set(hod);
    row.updated_at = Set(kernel::time::now());
    let updated = match row.update(&txn).await {
        Ok(d) => d,
        Err(e) => return Err(unique_error(db, e, hod).await),
    };
    if let Some(trainers) = &v.trainers {
        set_trainers(&txn, id, trainers).await?;
    }
    let after_trainers = trainer_ids(&txn, id).await?;
    let entry = Entry::new(actor, Action::UPDATE, "department", id);
    let changes = kernel::audit::diff(
        &snapshot(&existing, &before_trainers),
        &snapshot(&updated, &after_trainers),
    );
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a department (admin).
#[utoipa::path(put, path = "/api/departments/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = DepartmentIn,
    responses((status = 200, body = DepartmentOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn put_department(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<DepartmentIn>, ApiError>,
) -> ApiResult<Json<DepartmentOut>> {
    update(&db, &actor, id, body, false).await
}

/// Change some of a department (admin).
#[utoipa::path(patch, path = "/api/departments/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = DepartmentIn,
    responses((status = 200, body = DepartmentOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn patch_department(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<DepartmentIn>, ApiError>,
) -> ApiResult<Json<DepartmentOut>> {
    update(&db, &actor, id, body, true).await
}

/// Delete a department (admin); 409 while it has programmes or courses.
#[utoipa::path(delete, path = "/api/departments/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_department(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find(&db, id).await?;
    let programmes = programme::Entity::find()
        .filter(programme::Column::DepartmentId.eq(id))
        .count(&db)
        .await?;
    let courses = course::Entity::find()
        .filter(course::Column::DepartmentId.eq(id))
        .count(&db)
        .await?;
    if programmes + courses > 0 {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let trainers = trainer_ids(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    department::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    let entry = Entry::new(&actor, Action::DELETE, "department", id);
    let changes = kernel::audit::deleted(&snapshot(&existing, &trainers));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Admin, or the HOD of this department; others 403.
fn may_manage_trainers(me: &user::Model, d: &department::Model) -> ApiResult<()> {
    match me.role() {
        Role::Admin => Ok(()),
        Role::Hod if d.hod_id == Some(me.id) => Ok(()),
        _ => Err(crate::access::forbidden()),
    }
}

/// Add trainers to a department (admin or its HOD): `{trainer_ids}`.
#[utoipa::path(post, path = "/api/departments/{id}/trainers/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = TrainerIdsIn,
    responses((status = 200, body = DepartmentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn add_trainers(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<TrainerIdsIn>, ApiError>,
) -> ApiResult<Json<DepartmentOut>> {
    let d = find(&db, id).await?;
    may_manage_trainers(&me, &d)?;
    let Json(input) = body?;
    let mut c = Checker::new();
    let raw = c.value("trainer_ids", input.trainer_ids);
    c.finish()?;
    let users = users_by_ids(&db, "trainer_ids", &raw.unwrap_or_default()).await?;
    if let Some(message) = wrong_role(&users, Role::Trainer, "a trainer") {
        return Err(ApiError::field("trainer_ids", message));
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let txn = kernel::db::begin_write(&db).await?;
    add(&txn, id, &ids).await?;
    let entry = Entry::new(&actor, Action("add_trainers"), "department", id);
    Log::write(&txn, entry.changes(json!({"trainers": ids}))).await?;
    txn.commit().await?;
    Ok(Json(out(&db, d).await?))
}

/// Remove a trainer from a department (admin or its HOD); 409 while they
/// teach this department's enrollments in the current term.
#[utoipa::path(delete, path = "/api/departments/{id}/trainers/{trainer_id}/", tag = "school", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("trainer_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn remove_trainer(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    axum::extract::Path((raw_id, raw_trainer)): axum::extract::Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| ApiError::not_found())?;
    let trainer = Uuid::parse_str(&raw_trainer).map_err(|_| ApiError::not_found())?;
    let d = find(&db, id).await?;
    may_manage_trainers(&me, &d)?;
    if !trainer_ids(&db, id).await?.contains(&trainer) {
        return Err(ApiError::not_found());
    }
    ensure_removable(&db, id, trainer).await?;
    let txn = kernel::db::begin_write(&db).await?;
    department_trainer::Entity::delete_many()
        .filter(department_trainer::Column::DepartmentId.eq(id))
        .filter(department_trainer::Column::TrainerId.eq(trainer))
        .exec(&txn)
        .await?;
    let entry = Entry::new(&actor, Action("remove_trainer"), "department", id);
    Log::write(&txn, entry.changes(json!({"trainer": trainer}))).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
