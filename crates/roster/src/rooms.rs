//! Rooms (contract §4, **Room**): teaching spaces with type, capacity,
//! place and geofence, booking limit and maintenance windows — `/api/rooms/`,
//! a room's bookings by date (`/{id}/availability/`), the rooms free at a
//! weekly slot (`/available/`) and a room's maintenance windows
//! (`/{id}/maintenance/`).
//!
//! Any signed-in user reads rooms (timetables name them); admin and the
//! deputy principal write every room, a HOD the rooms of the department they
//! head (never a shared one).
//!
//! The timetable and generation modules use [`ROOM_TYPES`] and
//! [`maintenance_for`].

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeZone, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::listing::{ListOf, Page, PageOf};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, FieldErrors, FilterKind, Id, Json};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, IntoSimpleExpr, Order, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Manager, Me, Role, headed_department};
use crate::audit::Log;
use crate::entities::{
    class_group, course, department, enrollment, room, room_maintenance, term, timetable_entry,
    user,
};
use crate::rest::{self, PAGE};
use crate::state::AppState;

/// The room types, as the API names them (`online` is a virtual room's).
pub const ROOM_TYPES: &[&str] = &[
    "lecture_hall",
    "classroom",
    "lab",
    "computer_lab",
    "workshop",
    "seminar_room",
    "online",
];

/// Maintenance windows of one room as UTC instants `(starts_at, ends_at)`.
pub type Windows = Vec<(DateTime<Utc>, DateTime<Utc>)>;

/// The maintenance windows of each of `room_ids` as UTC instants
/// `(starts_at, ends_at)`, half-open, sorted by start. A room without
/// windows has no key.
pub async fn maintenance_for(
    db: &impl ConnectionTrait,
    room_ids: &[Uuid],
) -> Result<HashMap<Uuid, Windows>, DbErr> {
    let mut windows: HashMap<Uuid, Windows> = HashMap::new();
    for chunk in room_ids.chunks(500) {
        let rows = room_maintenance::Entity::find()
            .filter(room_maintenance::Column::RoomId.is_in(chunk.iter().copied()))
            .order_by_asc(room_maintenance::Column::StartsAt)
            .all(db)
            .await?;
        for row in rows {
            windows
                .entry(row.room_id)
                .or_default()
                .push((row.starts_at, row.ends_at));
        }
    }
    Ok(windows)
}

const NAME_TAKEN: &str = "Room with this name already exists.";
const COORDINATES: &str = "Give both latitude and longitude, or neither.";
const ONLINE_IS_VIRTUAL: &str = "An online room is virtual.";
const OWN_DEPARTMENT: &str = "You can only manage rooms of the department you head.";
const IN_USE: &str = "This room is used by the timetable or by sessions and cannot be deleted; deactivate it instead.";
const END_AFTER_START: &str = "End must be after start.";
const BAD_DATETIME: &str = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
/// The longest range `/{id}/availability/` answers, in days.
const MAX_RANGE_DAYS: i64 = 31;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rooms, create_room))
        .routes(routes!(available_rooms))
        .routes(routes!(
            retrieve_room,
            update_room,
            partial_update_room,
            destroy_room
        ))
        .routes(routes!(room_availability))
        .routes(routes!(list_maintenance, create_maintenance))
        .routes(routes!(
            retrieve_maintenance,
            update_maintenance,
            partial_update_maintenance,
            destroy_maintenance
        ))
}

kernel::choices!(
    /// The kind of room.
    pub RoomType = ROOM_TYPES
);

// ---------------------------------------------------------------------------
// Shapes

/// A room as every endpoint shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomOut {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    #[schema(value_type = RoomType)]
    pub room_type: String,
    pub capacity: i32,
    pub building: Option<String>,
    pub floor: Option<String>,
    /// The owning department; null for a shared room.
    pub department: Option<Uuid>,
    pub department_name: Option<String>,
    pub facilities: Vec<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geofence_radius_m: i32,
    /// Virtual rooms skip the geofence.
    pub is_virtual: bool,
    pub is_active: bool,
    /// The most timetable entries the room takes on one weekday (null: no limit).
    pub max_sessions_per_day: Option<i32>,
    /// Published timetable entries held in the room.
    pub session_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn facilities_of(row: &room::Model) -> Vec<String> {
    serde_json::from_str(&row.facilities).unwrap_or_default()
}

impl RoomOut {
    fn of(row: room::Model, department_name: Option<String>, session_count: i64) -> Self {
        let facilities = facilities_of(&row);
        Self {
            id: row.id,
            name: row.name,
            code: row.code,
            room_type: row.room_type,
            capacity: row.capacity,
            building: row.building,
            floor: row.floor,
            department: row.department_id,
            department_name,
            facilities,
            latitude: row.latitude,
            longitude: row.longitude,
            geofence_radius_m: row.geofence_radius_m,
            is_virtual: row.is_virtual,
            is_active: row.is_active,
            max_sessions_per_day: row.max_sessions_per_day,
            session_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    /// `rows` as shown, with their department names and session counts
    /// read in two queries.
    async fn many(db: &impl ConnectionTrait, rows: Vec<room::Model>) -> Result<Vec<Self>, DbErr> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let departments: HashSet<Uuid> = rows.iter().filter_map(|r| r.department_id).collect();
        let names: HashMap<Uuid, String> = if departments.is_empty() {
            HashMap::new()
        } else {
            department::Entity::find()
                .filter(department::Column::Id.is_in(departments))
                .all(db)
                .await?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect()
        };
        let counts: HashMap<Uuid, i64> = if ids.is_empty() {
            HashMap::new()
        } else {
            timetable_entry::Entity::find()
                .select_only()
                .column(timetable_entry::Column::RoomId)
                .column_as(Expr::cust("COUNT(*)"), "n")
                .filter(timetable_entry::Column::RoomId.is_in(ids))
                .filter(timetable_entry::Column::IsDraft.eq(false))
                .group_by(timetable_entry::Column::RoomId)
                .into_tuple::<(Uuid, i64)>()
                .all(db)
                .await?
                .into_iter()
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|r| {
                let name = r.department_id.and_then(|d| names.get(&d).cloned());
                let count = counts.get(&r.id).copied().unwrap_or(0);
                Self::of(r, name, count)
            })
            .collect())
    }

    async fn one(db: &impl ConnectionTrait, row: room::Model) -> ApiResult<Self> {
        Self::many(db, vec![row])
            .await?
            .pop()
            .ok_or_else(ApiError::not_found)
    }
}

/// What a room body may set (every field optional under PATCH).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RoomIn {
    /// Unique (case-insensitively), at most 100 characters.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub code: Field<String>,
    /// Default `classroom`.
    #[serde(default)]
    #[schema(value_type = RoomType)]
    pub room_type: Field<String>,
    /// At least 1.
    #[serde(default)]
    #[schema(schema_with = capacity_schema, required = true)]
    pub capacity: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub building: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub floor: Field<String>,
    /// The owning department's id; null for a shared room (a HOD's rooms
    /// default to the department they head).
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<String>,
    /// Non-blank names of at most 100 characters.
    #[serde(default)]
    #[schema(schema_with = facilities_schema)]
    pub facilities: Field<Vec<String>>,
    /// -90…90; given together with `longitude`.
    #[serde(default)]
    #[schema(schema_with = latitude_schema)]
    pub latitude: Field<f64>,
    /// -180…180; given together with `latitude`.
    #[serde(default)]
    #[schema(schema_with = longitude_schema)]
    pub longitude: Field<f64>,
    /// 10…1000, default 50.
    #[serde(default)]
    #[schema(schema_with = geofence_schema)]
    pub geofence_radius_m: Field<i64>,
    /// Default false (true for `online` rooms, which are always virtual).
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_virtual: Field<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
    /// At least 1; null for no limit.
    #[serde(default)]
    #[schema(schema_with = max_sessions_schema)]
    pub max_sessions_per_day: Field<i64>,
}

fn capacity_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1, 100_000)
}

fn geofence_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(10, 1000)
}

fn max_sessions_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(kernel::form::schema::int(1, 1000))
}

fn facilities_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(
            kernel::form::schema::text::<100>(),
        ))
        .into()
}

/// A coordinate within `-limit..=limit`, or null.
pub(crate) fn coordinate_schema(limit: f64) -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(-limit))
            .maximum(Some(limit)),
    )
}

fn latitude_schema() -> utoipa::openapi::schema::Schema {
    coordinate_schema(90.0)
}

fn longitude_schema() -> utoipa::openapi::schema::Schema {
    coordinate_schema(180.0)
}

/// A room's fields as a write leaves them (before they are stored).
#[derive(Debug, Clone)]
struct Draft {
    name: String,
    code: Option<String>,
    room_type: String,
    capacity: i32,
    building: Option<String>,
    floor: Option<String>,
    department_id: Option<Uuid>,
    facilities: Vec<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    geofence_radius_m: i32,
    is_virtual: bool,
    is_active: bool,
    max_sessions_per_day: Option<i32>,
}

impl Draft {
    fn blank() -> Self {
        Self {
            name: String::new(),
            code: None,
            room_type: "classroom".into(),
            capacity: 1,
            building: None,
            floor: None,
            department_id: None,
            facilities: Vec::new(),
            latitude: None,
            longitude: None,
            geofence_radius_m: 50,
            is_virtual: false,
            is_active: true,
            max_sessions_per_day: None,
        }
    }

    fn of(row: &room::Model) -> Self {
        Self {
            name: row.name.clone(),
            code: row.code.clone(),
            room_type: row.room_type.clone(),
            capacity: row.capacity,
            building: row.building.clone(),
            floor: row.floor.clone(),
            department_id: row.department_id,
            facilities: facilities_of(row),
            latitude: row.latitude,
            longitude: row.longitude,
            geofence_radius_m: row.geofence_radius_m,
            is_virtual: row.is_virtual,
            is_active: row.is_active,
            max_sessions_per_day: row.max_sessions_per_day,
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        json!({
            "name": self.name, "code": self.code, "room_type": self.room_type,
            "capacity": self.capacity, "building": self.building, "floor": self.floor,
            "department": self.department_id, "facilities": self.facilities,
            "latitude": self.latitude, "longitude": self.longitude,
            "geofence_radius_m": self.geofence_radius_m, "is_virtual": self.is_virtual,
            "is_active": self.is_active, "max_sessions_per_day": self.max_sessions_per_day,
        })
    }

    fn write_into(self, row: &mut room::ActiveModel) {
        row.name = Set(self.name);
        row.code = Set(self.code);
        row.room_type = Set(self.room_type);
        row.capacity = Set(self.capacity);
        row.building = Set(self.building);
        row.floor = Set(self.floor);
        row.department_id = Set(self.department_id);
        row.facilities =
            Set(serde_json::to_string(&self.facilities).unwrap_or_else(|_| "[]".into()));
        row.latitude = Set(self.latitude);
        row.longitude = Set(self.longitude);
        row.geofence_radius_m = Set(self.geofence_radius_m);
        row.is_virtual = Set(self.is_virtual);
        row.is_active = Set(self.is_active);
        row.max_sessions_per_day = Set(self.max_sessions_per_day);
    }
}

fn small(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A coordinate within `-limit..=limit`.
fn coordinate(c: &mut Checker, name: &str, field: Field<f64>, limit: f64) -> Option<Option<f64>> {
    let value = c.nullable(field)?;
    match value {
        Some(v) if v < -limit => {
            c.error(
                name,
                format!("Ensure this value is greater than or equal to -{limit}."),
            );
            None
        }
        Some(v) if v > limit => {
            c.error(
                name,
                format!("Ensure this value is less than or equal to {limit}."),
            );
            None
        }
        other => Some(other),
    }
}

/// Facilities: non-blank strings of at most 100 characters, duplicates dropped.
fn facilities(c: &mut Checker, field: Field<Vec<String>>) -> Option<Vec<String>> {
    let list = match field {
        Field::Absent => return None,
        Field::Null => {
            c.error("facilities", kernel::form::NOT_NULL);
            return None;
        }
        Field::Value(list) => list,
    };
    let mut out: Vec<String> = Vec::new();
    for item in list {
        let item = item.trim().to_owned();
        if item.is_empty() || item.contains('\0') || item.chars().count() > 100 {
            c.error(
                "facilities",
                "Each facility is a non-blank name of at most 100 characters.",
            );
            return None;
        }
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Some(out)
}

/// Validates `input` over `base` (the stored room, or the defaults of a new
/// one): every field error at once, then the rules between fields.
async fn validate(
    db: &impl ConnectionTrait,
    me: &user::Model,
    input: RoomIn,
    existing: Option<&room::Model>,
    partial: bool,
) -> ApiResult<Draft> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let mut d = existing.map_or_else(Draft::blank, Draft::of);
    let virtual_given = !input.is_virtual.is_absent();
    let virtual_value = matches!(input.is_virtual, Field::Value(true));
    if let Some(x) = c.text("name", input.name, 100) {
        d.name = x;
    }
    if let Some(x) = c.optional_text("code", input.code, 20) {
        d.code = x;
    }
    if !input.room_type.is_absent()
        && let Some(x) = c.choice("room_type", input.room_type, ROOM_TYPES)
    {
        d.room_type = x;
    }
    if let Some(x) = c.int("capacity", input.capacity, 1, 100_000) {
        d.capacity = small(x);
    }
    if let Some(x) = c.optional_text("building", input.building, 100) {
        d.building = x;
    }
    if let Some(x) = c.optional_text("floor", input.floor, 20) {
        d.floor = x;
    }
    let department_absent = input.department.is_absent();
    match c.nullable(input.department) {
        Some(Some(raw)) => match department_of(db, &raw).await? {
            Some(id) => d.department_id = Some(id),
            None => c.error("department", rest::invalid_pk(&raw)),
        },
        Some(None) => d.department_id = None,
        None => {}
    }
    if existing.is_none() && department_absent && me.role() == Role::Hod {
        d.department_id = headed_department(db, me).await?;
    }
    if let Some(x) = facilities(&mut c, input.facilities) {
        d.facilities = x;
    }
    let latitude = coordinate(&mut c, "latitude", input.latitude, 90.0);
    let longitude = coordinate(&mut c, "longitude", input.longitude, 180.0);
    if let Some(x) = latitude {
        d.latitude = x;
    }
    if let Some(x) = longitude {
        d.longitude = x;
    }
    if let Some(x) = c.patch_int("geofence_radius_m", input.geofence_radius_m, 10, 1000) {
        d.geofence_radius_m = small(x);
    }
    if virtual_given && let Some(x) = c.value("is_virtual", input.is_virtual) {
        d.is_virtual = x;
    }
    if let Some(x) = c.boolean("is_active", input.is_active, true) {
        d.is_active = x;
    }
    match c.nullable(input.max_sessions_per_day) {
        Some(Some(n)) if !(1..=1000).contains(&n) => c.error(
            "max_sessions_per_day",
            if n < 1 {
                "Ensure this value is greater than or equal to 1."
            } else {
                "Ensure this value is less than or equal to 1000."
            },
        ),
        Some(n) => d.max_sessions_per_day = n.map(small),
        None => {}
    }
    if d.room_type == "online" {
        if virtual_given && !virtual_value {
            c.error("is_virtual", ONLINE_IS_VIRTUAL);
        }
        d.is_virtual = true;
    }
    if !c.has_error("latitude")
        && !c.has_error("longitude")
        && d.latitude.is_some() != d.longitude.is_some()
    {
        c.error(FieldErrors::NON_FIELD, COORDINATES);
    }
    if !c.has_error("name") && name_taken(db, &d.name, existing.map(|r| r.id)).await? {
        c.error("name", NAME_TAKEN);
    }
    c.finish()?;
    Ok(d)
}

/// The department a body names, if it exists.
async fn department_of(db: &impl ConnectionTrait, raw: &str) -> Result<Option<Uuid>, DbErr> {
    let Ok(id) = Uuid::parse_str(raw.trim()) else {
        return Ok(None);
    };
    Ok(department::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|d| d.id))
}

/// Whether another room already has `name` (ignoring case).
async fn name_taken(
    db: &impl ConnectionTrait,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut query = room::Entity::find().filter(ExprTrait::eq(
        Expr::expr(Func::lower(Expr::col(room::Column::Name))),
        name.to_lowercase(),
    ));
    if let Some(id) = except {
        query = query.filter(room::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

fn unique(error: DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&error, "name") {
        ApiError::field("name", NAME_TAKEN)
    } else {
        error.into()
    }
}

/// Whether `me` may manage a room of `department` (None: a shared room):
/// admin and deputy principal every room, a HOD those of the department
/// they head.
async fn may_manage(
    db: &impl ConnectionTrait,
    me: &user::Model,
    department: Option<Uuid>,
) -> Result<bool, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => true,
        Role::Hod => department.is_some() && headed_department(db, me).await? == department,
        Role::Trainer | Role::Trainee => false,
    })
}

async fn ensure_manages(
    db: &impl ConnectionTrait,
    me: &user::Model,
    department: Option<Uuid>,
) -> ApiResult<()> {
    if may_manage(db, me, department).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(OWN_DEPARTMENT))
    }
}

async fn find_room(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<room::Model> {
    room::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

// ---------------------------------------------------------------------------
// Rooms

/// List rooms (any signed-in user). Filters `room_type`, `is_active`,
/// `is_virtual`, `department`, `building`, `floor`; search name, building,
/// code; ordering `name`, `capacity`, `building`, `floor`, `room_type`,
/// `created_at` (default name).
#[utoipa::path(get, path = "/api/rooms/", tag = "rooms", security(("jwt" = [])),
    params(("room_type" = inline(Option<RoomType>), Query), ("is_active" = Option<bool>, Query),
           ("is_virtual" = Option<bool>, Query), ("department" = Option<Uuid>, Query),
           ("building" = Option<String>, Query), ("floor" = Option<String>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<RoomOut>), (status = 400), (status = 401)))]
pub async fn list_rooms(
    Db(db): Db,
    _me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, RoomOut>>> {
    let mut query = room::Entity::find();
    query = list.filter(
        query,
        "room_type",
        room::Column::RoomType,
        FilterKind::Choice(ROOM_TYPES),
    )?;
    query = list.filter(query, "is_active", room::Column::IsActive, FilterKind::Bool)?;
    query = list.filter(
        query,
        "is_virtual",
        room::Column::IsVirtual,
        FilterKind::Bool,
    )?;
    query = list.filter(
        query,
        "department",
        room::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    query = list.filter(query, "building", room::Column::Building, FilterKind::Text)?;
    query = list.filter(query, "floor", room::Column::Floor, FilterKind::Text)?;
    query = list.search(
        query,
        &[
            room::Column::Name.into_simple_expr(),
            room::Column::Building.into_simple_expr(),
            room::Column::Code.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", room::Column::Name.into_simple_expr()),
            ("capacity", room::Column::Capacity.into_simple_expr()),
            ("building", room::Column::Building.into_simple_expr()),
            ("floor", room::Column::Floor.into_simple_expr()),
            ("room_type", room::Column::RoomType.into_simple_expr()),
            ("created_at", room::Column::CreatedAt.into_simple_expr()),
        ],
        &[("name", Order::Asc)],
        room::Column::Id,
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
        results: RoomOut::many(&db, results).await?,
    }))
}

/// Create a room (admin, deputy principal; a HOD for the department they head).
#[utoipa::path(post, path = "/api/rooms/", tag = "rooms", security(("jwt" = [])), request_body = RoomIn,
    responses((status = 201, body = RoomOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_room(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Json(input): Json<RoomIn>,
) -> ApiResult<(StatusCode, Json<RoomOut>)> {
    let draft = validate(&db, &me, input, None, false).await?;
    ensure_manages(&db, &me, draft.department_id).await?;
    let now = kernel::time::now();
    let snapshot = draft.snapshot();
    let mut row = room::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    draft.write_into(&mut row);
    let txn = kernel::db::begin_write(&db).await?;
    let created = row.insert(&txn).await.map_err(unique)?;
    let entry = Entry::new(&actor, Action::CREATE, "room", created.id).label(created.name.clone());
    Log::write(&txn, entry.changes(kernel::audit::created(&snapshot))).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(RoomOut::one(&db, created).await?)))
}

/// Retrieve a room (any signed-in user).
#[utoipa::path(get, path = "/api/rooms/{id}/", tag = "rooms", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoomOut), (status = 401), (status = 404)))]
pub async fn retrieve_room(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<RoomOut>> {
    let row = find_room(&db, id).await?;
    Ok(Json(RoomOut::one(&db, row).await?))
}

async fn update(
    db: &DatabaseConnection,
    me: &user::Model,
    actor: &Actor,
    id: Uuid,
    body: Result<Json<RoomIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<RoomOut>> {
    let existing = find_room(db, id).await?;
    ensure_manages(db, me, existing.department_id).await?;
    let Json(input) = body?;
    let draft = validate(db, me, input, Some(&existing), partial).await?;
    ensure_manages(db, me, draft.department_id).await?;
    let before = Draft::of(&existing).snapshot();
    let after = draft.snapshot();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: room::ActiveModel = existing.into();
    draft.write_into(&mut row);
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await.map_err(unique)?;
    let entry = Entry::new(actor, Action::UPDATE, "room", updated.id).label(updated.name.clone());
    Log::write(&txn, entry.changes(kernel::audit::diff(&before, &after))).await?;
    txn.commit().await?;
    Ok(Json(RoomOut::one(db, updated).await?))
}

/// Replace a room's fields (admin, deputy principal; a HOD their department's rooms).
#[utoipa::path(put, path = "/api/rooms/{id}/", tag = "rooms", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = RoomIn,
    responses((status = 200, body = RoomOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_room(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    body: Result<Json<RoomIn>, ApiError>,
) -> ApiResult<Json<RoomOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a room's fields (admin, deputy principal; a HOD their department's rooms).
#[utoipa::path(patch, path = "/api/rooms/{id}/", tag = "rooms", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = RoomIn,
    responses((status = 200, body = RoomOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_room(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    body: Result<Json<RoomIn>, ApiError>,
) -> ApiResult<Json<RoomOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Delete a room no timetable entry or session uses (409 otherwise;
/// deactivate it instead).
#[utoipa::path(delete, path = "/api/rooms/{id}/", tag = "rooms", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn destroy_room(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_room(&db, id).await?;
    ensure_manages(&db, &me, existing.department_id).await?;
    let used = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::RoomId.eq(id))
        .one(&db)
        .await?
        .is_some();
    if used {
        return Err(ApiError::Conflict(IN_USE.into()));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let entry = Entry::new(&actor, Action::DELETE, "room", id).label(existing.name.clone());
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&Draft::of(&existing).snapshot())),
    )
    .await?;
    let deleted = room::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| {
            if kernel::error::is_foreign_key_violation(&e) {
                ApiError::Conflict(IN_USE.into())
            } else {
                e.into()
            }
        })?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Bookings by date

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct RangeParams {
    /// `YYYY-MM-DD`, default today (school time).
    #[param(inline, value_type = Option<kernel::form::schema::Date1900>)]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, default six days after `start_date`; at most 31 days in all.
    #[param(inline, value_type = Option<kernel::form::schema::Date1900>)]
    pub end_date: Option<String>,
}

/// One published timetable entry held in the room on a date.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingOut {
    pub id: Uuid,
    pub start_time: String,
    pub end_time: String,
    pub course_name: String,
    pub trainer_name: Option<String>,
    pub class_group: String,
}

/// A date's bookings of the room.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayOut {
    pub date: NaiveDate,
    /// `Monday`…`Sunday`.
    pub day_name: String,
    pub bookings: Vec<BookingOut>,
}

/// Today in the school's time zone.
async fn school_today(db: &impl ConnectionTrait) -> Result<NaiveDate, DbErr> {
    let tz = crate::school::timezone(db).await?;
    Ok(kernel::time::now().with_timezone(&tz).date_naive())
}

/// `start_date..=end_date` of a range query: each a date, the end not
/// before the start, at most 31 days.
async fn date_range(
    db: &impl ConnectionTrait,
    params: &RangeParams,
) -> ApiResult<(NaiveDate, NaiveDate)> {
    let mut errors = FieldErrors::new();
    let start = match params.start_date.as_deref() {
        None => Some(school_today(db).await?),
        Some(raw) => rest::parse_date(raw).or_else(|| {
            errors.add("start_date", rest::BAD_DATE);
            None
        }),
    };
    let end = match params.end_date.as_deref() {
        None => start.and_then(|s| s.checked_add_days(Days::new(6))),
        Some(raw) => rest::parse_date(raw).or_else(|| {
            errors.add("end_date", rest::BAD_DATE);
            None
        }),
    };
    errors.into_result()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::field("start_date", rest::BAD_DATE));
    };
    if end < start {
        return Err(ApiError::field(
            "end_date",
            "end_date must not be before start_date.",
        ));
    }
    if (end - start).num_days() + 1 > MAX_RANGE_DAYS {
        return Err(ApiError::field(
            "end_date",
            format!("The range may span at most {MAX_RANGE_DAYS} days."),
        ));
    }
    Ok((start, end))
}

/// The dates `start..=end`.
fn dates(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    start.iter_days().take_while(move |d| *d <= end)
}

/// The room's published timetable entries on each date of the range
/// (recurring entries on their weekday inside their term, one-offs on their
/// date). Any signed-in user.
#[utoipa::path(get, path = "/api/rooms/{id}/availability/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), RangeParams),
    responses((status = 200, body = Vec<DayOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn room_availability(
    Db(db): Db,
    _me: Me,
    Id(id): Id,
    Query(params): Query<RangeParams>,
) -> ApiResult<Json<Vec<DayOut>>> {
    let room = find_room(&db, id).await?;
    let (start, end) = date_range(&db, &params).await?;
    let terms: HashMap<Uuid, term::Model> = term::Entity::find()
        .filter(term::Column::StartDate.lte(end))
        .filter(term::Column::EndDate.gte(start))
        .all(&db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let entries = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::RoomId.eq(room.id))
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(timetable_entry::Column::IsRecurring.eq(true))
                        .add(timetable_entry::Column::TermId.is_in(terms.keys().copied())),
                )
                .add(
                    Condition::all()
                        .add(timetable_entry::Column::IsRecurring.eq(false))
                        .add(timetable_entry::Column::SpecificDate.between(start, end)),
                ),
        )
        .order_by_asc(timetable_entry::Column::StartMinute)
        .all(&db)
        .await?;
    let labels = Labels::load(&db, &entries).await?;
    let days = dates(start, end)
        .map(|date| {
            let bookings = entries
                .iter()
                .filter(|e| occurs_on(e, date, &terms))
                .map(|e| labels.booking(e))
                .collect();
            DayOut {
                date,
                day_name: rest::weekday_title(rest::weekday_of(date)),
                bookings,
            }
        })
        .collect();
    Ok(Json(days))
}

/// Whether entry `e` is held on `date`: a one-off on its date, a recurring
/// entry on its weekday inside its term.
fn occurs_on(
    e: &timetable_entry::Model,
    date: NaiveDate,
    terms: &HashMap<Uuid, term::Model>,
) -> bool {
    if e.is_recurring {
        e.day == rest::weekday_of(date)
            && terms
                .get(&e.term_id)
                .is_some_and(|t| t.start_date <= date && date <= t.end_date)
    } else {
        e.specific_date == Some(date)
    }
}

/// The course, trainer and class group names of some entries.
struct Labels {
    enrollments: HashMap<Uuid, enrollment::Model>,
    courses: HashMap<Uuid, String>,
    trainers: HashMap<Uuid, String>,
    class_groups: HashMap<Uuid, String>,
}

impl Labels {
    async fn load(
        db: &impl ConnectionTrait,
        entries: &[timetable_entry::Model],
    ) -> Result<Self, DbErr> {
        let ids: HashSet<Uuid> = entries.iter().map(|e| e.enrollment_id).collect();
        let enrollments: HashMap<Uuid, enrollment::Model> = if ids.is_empty() {
            HashMap::new()
        } else {
            enrollment::Entity::find()
                .filter(enrollment::Column::Id.is_in(ids))
                .all(db)
                .await?
                .into_iter()
                .map(|e| (e.id, e))
                .collect()
        };
        let course_ids: HashSet<Uuid> = enrollments.values().map(|e| e.course_id).collect();
        let trainer_ids: HashSet<Uuid> =
            enrollments.values().filter_map(|e| e.trainer_id).collect();
        let group_ids: HashSet<Uuid> = enrollments.values().map(|e| e.class_group_id).collect();
        let courses = if course_ids.is_empty() {
            HashMap::new()
        } else {
            course::Entity::find()
                .filter(course::Column::Id.is_in(course_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect()
        };
        let trainers = if trainer_ids.is_empty() {
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
        let class_groups = if group_ids.is_empty() {
            HashMap::new()
        } else {
            class_group::Entity::find()
                .filter(class_group::Column::Id.is_in(group_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect()
        };
        Ok(Self {
            enrollments,
            courses,
            trainers,
            class_groups,
        })
    }

    fn booking(&self, e: &timetable_entry::Model) -> BookingOut {
        let enrollment = self.enrollments.get(&e.enrollment_id);
        BookingOut {
            id: e.id,
            start_time: rest::clock(e.start_minute),
            end_time: rest::clock(e.end_minute),
            course_name: enrollment
                .and_then(|x| self.courses.get(&x.course_id).cloned())
                .unwrap_or_default(),
            trainer_name: enrollment
                .and_then(|x| x.trainer_id)
                .and_then(|t| self.trainers.get(&t).cloned()),
            class_group: enrollment
                .and_then(|x| self.class_groups.get(&x.class_group_id).cloned())
                .unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------------------
// Free rooms at a weekly slot

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SlotParams {
    /// `monday`…`sunday` (or 0…6).
    #[param(required = true, inline, value_type = rest::Weekday)]
    pub day_of_week: Option<String>,
    /// `HH:MM`.
    #[param(required = true, inline, value_type = rest::Clock)]
    pub start_time: Option<String>,
    /// `HH:MM`, after `start_time`.
    #[param(required = true, inline, value_type = rest::Clock)]
    pub end_time: Option<String>,
    /// The term whose timetable and dates count (default: the term of today;
    /// without one, every term's entries and the coming week's maintenance).
    #[param(value_type = Option<Uuid>)]
    pub term: Option<String>,
    #[param(inline, value_type = Option<RoomType>)]
    pub room_type: Option<String>,
    #[param(value_type = Option<i64>)]
    pub min_capacity: Option<String>,
}

/// A checked [`SlotParams`].
struct Slot {
    day: i32,
    start: i32,
    end: i32,
    term: Option<term::Model>,
    room_type: Option<String>,
    min_capacity: Option<i64>,
}

const NOT_A_CHOICE: &str =
    "Select a valid choice. That choice is not one of the available choices.";

async fn slot_of(db: &impl ConnectionTrait, p: SlotParams) -> ApiResult<Slot> {
    let mut errors = FieldErrors::new();
    let required = |name: &str, value: Option<String>, errors: &mut FieldErrors| {
        if value.is_none() {
            errors.add(name, kernel::form::REQUIRED);
        }
        value
    };
    let day = required("day_of_week", p.day_of_week, &mut errors).and_then(|raw| {
        let day = rest::parse_weekday(&raw).or_else(|| {
            raw.trim()
                .parse::<i32>()
                .ok()
                .filter(|d| (0..7).contains(d))
        });
        if day.is_none() {
            errors.add("day_of_week", format!("\"{raw}\" is not a valid choice."));
        }
        day
    });
    let clock = |name: &str, value: Option<String>, errors: &mut FieldErrors| {
        required(name, value, errors).and_then(|raw| {
            let minute = rest::parse_clock(&raw);
            if minute.is_none() {
                errors.add(name, rest::BAD_CLOCK);
            }
            minute
        })
    };
    let start = clock("start_time", p.start_time, &mut errors);
    let end = clock("end_time", p.end_time, &mut errors);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.add("end_time", "End time must be after start time.");
    }
    let term = match p.term {
        None => None,
        Some(raw) => {
            let found = match Uuid::parse_str(raw.trim()) {
                Ok(id) => term::Entity::find_by_id(id).one(db).await?,
                Err(_) => None,
            };
            if found.is_none() {
                errors.add("term", NOT_A_CHOICE);
            }
            found
        }
    };
    if let Some(t) = &p.room_type
        && !ROOM_TYPES.contains(&t.as_str())
    {
        errors.add(
            "room_type",
            format!("Select a valid choice. {t} is not one of the available choices."),
        );
    }
    let min_capacity = p.min_capacity.and_then(|raw| {
        let n = raw.trim().parse::<i64>().ok();
        if n.is_none() {
            errors.add("min_capacity", "Enter a whole number.");
        }
        n
    });
    errors.into_result()?;
    match (day, start, end) {
        (Some(day), Some(start), Some(end)) => Ok(Slot {
            day,
            start,
            end,
            term,
            room_type: p.room_type,
            min_capacity,
        }),
        _ => Err(ApiError::field("day_of_week", kernel::form::REQUIRED)),
    }
}

/// The instant a school-time wall clock reading names (the earlier one
/// when it is ambiguous, as if UTC inside a daylight-saving gap).
fn instant(tz: chrono_tz::Tz, date: NaiveDate, minute: i32) -> DateTime<Utc> {
    let naive =
        date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::minutes(i64::from(minute));
    school_instant(tz, naive)
}

fn school_instant(tz: chrono_tz::Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}

/// Active rooms free at a weekly slot: no published or hand-made entry of
/// the term overlapping it (half-open), the room's booking limit for that
/// weekday not reached, and no maintenance window intersecting any of the
/// slot's dates in the term. Smallest adequate room first. Any signed-in user.
#[utoipa::path(get, path = "/api/rooms/available/", tag = "rooms", security(("jwt" = [])),
    params(SlotParams),
    responses((status = 200, body = Vec<RoomOut>), (status = 400), (status = 401)))]
pub async fn available_rooms(
    Db(db): Db,
    _me: Me,
    Query(params): Query<SlotParams>,
) -> ApiResult<Json<Vec<RoomOut>>> {
    let slot = slot_of(&db, params).await?;
    let tz = crate::school::timezone(&db).await?;
    let today = kernel::time::now().with_timezone(&tz).date_naive();
    let term = match slot.term.clone() {
        Some(t) => Some(t),
        None => {
            term::Entity::find()
                .filter(term::Column::StartDate.lte(today))
                .filter(term::Column::EndDate.gte(today))
                .order_by_asc(term::Column::StartDate)
                .one(&db)
                .await?
        }
    };
    let mut query = room::Entity::find().filter(room::Column::IsActive.eq(true));
    if let Some(t) = &slot.room_type {
        query = query.filter(room::Column::RoomType.eq(t.as_str()));
    }
    if let Some(n) = slot.min_capacity {
        query = query.filter(room::Column::Capacity.gte(n));
    }
    let rooms = query
        .order_by_asc(room::Column::Capacity)
        .order_by_asc(room::Column::Name)
        .all(&db)
        .await?;
    let ids: Vec<Uuid> = rooms.iter().map(|r| r.id).collect();
    let busy = busy_rooms(&db, &slot, term.as_ref(), &ids).await?;
    let (from, to) = term.as_ref().map_or_else(
        || (today, today.checked_add_days(Days::new(6)).unwrap_or(today)),
        |t| (t.start_date, t.end_date),
    );
    let occurrences: Vec<(DateTime<Utc>, DateTime<Utc>)> = dates(from, to)
        .filter(|d| rest::weekday_of(*d) == slot.day)
        .map(|d| (instant(tz, d, slot.start), instant(tz, d, slot.end)))
        .collect();
    let maintenance = maintenance_for(&db, &ids).await?;
    let free: Vec<room::Model> = rooms
        .into_iter()
        .filter(|r| !busy.contains(&r.id))
        .filter(|r| {
            maintenance.get(&r.id).is_none_or(|windows| {
                !windows
                    .iter()
                    .any(|(ms, me)| occurrences.iter().any(|(s, e)| ms < e && s < me))
            })
        })
        .collect();
    Ok(Json(RoomOut::many(&db, free).await?))
}

/// The rooms among `ids` taken at the slot: an overlapping published or
/// hand-made entry (in `term` when there is one), or the booking limit of
/// the weekday reached.
async fn busy_rooms(
    db: &impl ConnectionTrait,
    slot: &Slot,
    term: Option<&term::Model>,
    ids: &[Uuid],
) -> Result<HashSet<Uuid>, DbErr> {
    let mut busy = HashSet::new();
    if ids.is_empty() {
        return Ok(busy);
    }
    let mut query = timetable_entry::Entity::find()
        .filter(timetable_entry::Column::RoomId.is_in(ids.iter().copied()))
        .filter(
            Condition::any()
                .add(timetable_entry::Column::IsDraft.eq(false))
                .add(timetable_entry::Column::DraftVersion.is_null()),
        );
    if let Some(t) = term {
        query = query.filter(timetable_entry::Column::TermId.eq(t.id));
    }
    let entries = query.all(db).await?;
    let limits: HashMap<Uuid, i32> = room::Entity::find()
        .filter(room::Column::Id.is_in(ids.iter().copied()))
        .filter(room::Column::MaxSessionsPerDay.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| r.max_sessions_per_day.map(|n| (r.id, n)))
        .collect();
    let mut per_room: HashMap<Uuid, i32> = HashMap::new();
    for e in &entries {
        let on_day = if e.is_recurring {
            e.day == slot.day
        } else {
            e.specific_date.is_some_and(|d| {
                rest::weekday_of(d) == slot.day
                    && term.is_none_or(|t| t.start_date <= d && d <= t.end_date)
            })
        };
        if !on_day {
            continue;
        }
        if e.start_minute < slot.end && slot.start < e.end_minute {
            busy.insert(e.room_id);
        }
        if e.is_recurring {
            *per_room.entry(e.room_id).or_default() += 1;
        }
    }
    for (room_id, count) in per_room {
        if limits.get(&room_id).is_some_and(|limit| count >= *limit) {
            busy.insert(room_id);
        }
    }
    Ok(busy)
}

// ---------------------------------------------------------------------------
// Maintenance windows

/// A window when the room cannot be used.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceOut {
    pub id: Uuid,
    pub room: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<room_maintenance::Model> for MaintenanceOut {
    fn from(m: room_maintenance::Model) -> Self {
        Self {
            id: m.id,
            room: m.room_id,
            start: m.starts_at,
            end: m.ends_at,
            reason: m.reason,
            created_at: m.created_at,
        }
    }
}

/// What a maintenance body may set.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MaintenanceIn {
    /// RFC 3339; without an offset, school time.
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    pub start: Field<String>,
    /// After `start`.
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    pub end: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reason: Field<String>,
}

/// An RFC 3339 instant, or a wall-clock reading in school time.
fn parse_instant(raw: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::SubsecRound;
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    let zoned = raw
        .strip_suffix('Z')
        .map_or_else(|| raw.to_owned(), |r| format!("{r}+00:00"));
    if let Ok(t) = DateTime::parse_from_str(&zoned, "%Y-%m-%dT%H:%M%:z") {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .map(|n| school_instant(tz, n).trunc_subsecs(6))
}

/// `(start, end, reason)` of a maintenance body over `existing`.
async fn check_maintenance(
    db: &impl ConnectionTrait,
    input: MaintenanceIn,
    existing: Option<&room_maintenance::Model>,
    partial: bool,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>, Option<String>)> {
    let tz = crate::school::timezone(db).await?;
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let instant_of = |c: &mut Checker, name: &str, field: Field<String>| {
        c.value(name, field).and_then(|raw| {
            let t = parse_instant(&raw, tz);
            if t.is_none() {
                c.error(name, BAD_DATETIME);
            }
            t
        })
    };
    let start = instant_of(&mut c, "start", input.start);
    let end = instant_of(&mut c, "end", input.end);
    let reason = c.optional_text("reason", input.reason, 1000);
    let start = start.or(existing.map(|m| m.starts_at));
    let end = end.or(existing.map(|m| m.ends_at));
    if !c.has_error("start")
        && !c.has_error("end")
        && let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        c.error(FieldErrors::NON_FIELD, END_AFTER_START);
    }
    c.finish()?;
    let reason = reason.unwrap_or_else(|| existing.and_then(|m| m.reason.clone()));
    match (start, end) {
        (Some(s), Some(e)) => Ok((s, e, reason)),
        _ => Err(ApiError::field("start", kernel::form::REQUIRED)),
    }
}

fn maintenance_snapshot(m: &room_maintenance::Model) -> serde_json::Value {
    json!({"room": m.room_id, "start": m.starts_at, "end": m.ends_at, "reason": m.reason})
}

/// The room and one of its maintenance windows, from
/// `/api/rooms/{id}/maintenance/{maintenance_id}/`.
async fn find_window(
    db: &impl ConnectionTrait,
    raw: &(String, String),
) -> ApiResult<(room::Model, room_maintenance::Model)> {
    let (Ok(room_id), Ok(id)) = (Uuid::parse_str(&raw.0), Uuid::parse_str(&raw.1)) else {
        return Err(ApiError::not_found());
    };
    let room = find_room(db, room_id).await?;
    let window = room_maintenance::Entity::find_by_id(id)
        .filter(room_maintenance::Column::RoomId.eq(room_id))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((room, window))
}

/// A room's maintenance windows, latest start first (any signed-in user).
#[utoipa::path(get, path = "/api/rooms/{id}/maintenance/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<MaintenanceOut>), (status = 401), (status = 404)))]
pub async fn list_maintenance(
    Db(db): Db,
    _me: Me,
    Id(id): Id,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, MaintenanceOut>>> {
    find_room(&db, id).await?;
    let query = room_maintenance::Entity::find()
        .filter(room_maintenance::Column::RoomId.eq(id))
        .order_by_desc(room_maintenance::Column::StartsAt)
        .order_by_asc(room_maintenance::Column::Id);
    Ok(Json(
        list.page(&db, query, PAGE).await?.map(MaintenanceOut::from),
    ))
}

/// Add a maintenance window to a room (whoever may manage the room).
#[utoipa::path(post, path = "/api/rooms/{id}/maintenance/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = MaintenanceIn,
    responses((status = 201, body = MaintenanceOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn create_maintenance(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    body: Result<Json<MaintenanceIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<MaintenanceOut>)> {
    let room = find_room(&db, id).await?;
    ensure_manages(&db, &me, room.department_id).await?;
    let Json(input) = body?;
    let (start, end, reason) = check_maintenance(&db, input, None, false).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = room_maintenance::ActiveModel {
        id: Set(Uuid::new_v4()),
        room_id: Set(room.id),
        starts_at: Set(start),
        ends_at: Set(end),
        reason: Set(reason),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await?;
    let entry = Entry::new(&actor, Action::CREATE, "room_maintenance", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&maintenance_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One maintenance window of a room (any signed-in user).
#[utoipa::path(get, path = "/api/rooms/{id}/maintenance/{maintenance_id}/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("maintenance_id" = Uuid, Path)),
    responses((status = 200, body = MaintenanceOut), (status = 401), (status = 404)))]
pub async fn retrieve_maintenance(
    Db(db): Db,
    _me: Me,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
) -> ApiResult<Json<MaintenanceOut>> {
    let (_, window) = find_window(&db, &raw).await?;
    Ok(Json(window.into()))
}

async fn update_window(
    db: &DatabaseConnection,
    me: &user::Model,
    actor: &Actor,
    raw: &(String, String),
    body: Result<Json<MaintenanceIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<MaintenanceOut>> {
    let (room, existing) = find_window(db, raw).await?;
    ensure_manages(db, me, room.department_id).await?;
    let Json(input) = body?;
    let (start, end, reason) = check_maintenance(db, input, Some(&existing), partial).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: room_maintenance::ActiveModel = existing.clone().into();
    row.starts_at = Set(start);
    row.ends_at = Set(end);
    row.reason = Set(reason);
    let updated = row.update(&txn).await?;
    let entry = Entry::new(actor, Action::UPDATE, "room_maintenance", updated.id);
    let changes = kernel::audit::diff(
        &maintenance_snapshot(&existing),
        &maintenance_snapshot(&updated),
    );
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace a maintenance window (whoever may manage the room).
#[utoipa::path(put, path = "/api/rooms/{id}/maintenance/{maintenance_id}/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("maintenance_id" = Uuid, Path)), request_body = MaintenanceIn,
    responses((status = 200, body = MaintenanceOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_maintenance(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
    body: Result<Json<MaintenanceIn>, ApiError>,
) -> ApiResult<Json<MaintenanceOut>> {
    update_window(&db, &me, &actor, &raw, body, false).await
}

/// Change some of a maintenance window's fields (whoever may manage the room).
#[utoipa::path(patch, path = "/api/rooms/{id}/maintenance/{maintenance_id}/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("maintenance_id" = Uuid, Path)), request_body = MaintenanceIn,
    responses((status = 200, body = MaintenanceOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_maintenance(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
    body: Result<Json<MaintenanceIn>, ApiError>,
) -> ApiResult<Json<MaintenanceOut>> {
    update_window(&db, &me, &actor, &raw, body, true).await
}

/// Remove a maintenance window (whoever may manage the room).
#[utoipa::path(delete, path = "/api/rooms/{id}/maintenance/{maintenance_id}/", tag = "rooms", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("maintenance_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_maintenance(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (room, existing) = find_window(&db, &raw).await?;
    ensure_manages(&db, &me, room.department_id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let entry = Entry::new(&actor, Action::DELETE, "room_maintenance", existing.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&maintenance_snapshot(&existing))),
    )
    .await?;
    let deleted = room_maintenance::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
