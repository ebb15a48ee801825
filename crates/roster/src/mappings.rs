//! Programme curriculum (contract §3): `/api/programme-course-mappings/`
//! [orig path] — a course in a programme's year of study and term, with the
//! room type each kind of its sessions needs — and `bulk-import/` (all or
//! nothing). Room types are the rooms module's [`crate::rooms::ROOM_TYPES`].

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{course, course_mapping, programme, user};
use crate::rooms::ROOM_TYPES;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mappings, create_mapping))
        .routes(routes!(bulk_import))
        .routes(routes!(
            get_mapping,
            put_mapping,
            patch_mapping,
            delete_mapping
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingOut {
    pub id: Uuid,
    pub programme: Uuid,
    pub course: Uuid,
    pub course_code: String,
    pub year_of_study: i32,
    pub term_number: i32,
    pub is_core: bool,
    pub theory_room_type: Option<String>,
    pub practical_room_type: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct MappingIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub programme: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub course: Field<String>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 6)]
    pub year_of_study: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 4)]
    pub term_number: Field<i64>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_core: Field<bool>,
    /// Required when the course has theory sessions.
    #[serde(default)]
    #[schema(schema_with = room_type_schema)]
    pub theory_room_type: Field<String>,
    /// Required when the course has practical sessions.
    #[serde(default)]
    #[schema(schema_with = room_type_schema)]
    pub practical_room_type: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BulkIn {
    /// 1 to 1000 mapping bodies.
    #[serde(default)]
    #[schema(value_type = Vec<MappingIn>, required = true, min_items = 1, max_items = 1000)]
    pub mappings: Field<Vec<Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkMappingsOut {
    pub created: usize,
    pub mappings: Vec<MappingOut>,
}

/// The mappings `me` reads: those of the programmes in reach.
async fn visible(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    if me.role().is_academic_lead() {
        return Ok(Condition::all());
    }
    let programmes: Vec<Uuid> = programme::Entity::find()
        .select_only()
        .column(programme::Column::Id)
        .filter(crate::programmes::visible(db, me).await?)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Condition::all().add(course_mapping::Column::ProgrammeId.is_in(programmes)))
}

/// Admin and dp write every mapping; a HOD those of their programmes.
async fn may_write(
    db: &impl ConnectionTrait,
    me: &user::Model,
    programme: &programme::Model,
) -> ApiResult<()> {
    match me.role() {
        Role::Admin | Role::DpAcademics => Ok(()),
        _ => crate::programmes::may_write_department(db, me, programme.department_id).await,
    }
}

async fn out(db: &impl ConnectionTrait, m: course_mapping::Model) -> ApiResult<MappingOut> {
    let code = course::Entity::find_by_id(m.course_id)
        .one(db)
        .await?
        .map(|c| c.code)
        .unwrap_or_default();
    Ok(MappingOut {
        id: m.id,
        programme: m.programme_id,
        course: m.course_id,
        course_code: code,
        year_of_study: m.year_of_study,
        term_number: m.term_number,
        is_core: m.is_core,
        theory_room_type: m.theory_room_type,
        practical_room_type: m.practical_room_type,
        created_at: m.created_at,
    })
}

fn snapshot(m: &course_mapping::Model) -> Value {
    json!({"programme": m.programme_id, "course": m.course_id, "year_of_study": m.year_of_study,
           "term_number": m.term_number, "is_core": m.is_core,
           "theory_room_type": m.theory_room_type, "practical_room_type": m.practical_room_type})
}

async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<course_mapping::Model> {
    course_mapping::Entity::find_by_id(id)
        .filter(visible(db, me).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// List mappings in reach [orig filters `course`, `programme`], also
/// `year_of_study`, `term_number`, `is_core`; ordering `year_of_study`,
/// `term_number`, `created_at`.
#[utoipa::path(get, path = "/api/programme-course-mappings/", tag = "courses", security(("jwt" = [])),
    params(("programme" = Option<Uuid>, Query), ("course" = Option<Uuid>, Query), ("year_of_study" = Option<i64>, Query),
           ("term_number" = Option<i64>, Query), ("is_core" = Option<bool>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<MappingOut>), (status = 401)))]
pub async fn list_mappings(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, MappingOut>>> {
    let mut query = course_mapping::Entity::find().filter(visible(&db, &me).await?);
    query = list.filter(
        query,
        "programme",
        course_mapping::Column::ProgrammeId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "course",
        course_mapping::Column::CourseId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "year_of_study",
        course_mapping::Column::YearOfStudy,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "term_number",
        course_mapping::Column::TermNumber,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "is_core",
        course_mapping::Column::IsCore,
        FilterKind::Bool,
    )?;
    let query = list.order(
        query,
        &[
            (
                "year_of_study",
                course_mapping::Column::YearOfStudy.into_simple_expr(),
            ),
            (
                "term_number",
                course_mapping::Column::TermNumber.into_simple_expr(),
            ),
            (
                "created_at",
                course_mapping::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("year_of_study", Order::Asc), ("term_number", Order::Asc)],
        course_mapping::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for m in &page.results {
        rows.push(out(&db, m.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

struct Valid {
    programme: programme::Model,
    course: course::Model,
    year_of_study: i32,
    term_number: i32,
    is_core: bool,
    theory_room_type: Option<String>,
    practical_room_type: Option<String>,
}

/// OpenAPI: a room type, or blank or null for none.
fn room_type_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::blank_or_null(kernel::form::schema::choice(ROOM_TYPES))
}

fn room_type(c: &mut Checker, name: &str, field: Field<String>) -> Option<Option<String>> {
    match c.nullable(field)? {
        None => Some(None),
        Some(v) if v.trim().is_empty() => Some(None),
        Some(v) if ROOM_TYPES.contains(&v.as_str()) => Some(Some(v)),
        Some(v) => {
            c.error(name, format!("\"{v}\" is not a valid choice."));
            None
        }
    }
}

async fn reference<E>(
    db: &impl ConnectionTrait,
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> ApiResult<Option<E::Model>>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let Some(raw) = c.value(name, field) else {
        return Ok(None);
    };
    match crate::rest::referenced::<E>(db, name, &raw).await {
        Ok(row) => Ok(Some(row)),
        Err(ApiError::Validation(e)) => {
            c.error(name, crate::departments::first_message(&e));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Checks a mapping body against the row it replaces (if any); errors as
/// field errors (for the bulk import's per-item report).
async fn validate(
    db: &impl ConnectionTrait,
    input: MappingIn,
    existing: Option<&course_mapping::Model>,
    partial: bool,
) -> ApiResult<Result<Valid, kernel::FieldErrors>> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let programme =
        reference::<programme::Entity>(db, &mut c, "programme", input.programme).await?;
    let course = reference::<course::Entity>(db, &mut c, "course", input.course).await?;
    let year = c.int("year_of_study", input.year_of_study, 1, 6);
    let term = c.int("term_number", input.term_number, 1, 4);
    let is_core = c.boolean("is_core", input.is_core, true);
    let theory_type = room_type(&mut c, "theory_room_type", input.theory_room_type);
    let practical_type = room_type(&mut c, "practical_room_type", input.practical_room_type);
    let programme = match (programme, existing) {
        (Some(p), _) => Some(p),
        (None, Some(m)) => {
            programme::Entity::find_by_id(m.programme_id)
                .one(db)
                .await?
        }
        (None, None) => None,
    };
    let course = match (course, existing) {
        (Some(x), _) => Some(x),
        (None, Some(m)) => course::Entity::find_by_id(m.course_id).one(db).await?,
        (None, None) => None,
    };
    let year = year
        .and_then(|y| i32::try_from(y).ok())
        .or(existing.map(|m| m.year_of_study));
    let term = term
        .and_then(|t| i32::try_from(t).ok())
        .or(existing.map(|m| m.term_number));
    let theory_type =
        theory_type.unwrap_or_else(|| existing.and_then(|m| m.theory_room_type.clone()));
    let practical_type =
        practical_type.unwrap_or_else(|| existing.and_then(|m| m.practical_room_type.clone()));
    if let (Some(p), Some(y)) = (&programme, year)
        && y > p.duration_years
    {
        c.error(
            "year_of_study",
            format!("{} runs for {} year(s).", p.name, p.duration_years),
        );
    }
    if let Some(course) = &course {
        if course.theory_sessions_per_week > 0
            && theory_type.is_none()
            && !c.has_error("theory_room_type")
        {
            c.error(
                "theory_room_type",
                format!(
                    "{} has theory sessions; give the room type they need.",
                    course.code
                ),
            );
        }
        if course.practical_sessions_per_week > 0
            && practical_type.is_none()
            && !c.has_error("practical_room_type")
        {
            c.error(
                "practical_room_type",
                format!(
                    "{} has practical sessions; give the room type they need.",
                    course.code
                ),
            );
        }
    }
    if let (Some(p), Some(course), Some(y), Some(t)) = (&programme, &course, year, term) {
        let mut q = course_mapping::Entity::find()
            .filter(course_mapping::Column::ProgrammeId.eq(p.id))
            .filter(course_mapping::Column::CourseId.eq(course.id))
            .filter(course_mapping::Column::YearOfStudy.eq(y))
            .filter(course_mapping::Column::TermNumber.eq(t));
        if let Some(m) = existing {
            q = q.filter(course_mapping::Column::Id.ne(m.id));
        }
        if q.one(db).await?.is_some() {
            c.error(kernel::FieldErrors::NON_FIELD, duplicate(p, course, y, t));
        }
    }
    match c.finish() {
        Err(ApiError::Validation(errors)) => Ok(Err(errors)),
        Err(e) => Err(e),
        Ok(()) => match (programme, course, year, term) {
            (Some(programme), Some(course), Some(year_of_study), Some(term_number)) => {
                Ok(Ok(Valid {
                    programme,
                    course,
                    year_of_study,
                    term_number,
                    is_core: is_core.or(existing.map(|m| m.is_core)).unwrap_or(true),
                    theory_room_type: theory_type,
                    practical_room_type: practical_type,
                }))
            }
            _ => Ok(Err(kernel::FieldErrors::single(
                kernel::FieldErrors::NON_FIELD,
                "Programme, course, year of study and term number are required.",
            ))),
        },
    }
}

fn duplicate(p: &programme::Model, c: &course::Model, year: i32, term: i32) -> String {
    format!(
        "{} is already mapped to {}, year {year}, term {term}.",
        c.code, p.name
    )
}

fn unique_error(e: sea_orm::DbErr, v: &Valid) -> ApiError {
    if kernel::error::is_unique_violation(&e, "term_number") {
        ApiError::non_field(duplicate(
            &v.programme,
            &v.course,
            v.year_of_study,
            v.term_number,
        ))
    } else {
        e.into()
    }
}

async fn insert(
    db: &impl ConnectionTrait,
    actor: &kernel::audit::Actor,
    v: &Valid,
) -> ApiResult<course_mapping::Model> {
    let created = course_mapping::ActiveModel {
        id: Set(Uuid::new_v4()),
        programme_id: Set(v.programme.id),
        course_id: Set(v.course.id),
        year_of_study: Set(v.year_of_study),
        term_number: Set(v.term_number),
        is_core: Set(v.is_core),
        theory_room_type: Set(v.theory_room_type.clone()),
        practical_room_type: Set(v.practical_room_type.clone()),
        created_at: Set(kernel::time::now()),
    }
    .insert(db)
    .await
    .map_err(|e| unique_error(e, v))?;
    let entry = Entry::new(
        actor,
        Action::CREATE,
        "programme_course_mapping",
        created.id,
    );
    Log::write(
        db,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    Ok(created)
}

/// Map a course into a programme's year and term (admin, dp; a HOD for
/// their programmes).
#[utoipa::path(post, path = "/api/programme-course-mappings/", tag = "courses", security(("jwt" = [])), request_body = MappingIn,
    responses((status = 201, body = MappingOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_mapping(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    body: Result<Json<MappingIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<MappingOut>)> {
    if !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod) {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let v = validate(&db, input, None, false)
        .await?
        .map_err(ApiError::Validation)?;
    may_write(&db, &me, &v.programme).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = insert(&txn, &actor, &v).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

/// Create several mappings at once (admin, dp; a HOD for their
/// programmes): all or nothing. Errors come back per item, in order
/// (`{"mappings": [{}, {"course": [...]}, ...]}`).
#[utoipa::path(post, path = "/api/programme-course-mappings/bulk-import/", tag = "courses", security(("jwt" = [])), request_body = BulkIn,
    responses((status = 201, body = BulkMappingsOut), (status = 400), (status = 401), (status = 403)))]
pub async fn bulk_import(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    body: Result<Json<BulkIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<BulkMappingsOut>)> {
    if !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod) {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let mut c = Checker::new();
    let items = c.value("mappings", input.mappings).unwrap_or_default();
    c.finish()?;
    if items.is_empty() {
        return Err(ApiError::field("mappings", "This list may not be empty."));
    }
    if items.len() > 1000 {
        return Err(ApiError::field(
            "mappings",
            "Import at most 1000 mappings at a time.",
        ));
    }
    let mut valid = Vec::new();
    let mut reports = Vec::new();
    let mut failed = false;
    for item in items {
        let parsed: Result<MappingIn, _> = serde_json::from_value(item);
        let result = match parsed {
            Ok(m) => validate(&db, m, None, false).await?,
            Err(_) => Err(kernel::FieldErrors::single(
                kernel::FieldErrors::NON_FIELD,
                "Invalid data. Expected a dictionary.",
            )),
        };
        match result {
            Ok(v) => {
                let key = (v.programme.id, v.course.id, v.year_of_study, v.term_number);
                let repeated = valid.iter().any(|w: &Valid| {
                    (w.programme.id, w.course.id, w.year_of_study, w.term_number) == key
                });
                if repeated {
                    failed = true;
                    reports.push(
                        json!({"non_field_errors": ["This mapping appears twice in the import."]}),
                    );
                } else if may_write(&db, &me, &v.programme).await.is_err() {
                    failed = true;
                    reports.push(
                        json!({"programme": ["You may not change this programme's curriculum."]}),
                    );
                } else {
                    reports.push(json!({}));
                }
                valid.push(v);
            }
            Err(errors) => {
                failed = true;
                reports.push(errors.to_json());
            }
        }
    }
    if failed {
        return Err(ApiError::detailed(
            StatusCode::BAD_REQUEST,
            "Some mappings have errors; none was imported.",
            "invalid",
            json!({"mappings": reports}),
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut created = Vec::new();
    for v in &valid {
        created.push(insert(&txn, &actor, v).await?);
    }
    txn.commit().await?;
    let mut rows = Vec::new();
    for m in created {
        rows.push(out(&db, m).await?);
    }
    Ok((
        StatusCode::CREATED,
        Json(BulkMappingsOut {
            created: rows.len(),
            mappings: rows,
        }),
    ))
}

/// A mapping in reach.
#[utoipa::path(get, path = "/api/programme-course-mappings/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = MappingOut), (status = 401), (status = 404)))]
pub async fn get_mapping(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<MappingOut>> {
    Ok(Json(out(&db, find_visible(&db, &me, id).await?).await?))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<MappingIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<MappingOut>> {
    let existing = find_visible(db, me, id).await?;
    let current = programme::Entity::find_by_id(existing.programme_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    may_write(db, me, &current).await?;
    let Json(input) = body?;
    let v = validate(db, input, Some(&existing), partial)
        .await?
        .map_err(ApiError::Validation)?;
    may_write(db, me, &v.programme).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: course_mapping::ActiveModel = existing.clone().into();
    row.programme_id = Set(v.programme.id);
    row.course_id = Set(v.course.id);
    row.year_of_study = Set(v.year_of_study);
    row.term_number = Set(v.term_number);
    row.is_core = Set(v.is_core);
    row.theory_room_type = Set(v.theory_room_type.clone());
    row.practical_room_type = Set(v.practical_room_type.clone());
    let updated = row.update(&txn).await.map_err(|e| unique_error(e, &v))?;
    let entry = Entry::new(actor, Action::UPDATE, "programme_course_mapping", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(
            &snapshot(&existing),
            &snapshot(&updated),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a mapping (admin, dp; a HOD for their programmes).
#[utoipa::path(put, path = "/api/programme-course-mappings/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = MappingIn,
    responses((status = 200, body = MappingOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_mapping(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<MappingIn>, ApiError>,
) -> ApiResult<Json<MappingOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a mapping (admin, dp; a HOD for their programmes).
#[utoipa::path(patch, path = "/api/programme-course-mappings/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = MappingIn,
    responses((status = 200, body = MappingOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_mapping(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<MappingIn>, ApiError>,
) -> ApiResult<Json<MappingOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete a mapping (admin, dp; a HOD for their programmes).
#[utoipa::path(delete, path = "/api/programme-course-mappings/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn delete_mapping(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_visible(&db, &me, id).await?;
    let current = programme::Entity::find_by_id(existing.programme_id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    may_write(&db, &me, &current).await?;
    let txn = kernel::db::begin_write(&db).await?;
    course_mapping::Entity::delete_by_id(id).exec(&txn).await?;
    let entry = Entry::new(&actor, Action::DELETE, "programme_course_mapping", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
