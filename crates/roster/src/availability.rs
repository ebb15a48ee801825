//! Trainer availability (contract §4, **TrainerAvailability**): weekly
//! windows when a trainer can teach, for one term or (term null) every term —
//! `/api/trainer-availability/` (alias `/api/trainer-availabilities/`) with
//! the original's `my_availability/` (alias `mine/`) and `bulk_create/`.
//!
//! Trainers write their own windows (`trainer` is forced to the caller), a
//! HOD those of the trainers of the department they head, admin and the
//! deputy principal everyone's. Reads are scoped the same way; trainees have
//! no access. Windows of one trainer, one weekday and the same term value
//! may not overlap (half-open).
//!
//! The decision rule the timetable and generation modules apply lives in
//! [`windows_for_term`]: for a term, a trainer's term-specific windows apply
//! if any exist, else the all-terms windows; a trainer with no window at all
//! is always available.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::extract::RawBody;
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, FieldErrors, FilterKind, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, IntoSimpleExpr, Order, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Me, Role, Staff, headed_department};
use crate::audit::Log;
use crate::entities::{availability, department_trainer, term, user};
use crate::rest::{self, PAGE};
use crate::state::AppState;

/// One weekly window: `(day, start, end)`, day 0 = Monday, minutes after
/// midnight (school time), half-open.
pub type Window = (i32, i32, i32);

/// The windows that apply in `term_id` to each of `trainer_ids` (every id
/// asked for is a key): `Some(windows)` — the term's own windows if the
/// trainer has any, else their all-terms windows — or `None` when the
/// trainer has no window at all (always available). Windows are sorted by
/// day, then start.
pub async fn windows_for_term(
    db: &impl ConnectionTrait,
    term_id: Uuid,
    trainer_ids: &[Uuid],
) -> Result<HashMap<Uuid, Option<Vec<Window>>>, DbErr> {
    let mut specific: HashMap<Uuid, Vec<Window>> = HashMap::new();
    let mut general: HashMap<Uuid, Vec<Window>> = HashMap::new();
    for chunk in trainer_ids.chunks(500) {
        let rows = availability::Entity::find()
            .filter(availability::Column::TrainerId.is_in(chunk.iter().copied()))
            .filter(
                Condition::any()
                    .add(availability::Column::TermId.eq(term_id))
                    .add(availability::Column::TermId.is_null()),
            )
            .order_by_asc(availability::Column::Day)
            .order_by_asc(availability::Column::StartMinute)
            .all(db)
            .await?;
        for row in rows {
            let target = if row.term_id.is_some() {
                &mut specific
            } else {
                &mut general
            };
            target.entry(row.trainer_id).or_default().push((
                row.day,
                row.start_minute,
                row.end_minute,
            ));
        }
    }
    Ok(trainer_ids
        .iter()
        .map(|id| {
            let windows = specific.remove(id).or_else(|| general.remove(id));
            (*id, windows)
        })
        .collect())
}

/// Whether `day`, `start..end` lies wholly inside one of `windows` (`None`:
/// no windows at all, always available).
pub fn covers(windows: Option<&[Window]>, day: i32, start: i32, end: i32) -> bool {
    windows.is_none_or(|list| {
        list.iter()
            .any(|(d, s, e)| *d == day && *s <= start && end <= *e)
    })
}

const NOT_A_TRAINER: &str = "The user is not a trainer.";
const OTHER_DEPARTMENT: &str =
    "You can only manage the availability of trainers of the department you head.";
const END_AFTER_START: &str = "End time must be after start time.";
const BAD_DAY: &str = "Enter a weekday: monday to sunday.";
/// The most windows one `bulk_create/` takes.
const BULK_MAX: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_availability, create_availability))
        .routes(routes!(my_availability))
        .routes(routes!(bulk_create))
        .routes(routes!(
            retrieve_availability,
            update_availability,
            partial_update_availability,
            destroy_availability
        ))
}

/// `/api/trainer-availabilities/…` (the plural) and `mine/`, served beside
/// the documented paths.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/api/trainer-availabilities/",
            get(list_availability).post(create_availability),
        )
        .route(
            "/api/trainer-availabilities/my_availability/",
            get(my_availability),
        )
        .route("/api/trainer-availabilities/mine/", get(my_availability))
        .route("/api/trainer-availability/mine/", get(my_availability))
        .route(
            "/api/trainer-availabilities/bulk_create/",
            post(bulk_create),
        )
        .route("/api/trainer-availability/bulk-create/", post(bulk_create))
        .route(
            "/api/trainer-availabilities/bulk-create/",
            post(bulk_create),
        )
        .route(
            "/api/trainer-availability/my-availability/",
            get(my_availability),
        )
        .route(
            "/api/trainer-availabilities/{id}/",
            get(retrieve_availability)
                .put(update_availability)
                .patch(partial_update_availability)
                .delete(destroy_availability),
        )
}

/// A window as every endpoint shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityOut {
    pub id: Uuid,
    pub trainer: Uuid,
    pub trainer_name: String,
    /// Null: every term.
    pub term: Option<Uuid>,
    pub term_name: Option<String>,
    /// `monday`…`sunday`.
    pub day_of_week: String,
    /// `HH:MM`, school time.
    pub start_time: String,
    pub end_time: String,
    pub created_at: DateTime<Utc>,
}

impl AvailabilityOut {
    /// `rows` as shown, with trainer and term names read in two queries.
    async fn many(
        db: &impl ConnectionTrait,
        rows: Vec<availability::Model>,
    ) -> Result<Vec<Self>, DbErr> {
        let trainer_ids: HashSet<Uuid> = rows.iter().map(|r| r.trainer_id).collect();
        let term_ids: HashSet<Uuid> = rows.iter().filter_map(|r| r.term_id).collect();
        let trainers: HashMap<Uuid, String> = if trainer_ids.is_empty() {
            HashMap::new()
        } else {
            user::Entity::find()
                .filter(user::Column::Id.is_in(trainer_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.full_name()))
                .collect()
        };
        let terms: HashMap<Uuid, String> = if term_ids.is_empty() {
            HashMap::new()
        } else {
            term::Entity::find()
                .filter(term::Column::Id.is_in(term_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|r| Self {
                id: r.id,
                trainer: r.trainer_id,
                trainer_name: trainers.get(&r.trainer_id).cloned().unwrap_or_default(),
                term: r.term_id,
                term_name: r.term_id.and_then(|t| terms.get(&t).cloned()),
                day_of_week: rest::weekday(r.day).to_owned(),
                start_time: rest::clock(r.start_minute),
                end_time: rest::clock(r.end_minute),
                created_at: r.created_at,
            })
            .collect())
    }

    async fn one(db: &impl ConnectionTrait, row: availability::Model) -> ApiResult<Self> {
        Self::many(db, vec![row])
            .await?
            .pop()
            .ok_or_else(ApiError::not_found)
    }
}

/// What a window body may set.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AvailabilityIn {
    /// The trainer (ignored for a trainer, who writes their own windows).
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub trainer: Field<String>,
    /// The term; null or absent: every term.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub term: Field<String>,
    /// `monday`…`sunday` (any case) or 0…6.
    #[serde(default)]
    #[schema(schema_with = crate::rest::weekday_schema, required = true)]
    pub day_of_week: Field<Value>,
    /// `HH:MM`.
    #[serde(default)]
    #[schema(schema_with = crate::rest::clock_schema, required = true)]
    pub start_time: Field<String>,
    /// `HH:MM`, after `start_time`.
    #[serde(default)]
    #[schema(schema_with = crate::rest::clock_schema, required = true)]
    pub end_time: Field<String>,
}

/// A window as a write leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    trainer_id: Uuid,
    term_id: Option<Uuid>,
    day: i32,
    start: i32,
    end: i32,
}

impl Draft {
    fn of(row: &availability::Model) -> Self {
        Self {
            trainer_id: row.trainer_id,
            term_id: row.term_id,
            day: row.day,
            start: row.start_minute,
            end: row.end_minute,
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "trainer": self.trainer_id, "term": self.term_id,
            "day_of_week": rest::weekday(self.day),
            "start_time": rest::clock(self.start), "end_time": rest::clock(self.end),
        })
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.trainer_id == other.trainer_id
            && self.term_id == other.term_id
            && self.day == other.day
            && self.start < other.end
            && other.start < self.end
    }
}

/// Why a body was refused: its fields, or a trainer outside the caller's reach.
enum Refusal {
    Fields(FieldErrors),
    Forbidden,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Fields(errors) => ApiError::Validation(errors),
            Refusal::Forbidden => ApiError::forbidden(OTHER_DEPARTMENT),
        }
    }
}

/// Who the caller may write windows for.
#[derive(Debug, Clone)]
enum Reach {
    /// Every trainer.
    All,
    /// These trainers (a HOD's department's).
    Trainers(HashSet<Uuid>),
    /// Themselves only (a trainer).
    Own(Uuid),
}

impl Reach {
    async fn of(db: &impl ConnectionTrait, me: &user::Model) -> Result<Self, DbErr> {
        Ok(match me.role() {
            Role::Admin | Role::DpAcademics => Self::All,
            Role::Hod => Self::Trainers(department_trainers(db, me).await?.into_iter().collect()),
            Role::Trainer | Role::Trainee => Self::Own(me.id),
        })
    }

    fn covers(&self, trainer: Uuid) -> bool {
        match self {
            Self::All => true,
            Self::Trainers(ids) => ids.contains(&trainer),
            Self::Own(id) => *id == trainer,
        }
    }

    /// The rows of windows the caller can see.
    fn scope(&self) -> Condition {
        match self {
            Self::All => Condition::all(),
            Self::Trainers(ids) => {
                Condition::all().add(availability::Column::TrainerId.is_in(ids.iter().copied()))
            }
            Self::Own(id) => Condition::all().add(availability::Column::TrainerId.eq(*id)),
        }
    }
}

/// The trainers of the department `me` heads (none without one).
async fn department_trainers(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> Result<Vec<Uuid>, DbErr> {
    let Some(department) = headed_department(db, me).await? else {
        return Ok(Vec::new());
    };
    department_trainer::Entity::find()
        .select_only()
        .column(department_trainer::Column::TrainerId)
        .filter(department_trainer::Column::DepartmentId.eq(department))
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// A weekday as a body gives it: a name (any case) or 0…6.
fn weekday_value(value: &Value) -> Option<i32> {
    match value {
        Value::String(s) => rest::parse_weekday(s)
            .or_else(|| s.trim().parse::<i32>().ok().filter(|d| (0..7).contains(d))),
        Value::Number(n) => n
            .as_i64()
            .filter(|d| (0..7).contains(d))
            .and_then(|d| i32::try_from(d).ok()),
        _ => None,
    }
}

fn clock_field(c: &mut Checker, name: &str, field: Field<String>) -> Option<i32> {
    let raw = c.value(name, field)?;
    let minute = rest::parse_clock(&raw);
    if minute.is_none() {
        c.error(name, rest::BAD_CLOCK);
    }
    minute
}

/// Checks `input` over `existing` (None: a new window) for a caller of
/// `reach`; the overlap rule is checked apart, under the trainer's lock.
async fn validate(
    db: &impl ConnectionTrait,
    reach: &Reach,
    input: AvailabilityIn,
    existing: Option<&availability::Model>,
    partial: bool,
) -> Result<Draft, Refusal> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let mut trainer = existing.map(|e| e.trainer_id);
    let mut forbidden = false;
    if let Reach::Own(own) = reach {
        trainer = Some(*own);
    } else {
        let raw = match input.trainer {
            Field::Absent if existing.is_some() => None,
            other => c.value("trainer", other),
        };
        if let Some(raw) = raw {
            match trainer_of(db, &raw).await {
                Ok(Some(t)) if t.role() != Role::Trainer => c.error("trainer", NOT_A_TRAINER),
                Ok(Some(t)) => {
                    forbidden = !reach.covers(t.id);
                    trainer = Some(t.id);
                }
                Ok(None) => c.error("trainer", rest::invalid_pk(&raw)),
                Err(e) => return Err(Refusal::Fields(db_fault(e))),
            }
        }
    }
    let mut term_id = existing.and_then(|e| e.term_id);
    match c.nullable(input.term) {
        Some(Some(raw)) => match term_of(db, &raw).await {
            Ok(Some(id)) => term_id = Some(id),
            Ok(None) => c.error("term", rest::invalid_pk(&raw)),
            Err(e) => return Err(Refusal::Fields(db_fault(e))),
        },
        Some(None) => term_id = None,
        None => {}
    }
    let day = c.value("day_of_week", input.day_of_week).and_then(|v| {
        let day = weekday_value(&v);
        if day.is_none() {
            c.error("day_of_week", BAD_DAY);
        }
        day
    });
    let start = clock_field(&mut c, "start_time", input.start_time);
    let end = clock_field(&mut c, "end_time", input.end_time);
    let day = day.or(existing.map(|e| e.day));
    let start = start.or(existing.map(|e| e.start_minute));
    let end = end.or(existing.map(|e| e.end_minute));
    if !c.has_error("start_time")
        && !c.has_error("end_time")
        && let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        c.error(FieldErrors::NON_FIELD, END_AFTER_START);
    }
    if forbidden {
        return Err(Refusal::Forbidden);
    }
    c.finish().map_err(|e| match e {
        ApiError::Validation(errors) => Refusal::Fields(errors),
        _ => Refusal::Fields(FieldErrors::new()),
    })?;
    match (trainer, day, start, end) {
        (Some(trainer_id), Some(day), Some(start), Some(end)) => Ok(Draft {
            trainer_id,
            term_id,
            day,
            start,
            end,
        }),
        _ => Err(Refusal::Fields(FieldErrors::single(
            "trainer",
            kernel::form::REQUIRED,
        ))),
    }
}

/// A database fault while validating: logged, reported as a bare refusal
/// (never its text).
fn db_fault(error: DbErr) -> FieldErrors {
    tracing::error!(%error, "reading a trainer availability reference");
    FieldErrors::single(
        FieldErrors::NON_FIELD,
        "The request could not be checked; try again.",
    )
}

async fn trainer_of(db: &impl ConnectionTrait, raw: &str) -> Result<Option<user::Model>, DbErr> {
    let Ok(id) = Uuid::parse_str(raw.trim()) else {
        return Ok(None);
    };
    user::Entity::find_by_id(id).one(db).await
}

async fn term_of(db: &impl ConnectionTrait, raw: &str) -> Result<Option<Uuid>, DbErr> {
    let Ok(id) = Uuid::parse_str(raw.trim()) else {
        return Ok(None);
    };
    Ok(term::Entity::find_by_id(id).one(db).await?.map(|t| t.id))
}

/// The message for a window that overlaps `other`.
fn overlap_message(other: &Draft) -> String {
    format!(
        "This window overlaps the trainer's window on {} {}–{}.",
        rest::weekday_title(other.day),
        rest::clock(other.start),
        rest::clock(other.end)
    )
}

/// The stored window of the same trainer, day and term value that `draft`
/// overlaps (other than `except`), if any.
async fn stored_overlap(
    db: &impl ConnectionTrait,
    draft: &Draft,
    except: Option<Uuid>,
) -> Result<Option<Draft>, DbErr> {
    let mut query = availability::Entity::find()
        .filter(availability::Column::TrainerId.eq(draft.trainer_id))
        .filter(availability::Column::Day.eq(draft.day))
        .filter(availability::Column::StartMinute.lt(draft.end))
        .filter(availability::Column::EndMinute.gt(draft.start));
    query = match draft.term_id {
        Some(t) => query.filter(availability::Column::TermId.eq(t)),
        None => query.filter(availability::Column::TermId.is_null()),
    };
    if let Some(id) = except {
        query = query.filter(availability::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.as_ref().map(Draft::of))
}

/// Takes the trainer's row lock, so two writes of one trainer's windows
/// check the overlap rule one after the other.
async fn lock_trainer(db: &impl ConnectionTrait, trainer: Uuid) -> Result<(), DbErr> {
    user::Entity::find_by_id(trainer)
        .lock_exclusive()
        .one(db)
        .await
        .map(drop)
}

fn new_row(d: &Draft) -> availability::ActiveModel {
    availability::ActiveModel {
        id: Set(Uuid::new_v4()),
        trainer_id: Set(d.trainer_id),
        term_id: Set(d.term_id),
        day: Set(d.day),
        start_minute: Set(d.start),
        end_minute: Set(d.end),
        created_at: Set(kernel::time::now()),
    }
}

/// The caller's reach; a trainee has none.
async fn reach_of(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Reach> {
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    Ok(Reach::of(db, me).await?)
}

/// A window the caller can see (404 otherwise).
async fn find_visible(
    db: &impl ConnectionTrait,
    reach: &Reach,
    id: Uuid,
) -> ApiResult<availability::Model> {
    availability::Entity::find_by_id(id)
        .filter(reach.scope())
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The day filter's value, as `?day_of_week=monday` (or 0…6).
fn day_filter(list: &ListOf<Roster>) -> ApiResult<Option<i32>> {
    let Some(raw) = list.get("day_of_week") else {
        return Ok(None);
    };
    weekday_value(&Value::String(raw.to_owned()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::field(
                "day_of_week",
                format!("Select a valid choice. {raw} is not one of the available choices."),
            )
        })
}

/// The `?term=` filter: a term's id, or `null` for the windows of every
/// term.
#[derive(Debug, Clone, Copy)]
pub struct TermFilter;

impl utoipa::PartialSchema for TermFilter {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
            )
            .item(kernel::form::schema::choice(&["null"]))
            .into()
    }
}

impl utoipa::ToSchema for TermFilter {}

fn filtered(
    list: &ListOf<Roster>,
    mut query: Select<availability::Entity>,
) -> ApiResult<Select<availability::Entity>> {
    query = list.filter(
        query,
        "trainer",
        availability::Column::TrainerId,
        FilterKind::Uuid,
    )?;
    if list.get("term") == Some("null") {
        query = query.filter(availability::Column::TermId.is_null());
    } else {
        query = list.filter(
            query,
            "term",
            availability::Column::TermId,
            FilterKind::Uuid,
        )?;
    }
    if let Some(day) = day_filter(list)? {
        query = query.filter(availability::Column::Day.eq(day));
    }
    Ok(list.order(
        query,
        &[
            ("day_of_week", availability::Column::Day.into_simple_expr()),
            (
                "start_time",
                availability::Column::StartMinute.into_simple_expr(),
            ),
            (
                "end_time",
                availability::Column::EndMinute.into_simple_expr(),
            ),
            (
                "trainer",
                availability::Column::TrainerId.into_simple_expr(),
            ),
            (
                "created_at",
                availability::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("day_of_week", Order::Asc), ("start_time", Order::Asc)],
        availability::Column::Id,
    ))
}

/// List the windows the caller can see (trainer: own; HOD: their
/// department's trainers'; admin, deputy principal: all; trainee: 403).
/// Filters `trainer`, `term` (`null` for the all-terms windows),
/// `day_of_week`; ordering `day_of_week`, `start_time`, `end_time`,
/// `trainer`, `created_at` (default weekday, then start).
#[utoipa::path(get, path = "/api/trainer-availability/", tag = "timetable", security(("jwt" = [])),
    params(("trainer" = Option<Uuid>, Query), ("term" = inline(Option<TermFilter>), Query), ("day_of_week" = inline(Option<rest::Weekday>), Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AvailabilityOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_availability(
    Db(db): Db,
    me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<AvailabilityOut>>> {
    let reach = reach_of(&db, &me).await?;
    let query = filtered(&list, availability::Entity::find().filter(reach.scope()))?;
    let Page {
        count,
        next,
        previous,
        results,
    } = list.page(&db, query, PAGE).await?;
    Ok(Json(Page {
        count,
        next,
        previous,
        results: AvailabilityOut::many(&db, results).await?,
    }))
}

/// The caller's own windows, unpaged (any staff member; trainee: 403).
/// Filters as the list.
#[utoipa::path(get, path = "/api/trainer-availability/my_availability/", tag = "timetable", security(("jwt" = [])),
    params(("term" = inline(Option<TermFilter>), Query), ("day_of_week" = inline(Option<rest::Weekday>), Query)),
    responses((status = 200, body = Vec<AvailabilityOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn my_availability(
    Db(db): Db,
    Staff(Current(me)): Staff,
    list: ListOf<Roster>,
) -> ApiResult<Json<Vec<AvailabilityOut>>> {
    let query = availability::Entity::find().filter(availability::Column::TrainerId.eq(me.id));
    let rows = filtered(&list, query)?.all(&db).await?;
    Ok(Json(AvailabilityOut::many(&db, rows).await?))
}

/// Add a window (trainer: their own; HOD: a trainer of their department;
/// admin, deputy principal: any trainer).
#[utoipa::path(post, path = "/api/trainer-availability/", tag = "timetable", security(("jwt" = [])),
    request_body = AvailabilityIn,
    responses((status = 201, body = AvailabilityOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_availability(
    Db(db): Db,
    Caller(Staff(Current(me)), actor): Caller<Staff>,
    Json(input): Json<AvailabilityIn>,
) -> ApiResult<(StatusCode, Json<AvailabilityOut>)> {
    let reach = reach_of(&db, &me).await?;
    let draft = validate(&db, &reach, input, None, false).await?;
    let txn = kernel::db::begin_write(&db).await?;
    lock_trainer(&txn, draft.trainer_id).await?;
    if let Some(other) = stored_overlap(&txn, &draft, None).await? {
        return Err(ApiError::non_field(overlap_message(&other)));
    }
    let created = new_row(&draft).insert(&txn).await?;
    let entry = Entry::new(&actor, Action::CREATE, "trainer_availability", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&draft.snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(AvailabilityOut::one(&db, created).await?),
    ))
}

/// One window the caller can see (404 otherwise).
#[utoipa::path(get, path = "/api/trainer-availability/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AvailabilityOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_availability(
    Db(db): Db,
    me: Me,
    Id(id): Id,
) -> ApiResult<Json<AvailabilityOut>> {
    let reach = reach_of(&db, &me).await?;
    let row = find_visible(&db, &reach, id).await?;
    Ok(Json(AvailabilityOut::one(&db, row).await?))
}

async fn update(
    db: &DatabaseConnection,
    me: &user::Model,
    actor: &Actor,
    id: Uuid,
    body: Result<Json<AvailabilityIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<AvailabilityOut>> {
    let reach = reach_of(db, me).await?;
    let existing = find_visible(db, &reach, id).await?;
    let Json(input) = body?;
    let draft = validate(db, &reach, input, Some(&existing), partial).await?;
    let txn = kernel::db::begin_write(db).await?;
    lock_trainer(&txn, draft.trainer_id).await?;
    if let Some(other) = stored_overlap(&txn, &draft, Some(id)).await? {
        return Err(ApiError::non_field(overlap_message(&other)));
    }
    let before = Draft::of(&existing).snapshot();
    let mut row: availability::ActiveModel = existing.into();
    row.trainer_id = Set(draft.trainer_id);
    row.term_id = Set(draft.term_id);
    row.day = Set(draft.day);
    row.start_minute = Set(draft.start);
    row.end_minute = Set(draft.end);
    let updated = row.update(&txn).await?;
    let entry = Entry::new(actor, Action::UPDATE, "trainer_availability", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(&before, &draft.snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(AvailabilityOut::one(db, updated).await?))
}

/// Replace a window (whoever may write it; others' windows are 404).
#[utoipa::path(put, path = "/api/trainer-availability/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = AvailabilityIn,
    responses((status = 200, body = AvailabilityOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_availability(
    Db(db): Db,
    Caller(Staff(Current(me)), actor): Caller<Staff>,
    Id(id): Id,
    body: Result<Json<AvailabilityIn>, ApiError>,
) -> ApiResult<Json<AvailabilityOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a window's fields (whoever may write it).
#[utoipa::path(patch, path = "/api/trainer-availability/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = AvailabilityIn,
    responses((status = 200, body = AvailabilityOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_availability(
    Db(db): Db,
    Caller(Staff(Current(me)), actor): Caller<Staff>,
    Id(id): Id,
    body: Result<Json<AvailabilityIn>, ApiError>,
) -> ApiResult<Json<AvailabilityOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Remove a window (whoever may write it).
#[utoipa::path(delete, path = "/api/trainer-availability/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_availability(
    Db(db): Db,
    Caller(Staff(Current(me)), actor): Caller<Staff>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let reach = reach_of(&db, &me).await?;
    let existing = find_visible(&db, &reach, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let entry = Entry::new(&actor, Action::DELETE, "trainer_availability", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&Draft::of(&existing).snapshot())),
    )
    .await?;
    let deleted = availability::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One refused item of a `bulk_create/`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkError {
    /// Its position in the list, from 0.
    pub index: usize,
    /// Its field errors (`{"field": ["message"]}`).
    #[schema(value_type = Object)]
    pub errors: Value,
}

/// The answer of `bulk_create/`: every window created, or none and why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AvailabilityBulkOut)]
pub struct BulkAvailabilityOut {
    pub created: Vec<AvailabilityOut>,
    pub errors: Vec<BulkError>,
}

/// OpenAPI: a `bulk_create/` body, 1 to [`BULK_MAX`] window bodies.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityList;

impl utoipa::PartialSchema for AvailabilityList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("AvailabilityIn"))
            .min_items(Some(1))
            .max_items(Some(BULK_MAX))
            .into()
    }
}

impl utoipa::ToSchema for AvailabilityList {}

/// The list a `bulk_create/` body holds: a JSON array of window bodies
/// (or an object with one under `availabilities`).
fn bulk_items(content_type: Option<&str>, body: &[u8]) -> ApiResult<Vec<Value>> {
    let media = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match media.as_deref() {
        Some("application/json") => {}
        None if body.is_empty() => {}
        other => {
            return Err(ApiError::UnsupportedMediaType {
                content_type: other.unwrap_or("").to_owned(),
            });
        }
    }
    let value: Value =
        serde_json::from_slice(if body.is_empty() { b"[]" } else { body }).map_err(|e| {
            ApiError::BadRequest {
                detail: format!("JSON parse error - {e}").into(),
                code: "parse_error",
            }
        })?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("availabilities") {
            Some(Value::Array(items)) => items,
            _ => return Err(ApiError::non_field("Expected a list of items.")),
        },
        _ => return Err(ApiError::non_field("Expected a list of items.")),
    };
    if list.is_empty() {
        return Err(ApiError::non_field("This list may not be empty."));
    }
    if list.len() > BULK_MAX {
        return Err(ApiError::non_field(format!(
            "Ensure this list has no more than {BULK_MAX} items."
        )));
    }
    Ok(list)
}

/// Create several windows at once, all or none (same rules as a single
/// create, items checked against stored windows and against each other):
/// 201 `{created, errors: []}`, or 400 `{created: [], errors: [{index, errors}]}`.
#[utoipa::path(post, path = "/api/trainer-availability/bulk_create/", tag = "timetable", security(("jwt" = [])),
    request_body(content = inline(AvailabilityList), content_type = "application/json"),
    responses((status = 201, body = BulkAvailabilityOut), (status = 400), (status = 401), (status = 403), (status = 415)))]
pub async fn bulk_create(
    Db(db): Db,
    Caller(Staff(Current(me)), actor): Caller<Staff>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<BulkAvailabilityOut>)> {
    let reach = reach_of(&db, &me).await?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let items = bulk_items(content_type, &body)?;
    let mut drafts: Vec<Draft> = Vec::with_capacity(items.len());
    let mut errors: Vec<BulkError> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match check_item(&db, &reach, item, &drafts).await? {
            Ok(draft) => drafts.push(draft),
            Err(fields) => errors.push(BulkError {
                index,
                errors: fields.to_json(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(bulk_refused(errors));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut trainers: Vec<Uuid> = drafts.iter().map(|d| d.trainer_id).collect();
    trainers.sort_unstable();
    trainers.dedup();
    for trainer in trainers {
        lock_trainer(&txn, trainer).await?;
    }
    let mut created = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        if let Some(other) = stored_overlap(&txn, draft, None).await? {
            errors.push(BulkError {
                index,
                errors: FieldErrors::single(FieldErrors::NON_FIELD, overlap_message(&other))
                    .to_json(),
            });
            continue;
        }
        created.push(new_row(draft).insert(&txn).await?);
    }
    if !errors.is_empty() {
        txn.rollback().await?;
        return Err(bulk_refused(errors));
    }
    let ids: Vec<Uuid> = created.iter().map(|r| r.id).collect();
    let snapshots: Vec<Value> = drafts.iter().map(Draft::snapshot).collect();
    let entry = Entry::new(
        &actor,
        Action("bulk_create"),
        "trainer_availability",
        ids.len(),
    );
    Log::write(
        &txn,
        entry.changes(json!({"created": ids, "windows": snapshots})),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(BulkAvailabilityOut {
            created: AvailabilityOut::many(&db, created).await?,
            errors: Vec::new(),
        }),
    ))
}

fn bulk_refused(errors: Vec<BulkError>) -> ApiError {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|e| json!({"index": e.index, "errors": e.errors}))
        .collect();
    ApiError::detailed(
        StatusCode::BAD_REQUEST,
        "Some windows are invalid; none was created.",
        "invalid",
        json!({"created": [], "errors": errors}),
    )
}

/// One item of a bulk body, checked like a single create and against the
/// items before it. The outer error is a server fault.
async fn check_item(
    db: &DatabaseConnection,
    reach: &Reach,
    item: Value,
    earlier: &[Draft],
) -> ApiResult<Result<Draft, FieldErrors>> {
    if !item.is_object() {
        return Ok(Err(FieldErrors::single(
            FieldErrors::NON_FIELD,
            "Invalid data. Expected a dictionary.",
        )));
    }
    let input: AvailabilityIn = match kernel::extract::parse_json(item.to_string().as_bytes()) {
        Ok(input) => input,
        Err(ApiError::Validation(fields)) => return Ok(Err(fields)),
        Err(other) => return Err(other),
    };
    let draft = match validate(db, reach, input, None, false).await {
        Ok(d) => d,
        Err(Refusal::Fields(fields)) => return Ok(Err(fields)),
        Err(Refusal::Forbidden) => {
            return Ok(Err(FieldErrors::single("trainer", OTHER_DEPARTMENT)));
        }
    };
    if let Some(other) = earlier.iter().find(|o| o.overlaps(&draft)) {
        return Ok(Err(FieldErrors::single(
            FieldErrors::NON_FIELD,
            overlap_message(other),
        )));
    }
    if let Some(other) = stored_overlap(db, &draft, None).await? {
        return Ok(Err(FieldErrors::single(
            FieldErrors::NON_FIELD,
            overlap_message(&other),
        )));
    }
    Ok(Ok(draft))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use chrono::NaiveDate;
    use kernel::testing::{TestApp, TestBackend};
    use sea_orm::DatabaseConnection;

    use super::*;
    use crate::entities::academic_year;

    async fn user_row(db: &DatabaseConnection) -> Uuid {
        let now = kernel::time::now();
        let id = Uuid::new_v4();
        user::ActiveModel {
            id: Set(id),
            email: Set(format!("{id}@example.org")),
            password: Set(String::new()),
            first_name: Set("T".into()),
            last_name: Set("R".into()),
            role: Set("trainer".into()),
            gender: Set(None),
            phone: Set(None),
            id_number: Set(None),
            address: Set(None),
            date_of_birth: Set(None),
            is_active: Set(true),
            is_superuser: Set(false),
            email_verified: Set(true),
            token_epoch: Set(0),
            date_joined: Set(now),
            last_login: Set(None),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        id
    }

    async fn term_row(db: &DatabaseConnection) -> Uuid {
        let date = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
        let id = Uuid::new_v4();
        let year = academic_year::ActiveModel {
            id: Set(id),
            name: Set(id.simple().to_string()[..8].to_owned()),
            start_date: Set(date(1)),
            end_date: Set(date(12)),
            is_active: Set(true),
            created_at: Set(kernel::time::now()),
        }
        .insert(db)
        .await
        .unwrap();
        term::ActiveModel {
            id: Set(Uuid::new_v4()),
            academic_year_id: Set(year.id),
            name: Set("Term 1".into()),
            number: Set(1),
            start_date: Set(date(1)),
            end_date: Set(date(4)),
            created_at: Set(kernel::time::now()),
        }
        .insert(db)
        .await
        .unwrap()
        .id
    }

    async fn window_row(db: &DatabaseConnection, trainer: Uuid, term: Option<Uuid>, w: Window) {
        new_row(&Draft {
            trainer_id: trainer,
            term_id: term,
            day: w.0,
            start: w.1,
            end: w.2,
        })
        .insert(db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn term_windows_replace_all_terms_windows_and_none_means_always() {
        let app = TestApp::<crate::Roster>::start(TestBackend::Sqlite, &[]).await;
        let db = app.db();
        let term = term_row(db).await;
        let other_term = term_row(db).await;
        let (general, specific, never) =
            (user_row(db).await, user_row(db).await, user_row(db).await);
        window_row(db, general, None, (0, 480, 720)).await;
        window_row(db, general, Some(other_term), (1, 480, 720)).await;
        window_row(db, specific, None, (0, 480, 720)).await;
        window_row(db, specific, Some(term), (2, 600, 660)).await;
        window_row(db, specific, Some(term), (2, 480, 540)).await;

        let found = windows_for_term(db, term, &[general, specific, never])
            .await
            .unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!(found[&general], Some(vec![(0, 480, 720)]));
        assert_eq!(found[&specific], Some(vec![(2, 480, 540), (2, 600, 660)]));
        assert_eq!(found[&never], None);

        let general_windows = found[&general].as_deref();
        assert!(covers(general_windows, 0, 480, 720));
        assert!(covers(general_windows, 0, 600, 660));
        assert!(!covers(general_windows, 0, 700, 780));
        assert!(!covers(general_windows, 1, 480, 540));
        assert!(covers(None, 6, 0, 1440));
    }
}
