//! Enrollments (contract §3): `/api/enrollments/`, a class group taking a
//! course in a term with a trainer. Each must match the programme's
//! curriculum, the class group must have completed the prerequisites, the
//! trainer must belong to the course's department and stay within their
//! weekly hours. Status moves scheduled → in_progress → completed (any
//! but completed → cancelled). Changing the trainer notifies both.

use axum::http::StatusCode;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, QueryFilter, QuerySelect,
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
use crate::entities::{
    academic_year, class_group, course, course_mapping, course_prerequisite, department,
    department_trainer, enrollment, profile, programme, term, user,
};
use crate::notify::{self, Kind, Note};
use crate::state::AppState;

pub const STATUSES: &[&str] = &["scheduled", "in_progress", "completed", "cancelled"];

kernel::choices!(
    /// An enrollment's status.
    pub EnrollmentStatus = STATUSES
);
/// Hours a trainer teaches a week unless their profile says otherwise.
pub const DEFAULT_MAX_WEEKLY_HOURS: i32 = 20;
const NOT_UNIQUE: &str = "The fields class_group, course, term must make a unique set.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_enrollments, create_enrollment))
        .routes(routes!(
            get_enrollment,
            put_enrollment,
            patch_enrollment,
            delete_enrollment
        ))
        .routes(routes!(enrollment_trainees))
        .routes(routes!(enrollment_attendance))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentOut {
    pub id: Uuid,
    pub class_group: Uuid,
    pub class_group_name: String,
    pub course: Uuid,
    pub course_code: String,
    pub course_name: String,
    pub academic_year: Uuid,
    pub term: Uuid,
    pub trainer: Option<Uuid>,
    pub trainer_name: Option<String>,
    /// `scheduled`, `in_progress`, `completed` or `cancelled`.
    pub status: String,
    pub notes: Option<String>,
    /// The course's weekly hours.
    pub weekly_hours: f64,
    /// Percent with 2 decimals; null before any session was held.
    pub attendance_rate: Option<f64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EnrollmentIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub class_group: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub course: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub academic_year: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub term: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub trainer: Field<String>,
    #[serde(default)]
    #[schema(value_type = EnrollmentStatus)]
    pub status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Field<String>,
}

/// The enrollments `me` reads: all (admin, dp); their department's courses
/// or class groups (hod); the ones they teach (trainer); their class
/// groups' (trainee).
pub async fn visible(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => Condition::all(),
        Role::Hod => {
            let department = crate::access::headed_department(db, me)
                .await?
                .unwrap_or_else(Uuid::nil);
            let courses = sea_orm::sea_query::Query::select()
                .column(course::Column::Id)
                .from(course::Entity)
                .and_where(sea_orm::sea_query::ExprTrait::eq(
                    sea_orm::sea_query::Expr::col(course::Column::DepartmentId),
                    department,
                ))
                .to_owned();
            Condition::any()
                .add(enrollment::Column::CourseId.in_subquery(courses))
                .add(
                    enrollment::Column::ClassGroupId
                        .in_subquery(crate::departments::class_groups_of(department)),
                )
        }
        Role::Trainer => Condition::all().add(enrollment::Column::TrainerId.eq(me.id)),
        Role::Trainee => {
            let groups = crate::access::trainee_class_groups(db, me.id).await?;
            Condition::all().add(enrollment::Column::ClassGroupId.is_in(groups))
        }
    })
}

/// An enrollment `me` reads, else 404.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<enrollment::Model> {
    enrollment::Entity::find_by_id(id)
        .filter(visible(db, me).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn out(db: &impl ConnectionTrait, e: enrollment::Model) -> ApiResult<EnrollmentOut> {
    let group = class_group::Entity::find_by_id(e.class_group_id)
        .one(db)
        .await?;
    let c = course::Entity::find_by_id(e.course_id).one(db).await?;
    let trainer = match e.trainer_id {
        Some(id) => user::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    Ok(EnrollmentOut {
        id: e.id,
        class_group: e.class_group_id,
        class_group_name: group.map(|g| g.name).unwrap_or_default(),
        course: e.course_id,
        course_code: c.as_ref().map(|c| c.code.clone()).unwrap_or_default(),
        course_name: c.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        weekly_hours: c.as_ref().map_or(0.0, crate::courses::weekly_hours),
        academic_year: e.academic_year_id,
        term: e.term_id,
        trainer: e.trainer_id,
        trainer_name: trainer.map(|t| t.full_name()),
        status: e.status,
        notes: e.notes,
        attendance_rate: None,
        created_at: e.created_at,
        updated_at: e.updated_at,
    })
}

fn snapshot(e: &enrollment::Model) -> serde_json::Value {
    json!({"class_group": e.class_group_id, "course": e.course_id, "academic_year": e.academic_year_id,
           "term": e.term_id, "trainer": e.trainer_id, "status": e.status, "notes": e.notes})
}

/// List enrollments in reach. Filters `class_group`, `course`,
/// `academic_year`, `term`, `trainer`, `status`; search course code and
/// name; ordering `created_at`, `status`.
#[utoipa::path(get, path = "/api/enrollments/", tag = "courses", security(("jwt" = [])),
    params(("class_group" = Option<Uuid>, Query), ("course" = Option<Uuid>, Query), ("academic_year" = Option<Uuid>, Query),
           ("term" = Option<Uuid>, Query), ("trainer" = Option<Uuid>, Query), ("status" = Option<String>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<EnrollmentOut>), (status = 401)))]
pub async fn list_enrollments(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, EnrollmentOut>>> {
    let mut query = enrollment::Entity::find().filter(visible(&db, &me).await?);
    for (name, column) in [
        ("class_group", enrollment::Column::ClassGroupId),
        ("course", enrollment::Column::CourseId),
        ("academic_year", enrollment::Column::AcademicYearId),
        ("term", enrollment::Column::TermId),
        ("trainer", enrollment::Column::TrainerId),
    ] {
        query = list.filter(query, name, column, FilterKind::Uuid)?;
    }
    query = list.filter(
        query,
        "status",
        enrollment::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    if let Some(condition) = list.search_condition(&[
        course::Column::Code.into_simple_expr(),
        course::Column::Name.into_simple_expr(),
    ]) {
        let courses: Vec<Uuid> = course::Entity::find()
            .select_only()
            .column(course::Column::Id)
            .filter(condition)
            .into_tuple()
            .all(&db)
            .await?;
        query = query.filter(enrollment::Column::CourseId.is_in(courses));
    }
    let query = list.order(
        query,
        &[
            (
                "created_at",
                enrollment::Column::CreatedAt.into_simple_expr(),
            ),
            ("status", enrollment::Column::Status.into_simple_expr()),
        ],
        &[("created_at", Order::Asc)],
        enrollment::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for e in &page.results {
        rows.push(out(&db, e.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

/// What an enrollment body resolves to.
struct Target {
    group: class_group::Model,
    course: course::Model,
    year: academic_year::Model,
    term: term::Model,
    trainer: Option<user::Model>,
    status: String,
    notes: Option<String>,
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

/// `22` or `22.5`.
fn hours(value: f64) -> String {
    let rounded = crate::rest::round2(value);
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

fn may_move(from: &str, to: &str) -> bool {
    from == to
        || matches!(
            (from, to),
            ("scheduled", "in_progress") | ("in_progress", "completed")
        )
        || (to == "cancelled" && from != "completed")
}

/// Reads the body over `existing` (if any) into a [`Target`] and checks
/// every rule of contract §3, each as a 400 on its field.
async fn resolve(
    db: &impl ConnectionTrait,
    input: EnrollmentIn,
    existing: Option<&enrollment::Model>,
    partial: bool,
) -> ApiResult<Target> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let group =
        reference::<class_group::Entity>(db, &mut c, "class_group", input.class_group).await?;
    let course = reference::<course::Entity>(db, &mut c, "course", input.course).await?;
    let year = reference::<academic_year::Entity>(db, &mut c, "academic_year", input.academic_year)
        .await?;
    let term = reference::<term::Entity>(db, &mut c, "term", input.term).await?;
    let trainer = match c.nullable(input.trainer) {
        Some(Some(raw)) => match crate::rest::referenced::<user::Entity>(db, "trainer", &raw).await
        {
            Ok(u) => Some(Some(u)),
            Err(ApiError::Validation(e)) => {
                c.error("trainer", crate::departments::first_message(&e));
                None
            }
            Err(e) => return Err(e),
        },
        other => other.map(|_| None),
    };
    let status = match input.status {
        Field::Absent if existing.is_none() => Some("scheduled".to_owned()),
        Field::Absent => None,
        other => c.choice("status", other, STATUSES),
    };
    let notes = c.optional_text("notes", input.notes, 10_000);
    c.finish()?;

    // Fill what the body left out from the row replaced.
    let missing = || ApiError::not_found();
    let group = match (group, existing) {
        (Some(g), _) => g,
        (None, Some(e)) => class_group::Entity::find_by_id(e.class_group_id)
            .one(db)
            .await?
            .ok_or_else(missing)?,
        (None, None) => return Err(ApiError::field("class_group", kernel::form::REQUIRED)),
    };
    let course = match (course, existing) {
        (Some(x), _) => x,
        (None, Some(e)) => course::Entity::find_by_id(e.course_id)
            .one(db)
            .await?
            .ok_or_else(missing)?,
        (None, None) => return Err(ApiError::field("course", kernel::form::REQUIRED)),
    };
    let year = match (year, existing) {
        (Some(x), _) => x,
        (None, Some(e)) => academic_year::Entity::find_by_id(e.academic_year_id)
            .one(db)
            .await?
            .ok_or_else(missing)?,
        (None, None) => return Err(ApiError::field("academic_year", kernel::form::REQUIRED)),
    };
    let term = match (term, existing) {
        (Some(x), _) => x,
        (None, Some(e)) => term::Entity::find_by_id(e.term_id)
            .one(db)
            .await?
            .ok_or_else(missing)?,
        (None, None) => return Err(ApiError::field("term", kernel::form::REQUIRED)),
    };
    let trainer = match (trainer, existing) {
        (Some(t), _) => t,
        (None, Some(e)) => match e.trainer_id {
            Some(id) => user::Entity::find_by_id(id).one(db).await?,
            None => None,
        },
        (None, None) => None,
    };
    let status = status.unwrap_or_else(|| existing.map(|e| e.status.clone()).unwrap_or_default());
    if let Some(e) = existing
        && !may_move(&e.status, &status)
    {
        return Err(ApiError::field(
            "status",
            format!("Cannot change status from {} to {status}.", e.status),
        ));
    }
    let notes = notes.unwrap_or_else(|| existing.and_then(|e| e.notes.clone()));
    let target = Target {
        group,
        course,
        year,
        term,
        trainer,
        status,
        notes,
    };
    check(db, &target, existing).await?;
    Ok(target)
}

/// The rules of contract §3, in order, each a 400 on its field.
async fn check(
    db: &impl ConnectionTrait,
    t: &Target,
    existing: Option<&enrollment::Model>,
) -> ApiResult<()> {
    if t.term.academic_year_id != t.year.id {
        return Err(ApiError::field(
            "term",
            format!("{} is not in {}.", t.term.name, t.year.name),
        ));
    }
    if t.group.academic_year_id != t.year.id {
        return Err(ApiError::field(
            "academic_year",
            format!("{} belongs to another academic year.", t.group.name),
        ));
    }
    let programme = programme::Entity::find_by_id(t.group.programme_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mapped = course_mapping::Entity::find()
        .filter(course_mapping::Column::ProgrammeId.eq(programme.id))
        .filter(course_mapping::Column::CourseId.eq(t.course.id))
        .filter(course_mapping::Column::YearOfStudy.eq(t.group.year_of_study))
        .filter(course_mapping::Column::TermNumber.eq(t.term.number))
        .one(db)
        .await?;
    if mapped.is_none() {
        return Err(ApiError::field(
            "course",
            format!(
                "{} is not mapped to {}, year {}, term {}.",
                t.course.code, programme.name, t.group.year_of_study, t.term.number
            ),
        ));
    }
    let mut twin = enrollment::Entity::find()
        .filter(enrollment::Column::ClassGroupId.eq(t.group.id))
        .filter(enrollment::Column::CourseId.eq(t.course.id))
        .filter(enrollment::Column::TermId.eq(t.term.id));
    if let Some(e) = existing {
        twin = twin.filter(enrollment::Column::Id.ne(e.id));
    }
    if twin.one(db).await?.is_some() {
        return Err(ApiError::non_field(NOT_UNIQUE));
    }
    if let Some(trainer) = &t.trainer {
        check_trainer(db, t, trainer, existing).await?;
    }
    // Prerequisites, checked when the enrollment is made or its class
    // group or course changes.
    let moved =
        existing.is_none_or(|e| e.class_group_id != t.group.id || e.course_id != t.course.id);
    if moved {
        check_prerequisites(db, t).await?;
    }
    Ok(())
}

async fn check_trainer(
    db: &impl ConnectionTrait,
    t: &Target,
    trainer: &user::Model,
    existing: Option<&enrollment::Model>,
) -> ApiResult<()> {
    if trainer.role() != Role::Trainer {
        return Err(ApiError::field(
            "trainer",
            "User must have the trainer role.",
        ));
    }
    if !trainer.is_active {
        return Err(ApiError::field(
            "trainer",
            "This trainer's account is inactive.",
        ));
    }
    let member = department_trainer::Entity::find()
        .filter(department_trainer::Column::DepartmentId.eq(t.course.department_id))
        .filter(department_trainer::Column::TrainerId.eq(trainer.id))
        .one(db)
        .await?;
    if member.is_none() {
        let name = department::Entity::find_by_id(t.course.department_id)
            .one(db)
            .await?
            .map(|d| d.code)
            .unwrap_or_default();
        return Err(ApiError::field(
            "trainer",
            format!("Trainer must belong to the {name} department."),
        ));
    }
    let limit = profile::Entity::find()
        .filter(profile::Column::UserId.eq(trainer.id))
        .one(db)
        .await?
        .and_then(|p| p.max_weekly_hours)
        .unwrap_or(DEFAULT_MAX_WEEKLY_HOURS);
    let total = trainer_hours(db, trainer.id, t.term.id, existing.map(|e| e.id)).await?
        + crate::courses::weekly_hours(&t.course);
    if t.status != "cancelled" && total > f64::from(limit) + 1e-9 {
        return Err(ApiError::field(
            "trainer",
            format!(
                "This would give the trainer {} weekly hours; the limit is {limit}.",
                hours(total)
            ),
        ));
    }
    Ok(())
}

/// The weekly hours of a trainer's enrollments in a term (cancelled ones
/// aside), `except` one.
pub async fn trainer_hours(
    db: &impl ConnectionTrait,
    trainer: Uuid,
    term: Uuid,
    except: Option<Uuid>,
) -> ApiResult<f64> {
    let mut query = enrollment::Entity::find()
        .filter(enrollment::Column::TrainerId.eq(trainer))
        .filter(enrollment::Column::TermId.eq(term))
        .filter(enrollment::Column::Status.ne("cancelled"));
    if let Some(id) = except {
        query = query.filter(enrollment::Column::Id.ne(id));
    }
    let courses: Vec<Uuid> = query
        .select_only()
        .column(enrollment::Column::CourseId)
        .into_tuple()
        .all(db)
        .await?;
    let rows = course::Entity::find()
        .filter(course::Column::Id.is_in(courses.clone()))
        .all(db)
        .await?;
    Ok(courses
        .iter()
        .filter_map(|id| rows.iter().find(|c| c.id == *id))
        .map(crate::courses::weekly_hours)
        .sum())
}

async fn check_prerequisites(db: &impl ConnectionTrait, t: &Target) -> ApiResult<()> {
    let prerequisites: Vec<Uuid> = course_prerequisite::Entity::find()
        .select_only()
        .column(course_prerequisite::Column::PrerequisiteId)
        .filter(course_prerequisite::Column::CourseId.eq(t.course.id))
        .into_tuple()
        .all(db)
        .await?;
    if prerequisites.is_empty() {
        return Ok(());
    }
    let completed: Vec<Uuid> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::CourseId)
        .filter(enrollment::Column::ClassGroupId.eq(t.group.id))
        .filter(enrollment::Column::Status.eq("completed"))
        .filter(enrollment::Column::CourseId.is_in(prerequisites.clone()))
        .into_tuple()
        .all(db)
        .await?;
    let mut missing = course::Entity::find()
        .filter(course::Column::Id.is_in(prerequisites))
        .all(db)
        .await?
        .into_iter()
        .filter(|c| !completed.contains(&c.id))
        .collect::<Vec<_>>();
    missing.sort_by(|a, b| a.code.cmp(&b.code));
    if let Some(first) = missing.first() {
        return Err(ApiError::field(
            "course",
            format!(
                "Prerequisite {} has not been completed by {}.",
                first.code, t.group.name
            ),
        ));
    }
    Ok(())
}

/// Whether `me` may write enrollments of `course`'s department: admin and
/// dp always; a HOD for their own department; else 403.
async fn may_write(
    db: &impl ConnectionTrait,
    me: &user::Model,
    course: &course::Model,
) -> ApiResult<()> {
    crate::courses::may_write(db, me, course.department_id).await
}

fn unique_error(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "term_id") {
        ApiError::non_field(NOT_UNIQUE)
    } else {
        e.into()
    }
}

/// Create an enrollment (admin, dp; a HOD for their department's courses).
#[utoipa::path(post, path = "/api/enrollments/", tag = "courses", security(("jwt" = [])), request_body = EnrollmentIn,
    responses((status = 201, body = EnrollmentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_enrollment(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    body: Result<Json<EnrollmentIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<EnrollmentOut>)> {
    if !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod) {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let t = resolve(&db, input, None, false).await?;
    may_write(&db, &me, &t.course).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = enrollment::ActiveModel {
        id: Set(Uuid::new_v4()),
        class_group_id: Set(t.group.id),
        course_id: Set(t.course.id),
        academic_year_id: Set(t.year.id),
        term_id: Set(t.term.id),
        trainer_id: Set(t.trainer.as_ref().map(|u| u.id)),
        status: Set(t.status.clone()),
        notes: Set(t.notes.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(unique_error)?;
    let entry = Entry::new(&actor, Action::CREATE, "enrollment", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

/// An enrollment in reach.
#[utoipa::path(get, path = "/api/enrollments/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EnrollmentOut), (status = 401), (status = 404)))]
pub async fn get_enrollment(Db(db): Db, me: Me, Id(id): Id) -> ApiResult<Json<EnrollmentOut>> {
    Ok(Json(out(&db, find_visible(&db, &me, id).await?).await?))
}

/// Hands the enrollment's future scheduled sessions to its new trainer.
///
/// Attendance sessions arrive with roster part 2 (contract §5); until their
/// table exists there is nothing to move. Part 2 fills this in, in the
/// same transaction as the trainer change.
async fn move_future_sessions(
    _db: &impl ConnectionTrait,
    _enrollment: Uuid,
    _trainer: Option<Uuid>,
) -> ApiResult<u64> {
    Ok(0)
}

/// Tells the old and the new trainer of the change.
async fn notify_trainer_change(
    db: &impl ConnectionTrait,
    e: &enrollment::Model,
    old: Option<Uuid>,
    new: Option<&user::Model>,
    course: &course::Model,
    group: &class_group::Model,
) -> ApiResult<()> {
    if let Some(old) = old {
        let message = format!(
            "You no longer teach {} {} to {}.",
            course.code, course.name, group.name
        );
        let note = Note::new(Kind::Timetable, "Teaching assignment changed", &message)
            .about("enrollment", e.id);
        notify::send(db, [old], &note).await?;
    }
    if let Some(new) = new {
        let message = format!(
            "You now teach {} {} to {}.",
            course.code, course.name, group.name
        );
        let note = Note::new(Kind::Timetable, "New teaching assignment", &message)
            .about("enrollment", e.id);
        notify::send(db, [new.id], &note).await?;
    }
    Ok(())
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<EnrollmentIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<EnrollmentOut>> {
    let existing = find_visible(db, me, id).await?;
    let current_course = course::Entity::find_by_id(existing.course_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    may_write(db, me, &current_course).await?;
    let Json(input) = body?;
    let t = resolve(db, input, Some(&existing), partial).await?;
    may_write(db, me, &t.course).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: enrollment::ActiveModel = existing.clone().into();
    row.class_group_id = Set(t.group.id);
    row.course_id = Set(t.course.id);
    row.academic_year_id = Set(t.year.id);
    row.term_id = Set(t.term.id);
    row.trainer_id = Set(t.trainer.as_ref().map(|u| u.id));
    row.status = Set(t.status.clone());
    row.notes = Set(t.notes.clone());
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(unique_error)?;
    if updated.trainer_id != existing.trainer_id {
        move_future_sessions(&txn, id, updated.trainer_id).await?;
        notify_trainer_change(
            &txn,
            &updated,
            existing.trainer_id,
            t.trainer.as_ref(),
            &t.course,
            &t.group,
        )
        .await?;
    }
    let entry = Entry::new(actor, Action::UPDATE, "enrollment", id);
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

/// Replace an enrollment (admin, dp; a HOD for their department's courses).
#[utoipa::path(put, path = "/api/enrollments/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = EnrollmentIn,
    responses((status = 200, body = EnrollmentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_enrollment(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<EnrollmentIn>, ApiError>,
) -> ApiResult<Json<EnrollmentOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of an enrollment (admin, dp; a HOD for their department's
/// courses): status, trainer (re-validated; both trainers notified), notes.
#[utoipa::path(patch, path = "/api/enrollments/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = EnrollmentIn,
    responses((status = 200, body = EnrollmentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_enrollment(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<EnrollmentIn>, ApiError>,
) -> ApiResult<Json<EnrollmentOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete an enrollment (admin, dp; a HOD for their department's courses).
/// Its timetable entries go with it.
#[utoipa::path(delete, path = "/api/enrollments/{id}/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_enrollment(
    Db(db): Db,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_visible(&db, &me, id).await?;
    let c = course::Entity::find_by_id(existing.course_id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    may_write(&db, &me, &c).await?;
    let txn = kernel::db::begin_write(&db).await?;
    enrollment::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(
                    "This enrollment has sessions and cannot be deleted; cancel it instead.".into(),
                )
            } else {
                e.into()
            }
        })?;
    let entry = Entry::new(&actor, Action::DELETE, "enrollment", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The trainees of the enrollment's class group (staff in reach).
#[utoipa::path(get, path = "/api/enrollments/{id}/trainees/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<crate::class_groups::MemberOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn enrollment_trainees(
    Db(db): Db,
    me: Me,
    Id(id): Id,
) -> ApiResult<Json<Vec<crate::class_groups::MemberOut>>> {
    let e = find_visible(&db, &me, id).await?;
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let ids = crate::class_groups::trainee_ids(&db, e.class_group_id).await?;
    Ok(Json(crate::class_groups::members(&db, &ids).await?))
}

/// Attendance of one trainee in an enrollment.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraineeAttendance {
    pub trainee: Uuid,
    pub full_name: String,
    pub present: u64,
    pub late: u64,
    pub absent: u64,
    pub excused: u64,
    pub attendance_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentAttendanceOut {
    pub enrollment: Uuid,
    pub sessions_held: u64,
    pub attendance_rate: Option<f64>,
    pub punctuality_rate: Option<f64>,
    pub by_trainee: Vec<TraineeAttendance>,
}

/// Attendance of an enrollment by trainee (staff in reach). Sessions and
/// records arrive with roster part 2: until then nothing was held and the
/// rates are null.
#[utoipa::path(get, path = "/api/enrollments/{id}/attendance-stats/", tag = "courses", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EnrollmentAttendanceOut), (status = 401), (status = 403), (status = 404)))]
pub async fn enrollment_attendance(
    Db(db): Db,
    me: Me,
    Id(id): Id,
) -> ApiResult<Json<EnrollmentAttendanceOut>> {
    let e = find_visible(&db, &me, id).await?;
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let ids = crate::class_groups::trainee_ids(&db, e.class_group_id).await?;
    let members = crate::class_groups::members(&db, &ids).await?;
    Ok(Json(EnrollmentAttendanceOut {
        enrollment: e.id,
        sessions_held: 0,
        attendance_rate: None,
        punctuality_rate: None,
        by_trainee: members
            .into_iter()
            .map(|m| TraineeAttendance {
                trainee: m.id,
                full_name: m.full_name,
                present: 0,
                late: 0,
                absent: 0,
                excused: 0,
                attendance_rate: None,
            })
            .collect(),
    }))
}
