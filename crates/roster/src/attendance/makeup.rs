//! Makeup sessions (contract §5, **Makeup**): free slots for replacing a
//! missed or canceled session, and booking one.
//!
//! A slot has the original's duration, starts in the future on a working
//! day inside school hours clear of breaks, and passes the timetable's
//! rules for a one-off entry on that date (room, trainer and class group
//! free of published and hand-made entries, no maintenance, the trainer's
//! availability, the room's type, size and daily limit — the original's
//! own room is taken whatever its type) and the sessions' rule (no other
//! session that is not canceled in the same room, with the same trainer or
//! class group). Booking re-checks all of it, then
//! [`super::sessions::create_session`] takes the slot's locks and checks the
//! sessions again in its transaction.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
use kernel::audit::Caller;
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, Id, Json, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::sessions::{self, NewSession};
use super::{SessionOut, SessionStatus};
use crate::access::{Me, Role};
use crate::entities::{attendance_session, course, enrollment, room, timetable_entry, user};
use crate::notify::{self, Kind, Note};
use crate::rest;
use crate::state::AppState;
use crate::timetable::engine::{Candidate, Conflict, ConflictKind, TermPlan};

/// The most slots one answer lists.
const MAX_SLOTS: usize = 20;
/// The longest search, in days.
const MAX_DAYS: u64 = 31;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(makeup_slots))
        .routes(routes!(create_makeup))
}

/// A free slot for a makeup.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MakeupSlot {
    pub date: NaiveDate,
    /// `HH:MM`, school time.
    pub start_time: String,
    pub end_time: String,
    pub room: Uuid,
    pub room_name: String,
}

/// `?from=YYYY-MM-DD&days=7`.
#[derive(Debug, Default, Deserialize)]
pub struct SlotQuery {
    pub from: Option<String>,
    pub days: Option<String>,
}

/// The original session, if `me` may book its makeup: 404 when they cannot
/// read it, 403 when they may not schedule its enrollment, 400
/// `invalid_state` unless it was missed or canceled.
async fn original(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<(attendance_session::Model, enrollment::Model)> {
    let session = sessions::visible(db, me, id).await?;
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let enrollment = enrollment::Entity::find_by_id(session.enrollment_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !sessions::may_schedule(db, me, &enrollment).await? {
        return Err(crate::access::forbidden());
    }
    if !matches!(
        SessionStatus::parse(&session.status),
        Some(SessionStatus::Missed | SessionStatus::Canceled)
    ) {
        return Err(rest::refused(
            "Only a missed or canceled session can get a makeup.",
            "invalid_state",
        ));
    }
    Ok((session, enrollment))
}

/// What a slot search needs, loaded once.
struct Search {
    plan: TermPlan,
    session: attendance_session::Model,
    enrollment: enrollment::Model,
    session_type: String,
    minutes: i32,
    /// The original's room first, then the other suitable active rooms,
    /// smallest first.
    rooms: Vec<(Uuid, String)>,
}

impl Search {
    async fn load(
        db: &impl ConnectionTrait,
        session: attendance_session::Model,
        enrollment: enrollment::Model,
    ) -> ApiResult<Self> {
        let plan = TermPlan::load(db, session.term_id).await?;
        let session_type = match session.timetable_entry_id {
            Some(entry) => timetable_entry::Entity::find_by_id(entry)
                .one(db)
                .await?
                .map(|e| e.session_type),
            None => None,
        }
        .unwrap_or_else(|| "theory".to_owned());
        let minutes =
            i32::try_from((session.scheduled_end - session.scheduled_start).num_minutes())
                .unwrap_or(0)
                .max(1);
        let mut others: Vec<(i32, String, Uuid)> = plan
            .rooms()
            .filter(|r| Some(r.id) != session.room_id)
            .filter(|r| plan.room_suitable(enrollment.id, &session_type, r.id))
            .map(|r| (r.capacity, r.name.clone(), r.id))
            .collect();
        others.sort();
        let mut rooms = Vec::with_capacity(others.len() + 1);
        if let Some(own) = session.room_id.and_then(|id| plan.room(id))
            && own.is_active
        {
            rooms.push((own.id, own.name.clone()));
        }
        rooms.extend(others.into_iter().map(|(_, name, id)| (id, name)));
        Ok(Self {
            plan,
            session,
            enrollment,
            session_type,
            minutes,
            rooms,
        })
    }

    /// The UTC instants of `start` minutes after midnight of `date`.
    fn instants(&self, date: NaiveDate, start: i32) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = date.and_time(chrono::NaiveTime::MIN);
        let at = |m: i32| {
            sessions::school_instant(
                self.plan.timezone,
                midnight + chrono::Duration::minutes(i64::from(m)),
            )
        };
        (at(start), at(start + self.minutes))
    }

    /// The timetable rules `room` breaks at `date`, `start` (the original's
    /// own room is taken whatever its type and size).
    fn timetable_conflicts(&self, date: NaiveDate, start: i32, room: Uuid) -> Vec<Conflict> {
        let candidate = Candidate {
            id: None,
            enrollment: self.enrollment.id,
            room,
            session_type: self.session_type.clone(),
            day: rest::weekday_of(date),
            start,
            end: start + self.minutes,
            specific_date: Some(date),
            draft_version: None,
        };
        let own = Some(room) == self.session.room_id;
        self.plan
            .check(&candidate)
            .into_iter()
            .filter(|k| {
                !(own
                    && matches!(
                        k.kind,
                        ConflictKind::RoomTypeMismatch | ConflictKind::RoomCapacity
                    ))
            })
            .collect()
    }

    /// Free slots from `from` for `days` days, earliest first, at most
    /// [`MAX_SLOTS`]; one room per time (the first free in order).
    async fn slots(
        &self,
        db: &impl ConnectionTrait,
        from: NaiveDate,
        days: u64,
    ) -> ApiResult<Vec<MakeupSlot>> {
        let last = from.checked_add_days(Days::new(days)).unwrap_or(from);
        let (range_start, _) = self.instants(from, 0);
        let (range_end, _) = self.instants(last, 0);
        let trainer = self.enrollment.trainer_id;
        let room_ids: Vec<Uuid> = self.rooms.iter().map(|(id, _)| *id).collect();
        let mut places = Condition::any()
            .add(attendance_session::Column::ClassGroupId.eq(self.enrollment.class_group_id))
            .add(attendance_session::Column::RoomId.is_in(room_ids));
        if let Some(t) = trainer {
            places = places.add(attendance_session::Column::TrainerId.eq(t));
        }
        let busy = attendance_session::Entity::find()
            .filter(attendance_session::Column::Status.ne(SessionStatus::Canceled.as_str()))
            .filter(attendance_session::Column::Id.ne(self.session.id))
            .filter(attendance_session::Column::ScheduledStart.lt(range_end))
            .filter(attendance_session::Column::ScheduledEnd.gt(range_start))
            .filter(places)
            .all(db)
            .await?;
        let now = kernel::time::now();
        let hours = &self.plan.hours;
        let step = hours.slot_minutes.max(5);
        let mut out = Vec::new();
        let mut date = from;
        while date < last && out.len() < MAX_SLOTS {
            let day = rest::weekday_of(date);
            let mut start = hours.day_start;
            while start + self.minutes <= hours.day_end && out.len() < MAX_SLOTS {
                let end = start + self.minutes;
                let (s, e) = self.instants(date, start);
                if s > now && self.plan.fits_grid(day, start, end) {
                    let clash = |room: Uuid| {
                        busy.iter().any(|b| {
                            b.scheduled_start < e
                                && s < b.scheduled_end
                                && (b.room_id == Some(room)
                                    || b.class_group_id == self.enrollment.class_group_id
                                    || (trainer.is_some() && b.trainer_id == trainer))
                        })
                    };
                    if let Some((room, name)) = self.rooms.iter().find(|(room, _)| {
                        !clash(*room) && self.timetable_conflicts(date, start, *room).is_empty()
                    }) {
                        out.push(MakeupSlot {
                            date,
                            start_time: rest::clock(start),
                            end_time: rest::clock(end),
                            room: *room,
                            room_name: name.clone(),
                        });
                    }
                }
                start += step;
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        Ok(out)
    }
}

/// Free slots for a makeup of a missed or canceled session (staff who may
/// schedule its enrollment): same duration, future, on working days inside
/// school hours, clear of breaks, maintenance, the timetable and other
/// sessions of the room, trainer and class group, inside the trainer's
/// availability; at most 20, earliest first. `from` defaults to today
/// (school time), `days` to 7 (1–31).
#[utoipa::path(get, path = "/api/attendance/sessions/{id}/makeup-slots/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("from" = Option<NaiveDate>, Query), ("days" = Option<u32>, Query, minimum = 1, maximum = 31)),
    responses((status = 200, body = Vec<MakeupSlot>), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn makeup_slots(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(query): Query<SlotQuery>,
) -> ApiResult<Json<Vec<MakeupSlot>>> {
    let (session, enrollment) = original(&db, &me, id).await?;
    let from = match query
        .from
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => rest::parse_date(raw).ok_or_else(|| {
            ApiError::field(
                "from",
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            )
        })?,
        None => crate::timetable::schedule::school_today(&db).await?,
    };
    let days = match query
        .days
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                ApiError::field(
                    "days",
                    format!("Enter a whole number from 1 to {MAX_DAYS}."),
                )
            })?,
        None => 7,
    };
    let search = Search::load(&db, session, enrollment).await?;
    Ok(Json(search.slots(&db, from, days).await?))
}

/// A makeup booking.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MakeupIn {
    /// `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub date: Field<String>,
    /// `HH:MM`, school time; the makeup lasts as long as the original.
    #[serde(default)]
    #[schema(schema_with = crate::rest::clock_schema, required = true)]
    pub start_time: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub room: Field<String>,
}

/// Book a makeup of a missed or canceled session (staff who may schedule
/// its enrollment) → 201 the new session (`is_makeup`, `makeup_for`),
/// re-checked like a slot (refused with the timetable's `conflicts` body);
/// the trainer and the class group's trainees are notified.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/makeup/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = MakeupIn,
    responses((status = 201, body = SessionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn create_makeup(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<MakeupIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    let (session, enrollment) = original(&db, &me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::new();
    let date = c.value("date", input.date).and_then(|raw| {
        let d = rest::parse_date(raw.trim());
        if d.is_none() {
            c.error(
                "date",
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            );
        }
        d
    });
    let start = c.value("start_time", input.start_time).and_then(|raw| {
        let m = rest::parse_clock(&raw);
        if m.is_none() {
            c.error("start_time", rest::BAD_CLOCK);
        }
        m
    });
    let mut room_id = None;
    if let Some(raw) = c.value("room", input.room) {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => match room::Entity::find_by_id(id).one(&db).await? {
                Some(r) => room_id = Some(r.id),
                None => c.error("room", rest::invalid_pk(&raw)),
            },
            Err(_) => c.error("room", rest::invalid_pk(&raw)),
        }
    }
    c.finish()?;
    let (Some(date), Some(start), Some(room_id)) = (date, start, room_id) else {
        return Err(ApiError::field("date", kernel::form::REQUIRED));
    };
    let search = Search::load(&db, session, enrollment).await?;
    let (s, e) = search.instants(date, start);
    if s <= kernel::time::now() {
        return Err(ApiError::non_field("A makeup must start in the future."));
    }
    let found = search.timetable_conflicts(date, start, room_id);
    if !found.is_empty() {
        return Err(sessions::refuse(found));
    }
    let Search {
        session,
        enrollment,
        ..
    } = search;
    let trainer = enrollment.trainer_id;
    let class_group = enrollment.class_group_id;
    let new = NewSession {
        enrollment,
        room_id: Some(room_id),
        start: s,
        end: e,
        notes: None,
        timetable_entry_id: None,
        is_makeup: true,
        makeup_for_id: Some(session.id),
        created_by: Some(me.id),
    };
    let txn = kernel::db::begin_write(&db).await?;
    let created = sessions::create_session(&txn, &actor, &new).await?;
    let code = course::Entity::find_by_id(created.course_id)
        .one(&txn)
        .await?
        .map(|c| c.code)
        .unwrap_or_default();
    let room_name = room::Entity::find_by_id(room_id)
        .one(&txn)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    let message = format!(
        "A makeup of {code} is scheduled on {} {}–{} in {room_name}.",
        date.format("%Y-%m-%d"),
        rest::clock(start),
        rest::clock(start + search_minutes(&created)),
    );
    let mut people: HashSet<Uuid> = sessions::trainees_of(&txn, class_group)
        .await?
        .into_iter()
        .collect();
    people.extend(trainer);
    notify::send(
        &txn,
        people,
        &Note::new(Kind::Session, "Makeup session scheduled", &message)
            .about("attendance_session", created.id),
    )
    .await?;
    txn.commit().await?;
    let out = sessions::rendered(&db, created).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A session's length in minutes.
fn search_minutes(s: &attendance_session::Model) -> i32 {
    i32::try_from((s.scheduled_end - s.scheduled_start).num_minutes()).unwrap_or(0)
}
