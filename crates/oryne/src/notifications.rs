//! `notifications/` (contract §11): the caller's in-app notifications
//! (list, read marks, unread count, live stream), their preferences, the
//! template catalogue, sending to an audience (`notifications:send`), the
//! delivery log with retry, and the gateway's signed delivery callback.
//! How a notification is queued and delivered lives in [`crate::notify`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    PaginatorTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, Event, Trail, UPDATE};
use crate::entities::{
    notification, notification_preference, parent, student, student_parent, user,
};
use crate::envelope::{Data, Message, accepted, message, ok};
use crate::notify::{self, CHANNELS, Notice, PRIORITIES, TEMPLATES};
use crate::rbac::Me;
use crate::state::AppState;

/// The most users one `send/` reaches.
pub const MAX_RECIPIENTS: usize = 5000;
/// Channels a user sets preferences for (`in_app` is always kept).
pub const PREFERENCE_CHANNELS: &[&str] = &["email", "sms", "push"];
pub const STATUSES: &[&str] = &["queued", "sent", "delivered", "failed", "skipped"];
/// How old a gateway callback may be (seconds), either way.
pub const CALLBACK_WINDOW: i64 = 300;
pub const WEBHOOK_ERROR: &str = "ERR_WEBHOOK_01";

const IN_APP: &str = "in_app";
const PAGE: kernel::listing::PageSize = kernel::listing::PageSize {
    default: 20,
    max: 100,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notification_list))
        .routes(routes!(notification_mark_read))
        .routes(routes!(notification_read_all))
        .routes(routes!(notification_unread_count))
        .routes(routes!(notification_stream))
        .routes(routes!(
            notification_preferences,
            notification_set_preferences
        ))
        .routes(routes!(notification_templates))
        .routes(routes!(notification_send))
        .routes(routes!(notification_logs))
        .routes(routes!(notification_retry))
        .routes(routes!(notification_gns_callback))
}

// ---------------------------------------------------------------------------
// The caller's in-app notifications
// ---------------------------------------------------------------------------

/// An in-app notification as its user sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationInAppOut {
    pub id: i64,
    pub template: String,
    pub title: String,
    pub body: String,
    #[schema(value_type = Object)]
    pub data: Value,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    pub is_read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl NotificationInAppOut {
    pub fn of(n: &notification::Model) -> Self {
        Self {
            id: n.id,
            template: n.template.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            data: n.data.clone(),
            priority: n.priority.clone(),
            is_read: n.read_at.is_some(),
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}

/// The in-app notifications of `user`.
fn own_of(user: i64) -> sea_orm::Select<notification::Entity> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::Channel.eq(IN_APP))
}

fn boolean(name: &str, raw: &str) -> ApiResult<bool> {
    match raw {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(ApiError::field(name, "Must be a valid boolean.")),
    }
}

/// The caller's own in-app notifications, newest first (filter `unread`).
#[utoipa::path(get, path = "/api/v1/notifications/", tag = "notifications",
    description = "Any signed-in user of the school: their own in-app notifications.",
    params(("unread" = Option<bool>, Query), ("page" = Option<u64>, Query), ("per_page" = Option<u64>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<NotificationInAppOut>))),
    security(("jwt" = [])))]
pub async fn notification_list(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, NotificationInAppOut>>> {
    let mut query = own_of(me.id());
    if let Some(raw) = list.get("unread") {
        query = if boolean("unread", raw)? {
            query.filter(notification::Column::ReadAt.is_null())
        } else {
            query.filter(notification::Column::ReadAt.is_not_null())
        };
    }
    let query = list.order(
        query,
        &[
            (
                "created_at",
                notification::Column::CreatedAt.into_simple_expr(),
            ),
            ("id", notification::Column::Id.into_simple_expr()),
        ],
        &[
            ("created_at", sea_orm::Order::Desc),
            ("id", sea_orm::Order::Desc),
        ],
        notification::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|n| NotificationInAppOut::of(&n)),
    ))
}

/// Marks one of the caller's notifications read (others' are 404).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read/", tag = "notifications",
    description = "Any signed-in user of the school, on their own notifications.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<NotificationInAppOut>))),
    security(("jwt" = [])))]
pub async fn notification_mark_read(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<NotificationInAppOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let row = own_of(me.id())
        .filter(notification::Column::Id.eq(id))
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if row.read_at.is_some() {
        txn.commit().await?;
        return Ok(ok(NotificationInAppOut::of(&row)));
    }
    let now = kernel::time::now();
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Some(now)))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&*txn)
        .await?;
    Event::new(Some(me.id()), UPDATE, "Notification", id)
        .changes(json!({"is_read": [false, true]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    let row = own_of(me.id())
        .filter(notification::Column::Id.eq(id))
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ok(NotificationInAppOut::of(&row)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationUpdatedOut {
    /// How many notifications were marked read.
    pub updated: u64,
}

/// Marks every unread notification of the caller read.
#[utoipa::path(post, path = "/api/v1/notifications/read-all/", tag = "notifications",
    description = "Any signed-in user of the school, on their own notifications.",
    responses((status = 200, body = inline(Data<NotificationUpdatedOut>))),
    security(("jwt" = [])))]
pub async fn notification_read_all(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<NotificationUpdatedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let done = notification::Entity::update_many()
        .col_expr(
            notification::Column::ReadAt,
            Expr::value(Some(kernel::time::now())),
        )
        .filter(notification::Column::UserId.eq(me.id()))
        .filter(notification::Column::Channel.eq(IN_APP))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected > 0 {
        Event::new(Some(me.id()), UPDATE, "Notification", "read-all")
            .changes(json!({"updated": done.rows_affected}))
            .write(&*txn, &trail)
            .await?;
    }
    txn.commit().await?;
    Ok(ok(NotificationUpdatedOut {
        updated: done.rows_affected,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationCountOut {
    pub count: u64,
}

/// How many of the caller's in-app notifications are unread.
#[utoipa::path(get, path = "/api/v1/notifications/unread-count/", tag = "notifications",
    description = "Any signed-in user of the school.",
    responses((status = 200, body = inline(Data<NotificationCountOut>))),
    security(("jwt" = [])))]
pub async fn notification_unread_count(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<NotificationCountOut>> {
    let count = own_of(me.id())
        .filter(notification::Column::ReadAt.is_null())
        .count(&db)
        .await?;
    Ok(ok(NotificationCountOut { count }))
}

/// The caller's new in-app notifications as Server-Sent Events (`event:
/// ready` first, then `event: notification` with the notification as JSON).
/// Woken at once on this node by [`notify::wake`], and every two seconds
/// otherwise. Authenticate with the `Authorization` header or `?token=`.
#[utoipa::path(get, path = "/api/v1/notifications/stream/", tag = "notifications",
    description = "Any signed-in user of the school; `?token=<access token>` for browsers' EventSource.",
    params(("token" = Option<String>, Query)),
    responses((status = 200, description = "text/event-stream of `notification` events")),
    security(("jwt" = [])))]
pub async fn notification_stream(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::identity::StreamCurrent(me): kernel::identity::StreamCurrent<user::Model>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    if AppState::tenant_id().is_none() {
        return Err(crate::envelope::tenant_not_found());
    }
    let start = (db, me.id, kernel::events::Cursor::new());
    let sse = kernel::events::live(
        &state.hub,
        notify::stream_key(me.id),
        start,
        |(db, user, mut cursor)| async move {
            let events = match new_in_app(&db, user, &mut cursor).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "notification stream query failed");
                    Vec::new()
                }
            };
            ((db, user, cursor), events)
        },
    );
    Ok(sse.into_response())
}

/// `user`'s in-app notifications created since the stream's cursor.
async fn new_in_app(
    db: &sea_orm::DatabaseConnection,
    user: i64,
    cursor: &mut kernel::events::Cursor<i64>,
) -> Result<Vec<axum::response::sse::Event>, sea_orm::DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let rows = own_of(user)
        .filter(notification::Column::CreatedAt.gte(cursor.since()))
        .order_by_asc(notification::Column::CreatedAt)
        .order_by_asc(notification::Column::Id)
        .limit(100)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| cursor.admit(row.created_at, row.id))
        .map(|row| {
            let data = serde_json::to_string(&NotificationInAppOut::of(&row)).unwrap_or_default();
            axum::response::sse::Event::default()
                .event("notification")
                .id(row.id.to_string())
                .data(data)
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Preferences and templates
// ---------------------------------------------------------------------------

/// `{channel: {template: enabled}}` over every non-mandatory template.
async fn preferences_of(
    db: &impl ConnectionTrait,
    user: i64,
) -> ApiResult<BTreeMap<String, BTreeMap<String, bool>>> {
    let stored = notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(user))
        .all(db)
        .await?;
    let mut out = BTreeMap::new();
    for channel in PREFERENCE_CHANNELS {
        let mut templates = BTreeMap::new();
        for t in TEMPLATES.iter().filter(|t| !t.mandatory) {
            let enabled = stored
                .iter()
                .find(|p| p.channel == *channel && p.template == t.name)
                .is_none_or(|p| p.enabled);
            templates.insert(t.name.to_owned(), enabled);
        }
        out.insert((*channel).to_owned(), templates);
    }
    Ok(out)
}

/// The caller's preferences: `{email: {template: bool}, sms: {…}, push: {…}}`.
#[utoipa::path(get, path = "/api/v1/notifications/preferences/", tag = "notifications",
    description = "Any signed-in user of the school: their own preferences (absent = on).",
    responses((status = 200, body = inline(Data<BTreeMap<String, BTreeMap<String, bool>>>))),
    security(("jwt" = [])))]
pub async fn notification_preferences(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<BTreeMap<String, BTreeMap<String, bool>>>> {
    Ok(ok(preferences_of(&db, me.id()).await?))
}

/// Sets the caller's preferences (the same shape; templates left out keep
/// their setting). Mandatory templates cannot be turned off.
#[utoipa::path(put, path = "/api/v1/notifications/preferences/", tag = "notifications",
    description = "Any signed-in user of the school: their own preferences. Mandatory templates (`tenant_welcome`, `welcome_email`, `password_reset`, `subscription_notice`) cannot be turned off (400).",
    request_body = inline(BTreeMap<String, BTreeMap<String, bool>>),
    responses((status = 200, body = inline(Data<BTreeMap<String, BTreeMap<String, bool>>>))),
    security(("jwt" = [])))]
pub async fn notification_set_preferences(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<Value>,
) -> ApiResult<Data<BTreeMap<String, BTreeMap<String, bool>>>> {
    let Value::Object(channels) = body else {
        return Err(ApiError::non_field(
            "Expected an object of channels: {\"email\": {\"template\": true}, …}.",
        ));
    };
    let mut c = Checker::new();
    let mut wanted: Vec<(&'static str, &'static str, bool)> = Vec::new();
    for (channel, templates) in &channels {
        let Some(channel) = PREFERENCE_CHANNELS.iter().find(|c| **c == channel.as_str()) else {
            c.error(
                channel,
                format!(
                    "Unknown channel \"{channel}\"; expected one of {}.",
                    PREFERENCE_CHANNELS.join(", ")
                ),
            );
            continue;
        };
        let Value::Object(templates) = templates else {
            c.error(channel, "Expected an object of {\"template\": true|false}.");
            continue;
        };
        for (name, enabled) in templates {
            let Some(t) = notify::template(name) else {
                c.error(channel, format!("Unknown template \"{name}\"."));
                continue;
            };
            let Some(enabled) = enabled.as_bool() else {
                c.error(channel, format!("\"{name}\" must be true or false."));
                continue;
            };
            if t.mandatory {
                if !enabled {
                    c.error(
                        channel,
                        format!("\"{name}\" is mandatory and cannot be turned off."),
                    );
                }
                continue;
            }
            wanted.push((channel, t.name, enabled));
        }
    }
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = preferences_of(&*txn, me.id()).await?;
    for (channel, template, enabled) in wanted {
        let stored = notification_preference::Entity::find()
            .filter(notification_preference::Column::UserId.eq(me.id()))
            .filter(notification_preference::Column::Template.eq(template))
            .filter(notification_preference::Column::Channel.eq(channel))
            .one(&*txn)
            .await?;
        match stored {
            Some(row) if row.enabled == enabled => {}
            Some(row) => {
                let mut row: notification_preference::ActiveModel = row.into();
                row.enabled = Set(enabled);
                row.update(&*txn).await?;
            }
            None => {
                notification_preference::ActiveModel {
                    user_id: Set(me.id()),
                    template: Set(template.to_owned()),
                    channel: Set(channel.to_owned()),
                    enabled: Set(enabled),
                    ..Default::default()
                }
                .insert(&*txn)
                .await?;
            }
        }
    }
    let after = preferences_of(&*txn, me.id()).await?;
    if before != after {
        Event::new(Some(me.id()), UPDATE, "NotificationPreference", me.id())
            .diff(&json!(before), &json!(after))
            .write(&*txn, &trail)
            .await?;
    }
    txn.commit().await?;
    Ok(ok(after))
}

/// A template: its name, the variables its `data` must carry, whether users
/// may turn it off, its title and body with `{variable}` placeholders.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationTemplateOut {
    pub name: String,
    pub variables: Vec<String>,
    pub mandatory: bool,
    pub title: String,
    pub body: String,
}

/// Every template.
#[utoipa::path(get, path = "/api/v1/notifications/templates/", tag = "notifications",
    description = "Any signed-in user of the school.",
    responses((status = 200, body = inline(Data<Vec<NotificationTemplateOut>>))),
    security(("jwt" = [])))]
pub async fn notification_templates(_me: Me) -> ApiResult<Data<Vec<NotificationTemplateOut>>> {
    Ok(ok(TEMPLATES
        .iter()
        .map(|t| NotificationTemplateOut {
            name: t.name.to_owned(),
            variables: t.variables.iter().map(|v| (*v).to_owned()).collect(),
            mandatory: t.mandatory,
            title: t.title.to_owned(),
            body: t.body.to_owned(),
        })
        .collect()))
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NotificationSendIn {
    /// A template name (not a mandatory one); or `title` and `body`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub template: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub body: Field<String>,
    /// `email`, `sms`, `push`, `in_app`.
    #[serde(default)]
    #[schema(value_type = Vec<String>, required = true)]
    pub channels: Field<Vec<String>>,
    /// Exactly one of `{user_ids: [..]}`, `{roles: [..]}`,
    /// `{class_name, section?}` (students of the class and their parents),
    /// `{all: true}`.
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub to: Field<Value>,
    /// With a template: exactly its variables.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Field<Value>,
    /// `low`, `normal` (default), `high`, `urgent`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub priority: Field<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSentOut {
    /// How many notifications were queued (recipients × channels, less
    /// those a recipient turned off).
    pub count: usize,
    /// How many users the audience reached.
    pub recipients: usize,
}

/// Who a `send/` reaches.
enum Audience {
    Users(Vec<i64>),
    Roles(Vec<String>),
    Class {
        class_name: String,
        section: Option<String>,
    },
    All,
}

fn audience(c: &mut Checker, to: Field<Value>) -> Option<Audience> {
    let Value::Object(to) = c.value("to", to)? else {
        c.error("to", "Expected an object.");
        return None;
    };
    let keys: BTreeSet<&str> = to
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "section")
        .collect();
    if keys.len() != 1 {
        c.error(
            "to",
            "Give exactly one of user_ids, roles, class_name (with section) or all.",
        );
        return None;
    }
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    match keys.first().copied().unwrap_or_default() {
        "user_ids" => {
            let ids: Option<Vec<i64>> = to["user_ids"]
                .as_array()
                .and_then(|a| a.iter().map(Value::as_i64).collect());
            match ids {
                Some(ids) if !ids.is_empty() && ids.len() <= MAX_RECIPIENTS => {
                    Some(Audience::Users(ids))
                }
                Some(ids) if ids.len() > MAX_RECIPIENTS => {
                    c.error(
                        "to",
                        format!("At most {MAX_RECIPIENTS} recipients per request."),
                    );
                    None
                }
                _ => {
                    c.error("to", "user_ids must be a non-empty list of user ids.");
                    None
                }
            }
        }
        "roles" => match strings(&to["roles"]) {
            Some(roles) if !roles.is_empty() => Some(Audience::Roles(roles)),
            _ => {
                c.error("to", "roles must be a non-empty list of role names.");
                None
            }
        },
        "class_name" => {
            let class_name = to["class_name"].as_str().map(str::trim).unwrap_or_default();
            let section = match to.get("section") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(_) => {
                    c.error("to", "section must be a non-blank string.");
                    return None;
                }
            };
            if class_name.is_empty() {
                c.error("to", "class_name must be a non-blank string.");
                return None;
            }
            Some(Audience::Class {
                class_name: class_name.to_owned(),
                section,
            })
        }
        "all" => {
            if to["all"] == Value::Bool(true) {
                Some(Audience::All)
            } else {
                c.error("to", "all must be true.");
                None
            }
        }
        other => {
            c.error(
                "to",
                format!(
                    "Unknown audience \"{other}\"; give user_ids, roles, class_name (with section) or all."
                ),
            );
            None
        }
    }
}

/// The school's active users the audience reaches, by id.
async fn recipients(db: &impl ConnectionTrait, audience: Audience) -> ApiResult<Vec<user::Model>> {
    let active = user::Entity::find().filter(user::Column::IsActive.eq(true));
    let found = match audience {
        Audience::All => active.all(db).await?,
        Audience::Users(ids) => {
            let wanted: BTreeSet<i64> = ids.into_iter().collect();
            let found = active
                .filter(user::Column::Id.is_in(wanted.iter().copied()))
                .all(db)
                .await?;
            let missing: Vec<String> = wanted
                .iter()
                .filter(|id| !found.iter().any(|u| u.id == **id))
                .map(i64::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::field(
                    "to",
                    format!("Unknown or inactive users: {}.", missing.join(", ")),
                ));
            }
            found
        }
        Audience::Roles(roles) => {
            crate::users::known_roles(db, &roles).await?;
            let mut any = sea_orm::Condition::any();
            for role in &roles {
                any = any.add(crate::users::may_hold(db.get_database_backend(), role));
            }
            active
                .filter(any)
                .all(db)
                .await?
                .into_iter()
                .filter(|u| roles.iter().any(|r| u.has_role(r)))
                .collect()
        }
        Audience::Class {
            class_name,
            section,
        } => {
            let mut students =
                student::Entity::find().filter(student::Column::ClassName.eq(class_name));
            if let Some(section) = section {
                students = students.filter(student::Column::Section.eq(section));
            }
            let students = students.all(db).await?;
            let mut users: BTreeSet<i64> = students.iter().map(|s| s.user_id).collect();
            if !students.is_empty() {
                let links = student_parent::Entity::find()
                    .filter(student_parent::Column::StudentId.is_in(students.iter().map(|s| s.id)))
                    .all(db)
                    .await?;
                if !links.is_empty() {
                    let parents = parent::Entity::find()
                        .filter(parent::Column::Id.is_in(links.iter().map(|l| l.parent_id)))
                        .all(db)
                        .await?;
                    users.extend(parents.iter().map(|p| p.user_id));
                }
            }
            if users.is_empty() {
                Vec::new()
            } else {
                active.filter(user::Column::Id.is_in(users)).all(db).await?
            }
        }
    };
    let mut found = found;
    found.sort_by_key(|u| u.id);
    found.dedup_by_key(|u| u.id);
    Ok(found)
}

/// Sends a template (or a free title and body, as `announcement`) to an
/// audience of the school's active users on the given channels: one
/// notification per recipient per channel, queued in one transaction.
#[utoipa::path(post, path = "/api/v1/notifications/send/", tag = "notifications",
    description = "Permission: `notifications:send`. At most 5000 recipients; a template's `data` must carry exactly its variables.",
    request_body = NotificationSendIn,
    responses((status = 202, body = inline(Data<NotificationSentOut>))),
    security(("jwt" = [])))]
pub async fn notification_send(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<NotificationSendIn>,
) -> ApiResult<(StatusCode, Data<NotificationSentOut>)> {
    me.require("notifications:send")?;
    let mut c = Checker::new();
    let named = c.nullable(body.template).flatten();
    let free = !body.title.is_absent() || !body.body.is_absent();
    let (template, data, text) = match named {
        Some(name) => {
            if free {
                c.error(
                    "non_field_errors",
                    "Give a template or a title and body, not both.",
                );
            }
            let data = match body.data {
                Field::Value(Value::Object(map)) => map,
                Field::Absent | Field::Null => Map::new(),
                Field::Value(_) => {
                    c.error("data", "Expected an object.");
                    Map::new()
                }
            };
            match notify::template(&name) {
                None => {
                    c.error("template", format!("Unknown template \"{name}\"."));
                    (None, Value::Null, None)
                }
                Some(t) if t.mandatory => {
                    c.error(
                        "template",
                        format!("\"{name}\" is a system template and is not sent by hand."),
                    );
                    (None, Value::Null, None)
                }
                Some(t) => {
                    let given: BTreeSet<&str> = data.keys().map(String::as_str).collect();
                    let declared: BTreeSet<&str> = t.variables.iter().copied().collect();
                    if given != declared {
                        c.error(
                            "data",
                            format!(
                                "\"{}\" takes exactly these variables: {}.",
                                t.name,
                                t.variables.join(", ")
                            ),
                        );
                    }
                    (Some(t), Value::Object(data), None)
                }
            }
        }
        None => {
            let title = c.text("title", body.title, 255);
            let text = c.text("body", body.body, 10_000);
            let t = notify::template("announcement");
            match (title, text) {
                (Some(title), Some(text)) => (
                    t,
                    json!({"title": title, "body": text}),
                    Some((title, text)),
                ),
                _ => (t, Value::Null, None),
            }
        }
    };
    let mut channels: Vec<&'static str> = Vec::new();
    match c.value("channels", body.channels) {
        Some(list) if list.is_empty() => c.error("channels", "Give at least one channel."),
        Some(list) => {
            for name in list {
                match CHANNELS.iter().find(|ch| **ch == name) {
                    Some(ch) if !channels.contains(ch) => channels.push(ch),
                    Some(_) => {}
                    None => c.error(
                        "channels",
                        format!(
                            "\"{name}\" is not a valid choice; expected {}.",
                            CHANNELS.join(", ")
                        ),
                    ),
                }
            }
        }
        None => {}
    }
    let priority = if body.priority.is_absent() {
        Some("normal")
    } else {
        c.choice("priority", body.priority, PRIORITIES)
            .and_then(|p| PRIORITIES.iter().find(|x| **x == p).copied())
    };
    let audience = audience(&mut c, body.to);
    c.finish()?;
    let (Some(template), Some(audience), Some(priority)) = (template, audience, priority) else {
        return Err(ApiError::non_field("Incomplete request."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let users = recipients(&*txn, audience).await?;
    if users.len() > MAX_RECIPIENTS {
        return Err(ApiError::field(
            "to",
            format!(
                "The audience has {} users; at most {MAX_RECIPIENTS} per request.",
                users.len()
            ),
        ));
    }
    let mut count = 0;
    let mut woken = Vec::new();
    for u in &users {
        for &channel in &channels {
            let recipient = if channel == "sms" {
                u.phone.clone()
            } else {
                u.email.clone()
            };
            let mut notice =
                Notice::new(template.name, channel, recipient, data.clone()).to_user(u.id);
            notice.priority = priority;
            notice.text.clone_from(&text);
            if notify::queue(&*txn, notice).await?.is_some() {
                count += 1;
                if channel == IN_APP {
                    woken.push(u.id);
                }
            }
        }
    }
    Event::new(Some(me.id()), CREATE, "Notification", "send")
        .changes(json!({
            "template": template.name, "channels": channels, "priority": priority,
            "recipients": users.len(), "count": count,
        }))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    notify::wake(&state, woken);
    Ok(accepted(NotificationSentOut {
        count,
        recipients: users.len(),
    }))
}

// ---------------------------------------------------------------------------
// The delivery log
// ---------------------------------------------------------------------------

/// A notification of any channel, as the delivery log shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationLogOut {
    pub id: i64,
    pub user_id: Option<i64>,
    /// Email, phone or device, by channel.
    pub recipient: String,
    pub channel: String,
    pub template: String,
    pub title: String,
    /// `low`, `normal`, `high`, `urgent`.
    pub priority: String,
    /// `queued`, `sent`, `delivered`, `failed`, `skipped`.
    pub status: String,
    pub gns_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl NotificationLogOut {
    pub fn of(n: &notification::Model) -> Self {
        Self {
            id: n.id,
            user_id: n.user_id,
            recipient: n.recipient.clone(),
            channel: n.channel.clone(),
            template: n.template.clone(),
            title: n.title.clone(),
            priority: n.priority.clone(),
            status: n.status.clone(),
            gns_id: n.gns_id.clone(),
            attempts: n.attempts,
            last_error: n.last_error.clone(),
            read_at: n.read_at,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

/// The delivery log of every channel, newest first (filters `status`,
/// `channel`, `template`, `user_id`).
#[utoipa::path(get, path = "/api/v1/notifications/logs/", tag = "notifications",
    description = "Permission: `notifications:send`.",
    params(("status" = Option<String>, Query), ("channel" = Option<String>, Query), ("template" = Option<String>, Query),
           ("user_id" = Option<i64>, Query), ("search" = Option<String>, Query), ("page" = Option<u64>, Query), ("per_page" = Option<u64>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<NotificationLogOut>))),
    security(("jwt" = [])))]
pub async fn notification_logs(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, NotificationLogOut>>> {
    me.require("notifications:send")?;
    let mut query = notification::Entity::find();
    if let Some(status) = list.get("status") {
        if !STATUSES.contains(&status) {
            return Err(ApiError::field(
                "status",
                format!("\"{status}\" is not a valid choice."),
            ));
        }
        query = query.filter(notification::Column::Status.eq(status));
    }
    if let Some(channel) = list.get("channel") {
        if !CHANNELS.contains(&channel) {
            return Err(ApiError::field(
                "channel",
                format!("\"{channel}\" is not a valid choice."),
            ));
        }
        query = query.filter(notification::Column::Channel.eq(channel));
    }
    if let Some(template) = list.get("template") {
        query = query.filter(notification::Column::Template.eq(template));
    }
    if let Some(raw) = list.get("user_id") {
        let id: i64 = raw
            .trim()
            .parse()
            .map_err(|_| ApiError::field("user_id", "A valid integer is required."))?;
        query = query.filter(notification::Column::UserId.eq(id));
    }
    let query = list.search(
        query,
        &[
            Expr::col(notification::Column::Recipient),
            Expr::col(notification::Column::Title),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "created_at",
                notification::Column::CreatedAt.into_simple_expr(),
            ),
            ("id", notification::Column::Id.into_simple_expr()),
            ("status", notification::Column::Status.into_simple_expr()),
        ],
        &[
            ("created_at", sea_orm::Order::Desc),
            ("id", sea_orm::Order::Desc),
        ],
        notification::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|n| NotificationLogOut::of(&n)),
    ))
}

/// Sends a failed or skipped notification again: back to `queued` with a
/// new delivery job (409 in any other state).
#[utoipa::path(post, path = "/api/v1/notifications/logs/{id}/retry/", tag = "notifications",
    description = "Permission: `notifications:send`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<NotificationLogOut>))),
    security(("jwt" = [])))]
pub async fn notification_retry(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<NotificationLogOut>> {
    me.require("notifications:send")?;
    let txn = kernel::db::begin_write(&db).await?;
    let row = notification::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let conflict =
        || ApiError::Conflict("Only a failed or skipped notification can be retried.".into());
    if row.channel == IN_APP || !matches!(row.status.as_str(), "failed" | "skipped") {
        return Err(conflict());
    }
    let done = notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value("queued"))
        .col_expr(notification::Column::Attempts, Expr::value(0))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Status.eq(row.status.clone()))
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(conflict());
    }
    kernel::jobs::enqueue(&*txn, notify::DELIVER_JOB, json!({"notification_id": id})).await?;
    Event::new(Some(me.id()), UPDATE, "Notification", id)
        .changes(json!({"status": [row.status, "queued"]}))
        .write(&*txn, &trail)
        .await?;
    let after = notification::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(ok(NotificationLogOut::of(&after)))
}

// ---------------------------------------------------------------------------
// The gateway's delivery callback
// ---------------------------------------------------------------------------

fn webhook_refused(message: &'static str) -> ApiError {
    crate::envelope::error(StatusCode::UNAUTHORIZED, WEBHOOK_ERROR, message)
}

/// Signatures accepted by this node, with their timestamps: an exact replay
/// inside the time window is refused here. Across nodes a replay cannot
/// change anything either (see [`notification_gns_callback`]).
static SEEN: LazyLock<Mutex<HashMap<String, i64>>> = LazyLock::new(Mutex::default);

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks the callback's signature and age; answers the key to remember it
/// by.
fn verify_callback(
    secret: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> ApiResult<String> {
    use hmac::{KeyInit, Mac};
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(webhook_refused("Delivery callbacks are not configured."));
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let (Some(signature), Some(timestamp)) = (header("x-gns-signature"), header("x-gns-timestamp"))
    else {
        return Err(webhook_refused("Missing signature."));
    };
    let Ok(at) = timestamp.parse::<i64>() else {
        return Err(webhook_refused("Invalid timestamp."));
    };
    if (now - at).abs() > CALLBACK_WINDOW {
        return Err(webhook_refused("The callback is too old."));
    }
    let Some(given) = signature
        .strip_prefix("sha256=")
        .and_then(|hex| decode_hex(hex.trim()))
    else {
        return Err(webhook_refused("Invalid signature."));
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| webhook_refused("Invalid signature."))?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| webhook_refused("Invalid signature."))?;
    Ok(format!(
        "{}:{at}:{}",
        AppState::tenant_id().unwrap_or_default(),
        signature.to_ascii_lowercase()
    ))
}

/// Remembers `key` (at `at`); false when it was seen already.
fn first_sight(key: String, now: i64) -> bool {
    let Ok(mut seen) = SEEN.lock() else {
        return true;
    };
    seen.retain(|_, at| now - *at <= CALLBACK_WINDOW);
    if seen.len() >= 100_000 {
        seen.clear();
    }
    seen.insert(key, now).is_none()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NotificationCallbackIn {
    /// Our notification's id (also read from `metadata.notification_id`).
    #[schema(value_type = Option<i64>)]
    pub notification_id: Option<Value>,
    /// `delivered` or `failed`.
    pub status: Option<String>,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

fn id_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The gateway reports a delivery: `{notification_id, status:
/// delivered|failed, error?}`, signed `X-GNS-Signature: sha256=<hex
/// HMAC-SHA256 of "<X-GNS-Timestamp>.<raw body>" with
/// CAMPUS_GNS_WEBHOOK_SECRET>`.
///
/// A body that is not a JSON object is a 400 before the signature is
/// checked (nothing is read or written for it).
///
/// Replays: a timestamp more than 300 s from now is refused, and this node
/// refuses a signature it accepted already (401 `ERR_WEBHOOK_01`). Another
/// node has no memory of it, but a notification leaves a non-final state
/// (`queued`/`sent`) once: a callback for one already `delivered` or
/// `failed` is a 200 that changes nothing, so a replay cannot flip it.
#[utoipa::path(post, path = "/api/v1/notifications/gns-callback/", tag = "notifications",
    description = "Public: authenticated by the `X-GNS-Signature` and `X-GNS-Timestamp` headers (401 `ERR_WEBHOOK_01` when missing, wrong, stale or replayed).",
    request_body = NotificationCallbackIn,
    params(("X-GNS-Signature" = String, Header), ("X-GNS-Timestamp" = i64, Header)),
    responses((status = 200, body = inline(Data<Message>))))]
pub async fn notification_gns_callback(
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    headers: HeaderMap,
    kernel::extract::RawBody(raw): kernel::extract::RawBody,
) -> ApiResult<Data<Message>> {
    if AppState::tenant_id().is_none() {
        return Err(crate::envelope::tenant_not_found());
    }
    let secret = state
        .config
        .gns
        .as_ref()
        .and_then(|g| g.webhook_secret.as_deref());
    // A body that is no JSON object is refused before anything else (it
    // could never be a callback; nothing is read or written for it).
    let input = match serde_json::from_slice::<Value>(&raw) {
        Ok(value @ Value::Object(_)) => serde_json::from_value::<NotificationCallbackIn>(value)
            .map_err(|_| ApiError::non_field("Expected a callback object."))?,
        _ => return Err(ApiError::bad_request("Expected a JSON object.")),
    };
    let now = kernel::time::now().timestamp();
    let key = verify_callback(secret, &headers, &raw, now)?;
    let mut c = Checker::new();
    let id = id_of(input.notification_id.as_ref()).or_else(|| {
        id_of(
            input
                .metadata
                .as_ref()
                .and_then(|m| m.get("notification_id")),
        )
    });
    if id.is_none() {
        c.error("notification_id", kernel::form::REQUIRED);
    }
    let status = match input.status.as_deref() {
        Some(s @ ("delivered" | "failed")) => Some(s),
        Some(other) => {
            c.error(
                "status",
                format!("\"{other}\" is not a valid choice; expected delivered or failed."),
            );
            None
        }
        None => {
            c.error("status", kernel::form::REQUIRED);
            None
        }
    };
    c.finish()?;
    let (Some(id), Some(status)) = (id, status) else {
        return Err(ApiError::non_field("Incomplete callback."));
    };
    if !first_sight(key, now) {
        return Err(webhook_refused("This callback was received already."));
    }
    let row = notification::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if matches!(row.status.as_str(), "delivered" | "failed") {
        return Ok(message(format!("Already {}.", row.status)));
    }
    if row.status == "skipped" || row.channel == IN_APP {
        return Err(ApiError::Conflict(
            "This notification was not handed to the gateway.".into(),
        ));
    }
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value(status))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Status.is_in(["queued", "sent"]));
    if status == "failed" {
        let error: String = input
            .error
            .unwrap_or_else(|| "the gateway reported a failure".into())
            .chars()
            .take(1000)
            .collect();
        update = update.col_expr(notification::Column::LastError, Expr::value(error));
    } else if row.sent_at.is_none() {
        update = update.col_expr(
            notification::Column::SentAt,
            Expr::value(Some(kernel::time::now())),
        );
    }
    let done = update.exec(&db).await?;
    if done.rows_affected == 0 {
        return Ok(message("Already final."));
    }
    Ok(message(format!("Marked {status}.")))
}
