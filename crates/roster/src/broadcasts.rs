//! Broadcasts (contract §6): one message to an audience —
//! `/api/notifications/broadcasts/`.
//!
//! Admin and the deputy principal reach any audience; a HOD their
//! department, its programmes and class groups; a trainer their own class
//! groups; trainees none. Audiences: `all` active users, `role` (users of
//! `roles`), `department` (its HOD, trainers and trainees), `programme` and
//! `class_group` (their trainees); the sender is never among them.
//!
//! Creating one stores it `queued` and enqueues `roster.notify.deliver` in
//! the same transaction, at `scheduled_for` when given. The job marks it
//! `sending`, writes one notification per recipient through
//! [`notify::send`] in batches of 500 (each batch its own transaction, so
//! email follows every recipient's preferences), skipping recipients who
//! already have this broadcast's notification — a retried job resumes
//! where it stopped — then marks it `sent`. `read_count` is counted from
//! the notifications.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, FilterKind, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{
    broadcast, class_group, class_group_trainee, department, notification, programme, user,
};
use crate::notify::{self, Kind, Note};
use crate::rest::{self, PAGE};
use crate::state::AppState;

pub const AUDIENCES: [&str; 5] = ["all", "role", "department", "programme", "class_group"];
pub const STATUSES: [&str; 3] = ["queued", "sending", "sent"];

kernel::choices!(
    /// Who a broadcast is for.
    pub AudienceChoice = &AUDIENCES
);

kernel::choices!(
    /// Where a broadcast's delivery is.
    pub BroadcastStatusChoice = &STATUSES
);
/// Recipients written per transaction.
const BATCH: usize = 500;
const RELATED: &str = "broadcast";
const OUTSIDE_REACH: &str = "You cannot broadcast to this audience.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_broadcasts, create_broadcast))
        .routes(routes!(retrieve_broadcast))
}

/// A broadcast as every endpoint shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastOut {
    pub id: Uuid,
    pub title: String,
    pub message: String,
    pub notification_type: String,
    pub priority: String,
    /// `all`, `role`, `department`, `programme` or `class_group`.
    pub audience: String,
    pub roles: Vec<String>,
    pub department: Option<Uuid>,
    pub programme: Option<Uuid>,
    pub class_group: Option<Uuid>,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// `queued`, `sending` or `sent`.
    pub status: String,
    pub recipient_count: i32,
    pub delivered_count: i32,
    pub read_count: i64,
    pub created_by: Uuid,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl BroadcastOut {
    async fn many(
        db: &impl ConnectionTrait,
        rows: Vec<broadcast::Model>,
    ) -> Result<Vec<Self>, DbErr> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
        let reads: HashMap<String, i64> = if ids.is_empty() {
            HashMap::new()
        } else {
            notification::Entity::find()
                .select_only()
                .column(notification::Column::RelatedObjectId)
                .column_as(notification::Column::Id.count(), "reads")
                .filter(notification::Column::RelatedObjectType.eq(RELATED))
                .filter(notification::Column::RelatedObjectId.is_in(ids))
                .filter(notification::Column::IsRead.eq(true))
                .group_by(notification::Column::RelatedObjectId)
                .into_tuple::<(Option<String>, i64)>()
                .all(db)
                .await?
                .into_iter()
                .filter_map(|(id, n)| id.map(|id| (id, n)))
                .collect()
        };
        let senders: HashSet<Uuid> = rows.iter().map(|r| r.created_by).collect();
        let names: HashMap<Uuid, String> = if senders.is_empty() {
            HashMap::new()
        } else {
            user::Entity::find()
                .filter(user::Column::Id.is_in(senders))
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.full_name()))
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|r| Self {
                read_count: reads.get(&r.id.to_string()).copied().unwrap_or(0),
                created_by_name: names.get(&r.created_by).cloned().unwrap_or_default(),
                roles: r
                    .roles
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default(),
                id: r.id,
                title: r.title,
                message: r.message,
                notification_type: r.notification_type,
                priority: r.priority,
                audience: r.audience,
                department: r.department_id,
                programme: r.programme_id,
                class_group: r.class_group_id,
                scheduled_for: r.scheduled_for,
                status: r.status,
                recipient_count: r.recipient_count,
                delivered_count: r.delivered_count,
                created_by: r.created_by,
                created_at: r.created_at,
                sent_at: r.sent_at,
            })
            .collect())
    }

    async fn one(db: &impl ConnectionTrait, row: broadcast::Model) -> ApiResult<Self> {
        Self::many(db, vec![row])
            .await?
            .pop()
            .ok_or_else(ApiError::not_found)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BroadcastIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::non_blank, required = true)]
    pub message: Field<String>,
    /// Default `system`.
    #[serde(default)]
    #[schema(value_type = crate::notify::NotificationTypeChoice)]
    pub notification_type: Field<String>,
    /// Default `medium`.
    #[serde(default)]
    #[schema(value_type = crate::notify::PriorityChoice)]
    pub priority: Field<String>,
    /// `all`, `role`, `department`, `programme` or `class_group`.
    #[serde(default)]
    #[schema(value_type = AudienceChoice, required = true)]
    pub audience: Field<String>,
    /// The roles of a `role` audience.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub roles: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub programme: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub class_group: Field<String>,
    /// When to deliver (default now).
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_for: Field<String>,
}

/// Who a broadcast reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    All,
    Roles(Vec<String>),
    Department(Uuid),
    Programme(Uuid),
    ClassGroup(Uuid),
}

impl Audience {
    fn of(row: &broadcast::Model) -> Option<Self> {
        Some(match row.audience.as_str() {
            "all" => Self::All,
            "role" => Self::Roles(
                row.roles
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default(),
            ),
            "department" => Self::Department(row.department_id?),
            "programme" => Self::Programme(row.programme_id?),
            "class_group" => Self::ClassGroup(row.class_group_id?),
            _ => return None,
        })
    }

    /// The active users it reaches, but `sender`, in id order.
    pub async fn members(
        &self,
        db: &impl ConnectionTrait,
        sender: Uuid,
    ) -> Result<Vec<Uuid>, DbErr> {
        let condition = match self {
            Self::All => Condition::all(),
            Self::Roles(roles) => Condition::all().add(user::Column::Role.is_in(roles.clone())),
            Self::Department(id) => {
                let hod: Option<Uuid> = department::Entity::find_by_id(*id)
                    .one(db)
                    .await?
                    .and_then(|d| d.hod_id);
                let mut any = Condition::any().add(crate::access::department_members(*id));
                if let Some(hod) = hod {
                    any = any.add(user::Column::Id.eq(hod));
                }
                any
            }
            Self::Programme(id) => {
                let groups: Vec<Uuid> = class_group::Entity::find()
                    .select_only()
                    .column(class_group::Column::Id)
                    .filter(class_group::Column::ProgrammeId.eq(*id))
                    .into_tuple()
                    .all(db)
                    .await?;
                Condition::all().add(user::Column::Id.is_in(trainees_of(db, groups).await?))
            }
            Self::ClassGroup(id) => {
                Condition::all().add(user::Column::Id.is_in(trainees_of(db, vec![*id]).await?))
            }
        };
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::IsActive.eq(true))
            .filter(user::Column::Id.ne(sender))
            .filter(condition)
            .order_by_asc(user::Column::Id)
            .into_tuple()
            .all(db)
            .await
    }
}

async fn trainees_of(db: &impl ConnectionTrait, groups: Vec<Uuid>) -> Result<Vec<Uuid>, DbErr> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::TraineeId)
        .distinct()
        .filter(class_group_trainee::Column::ClassGroupId.is_in(groups))
        .into_tuple()
        .all(db)
        .await
}

/// The department a programme / class group belongs to.
async fn programme_department(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Uuid>, DbErr> {
    Ok(programme::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|p| p.department_id))
}

async fn group_department(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Uuid>, DbErr> {
    let Some(group) = class_group::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    programme_department(db, group.programme_id).await
}

/// Whether `me` may broadcast to `audience`.
async fn may_reach(
    db: &impl ConnectionTrait,
    me: &user::Model,
    audience: &Audience,
) -> Result<bool, DbErr> {
    Ok(match me.role() {
        Role::Admin | Role::DpAcademics => true,
        Role::Trainee => false,
        Role::Hod => {
            let Some(own) = crate::access::headed_department(db, me).await? else {
                return Ok(false);
            };
            match audience {
                Audience::Department(id) => *id == own,
                Audience::Programme(id) => programme_department(db, *id).await? == Some(own),
                Audience::ClassGroup(id) => group_department(db, *id).await? == Some(own),
                Audience::All | Audience::Roles(_) => false,
            }
        }
        Role::Trainer => match audience {
            Audience::ClassGroup(id) => crate::access::trainer_class_groups(db, me.id)
                .await?
                .contains(id),
            _ => false,
        },
    })
}

/// The reference `name` when the audience needs it: required, a known id.
async fn target<E>(
    db: &impl ConnectionTrait,
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    needed: bool,
) -> Result<Option<Uuid>, DbErr>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let raw = match field {
        Field::Value(raw) => Some(raw),
        Field::Absent | Field::Null => None,
    };
    if !needed {
        // Not this audience's target: ignored, but never malformed.
        if raw.is_some_and(|raw| Uuid::parse_str(raw.trim()).is_err()) {
            c.error(name, "Must be a valid UUID.");
        }
        return Ok(None);
    }
    let Some(raw) = raw else {
        c.error(
            name,
            format!("This field is required when audience is {name}."),
        );
        return Ok(None);
    };
    let Ok(id) = Uuid::parse_str(raw.trim()) else {
        c.error(name, rest::invalid_pk(&raw));
        return Ok(None);
    };
    if E::find_by_id(id).one(db).await?.is_none() {
        c.error(name, rest::invalid_pk(&raw));
        return Ok(None);
    }
    Ok(Some(id))
}

/// A draft broadcast from a body.
struct Draft {
    title: String,
    message: String,
    kind: &'static str,
    priority: &'static str,
    audience: Audience,
    scheduled_for: Option<DateTime<Utc>>,
}

async fn validate(db: &impl ConnectionTrait, input: BroadcastIn) -> ApiResult<Draft> {
    let mut c = Checker::new();
    let title = c.text("title", input.title, 200);
    let message = c.text("message", input.message, 10_000);
    let kind = crate::notifications::choice_or(
        &mut c,
        "notification_type",
        input.notification_type,
        &notify::CHOICES,
        "system",
    );
    let priority = crate::notifications::choice_or(
        &mut c,
        "priority",
        input.priority,
        &notify::PRIORITIES,
        "medium",
    );
    let audience = c.choice("audience", input.audience, &AUDIENCES);
    let which = audience.as_deref().unwrap_or_default();
    let mut roles = Vec::new();
    if which == "role" {
        match input.roles {
            Field::Value(list) if !list.is_empty() => {
                for role in list {
                    if crate::access::Role::parse(&role).is_none() {
                        c.error("roles", format!("\"{role}\" is not a valid choice."));
                    } else if !roles.contains(&role) {
                        roles.push(role);
                    }
                }
            }
            _ => c.error("roles", "This field is required when audience is role."),
        }
    }
    let department = target::<department::Entity>(
        db,
        &mut c,
        "department",
        input.department,
        which == "department",
    )
    .await?;
    let programme = target::<programme::Entity>(
        db,
        &mut c,
        "programme",
        input.programme,
        which == "programme",
    )
    .await?;
    let class_group = target::<class_group::Entity>(
        db,
        &mut c,
        "class_group",
        input.class_group,
        which == "class_group",
    )
    .await?;
    let scheduled_for = match c.nullable(input.scheduled_for).flatten() {
        None => None,
        Some(raw) => match DateTime::parse_from_rfc3339(raw.trim()) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                c.error(
                    "scheduled_for",
                    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                );
                None
            }
        },
    };
    c.finish()?;
    let audience = match (which, department, programme, class_group) {
        ("all", ..) => Audience::All,
        ("role", ..) => Audience::Roles(roles),
        ("department", Some(id), ..) => Audience::Department(id),
        ("programme", _, Some(id), _) => Audience::Programme(id),
        ("class_group", _, _, Some(id)) => Audience::ClassGroup(id),
        _ => return Err(ApiError::field("audience", kernel::form::REQUIRED)),
    };
    let (Some(title), Some(message), Some(kind), Some(priority)) = (title, message, kind, priority)
    else {
        return Err(ApiError::field("title", kernel::form::REQUIRED));
    };
    Ok(Draft {
        title,
        message,
        kind,
        priority,
        audience,
        scheduled_for,
    })
}

/// Send a broadcast (admin, deputy principal: any audience; HOD: their
/// department, its programmes and class groups; trainer: their class
/// groups; trainee: 403). Delivered by the job queue, at `scheduled_for`
/// when given.
#[utoipa::path(post, path = "/api/notifications/broadcasts/", tag = "notifications", security(("jwt" = [])),
    request_body = BroadcastIn,
    responses((status = 201, body = BroadcastOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_broadcast(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<BroadcastIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<BroadcastOut>)> {
    if me.role() == Role::Trainee {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let draft = validate(&db, input).await?;
    if !may_reach(&db, &me, &draft.audience).await? {
        return Err(ApiError::forbidden(OUTSIDE_REACH));
    }
    let now = kernel::time::now();
    let (audience, roles, department, programme, class_group) = match &draft.audience {
        Audience::All => ("all", None, None, None, None),
        Audience::Roles(r) => ("role", Some(json!(r).to_string()), None, None, None),
        Audience::Department(id) => ("department", None, Some(*id), None, None),
        Audience::Programme(id) => ("programme", None, None, Some(*id), None),
        Audience::ClassGroup(id) => ("class_group", None, None, None, Some(*id)),
    };
    let txn = kernel::db::begin_write(&db).await?;
    let recipients = draft.audience.members(&txn, me.id).await?;
    let row = broadcast::ActiveModel {
        id: Set(Uuid::new_v4()),
        title: Set(draft.title.clone()),
        message: Set(draft.message.clone()),
        notification_type: Set(draft.kind.to_owned()),
        priority: Set(draft.priority.to_owned()),
        audience: Set(audience.to_owned()),
        roles: Set(roles),
        department_id: Set(department),
        programme_id: Set(programme),
        class_group_id: Set(class_group),
        scheduled_for: Set(draft.scheduled_for),
        status: Set("queued".to_owned()),
        recipient_count: Set(i32::try_from(recipients.len()).unwrap_or(i32::MAX)),
        delivered_count: Set(0),
        created_by: Set(me.id),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let run_at = draft.scheduled_for.filter(|at| *at > now).unwrap_or(now);
    kernel::jobs::enqueue_at(
        &txn,
        notify::DELIVER_JOB,
        json!({ "broadcast": row.id }),
        run_at,
    )
    .await?;
    let entry = Entry::new(&actor, Action::CREATE, "broadcast", row.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&json!({
            "title": row.title, "notification_type": row.notification_type,
            "priority": row.priority, "audience": row.audience, "roles": row.roles,
            "department": row.department_id, "programme": row.programme_id,
            "class_group": row.class_group_id, "scheduled_for": row.scheduled_for,
        }))),
    )
    .await?;
    txn.commit().await?;
    state.jobs_wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(BroadcastOut::one(&db, row).await?),
    ))
}

/// The broadcasts the caller sees: admin all, others their own; trainee 403.
fn visible(me: &user::Model) -> ApiResult<Select<broadcast::Entity>> {
    match me.role() {
        Role::Admin => Ok(broadcast::Entity::find()),
        Role::Trainee => Err(crate::access::forbidden()),
        _ => Ok(broadcast::Entity::find().filter(broadcast::Column::CreatedBy.eq(me.id))),
    }
}

/// The caller's broadcasts (admin: all), newest first. Filters `status`,
/// `audience`, `notification_type`.
#[utoipa::path(get, path = "/api/notifications/broadcasts/", tag = "notifications", security(("jwt" = [])),
    params(("status" = inline(Option<BroadcastStatusChoice>), Query), ("audience" = inline(Option<AudienceChoice>), Query),
           ("notification_type" = inline(Option<crate::notify::NotificationTypeChoice>), Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<BroadcastOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_broadcasts(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<BroadcastOut>>> {
    let mut query = visible(&me)?;
    query = list.filter(
        query,
        "status",
        broadcast::Column::Status,
        FilterKind::Choice(&STATUSES),
    )?;
    query = list.filter(
        query,
        "audience",
        broadcast::Column::Audience,
        FilterKind::Choice(&AUDIENCES),
    )?;
    query = list.filter(
        query,
        "notification_type",
        broadcast::Column::NotificationType,
        FilterKind::Choice(&notify::CHOICES),
    )?;
    let query = query
        .order_by_desc(broadcast::Column::CreatedAt)
        .order_by_desc(broadcast::Column::Id);
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
        results: BroadcastOut::many(&db, results).await?,
    }))
}

/// One broadcast of the caller's (admin: any; others 404).
#[utoipa::path(get, path = "/api/notifications/broadcasts/{id}/", tag = "notifications", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BroadcastOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_broadcast(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<BroadcastOut>> {
    let row = visible(&me)?
        .filter(broadcast::Column::Id.eq(id))
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(BroadcastOut::one(&db, row).await?))
}

// ---------------------------------------------------------------------------
// Delivery (the `roster.notify.deliver` job)
// ---------------------------------------------------------------------------

/// How many notifications broadcast `id` has written.
async fn delivered(db: &impl ConnectionTrait, id: Uuid) -> Result<u64, DbErr> {
    notification::Entity::find()
        .filter(notification::Column::RelatedObjectType.eq(RELATED))
        .filter(notification::Column::RelatedObjectId.eq(id.to_string()))
        .count(db)
        .await
}

/// Delivers broadcast `id`: idempotent, resumable.
pub async fn deliver(state: &AppState, id: Uuid) -> Result<(), String> {
    deliver_inner(state, id).await.map_err(|e| e.to_string())
}

async fn deliver_inner(state: &AppState, id: Uuid) -> Result<(), DbErr> {
    let db = &state.db;
    let Some(row) = broadcast::Entity::find_by_id(id).one(db).await? else {
        return Ok(()); // gone since
    };
    if row.status == "sent" {
        return Ok(());
    }
    broadcast::Entity::update_many()
        .col_expr(broadcast::Column::Status, Expr::value("sending"))
        .filter(broadcast::Column::Id.eq(id))
        .filter(broadcast::Column::Status.eq("queued"))
        .exec(db)
        .await?;
    let Some(audience) = Audience::of(&row) else {
        tracing::warn!(broadcast.id = %id, "broadcast without an audience");
        return Ok(());
    };
    let recipients = audience.members(db, row.created_by).await?;
    let kind = Kind::parse(&row.notification_type).unwrap_or(Kind::System);
    let priority = notify::PRIORITIES
        .into_iter()
        .find(|p| *p == row.priority)
        .unwrap_or("medium");
    let note = Note::new(kind, &row.title, &row.message)
        .priority(priority)
        .about(RELATED, id);
    for chunk in recipients.chunks(BATCH) {
        let txn = kernel::db::begin_write(db).await?;
        let done: HashSet<Uuid> = notification::Entity::find()
            .select_only()
            .column(notification::Column::UserId)
            .filter(notification::Column::RelatedObjectType.eq(RELATED))
            .filter(notification::Column::RelatedObjectId.eq(id.to_string()))
            .filter(notification::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let fresh: Vec<Uuid> = chunk
            .iter()
            .copied()
            .filter(|u| !done.contains(u))
            .collect();
        notify::send(&txn, fresh.iter().copied(), &note).await?;
        txn.commit().await?;
        notify::wake(state, fresh);
    }
    let txn = kernel::db::begin_write(db).await?;
    let count = delivered(&txn, id).await?;
    let to_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let delivered_count = to_i32(usize::try_from(count).unwrap_or(usize::MAX));
    let sent = broadcast::Entity::update_many()
        .col_expr(broadcast::Column::Status, Expr::value("sent"))
        .col_expr(
            broadcast::Column::RecipientCount,
            Expr::value(to_i32(recipients.len())),
        )
        .col_expr(
            broadcast::Column::DeliveredCount,
            Expr::value(delivered_count),
        )
        .col_expr(
            broadcast::Column::SentAt,
            Expr::value(Some(kernel::time::now())),
        )
        .filter(broadcast::Column::Id.eq(id))
        .filter(broadcast::Column::Status.ne("sent"))
        .exec(&txn)
        .await?;
    if sent.rows_affected > 0 {
        let actor = Actor::system();
        let entry = Entry::new(&actor, Action::UPDATE, "broadcast", id);
        Log::write(
            &txn,
            entry.changes(json!({
                "status": [row.status, "sent"],
                "recipient_count": recipients.len(),
                "delivered_count": delivered_count,
            })),
        )
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    txn.commit().await
}
