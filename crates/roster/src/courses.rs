//! Courses (contract §3): `/api/courses/` with their weekly session demand
//! and prerequisites (no cycles), `prerequisite-tree/` and
//! `attendance-stats/`.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{course, course_prerequisite, department, enrollment, subtopic, topic, user};
use crate::state::AppState;

const CODE_TAKEN: &str = "Course with this code already exists.";
const NO_SESSIONS: &str = "A course needs at least one session per week.";
pub(crate) const SELF_PREREQUISITE: &str = "A course cannot be its own prerequisite.";
const IN_USE: &str = "This course has enrollments and cannot be deleted.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_courses, create_course))
        .routes(routes!(get_course, put_course, patch_course, delete_course))
        .routes(routes!(prerequisite_tree))
        .routes(routes!(attendance_stats))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseOut {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub department: Uuid,
    pub description: Option<String>,
    pub credit_hours: i32,
    pub theory_sessions_per_week: i32,
    pub practical_sessions_per_week: i32,
    pub session_duration_minutes: i32,
    /// Sessions a week × their length, in hours.
    pub weekly_hours: f64,
    pub prerequisites: Vec<Uuid>,
    pub is_active: bool,
    pub topic_count: u64,
    pub total_topic_minutes: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CourseIn {
    /// Upper-cased; unique.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub code: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub description: Field<String>,
    /// Default 0.
    #[serde(default)]
    #[schema(schema_with = credit_hours_schema)]
    pub credit_hours: Field<i64>,
    /// Default 1; theory and practical sessions together at least 1.
    #[serde(default)]
    #[schema(schema_with = sessions_schema)]
    pub theory_sessions_per_week: Field<i64>,
    /// Default 0.
    #[serde(default)]
    #[schema(schema_with = sessions_schema)]
    pub practical_sessions_per_week: Field<i64>,
    /// 30–240, a multiple of 15; default 60.
    #[serde(default)]
    #[schema(schema_with = duration_schema)]
    pub session_duration_minutes: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub prerequisites: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
}

fn credit_hours_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(0, 1000)
}

fn sessions_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(0, 20)
}

fn duration_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(30))
        .maximum(Some(240))
        .multiple_of(Some(15))
        .into()
}

/// A course's weekly teaching load in hours.
pub fn weekly_hours(c: &course::Model) -> f64 {
    let minutes =
        (c.theory_sessions_per_week + c.practical_sessions_per_week) * c.session_duration_minutes;
    crate::rest::round2(f64::from(minutes) / 60.0)
}

/// The courses `me` reads: all (admin, dp), their department's (hod), the
/// ones they teach (trainer), their class groups' (trainee).
pub async fn visible(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    let courses_of = |column: enrollment::Column, ids: Vec<Uuid>| {
        sea_orm::sea_query::Query::select()
            .column(enrollment::Column::CourseId)
            .from(enrollment::Entity)
            .and_where(sea_orm::sea_query::ExprTrait::is_in(
                sea_orm::sea_query::Expr::col(column),
                ids,
            ))
            .to_owned()
    };
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => Condition::all(),
        Role::Hod => {
            let department = crate::access::headed_department(db, me)
                .await?
                .unwrap_or_else(Uuid::nil);
            Condition::all().add(course::Column::DepartmentId.eq(department))
        }
        Role::Trainer => Condition::all().add(
            course::Column::Id.in_subquery(courses_of(enrollment::Column::TrainerId, vec![me.id])),
        ),
        Role::Trainee => {
            let groups = crate::access::trainee_class_groups(db, me.id).await?;
            Condition::all().add(
                course::Column::Id
                    .in_subquery(courses_of(enrollment::Column::ClassGroupId, groups)),
            )
        }
    })
}

/// A course `me` reads, else 404.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<course::Model> {
    course::Entity::find_by_id(id)
        .filter(visible(db, me).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Whether `me` may change courses (and their topics) of `department`:
/// admin and dp always, a HOD for their own department; else 403.
pub async fn may_write(
    db: &impl ConnectionTrait,
    me: &user::Model,
    department: Uuid,
) -> ApiResult<()> {
    match me.role() {
        Role::Admin | Role::DpAcademics => Ok(()),
        Role::Hod if crate::access::headed_department(db, me).await? == Some(department) => Ok(()),
        _ => Err(crate::access::forbidden()),
    }
}

/// A course `me` may change: 404 out of reach, 403 when only readable.
pub async fn writable(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<course::Model> {
    let c = find_visible(db, me, id).await?;
    may_write(db, me, c.department_id).await?;
    Ok(c)
}

/// The prerequisite ids of a course.
pub async fn prerequisite_ids(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(course_prerequisite::Entity::find()
        .select_only()
        .column(course_prerequisite::Column::PrerequisiteId)
        .filter(course_prerequisite::Column::CourseId.eq(id))
        .into_tuple()
        .all(db)
        .await?)
}

async fn out(db: &impl ConnectionTrait, c: course::Model) -> ApiResult<CourseOut> {
    let topics = topic::Entity::find()
        .filter(topic::Column::CourseId.eq(c.id))
        .all(db)
        .await?;
    Ok(CourseOut {
        weekly_hours: weekly_hours(&c),
        prerequisites: prerequisite_ids(db, c.id).await?,
        topic_count: u64::try_from(topics.len()).unwrap_or(0),
        total_topic_minutes: topics.iter().map(|t| i64::from(t.duration_minutes)).sum(),
        id: c.id,
        code: c.code,
        name: c.name,
        department: c.department_id,
        description: c.description,
        credit_hours: c.credit_hours,
        theory_sessions_per_week: c.theory_sessions_per_week,
        practical_sessions_per_week: c.practical_sessions_per_week,
        session_duration_minutes: c.session_duration_minutes,
        is_active: c.is_active,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn snapshot(c: &course::Model, prerequisites: &[Uuid]) -> serde_json::Value {
    json!({
        "code": c.code, "name": c.name, "department": c.department_id, "description": c.description,
        "credit_hours": c.credit_hours, "theory_sessions_per_week": c.theory_sessions_per_week,
        "practical_sessions_per_week": c.practical_sessions_per_week,
        "session_duration_minutes": c.session_duration_minutes, "is_active": c.is_active,
        "prerequisites": prerequisites,
    })
}

/// List courses in reach. Filters `department`, `is_active`; search code,
/// name; ordering `code`, `name`, `created_at`.
#[utoipa::path(get, path = "/api/courses/", tag = "courses", security(("jwt" = [])),
    params(("department" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<CourseOut>), (status = 401)))]
pub async fn list_courses(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, CourseOut>>> {
    let query = course::Entity::find().filter(visible(&db, &me).await?);
    let query = list.filter(
        query,
        "department",
        course::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    let query = list.filter(
        query,
        "is_active",
        course::Column::IsActive,
        FilterKind::Bool,
    )?;
    let query = list.search(
        query,
        &[
            course::Column::Code.into_simple_expr(),
            course::Column::Name.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("code", course::Column::Code.into_simple_expr()),
            ("name", course::Column::Name.into_simple_expr()),
            ("created_at", course::Column::CreatedAt.into_simple_expr()),
        ],
        &[("code", Order::Asc)],
        course::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for c in &page.results {
        rows.push(out(&db, c.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

/// A validated course body.
pub struct Valid {
    pub code: Option<String>,
    pub name: Option<String>,
    pub department: Option<department::Model>,
    pub description: Option<Option<String>>,
    pub credit_hours: Option<i32>,
    pub theory: Option<i32>,
    pub practical: Option<i32>,
    pub minutes: Option<i32>,
    pub prerequisites: Option<Vec<course::Model>>,
    pub is_active: Option<bool>,
}

fn int_or_default(
    c: &mut Checker,
    name: &str,
    field: Field<i64>,
    range: (i64, i64),
    default: Option<i64>,
) -> Option<i32> {
    let value = match (field, default) {
        (Field::Absent, Some(d)) => Some(d),
        (field, _) => c.patch_int(name, field, range.0, range.1),
    };
    value.and_then(|v| i32::try_from(v).ok())
}

/// Checks a course body: ranges, sessions, code, department, prerequisites
/// (existing, not itself, no cycle). `existing` is the course replaced.
pub async fn validate(
    db: &impl ConnectionTrait,
    input: CourseIn,
    existing: Option<&course::Model>,
    partial: bool,
) -> ApiResult<Valid> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let creating = existing.is_none();
    let code = c.text("code", input.code, 20).map(|s| s.to_uppercase());
    let name = c.text("name", input.name, 200);
    let description = c.optional_text("description", input.description, 10_000);
    let credit_hours = int_or_default(
        &mut c,
        "credit_hours",
        input.credit_hours,
        (0, 1000),
        creating.then_some(0),
    );
    let theory = int_or_default(
        &mut c,
        "theory_sessions_per_week",
        input.theory_sessions_per_week,
        (0, 20),
        creating.then_some(1),
    );
    let practical = int_or_default(
        &mut c,
        "practical_sessions_per_week",
        input.practical_sessions_per_week,
        (0, 20),
        creating.then_some(0),
    );
    let minutes = int_or_default(
        &mut c,
        "session_duration_minutes",
        input.session_duration_minutes,
        (30, 240),
        creating.then_some(60),
    );
    if minutes.is_some_and(|m| m % 15 != 0) {
        c.error(
            "session_duration_minutes",
            "Ensure this value is a multiple of 15.",
        );
    }
    let is_active = c.boolean("is_active", input.is_active, true);
    let department = match c.value("department", input.department) {
        Some(raw) => {
            match crate::rest::referenced::<department::Entity>(db, "department", &raw).await {
                Ok(d) => Some(d),
                Err(ApiError::Validation(e)) => {
                    c.error("department", crate::departments::first_message(&e));
                    None
                }
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    if let Some(code) = &code {
        let mut q = course::Entity::find().filter(course::Column::Code.eq(code.as_str()));
        if let Some(e) = existing {
            q = q.filter(course::Column::Id.ne(e.id));
        }
        if q.one(db).await?.is_some() {
            c.error("code", CODE_TAKEN);
        }
    }
    let prerequisites = match input.prerequisites {
        Field::Absent if !creating => None,
        Field::Absent | Field::Null => Some(Vec::new()),
        Field::Value(raw) => {
            let mut rows: Vec<course::Model> = Vec::new();
            let mut bad = None;
            for value in &raw {
                match crate::rest::referenced::<course::Entity>(db, "prerequisites", value).await {
                    Ok(p) if !rows.iter().any(|r| r.id == p.id) => rows.push(p),
                    Ok(_) => {}
                    Err(ApiError::Validation(e)) => {
                        bad = Some(crate::departments::first_message(&e));
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            match bad {
                Some(message) => {
                    c.error("prerequisites", message);
                    None
                }
                None => Some(rows),
            }
        }
    };
    if !c.has_error("theory_sessions_per_week") && !c.has_error("practical_sessions_per_week") {
        let t = theory
            .or(existing.map(|e| e.theory_sessions_per_week))
            .unwrap_or(0);
        let p = practical
            .or(existing.map(|e| e.practical_sessions_per_week))
            .unwrap_or(0);
        if t + p < 1 {
            c.error(kernel::FieldErrors::NON_FIELD, NO_SESSIONS);
        }
    }
    if let (Some(existing), Some(prerequisites)) = (existing, &prerequisites)
        && !c.has_error("prerequisites")
    {
        let own_code = code.clone().unwrap_or_else(|| existing.code.clone());
        if let Some(message) = cycle(db, existing.id, &own_code, prerequisites).await? {
            c.error("prerequisites", message);
        }
    }
    c.finish()?;
    Ok(Valid {
        code,
        name,
        department,
        description,
        credit_hours,
        theory,
        practical,
        minutes,
        prerequisites,
        is_active,
    })
}

/// The error of giving course `id` (`code`) these prerequisites: itself,
/// or a path back to it (`Circular prerequisite: A → B → A.`).
async fn cycle(
    db: &impl ConnectionTrait,
    id: Uuid,
    code: &str,
    prerequisites: &[course::Model],
) -> ApiResult<Option<String>> {
    if prerequisites.iter().any(|p| p.id == id) {
        return Ok(Some(SELF_PREREQUISITE.into()));
    }
    // Every edge but the course's own (they are being replaced).
    let edges = course_prerequisite::Entity::find()
        .filter(course_prerequisite::Column::CourseId.ne(id))
        .all(db)
        .await?;
    let mut graph: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for e in &edges {
        graph
            .entry(e.course_id)
            .or_default()
            .push(e.prerequisite_id);
    }
    for p in prerequisites {
        if let Some(path) = path_to(&graph, p.id, id) {
            let ids: BTreeSet<Uuid> = path.iter().copied().collect();
            let codes: BTreeMap<Uuid, String> = course::Entity::find()
                .filter(course::Column::Id.is_in(ids))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c.code))
                .collect();
            let mut names = vec![code.to_owned()];
            names.extend(path.iter().map(|step| {
                if *step == id {
                    code.to_owned()
                } else {
                    codes.get(step).cloned().unwrap_or_default()
                }
            }));
            return Ok(Some(format!(
                "Circular prerequisite: {}.",
                names.join(" \u{2192} ")
            )));
        }
    }
    Ok(None)
}

/// A path `from` → … → `to` along prerequisite edges (both ends included).
fn path_to(graph: &BTreeMap<Uuid, Vec<Uuid>>, from: Uuid, to: Uuid) -> Option<Vec<Uuid>> {
    let mut stack = vec![vec![from]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = *path.last()?;
        if last == to {
            return Some(path);
        }
        if !seen.insert(last) {
            continue;
        }
        for next in graph.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(*next);
            stack.push(longer);
        }
    }
    None
}

fn code_unique(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "code") {
        ApiError::field("code", CODE_TAKEN)
    } else {
        e.into()
    }
}

/// Replaces a course's prerequisites.
async fn set_prerequisites(
    db: &impl ConnectionTrait,
    id: Uuid,
    prerequisites: &[Uuid],
) -> ApiResult<()> {
    course_prerequisite::Entity::delete_many()
        .filter(course_prerequisite::Column::CourseId.eq(id))
        .exec(db)
        .await?;
    for p in prerequisites {
        course_prerequisite::ActiveModel {
            id: Set(Uuid::new_v4()),
            course_id: Set(id),
            prerequisite_id: Set(*p),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Inserts a validated new course (and its prerequisites) in `db`'s
/// transaction, with its audit row.
pub async fn insert(
    db: &impl ConnectionTrait,
    actor: &kernel::audit::Actor,
    v: Valid,
) -> ApiResult<course::Model> {
    let now = kernel::time::now();
    let created = course::ActiveModel {
        id: Set(Uuid::new_v4()),
        code: Set(v.code.unwrap_or_default()),
        name: Set(v.name.unwrap_or_default()),
        department_id: Set(v.department.map(|d| d.id).unwrap_or_default()),
        description: Set(v.description.flatten()),
        credit_hours: Set(v.credit_hours.unwrap_or(0)),
        theory_sessions_per_week: Set(v.theory.unwrap_or(1)),
        practical_sessions_per_week: Set(v.practical.unwrap_or(0)),
        session_duration_minutes: Set(v.minutes.unwrap_or(60)),
        is_active: Set(v.is_active.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(code_unique)?;
    let prerequisites: Vec<Uuid> = v
        .prerequisites
        .unwrap_or_default()
        .iter()
        .map(|p| p.id)
        .collect();
    set_prerequisites(db, created.id, &prerequisites).await?;
    let entry = Entry::new(actor, Action::CREATE, "course", created.id);
    Log::write(
        db,
        entry.changes(kernel::audit::created(&snapshot(&created, &prerequisites))),
    )
    .await?;
    Ok(created)
}

/// Create a course (admin, dp; a HOD in their department).
#[utoipa::path(post, path = "/api/courses/", tag = "courses", security(("jwt" = [])), request_body = CourseIn,
    responses((status = 201, body = CourseOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_course(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    body: Result<Json<CourseIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<CourseOut>)> {
    if !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod) {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let v = validate(&db, input, None, false).await?;
    if let Some(d) = &v.department {
        may_write(&db, &me, d.id).await?;
    }
    let txn = kernel::db::begin_write(&db).await?;
    let created = insert(&txn, &actor, v).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

/// A course in reach.
#[utoipa::path(get, path = "/api/courses/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CourseOut), (status = 401), (status = 404)))]
pub async fn get_course(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<CourseOut>> {
    Ok(Json(out(&db, find_visible(&db, &me, id).await?).await?))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<CourseIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<CourseOut>> {
    let existing = writable(db, me, id).await?;
    let Json(input) = body?;
    let v = validate(db, input, Some(&existing), partial).await?;
    if let Some(d) = &v.department {
        may_write(db, me, d.id).await?;
    }
    let before = prerequisite_ids(db, id).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: course::ActiveModel = existing.clone().into();
    if let Some(x) = v.code {
        row.code = Set(x);
    }
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(d) = v.department {
        row.department_id = Set(d.id);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    if let Some(x) = v.credit_hours {
        row.credit_hours = Set(x);
    }
    if let Some(x) = v.theory {
        row.theory_sessions_per_week = Set(x);
    }
    if let Some(x) = v.practical {
        row.practical_sessions_per_week = Set(x);
    }
    if let Some(x) = v.minutes {
        row.session_duration_minutes = Set(x);
    }
    if let Some(x) = v.is_active {
        row.is_active = Set(x);
    }
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(code_unique)?;
    let after = match v.prerequisites {
        Some(list) => {
            let ids: Vec<Uuid> = list.iter().map(|p| p.id).collect();
            set_prerequisites(&txn, id, &ids).await?;
            ids
        }
        None => before.clone(),
    };
    let entry = Entry::new(actor, Action::UPDATE, "course", id);
    let changes = kernel::audit::diff(&snapshot(&existing, &before), &snapshot(&updated, &after));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace a course (admin, dp; its department's HOD).
#[utoipa::path(put, path = "/api/courses/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = CourseIn,
    responses((status = 200, body = CourseOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_course(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<CourseIn>, ApiError>,
) -> ApiResult<Json<CourseOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a course (admin, dp; its department's HOD).
#[utoipa::path(patch, path = "/api/courses/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = CourseIn,
    responses((status = 200, body = CourseOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_course(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<CourseIn>, ApiError>,
) -> ApiResult<Json<CourseOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete a course (admin, dp; its department's HOD); 409 with enrollments.
#[utoipa::path(delete, path = "/api/courses/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_course(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = writable(&db, &me, id).await?;
    let used = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(id))
        .count(&db)
        .await?;
    if used > 0 {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let prerequisites = prerequisite_ids(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    // Subtopics and topics go with the course (cascade), explicitly so
    // every backend agrees.
    let topics: Vec<Uuid> = topic::Entity::find()
        .select_only()
        .column(topic::Column::Id)
        .filter(topic::Column::CourseId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    subtopic::Entity::delete_many()
        .filter(subtopic::Column::TopicId.is_in(topics))
        .exec(&txn)
        .await?;
    course::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    let entry = Entry::new(&actor, Action::DELETE, "course", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&snapshot(&existing, &prerequisites))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A course and, recursively, its prerequisites.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrerequisiteNode {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    #[schema(no_recursion)]
    pub prerequisites: Vec<PrerequisiteNode>,
}

fn node(
    id: Uuid,
    courses: &BTreeMap<Uuid, course::Model>,
    graph: &BTreeMap<Uuid, Vec<Uuid>>,
    path: &mut Vec<Uuid>,
) -> Option<PrerequisiteNode> {
    let c = courses.get(&id)?;
    path.push(id);
    let next: Vec<Uuid> = graph
        .get(&id)
        .into_iter()
        .flatten()
        .filter(|p| !path.contains(p))
        .copied()
        .collect();
    let mut children: Vec<PrerequisiteNode> = next
        .into_iter()
        .filter_map(|p| node(p, courses, graph, path))
        .collect();
    children.sort_by(|a, b| a.code.cmp(&b.code));
    path.pop();
    Some(PrerequisiteNode {
        id: c.id,
        code: c.code.clone(),
        name: c.name.clone(),
        prerequisites: children,
    })
}

/// The course's prerequisites, recursively.
#[utoipa::path(get, path = "/api/courses/{id}/prerequisite-tree/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PrerequisiteNode), (status = 401), (status = 404)))]
pub async fn prerequisite_tree(
    Db(db): Db,
    me: Me,
    Id(id): Id,
) -> ApiResult<Json<PrerequisiteNode>> {
    find_visible(&db, &me, id).await?;
    let mut graph: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for e in course_prerequisite::Entity::find().all(&db).await? {
        graph
            .entry(e.course_id)
            .or_default()
            .push(e.prerequisite_id);
    }
    let mut reach = BTreeSet::from([id]);
    let mut frontier = vec![id];
    while let Some(next) = frontier.pop() {
        for p in graph.get(&next).into_iter().flatten() {
            if reach.insert(*p) {
                frontier.push(*p);
            }
        }
    }
    let courses: BTreeMap<Uuid, course::Model> = course::Entity::find()
        .filter(course::Column::Id.is_in(reach))
        .all(&db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    node(id, &courses, &graph, &mut Vec::new())
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// Attendance of one enrollment of a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentAttendance {
    pub enrollment: Uuid,
    pub class_group: Uuid,
    pub trainer: Option<Uuid>,
    pub sessions_held: u64,
    /// Percent with 2 decimals; null before any session was held.
    pub attendance_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseAttendance {
    pub sessions_held: u64,
    pub attendance_rate: Option<f64>,
    pub punctuality_rate: Option<f64>,
    pub by_enrollment: Vec<EnrollmentAttendance>,
}

/// Attendance of a course by enrollment (staff in reach). Sessions and
/// attendance records arrive with roster part 2: until then no session was
/// held, and the rates are null.
#[utoipa::path(get, path = "/api/courses/{id}/attendance-stats/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CourseAttendance), (status = 401), (status = 403), (status = 404)))]
pub async fn attendance_stats(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<CourseAttendance>> {
    find_visible(&db, &me, id).await?;
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let mut query = enrollment::Entity::find().filter(enrollment::Column::CourseId.eq(id));
    if me.role() == Role::Trainer {
        query = query.filter(enrollment::Column::TrainerId.eq(me.id));
    }
    let enrollments = query
        .order_by_asc(enrollment::Column::CreatedAt)
        .all(&db)
        .await?;
    Ok(Json(CourseAttendance {
        sessions_held: 0,
        attendance_rate: None,
        punctuality_rate: None,
        by_enrollment: enrollments
            .into_iter()
            .map(|e| EnrollmentAttendance {
                enrollment: e.id,
                class_group: e.class_group_id,
                trainer: e.trainer_id,
                sessions_held: 0,
                attendance_rate: None,
            })
            .collect(),
    }))
}
