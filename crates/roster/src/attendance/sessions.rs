//! Attendance sessions (contract §5, **AttendanceSession**): list and detail
//! (scoped per §0), manual creation, rescheduling, generation from the
//! published timetable, cancellation; start, end and check-in live in
//! [`super::checks`] and are routed here.
//!
//! Shared with makeup sessions: [`Slot`] + [`conflicts`] (the clash rules of
//! a session: another non-canceled session overlapping in time with the same
//! room, trainer or class group; the room inactive or under maintenance),
//! [`refuse`] (the timetable's 400 `conflicts` body) and [`NewSession`] +
//! [`create_session`] (insert, lock and check in the caller's transaction).

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, FieldErrors, FilterKind, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, IntoSimpleExpr, Order, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{SessionOut, SessionStatus, by_id};
use crate::Roster;
use crate::access::{Manager, Me, Role, forbidden};
use crate::audit::Log;
use crate::entities::{
    attendance_session, class_group, class_group_trainee, course, enrollment, room, term,
    timetable_entry, user,
};
use crate::notify::{self, Kind, Note};
use crate::rest::{self, PAGE};
use crate::state::AppState;

kernel::choices!(
    /// A session's state.
    pub SessionStatusChoice = super::SessionStatus::CHOICES
);
use crate::timetable::engine::{Conflict, ConflictKind, school_timezone};
use crate::timetable::entries::TimetableConflict;

/// The audit trail's name for a session.
pub const RESOURCE: &str = "attendance_session";

/// The shortest and longest session, in minutes.
const MIN_MINUTES: i64 = 15;
const MAX_MINUTES: i64 = 8 * 60;
/// The longest range `generate/` takes, in days.
const MAX_RANGE_DAYS: i64 = 31;

const BAD_DATETIME: &str = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
const END_AFTER_START: &str = "End must be after start.";
const CONFLICT_DETAIL: &str =
    "This session clashes with another session or its room is unavailable.";
const NOT_SCHEDULED: &str = "Only a scheduled session can be changed.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, create_session_endpoint))
        .routes(routes!(generate_sessions))
        .routes(routes!(retrieve_session, update_session))
        .routes(routes!(cancel_session))
        .routes(routes!(super::checks::start_session))
        .routes(routes!(super::checks::end_session))
        .routes(routes!(super::checks::check_in))
}

/// `check_in/` beside the documented `check-in/`.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new().route(
        "/api/attendance/sessions/{id}/check_in/",
        post(super::checks::check_in),
    )
}

// ----- conflicts (shared with makeup) -----

/// The time and places a session would take.
#[derive(Debug, Clone)]
pub struct Slot {
    pub room_id: Option<Uuid>,
    pub trainer_id: Option<Uuid>,
    pub class_group_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The session itself (when it is being moved), left out of the check.
    pub except: Option<Uuid>,
}

/// Every rule `slot` breaks, with one message each (school time): another
/// session that is not canceled, overlapping in time (half-open), with the
/// same room (`room_conflict`), trainer (`trainer_conflict`) or class group
/// (`class_group_conflict`) — `entry` is that session's id —; the room
/// inactive (`room_inactive`) or a maintenance window intersecting the slot
/// (`room_maintenance`). Empty: the slot is free. Trainer availability is not
/// enforced for sessions (contract decision).
pub async fn conflicts(db: &impl ConnectionTrait, slot: &Slot) -> Result<Vec<Conflict>, DbErr> {
    let tz = school_timezone(db).await?;
    let mut out = Vec::new();
    let mut places =
        Condition::any().add(attendance_session::Column::ClassGroupId.eq(slot.class_group_id));
    if let Some(r) = slot.room_id {
        places = places.add(attendance_session::Column::RoomId.eq(r));
    }
    if let Some(t) = slot.trainer_id {
        places = places.add(attendance_session::Column::TrainerId.eq(t));
    }
    let mut query = attendance_session::Entity::find()
        .filter(attendance_session::Column::Status.ne(SessionStatus::Canceled.as_str()))
        .filter(attendance_session::Column::ScheduledStart.lt(slot.end))
        .filter(attendance_session::Column::ScheduledEnd.gt(slot.start))
        .filter(places);
    if let Some(id) = slot.except {
        query = query.filter(attendance_session::Column::Id.ne(id));
    }
    let others = query.all(db).await?;
    let courses: HashMap<Uuid, course::Model> = by_id::<course::Entity>(
        db,
        others.iter().map(|s| s.course_id).collect(),
        course::Column::Id,
    )
    .await?;
    let groups: HashMap<Uuid, class_group::Model> = by_id::<class_group::Entity>(
        db,
        others.iter().map(|s| s.class_group_id).collect(),
        class_group::Column::Id,
    )
    .await?;
    let mut people: HashSet<Uuid> = others.iter().filter_map(|s| s.trainer_id).collect();
    people.extend(slot.trainer_id);
    let trainers: HashMap<Uuid, user::Model> =
        by_id::<user::Entity>(db, people, user::Column::Id).await?;
    let the_room = match slot.room_id {
        Some(id) => room::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let room_name = the_room
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    for other in &others {
        let when = span(tz, other.scheduled_start, other.scheduled_end);
        let code = courses
            .get(&other.course_id)
            .map(|c| c.code.clone())
            .unwrap_or_default();
        let group = groups
            .get(&other.class_group_id)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        if slot.room_id.is_some() && other.room_id == slot.room_id {
            out.push(Conflict {
                kind: ConflictKind::RoomConflict,
                message: format!("Room {room_name} is already booked on {when} ({code}, {group})."),
                entry: Some(other.id),
            });
        }
        if slot.trainer_id.is_some() && other.trainer_id == slot.trainer_id {
            let name = slot
                .trainer_id
                .and_then(|t| trainers.get(&t))
                .map(user::Model::full_name)
                .unwrap_or_default();
            out.push(Conflict {
                kind: ConflictKind::TrainerConflict,
                message: format!("{name} is already teaching on {when} ({code}, {group})."),
                entry: Some(other.id),
            });
        }
        if other.class_group_id == slot.class_group_id {
            out.push(Conflict {
                kind: ConflictKind::ClassGroupConflict,
                message: format!("{group} already has a session on {when} ({code})."),
                entry: Some(other.id),
            });
        }
    }
    if let Some(r) = &the_room {
        if !r.is_active {
            out.push(Conflict {
                kind: ConflictKind::RoomInactive,
                message: format!("Room {} is inactive.", r.name),
                entry: None,
            });
        }
        let windows = crate::rooms::maintenance_for(db, &[r.id]).await?;
        if let Some((from, to)) = windows
            .get(&r.id)
            .into_iter()
            .flatten()
            .find(|(from, to)| *from < slot.end && slot.start < *to)
        {
            out.push(Conflict {
                kind: ConflictKind::RoomMaintenance,
                message: format!(
                    "Room {} is under maintenance from {} to {}.",
                    r.name,
                    local(tz, *from),
                    local(tz, *to)
                ),
                entry: None,
            });
        }
    }
    Ok(out)
}

/// The timetable's 400 for `conflicts` (not empty): `{detail, code:
/// "timetable_conflict", non_field_errors, conflicts}`.
pub fn refuse(conflicts: Vec<Conflict>) -> ApiError {
    TimetableConflict::refuse(CONFLICT_DETAIL, conflicts, None)
}

/// `YYYY-MM-DD HH:MM` in the school's timezone.
pub fn local(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// `YYYY-MM-DD HH:MM–HH:MM` in school time.
fn span(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{}–{}",
        local(tz, start),
        end.with_timezone(&tz).format("%H:%M")
    )
}

/// A wall-clock time of the school as a UTC instant (the earlier one when a
/// clock change repeats it, the later when it skips it).
pub fn school_instant(tz: Tz, at: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(at + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| at.and_utc(), |t| t.with_timezone(&Utc))
}

/// A session to insert.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub enrollment: enrollment::Model,
    pub room_id: Option<Uuid>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub notes: Option<String>,
    pub timetable_entry_id: Option<Uuid>,
    pub is_makeup: bool,
    pub makeup_for_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

impl NewSession {
    pub fn slot(&self) -> Slot {
        Slot {
            room_id: self.room_id,
            trainer_id: self.enrollment.trainer_id,
            class_group_id: self.enrollment.class_group_id,
            start: self.start,
            end: self.end,
            except: None,
        }
    }

    fn row(&self) -> attendance_session::ActiveModel {
        let now = kernel::time::now();
        let e = &self.enrollment;
        attendance_session::ActiveModel {
            id: Set(Uuid::new_v4()),
            timetable_entry_id: Set(self.timetable_entry_id),
            enrollment_id: Set(e.id),
            course_id: Set(e.course_id),
            class_group_id: Set(e.class_group_id),
            term_id: Set(e.term_id),
            trainer_id: Set(e.trainer_id),
            active_trainer_id: Set(None),
            room_id: Set(self.room_id),
            scheduled_start: Set(self.start),
            scheduled_end: Set(self.end),
            status: Set(SessionStatus::Scheduled.as_str().to_owned()),
            started_at: Set(None),
            ended_at: Set(None),
            start_latitude: Set(None),
            start_longitude: Set(None),
            start_distance_m: Set(None),
            start_face_distance: Set(None),
            trainer_face_verified: Set(false),
            end_latitude: Set(None),
            end_longitude: Set(None),
            end_distance_m: Set(None),
            is_makeup: Set(self.is_makeup),
            makeup_for_id: Set(self.makeup_for_id),
            cancel_reason: Set(None),
            auto_closed: Set(false),
            notes: Set(self.notes.clone()),
            feedback_count: Set(0),
            content_avg: Set(None),
            delivery_avg: Set(None),
            engagement_avg: Set(None),
            overall_avg: Set(None),
            created_by: Set(self.created_by),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

/// Takes the row locks of the slot's room, trainer and class group (in that
/// order), so two writes of overlapping slots check one after the other.
pub async fn lock_slot(db: &impl ConnectionTrait, slot: &Slot) -> Result<(), DbErr> {
    if let Some(r) = slot.room_id {
        room::Entity::find_by_id(r).lock_exclusive().one(db).await?;
    }
    if let Some(t) = slot.trainer_id {
        user::Entity::find_by_id(t).lock_exclusive().one(db).await?;
    }
    class_group::Entity::find_by_id(slot.class_group_id)
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(())
}

/// Inserts `new` in the caller's transaction after locking its slot and
/// checking [`conflicts`] (refused with [`refuse`]), with one audit row
/// (`create`) by `actor`. The caller commits.
pub async fn create_session(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    new: &NewSession,
) -> ApiResult<attendance_session::Model> {
    let slot = new.slot();
    lock_slot(txn, &slot).await?;
    let found = conflicts(txn, &slot).await?;
    if !found.is_empty() {
        return Err(refuse(found));
    }
    let created = new.row().insert(txn).await?;
    let entry = Entry::new(actor, Action::CREATE, RESOURCE, created.id);
    Log::write(
        txn,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    Ok(created)
}

/// What the audit trail keeps of a session.
pub fn snapshot(s: &attendance_session::Model) -> serde_json::Value {
    json!({
        "enrollment": s.enrollment_id, "room": s.room_id, "trainer": s.trainer_id,
        "scheduled_start": s.scheduled_start, "scheduled_end": s.scheduled_end,
        "status": s.status, "notes": s.notes, "is_makeup": s.is_makeup,
        "makeup_for": s.makeup_for_id, "timetable_entry": s.timetable_entry_id,
        "cancel_reason": s.cancel_reason,
    })
}

/// The trainees of a class group (its members, every academic year the
/// group has; a group belongs to one year).
pub async fn trainees_of(db: &impl ConnectionTrait, class_group: Uuid) -> Result<Vec<Uuid>, DbErr> {
    class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::TraineeId)
        .filter(class_group_trainee::Column::ClassGroupId.eq(class_group))
        .into_tuple()
        .all(db)
        .await
}

// ----- reading -----

/// One session as shown.
pub async fn rendered(
    db: &impl ConnectionTrait,
    s: attendance_session::Model,
) -> ApiResult<SessionOut> {
    super::render(db, vec![s])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// The session `id` if `me` may read it (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<attendance_session::Model> {
    let mut query = attendance_session::Entity::find_by_id(id);
    if let Some(scope) = super::readable(db, me).await? {
        query = query.filter(scope);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

/// The school day `date` as UTC instants `[start, next start)`.
fn day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = school_instant(tz, date.and_time(chrono::NaiveTime::MIN));
    let next = date.succ_opt().unwrap_or(date);
    (
        start,
        school_instant(tz, next.and_time(chrono::NaiveTime::MIN)),
    )
}

fn date_param(list: &ListOf<Roster>, name: &str) -> ApiResult<Option<NaiveDate>> {
    match list.get(name) {
        None => Ok(None),
        Some(raw) => rest::parse_date(raw)
            .map(Some)
            .ok_or_else(|| ApiError::field(name, rest::BAD_DATE)),
    }
}

/// List the sessions the caller can read (admin, deputy principal: all; HOD:
/// their department's class groups; trainer: their own; trainee: their class
/// groups'). Filters `status, trainer, class_group, course, enrollment, room,
/// is_makeup, date, date_from, date_to` (dates in school time); ordering
/// `scheduled_start` (default), `scheduled_end`, `status`, `created_at`.
#[utoipa::path(get, path = "/api/attendance/sessions/", tag = "attendance", security(("jwt" = [])),
    params(("status" = inline(Option<SessionStatusChoice>), Query), ("trainer" = Option<Uuid>, Query), ("class_group" = Option<Uuid>, Query),
           ("course" = Option<Uuid>, Query), ("enrollment" = Option<Uuid>, Query), ("room" = Option<Uuid>, Query),
           ("is_makeup" = Option<bool>, Query), ("date" = Option<NaiveDate>, Query), ("date_from" = Option<NaiveDate>, Query),
           ("date_to" = Option<NaiveDate>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query),
           ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<SessionOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn list_sessions(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<SessionOut>>> {
    use attendance_session::Column as C;
    let mut query = attendance_session::Entity::find();
    if let Some(scope) = super::readable(&db, &me).await? {
        query = query.filter(scope);
    }
    query = list.filter(
        query,
        "status",
        C::Status,
        FilterKind::Choice(SessionStatus::CHOICES),
    )?;
    query = list.filter(query, "trainer", C::TrainerId, FilterKind::Uuid)?;
    query = list.filter(query, "class_group", C::ClassGroupId, FilterKind::Uuid)?;
    query = list.filter(query, "course", C::CourseId, FilterKind::Uuid)?;
    query = list.filter(query, "enrollment", C::EnrollmentId, FilterKind::Uuid)?;
    query = list.filter(query, "room", C::RoomId, FilterKind::Uuid)?;
    query = list.filter(query, "is_makeup", C::IsMakeup, FilterKind::Bool)?;
    let tz = school_timezone(&db).await?;
    if let Some(date) = date_param(&list, "date")? {
        let (from, to) = day_bounds(tz, date);
        query = query
            .filter(C::ScheduledStart.gte(from))
            .filter(C::ScheduledStart.lt(to));
    }
    if let Some(date) = date_param(&list, "date_from")? {
        query = query.filter(C::ScheduledStart.gte(day_bounds(tz, date).0));
    }
    if let Some(date) = date_param(&list, "date_to")? {
        query = query.filter(C::ScheduledStart.lt(day_bounds(tz, date).1));
    }
    let query = list.order(
        query,
        &[
            ("scheduled_start", C::ScheduledStart.into_simple_expr()),
            ("scheduled_end", C::ScheduledEnd.into_simple_expr()),
            ("status", C::Status.into_simple_expr()),
            ("created_at", C::CreatedAt.into_simple_expr()),
        ],
        &[("scheduled_start", Order::Asc)],
        C::Id,
    );
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
        results: super::render(&db, results).await?,
    }))
}

/// One session the caller can read (404 otherwise).
#[utoipa::path(get, path = "/api/attendance/sessions/{id}/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionOut), (status = 401), (status = 404)))]
pub async fn retrieve_session(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<SessionOut>> {
    let s = visible(&db, &me, id).await?;
    Ok(Json(rendered(&db, s).await?))
}

// ----- writing -----

/// Whether `me` may make sessions of `e`: admin, deputy principal, the HOD
/// of its class group's department, its trainer.
pub async fn may_schedule(
    db: &impl ConnectionTrait,
    me: &user::Model,
    e: &enrollment::Model,
) -> Result<bool, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => true,
        Role::Trainer => e.trainer_id == Some(me.id),
        Role::Hod => {
            e.trainer_id == Some(me.id)
                || crate::timetable::schedule::readable_groups(db, me)
                    .await?
                    .is_some_and(|groups| groups.contains(&e.class_group_id))
        }
        Role::Trainee => false,
    })
}

/// An instant of a body: RFC 3339, or a school wall-clock time
/// `YYYY-MM-DDTHH:MM[:SS]`.
pub fn parse_instant(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    use chrono::SubsecRound;
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc).trunc_subsecs(0));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .map(|n| school_instant(tz, n).trunc_subsecs(0))
}

fn instant_field(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    c.value(name, field).and_then(|raw| {
        let t = parse_instant(&raw, tz);
        if t.is_none() {
            c.error(name, BAD_DATETIME);
        }
        t
    })
}

/// Times of a session: end after start, 15 min to 8 h, end in the future.
fn check_times(c: &mut Checker, start: DateTime<Utc>, end: DateTime<Utc>) {
    if c.has_error("scheduled_start") || c.has_error("scheduled_end") {
        return;
    }
    let minutes = (end - start).num_minutes();
    if end <= start {
        c.error(FieldErrors::NON_FIELD, END_AFTER_START);
    } else if minutes < MIN_MINUTES || (end - start) > Duration::minutes(MAX_MINUTES) {
        c.error(
            FieldErrors::NON_FIELD,
            "A session lasts from 15 minutes to 8 hours.",
        );
    } else if end <= kernel::time::now() {
        c.error("scheduled_end", "The session must end in the future.");
    }
}

/// A manual session.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub enrollment: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub room: Field<String>,
    /// RFC 3339, or school time `YYYY-MM-DDTHH:MM`.
    #[serde(default)]
    #[schema(value_type = DateTime<Utc>, required = true)]
    pub scheduled_start: Field<String>,
    #[serde(default)]
    #[schema(value_type = DateTime<Utc>, required = true)]
    pub scheduled_end: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Field<String>,
}

/// Make a session by hand (admin, deputy principal, the HOD of the
/// enrollment's department, its trainer): 15 min–8 h, ending in the
/// future, refused with the timetable's `conflicts` body when it clashes.
#[utoipa::path(post, path = "/api/attendance/sessions/", tag = "attendance", security(("jwt" = [])),
    request_body = SessionIn,
    responses((status = 201, body = SessionOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_session_endpoint(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<SessionIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    if me.role() == Role::Trainee {
        return Err(forbidden());
    }
    let Json(input) = body?;
    let tz = school_timezone(&db).await?;
    let mut c = Checker::new();
    let enrollment_raw = c.value("enrollment", input.enrollment);
    let room_raw = c.value("room", input.room);
    let start = instant_field(&mut c, "scheduled_start", input.scheduled_start, tz);
    let end = instant_field(&mut c, "scheduled_end", input.scheduled_end, tz);
    let notes = c.optional_text("notes", input.notes, 2000);
    if let (Some(s), Some(e)) = (start, end) {
        check_times(&mut c, s, e);
    }
    let mut found_enrollment = None;
    if let Some(raw) = &enrollment_raw {
        match rest::referenced::<enrollment::Entity>(&db, "enrollment", raw).await {
            Ok(e) if matches!(e.status.as_str(), "cancelled" | "completed") => {
                c.error("enrollment", format!("This enrollment is {}.", e.status))
            }
            Ok(e) => found_enrollment = Some(e),
            Err(ApiError::Validation(_)) => c.error("enrollment", rest::invalid_pk(raw)),
            Err(other) => return Err(other),
        }
    }
    let mut room_id = None;
    if let Some(raw) = &room_raw {
        match rest::referenced::<room::Entity>(&db, "room", raw).await {
            Ok(r) => room_id = Some(r.id),
            Err(ApiError::Validation(_)) => c.error("room", rest::invalid_pk(raw)),
            Err(other) => return Err(other),
        }
    }
    c.finish()?;
    let (Some(e), Some(start), Some(end)) = (found_enrollment, start, end) else {
        return Err(ApiError::field("enrollment", kernel::form::REQUIRED));
    };
    if !may_schedule(&db, &me, &e).await? {
        return Err(forbidden());
    }
    let new = NewSession {
        enrollment: e,
        room_id,
        start,
        end,
        notes: notes.flatten(),
        timetable_entry_id: None,
        is_makeup: false,
        makeup_for_id: None,
        created_by: Some(me.id),
    };
    let txn = kernel::db::begin_write(&db).await?;
    let created = create_session(&*txn, &actor, &new).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(rendered(&db, created).await?)))
}

/// What a PATCH of a scheduled session may change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionPatch {
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub room: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_start: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_end: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Field<String>,
    /// Admin, deputy principal and HOD only; a trainer.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub trainer: Field<String>,
}

/// Change a scheduled session (whoever manages it; the trainer only by
/// admin, deputy principal or HOD): re-checked for conflicts; trainees are
/// told of a new time, a new trainer of the session.
#[utoipa::path(patch, path = "/api/attendance/sessions/{id}/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = SessionPatch,
    responses((status = 200, body = SessionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_session(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<SessionPatch>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let existing = visible(&db, &me, id).await?;
    if !super::manages(&db, &me, &existing).await? {
        return Err(forbidden());
    }
    let Json(input) = body?;
    if !input.trainer.is_absent()
        && !matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod)
    {
        return Err(forbidden());
    }
    if existing.status != SessionStatus::Scheduled.as_str() {
        return Err(rest::refused(NOT_SCHEDULED, "invalid_state"));
    }
    let tz = school_timezone(&db).await?;
    let mut c = Checker::partial(true);
    let start = match input.scheduled_start {
        Field::Absent => None,
        f => instant_field(&mut c, "scheduled_start", f, tz),
    };
    let end = match input.scheduled_end {
        Field::Absent => None,
        f => instant_field(&mut c, "scheduled_end", f, tz),
    };
    let notes = c.optional_text("notes", input.notes, 2000);
    let mut room_id = existing.room_id;
    if let Some(raw) = c.value("room", input.room) {
        match rest::referenced::<room::Entity>(&db, "room", &raw).await {
            Ok(r) => room_id = Some(r.id),
            Err(ApiError::Validation(_)) => c.error("room", rest::invalid_pk(&raw)),
            Err(other) => return Err(other),
        }
    }
    let mut trainer_id = existing.trainer_id;
    if let Some(raw) = c.value("trainer", input.trainer) {
        match rest::referenced::<user::Entity>(&db, "trainer", &raw).await {
            Ok(u) if u.role() != Role::Trainer => c.error("trainer", "The user is not a trainer."),
            Ok(u) => trainer_id = Some(u.id),
            Err(ApiError::Validation(_)) => c.error("trainer", rest::invalid_pk(&raw)),
            Err(other) => return Err(other),
        }
    }
    let new_start = start.unwrap_or(existing.scheduled_start);
    let new_end = end.unwrap_or(existing.scheduled_end);
    let moved = new_start != existing.scheduled_start || new_end != existing.scheduled_end;
    if moved || start.is_some() || end.is_some() {
        check_times(&mut c, new_start, new_end);
    }
    c.finish()?;
    let slot = Slot {
        room_id,
        trainer_id,
        class_group_id: existing.class_group_id,
        start: new_start,
        end: new_end,
        except: Some(existing.id),
    };
    let txn = kernel::db::begin_write(&db).await?;
    lock_slot(&*txn, &slot).await?;
    let found = conflicts(&*txn, &slot).await?;
    if !found.is_empty() {
        return Err(refuse(found));
    }
    let now = kernel::time::now();
    let mut update = attendance_session::Entity::update_many()
        .col_expr(attendance_session::Column::RoomId, Expr::value(room_id))
        .col_expr(
            attendance_session::Column::TrainerId,
            Expr::value(trainer_id),
        )
        .col_expr(
            attendance_session::Column::ScheduledStart,
            Expr::value(new_start),
        )
        .col_expr(
            attendance_session::Column::ScheduledEnd,
            Expr::value(new_end),
        )
        .col_expr(attendance_session::Column::UpdatedAt, Expr::value(now));
    if let Some(notes) = notes {
        update = update.col_expr(attendance_session::Column::Notes, Expr::value(notes));
    }
    let done = update
        .filter(attendance_session::Column::Id.eq(id))
        .filter(attendance_session::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(rest::refused(NOT_SCHEDULED, "invalid_state"));
    }
    let updated = attendance_session::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let entry = Entry::new(&actor, Action::UPDATE, RESOURCE, id);
    Log::write(
        &*txn,
        entry.changes(kernel::audit::diff(
            &snapshot(&existing),
            &snapshot(&updated),
        )),
    )
    .await?;
    let code = course_code(&*txn, updated.course_id).await?;
    if moved {
        let message = format!(
            "{code} has been moved to {}.",
            span(tz, updated.scheduled_start, updated.scheduled_end)
        );
        let note = Note::new(Kind::Session, "Session rescheduled", &message).about(RESOURCE, id);
        notify::send(
            &*txn,
            trainees_of(&*txn, updated.class_group_id).await?,
            &note,
        )
        .await?;
    }
    if updated.trainer_id != existing.trainer_id
        && let Some(t) = updated.trainer_id
    {
        let message = format!(
            "You now teach {code} on {}.",
            span(tz, updated.scheduled_start, updated.scheduled_end)
        );
        let note =
            Note::new(Kind::Session, "Session assigned to you", &message).about(RESOURCE, id);
        notify::send(&*txn, [t], &note).await?;
    }
    txn.commit().await?;
    if moved || updated.trainer_id != existing.trainer_id {
        let mut people = trainees_of(&db, updated.class_group_id).await?;
        people.extend(updated.trainer_id);
        notify::wake(&state, people);
    }
    Ok(Json(rendered(&db, updated).await?))
}

/// The code of course `id` (empty when gone).
pub async fn course_code(db: &impl ConnectionTrait, id: Uuid) -> Result<String, DbErr> {
    Ok(course::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|c| c.code)
        .unwrap_or_default())
}

/// Why a session is canceled.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CancelIn {
    /// Required, at most 1000 characters.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Field<String>,
}

/// Cancel a session (admin, deputy principal, HOD, its trainer): scheduled →
/// canceled; active → canceled by an administrator only. The class group is
/// told.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/cancel/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = CancelIn,
    responses((status = 200, body = SessionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn cancel_session(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<CancelIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let existing = visible(&db, &me, id).await?;
    if !super::manages(&db, &me, &existing).await? {
        return Err(forbidden());
    }
    let Json(input) = body?;
    let mut c = Checker::new();
    let reason = c.text("reason", input.reason, 1000);
    c.finish()?;
    let reason = reason.unwrap_or_default();
    let allowed: &[&str] = if me.role() == Role::Admin {
        &["scheduled", "active"]
    } else {
        &["scheduled"]
    };
    let refusal = || {
        let detail = if existing.status == SessionStatus::Active.as_str() {
            "Only an administrator can cancel an active session."
        } else {
            "Only a scheduled or active session can be canceled."
        };
        rest::refused(detail, "invalid_state")
    };
    if !allowed.contains(&existing.status.as_str()) {
        return Err(refusal());
    }
    let txn = kernel::db::begin_write(&db).await?;
    let now = kernel::time::now();
    let done = attendance_session::Entity::update_many()
        .col_expr(
            attendance_session::Column::Status,
            Expr::value(SessionStatus::Canceled.as_str()),
        )
        .col_expr(
            attendance_session::Column::CancelReason,
            Expr::value(reason.clone()),
        )
        .col_expr(
            attendance_session::Column::ActiveTrainerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(attendance_session::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_session::Column::Id.eq(id))
        .filter(attendance_session::Column::Status.is_in(allowed.iter().copied()))
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(refusal());
    }
    let updated = attendance_session::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let entry = Entry::new(&actor, Action("cancel"), RESOURCE, id);
    Log::write(
        &*txn,
        entry.changes(kernel::audit::diff(
            &snapshot(&existing),
            &snapshot(&updated),
        )),
    )
    .await?;
    let tz = school_timezone(&*txn).await?;
    let code = course_code(&*txn, updated.course_id).await?;
    let message = format!(
        "{code} on {} has been canceled: {reason}",
        span(tz, updated.scheduled_start, updated.scheduled_end)
    );
    let note = Note::new(Kind::Session, "Session canceled", &message).about(RESOURCE, id);
    let mut people = trainees_of(&*txn, updated.class_group_id).await?;
    people.extend(updated.trainer_id.filter(|t| *t != me.id));
    notify::send(&*txn, people.iter().copied(), &note).await?;
    txn.commit().await?;
    notify::wake(&state, people);
    Ok(Json(rendered(&db, updated).await?))
}

// ----- generation -----

/// A range of the published timetable to make sessions of.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GenerateSessionsIn {
    /// `YYYY-MM-DD`, school time.
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub date_from: Field<String>,
    /// `YYYY-MM-DD`, at most 31 days after `date_from`.
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub date_to: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub term: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub class_group: Field<String>,
}

/// How many sessions a generation made and found already made.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Generated {
    pub created: u64,
    pub skipped: u64,
}

/// Make one session per occurrence of the published timetable in the range
/// (admin, deputy principal, HOD — their department's class groups):
/// idempotent, `{created, skipped}`.
#[utoipa::path(post, path = "/api/attendance/sessions/generate/", tag = "attendance", security(("jwt" = [])),
    request_body = GenerateSessionsIn,
    responses((status = 200, body = Generated), (status = 400), (status = 401), (status = 403)))]
pub async fn generate_sessions(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    body: Result<Json<GenerateSessionsIn>, ApiError>,
) -> ApiResult<Json<Generated>> {
    let Json(input) = body?;
    let mut c = Checker::new();
    let date = |c: &mut Checker, name: &str, field: Field<String>| {
        c.value(name, field).and_then(|raw| {
            let d = rest::parse_date(&raw);
            if d.is_none() {
                c.error(name, rest::BAD_DATE);
            }
            d
        })
    };
    let from = date(&mut c, "date_from", input.date_from);
    let to = date(&mut c, "date_to", input.date_to);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            c.error("date_to", "date_to must not be before date_from.");
        } else if (t - f).num_days() > MAX_RANGE_DAYS {
            c.error(
                "date_to",
                format!("The range may span at most {MAX_RANGE_DAYS} days."),
            );
        }
    }
    let mut term_id = None;
    if let Some(Some(raw)) = c.nullable(input.term) {
        match rest::referenced::<term::Entity>(&db, "term", &raw).await {
            Ok(t) => term_id = Some(t.id),
            Err(ApiError::Validation(_)) => c.error("term", rest::invalid_pk(&raw)),
            Err(other) => return Err(other),
        }
    }
    let mut group_id = None;
    if let Some(Some(raw)) = c.nullable(input.class_group) {
        match rest::referenced::<class_group::Entity>(&db, "class_group", &raw).await {
            Ok(g) => group_id = Some(g.id),
            Err(ApiError::Validation(_)) => c.error("class_group", rest::invalid_pk(&raw)),
            Err(other) => return Err(other),
        }
    }
    c.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::field("date_from", kernel::form::REQUIRED));
    };
    let readable = crate::timetable::schedule::readable_groups(&db, &me).await?;
    let groups: Option<HashSet<Uuid>> = match (readable, group_id) {
        (None, None) => None,
        (None, Some(g)) => Some(HashSet::from([g])),
        (Some(own), Some(g)) if own.contains(&g) => Some(HashSet::from([g])),
        (Some(_), Some(_)) => return Err(forbidden()),
        (Some(own), None) => Some(own),
    };
    let txn = kernel::db::begin_write(&db).await?;
    let out = materialize(&*txn, from, to, term_id, groups.as_ref(), None, Some(me.id)).await?;
    let entry = Entry::new(&actor, Action("generate"), RESOURCE, out.created);
    Log::write(
        &*txn,
        entry.changes(json!({
            "date_from": from, "date_to": to, "term": term_id, "class_group": group_id,
            "created": out.created, "skipped": out.skipped,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Makes the sessions of every published timetable occurrence from `from`
/// to `to` (school dates, inclusive), narrowed to `term` and `groups`:
/// recurring entries on their weekday within their term's dates, one-off
/// entries on their date; enrollments cancelled are left out. Insert if
/// absent: an occurrence already made (unique `(timetable_entry,
/// scheduled_start)`, also when another generation made it meanwhile) is
/// skipped. Occurrences starting before `not_before` are left out (the
/// daily job does not make sessions that could no longer be started). Runs in the caller's transaction (one savepoint per insert).
pub async fn materialize<C>(
    txn: &C,
    from: NaiveDate,
    to: NaiveDate,
    term_filter: Option<Uuid>,
    groups: Option<&HashSet<Uuid>>,
    not_before: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
) -> Result<Generated, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let tz = school_timezone(txn).await?;
    let mut query = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(
            Condition::any()
                .add(timetable_entry::Column::IsRecurring.eq(true))
                .add(timetable_entry::Column::SpecificDate.between(from, to)),
        );
    if let Some(t) = term_filter {
        query = query.filter(timetable_entry::Column::TermId.eq(t));
    }
    let entries = query.all(txn).await?;
    if entries.is_empty() {
        return Ok(Generated::default());
    }
    let enrollments: HashMap<Uuid, enrollment::Model> = by_id::<enrollment::Entity>(
        txn,
        entries.iter().map(|e| e.enrollment_id).collect(),
        enrollment::Column::Id,
    )
    .await?;
    let terms: HashMap<Uuid, term::Model> = by_id::<term::Entity>(
        txn,
        entries.iter().map(|e| e.term_id).collect(),
        term::Column::Id,
    )
    .await?;
    let mut wanted: Vec<(
        timetable_entry::Model,
        enrollment::Model,
        DateTime<Utc>,
        DateTime<Utc>,
    )> = Vec::new();
    for entry in entries {
        let Some(e) = enrollments.get(&entry.enrollment_id) else {
            continue;
        };
        if e.status == "cancelled" || groups.is_some_and(|g| !g.contains(&e.class_group_id)) {
            continue;
        }
        let Some(t) = terms.get(&entry.term_id) else {
            continue;
        };
        let dates: Vec<NaiveDate> = if entry.is_recurring {
            let first = from.max(t.start_date);
            let last = to.min(t.end_date);
            first
                .iter_days()
                .take_while(|d| *d <= last)
                .filter(|d| rest::weekday_of(*d) == entry.day)
                .collect()
        } else {
            entry
                .specific_date
                .filter(|d| *d >= from && *d <= to)
                .into_iter()
                .collect()
        };
        for d in dates {
            let at = |minute: i32| {
                school_instant(
                    tz,
                    d.and_time(chrono::NaiveTime::MIN) + Duration::minutes(i64::from(minute)),
                )
            };
            let (start, end) = (at(entry.start_minute), at(entry.end_minute));
            if not_before.is_some_and(|limit| start < limit) {
                continue;
            }
            wanted.push((entry.clone(), e.clone(), start, end));
        }
    }
    let mut out = Generated::default();
    if wanted.is_empty() {
        return Ok(out);
    }
    let entry_ids: HashSet<Uuid> = wanted.iter().map(|w| w.0.id).collect();
    let lowest = wanted
        .iter()
        .map(|w| w.2)
        .min()
        .unwrap_or_else(kernel::time::now);
    let highest = wanted
        .iter()
        .map(|w| w.2)
        .max()
        .unwrap_or_else(kernel::time::now);
    let mut existing: HashSet<(Uuid, i64)> = HashSet::new();
    for chunk in entry_ids.iter().copied().collect::<Vec<_>>().chunks(500) {
        let rows: Vec<(Option<Uuid>, DateTime<Utc>)> = attendance_session::Entity::find()
            .select_only()
            .column(attendance_session::Column::TimetableEntryId)
            .column(attendance_session::Column::ScheduledStart)
            .filter(attendance_session::Column::TimetableEntryId.is_in(chunk.iter().copied()))
            .filter(attendance_session::Column::ScheduledStart.between(lowest, highest))
            .into_tuple()
            .all(txn)
            .await?;
        existing.extend(
            rows.into_iter()
                .filter_map(|(e, s)| e.map(|e| (e, s.timestamp()))),
        );
    }
    for (entry, e, start, end) in wanted {
        if existing.contains(&(entry.id, start.timestamp())) {
            out.skipped += 1;
            continue;
        }
        let row = NewSession {
            enrollment: e,
            room_id: Some(entry.room_id),
            start,
            end,
            notes: None,
            timetable_entry_id: Some(entry.id),
            is_makeup: entry.is_makeup,
            makeup_for_id: None,
            created_by,
        }
        .row();
        let savepoint = txn.begin().await?;
        match row.insert(&savepoint).await {
            Ok(_) => {
                savepoint.commit().await?;
                out.created += 1;
            }
            Err(error)
                if matches!(
                    error.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                savepoint.rollback().await?;
                out.skipped += 1;
            }
            Err(error) => return Err(error),
        }
        existing.insert((entry.id, start.timestamp()));
    }
    Ok(out)
}
