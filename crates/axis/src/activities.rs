//! A client's activities (axis contract §5, "Activities"), nested under
//! `clients/{client_id}/activities/`: the timeline of what happened with
//! the client. Recording one moves the client's `last_contact_date`
//! forward; `timeline/` and `stats/` summarise a window of days.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::{ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::clients;
use crate::entities::{activity, client, contact, user};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Activity";
pub const TYPES: Choices = Choices(&[
    "Note",
    "Call",
    "Email",
    "Meeting",
    "StatusChange",
    "ContractSigned",
    "PaymentReceived",
    "DocumentUploaded",
    "Verification",
    "Other",
]);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(activity_timeline))
        .routes(routes!(activity_stats))
        .routes(routes!(
            get_activity,
            put_activity,
            patch_activity,
            delete_activity
        ))
        .routes(routes!(restore_activity))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub activity_type: String,
    pub title: String,
    pub description: Option<String>,
    pub activity_date: DateTime<Utc>,
    pub contact_id: Option<String>,
    pub contact_name: Option<String>,
    pub metadata: Value,
    /// The user who recorded it.
    pub created_by: Option<String>,
    pub created_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

async fn render(
    db: &impl ConnectionTrait,
    client: &client::Model,
    rows: Vec<activity::Model>,
) -> ApiResult<Vec<ActivityOut>> {
    let contacts: HashMap<String, String> = contact::Entity::find()
        .filter(contact::Column::Id.is_in(rows.iter().filter_map(|r| r.contact_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c.full_name()))
        .collect();
    let users: HashMap<String, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().filter_map(|r| r.created_by.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| ActivityOut {
            client_name: client.name.clone(),
            contact_name: r.contact_id.as_ref().and_then(|c| contacts.get(c).cloned()),
            created_by_email: r.created_by.as_ref().and_then(|u| users.get(u).cloned()),
            id: r.id,
            client_id: r.client_id,
            activity_type: r.activity_type,
            title: r.title,
            description: r.description,
            activity_date: r.activity_date,
            contact_id: r.contact_id,
            metadata: r.metadata,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn one(
    db: &impl ConnectionTrait,
    client: &client::Model,
    row: activity::Model,
) -> ApiResult<ActivityOut> {
    render(db, client, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

async fn live(
    db: &impl ConnectionTrait,
    client: &client::Model,
    id: &str,
) -> ApiResult<activity::Model> {
    let id = rest::path_id(id, MODEL)?;
    activity::Entity::find_by_id(id)
        .filter(activity::Column::ClientId.eq(client.id.as_str()))
        .filter(activity::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn live_of(client: &client::Model) -> sea_orm::Select<activity::Entity> {
    activity::Entity::find()
        .filter(activity::Column::ClientId.eq(client.id.as_str()))
        .filter(activity::Column::DeletedAt.is_null())
}

/// A client's activities, a page at a time (newest first); search title
/// and description; filters `activity_type, contact_id`.
#[utoipa::path(get, path = "/api/clients/{client_id}/activities/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("limit" = Option<u64>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("activity_type" = inline(Option<ActivityType>), Query), ("contact_id" = Option<String>, Query)),
    responses((status = 200, body = Page<ActivityOut>)))]
pub async fn list_activities(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<Page<ActivityOut>>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let mut query = live_of(&client);
    if let Some(v) = list.get("activity_type") {
        query = query.filter(activity::Column::ActivityType.eq(TYPES.check("activity_type", v)?));
    }
    if let Some(v) = list.get("contact_id") {
        query = query.filter(activity::Column::ContactId.eq(v.trim()));
    }
    let query = list.search(
        query,
        &[
            Expr::col(activity::Column::Title),
            Expr::col(activity::Column::Description),
        ],
    );
    let query = list.order(
        query,
        &[
            ("activity_date", Expr::col(activity::Column::ActivityDate)),
            ("created_at", Expr::col(activity::Column::CreatedAt)),
        ],
        &[("activity_date", sea_orm::Order::Desc)],
        activity::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, &client, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DateRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub count: usize,
    pub date_range: DateRange,
    pub activities: Vec<ActivityOut>,
}

/// The activities of the last `days` (90), newest first; `activity_type` filters.
#[utoipa::path(get, path = "/api/clients/{client_id}/activities/timeline/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("days" = Option<u64>, Query), ("activity_type" = inline(Option<ActivityType>), Query)),
    responses((status = 200, body = Timeline)))]
pub async fn activity_timeline(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<Timeline>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let days = rest::days(list.get("days"), 90)?;
    let end = kernel::time::now();
    let start = end - chrono::TimeDelta::days(days);
    let mut query = live_of(&client).filter(activity::Column::ActivityDate.gte(start));
    if let Some(v) = list.get("activity_type") {
        query = query.filter(activity::Column::ActivityType.eq(TYPES.check("activity_type", v)?));
    }
    let rows = query
        .order_by_desc(activity::Column::ActivityDate)
        .order_by_desc(activity::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    let activities = render(&db, &client, rows).await?;
    Ok(Json(Timeline {
        count: activities.len(),
        date_range: DateRange { start, end },
        activities,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeCount {
    pub activity_type: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactCount {
    pub contact_id: String,
    pub contact_name: Option<String>,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityStats {
    pub total_activities: u64,
    /// Within the last `days`.
    pub recent_activities: u64,
    pub date_range: DateRange,
    pub by_type: Vec<TypeCount>,
    /// The five contacts with most recent activities.
    pub top_contacts: Vec<ContactCount>,
    pub last_activity: Option<ActivityOut>,
}

/// How much happened with the client in the last `days` (90).
#[utoipa::path(get, path = "/api/clients/{client_id}/activities/stats/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("days" = Option<u64>, Query)), responses((status = 200, body = ActivityStats)))]
pub async fn activity_stats(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<ActivityStats>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let days = rest::days(list.get("days"), 90)?;
    let end = kernel::time::now();
    let start = end - chrono::TimeDelta::days(days);
    let total = sea_orm::PaginatorTrait::count(live_of(&client), &db).await?;
    let recent: Vec<activity::Model> = live_of(&client)
        .filter(activity::Column::ActivityDate.gte(start))
        .all(&db)
        .await?;
    let mut by_type: HashMap<String, u64> = HashMap::new();
    let mut by_contact: HashMap<String, u64> = HashMap::new();
    for a in &recent {
        *by_type.entry(a.activity_type.clone()).or_default() += 1;
        if let Some(c) = &a.contact_id {
            *by_contact.entry(c.clone()).or_default() += 1;
        }
    }
    let mut by_type: Vec<TypeCount> = by_type
        .into_iter()
        .map(|(activity_type, count)| TypeCount {
            activity_type,
            count,
        })
        .collect();
    by_type.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.activity_type.cmp(&b.activity_type))
    });
    let names: HashMap<String, String> = contact::Entity::find()
        .filter(contact::Column::Id.is_in(by_contact.keys().cloned()))
        .all(&db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c.full_name()))
        .collect();
    let mut top: Vec<ContactCount> = by_contact
        .into_iter()
        .map(|(contact_id, count)| ContactCount {
            contact_name: names.get(&contact_id).cloned(),
            contact_id,
            count,
        })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then(a.contact_id.cmp(&b.contact_id)));
    top.truncate(5);
    let last = live_of(&client)
        .order_by_desc(activity::Column::ActivityDate)
        .order_by_desc(activity::Column::Id)
        .one(&db)
        .await?;
    let last_activity = match last {
        Some(row) => Some(one(&db, &client, row).await?),
        None => None,
    };
    Ok(Json(ActivityStats {
        total_activities: total,
        recent_activities: u64::try_from(recent.len()).unwrap_or(0),
        date_range: DateRange { start, end },
        by_type,
        top_contacts: top,
        last_activity,
    }))
}

/// One activity of the client.
#[utoipa::path(get, path = "/api/clients/{client_id}/activities/{id}/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 200, body = ActivityOut)))]
pub async fn get_activity(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ActivityOut>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let row = live(&db, &client, &id).await?;
    Ok(Json(one(&db, &client, row).await?))
}

kernel::choices!(
    /// What kind of activity it was.
    pub ActivityType = TYPES.0
);

fn activity_type() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(TYPES.0)
}

/// The writable fields of an activity.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ActivityIn {
    /// Note when left out on a create.
    #[serde(default)]
    #[schema(schema_with = activity_type, required = false)]
    activity_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    description: Field<String>,
    /// Now when blank, null or left out on a create; left as it is on an
    /// update.
    #[serde(default)]
    #[schema(schema_with = clients::schema::optional_time)]
    activity_date: Field<String>,
    /// A live contact of this client (alias `contact`).
    #[serde(default, alias = "contact")]
    #[schema(schema_with = clients::schema::optional_cuid)]
    contact_id: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    client: &client::Model,
    current: Option<activity::Model>,
    input: ActivityIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ActivityOut>)> {
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let activity_type = match input.activity_type {
        Field::Value(v) => match TYPES.parse(&v) {
            Some(t) => Some(t.to_owned()),
            None => {
                c.error("activity_type", format!("\"{v}\" is not a valid choice."));
                None
            }
        },
        Field::Null => {
            c.error("activity_type", kernel::form::NOT_NULL);
            None
        }
        Field::Absent => current.is_none().then(|| "Note".to_owned()),
    };
    let title = c.text("title", input.title, 255);
    let description = c.optional_text("description", input.description, 10_000);
    let activity_date = match clients::datetime(&mut c, "activity_date", input.activity_date) {
        Some(Some(at)) => Some(at),
        Some(None) if current.is_none() => Some(kernel::time::now()),
        _ => None,
    };
    let contact_id = c.optional_text("contact_id", input.contact_id, 64);
    if let Some(Some(id)) = &contact_id {
        let found = contact::Entity::find_by_id(id.clone())
            .filter(contact::Column::ClientId.eq(client.id.as_str()))
            .filter(contact::Column::DeletedAt.is_null())
            .one(&**db)
            .await?;
        if found.is_none() {
            c.error("contact_id", rest::invalid_pk_message(id));
        }
    }
    let metadata = rest::metadata(&mut c, input.metadata, current.is_none());
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: activity::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => activity::ActiveModel {
            id: Set(kernel::cuid::new()),
            client_id: Set(client.id.clone()),
            contact_id: Set(None),
            activity_type: Set("Note".into()),
            title: Set(String::new()),
            description: Set(None),
            activity_date: Set(now),
            metadata: Set(json!({})),
            created_by: Set(Some(me.user.id.clone())),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        },
    };
    if let Some(v) = activity_type {
        row.activity_type = Set(v);
    }
    if let Some(v) = title {
        row.title = Set(v);
    }
    if let Some(v) = description {
        row.description = Set(v);
    }
    if let Some(v) = activity_date {
        row.activity_date = Set(v);
    }
    if let Some(v) = contact_id {
        row.contact_id = Set(v);
    }
    if let Some(v) = metadata {
        row.metadata = Set(v);
    }
    row.updated_at = Set(now);
    let saved = match &current {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    // The client's last contact moves forward, never back; the client's
    // change joins the activity's in the trail.
    let client_before = clients::snapshot(&txn, &client.id).await?;
    let moved = client::Entity::update_many()
        .col_expr(
            client::Column::LastContactDate,
            Expr::value(saved.activity_date),
        )
        .filter(client::Column::Id.eq(client.id.as_str()))
        .filter(
            sea_orm::Condition::any()
                .add(client::Column::LastContactDate.is_null())
                .add(client::Column::LastContactDate.lt(saved.activity_date)),
        )
        .exec(&txn)
        .await?;
    let (mut event, status) = Event::saved(
        "ClientActivity",
        &saved.id,
        current.as_ref().map(audit::snapshot),
        audit::snapshot(&saved),
    );
    if moved.rows_affected > 0
        && let (Some(old), Some(new)) = (client_before, clients::snapshot(&txn, &client.id).await?)
    {
        let change = Change {
            change_type: "Update",
            reason: Some("Activity recorded".to_owned()),
            old: Some(old),
            new: Some(new),
        };
        event = event.also("Client", &client.id, change);
    }
    audit::record(&txn, Who::from(me), event).await?;
    let out = one(&txn, client, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Records an activity with the client.
#[utoipa::path(post, path = "/api/clients/{client_id}/activities/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path)), request_body = ActivityIn, responses((status = 201, body = ActivityOut)))]
pub async fn create_activity(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    Json(input): Json<ActivityIn>,
) -> ApiResult<(StatusCode, Json<ActivityOut>)> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    save(&db, &me, &client, None, input, false).await
}

/// Replaces an activity.
#[utoipa::path(put, path = "/api/clients/{client_id}/activities/{id}/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), request_body = ActivityIn, responses((status = 200, body = ActivityOut)))]
pub async fn put_activity(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
    Json(input): Json<ActivityIn>,
) -> ApiResult<Json<ActivityOut>> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    let current = live(&*db, &client, &id).await?;
    save(&db, &me, &client, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of an activity's fields.
#[utoipa::path(patch, path = "/api/clients/{client_id}/activities/{id}/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), request_body = ActivityIn, responses((status = 200, body = ActivityOut)))]
pub async fn patch_activity(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
    Json(input): Json<ActivityIn>,
) -> ApiResult<Json<ActivityOut>> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    let current = live(&*db, &client, &id).await?;
    save(&db, &me, &client, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes an activity.
#[utoipa::path(delete, path = "/api/clients/{client_id}/activities/{id}/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 204)))]
pub async fn delete_activity(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let before = live(&db, &client, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<activity::Entity>(&txn, &me, &before.id, audit::snapshot(&before))
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes an activity (platform users).
#[utoipa::path(post, path = "/api/clients/{client_id}/activities/{id}/restore/", tag = "activities", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 200, body = ActivityOut)))]
pub async fn restore_activity(
    Db(db): Db,
    me: Me,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ActivityOut>> {
    // A client the caller cannot see is absent (404); restoring is for
    // platform users (403).
    let client = clients::visible(&db, &me, &client_id).await?;
    if !me.is_platform() {
        return Err(kernel::ApiError::forbidden(crate::access::NO_PERMISSION));
    }
    let scope = sea_orm::Condition::all().add(activity::Column::ClientId.eq(client.id.as_str()));
    let (txn, before, after) = rest::restore::<activity::Entity>(&db, &id, scope).await?;
    let event = Event::new("Update", "ClientActivity", &after.id)
        .change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one(&txn, &client, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
