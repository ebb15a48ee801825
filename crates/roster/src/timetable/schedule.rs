//! Schedules (contract §4): a trainee's or trainer's sessions by date
//! (`GET /api/timetable/my_schedule/`), a class group's weekly grid
//! (`GET /api/class-groups/{id}/schedule/?term=`) and the cached weekly
//! schedules (`/api/class-group-schedules/`, rebuilt by [`changed`] on
//! every publish or change of a published entry, and on demand by
//! `regenerate`).

use std::collections::{BTreeSet, HashSet};

use chrono::{Duration, NaiveDate};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Current, Db, FilterKind, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{EntryOut, department_enrollments, weekday_order};
use crate::Roster;
use crate::access::{self, Manager, Me, Role, forbidden, headed_department};
use crate::audit::Log;
use crate::entities::{
    class_group, class_group_schedule, class_group_trainee, enrollment, programme, term,
    timetable_entry,
};
use crate::notify::{self, Kind, Note};
use crate::rest::{self, BAD_DATE, PAGE, WEEKDAYS};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_schedule))
        .routes(routes!(class_group_schedule))
        .routes(routes!(list_schedules))
        .routes(routes!(retrieve_schedule))
        .routes(routes!(regenerate_schedule))
}

// ----- the cache and the people told -----

/// The published entries of `class_group` in `term`, as
/// `{monday:[entries…], …, sunday:[…]}` in start-time order.
pub(crate) async fn weekly(
    db: &impl ConnectionTrait,
    class_group: Uuid,
    term: Uuid,
) -> Result<Value, DbErr> {
    let enrollments: Vec<Uuid> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::Id)
        .filter(enrollment::Column::ClassGroupId.eq(class_group))
        .filter(enrollment::Column::TermId.eq(term))
        .into_tuple()
        .all(db)
        .await?;
    let mut rows = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::TermId.eq(term))
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(timetable_entry::Column::EnrollmentId.is_in(enrollments))
        .all(db)
        .await?;
    weekday_order(&mut rows);
    let mut days: Map<String, Value> = WEEKDAYS
        .iter()
        .map(|d| ((*d).to_owned(), Value::Array(Vec::new())))
        .collect();
    for e in EntryOut::many(db, rows).await? {
        if let Some(Value::Array(list)) = days.get_mut(&e.day_of_week) {
            list.push(serde_json::to_value(&e).unwrap_or(Value::Null));
        }
    }
    Ok(Value::Object(days))
}

/// Rebuilds the cached weekly schedule of `class_group` in `term`.
pub(crate) async fn rebuild(
    db: &impl ConnectionTrait,
    class_group: Uuid,
    term: Uuid,
) -> Result<class_group_schedule::Model, DbErr> {
    let schedule = weekly(db, class_group, term).await?.to_string();
    let now = kernel::time::now();
    let existing = class_group_schedule::Entity::find()
        .filter(class_group_schedule::Column::ClassGroupId.eq(class_group))
        .filter(class_group_schedule::Column::TermId.eq(term))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut row: class_group_schedule::ActiveModel = row.into();
            row.schedule = Set(schedule);
            row.last_updated = Set(now);
            row.update(db).await
        }
        None => {
            class_group_schedule::ActiveModel {
                id: Set(Uuid::new_v4()),
                class_group_id: Set(class_group),
                term_id: Set(term),
                schedule: Set(schedule),
                last_updated: Set(now),
            }
            .insert(db)
            .await
        }
    }
}

/// The trainers and class-group trainees of `enrollments`, and their class
/// groups.
pub(crate) async fn people_of(
    db: &impl ConnectionTrait,
    enrollments: &[Uuid],
) -> Result<(Vec<Uuid>, BTreeSet<Uuid>), DbErr> {
    let rows = enrollment::Entity::find()
        .filter(enrollment::Column::Id.is_in(enrollments.iter().copied()))
        .all(db)
        .await?;
    let groups: BTreeSet<Uuid> = rows.iter().map(|e| e.class_group_id).collect();
    let mut people: Vec<Uuid> = rows.iter().filter_map(|e| e.trainer_id).collect();
    let trainees: Vec<Uuid> = class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::TraineeId)
        .filter(class_group_trainee::Column::ClassGroupId.is_in(groups.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    people.extend(trainees);
    Ok((people, groups))
}

/// After published entries of `enrollments` in `term` changed: rebuilds
/// their class groups' cached schedules and tells their trainers and
/// trainees (`timetable` notifications).
pub(crate) async fn changed(
    db: &impl ConnectionTrait,
    term: Uuid,
    enrollments: &[Uuid],
    message: &str,
) -> Result<(), DbErr> {
    let (people, groups) = people_of(db, enrollments).await?;
    for group in groups {
        rebuild(db, group, term).await?;
    }
    notify::send(
        db,
        people,
        &Note::new(Kind::Timetable, "Timetable updated", message).about("term", term),
    )
    .await?;
    Ok(())
}

// ----- my_schedule -----

/// `?start_date&end_date` (at most 31 days; default this week).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// `YYYY-MM-DD` (default today).
    pub start_date: Option<String>,
    /// `YYYY-MM-DD` (default start + 6 days).
    pub end_date: Option<String>,
}

/// The dates asked for, at most 31 of them.
pub(crate) fn date_range(
    p: &RangeParams,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let read = |name: &str, raw: &Option<String>| -> Result<Option<NaiveDate>, ApiError> {
        match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => rest::parse_date(s)
                .map(Some)
                .ok_or_else(|| ApiError::field(name, BAD_DATE)),
        }
    };
    let start = read("start_date", &p.start_date)?.unwrap_or(today);
    let end = read("end_date", &p.end_date)?.unwrap_or(start + Duration::days(6));
    if end < start {
        return Err(ApiError::field(
            "end_date",
            "End date must not be before start date.",
        ));
    }
    if (end - start).num_days() >= 31 {
        return Err(ApiError::field(
            "end_date",
            "The range may cover at most 31 days.",
        ));
    }
    Ok((start, end))
}

/// The published entries of `enrollments` occurring on each date of the
/// range, with each date's weekday name.
pub(crate) async fn by_date(
    db: &impl ConnectionTrait,
    enrollments: Vec<Uuid>,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<(NaiveDate, Vec<EntryOut>)>, DbErr> {
    let terms = term::Entity::find()
        .filter(term::Column::StartDate.lte(end))
        .filter(term::Column::EndDate.gte(start))
        .all(db)
        .await?;
    let mut rows = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(timetable_entry::Column::EnrollmentId.is_in(enrollments))
        .filter(timetable_entry::Column::TermId.is_in(terms.iter().map(|t| t.id)))
        .all(db)
        .await?;
    weekday_order(&mut rows);
    let entries = EntryOut::many(db, rows.clone()).await?;
    let mut out = Vec::new();
    let mut date = start;
    while date <= end {
        let day = rest::weekday_of(date);
        let sessions: Vec<EntryOut> = rows
            .iter()
            .zip(&entries)
            .filter(|(r, _)| {
                terms
                    .iter()
                    .any(|t| t.id == r.term_id && t.start_date <= date && date <= t.end_date)
            })
            .filter(|(r, _)| {
                match super::engine::one_off_date(r.is_recurring, r.is_makeup, r.specific_date) {
                    Some(d) => d == date,
                    None => r.day == day,
                }
            })
            .map(|(_, e)| e.clone())
            .collect();
        out.push((date, sessions));
        date += Duration::days(1);
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/timetable/my_schedule/", tag = "timetable", security(("jwt" = [])),
    params(RangeParams), responses((status = 200, body = Vec<Object>), (status = 400), (status = 401), (status = 403)))]
/// A trainee's or trainer's published sessions by date (≤ 31 days).
pub async fn my_schedule(
    Db(db): Db,
    Current(me): Me,
    Query(params): Query<RangeParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let enrollments = match me.role() {
        Role::Trainer => access::trainer_enrollments(&db, me.id).await?,
        Role::Trainee => {
            let groups = access::trainee_class_groups(&db, me.id).await?;
            enrollment::Entity::find()
                .select_only()
                .column(enrollment::Column::Id)
                .filter(enrollment::Column::ClassGroupId.is_in(groups))
                .into_tuple()
                .all(&db)
                .await?
        }
        _ => return Err(forbidden()),
    };
    let today = school_today(&db).await?;
    let (start, end) = date_range(&params, today)?;
    let trainer = me.role() == Role::Trainer;
    let days = by_date(&db, enrollments, start, end).await?;
    Ok(Json(
        days.into_iter()
            .map(|(date, sessions)| {
                let sessions: Vec<Value> = sessions
                    .into_iter()
                    .map(|e| {
                        let mut s = json!({
                            "id": e.id,
                            "start_time": e.start_time,
                            "end_time": e.end_time,
                            "course_name": e.course_name,
                            "course_code": e.course_code,
                            "room_name": e.room_name,
                            "room_building": e.room_building,
                            "session_type": e.session_type,
                        });
                        if trainer {
                            s["class_group"] = json!(e.class_group_name);
                        } else {
                            s["trainer_name"] = json!(e.trainer_name);
                        }
                        s
                    })
                    .collect();
                json!({
                    "date": date,
                    "day_name": super::engine::day_name(date),
                    "sessions": sessions,
                })
            })
            .collect(),
    ))
}

/// Today in the school's timezone.
pub(crate) async fn school_today(db: &impl ConnectionTrait) -> Result<NaiveDate, DbErr> {
    let tz = super::engine::school_timezone(db).await?;
    Ok(kernel::time::now().with_timezone(&tz).date_naive())
}

// ----- class-group schedules -----

/// The class groups `me` may read (None: all).
pub(crate) async fn readable_groups(
    db: &impl ConnectionTrait,
    me: &crate::entities::user::Model,
) -> Result<Option<HashSet<Uuid>>, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => None,
        Role::Hod => {
            let mut groups = HashSet::new();
            if let Some(d) = headed_department(db, me).await? {
                let programmes: Vec<Uuid> = programme::Entity::find()
                    .select_only()
                    .column(programme::Column::Id)
                    .filter(programme::Column::DepartmentId.eq(d))
                    .into_tuple()
                    .all(db)
                    .await?;
                let own: Vec<Uuid> = class_group::Entity::find()
                    .select_only()
                    .column(class_group::Column::Id)
                    .filter(class_group::Column::ProgrammeId.is_in(programmes))
                    .into_tuple()
                    .all(db)
                    .await?;
                groups.extend(own);
                let taught: Vec<Uuid> = enrollment::Entity::find()
                    .select_only()
                    .column(enrollment::Column::ClassGroupId)
                    .filter(enrollment::Column::Id.is_in(department_enrollments(db, d).await?))
                    .into_tuple()
                    .all(db)
                    .await?;
                groups.extend(taught);
            }
            Some(groups)
        }
        Role::Trainer => Some(
            access::trainer_class_groups(db, me.id)
                .await?
                .into_iter()
                .collect(),
        ),
        Role::Trainee => Some(
            access::trainee_class_groups(db, me.id)
                .await?
                .into_iter()
                .collect(),
        ),
    })
}

/// `?term=` of a class group's schedule.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TermParam {
    /// The term (default: the term containing today, else the latest).
    pub term: Option<String>,
}

/// The term `?term=` names, or the current one.
pub(crate) async fn term_of(
    db: &impl ConnectionTrait,
    raw: Option<&str>,
) -> Result<term::Model, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id =
                Uuid::parse_str(raw).map_err(|_| ApiError::field("term", "Enter a valid UUID."))?;
            term::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::field("term", rest::invalid_pk(raw)))
        }
        None => {
            let today = school_today(db).await?;
            let current = term::Entity::find()
                .filter(term::Column::StartDate.lte(today))
                .filter(term::Column::EndDate.gte(today))
                .one(db)
                .await?;
            match current {
                Some(t) => Ok(t),
                None => term::Entity::find()
                    .order_by_desc(term::Column::StartDate)
                    .one(db)
                    .await?
                    .ok_or_else(|| ApiError::field("term", kernel::form::REQUIRED)),
            }
        }
    }
}

#[utoipa::path(get, path = "/api/class-groups/{id}/schedule/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path), TermParam), responses((status = 200, body = Object), (status = 400), (status = 401), (status = 404)))]
/// A class group's published weekly grid for a term.
pub async fn class_group_schedule(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<TermParam>,
) -> ApiResult<Json<Value>> {
    let group = class_group::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if readable_groups(&db, &me)
        .await?
        .is_some_and(|g| !g.contains(&id))
    {
        return Err(ApiError::not_found());
    }
    let term = term_of(&db, params.term.as_deref()).await?;
    Ok(Json(json!({
        "class_group": group.id,
        "class_group_name": group.name,
        "term": term.id,
        "schedule": weekly(&db, id, term.id).await?,
    })))
}

/// A cached weekly schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    pub id: Uuid,
    pub class_group: Uuid,
    pub term: Uuid,
    /// `{monday:[entries…], …}`.
    #[schema(value_type = Object)]
    pub schedule: Value,
    pub last_updated: chrono::DateTime<chrono::Utc>,
}

impl From<class_group_schedule::Model> for ScheduleOut {
    fn from(m: class_group_schedule::Model) -> Self {
        Self {
            id: m.id,
            class_group: m.class_group_id,
            term: m.term_id,
            schedule: serde_json::from_str(&m.schedule).unwrap_or_else(|_| json!({})),
            last_updated: m.last_updated,
        }
    }
}

#[utoipa::path(get, path = "/api/class-group-schedules/", tag = "timetable", security(("jwt" = [])),
    params(("class_group" = Option<Uuid>, Query), ("term" = Option<Uuid>, Query), ("page" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<ScheduleOut>), (status = 400), (status = 401)))]
/// The cached weekly schedules of the class groups the caller may see.
pub async fn list_schedules(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, ScheduleOut>>> {
    let mut query = class_group_schedule::Entity::find();
    if let Some(groups) = readable_groups(&db, &me).await? {
        query = query.filter(class_group_schedule::Column::ClassGroupId.is_in(groups));
    }
    query = list.filter(
        query,
        "class_group",
        class_group_schedule::Column::ClassGroupId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "term",
        class_group_schedule::Column::TermId,
        FilterKind::Uuid,
    )?;
    let query = query
        .order_by_desc(class_group_schedule::Column::LastUpdated)
        .order_by_asc(class_group_schedule::Column::Id);
    Ok(Json(
        list.page(&db, query, PAGE).await?.map(ScheduleOut::from),
    ))
}

async fn find_schedule(
    db: &impl ConnectionTrait,
    me: &crate::entities::user::Model,
    id: Uuid,
) -> Result<class_group_schedule::Model, ApiError> {
    let row = class_group_schedule::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if readable_groups(db, me)
        .await?
        .is_some_and(|g| !g.contains(&row.class_group_id))
    {
        return Err(ApiError::not_found());
    }
    Ok(row)
}

#[utoipa::path(get, path = "/api/class-group-schedules/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ScheduleOut), (status = 401), (status = 404)))]
/// One cached weekly schedule.
pub async fn retrieve_schedule(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<ScheduleOut>> {
    Ok(Json(find_schedule(&db, &me, id).await?.into()))
}

#[utoipa::path(post, path = "/api/class-group-schedules/{id}/regenerate/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ScheduleOut), (status = 401), (status = 403), (status = 404)))]
/// Rebuilds a cached weekly schedule from the published entries.
pub async fn regenerate_schedule(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
) -> ApiResult<Json<ScheduleOut>> {
    let row = find_schedule(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let fresh = rebuild(&txn, row.class_group_id, row.term_id).await?;
    Log::write(
        &txn,
        Entry::new(&actor, Action("regenerate"), "class_group_schedule", id),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(fresh.into()))
}
