//! `/api/notifications/`: each user's own notifications (spec §3.7), and a
//! live Server-Sent Events stream of new ones.

use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::events::Cursor;
use kernel::identity::StreamCurrent;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use futures_util::Stream;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{
    ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, MessageOut, Page, PageSize,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoSimpleExpr, ModelTrait,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::notification;
use crate::entities::user;
use crate::notify::{Effects, Note};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications, create_notification))
        .routes(routes!(unread_count))
        .routes(routes!(unread_notifications))
        .routes(routes!(mark_all_read))
        .routes(routes!(delete_all_read))
        .routes(routes!(notification_stream))
        .routes(routes!(retrieve_notification, destroy_notification))
        .routes(routes!(mark_read, mark_read_post))
        .routes(routes!(mark_unread))
}

/// The original's and its frontend's action names.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/notifications/unread_count/", get(unread_count))
        .route("/api/notifications/mark_all_as_read/", post(mark_all_read))
        .route(
            "/api/notifications/{id}/mark_as_read/",
            post(mark_read_post).put(mark_read_post),
        )
        .route(
            "/api/notifications/{id}/mark-as-read/",
            post(mark_read_post).put(mark_read_post),
        )
        .route(
            "/api/notifications/{id}/mark_read/",
            post(mark_read_post).put(mark_read_post),
        )
        .route(
            "/api/notifications/{id}/mark_as_unread/",
            post(mark_unread).put(mark_unread),
        )
        .route(
            "/api/notifications/delete_all_read/",
            axum::routing::delete(delete_all_read),
        )
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: Uuid,
    pub user: Uuid,
    pub title: String,
    pub message: String,
    /// approval, rejection, payment, status_update or gown.
    pub notification_type: String,
    pub related_object_type: Option<String>,
    pub related_object_id: Option<Uuid>,
    pub is_read: bool,
    pub read_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<notification::Model> for NotificationOut {
    fn from(n: notification::Model) -> Self {
        Self {
            id: n.id,
            user: n.user_id,
            title: n.title,
            message: n.message,
            notification_type: n.notification_type,
            related_object_type: n.related_object_type,
            related_object_id: n.related_object_id,
            is_read: n.is_read,
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}

fn own(me: &user::Model) -> sea_orm::Select<notification::Entity> {
    notification::Entity::find().filter(notification::Column::UserId.eq(me.id))
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No Notification matches the given query.")
}

/// The audit rows' content type.
const CONTENT_TYPE: &str = "Notification";

/// What an audit row keeps of a notification.
fn audit_snapshot(n: &notification::Model) -> serde_json::Value {
    serde_json::json!({
        "user": n.user_id, "title": n.title, "notification_type": n.notification_type,
        "is_read": n.is_read, "read_at": n.read_at,
    })
}

/// The caller's notifications, newest first. Filters: `is_read`, `notification_type`.
#[utoipa::path(get, path = "/api/notifications/", tag = "notifications", security(("jwt" = [])),
    params(("is_read" = Option<bool>, Query), ("notification_type" = inline(Option<NotificationType>), Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<NotificationOut>), (status = 401)))]
pub async fn list_notifications(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<NotificationOut>>> {
    let mut query = own(&me);
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
        FilterKind::Choice(notification::TYPES),
    )?;
    query = list.search(
        query,
        &[
            notification::Column::Title.into_simple_expr(),
            notification::Column::Message.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "created_at",
                notification::Column::CreatedAt.into_simple_expr(),
            ),
            ("is_read", notification::Column::IsRead.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        notification::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PageSize::DEFAULT)
            .await?
            .map(NotificationOut::from),
    ))
}

kernel::choices!(
    /// What a notification is about.
    pub NotificationType = notification::TYPES
);

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NotificationIn {
    /// The recipient.
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub user: Field<Uuid>,
    /// The original's name for `user`.
    #[serde(default)]
    #[schema(ignore)]
    pub recipient_id: Field<Uuid>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<10000>, required = true)]
    pub message: Field<String>,
    /// Defaults to `status_update`.
    #[serde(default)]
    #[schema(value_type = NotificationType, required = false)]
    pub notification_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub related_object_type: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub related_object_id: Field<Uuid>,
}

/// Send a notification to a user (admin).
#[utoipa::path(post, path = "/api/notifications/", tag = "notifications", security(("jwt" = [])), request_body = NotificationIn,
    responses((status = 201, body = NotificationOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_notification(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<NotificationIn>,
) -> ApiResult<(StatusCode, Json<NotificationOut>)> {
    let mut c = Checker::new();
    let recipient = c.value(
        "user",
        if input.user.is_absent() {
            input.recipient_id
        } else {
            input.user
        },
    );
    let title = c.text("title", input.title, 255);
    let message = c.text("message", input.message, 10_000);
    let kind = match input.notification_type {
        Field::Absent => Some("status_update".to_owned()),
        // The original's types (`general`, `payment_verified`…) are aliases.
        Field::Value(kind) => c.choice(
            "notification_type",
            Field::Value(notification::canonical(&kind).to_owned()),
            notification::TYPES,
        ),
        other => c.choice("notification_type", other, notification::TYPES),
    };
    let related_type = c
        .optional_text("related_object_type", input.related_object_type, 50)
        .flatten();
    let related_id = c.nullable(input.related_object_id).flatten();
    if let Some(id) = recipient
        && user::Entity::find_by_id(id).one(&db).await?.is_none()
    {
        c.error(
            "user",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    c.finish()?;
    let recipient = recipient.unwrap_or_default();
    let kind = kind.unwrap_or_default();
    let txn = kernel::db::begin_write(&db).await?;
    let mut effects = Effects::new();
    let note = Note {
        title: &title.unwrap_or_default(),
        message: message.unwrap_or_default(),
        kind: &kind,
        related: related_type.as_deref().zip(related_id),
    };
    let created = effects.notify(&txn, &state, recipient, &note).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::CREATE,
        CONTENT_TYPE,
        created.id,
        &created.title,
        kernel::audit::created(&audit_snapshot(&created)),
    )
    .await?;
    txn.commit().await?;
    effects.publish(&state);
    Ok((StatusCode::CREATED, Json(created.into())))
}

fn own_of(user: Uuid) -> sea_orm::Select<notification::Entity> {
    notification::Entity::find().filter(notification::Column::UserId.eq(user))
}

/// One of the caller's notifications.
#[utoipa::path(get, path = "/api/notifications/{id}/", tag = "notifications", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationOut), (status = 401), (status = 404)))]
pub async fn retrieve_notification(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<NotificationOut>> {
    let row = own(&me)
        .filter(notification::Column::Id.eq(id))
        .one(&db)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(row.into()))
}

/// Delete one of the caller's notifications.
#[utoipa::path(delete, path = "/api/notifications/{id}/", tag = "notifications", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn destroy_notification(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let row = own(&me)
        .filter(notification::Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
        CONTENT_TYPE,
        row.id,
        &row.title,
        kernel::audit::deleted(&audit_snapshot(&row)),
    )
    .await?;
    row.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedOut {
    pub message: String,
    pub notification: NotificationOut,
}

/// Marks one of the caller's notifications read or unread, with its audit
/// row; one already so is answered as it is and nothing is written.
async fn set_read(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    read: bool,
) -> ApiResult<NotificationOut> {
    let txn = kernel::db::begin_write(db).await?;
    let row = own(me)
        .filter(notification::Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    if row.is_read == read {
        return Ok(row.into());
    }
    let mut model: notification::ActiveModel = row.clone().into();
    model.is_read = Set(read);
    model.read_at = Set(read.then(kernel::time::now));
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        CONTENT_TYPE,
        updated.id,
        &updated.title,
        kernel::audit::diff(&audit_snapshot(&row), &audit_snapshot(&updated)),
    )
    .await?;
    txn.commit().await?;
    Ok(updated.into())
}

/// Mark one of the caller's notifications read.
#[utoipa::path(put, path = "/api/notifications/{id}/mark-read/", tag = "notifications", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = MarkedOut), (status = 401), (status = 404)))]
pub async fn mark_read(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<Json<MarkedOut>> {
    let notification = set_read(&db, &me, ip, id, true).await?;
    Ok(Json(MarkedOut {
        message: "Notification marked as read".into(),
        notification,
    }))
}

/// The original frontend POSTs the same action.
#[utoipa::path(post, path = "/api/notifications/{id}/mark-read/", tag = "notifications", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = MarkedOut), (status = 401), (status = 404)))]
pub async fn mark_read_post(
    db: Db,
    me: CurrentUser,
    ip: ClientIp,
    id: Id,
) -> ApiResult<Json<MarkedOut>> {
    mark_read(db, me, ip, id).await
}

/// Mark one of the caller's notifications unread again.
#[utoipa::path(post, path = "/api/notifications/{id}/mark-unread/", tag = "notifications", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = MarkedOut), (status = 401), (status = 404)))]
pub async fn mark_unread(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<Json<MarkedOut>> {
    let notification = set_read(&db, &me, ip, id, false).await?;
    Ok(Json(MarkedOut {
        message: "Notification marked as unread".into(),
        notification,
    }))
}

/// Mark all the caller's notifications read.
#[utoipa::path(post, path = "/api/notifications/mark-all-read/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = MessageOut), (status = 401)))]
pub async fn mark_all_read(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
) -> ApiResult<Json<MessageOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::IsRead, Expr::value(true))
        .col_expr(
            notification::Column::ReadAt,
            Expr::value(kernel::time::now()),
        )
        .filter(notification::Column::UserId.eq(me.id))
        .filter(notification::Column::IsRead.eq(false))
        .exec(&txn)
        .await?;
    let message = format!("{} notification(s) marked as read", result.rows_affected);
    // One row for the whole change, about the account whose notifications
    // they are; nothing changed, nothing to record.
    if result.rows_affected > 0 {
        audit::record(
            &txn,
            Actor::user(me.id, ip),
            Action::UPDATE,
            CONTENT_TYPE,
            me.id,
            &format!("{message} for {}", me.email),
            serde_json::json!({"is_read": [false, true]}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(MessageOut::new(message))
}

/// Delete all the caller's read notifications.
#[utoipa::path(delete, path = "/api/notifications/delete-all-read/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = MessageOut), (status = 401)))]
pub async fn delete_all_read(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    ClientIp(ip): ClientIp,
) -> ApiResult<Json<MessageOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let result = notification::Entity::delete_many()
        .filter(notification::Column::UserId.eq(me.id))
        .filter(notification::Column::IsRead.eq(true))
        .exec(&txn)
        .await?;
    let message = format!("{} read notification(s) deleted", result.rows_affected);
    if result.rows_affected > 0 {
        audit::record(
            &txn,
            Actor::user(me.id, ip),
            Action::DELETE,
            CONTENT_TYPE,
            me.id,
            &format!("{message} for {}", me.email),
            kernel::audit::deleted(
                &serde_json::json!({"read_notifications": result.rows_affected}),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(MessageOut::new(message))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCountOut {
    pub unread_count: u64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(get, path = "/api/notifications/unread-count/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = UnreadCountOut), (status = 401)))]
pub async fn unread_count(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
) -> ApiResult<Json<UnreadCountOut>> {
    let unread_count = own(&me)
        .filter(notification::Column::IsRead.eq(false))
        .count(&db)
        .await?;
    Ok(Json(UnreadCountOut { unread_count }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadOut {
    pub count: usize,
    pub notifications: Vec<NotificationOut>,
}

/// The caller's unread notifications (newest 100).
#[utoipa::path(get, path = "/api/notifications/unread/", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = UnreadOut), (status = 401)))]
pub async fn unread_notifications(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
) -> ApiResult<Json<UnreadOut>> {
    let rows = own(&me)
        .filter(notification::Column::IsRead.eq(false))
        .order_by(notification::Column::CreatedAt, Order::Desc)
        .limit(100)
        .all(&db)
        .await?;
    let notifications: Vec<NotificationOut> = rows.into_iter().map(Into::into).collect();
    Ok(Json(UnreadOut {
        count: notifications.len(),
        notifications,
    }))
}

/// New notifications as Server-Sent Events (`event: notification`, `data:`
/// the notification as JSON), pushed as they are created. Authenticate with
/// the `Authorization` header or `?token=<access token>`.
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
