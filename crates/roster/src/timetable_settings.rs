//! Timetable settings (contract §4, **TimetableSettings**): the weekly grid a
//! term's timetable is built on — working days, school hours, the generation
//! slot, breaks and the daily limit per class group. One row per term
//! (`scope` = the term id) and one default row (`scope` = `default`); a term
//! without a row of its own uses the default row, and without that the
//! built-in defaults ([`Grid::default`]).
//!
//! `/api/timetable-settings/`: staff read, admin and the deputy principal
//! write; `effective/?term=` answers the grid a term uses.
//!
//! The timetable and generation modules read the grid through [`effective`].

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Checker, Db, Field, FilterKind, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoSimpleExpr, Order, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Lead, Staff};
use crate::audit::Log;
use crate::entities::{term, timetable_settings};
use crate::rest::{self, PAGE};
use crate::state::AppState;

/// `scope` of the row that applies to every term without one of its own.
pub const DEFAULT_SCOPE: &str = "default";

/// The grid a term's timetable lives on. Times are minutes after midnight,
/// school time; weekdays 0 = Monday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// The days sessions may be held on, ascending (0 = Monday).
    pub working_days: Vec<i32>,
    /// First minute of the school day (inclusive).
    pub day_start: i32,
    /// Last minute of the school day (exclusive: a slot may end exactly here).
    pub day_end: i32,
    /// The generation grid: sessions start on multiples of this from `day_start`.
    pub slot_minutes: i32,
    /// `(start, end, name)` of each break, half-open, ascending by start.
    pub breaks: Vec<(i32, i32, String)>,
    /// How many entries one class group may have on one day.
    pub max_sessions_per_day_per_class_group: i32,
}

impl Default for Grid {
    /// The contract's defaults: Monday–Friday, 08:00–17:00, 30-minute slots,
    /// no breaks, at most 6 sessions a day per class group.
    fn default() -> Self {
        Self {
            working_days: vec![0, 1, 2, 3, 4],
            day_start: 8 * 60,
            day_end: 17 * 60,
            slot_minutes: 30,
            breaks: Vec::new(),
            max_sessions_per_day_per_class_group: 6,
        }
    }
}

#[allow(
    dead_code,
    reason = "the timetable conflict engine and the generator call these"
)]
impl Grid {
    /// Whether `day` is a working day and `start..end` lies inside the school day.
    pub fn within_hours(&self, day: i32, start: i32, end: i32) -> bool {
        self.working_days.contains(&day) && start >= self.day_start && end <= self.day_end
    }

    /// The first break `start..end` overlaps (half-open), if any.
    pub fn break_hit(&self, start: i32, end: i32) -> Option<&(i32, i32, String)> {
        self.breaks.iter().find(|(s, e, _)| start < *e && *s < end)
    }
}

/// A break as stored in the `breaks` column (minutes after midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBreak {
    pub name: String,
    pub start: i32,
    pub end: i32,
}

/// The stored row as a [`Grid`] (unreadable JSON columns fall back to the
/// defaults rather than failing a request).
pub(crate) fn grid_of(row: &timetable_settings::Model) -> Grid {
    let defaults = Grid::default();
    let mut working_days: Vec<i32> = serde_json::from_str::<Vec<String>>(&row.working_days)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| crate::rest::parse_weekday(n))
                .collect()
        })
        .unwrap_or(defaults.working_days);
    working_days.sort_unstable();
    working_days.dedup();
    let mut breaks: Vec<(i32, i32, String)> = serde_json::from_str::<Vec<StoredBreak>>(&row.breaks)
        .map(|list| list.into_iter().map(|b| (b.start, b.end, b.name)).collect())
        .unwrap_or_default();
    breaks.sort();
    Grid {
        working_days,
        day_start: row.day_start,
        day_end: row.day_end,
        slot_minutes: row.slot_minutes,
        breaks,
        max_sessions_per_day_per_class_group: row.max_sessions_per_day_per_class_group,
    }
}

/// The grid that applies to `term_id`: the term's own settings, else the
/// default row, else the built-in defaults.
pub async fn effective(db: &impl ConnectionTrait, term_id: Uuid) -> Result<Grid, DbErr> {
    let rows = timetable_settings::Entity::find()
        .filter(
            timetable_settings::Column::Scope
                .is_in([term_id.to_string(), DEFAULT_SCOPE.to_owned()]),
        )
        .all(db)
        .await?;
    let own = rows.iter().find(|r| r.scope != DEFAULT_SCOPE);
    let default = rows.iter().find(|r| r.scope == DEFAULT_SCOPE);
    Ok(own.or(default).map(grid_of).unwrap_or_default())
}

/// Slot lengths the generation grid accepts: 15, 30, 60, or another
/// divisor of 60 of at least 15 minutes.
pub const SLOT_CHOICES: &[i32] = &[15, 20, 30, 60];
const TAKEN_TERM: &str = "Timetable settings for this term already exist.";
const TAKEN_DEFAULT: &str = "Default timetable settings already exist.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_settings, create_settings))
        .routes(routes!(effective_settings))
        .routes(routes!(
            retrieve_settings,
            update_settings,
            partial_update_settings,
            destroy_settings
        ))
}

/// A break of the school day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakOut {
    pub name: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
}

/// Timetable settings as every endpoint shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsOut {
    /// Null for the effective grid of a term without stored settings.
    pub id: Option<Uuid>,
    /// Null: the default for every term without settings of its own.
    pub term: Option<Uuid>,
    /// `monday`…`sunday`, in weekday order.
    pub working_days: Vec<String>,
    /// `HH:MM`.
    pub day_start: String,
    /// `HH:MM`.
    pub day_end: String,
    pub slot_minutes: i32,
    pub breaks: Vec<BreakOut>,
    pub max_sessions_per_day_per_class_group: i32,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SettingsOut {
    fn of_grid(id: Option<Uuid>, term: Option<Uuid>, g: &Grid) -> Self {
        Self {
            id,
            term,
            working_days: g
                .working_days
                .iter()
                .map(|d| rest::weekday(*d).to_owned())
                .collect(),
            day_start: rest::clock(g.day_start),
            day_end: rest::clock(g.day_end),
            slot_minutes: g.slot_minutes,
            breaks: g
                .breaks
                .iter()
                .map(|(s, e, n)| BreakOut {
                    name: n.clone(),
                    start: rest::clock(*s),
                    end: rest::clock(*e),
                })
                .collect(),
            max_sessions_per_day_per_class_group: g.max_sessions_per_day_per_class_group,
            created_at: None,
            updated_at: None,
        }
    }
}

impl From<timetable_settings::Model> for SettingsOut {
    fn from(row: timetable_settings::Model) -> Self {
        let mut out = Self::of_grid(Some(row.id), row.term_id, &grid_of(&row));
        out.created_at = Some(row.created_at);
        out.updated_at = Some(row.updated_at);
        out
    }
}

/// What a settings body may set; every field but `term` has the
/// contract's default.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SettingsIn {
    /// The term; null or absent: the default settings.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub term: Field<String>,
    /// Weekday names (any case); default monday–friday.
    #[serde(default)]
    #[schema(schema_with = working_days_schema)]
    pub working_days: Field<Value>,
    /// `HH:MM`, default `08:00`.
    #[serde(default)]
    #[schema(schema_with = rest::clock_schema)]
    pub day_start: Field<String>,
    /// `HH:MM`, default `17:00`, after `day_start`.
    #[serde(default)]
    #[schema(schema_with = rest::clock_schema)]
    pub day_end: Field<String>,
    /// 15, 20, 30 or 60; default 30.
    #[serde(default)]
    #[schema(schema_with = slot_minutes_schema)]
    pub slot_minutes: Field<i64>,
    /// `[{name, start, end}]` inside the day, not overlapping; default
    /// none (null: none).
    #[serde(default)]
    #[schema(schema_with = breaks_schema)]
    pub breaks: Field<Value>,
    /// Default 6.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 48)]
    pub max_sessions_per_day_per_class_group: Field<i64>,
}

/// OpenAPI: a non-empty list of weekday names.
fn working_days_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(kernel::form::schema::choice(
            &rest::WEEKDAYS,
        )))
        .min_items(Some(1))
        .into()
}

/// OpenAPI: one of [`SLOT_CHOICES`].
fn slot_minutes_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .enum_values(Some(SLOT_CHOICES.iter().copied()))
        .into()
}

/// OpenAPI: up to 20 breaks `{name, start, end}`, or null for none.
fn breaks_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(50))
        .pattern(Some(kernel::form::schema::NOT_BLANK_PATTERN));
    let one = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("name", name)
        .property("start", rest::clock_schema())
        .property("end", rest::clock_schema())
        .required("name")
        .required("start")
        .required("end");
    kernel::form::schema::or_null(ArrayBuilder::new().items(one).max_items(Some(20)))
}

/// Working days from a body: a non-empty list of weekday names.
fn working_days(c: &mut Checker, field: Field<Value>) -> Option<Vec<i32>> {
    let value = match field {
        Field::Absent => return None,
        other => c.value("working_days", other)?,
    };
    let Value::Array(items) = value else {
        c.error("working_days", "Expected a list of items.");
        return None;
    };
    if items.is_empty() {
        c.error("working_days", "This list may not be empty.");
        return None;
    }
    let mut days = Vec::new();
    for item in &items {
        match item.as_str().and_then(rest::parse_weekday) {
            Some(d) => days.push(d),
            None => {
                let shown = item
                    .as_str()
                    .map_or_else(|| item.to_string(), str::to_owned);
                c.error(
                    "working_days",
                    format!("\"{shown}\" is not a valid choice."),
                );
                return None;
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    Some(days)
}

/// Breaks from a body, each `{name, start, end}` with `end > start`.
fn breaks(c: &mut Checker, field: Field<Value>) -> Option<Vec<(i32, i32, String)>> {
    let value = match field {
        Field::Absent => return None,
        Field::Null => return Some(Vec::new()),
        Field::Value(v) => v,
    };
    let Value::Array(items) = value else {
        c.error("breaks", "Expected a list of items.");
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let n = i + 1;
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        let start = item
            .get("start")
            .and_then(Value::as_str)
            .and_then(rest::parse_clock);
        let end = item
            .get("end")
            .and_then(Value::as_str)
            .and_then(rest::parse_clock);
        if name.is_empty() || name.chars().count() > 50 || name.contains('\0') {
            c.error(
                "breaks",
                format!("Break {n}: give a name of at most 50 characters."),
            );
            return None;
        }
        let (Some(start), Some(end)) = (start, end) else {
            c.error(
                "breaks",
                format!("Break {n} ({name}): start and end are times as HH:MM."),
            );
            return None;
        };
        if end <= start {
            c.error(
                "breaks",
                format!("Break {n} ({name}): end must be after start."),
            );
            return None;
        }
        out.push((start, end, name.to_owned()));
    }
    if out.len() > 20 {
        c.error("breaks", "Ensure this list has no more than 20 items.");
        return None;
    }
    out.sort();
    Some(out)
}

fn clock(c: &mut Checker, name: &str, field: Field<String>) -> Option<i32> {
    let raw = match field {
        Field::Absent => return None,
        other => c.value(name, other)?,
    };
    let minute = rest::parse_clock(&raw);
    if minute.is_none() {
        c.error(name, rest::BAD_CLOCK);
    }
    minute
}

/// `input` over `base` (the stored grid, or the defaults) and its term.
async fn validate(
    db: &impl ConnectionTrait,
    input: SettingsIn,
    existing: Option<&timetable_settings::Model>,
) -> ApiResult<(Option<Uuid>, Grid)> {
    let mut c = Checker::new();
    let mut g = existing.map(grid_of).unwrap_or_default();
    let mut term_id = existing.and_then(|e| e.term_id);
    match input.term {
        Field::Absent => {}
        Field::Null => term_id = None,
        Field::Value(raw) => match Uuid::parse_str(raw.trim()) {
            Ok(id) if term::Entity::find_by_id(id).one(db).await?.is_some() => term_id = Some(id),
            _ => c.error("term", rest::invalid_pk(&raw)),
        },
    }
    if let Some(days) = working_days(&mut c, input.working_days) {
        g.working_days = days;
    }
    if let Some(x) = clock(&mut c, "day_start", input.day_start) {
        g.day_start = x;
    }
    if let Some(x) = clock(&mut c, "day_end", input.day_end) {
        g.day_end = x;
    }
    if !input.slot_minutes.is_absent()
        && let Some(x) = c.value("slot_minutes", input.slot_minutes)
    {
        match i32::try_from(x).ok().filter(|m| SLOT_CHOICES.contains(m)) {
            Some(m) => g.slot_minutes = m,
            None => c.error(
                "slot_minutes",
                "Slot length must be 15, 20, 30 or 60 minutes.",
            ),
        }
    }
    if let Some(list) = breaks(&mut c, input.breaks) {
        g.breaks = list;
    }
    if let Some(x) = c.patch_int(
        "max_sessions_per_day_per_class_group",
        input.max_sessions_per_day_per_class_group,
        1,
        48,
    ) {
        g.max_sessions_per_day_per_class_group = i32::try_from(x).unwrap_or(1);
    }
    if !c.has_error("day_start") && !c.has_error("day_end") && g.day_end <= g.day_start {
        c.error("day_end", "The day must end after it starts.");
    }
    if !c.has_error("breaks") && !c.has_error("day_start") && !c.has_error("day_end") {
        if let Some((_, _, name)) = g
            .breaks
            .iter()
            .find(|(s, e, _)| *s < g.day_start || *e > g.day_end)
        {
            c.error(
                "breaks",
                format!("Break {name} is not inside the school day."),
            );
        } else if let Some(pair) = g.breaks.windows(2).find(|w| w[1].0 < w[0].1) {
            c.error(
                "breaks",
                format!("Breaks {} and {} overlap.", pair[0].2, pair[1].2),
            );
        }
    }
    c.finish()?;
    Ok((term_id, g))
}

fn scope_of(term_id: Option<Uuid>) -> String {
    term_id.map_or_else(|| DEFAULT_SCOPE.to_owned(), |t| t.to_string())
}

fn taken(term_id: Option<Uuid>) -> ApiError {
    match term_id {
        Some(_) => ApiError::field("term", TAKEN_TERM),
        None => ApiError::field("term", TAKEN_DEFAULT),
    }
}

/// Whether another row already holds `scope`.
async fn scope_taken(
    db: &impl ConnectionTrait,
    scope: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut query =
        timetable_settings::Entity::find().filter(timetable_settings::Column::Scope.eq(scope));
    if let Some(id) = except {
        query = query.filter(timetable_settings::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

fn write_grid(row: &mut timetable_settings::ActiveModel, term_id: Option<Uuid>, g: &Grid) {
    let days: Vec<&str> = g.working_days.iter().map(|d| rest::weekday(*d)).collect();
    let breaks: Vec<StoredBreak> = g
        .breaks
        .iter()
        .map(|(s, e, n)| StoredBreak {
            name: n.clone(),
            start: *s,
            end: *e,
        })
        .collect();
    row.scope = Set(scope_of(term_id));
    row.term_id = Set(term_id);
    row.working_days = Set(serde_json::to_string(&days).unwrap_or_else(|_| "[]".into()));
    row.day_start = Set(g.day_start);
    row.day_end = Set(g.day_end);
    row.slot_minutes = Set(g.slot_minutes);
    row.breaks = Set(serde_json::to_string(&breaks).unwrap_or_else(|_| "[]".into()));
    row.max_sessions_per_day_per_class_group = Set(g.max_sessions_per_day_per_class_group);
}

fn snapshot(term_id: Option<Uuid>, g: &Grid) -> Value {
    json!(SettingsOut::of_grid(None, term_id, g))
}

async fn find(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<timetable_settings::Model> {
    timetable_settings::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// List timetable settings (staff). Filter `term` (`null`: the default
/// row); ordering `created_at`.
#[utoipa::path(get, path = "/api/timetable-settings/", tag = "timetable", security(("jwt" = [])),
    params(("term" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<SettingsOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_settings(
    Db(db): Db,
    _staff: Staff,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<SettingsOut>>> {
    let mut query = timetable_settings::Entity::find();
    if list.get("term") == Some("null") {
        query = query.filter(timetable_settings::Column::TermId.is_null());
    } else {
        query = list.filter(
            query,
            "term",
            timetable_settings::Column::TermId,
            FilterKind::Uuid,
        )?;
    }
    let query = list.order(
        query,
        &[(
            "created_at",
            timetable_settings::Column::CreatedAt.into_simple_expr(),
        )],
        &[("created_at", Order::Asc)],
        timetable_settings::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE).await?.map(SettingsOut::from),
    ))
}

/// Store the settings of a term, or the default ones (admin, deputy principal).
#[utoipa::path(post, path = "/api/timetable-settings/", tag = "timetable", security(("jwt" = [])),
    request_body = SettingsIn,
    responses((status = 201, body = SettingsOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_settings(
    Db(db): Db,
    Caller(_lead, actor): Caller<Lead>,
    Json(input): Json<SettingsIn>,
) -> ApiResult<(StatusCode, Json<SettingsOut>)> {
    let (term_id, grid) = validate(&db, input, None).await?;
    if scope_taken(&db, &scope_of(term_id), None).await? {
        return Err(taken(term_id));
    }
    let now = kernel::time::now();
    let mut row = timetable_settings::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    write_grid(&mut row, term_id, &grid);
    let txn = kernel::db::begin_write(&db).await?;
    let created = row.insert(&txn).await.map_err(|e| unique(e, term_id))?;
    let entry = Entry::new(&actor, Action::CREATE, "timetable_settings", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(term_id, &grid))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

fn unique(error: DbErr, term_id: Option<Uuid>) -> ApiError {
    if kernel::error::is_unique_violation(&error, "scope") {
        taken(term_id)
    } else {
        error.into()
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct TermParam {
    /// The term; absent: the default grid.
    #[param(value_type = Option<Uuid>)]
    pub term: Option<String>,
}

/// The grid a term uses: its own settings, else the default row, else the
/// built-in defaults (staff). `id` is that row's, null for the built-in one.
#[utoipa::path(get, path = "/api/timetable-settings/effective/", tag = "timetable", security(("jwt" = [])),
    params(TermParam),
    responses((status = 200, body = SettingsOut), (status = 400), (status = 401), (status = 403)))]
pub async fn effective_settings(
    Db(db): Db,
    _staff: Staff,
    Query(params): Query<TermParam>,
) -> ApiResult<Json<SettingsOut>> {
    let term_id = match params.term {
        None => None,
        Some(raw) => match Uuid::parse_str(raw.trim()) {
            Ok(id) if term::Entity::find_by_id(id).one(&db).await?.is_some() => Some(id),
            _ => {
                return Err(ApiError::field(
                    "term",
                    "Select a valid choice. That choice is not one of the available choices.",
                ));
            }
        },
    };
    let mut scopes = vec![DEFAULT_SCOPE.to_owned()];
    if let Some(t) = term_id {
        scopes.push(t.to_string());
    }
    let rows = timetable_settings::Entity::find()
        .filter(timetable_settings::Column::Scope.is_in(scopes))
        .all(&db)
        .await?;
    let own = rows.iter().find(|r| r.scope != DEFAULT_SCOPE);
    let chosen = own.or_else(|| rows.iter().find(|r| r.scope == DEFAULT_SCOPE));
    Ok(Json(match chosen {
        Some(row) => row.clone().into(),
        None => SettingsOut::of_grid(None, term_id, &Grid::default()),
    }))
}

/// One settings row (staff).
#[utoipa::path(get, path = "/api/timetable-settings/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SettingsOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_settings(
    Db(db): Db,
    _staff: Staff,
    Id(id): Id,
) -> ApiResult<Json<SettingsOut>> {
    Ok(Json(find(&db, id).await?.into()))
}

async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    body: Result<Json<SettingsIn>, ApiError>,
) -> ApiResult<Json<SettingsOut>> {
    let existing = find(db, id).await?;
    let Json(input) = body?;
    let (term_id, grid) = validate(db, input, Some(&existing)).await?;
    if scope_taken(db, &scope_of(term_id), Some(id)).await? {
        return Err(taken(term_id));
    }
    let before = snapshot(existing.term_id, &grid_of(&existing));
    let txn = kernel::db::begin_write(db).await?;
    let mut row: timetable_settings::ActiveModel = existing.into();
    write_grid(&mut row, term_id, &grid);
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(|e| unique(e, term_id))?;
    let entry = Entry::new(actor, Action::UPDATE, "timetable_settings", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(&before, &snapshot(term_id, &grid))),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace settings (admin, deputy principal); absent fields keep their values.
#[utoipa::path(put, path = "/api/timetable-settings/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = SettingsIn,
    responses((status = 200, body = SettingsOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_settings(
    Db(db): Db,
    Caller(_lead, actor): Caller<Lead>,
    Id(id): Id,
    body: Result<Json<SettingsIn>, ApiError>,
) -> ApiResult<Json<SettingsOut>> {
    update(&db, &actor, id, body).await
}

/// Change some settings (admin, deputy principal).
#[utoipa::path(patch, path = "/api/timetable-settings/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = SettingsIn,
    responses((status = 200, body = SettingsOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_settings(
    Db(db): Db,
    Caller(_lead, actor): Caller<Lead>,
    Id(id): Id,
    body: Result<Json<SettingsIn>, ApiError>,
) -> ApiResult<Json<SettingsOut>> {
    update(&db, &actor, id, body).await
}

/// Remove settings (admin, deputy principal): the term falls back to the
/// default grid.
#[utoipa::path(delete, path = "/api/timetable-settings/{id}/", tag = "timetable", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_settings(
    Db(db): Db,
    Caller(_lead, actor): Caller<Lead>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let entry = Entry::new(&actor, Action::DELETE, "timetable_settings", id);
    let before = snapshot(existing.term_id, &grid_of(&existing));
    Log::write(&txn, entry.changes(kernel::audit::deleted(&before))).await?;
    let deleted = timetable_settings::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_knows_its_hours_and_breaks() {
        let g = Grid {
            breaks: vec![(600, 615, "Tea".into()), (720, 780, "Lunch".into())],
            ..Grid::default()
        };
        assert!(g.within_hours(0, 480, 600));
        assert!(g.within_hours(4, 960, 1020));
        assert!(!g.within_hours(5, 480, 600));
        assert!(!g.within_hours(0, 450, 510));
        assert!(!g.within_hours(0, 1000, 1050));
        assert_eq!(g.break_hit(540, 600), None);
        assert_eq!(g.break_hit(540, 610).map(|b| b.2.as_str()), Some("Tea"));
        assert_eq!(g.break_hit(700, 800).map(|b| b.2.as_str()), Some("Lunch"));
        assert_eq!(g.break_hit(780, 840), None);
    }
}
