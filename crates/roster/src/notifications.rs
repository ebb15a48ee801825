//! Notifications API (contract §6): the caller's own notifications
//! (`/api/notifications/`, read marks, soft delete, unread count), sending
//! to chosen users, preferences, push devices and the live stream. Broadcasts
//! live in [`crate::broadcasts`]; how a notification is delivered, in
//! [`crate::notify`].

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Current, Db, FieldErrors, FilterKind, Id, Json};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{
    class_group_trainee, notification, notification_device, notification_preference, user,
};
use crate::notify::{self, Channels, Kind, Note, Preferences};
use crate::rest::{self, PAGE};
use crate::state::AppState;

/// The most users one `POST /api/notifications/` reaches.
pub const MAX_RECIPIENTS: usize = 1000;
const MANDATORY: &str = "System and account notifications cannot be turned off in the app.";
const OUTSIDE_REACH: &str = "You can only notify users within your reach.";
pub const PLATFORMS: [&str; 3] = ["web", "android", "ios"];

kernel::choices!(
    /// A push device's platform.
    pub PlatformChoice = &PLATFORMS
);

#[allow(
    clippy::let_and_return,
    reason = "the stream's route is added under a cfg until its dependency is in"
)]
pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(list_notifications, send_notification))
        .routes(routes!(unread_count))
        .routes(routes!(read_all))
        .routes(routes!(get_preferences, put_preferences, patch_preferences))
        .routes(routes!(register_device))
        .routes(routes!(remove_device))
        .routes(routes!(retrieve_notification, delete_notification))
        .routes(routes!(mark_read))
        .routes(routes!(mark_unread));
    // The live stream needs `futures-util` in roster's dependencies: with
    // it, delete this `cfg` and the one on `mod live`.
    let router = router.routes(routes!(live::notification_stream));
    router
}

/// The original's underscore spellings beside the documented paths.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/notifications/unread_count/", get(unread_count))
        .route("/api/notifications/mark_all_read/", post(read_all))
        .route("/api/notifications/read_all/", post(read_all))
        .route("/api/notifications/{id}/mark_read/", post(mark_read))
        .route("/api/notifications/{id}/mark_unread/", post(mark_unread))
}

/// A notification as every endpoint shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: Uuid,
    /// `attendance`, `session`, `timetable`, `report`, `account` or `system`.
    pub notification_type: String,
    /// `low`, `medium` or `high`.
    pub priority: String,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub related_object_type: Option<String>,
    pub related_object_id: Option<String>,
    pub action_url: Option<String>,
    /// The channels it went out on: `in_app`, `email`, `push`.
    pub channels: Vec<String>,
}

impl From<notification::Model> for NotificationOut {
    fn from(r: notification::Model) -> Self {
        Self {
            id: r.id,
            notification_type: r.notification_type,
            priority: r.priority,
            title: r.title,
            message: r.message,
            is_read: r.is_read,
            read_at: r.read_at,
            created_at: r.created_at,
            related_object_type: r.related_object_type,
            related_object_id: r.related_object_id,
            action_url: r.action_url,
            channels: serde_json::from_str(&r.channels).unwrap_or_default(),
        }
    }
}

/// The caller's visible notifications.
pub fn own_of(user: Uuid) -> Select<notification::Entity> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::IsDeleted.eq(false))
}

async fn find_own(db: &impl ConnectionTrait, me: Uuid, id: Uuid) -> ApiResult<notification::Model> {
    own_of(me)
        .filter(notification::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The caller's notifications, newest first. Filters `is_read`,
/// `notification_type`, `priority`.
#[utoipa::path(get, path = "/api/notifications/", tag = "notifications", security(("jwt" = [])),
    params(("is_read" = Option<bool>, Query), ("notification_type" = inline(Option<notify::NotificationTypeChoice>), Query),
           ("priority" = inline(Option<notify::PriorityChoice>), Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<NotificationOut>), (status = 400), (status = 401)))]
pub async fn list_notifications(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<NotificationOut>>> {
    let mut query = own_of(me.id);
    query = list.filter(
        query,
        "is_read",
        notification::Column::IsRead,
        FilterKind::Bool,
    )?;
    query = list.filter(
        query,
        "notification_type",
        notification::Column::NotificationType,
        FilterKind::Choice(&notify::CHOICES),
    )?;
    query = list.filter(
        query,
        "priority",
        notification::Column::Priority,
        FilterKind::Choice(&notify::PRIORITIES),
    )?;
    let query = query
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id);
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
        results: results.into_iter().map(Into::into).collect(),
    }))
}

/// One of the caller's notifications (others' are 404).
#[utoipa::path(get, path = "/api/notifications/{id}/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationOut), (status = 401), (status = 404)))]
pub async fn retrieve_notification(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<NotificationOut>> {
    Ok(Json(find_own(&db, me.id, id).await?.into()))
}

/// Sets the read mark of one of `actor`'s notifications.
async fn set_read(
    db: &DatabaseConnection,
    me: Uuid,
    actor: &Actor,
    id: Uuid,
    read: bool,
) -> ApiResult<Json<NotificationOut>> {
    find_own(db, me, id).await?;
    let txn = kernel::db::begin_write(db).await?;
    let at = read.then(kernel::time::now);
    let done = notification::Entity::update_many()
        .col_expr(notification::Column::IsRead, Expr::value(read))
        .col_expr(notification::Column::ReadAt, Expr::value(at))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(me))
        .filter(notification::Column::IsRead.eq(!read))
        .exec(&txn)
        .await?;
    if done.rows_affected > 0 {
        let entry = Entry::new(actor, Action::UPDATE, "notification", id);
        Log::write(&txn, entry.changes(json!({"is_read": [!read, read]}))).await?;
    }
    txn.commit().await?;
    Ok(Json(find_own(db, me, id).await?.into()))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(post, path = "/api/notifications/{id}/read/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationOut), (status = 401), (status = 404)))]
pub async fn mark_read(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<Json<NotificationOut>> {
    set_read(&db, me.id, &actor, id, true).await
}

/// Mark one of the caller's notifications unread.
#[utoipa::path(post, path = "/api/notifications/{id}/unread/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationOut), (status = 401), (status = 404)))]
pub async fn mark_unread(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<Json<NotificationOut>> {
    set_read(&db, me.id, &actor, id, false).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatedOut {
    /// How many notifications were marked.
    pub updated: u64,
}

/// Mark every unread notification of the caller read.
#[utoipa::path(post, path = "/api/notifications/read-all/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = UpdatedOut), (status = 401)))]
pub async fn read_all(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
) -> ApiResult<Json<UpdatedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let done = notification::Entity::update_many()
        .col_expr(notification::Column::IsRead, Expr::value(true))
        .col_expr(
            notification::Column::ReadAt,
            Expr::value(Some(kernel::time::now())),
        )
        .filter(notification::Column::UserId.eq(me.id))
        .filter(notification::Column::IsDeleted.eq(false))
        .filter(notification::Column::IsRead.eq(false))
        .exec(&txn)
        .await?;
    if done.rows_affected > 0 {
        let entry = Entry::new(&actor, Action::UPDATE, "notification", "read-all");
        Log::write(&txn, entry.changes(json!({"updated": done.rows_affected}))).await?;
    }
    txn.commit().await?;
    Ok(Json(UpdatedOut {
        updated: done.rows_affected,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    pub count: u64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(get, path = "/api/notifications/unread-count/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = CountOut), (status = 401)))]
pub async fn unread_count(Db(db): Db, Current(me): Me) -> ApiResult<Json<CountOut>> {
    let count = own_of(me.id)
        .filter(notification::Column::IsRead.eq(false))
        .count(&db)
        .await?;
    Ok(Json(CountOut { count }))
}

/// Delete one of the caller's notifications (kept, hidden).
#[utoipa::path(delete, path = "/api/notifications/{id}/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn delete_notification(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let done = notification::Entity::update_many()
        .col_expr(notification::Column::IsDeleted, Expr::value(true))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(me.id))
        .filter(notification::Column::IsDeleted.eq(false))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action::DELETE, "notification", id);
    Log::write(&txn, entry.changes(json!({"is_deleted": [false, true]}))).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Sending to chosen users
// ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendIn {
    /// The users to notify (at most 1000).
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>, required = true, min_items = 1, max_items = 1000)]
    pub recipients: kernel::Field<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub title: kernel::Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::non_blank, required = true)]
    pub message: kernel::Field<String>,
    /// Default `system`.
    #[serde(default)]
    #[schema(value_type = notify::NotificationTypeChoice)]
    pub notification_type: kernel::Field<String>,
    /// Default `medium`.
    #[serde(default)]
    #[schema(value_type = notify::PriorityChoice)]
    pub priority: kernel::Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SentOut {
    /// How many users were notified.
    pub sent: usize,
    pub recipients: Vec<Uuid>,
}

/// The optional choice `name` (default `default`).
pub fn choice_or(
    c: &mut kernel::Checker,
    name: &str,
    field: kernel::Field<String>,
    allowed: &[&'static str],
    default: &'static str,
) -> Option<&'static str> {
    match field {
        kernel::Field::Absent => Some(default),
        other => {
            let raw = c.value(name, other)?;
            let found = allowed.iter().find(|a| **a == raw).copied();
            if found.is_none() {
                c.error(name, format!("\"{raw}\" is not a valid choice."));
            }
            found
        }
    }
}

/// Whether `me` may notify every one of `users` (already known to exist).
pub(crate) async fn within_reach(
    db: &impl ConnectionTrait,
    me: &user::Model,
    users: &[Uuid],
) -> Result<bool, DbErr> {
    let wanted = users.len() as u64;
    let reached = match me.role() {
        Role::Admin | Role::DpAcademics => return Ok(true),
        Role::Trainee => return Ok(false),
        Role::Hod => {
            let Some(department) = crate::access::headed_department(db, me).await? else {
                return Ok(false);
            };
            user::Entity::find()
                .filter(user::Column::Id.is_in(users.iter().copied()))
                .filter(crate::access::department_members(department))
                .count(db)
                .await?
        }
        Role::Trainer => {
            let groups = crate::access::trainer_class_groups(db, me.id).await?;
            if groups.is_empty() {
                return Ok(false);
            }
            class_group_trainee::Entity::find()
                .select_only()
                .column(class_group_trainee::Column::TraineeId)
                .distinct()
                .filter(class_group_trainee::Column::ClassGroupId.is_in(groups))
                .filter(class_group_trainee::Column::TraineeId.is_in(users.iter().copied()))
                .into_tuple::<Uuid>()
                .all(db)
                .await?
                .len() as u64
        }
    };
    Ok(reached == wanted)
}

/// Notify chosen users (admin, deputy principal: anyone; HOD: their
/// department's users; trainer: the trainees of their class groups;
/// trainee: 403). Any recipient outside the caller's reach → 403.
#[utoipa::path(post, path = "/api/notifications/", tag = "notifications", security(("jwt" = [])),
    request_body = SendIn,
    responses((status = 201, body = SentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn send_notification(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<SendIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<SentOut>)> {
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let mut c = kernel::Checker::new();
    let raw = c.value("recipients", input.recipients);
    let title = c.text("title", input.title, 200);
    let message = c.text("message", input.message, 10_000);
    let kind = choice_or(
        &mut c,
        "notification_type",
        input.notification_type,
        &notify::CHOICES,
        "system",
    );
    let priority = choice_or(
        &mut c,
        "priority",
        input.priority,
        &notify::PRIORITIES,
        "medium",
    );
    let mut recipients = Vec::new();
    if let Some(raw) = raw {
        if raw.is_empty() {
            c.error("recipients", "This list may not be empty.");
        } else if raw.len() > MAX_RECIPIENTS {
            c.error(
                "recipients",
                format!("Ensure this field has no more than {MAX_RECIPIENTS} elements."),
            );
        } else {
            let mut parsed = Vec::new();
            for value in &raw {
                match Uuid::parse_str(value.trim()) {
                    Ok(id) => parsed.push(id),
                    Err(_) => c.error("recipients", rest::invalid_pk(value)),
                }
            }
            parsed.sort();
            parsed.dedup();
            if !c.has_error("recipients") {
                let found: Vec<Uuid> = user::Entity::find()
                    .select_only()
                    .column(user::Column::Id)
                    .filter(user::Column::Id.is_in(parsed.iter().copied()))
                    .into_tuple()
                    .all(&db)
                    .await?;
                for id in &parsed {
                    if !found.contains(id) {
                        c.error("recipients", rest::invalid_pk(&id.to_string()));
                    }
                }
            }
            recipients = parsed;
        }
    }
    c.finish()?;
    let (Some(title), Some(message), Some(kind), Some(priority)) = (title, message, kind, priority)
    else {
        return Err(ApiError::field("title", kernel::form::REQUIRED));
    };
    if !within_reach(&db, &me, &recipients).await? {
        return Err(ApiError::forbidden(OUTSIDE_REACH));
    }
    let kind = Kind::parse(kind).unwrap_or(Kind::System);
    let note = Note::new(kind, &title, &message).priority(priority);
    let txn = kernel::db::begin_write(&db).await?;
    let sent = notify::send(&txn, recipients.iter().copied(), &note).await?;
    let entry = Entry::new(&actor, Action::CREATE, "notification", "send");
    Log::write(
        &txn,
        entry.changes(json!({
            "recipients": recipients, "title": title,
            "notification_type": kind.as_str(), "priority": priority,
        })),
    )
    .await?;
    txn.commit().await?;
    notify::wake(&state, recipients.iter().copied());
    Ok((StatusCode::CREATED, Json(SentOut { sent, recipients })))
}

// ---------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------

/// The caller's preferences.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesOut {
    /// `{type: {in_app, email, push}}` for the six types.
    #[schema(value_type = Object)]
    pub channels: Value,
    pub dnd_enabled: bool,
    /// `HH:MM`, school time.
    pub dnd_start: String,
    pub dnd_end: String,
}

impl From<&Preferences> for PreferencesOut {
    fn from(p: &Preferences) -> Self {
        Self {
            channels: p.channels_json(),
            dnd_enabled: p.dnd_enabled,
            dnd_start: rest::clock(p.dnd_start),
            dnd_end: rest::clock(p.dnd_end),
        }
    }
}

/// A preferences body for PUT: every field. The handlers read bodies as
/// JSON to tell absent keys and unknown ones apart.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "the OpenAPI document of the body")]
pub struct PreferencesIn {
    /// `{type: {in_app?, email?, push?}}` for any of the six types; types
    /// left out keep their channels. `system` and `account` keep `in_app`.
    #[schema(value_type = ChannelsIn)]
    pub channels: Value,
    pub dnd_enabled: bool,
    /// `HH:MM`, school time.
    #[schema(schema_with = crate::rest::clock_schema)]
    pub dnd_start: String,
    #[schema(schema_with = crate::rest::clock_schema)]
    pub dnd_end: String,
}

/// A preferences body for PATCH: any of the fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "the OpenAPI document of the body")]
pub struct PreferencesPatch {
    /// `{type: {in_app?, email?, push?}}`, merged per type and channel.
    #[serde(default)]
    #[schema(value_type = ChannelsIn)]
    pub channels: Option<Value>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub dnd_enabled: Option<bool>,
    /// `HH:MM`, school time.
    #[serde(default)]
    #[schema(schema_with = crate::rest::clock_schema)]
    pub dnd_start: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::rest::clock_schema)]
    pub dnd_end: Option<String>,
}

/// The channels of one notification type, as a body sets them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "the OpenAPI document of the body")]
pub struct ChannelFlags {
    #[serde(default)]
    #[schema(value_type = bool)]
    pub in_app: Option<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub email: Option<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub push: Option<bool>,
}

/// Channels per notification type, as a body sets them (types left out
/// keep theirs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "the OpenAPI document of the body")]
pub struct ChannelsIn {
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub attendance: Option<ChannelFlags>,
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub session: Option<ChannelFlags>,
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub timetable: Option<ChannelFlags>,
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub report: Option<ChannelFlags>,
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub account: Option<ChannelFlags>,
    #[serde(default)]
    #[schema(value_type = ChannelFlags)]
    pub system: Option<ChannelFlags>,
}

async fn own_preferences(db: &impl ConnectionTrait, me: Uuid) -> Result<Preferences, DbErr> {
    Ok(notify::preferences_of(db, &[me])
        .await?
        .remove(&me)
        .unwrap_or_default())
}

/// The caller's notification preferences (defaults until saved).
#[utoipa::path(get, path = "/api/notifications/preferences/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = PreferencesOut), (status = 401)))]
pub async fn get_preferences(Db(db): Db, Current(me): Me) -> ApiResult<Json<PreferencesOut>> {
    Ok(Json((&own_preferences(&db, me.id).await?).into()))
}

const KEYS: [&str; 4] = ["channels", "dnd_enabled", "dnd_start", "dnd_end"];

/// `body` applied over `prefs` (PUT: every top-level field required).
fn apply(prefs: &mut Preferences, body: &Value, partial: bool) -> Result<(), ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::non_field(
            "Invalid data. Expected a dictionary, but got a different type.",
        ));
    };
    let mut errors = FieldErrors::new();
    for key in object.keys() {
        if !KEYS.contains(&key.as_str()) {
            errors.add(key, "This field is not allowed.");
        }
    }
    if !partial {
        for key in KEYS {
            if !object.contains_key(key) {
                errors.add(key, kernel::form::REQUIRED);
            }
        }
    }
    if let Some(channels) = object.get("channels") {
        apply_channels(prefs, channels, &mut errors);
    }
    match object.get("dnd_enabled") {
        None => {}
        Some(Value::Bool(on)) => prefs.dnd_enabled = *on,
        Some(_) => errors.add("dnd_enabled", "Must be a valid boolean."),
    }
    for (key, target) in [
        ("dnd_start", &mut prefs.dnd_start),
        ("dnd_end", &mut prefs.dnd_end),
    ] {
        match object.get(key) {
            None => {}
            Some(Value::String(s)) => match rest::parse_clock(s) {
                Some(minute) => *target = minute % (24 * 60),
                None => errors.add(key, rest::BAD_CLOCK),
            },
            Some(_) => errors.add(key, rest::BAD_CLOCK),
        }
    }
    if !errors.has("channels")
        && [Kind::System, Kind::Account]
            .into_iter()
            .any(|k| prefs.channels.get(&k).is_some_and(|c| !c.in_app))
    {
        errors.add("channels", MANDATORY);
    }
    errors.into_result()
}

fn apply_channels(prefs: &mut Preferences, value: &Value, errors: &mut FieldErrors) {
    let Some(types) = value.as_object() else {
        errors.add(
            "channels",
            "Expected a dictionary of items but got type \"{}\".".replace("{}", type_name(value)),
        );
        return;
    };
    for (name, settings) in types {
        let Some(kind) = Kind::parse(name) else {
            errors.add(
                "channels",
                format!("\"{name}\" is not a valid notification type."),
            );
            continue;
        };
        let Some(settings) = settings.as_object() else {
            errors.add(
                "channels",
                format!("{name}: expected an object of in_app, email and push."),
            );
            continue;
        };
        let mut channels: Channels = prefs.channels.get(&kind).copied().unwrap_or_default();
        for (channel, on) in settings {
            let Some(on) = on.as_bool() else {
                errors.add(
                    "channels",
                    format!("{name}.{channel}: must be a valid boolean."),
                );
                continue;
            };
            match channel.as_str() {
                "in_app" => channels.in_app = on,
                "email" => channels.email = on,
                "push" => channels.push = on,
                _ => errors.add(
                    "channels",
                    format!("{name}: \"{channel}\" is not a channel (in_app, email, push)."),
                ),
            }
        }
        prefs.channels.insert(kind, channels);
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

async fn save_preferences(
    db: &DatabaseConnection,
    me: Uuid,
    actor: &Actor,
    body: Result<Json<Value>, ApiError>,
    partial: bool,
) -> ApiResult<Json<PreferencesOut>> {
    let Json(body) = body?;
    let txn = kernel::db::begin_write(db).await?;
    let before = own_preferences(&txn, me).await?;
    let mut prefs = before.clone();
    apply(&mut prefs, &body, partial)?;
    let stored: Map<String, Value> = match prefs.channels_json() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let row = notification_preference::ActiveModel {
        user_id: Set(me),
        channels: Set(Value::Object(stored).to_string()),
        dnd_enabled: Set(prefs.dnd_enabled),
        dnd_start_minute: Set(prefs.dnd_start),
        dnd_end_minute: Set(prefs.dnd_end),
        updated_at: Set(kernel::time::now()),
    };
    notification_preference::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_preference::Column::UserId)
                .update_columns([
                    notification_preference::Column::Channels,
                    notification_preference::Column::DndEnabled,
                    notification_preference::Column::DndStartMinute,
                    notification_preference::Column::DndEndMinute,
                    notification_preference::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let (old, new) = (PreferencesOut::from(&before), PreferencesOut::from(&prefs));
    let entry = Entry::new(actor, Action::UPDATE, "notification_preference", me);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(
            &kernel::audit::snapshot(&old),
            &kernel::audit::snapshot(&new),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(new))
}

/// Replace the caller's preferences (every field).
#[utoipa::path(put, path = "/api/notifications/preferences/", tag = "notifications", security(("jwt" = [])),
    request_body = PreferencesIn,
    responses((status = 200, body = PreferencesOut), (status = 400), (status = 401)))]
pub async fn put_preferences(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<Value>, ApiError>,
) -> ApiResult<Json<PreferencesOut>> {
    save_preferences(&db, me.id, &actor, body, false).await
}

/// Change some of the caller's preferences (channels merge per type).
#[utoipa::path(patch, path = "/api/notifications/preferences/", tag = "notifications", security(("jwt" = [])),
    request_body = PreferencesPatch,
    responses((status = 200, body = PreferencesOut), (status = 400), (status = 401)))]
pub async fn patch_preferences(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<Value>, ApiError>,
) -> ApiResult<Json<PreferencesOut>> {
    save_preferences(&db, me.id, &actor, body, true).await
}

// ---------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeviceIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub token: kernel::Field<String>,
    /// `web`, `android` or `ios`.
    #[serde(default)]
    #[schema(value_type = PlatformChoice, required = true)]
    pub platform: kernel::Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    pub id: Uuid,
    pub token: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
}

impl From<notification_device::Model> for DeviceOut {
    fn from(d: notification_device::Model) -> Self {
        Self {
            id: d.id,
            token: d.token,
            platform: d.platform,
            created_at: d.created_at,
        }
    }
}

/// Register a push target for the caller (201; 200 when the token was
/// known — it moves to the caller).
#[utoipa::path(post, path = "/api/notifications/devices/", tag = "notifications", security(("jwt" = [])),
    request_body = DeviceIn,
    responses((status = 201, body = DeviceOut), (status = 200, body = DeviceOut), (status = 400), (status = 401)))]
pub async fn register_device(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<DeviceIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<DeviceOut>)> {
    let Json(input) = body?;
    let mut c = kernel::Checker::new();
    let token = c.text("token", input.token, 255);
    let platform = c.choice("platform", input.platform, &PLATFORMS);
    c.finish()?;
    let (Some(token), Some(platform)) = (token, platform) else {
        return Err(ApiError::field("token", kernel::form::REQUIRED));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let known = notification_device::Entity::find()
        .filter(notification_device::Column::Token.eq(token.as_str()))
        .one(&txn)
        .await?;
    let row = notification_device::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(me.id),
        token: Set(token.clone()),
        platform: Set(platform.clone()),
        created_at: Set(kernel::time::now()),
    };
    notification_device::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_device::Column::Token)
                .update_columns([
                    notification_device::Column::UserId,
                    notification_device::Column::Platform,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let device = notification_device::Entity::find()
        .filter(notification_device::Column::Token.eq(token.as_str()))
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let action = if known.is_some() {
        Action::UPDATE
    } else {
        Action::CREATE
    };
    let entry = Entry::new(&actor, action, "notification_device", device.id);
    Log::write(
        &txn,
        entry.changes(json!({"user": me.id, "platform": platform})),
    )
    .await?;
    txn.commit().await?;
    let status = if known.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(device.into())))
}

/// Remove one of the caller's push targets (others' are 404).
#[utoipa::path(delete, path = "/api/notifications/devices/{id}/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn remove_device(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let done = notification_device::Entity::delete_many()
        .filter(notification_device::Column::Id.eq(id))
        .filter(notification_device::Column::UserId.eq(me.id))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action::DELETE, "notification_device", id);
    Log::write(&txn, entry).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Live stream
// ---------------------------------------------------------------------------

/// `GET /api/notifications/stream/`: new notifications as Server-Sent
/// Events, as clearance serves them.
pub mod live {
    use std::convert::Infallible;

    use axum::extract::State;
    use axum::response::sse::{Event, Sse};
    use futures_util::Stream;
    use kernel::Db;
    use kernel::events::Cursor;
    use kernel::identity::StreamCurrent;
    use sea_orm::{ColumnTrait, Order, QueryFilter, QueryOrder, QuerySelect};
    use uuid::Uuid;

    use super::{NotificationOut, own_of};
    use crate::entities::{notification, user};
    use crate::state::AppState;

    /// The caller's new notifications as Server-Sent Events (`event:
    /// notification`, `data:` the notification as JSON; first `event:
    /// ready`). Woken at once by [`crate::notify::wake`] on this node, and
    /// every two seconds otherwise. Authenticate with the `Authorization`
    /// header or `?token=<access token>`.
    #[utoipa::path(get, path = "/api/notifications/stream/", tag = "notifications", security(("jwt" = [])),
        params(("token" = Option<String>, Query)),
        responses((status = 200, description = "text/event-stream of `notification` events"), (status = 401)))]
    pub async fn notification_stream(
        State(state): State<AppState>,
        Db(db): Db,
        StreamCurrent(me): StreamCurrent<user::Model>,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
        let start = (db, me.id, Cursor::new());
        kernel::events::live(
            &state.hub,
            me.id.to_string(),
            start,
            |(db, user, mut cursor)| async move {
                let events = match new_notifications(&db, user, &mut cursor).await {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::warn!(%error, "notification stream query failed");
                        Vec::new()
                    }
                };
                ((db, user, cursor), events)
            },
        )
    }

    /// `user`'s notifications created since the stream's cursor, as events.
    async fn new_notifications(
        db: &sea_orm::DatabaseConnection,
        user: Uuid,
        cursor: &mut Cursor<Uuid>,
    ) -> Result<Vec<Event>, sea_orm::DbErr> {
        let rows = own_of(user)
            .filter(notification::Column::CreatedAt.gte(cursor.since()))
            .order_by(notification::Column::CreatedAt, Order::Asc)
            .order_by(notification::Column::Id, Order::Asc)
            .limit(100)
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|row| cursor.admit(row.created_at, row.id))
            .map(|row| {
                let id = row.id.to_string();
                let data = serde_json::to_string(&NotificationOut::from(row)).unwrap_or_default();
                Event::default().event("notification").id(id).data(data)
            })
            .collect())
    }
}
