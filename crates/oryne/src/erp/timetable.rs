//! The weekly timetable (contract §3, "Operations"): `timetable_entries`.
//!
//! A teacher, a room or a class/section in two overlapping slots of the same
//! day (and the same academic year when both name one) is a clash: 409
//! `ERR_CONFLICT_01` with the clashing entries in `error.details.conflicts`.
//! Slots that only touch (one ends when the other starts) do not clash. The
//! check runs inside the write transaction; `timetable/check/` runs it
//! without writing.
//!
//! Permissions: `timetable:read` (scoped reads see their classes' entries
//! and their own teaching), `timetable:write`, `timetable:delete`.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use kernel::listing::{FilterKind, ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoSimpleExpr, Order, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::academics::{check_class_section, missing};
use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{academic_year, student, subject, teacher, timetable_entry};
use crate::envelope::{Data, created, ok};
use crate::rbac::{Me, Reach};
use crate::state::AppState;

pub const CONFLICT_CODE: &str = "ERR_CONFLICT_01";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_timetable_entries, create_timetable_entry))
        .routes(routes!(timetable_for_class))
        .routes(routes!(timetable_for_teacher))
        .routes(routes!(check_timetable))
        .routes(routes!(
            retrieve_timetable_entry,
            update_timetable_entry,
            partial_update_timetable_entry,
            destroy_timetable_entry
        ))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimetableEntryOut {
    pub id: i64,
    pub class_name: String,
    pub section: String,
    /// 0 (Monday) to 6.
    pub day_of_week: i32,
    pub period: i32,
    /// "HH:MM" (or "HH:MM:SS").
    pub start_time: String,
    pub end_time: String,
    /// Subject id.
    pub subject: Option<i64>,
    /// Teacher id.
    pub teacher: Option<i64>,
    pub room: String,
    /// Academic year id.
    pub academic_year: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn clock(t: NaiveTime) -> String {
    if t.second() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

impl TimetableEntryOut {
    pub fn of(e: &timetable_entry::Model) -> Self {
        Self {
            id: e.id,
            class_name: e.class_name.clone(),
            section: e.section.clone(),
            day_of_week: e.day_of_week,
            period: e.period,
            start_time: clock(e.start_time),
            end_time: clock(e.end_time),
            subject: e.subject_id,
            teacher: e.teacher_id,
            room: e.room.clone(),
            academic_year: e.academic_year_id,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

fn snapshot(e: &timetable_entry::Model) -> Value {
    json!({"class_name": e.class_name, "section": e.section, "day_of_week": e.day_of_week,
           "period": e.period, "start_time": clock(e.start_time), "end_time": clock(e.end_time),
           "subject": e.subject_id, "teacher": e.teacher_id, "room": e.room,
           "academic_year": e.academic_year_id})
}

/// An entry another one clashes with, and on what.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimetableConflictOut {
    #[serde(flatten)]
    pub entry: TimetableEntryOut,
    /// Any of `teacher`, `room`, `class`.
    pub clash: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimetableCheckOut {
    /// Empty when the slot is free.
    pub conflicts: Vec<TimetableConflictOut>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TimetableEntryIn {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub class_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub section: Field<String>,
    /// 0 (Monday) to 6.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0, maximum = 6, required = true)]
    pub day_of_week: Field<i64>,
    /// From 1.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, required = true)]
    pub period: Field<i64>,
    /// "HH:MM" or "HH:MM:SS".
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub start_time: Field<String>,
    /// After `start_time`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub end_time: Field<String>,
    /// Subject id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub subject: Field<i64>,
    /// Teacher id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub teacher: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub room: Field<String>,
    /// Academic year id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub academic_year: Field<i64>,
}

const TIME_FORMAT: &str = "Time has wrong format. Use one of these formats instead: hh:mm[:ss].";

fn parse_time(raw: &str) -> Option<NaiveTime> {
    let raw = raw.trim();
    let shaped = (raw.len() == 5 || raw.len() == 8)
        && raw.bytes().enumerate().all(|(i, b)| match i {
            2 | 5 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    NaiveTime::parse_from_str(raw, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M"))
        .ok()
}

fn time(c: &mut Checker, name: &str, field: Field<String>) -> Option<NaiveTime> {
    let raw = c.value(name, field)?;
    let parsed = parse_time(&raw);
    if parsed.is_none() {
        c.error(name, TIME_FORMAT);
    }
    parsed
}

/// The validated fields of a body; `None` where absent under PATCH.
struct Slot {
    class_name: Option<String>,
    section: Option<String>,
    day: Option<i32>,
    period: Option<i32>,
    start: Option<NaiveTime>,
    end: Option<NaiveTime>,
    subject: Option<Option<i64>>,
    teacher: Option<Option<i64>>,
    room: Option<String>,
    year: Option<Option<i64>>,
}

fn read_body(body: TimetableEntryIn, c: &mut Checker) -> Slot {
    Slot {
        class_name: c.text("class_name", body.class_name, 20),
        section: c.text("section", body.section, 10),
        day: c
            .int("day_of_week", body.day_of_week, 0, 6)
            .and_then(|v| i32::try_from(v).ok()),
        period: c
            .int("period", body.period, 1, 50)
            .and_then(|v| i32::try_from(v).ok()),
        start: time(c, "start_time", body.start_time),
        end: time(c, "end_time", body.end_time),
        subject: c.nullable(body.subject),
        teacher: c.nullable(body.teacher),
        room: c.blank_text("room", body.room, 50),
        year: c.nullable(body.academic_year),
    }
}

/// The final row of a write: the body over `before` (or a fresh row).
fn merge(slot: Slot, before: Option<&timetable_entry::Model>) -> ApiResult<timetable_entry::Model> {
    let now = kernel::time::now();
    let invalid = || ApiError::non_field("Invalid data.");
    let row = timetable_entry::Model {
        id: before.map_or(0, |b| b.id),
        class_name: slot
            .class_name
            .or_else(|| before.map(|b| b.class_name.clone()))
            .ok_or_else(invalid)?,
        section: slot
            .section
            .or_else(|| before.map(|b| b.section.clone()))
            .ok_or_else(invalid)?,
        day_of_week: slot
            .day
            .or_else(|| before.map(|b| b.day_of_week))
            .ok_or_else(invalid)?,
        period: slot
            .period
            .or_else(|| before.map(|b| b.period))
            .ok_or_else(invalid)?,
        start_time: slot
            .start
            .or_else(|| before.map(|b| b.start_time))
            .ok_or_else(invalid)?,
        end_time: slot
            .end
            .or_else(|| before.map(|b| b.end_time))
            .ok_or_else(invalid)?,
        subject_id: slot
            .subject
            .unwrap_or_else(|| before.and_then(|b| b.subject_id)),
        teacher_id: slot
            .teacher
            .unwrap_or_else(|| before.and_then(|b| b.teacher_id)),
        room: slot
            .room
            .or_else(|| before.map(|b| b.room.clone()))
            .unwrap_or_default(),
        academic_year_id: slot
            .year
            .unwrap_or_else(|| before.and_then(|b| b.academic_year_id)),
        created_at: before.map_or(now, |b| b.created_at),
        updated_at: now,
    };
    if row.start_time >= row.end_time {
        return Err(ApiError::field(
            "end_time",
            "The end time must be after the start time.",
        ));
    }
    Ok(row)
}

/// Checks the references of `row`: 400 on the field naming a missing row.
async fn check_refs(db: &impl ConnectionTrait, row: &timetable_entry::Model) -> ApiResult<()> {
    if let Some(id) = row.subject_id
        && subject::Entity::find_by_id(id).one(db).await?.is_none()
    {
        return Err(missing("subject", id));
    }
    if let Some(id) = row.teacher_id
        && teacher::Entity::find_by_id(id).one(db).await?.is_none()
    {
        return Err(missing("teacher", id));
    }
    if let Some(id) = row.academic_year_id
        && academic_year::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(missing("academic_year", id));
    }
    check_class_section(db, &row.class_name, &row.section).await
}

/// The entries `row` clashes with (other than itself).
pub async fn conflicts(
    db: &impl ConnectionTrait,
    row: &timetable_entry::Model,
) -> ApiResult<Vec<TimetableConflictOut>> {
    let same_day = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::DayOfWeek.eq(row.day_of_week))
        .filter(timetable_entry::Column::Id.ne(row.id))
        .order_by_asc(timetable_entry::Column::StartTime)
        .order_by_asc(timetable_entry::Column::Id)
        .all(db)
        .await?;
    let room = row.room.trim().to_lowercase();
    let mut found = Vec::new();
    for other in same_day {
        if let (Some(a), Some(b)) = (row.academic_year_id, other.academic_year_id)
            && a != b
        {
            continue;
        }
        let overlaps = row.start_time < other.end_time && other.start_time < row.end_time;
        if !overlaps {
            continue;
        }
        let mut clash = Vec::new();
        if row.teacher_id.is_some() && row.teacher_id == other.teacher_id {
            clash.push("teacher".to_owned());
        }
        if !room.is_empty() && other.room.trim().to_lowercase() == room {
            clash.push("room".to_owned());
        }
        if row.class_name == other.class_name && row.section == other.section {
            clash.push("class".to_owned());
        }
        if !clash.is_empty() {
            found.push(TimetableConflictOut {
                entry: TimetableEntryOut::of(&other),
                clash,
            });
        }
    }
    Ok(found)
}

fn clash_error(found: &[TimetableConflictOut]) -> ApiError {
    let on: Vec<&str> = {
        let mut on: Vec<&str> = found
            .iter()
            .flat_map(|c| c.clash.iter().map(String::as_str))
            .collect();
        on.sort_unstable();
        on.dedup();
        on
    };
    ApiError::detailed(
        StatusCode::CONFLICT,
        format!("This slot clashes with another entry ({}).", on.join(", ")),
        CONFLICT_CODE,
        json!({ "conflicts": found }),
    )
}

/// Serialises timetable writes on PostgreSQL (SQLite writers already queue).
async fn lock(db: &impl ConnectionTrait) -> ApiResult<()> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // One lock per school: (timetable, tenant id).
        let tenant = AppState::tenant_id().unwrap_or(0) % i64::from(i32::MAX);
        db.execute_unprepared(&format!("SELECT pg_advisory_xact_lock(7001002, {tenant})"))
            .await?;
    }
    Ok(())
}

/// The entries a scoped reader sees: their classes', their children's,
/// their own (as a student, their class; as a teacher, what they teach).
async fn scope(db: &impl ConnectionTrait, me: &Me, reach: Reach) -> ApiResult<Option<Condition>> {
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any();
    let pair = |class_name: String, section: String| {
        Condition::all()
            .add(timetable_entry::Column::ClassName.eq(class_name))
            .add(timetable_entry::Column::Section.eq(section))
    };
    let mine = super::teacher_of(db, me.id()).await?;
    if reach.own {
        if let Some(t) = &mine {
            any = any.add(timetable_entry::Column::TeacherId.eq(t.id));
        }
        for s in student::Entity::find()
            .filter(student::Column::UserId.eq(me.id()))
            .all(db)
            .await?
        {
            any = any.add(pair(s.class_name, s.section));
        }
    }
    if reach.children
        && let Some(p) = super::parent_of(db, me.id()).await?
    {
        let ids = super::children_of(db, p.id).await?;
        for s in student::Entity::find()
            .filter(student::Column::Id.is_in(ids))
            .all(db)
            .await?
        {
            any = any.add(pair(s.class_name, s.section));
        }
    }
    if reach.class
        && let Some(t) = &mine
    {
        any = any.add(timetable_entry::Column::TeacherId.eq(t.id));
        for (class_name, section) in super::classes_of(db, t.id).await? {
            any = any.add(pair(class_name, section));
        }
    }
    Ok(Some(if any.is_empty() {
        kernel::scope::none()
    } else {
        any
    }))
}

async fn find_visible(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
) -> ApiResult<timetable_entry::Model> {
    let reach = me.reach("timetable", "read")?;
    let mut query = timetable_entry::Entity::find_by_id(id);
    if let Some(cond) = scope(db, me, reach).await? {
        query = query.filter(cond);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

fn ordered(
    query: sea_orm::Select<timetable_entry::Entity>,
) -> sea_orm::Select<timetable_entry::Entity> {
    query
        .order_by_asc(timetable_entry::Column::DayOfWeek)
        .order_by_asc(timetable_entry::Column::StartTime)
        .order_by_asc(timetable_entry::Column::Period)
        .order_by_asc(timetable_entry::Column::Id)
}

/// The timetable entries.
#[utoipa::path(get, path = "/api/v1/erp/timetable/", tag = "erp",
    description = "Permission: `timetable:read` (scoped reads see their classes' entries). Filters `class_name`, `section`, `teacher`, `subject`, `academic_year`, `day_of_week`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<TimetableEntryOut>))),
    security(("jwt" = [])))]
pub async fn list_timetable_entries(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, TimetableEntryOut>>> {
    let reach = me.reach("timetable", "read")?;
    let mut query = timetable_entry::Entity::find();
    if let Some(cond) = scope(&db, &me, reach).await? {
        query = query.filter(cond);
    }
    query = list.filter(
        query,
        "class_name",
        timetable_entry::Column::ClassName,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "section",
        timetable_entry::Column::Section,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "teacher",
        timetable_entry::Column::TeacherId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "subject",
        timetable_entry::Column::SubjectId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "academic_year",
        timetable_entry::Column::AcademicYearId,
        FilterKind::Int,
    )?;
    if let Some(day) = list.get("day_of_week") {
        let day = day
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|d| (0..=6).contains(d))
            .ok_or_else(|| ApiError::field("day_of_week", "Enter a day from 0 to 6."))?;
        query = query.filter(timetable_entry::Column::DayOfWeek.eq(day));
    }
    let query = list.order(
        query,
        &[
            (
                "day_of_week",
                timetable_entry::Column::DayOfWeek.into_simple_expr(),
            ),
            (
                "start_time",
                timetable_entry::Column::StartTime.into_simple_expr(),
            ),
            ("period", timetable_entry::Column::Period.into_simple_expr()),
            (
                "class_name",
                timetable_entry::Column::ClassName.into_simple_expr(),
            ),
        ],
        &[
            ("day_of_week", Order::Asc),
            ("start_time", Order::Asc),
            ("period", Order::Asc),
        ],
        timetable_entry::Column::Id,
    );
    Ok(Json(
        list.page(
            &db,
            query,
            PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(|e| TimetableEntryOut::of(&e)),
    ))
}

/// Adds a timetable entry (409 on a clash).
#[utoipa::path(post, path = "/api/v1/erp/timetable/", tag = "erp",
    description = "Permission: `timetable:write`. A teacher, room or class/section in an overlapping slot of the same day → 409 `ERR_CONFLICT_01` with `details.conflicts`.",
    request_body = TimetableEntryIn,
    responses((status = 201, body = inline(Data<TimetableEntryOut>))),
    security(("jwt" = [])))]
pub async fn create_timetable_entry(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<TimetableEntryIn>,
) -> ApiResult<(StatusCode, Data<TimetableEntryOut>)> {
    me.require("timetable:write")?;
    let mut c = Checker::new();
    let slot = read_body(body, &mut c);
    c.finish()?;
    let row = merge(slot, None)?;
    let txn = kernel::db::begin_write(&db).await?;
    lock(&*txn).await?;
    check_refs(&*txn, &row).await?;
    let found = conflicts(&*txn, &row).await?;
    if !found.is_empty() {
        return Err(clash_error(&found));
    }
    let saved = timetable_entry::ActiveModel {
        class_name: Set(row.class_name),
        section: Set(row.section),
        day_of_week: Set(row.day_of_week),
        period: Set(row.period),
        start_time: Set(row.start_time),
        end_time: Set(row.end_time),
        subject_id: Set(row.subject_id),
        teacher_id: Set(row.teacher_id),
        room: Set(row.room),
        academic_year_id: Set(row.academic_year_id),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "TimetableEntry", saved.id)
        .created(&snapshot(&saved))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(TimetableEntryOut::of(&saved)))
}

/// One timetable entry.
#[utoipa::path(get, path = "/api/v1/erp/timetable/{id}/", tag = "erp",
    description = "Permission: `timetable:read`; entries outside a scoped reader's classes are 404.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<TimetableEntryOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_timetable_entry(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<TimetableEntryOut>> {
    Ok(ok(TimetableEntryOut::of(
        &find_visible(&db, &me, id).await?,
    )))
}

async fn change(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: TimetableEntryIn,
    partial: bool,
) -> ApiResult<timetable_entry::Model> {
    me.reach("timetable", "read")?;
    let mut c = Checker::partial(partial);
    let slot = read_body(body, &mut c);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_visible(&*txn, me, id).await?;
    me.require("timetable:write")?;
    lock(&*txn).await?;
    let row = merge(slot, Some(&before))?;
    check_refs(&*txn, &row).await?;
    let found = conflicts(&*txn, &row).await?;
    if !found.is_empty() {
        return Err(clash_error(&found));
    }
    let mut active: timetable_entry::ActiveModel = before.clone().into();
    active.class_name = Set(row.class_name);
    active.section = Set(row.section);
    active.day_of_week = Set(row.day_of_week);
    active.period = Set(row.period);
    active.start_time = Set(row.start_time);
    active.end_time = Set(row.end_time);
    active.subject_id = Set(row.subject_id);
    active.teacher_id = Set(row.teacher_id);
    active.room = Set(row.room);
    active.academic_year_id = Set(row.academic_year_id);
    active.updated_at = Set(row.updated_at);
    let after = active.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "TimetableEntry", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a timetable entry (409 on a clash).
#[utoipa::path(put, path = "/api/v1/erp/timetable/{id}/", tag = "erp",
    description = "Permission: `timetable:write`. Clashes → 409 `ERR_CONFLICT_01` with `details.conflicts`.",
    params(("id" = i64, Path)), request_body = TimetableEntryIn,
    responses((status = 200, body = inline(Data<TimetableEntryOut>))),
    security(("jwt" = [])))]
pub async fn update_timetable_entry(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<TimetableEntryIn>,
) -> ApiResult<Data<TimetableEntryOut>> {
    let row = change(&me, &trail, &db, id, body, false).await?;
    Ok(ok(TimetableEntryOut::of(&row)))
}

/// Changes a timetable entry (409 on a clash).
#[utoipa::path(patch, path = "/api/v1/erp/timetable/{id}/", tag = "erp",
    description = "Permission: `timetable:write`. Clashes → 409 `ERR_CONFLICT_01` with `details.conflicts`.",
    params(("id" = i64, Path)), request_body = TimetableEntryIn,
    responses((status = 200, body = inline(Data<TimetableEntryOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_timetable_entry(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<TimetableEntryIn>,
) -> ApiResult<Data<TimetableEntryOut>> {
    let row = change(&me, &trail, &db, id, body, true).await?;
    Ok(ok(TimetableEntryOut::of(&row)))
}

/// Deletes a timetable entry.
#[utoipa::path(delete, path = "/api/v1/erp/timetable/{id}/", tag = "erp",
    description = "Permission: `timetable:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_timetable_entry(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.reach("timetable", "read")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_visible(&*txn, &me, id).await?;
    me.require("timetable:delete")?;
    timetable_entry::Entity::delete_by_id(id)
        .exec(&*txn)
        .await?;
    Event::new(Some(me.id()), DELETE, "TimetableEntry", id)
        .deleted(&snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The week of a class (and section), unpaginated.
#[utoipa::path(get, path = "/api/v1/erp/timetable/class/", tag = "erp",
    description = "Permission: `timetable:read`. `?class_name=` (required) `&section=`.",
    params(("class_name" = String, Query), ("section" = Option<String>, Query)),
    responses((status = 200, body = inline(Data<Vec<TimetableEntryOut>>))),
    security(("jwt" = [])))]
pub async fn timetable_for_class(
    me: Me,
    kernel::Db(db): kernel::Db,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Data<Vec<TimetableEntryOut>>> {
    let reach = me.reach("timetable", "read")?;
    let class_name = params
        .get("class_name")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("class_name", kernel::form::REQUIRED))?;
    let mut query =
        timetable_entry::Entity::find().filter(timetable_entry::Column::ClassName.eq(class_name));
    if let Some(section) = params
        .get("section")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        query = query.filter(timetable_entry::Column::Section.eq(section));
    }
    if let Some(cond) = scope(&db, &me, reach).await? {
        query = query.filter(cond);
    }
    let rows = ordered(query).all(&db).await?;
    Ok(ok(rows.iter().map(TimetableEntryOut::of).collect()))
}

/// The week of a teacher, unpaginated.
#[utoipa::path(get, path = "/api/v1/erp/timetable/teachers/{id}/", tag = "erp",
    description = "Permission: `timetable:read`. 404 for an unknown teacher.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<Vec<TimetableEntryOut>>))),
    security(("jwt" = [])))]
pub async fn timetable_for_teacher(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<Vec<TimetableEntryOut>>> {
    let reach = me.reach("timetable", "read")?;
    if teacher::Entity::find_by_id(id).one(&db).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let mut query =
        timetable_entry::Entity::find().filter(timetable_entry::Column::TeacherId.eq(id));
    if let Some(cond) = scope(&db, &me, reach).await? {
        query = query.filter(cond);
    }
    let rows = ordered(query).all(&db).await?;
    Ok(ok(rows.iter().map(TimetableEntryOut::of).collect()))
}

/// Dry run: the entries a slot would clash with (nothing is written).
#[utoipa::path(post, path = "/api/v1/erp/timetable/check/", tag = "erp",
    description = "Permission: `timetable:write`. Body as for a new entry; `?exclude=<id>` leaves out the entry being edited. Answers 200 `{conflicts: [...]}`.",
    params(("exclude" = Option<i64>, Query)),
    request_body = TimetableEntryIn,
    responses((status = 200, body = inline(Data<TimetableCheckOut>))),
    security(("jwt" = [])))]
pub async fn check_timetable(
    me: Me,
    kernel::Db(db): kernel::Db,
    Query(params): Query<HashMap<String, String>>,
    Json(body): Json<TimetableEntryIn>,
) -> ApiResult<Data<TimetableCheckOut>> {
    me.require("timetable:write")?;
    let exclude = match params
        .get("exclude")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => 0,
        Some(raw) => kernel::extract::parse_int_id(raw)
            .ok_or_else(|| ApiError::field("exclude", "Enter a whole number."))?,
    };
    let mut c = Checker::new();
    let slot = read_body(body, &mut c);
    c.finish()?;
    let mut row = merge(slot, None)?;
    row.id = exclude;
    check_refs(&db, &row).await?;
    let found = conflicts(&db, &row).await?;
    Ok(ok(TimetableCheckOut { conflicts: found }))
}
