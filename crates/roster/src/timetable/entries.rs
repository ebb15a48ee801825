//! Timetable entries (contract §4, **Timetable entry**): `/api/timetable/`
//! with its filters, search and weekday ordering, the conflict check every
//! create and update passes (refused with `conflicts` and `suggestions`),
//! and the checks a client can ask for without writing:
//! `/api/timetable/conflicts/`, `/api/timetable/suggestions/` and
//! `/api/timetable-generation/validate_timetable_entry/`.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::NaiveDate;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page, PageOf};
use kernel::{ApiError, ApiResult, Current, Db, Field, FieldErrors, FilterKind, Id, Json};
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

use super::engine::{Candidate, Conflict, ConflictKind, SESSION_TYPES, TermPlan};
use super::{DayName, EntryOut, SessionType, read_scope, schedule, write_scope};
use crate::Roster;
use crate::access::{Manager, Me, forbidden};
use crate::audit::Log;
use crate::entities::{course, enrollment, room, term, timetable_entry, user};
use crate::rest::{
    self, BAD_CLOCK, BAD_DATE, PAGE, clock, parse_clock, parse_date, parse_weekday, weekday,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(
            retrieve_entry,
            update_entry,
            partial_update_entry,
            destroy_entry
        ))
        .routes(routes!(check_conflicts))
        .routes(routes!(suggest))
        .routes(routes!(validate_timetable_entry))
}

/// `validate-timetable-entry`.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/timetable-generation/validate-timetable-entry/",
        axum::routing::post(validate_timetable_entry),
    )
}

/// What an entry body may set; `/conflicts/` and `/suggestions/` read the
/// same body (plus `id`). A PATCH keeps what it leaves out.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EntryIn {
    /// The enrollment's id (the server also reads it as
    /// `course_enrollment`).
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub enrollment: Field<String>,
    /// The original's name for `enrollment` (ignored when `enrollment` is
    /// given).
    #[serde(default)]
    #[schema(value_type = Uuid)]
    pub course_enrollment: Field<String>,
    /// `monday` … `sunday` (any case; the server also takes a one-off's
    /// weekday from its date when this is left out).
    #[serde(default)]
    #[schema(value_type = DayName, required = true)]
    pub day_of_week: Field<String>,
    /// `HH:MM`.
    #[serde(default)]
    #[schema(schema_with = rest::clock_schema, required = true)]
    pub start_time: Field<String>,
    /// `HH:MM`, after `start_time`: a multiple of 15 minutes later, at
    /// most 4 hours.
    #[serde(default)]
    #[schema(schema_with = rest::clock_schema, required = true)]
    pub end_time: Field<String>,
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub room: Field<String>,
    /// `theory` (default) or `practical`.
    #[serde(default)]
    #[schema(value_type = SessionType)]
    pub session_type: Field<String>,
    /// Default true: weekly for the whole term.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_recurring: Field<bool>,
    /// `YYYY-MM-DD`, inside the term; required when not recurring or a makeup.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub specific_date: Field<String>,
    /// Default false.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_makeup: Field<bool>,
    /// Default true.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_draft: Field<bool>,
    /// `/conflicts/` and `/suggestions/` only: the entry being edited.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Field<String>,
}

/// An entry body, validated field by field.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub enrollment: enrollment::Model,
    pub term: term::Model,
    pub room: room::Model,
    pub day: i32,
    pub start: i32,
    pub end: i32,
    pub session_type: String,
    pub is_recurring: bool,
    pub specific_date: Option<NaiveDate>,
    pub is_makeup: bool,
    pub is_draft: bool,
}

impl Parsed {
    /// The engine's candidate for this body.
    pub fn candidate(&self, id: Option<Uuid>, draft_version: Option<String>) -> Candidate {
        Candidate {
            id,
            enrollment: self.enrollment.id,
            room: self.room.id,
            session_type: self.session_type.clone(),
            day: self.day,
            start: self.start,
            end: self.end,
            specific_date: super::engine::one_off_date(
                self.is_recurring,
                self.is_makeup,
                self.specific_date,
            ),
            draft_version,
        }
    }
}

/// A value given, absent (`None`: keep or default), or null.
fn given<T>(
    errors: &mut FieldErrors,
    name: &str,
    field: Field<T>,
    nullable: bool,
) -> Option<Option<T>> {
    match field {
        Field::Absent => None,
        Field::Null if nullable => Some(None),
        Field::Null => {
            errors.add(name, kernel::form::NOT_NULL);
            Some(None)
        }
        Field::Value(v) => Some(Some(v)),
    }
}

/// The row a body's `field` names, or its error recorded.
async fn reference<E>(
    db: &impl ConnectionTrait,
    errors: &mut FieldErrors,
    field: &str,
    raw: &str,
) -> Result<Option<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let found = match Uuid::parse_str(raw.trim()) {
        Ok(id) => E::find_by_id(id).one(db).await?,
        Err(_) => None,
    };
    if found.is_none() {
        errors.add(field, rest::invalid_pk(raw));
    }
    Ok(found)
}

/// Validates a body for a create (`existing` None), a PUT (`partial`
/// false) or a PATCH; every field error is reported at once.
pub(crate) async fn parse(
    db: &impl ConnectionTrait,
    input: EntryIn,
    existing: Option<&timetable_entry::Model>,
    partial: bool,
) -> Result<Parsed, ApiError> {
    let mut errors = FieldErrors::new();
    let required = |errors: &mut FieldErrors, name: &str| errors.add(name, kernel::form::REQUIRED);
    // References.
    let (enrollment_key, enrollment_raw) = match (input.enrollment, input.course_enrollment) {
        (Field::Absent, other) => ("course_enrollment", other),
        (own, _) => ("enrollment", own),
    };
    let enrollment = match given(&mut errors, enrollment_key, enrollment_raw, false) {
        Some(Some(raw)) => {
            reference::<enrollment::Entity>(db, &mut errors, enrollment_key, &raw).await?
        }
        Some(None) => None,
        None => match existing {
            Some(x) if partial => {
                enrollment::Entity::find_by_id(x.enrollment_id)
                    .one(db)
                    .await?
            }
            _ => {
                required(&mut errors, "enrollment");
                None
            }
        },
    };
    let room = match given(&mut errors, "room", input.room, false) {
        Some(Some(raw)) => reference::<room::Entity>(db, &mut errors, "room", &raw).await?,
        Some(None) => None,
        None => match existing {
            Some(x) if partial => room::Entity::find_by_id(x.room_id).one(db).await?,
            _ => {
                required(&mut errors, "room");
                None
            }
        },
    };
    // Times.
    let clock_of = |errors: &mut FieldErrors,
                    name: &str,
                    field: Field<String>,
                    old: Option<i32>| match given(errors, name, field, false) {
        Some(Some(raw)) => parse_clock(&raw).or_else(|| {
            errors.add(name, BAD_CLOCK);
            None
        }),
        Some(None) => None,
        None => match old {
            Some(v) if partial => Some(v),
            _ => {
                errors.add(name, kernel::form::REQUIRED);
                None
            }
        },
    };
    let start = clock_of(
        &mut errors,
        "start_time",
        input.start_time,
        existing.map(|x| x.start_minute),
    );
    let end = clock_of(
        &mut errors,
        "end_time",
        input.end_time,
        existing.map(|x| x.end_minute),
    );
    let keep = |old: Option<bool>, default: bool| {
        if partial {
            old.unwrap_or(default)
        } else {
            default
        }
    };
    let flag = |errors: &mut FieldErrors,
                name: &str,
                field: Field<bool>,
                old: Option<bool>,
                default: bool| {
        match given(errors, name, field, false) {
            Some(Some(v)) => v,
            Some(None) => default,
            None => keep(old, default),
        }
    };
    let is_recurring = flag(
        &mut errors,
        "is_recurring",
        input.is_recurring,
        existing.map(|x| x.is_recurring),
        true,
    );
    let is_makeup = flag(
        &mut errors,
        "is_makeup",
        input.is_makeup,
        existing.map(|x| x.is_makeup),
        false,
    );
    let is_draft = flag(
        &mut errors,
        "is_draft",
        input.is_draft,
        existing.map(|x| x.is_draft),
        true,
    );
    let session_type = match given(&mut errors, "session_type", input.session_type, false) {
        Some(Some(raw)) if SESSION_TYPES.contains(&raw.as_str()) => Some(raw),
        Some(Some(raw)) => {
            errors.add("session_type", format!("\"{raw}\" is not a valid choice."));
            None
        }
        Some(None) => None,
        None => Some(match existing {
            Some(x) if partial => x.session_type.clone(),
            _ => "theory".to_owned(),
        }),
    };
    let specific_date = match given(&mut errors, "specific_date", input.specific_date, true) {
        Some(Some(raw)) => match parse_date(&raw) {
            Some(d) => Some(d),
            None => {
                errors.add("specific_date", BAD_DATE);
                None
            }
        },
        Some(None) => None,
        None => existing.filter(|_| partial).and_then(|x| x.specific_date),
    };
    let day = match given(&mut errors, "day_of_week", input.day_of_week, false) {
        Some(Some(raw)) => parse_weekday(&raw).or_else(|| {
            errors.add("day_of_week", format!("\"{raw}\" is not a valid choice."));
            None
        }),
        Some(None) => None,
        None => match (existing, specific_date) {
            (Some(x), _) if partial => Some(x.day),
            (_, Some(d)) => Some(rest::weekday_of(d)),
            _ => {
                errors.add("day_of_week", kernel::form::REQUIRED);
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (Some(enrollment), Some(room), Some(start), Some(end), Some(day), Some(session_type)) =
        (enrollment, room, start, end, day, session_type)
    else {
        return Err(ApiError::non_field("Invalid data."));
    };
    // Rules between fields.
    let term = term::Entity::find_by_id(enrollment.term_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::field("enrollment", "The enrollment has no term."))?;
    let course = course::Entity::find_by_id(enrollment.course_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::field("enrollment", "The enrollment has no course."))?;
    let mut errors = FieldErrors::new();
    if end <= start {
        errors.add("end_time", "End time must be after start time.");
    } else if (end - start) % 15 != 0 {
        errors.add(
            "end_time",
            "The session must last a multiple of 15 minutes.",
        );
    } else if end - start > 240 {
        errors.add("end_time", "A session cannot last more than 4 hours.");
    }
    if matches!(enrollment.status.as_str(), "cancelled" | "completed") {
        errors.add(
            "enrollment",
            format!("A {} enrollment cannot be scheduled.", enrollment.status),
        );
    }
    let offered = match session_type.as_str() {
        "theory" => course.theory_sessions_per_week > 0,
        _ => course.practical_sessions_per_week > 0,
    };
    if !offered {
        errors.add(
            "session_type",
            format!("{} has no {session_type} sessions.", course.code),
        );
    }
    let one_off = !is_recurring || is_makeup;
    let specific_date = if one_off {
        match specific_date {
            None => {
                errors.add(
                    "specific_date",
                    "This field is required for a one-off or makeup session.",
                );
                None
            }
            Some(d) if d < term.start_date || d > term.end_date => {
                errors.add(
                    "specific_date",
                    format!(
                        "The date must be inside {} ({} – {}).",
                        term.name, term.start_date, term.end_date
                    ),
                );
                None
            }
            Some(d) if rest::weekday_of(d) != day => {
                errors.add(
                    "specific_date",
                    format!(
                        "{d} is a {}, not a {}.",
                        rest::weekday_title(rest::weekday_of(d)),
                        rest::weekday_title(day)
                    ),
                );
                None
            }
            Some(d) => Some(d),
        }
    } else {
        specific_date.filter(|d| term.start_date <= *d && *d <= term.end_date)
    };
    errors.into_result()?;
    Ok(Parsed {
        enrollment,
        term,
        room,
        day,
        start,
        end,
        session_type,
        is_recurring,
        specific_date,
        is_makeup,
        is_draft,
    })
}

/// 403 unless `me` may write entries of `enrollment`.
pub(crate) async fn ensure_writable(
    db: &impl ConnectionTrait,
    me: &user::Model,
    enrollment: Uuid,
) -> Result<(), ApiError> {
    match write_scope(db, me).await? {
        Some(allowed) if !allowed.contains(&enrollment) => Err(forbidden()),
        _ => Ok(()),
    }
}

/// A room suitable and free at the candidate's slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedRoom {
    pub id: Uuid,
    pub name: String,
    pub room_type: String,
    pub capacity: i32,
}

/// A conflict-free slot of the candidate's duration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedSlot {
    /// `monday` … `sunday`.
    pub day_of_week: String,
    /// `HH:MM`.
    pub start_time: String,
    pub end_time: String,
    pub room: Uuid,
    pub room_name: String,
}

/// The rooms (smallest adequate first) and up to 10 slots the engine
/// suggests for a would-be entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub rooms: Vec<SuggestedRoom>,
    pub slots: Vec<SuggestedSlot>,
}

/// The rooms and slots the engine suggests for `c`, as the API shows them.
pub(crate) fn suggestions(plan: &TermPlan, c: &Candidate) -> Suggestions {
    let rooms = if plan.room(c.room).is_some() {
        plan.suggest_rooms(c)
            .into_iter()
            .map(|r| SuggestedRoom {
                id: r.id,
                name: r.name.clone(),
                room_type: r.room_type.clone(),
                capacity: r.capacity,
            })
            .collect()
    } else {
        Vec::new()
    };
    let slots = plan
        .suggest_slots(c, 10)
        .into_iter()
        .map(|s| SuggestedSlot {
            day_of_week: weekday(s.day).to_owned(),
            start_time: clock(s.start),
            end_time: clock(s.end),
            room: s.room,
            room_name: plan
                .room(s.room)
                .map(|r| r.name.clone())
                .unwrap_or_default(),
        })
        .collect();
    Suggestions { rooms, slots }
}

/// A write the conflict check refused (contract §4): 400 with one message
/// per failed rule, the rules and, for one entry, the suggestions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimetableConflict {
    pub detail: String,
    /// `timetable_conflict`.
    pub code: String,
    /// One message per failed rule.
    pub non_field_errors: Vec<String>,
    pub conflicts: Vec<Conflict>,
    /// Absent when a whole draft version is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Suggestions>,
}

impl TimetableConflict {
    pub const CODE: &'static str = "timetable_conflict";

    /// The 400 refusing `conflicts` (not empty).
    pub(crate) fn refuse(
        detail: &'static str,
        conflicts: Vec<Conflict>,
        suggestions: Option<Suggestions>,
    ) -> ApiError {
        let body = Self {
            detail: detail.to_owned(),
            code: Self::CODE.to_owned(),
            non_field_errors: conflicts.iter().map(|k| k.message.clone()).collect(),
            conflicts,
            suggestions,
        };
        ApiError::detailed(
            StatusCode::BAD_REQUEST,
            detail,
            Self::CODE,
            serde_json::to_value(body).unwrap_or_default(),
        )
    }
}

/// OpenAPI: the 400 of a write the conflict check runs on — a
/// [`TimetableConflict`], or the usual field errors.
pub struct ConflictOrInvalid;

impl utoipa::PartialSchema for ConflictOrInvalid {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("TimetableConflict"))
            .item(utoipa::openapi::Ref::from_schema_name("ValidationError"))
            .into()
    }
}

impl ToSchema for ConflictOrInvalid {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("TimetableConflict".to_owned(), TimetableConflict::schema()));
        TimetableConflict::schemas(schemas);
    }
}

/// How the 400 of a checked write reads.
pub(crate) const CONFLICT_400: &str = "A clash with the timetable (`TimetableConflict`: \
    `{detail, code: \"timetable_conflict\", non_field_errors, conflicts: [{type, message, entry}], \
    suggestions: {rooms, slots}}`), or invalid fields.";

/// The contract's refusal: 400 with one message per conflict, the
/// conflicts and the suggestions.
pub(crate) fn refusal(plan: &TermPlan, c: &Candidate, conflicts: &[Conflict]) -> ApiError {
    TimetableConflict::refuse(
        "This timetable entry conflicts with the timetable.",
        conflicts.to_vec(),
        Some(suggestions(plan, c)),
    )
}

/// The entry `id` if `me` may read it (else 404).
pub(crate) async fn find_visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> Result<timetable_entry::Model, ApiError> {
    let mut query = timetable_entry::Entity::find_by_id(id);
    if let Some(scope) = read_scope(db, me).await? {
        query = query.filter(scope);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

/// The audit snapshot of an entry.
pub(crate) fn snapshot(e: &timetable_entry::Model) -> Value {
    json!({
        "enrollment": e.enrollment_id,
        "room": e.room_id,
        "day_of_week": weekday(e.day),
        "start_time": clock(e.start_minute),
        "end_time": clock(e.end_minute),
        "session_type": e.session_type,
        "is_recurring": e.is_recurring,
        "specific_date": e.specific_date,
        "is_makeup": e.is_makeup,
        "is_draft": e.is_draft,
        "draft_version": e.draft_version,
    })
}

// ----- list -----

/// Ids of the rows of `E` whose `fields` match `?search=`.
async fn search_ids<E: EntityTrait>(
    db: &impl ConnectionTrait,
    list: &ListOf<Roster>,
    id: E::Column,
    fields: &[sea_orm::sea_query::SimpleExpr],
) -> Result<Vec<Uuid>, sea_orm::DbErr>
where
    E::Column: ColumnTrait,
{
    let Some(condition) = list.search_condition(fields) else {
        return Ok(Vec::new());
    };
    E::find()
        .select_only()
        .column(id)
        .filter(condition)
        .into_tuple()
        .all(db)
        .await
}

/// `?search=` over course name/code, trainer name and room name.
async fn search(
    db: &impl ConnectionTrait,
    list: &ListOf<Roster>,
) -> Result<Option<Condition>, sea_orm::DbErr> {
    if list.get("search").is_none() {
        return Ok(None);
    }
    let courses = search_ids::<course::Entity>(
        db,
        list,
        course::Column::Id,
        &[
            course::Column::Name.into_simple_expr(),
            course::Column::Code.into_simple_expr(),
        ],
    )
    .await?;
    let trainers = search_ids::<user::Entity>(
        db,
        list,
        user::Column::Id,
        &[
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
        ],
    )
    .await?;
    let rooms = search_ids::<room::Entity>(
        db,
        list,
        room::Column::Id,
        &[room::Column::Name.into_simple_expr()],
    )
    .await?;
    let enrollments: Vec<Uuid> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::Id)
        .filter(
            Condition::any()
                .add(enrollment::Column::CourseId.is_in(courses))
                .add(enrollment::Column::TrainerId.is_in(trainers)),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(Some(
        Condition::any()
            .add(timetable_entry::Column::EnrollmentId.is_in(enrollments))
            .add(timetable_entry::Column::RoomId.is_in(rooms)),
    ))
}

/// The enrollments with `column` = `?name=` (a UUID), as a filter.
async fn through_enrollment(
    db: &impl ConnectionTrait,
    list: &ListOf<Roster>,
    name: &str,
    column: enrollment::Column,
) -> Result<Option<Condition>, ApiError> {
    let Some(raw) = list.get(name) else {
        return Ok(None);
    };
    let id =
        Uuid::parse_str(raw.trim()).map_err(|_| ApiError::field(name, "Enter a valid UUID."))?;
    let ids: Vec<Uuid> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::Id)
        .filter(column.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Some(
        Condition::all().add(timetable_entry::Column::EnrollmentId.is_in(ids)),
    ))
}

#[utoipa::path(get, path = "/api/timetable/", tag = "timetable", security(("jwt" = [])),
    params(
        ("term" = Option<Uuid>, Query), ("enrollment" = Option<Uuid>, Query), ("class_group" = Option<Uuid>, Query),
        ("trainer" = Option<Uuid>, Query), ("room" = Option<Uuid>, Query), ("day_of_week" = inline(Option<DayName>), Query),
        ("session_type" = inline(Option<SessionType>), Query), ("is_draft" = Option<bool>, Query), ("draft_version" = Option<String>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<EntryOut>), (status = 400), (status = 401)))]
/// The entries the caller may see (trainers and trainees: published ones).
pub async fn list_entries(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, EntryOut>>> {
    let mut query = timetable_entry::Entity::find();
    if let Some(scope) = read_scope(&db, &me).await? {
        query = query.filter(scope);
    }
    query = list.filter(
        query,
        "term",
        timetable_entry::Column::TermId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "enrollment",
        timetable_entry::Column::EnrollmentId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "room",
        timetable_entry::Column::RoomId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "session_type",
        timetable_entry::Column::SessionType,
        FilterKind::Choice(&SESSION_TYPES),
    )?;
    query = list.filter(
        query,
        "is_draft",
        timetable_entry::Column::IsDraft,
        FilterKind::Bool,
    )?;
    query = list.filter(
        query,
        "draft_version",
        timetable_entry::Column::DraftVersion,
        FilterKind::Text,
    )?;
    if let Some(raw) = list.get("day_of_week") {
        let day = parse_weekday(raw).ok_or_else(|| {
            ApiError::field(
                "day_of_week",
                format!("Select a valid choice. {raw} is not one of the available choices."),
            )
        })?;
        query = query.filter(timetable_entry::Column::Day.eq(day));
    }
    for (name, column) in [
        ("class_group", enrollment::Column::ClassGroupId),
        ("trainer", enrollment::Column::TrainerId),
    ] {
        if let Some(condition) = through_enrollment(&db, &list, name, column).await? {
            query = query.filter(condition);
        }
    }
    if let Some(condition) = search(&db, &list).await? {
        query = query.filter(condition);
    }
    let query = list.order(
        query,
        &[
            (
                "day_of_week",
                timetable_entry::Column::Day.into_simple_expr(),
            ),
            (
                "start_time",
                timetable_entry::Column::StartMinute.into_simple_expr(),
            ),
            (
                "end_time",
                timetable_entry::Column::EndMinute.into_simple_expr(),
            ),
            (
                "created_at",
                timetable_entry::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("day_of_week", Order::Asc), ("start_time", Order::Asc)],
        timetable_entry::Column::Id,
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
        results: EntryOut::many(&db, results).await?,
    }))
}

#[utoipa::path(get, path = "/api/timetable/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = EntryOut), (status = 401), (status = 404)))]
/// One entry the caller may see.
pub async fn retrieve_entry(Db(db): Db, Current(me): Me, Id(id): Id) -> ApiResult<Json<EntryOut>> {
    let row = find_visible(&db, &me, id).await?;
    Ok(Json(EntryOut::one(&db, row).await?))
}

/// Writes a checked entry: the class group's cached schedule is rebuilt
/// and its people told when a published entry changes.
#[utoipa::path(post, path = "/api/timetable/", tag = "timetable", security(("jwt" = [])), request_body = EntryIn,
    responses((status = 201, body = EntryOut), (status = 400, description = CONFLICT_400, body = ConflictOrInvalid), (status = 401), (status = 403)))]
/// Creates an entry (admin, dp, hod of the enrollment's department); a
/// clash with the timetable is refused with its conflicts and suggestions.
pub async fn create_entry(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Json(input): Json<EntryIn>,
) -> ApiResult<(StatusCode, Json<EntryOut>)> {
    let parsed = parse(&db, input, None, false).await?;
    ensure_writable(&db, &me, parsed.enrollment.id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let plan = TermPlan::load(&txn, parsed.term.id).await?;
    let candidate = parsed.candidate(None, None);
    let conflicts = plan.check(&candidate);
    if !conflicts.is_empty() {
        return Err(refusal(&plan, &candidate, &conflicts));
    }
    let now = kernel::time::now();
    let row = timetable_entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        term_id: Set(parsed.term.id),
        enrollment_id: Set(parsed.enrollment.id),
        room_id: Set(parsed.room.id),
        day: Set(parsed.day),
        start_minute: Set(parsed.start),
        end_minute: Set(parsed.end),
        session_type: Set(parsed.session_type.clone()),
        is_recurring: Set(parsed.is_recurring),
        specific_date: Set(parsed.specific_date),
        is_makeup: Set(parsed.is_makeup),
        is_draft: Set(parsed.is_draft),
        draft_version: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    Log::write(
        &txn,
        Entry::new(&actor, Action::CREATE, "timetable_entry", row.id)
            .changes(kernel::audit::created(&snapshot(&row))),
    )
    .await?;
    if !row.is_draft {
        schedule::changed(
            &txn,
            parsed.term.id,
            &[row.enrollment_id],
            "A timetable entry was added.",
        )
        .await?;
    }
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(EntryOut::one(&db, row).await?)))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    input: EntryIn,
    partial: bool,
) -> ApiResult<Json<EntryOut>> {
    let before = find_visible(db, me, id).await?;
    ensure_writable(db, me, before.enrollment_id).await?;
    let parsed = parse(db, input, Some(&before), partial).await?;
    ensure_writable(db, me, parsed.enrollment.id).await?;
    let txn = kernel::db::begin_write(db).await?;
    let plan = TermPlan::load(&txn, parsed.term.id).await?;
    let candidate = parsed.candidate(Some(id), before.draft_version.clone());
    let conflicts = plan.check(&candidate);
    if !conflicts.is_empty() {
        return Err(refusal(&plan, &candidate, &conflicts));
    }
    let mut row: timetable_entry::ActiveModel = before.clone().into();
    row.term_id = Set(parsed.term.id);
    row.enrollment_id = Set(parsed.enrollment.id);
    row.room_id = Set(parsed.room.id);
    row.day = Set(parsed.day);
    row.start_minute = Set(parsed.start);
    row.end_minute = Set(parsed.end);
    row.session_type = Set(parsed.session_type.clone());
    row.is_recurring = Set(parsed.is_recurring);
    row.specific_date = Set(parsed.specific_date);
    row.is_makeup = Set(parsed.is_makeup);
    row.is_draft = Set(parsed.is_draft);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    Log::write(
        &txn,
        Entry::new(actor, Action::UPDATE, "timetable_entry", id)
            .changes(kernel::audit::diff(&snapshot(&before), &snapshot(&after))),
    )
    .await?;
    if !before.is_draft || !after.is_draft {
        let touched: HashSet<Uuid> = [before.enrollment_id, after.enrollment_id]
            .into_iter()
            .collect();
        let touched: Vec<Uuid> = touched.into_iter().collect();
        if before.term_id != after.term_id {
            schedule::changed(
                &txn,
                before.term_id,
                &touched,
                "A timetable entry of yours changed.",
            )
            .await?;
        }
        schedule::changed(
            &txn,
            after.term_id,
            &touched,
            "A timetable entry of yours changed.",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Json(EntryOut::one(db, after).await?))
}

#[utoipa::path(put, path = "/api/timetable/{id}/", tag = "timetable", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = EntryIn, responses((status = 200, body = EntryOut), (status = 400, description = CONFLICT_400, body = ConflictOrInvalid), (status = 401), (status = 403), (status = 404)))]
/// Replaces an entry (checked like a create).
pub async fn update_entry(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    Json(input): Json<EntryIn>,
) -> ApiResult<Json<EntryOut>> {
    update(&db, &me, &actor, id, input, false).await
}

#[utoipa::path(patch, path = "/api/timetable/{id}/", tag = "timetable", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = EntryIn, responses((status = 200, body = EntryOut), (status = 400, description = CONFLICT_400, body = ConflictOrInvalid), (status = 401), (status = 403), (status = 404)))]
/// Changes some fields of an entry (checked like a create).
pub async fn partial_update_entry(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    Json(input): Json<EntryIn>,
) -> ApiResult<Json<EntryOut>> {
    update(&db, &me, &actor, id, input, true).await
}

#[utoipa::path(delete, path = "/api/timetable/{id}/", tag = "timetable", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
/// Deletes an entry.
pub async fn destroy_entry(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let before = find_visible(&db, &me, id).await?;
    ensure_writable(&db, &me, before.enrollment_id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    timetable_entry::Entity::delete_by_id(id).exec(&txn).await?;
    Log::write(
        &txn,
        Entry::new(&actor, Action::DELETE, "timetable_entry", id)
            .changes(kernel::audit::deleted(&snapshot(&before))),
    )
    .await?;
    if !before.is_draft {
        schedule::changed(
            &txn,
            before.term_id,
            &[before.enrollment_id],
            "A timetable entry of yours was removed.",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- checks without writing -----

/// A check body's candidate, its plan and the entry it edits.
async fn checked(
    db: &impl ConnectionTrait,
    me: &user::Model,
    mut input: EntryIn,
) -> Result<(TermPlan, Candidate), ApiError> {
    let id = match std::mem::take(&mut input.id) {
        Field::Value(raw) => {
            let id = Uuid::parse_str(raw.trim())
                .map_err(|_| ApiError::field("id", rest::invalid_pk(&raw)))?;
            Some(
                find_visible(db, me, id)
                    .await
                    .map_err(|_| ApiError::field("id", rest::invalid_pk(&raw)))?,
            )
        }
        _ => None,
    };
    let parsed = parse(db, input, None, false).await?;
    let plan = TermPlan::load(db, parsed.term.id).await?;
    let candidate = parsed.candidate(id.as_ref().map(|e| e.id), id.and_then(|e| e.draft_version));
    Ok((plan, candidate))
}

/// One clash in the original's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Clash {
    pub id: Option<Uuid>,
    pub course: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trainer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    pub start_time: String,
    pub end_time: String,
}

/// `POST /api/timetable/conflicts/`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictReport {
    pub has_conflicts: bool,
    pub room_conflicts: Vec<Clash>,
    pub trainer_conflicts: Vec<Clash>,
    pub class_group_conflicts: Vec<Clash>,
    /// Every failed rule: `{type, message, entry}`.
    pub conflicts: Vec<Conflict>,
}

fn clash(plan: &TermPlan, kind: ConflictKind, entry: Uuid) -> Option<Clash> {
    let e = plan.entry(entry)?;
    let en = plan.enrollment(e.enrollment);
    Some(Clash {
        id: Some(e.id),
        course: en.map(|x| x.course_code.clone()).unwrap_or_default(),
        trainer: (kind == ConflictKind::TrainerConflict)
            .then(|| en.map(|x| x.trainer_name.clone()).unwrap_or_default()),
        class_group: (kind == ConflictKind::ClassGroupConflict)
            .then(|| en.map(|x| x.class_group_name.clone()).unwrap_or_default()),
        room: (kind == ConflictKind::RoomConflict).then(|| {
            plan.room(e.room)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        }),
        start_time: clock(e.start),
        end_time: clock(e.end),
    })
}

#[utoipa::path(post, path = "/api/timetable/conflicts/", tag = "timetable", security(("jwt" = [])), request_body = EntryIn,
    responses((status = 200, body = ConflictReport), (status = 400), (status = 401), (status = 403)))]
/// Every rule a would-be entry fails, without writing it.
pub async fn check_conflicts(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Json(input): Json<EntryIn>,
) -> ApiResult<Json<ConflictReport>> {
    let (plan, candidate) = checked(&db, &me, input).await?;
    let conflicts = plan.check(&candidate);
    let of = |kind: ConflictKind| -> Vec<Clash> {
        conflicts
            .iter()
            .filter(|k| k.kind == kind)
            .filter_map(|k| clash(&plan, kind, k.entry?))
            .collect()
    };
    Ok(Json(ConflictReport {
        has_conflicts: !conflicts.is_empty(),
        room_conflicts: of(ConflictKind::RoomConflict),
        trainer_conflicts: of(ConflictKind::TrainerConflict),
        class_group_conflicts: of(ConflictKind::ClassGroupConflict),
        conflicts,
    }))
}

#[utoipa::path(post, path = "/api/timetable/suggestions/", tag = "timetable", security(("jwt" = [])), request_body = EntryIn,
    responses((status = 200, body = Suggestions), (status = 400), (status = 401), (status = 403)))]
/// Rooms free and suitable at the slot, and up to 10 conflict-free slots.
pub async fn suggest(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Json(input): Json<EntryIn>,
) -> ApiResult<Json<Suggestions>> {
    let (plan, candidate) = checked(&db, &me, input).await?;
    Ok(Json(suggestions(&plan, &candidate)))
}

#[utoipa::path(post, path = "/api/timetable-generation/validate_timetable_entry/", tag = "timetable", security(("jwt" = [])),
    request_body = EntryIn, responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403)))]
/// `{valid, message, conflicts}` for a would-be entry.
pub async fn validate_timetable_entry(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Json(input): Json<EntryIn>,
) -> ApiResult<Json<Value>> {
    let (plan, candidate) = checked(&db, &me, input).await?;
    let conflicts = plan.check(&candidate);
    let message = match conflicts.len() {
        0 => "The timetable entry is valid.".to_owned(),
        1 => "Found 1 conflict.".to_owned(),
        n => format!("Found {n} conflicts."),
    };
    Ok(Json(
        json!({"valid": conflicts.is_empty(), "message": message, "conflicts": conflicts}),
    ))
}
