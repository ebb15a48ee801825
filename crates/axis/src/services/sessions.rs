//! `services/sessions/` (platform users only: who used counselling is never
//! shown to client users): a person's session with a provider, scheduled,
//! then completed, cancelled or rescheduled.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{person, service, service_provider, service_session, session_feedback};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Service session";
const TRAIL: &str = "ServiceSession";
pub const STATUSES: Choices = Choices(&[
    "Scheduled",
    "Rescheduled",
    "Completed",
    "Canceled",
    "No Show",
    "Postponed",
]);
/// Sessions that may still be completed, cancelled or rescheduled.
const OPEN: &[&str] = &["Scheduled", "Rescheduled", "Postponed"];
const NOT_FUTURE: &str = "Scheduled time must be in the future.";

kernel::choices!(
    /// Where a session stands.
    pub SessionStatus = STATUSES.0
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, create_session))
        .routes(routes!(upcoming_sessions))
        .routes(routes!(sessions_of_person))
        .routes(routes!(search_sessions))
        .routes(routes!(
            get_session,
            put_session,
            patch_session,
            delete_session,
            post_session
        ))
        .routes(routes!(complete_session))
        .routes(routes!(cancel_session))
        .routes(routes!(reschedule_session))
        .routes(routes!(restore_session))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionServiceRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionProviderRef {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub provider_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionPersonRef {
    pub id: String,
    pub full_name: String,
    pub person_type: String,
}

/// A session in lists and queries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionItem {
    pub id: String,
    pub service_id: String,
    pub service_name: Option<String>,
    pub provider_id: String,
    pub provider_name: Option<String>,
    pub person_id: String,
    pub person_name: Option<String>,
    pub scheduled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub status: String,
    /// Minutes.
    pub duration: Option<i32>,
    pub is_group_session: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionOut {
    #[serde(flatten)]
    pub item: SessionItem,
    pub service: Option<SessionServiceRef>,
    pub provider: Option<SessionProviderRef>,
    pub person: Option<SessionPersonRef>,
    pub notes: Option<String>,
    pub feedback: Option<String>,
    pub location: Option<String>,
    pub cancellation_reason: Option<String>,
    pub reschedule_count: i32,
    pub metadata: Value,
    pub feedback_count: u64,
    pub average_rating: Option<f64>,
    pub deleted_at: Option<DateTime<Utc>>,
}

struct Related {
    services: HashMap<String, service::Model>,
    providers: HashMap<String, service_provider::Model>,
    persons: HashMap<String, person::Model>,
}

async fn related(db: &impl ConnectionTrait, rows: &[service_session::Model]) -> ApiResult<Related> {
    let services = service::Entity::find()
        .filter(service::Column::Id.is_in(rows.iter().map(|r| r.service_id.clone())))
        .filter(service::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let providers = service_provider::Entity::find()
        .filter(service_provider::Column::Id.is_in(rows.iter().map(|r| r.provider_id.clone())))
        .filter(service_provider::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let persons = person::Entity::find()
        .filter(person::Column::Id.is_in(rows.iter().map(|r| r.person_id.clone())))
        .filter(person::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Ok(Related {
        services,
        providers,
        persons,
    })
}

fn item(rel: &Related, r: &service_session::Model) -> SessionItem {
    SessionItem {
        id: r.id.clone(),
        service_id: r.service_id.clone(),
        service_name: rel.services.get(&r.service_id).map(|s| s.name.clone()),
        provider_id: r.provider_id.clone(),
        provider_name: rel.providers.get(&r.provider_id).map(|p| p.name.clone()),
        person_id: r.person_id.clone(),
        person_name: rel.persons.get(&r.person_id).map(|p| p.full_name.clone()),
        scheduled_at: r.scheduled_at,
        completed_at: r.completed_at,
        status: r.status.clone(),
        duration: r.duration,
        is_group_session: r.is_group_session,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<service_session::Model>,
) -> ApiResult<Vec<SessionItem>> {
    let rel = related(db, &rows).await?;
    Ok(rows.iter().map(|r| item(&rel, r)).collect())
}

async fn detail(db: &impl ConnectionTrait, row: service_session::Model) -> ApiResult<SessionOut> {
    let rel = related(db, std::slice::from_ref(&row)).await?;
    let ratings: Vec<i32> = session_feedback::Entity::find()
        .select_only()
        .column(session_feedback::Column::Rating)
        .filter(session_feedback::Column::SessionId.eq(row.id.as_str()))
        .filter(session_feedback::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(SessionOut {
        item: item(&rel, &row),
        service: rel
            .services
            .get(&row.service_id)
            .map(|s| SessionServiceRef {
                id: s.id.clone(),
                name: s.name.clone(),
            }),
        provider: rel
            .providers
            .get(&row.provider_id)
            .map(|p| SessionProviderRef {
                id: p.id.clone(),
                name: p.name.clone(),
                provider_type: p.provider_type.clone(),
            }),
        person: rel.persons.get(&row.person_id).map(|p| SessionPersonRef {
            id: p.id.clone(),
            full_name: p.full_name.clone(),
            person_type: p.person_type.clone(),
        }),
        feedback_count: u64::try_from(ratings.len()).unwrap_or(0),
        average_rating: super::feedback::average(&ratings),
        notes: row.notes,
        feedback: row.feedback,
        location: row.location,
        cancellation_reason: row.cancellation_reason,
        reschedule_count: row.reschedule_count,
        metadata: row.metadata,
        deleted_at: row.deleted_at,
    })
}

fn live() -> Select<service_session::Entity> {
    service_session::Entity::find().filter(service_session::Column::DeletedAt.is_null())
}

/// Sessions of persons of the selected client.
pub(crate) fn narrowed(
    query: Select<service_session::Entity>,
    selected: &SelectedClient,
) -> Select<service_session::Entity> {
    match &selected.0 {
        Some(client) => query.filter(
            service_session::Column::PersonId.in_subquery(
                Query::select()
                    .column(person::Column::Id)
                    .from(person::Entity)
                    .and_where(Expr::col(person::Column::ClientId).eq(client.as_str()))
                    .to_owned(),
            ),
        ),
        None => query,
    }
}

pub(crate) async fn found(
    db: &impl ConnectionTrait,
    id: &str,
) -> ApiResult<service_session::Model> {
    let id = rest::path_id(id, MODEL)?;
    live()
        .filter(service_session::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn date_param(list: &List, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(raw) = list.get(name) else {
        return Ok(None);
    };
    let mut c = Checker::new();
    let at = crate::clients::datetime(&mut c, name, Field::Value(raw.to_owned()));
    c.finish()?;
    Ok(at.flatten())
}

fn filtered(selected: &SelectedClient, list: &List) -> ApiResult<Select<service_session::Entity>> {
    let mut query = narrowed(live(), selected);
    for (name, column) in [
        ("person_id", service_session::Column::PersonId),
        ("provider_id", service_session::Column::ProviderId),
        ("service_id", service_session::Column::ServiceId),
    ] {
        if let Some(v) = list.get(name) {
            query = query.filter(column.eq(v.trim()));
        }
    }
    if let Some(s) = list.get("status") {
        query = query.filter(service_session::Column::Status.eq(STATUSES.check("status", s)?));
    }
    if let Some(from) = date_param(list, "date_from")? {
        query = query.filter(service_session::Column::ScheduledAt.gte(from));
    }
    if let Some(to) = date_param(list, "date_to")? {
        query = query.filter(service_session::Column::ScheduledAt.lte(to));
    }
    Ok(query)
}

/// Sessions, a page at a time (platform users): filters `person_id,
/// provider_id, service_id, status, date_from, date_to`; ordering
/// `scheduled_at, created_at`; narrowed to `X-Client-ID`.
#[utoipa::path(get, path = "/api/services/sessions/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("ordering" = Option<String>, Query), ("person_id" = Option<String>, Query), ("provider_id" = Option<String>, Query),
        ("service_id" = Option<String>, Query), ("status" = inline(Option<SessionStatus>), Query),
        ("date_from" = inline(Option<crate::clients::schema::Time>), Query),
        ("date_to" = inline(Option<crate::clients::schema::Time>), Query)),
    responses((status = 200, body = Page<SessionItem>)))]
pub async fn list_sessions(
    Db(db): Db,
    _platform: Platform,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<SessionItem>>> {
    let query = list.order(
        filtered(&selected, &list)?,
        &[
            (
                "scheduled_at",
                Expr::col(service_session::Column::ScheduledAt),
            ),
            ("created_at", Expr::col(service_session::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        service_session::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = items(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<service_session::Entity>,
) -> ApiResult<Json<Vec<SessionItem>>> {
    let rows = query
        .order_by_asc(service_session::Column::ScheduledAt)
        .order_by_asc(service_session::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, rows).await?))
}

/// Scheduled and rescheduled sessions from now to `days` (7) ahead.
#[utoipa::path(get, path = "/api/services/sessions/upcoming/", tag = "services", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<SessionItem>)))]
pub async fn upcoming_sessions(
    Db(db): Db,
    _platform: Platform,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<SessionItem>>> {
    let days = rest::days(list.get("days"), 7)?;
    let now = kernel::time::now();
    let query = narrowed(live(), &selected)
        .filter(service_session::Column::Status.is_in(["Scheduled", "Rescheduled"]))
        .filter(service_session::Column::ScheduledAt.gte(now))
        .filter(service_session::Column::ScheduledAt.lte(now + chrono::TimeDelta::days(days)));
    array(&db, query).await
}

/// One person's sessions.
#[utoipa::path(get, path = "/api/services/sessions/person/{person_id}/", tag = "services", security(("jwt" = [])),
    params(("person_id" = String, Path)), responses((status = 200, body = Vec<SessionItem>)))]
pub async fn sessions_of_person(
    Db(db): Db,
    Platform(me): Platform,
    selected: SelectedClient,
    Path(person_id): Path<String>,
) -> ApiResult<Json<Vec<SessionItem>>> {
    let person = crate::persons::visible(&db, &me, &person_id).await?;
    let query = narrowed(live(), &selected)
        .filter(service_session::Column::PersonId.eq(person.id.as_str()));
    array(&db, query).await
}

/// Sessions matching `person_id, provider_id, service_id, status,
/// date_from, date_to`.
#[utoipa::path(get, path = "/api/services/sessions/search/", tag = "services", security(("jwt" = [])),
    params(("person_id" = Option<String>, Query), ("provider_id" = Option<String>, Query),
        ("service_id" = Option<String>, Query), ("status" = inline(Option<SessionStatus>), Query),
        ("date_from" = inline(Option<crate::clients::schema::Time>), Query),
        ("date_to" = inline(Option<crate::clients::schema::Time>), Query)),
    responses((status = 200, body = Vec<SessionItem>)))]
pub async fn search_sessions(
    Db(db): Db,
    _platform: Platform,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<SessionItem>>> {
    array(&db, filtered(&selected, &list)?).await
}

/// One session.
#[utoipa::path(get, path = "/api/services/sessions/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = SessionOut)))]
pub async fn get_session(
    Db(db): Db,
    _platform: Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionOut>> {
    let row = found(&db, &id).await?;
    Ok(Json(detail(&db, row).await?))
}

fn time_schema() -> utoipa::openapi::Schema {
    crate::clients::schema::time()
}

/// A session's fields. On create the person must be eligible, the service
/// available and the provider available; `status` is not written here.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionIn {
    /// A live service (alias `service`).
    #[serde(default, alias = "service")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    service_id: Field<String>,
    /// A live provider (alias `provider`).
    #[serde(default, alias = "provider")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    provider_id: Field<String>,
    /// A live person (alias `person`).
    #[serde(default, alias = "person")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    person_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = time_schema, required = true)]
    scheduled_at: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    location: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_group_session: Field<bool>,
    /// Minutes.
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::optional_int::<1, 100000>)]
    duration: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    feedback: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// A required time field.
fn required_time(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    partial: bool,
) -> Option<DateTime<Utc>> {
    match field {
        Field::Absent if partial => None,
        Field::Absent => {
            c.error(name, kernel::form::REQUIRED);
            None
        }
        Field::Null => {
            c.error(name, kernel::form::NOT_NULL);
            None
        }
        Field::Value(v) if v.trim().is_empty() => {
            c.error(name, kernel::form::NOT_BLANK);
            None
        }
        other => crate::clients::datetime(c, name, other).flatten(),
    }
}

fn minutes(c: &mut Checker, name: &str, field: Field<i64>) -> Option<Option<i32>> {
    match field {
        Field::Absent => None,
        Field::Null => Some(None),
        other => c
            .int(name, other, 1, 100_000)
            .map(|v| Some(i32::try_from(v).unwrap_or(1))),
    }
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<service_session::Model>,
    input: SessionIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let service_id = super::required_id(&mut c, "service_id", input.service_id);
    let provider_id = super::required_id(&mut c, "provider_id", input.provider_id);
    let person_id = super::required_id(&mut c, "person_id", input.person_id);
    let scheduled_at = required_time(&mut c, "scheduled_at", input.scheduled_at, partial);
    let location = c.optional_text("location", input.location, 255);
    let group = c.boolean("is_group_session", input.is_group_session, false);
    let duration = minutes(&mut c, "duration", input.duration);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let feedback = c.optional_text("feedback", input.feedback, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    let service = super::foreign::<service::Entity>(
        &**db,
        &mut c,
        "service_id",
        service_id,
        service::Column::DeletedAt,
    )
    .await?
    .flatten();
    let provider = super::foreign::<service_provider::Entity>(
        &**db,
        &mut c,
        "provider_id",
        provider_id,
        service_provider::Column::DeletedAt,
    )
    .await?
    .flatten();
    let person = super::foreign::<person::Entity>(
        &**db,
        &mut c,
        "person_id",
        person_id,
        person::Column::DeletedAt,
    )
    .await?
    .flatten();
    if creating {
        if let Some(p) = &person {
            let rel = crate::persons::related(&**db, me, std::slice::from_ref(p)).await?;
            if !rel.eligible(p) {
                c.error(
                    "person_id",
                    format!(
                        "{} is not currently eligible for EAP services.",
                        p.full_name
                    ),
                );
            }
        }
        if let Some(s) = &service
            && s.status != "Active"
        {
            c.error("service_id", "Service is not available");
        }
        if let Some(p) = &provider
            && !super::providers::is_available(p)
        {
            c.error("provider_id", "Provider is not available");
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service_session::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => service_session::ActiveModel {
            id: Set(kernel::cuid::new()),
            service_id: Set(String::new()),
            provider_id: Set(String::new()),
            person_id: Set(String::new()),
            scheduled_at: Set(now),
            completed_at: Set(None),
            status: Set("Scheduled".into()),
            notes: Set(None),
            feedback: Set(None),
            duration: Set(None),
            location: Set(None),
            cancellation_reason: Set(None),
            reschedule_count: Set(0),
            is_group_session: Set(false),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        },
    };
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    put!(
        service_id = service.map(|s| s.id),
        provider_id = provider.map(|p| p.id),
        person_id = person.map(|p| p.id),
        scheduled_at = scheduled_at,
        location = location,
        is_group_session = group,
        duration = duration,
        notes = notes,
        feedback = feedback,
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let saved = match &current {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    let (event, status) = Event::saved(
        TRAIL,
        &saved.id,
        current.as_ref().map(audit::snapshot),
        audit::snapshot(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Schedules a session (platform users): status Scheduled.
#[utoipa::path(post, path = "/api/services/sessions/", tag = "services", security(("jwt" = [])),
    request_body = SessionIn, responses((status = 201, body = SessionOut)))]
pub async fn create_session(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<SessionIn>,
) -> ApiResult<(StatusCode, Json<SessionOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a session's fields (platform users; `status` is ignored).
#[utoipa::path(put, path = "/api/services/sessions/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionIn, responses((status = 200, body = SessionOut)))]
pub async fn put_session(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a session's fields (platform users; `status` is
/// ignored). Also served as `POST services/sessions/{id}/`.
#[utoipa::path(patch, path = "/api/services/sessions/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionIn, responses((status = 200, body = SessionOut)))]
pub async fn patch_session(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// A session's fields, every one optional: the body of `POST
/// services/sessions/{id}/`, the original's spelling of PATCH.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionChangesIn {
    #[serde(default, alias = "service")]
    #[schema(schema_with = crate::clients::schema::cuid)]
    service_id: Field<String>,
    #[serde(default, alias = "provider")]
    #[schema(schema_with = crate::clients::schema::cuid)]
    provider_id: Field<String>,
    #[serde(default, alias = "person")]
    #[schema(schema_with = crate::clients::schema::cuid)]
    person_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = time_schema)]
    scheduled_at: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    location: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_group_session: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::optional_int::<1, 100000>)]
    duration: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    feedback: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// Changes some of a session's fields, as PATCH does (the original's
/// spelling; platform users).
#[utoipa::path(post, path = "/api/services/sessions/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionChangesIn, responses((status = 200, body = SessionOut)))]
pub async fn post_session(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionChangesIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let current = found(&*db, &id).await?;
    let Json(v) = input?;
    let input = SessionIn {
        service_id: v.service_id,
        provider_id: v.provider_id,
        person_id: v.person_id,
        scheduled_at: v.scheduled_at,
        location: v.location,
        is_group_session: v.is_group_session,
        duration: v.duration,
        notes: v.notes,
        feedback: v.feedback,
        metadata: v.metadata,
    };
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a session (platform users).
#[utoipa::path(delete, path = "/api/services/sessions/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_session(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = found(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<service_session::Entity>(
        &txn,
        &me,
        &before.id,
        audit::snapshot(&before),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a session (platform users).
#[utoipa::path(post, path = "/api/services/sessions/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = SessionOut)))]
pub async fn restore_session(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionOut>> {
    let (txn, before, after) =
        rest::restore::<service_session::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// The open session `id` for action `verb`, else the guard's 400.
async fn open(
    db: &impl ConnectionTrait,
    id: &str,
    verb: &str,
) -> ApiResult<service_session::Model> {
    let row = found(db, id).await?;
    if OPEN.contains(&row.status.as_str()) {
        Ok(row)
    } else {
        Err(rest::invalid_state(format!(
            "Cannot {verb} a session that is {}",
            row.status
        )))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionCompleteIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    /// Minutes.
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::optional_int::<1, 100000>)]
    duration: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    feedback: Field<String>,
}

/// Completes an open session: `completed_at` now, the person's
/// `last_service_date` today.
#[utoipa::path(post, path = "/api/services/sessions/{id}/complete/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionCompleteIn, responses((status = 200, body = SessionOut)))]
pub async fn complete_session(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionCompleteIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let before = open(&db, &id, "complete").await?;
    let Json(input) = input?;
    let mut c = Checker::partial(true);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let duration = minutes(&mut c, "duration", input.duration);
    let feedback = c.optional_text("feedback", input.feedback, 10_000);
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: service_session::ActiveModel = before.clone().into();
    row.status = Set("Completed".into());
    row.completed_at = Set(Some(now));
    if let Some(v) = notes {
        row.notes = Set(v);
    }
    if let Some(v) = duration {
        row.duration = Set(v);
    }
    if let Some(v) = feedback {
        row.feedback = Set(v);
    }
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    let mut event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Complete", &before, &after));
    if let Some(p) = person::Entity::find_by_id(after.person_id.clone())
        .filter(person::Column::DeletedAt.is_null())
        .one(&txn)
        .await?
    {
        let mut prow: person::ActiveModel = p.clone().into();
        prow.last_service_date = Set(Some(now.date_naive()));
        prow.updated_at = Set(now);
        let updated = prow.update(&txn).await?;
        event = event.also(
            "Person",
            &updated.id,
            Change::updated(
                &crate::persons::record(&p),
                &crate::persons::record(&updated),
            ),
        );
    }
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionCancelIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<1000>, required = true)]
    reason: Field<String>,
}

/// Cancels an open session (`reason` required).
#[utoipa::path(post, path = "/api/services/sessions/{id}/cancel/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionCancelIn, responses((status = 200, body = SessionOut)))]
pub async fn cancel_session(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionCancelIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let before = open(&db, &id, "cancel").await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.text("reason", input.reason, 1000);
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: service_session::ActiveModel = before.clone().into();
    row.status = Set("Canceled".into());
    row.cancellation_reason = Set(reason.clone());
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    let change = Change::action("Cancel", &before, &after).reason(reason);
    audit::record(
        &txn,
        Who::from(&me),
        Event::new("Update", TRAIL, &after.id).change(change),
    )
    .await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionRescheduleIn {
    /// In the future.
    #[serde(default)]
    #[schema(schema_with = time_schema, required = true)]
    scheduled_at: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    reason: Field<String>,
}

/// Moves an open session to a new time: Rescheduled, `reschedule_count`
/// + 1, the move kept in `metadata.reschedules`.
#[utoipa::path(post, path = "/api/services/sessions/{id}/reschedule/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionRescheduleIn, responses((status = 200, body = SessionOut)))]
pub async fn reschedule_session(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionRescheduleIn>, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let before = open(&db, &id, "reschedule").await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let at = required_time(&mut c, "scheduled_at", input.scheduled_at, false);
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    let now = kernel::time::now();
    if let Some(at) = at
        && at <= now
    {
        c.error("scheduled_at", NOT_FUTURE);
    }
    c.finish()?;
    let Some(at) = at else {
        return Err(ApiError::field("scheduled_at", kernel::form::REQUIRED));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: service_session::ActiveModel = before.clone().into();
    row.status = Set("Rescheduled".into());
    row.scheduled_at = Set(at);
    row.reschedule_count = Set(before.reschedule_count + 1);
    row.metadata = Set(super::push(
        &before.metadata,
        "reschedules",
        json!({
            "from": kernel::time::iso(before.scheduled_at),
            "to": kernel::time::iso(at),
            "reason": reason,
            "rescheduled_at": kernel::time::iso(now),
            "rescheduled_by": me.user.id,
        }),
    ));
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    let change = Change::action("Reschedule", &before, &after).reason(reason);
    audit::record(
        &txn,
        Who::from(&me),
        Event::new("Update", TRAIL, &after.id).change(change),
    )
    .await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
