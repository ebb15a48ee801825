//! `services/feedback/` (platform users only): ratings of completed
//! sessions, and the average ratings of providers and services.

use axum::extract::Path;
use axum::http::StatusCode;
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
use crate::entities::{service_session, session_feedback, user};
use crate::rest::{self, List, Page};
use crate::state::AppState;

const MODEL: &str = "Session feedback";
const TRAIL: &str = "SessionFeedback";
const NOT_COMPLETED: &str = "Feedback can only be given for completed sessions";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_feedback, create_feedback))
        .routes(routes!(provider_rating))
        .routes(routes!(service_rating))
        .routes(routes!(search_feedback))
        .routes(routes!(
            get_feedback,
            put_feedback,
            patch_feedback,
            delete_feedback
        ))
        .routes(routes!(restore_feedback))
}

/// The mean of `ratings` to two places, null when there are none.
pub fn average(ratings: &[i32]) -> Option<f64> {
    if ratings.is_empty() {
        return None;
    }
    let sum: f64 = ratings.iter().map(|r| f64::from(*r)).sum();
    let count = f64::from(u32::try_from(ratings.len()).unwrap_or(u32::MAX));
    Some((sum / count * 100.0).round() / 100.0)
}

/// One piece of feedback.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionFeedbackOut {
    pub id: String,
    pub session_id: String,
    /// 1 to 5.
    pub rating: i32,
    pub comment: Option<String>,
    /// The user who gave it.
    pub submitted_by: Option<String>,
    pub submitted_by_email: Option<String>,
    pub metadata: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn render(
    db: &impl ConnectionTrait,
    rows: Vec<session_feedback::Model>,
) -> ApiResult<Vec<SessionFeedbackOut>> {
    let emails: std::collections::HashMap<String, String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Email)
        .filter(user::Column::Id.is_in(rows.iter().filter_map(|r| r.submitted_by.clone())))
        .into_tuple::<(String, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| SessionFeedbackOut {
            submitted_by_email: r.submitted_by.as_ref().and_then(|u| emails.get(u)).cloned(),
            id: r.id,
            session_id: r.session_id,
            rating: r.rating,
            comment: r.comment,
            submitted_by: r.submitted_by,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn render_one(
    db: &impl ConnectionTrait,
    row: session_feedback::Model,
) -> ApiResult<SessionFeedbackOut> {
    render(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

fn live() -> Select<session_feedback::Entity> {
    session_feedback::Entity::find().filter(session_feedback::Column::DeletedAt.is_null())
}

/// Feedback on the sessions of persons of the selected client.
fn narrowed(selected: &SelectedClient) -> Select<session_feedback::Entity> {
    match &selected.0 {
        Some(_) => {
            let sessions = super::sessions::narrowed(
                service_session::Entity::find()
                    .select_only()
                    .column(service_session::Column::Id),
                selected,
            );
            live().filter(
                session_feedback::Column::SessionId
                    .in_subquery(sea_orm::QueryTrait::into_query(sessions)),
            )
        }
        None => live(),
    }
}

async fn found(db: &impl ConnectionTrait, id: &str) -> ApiResult<session_feedback::Model> {
    let id = rest::path_id(id, MODEL)?;
    live()
        .filter(session_feedback::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn filtered(selected: &SelectedClient, list: &List) -> ApiResult<Select<session_feedback::Entity>> {
    let mut query = narrowed(selected);
    if let Some(v) = list.get("session_id").or(list.get("session")) {
        query = query.filter(session_feedback::Column::SessionId.eq(v.trim()));
    }
    if let Some(raw) = list.get("min_rating") {
        let n: i32 = raw
            .trim()
            .parse()
            .map_err(|_| ApiError::field("min_rating", "Enter a whole number."))?;
        query = query.filter(session_feedback::Column::Rating.gte(n));
    }
    if let Some(raw) = list.get("rating") {
        let n: i32 = raw
            .trim()
            .parse()
            .map_err(|_| ApiError::field("rating", "Enter a whole number."))?;
        query = query.filter(session_feedback::Column::Rating.eq(n));
    }
    Ok(query)
}

/// Feedback, a page at a time (platform users): filters `session_id,
/// rating, min_rating`; ordering `rating, created_at`.
#[utoipa::path(get, path = "/api/services/feedback/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("ordering" = Option<String>, Query), ("session_id" = Option<String>, Query),
        ("rating" = Option<i32>, Query), ("min_rating" = Option<i32>, Query)),
    responses((status = 200, body = Page<SessionFeedbackOut>)))]
pub async fn list_feedback(
    Db(db): Db,
    _platform: Platform,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<SessionFeedbackOut>>> {
    let query = list.order(
        filtered(&selected, &list)?,
        &[
            ("rating", Expr::col(session_feedback::Column::Rating)),
            ("created_at", Expr::col(session_feedback::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        session_feedback::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// Feedback matching `session_id, min_rating`.
#[utoipa::path(get, path = "/api/services/feedback/search/", tag = "services", security(("jwt" = [])),
    params(("session_id" = Option<String>, Query), ("min_rating" = Option<i32>, Query)),
    responses((status = 200, body = Vec<SessionFeedbackOut>)))]
pub async fn search_feedback(
    Db(db): Db,
    _platform: Platform,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<SessionFeedbackOut>>> {
    let rows = filtered(&selected, &list)?
        .order_by_desc(session_feedback::Column::CreatedAt)
        .order_by_asc(session_feedback::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    Ok(Json(render(&db, rows).await?))
}

/// A provider's or service's average rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderRating {
    pub provider_id: String,
    pub average_rating: Option<f64>,
    pub total_feedback: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRating {
    pub service_id: String,
    pub average_rating: Option<f64>,
    pub total_feedback: u64,
}

/// The ratings of feedback on sessions whose `column` is `id`.
async fn ratings(
    db: &impl ConnectionTrait,
    column: service_session::Column,
    id: &str,
) -> ApiResult<Vec<i32>> {
    Ok(live()
        .select_only()
        .column(session_feedback::Column::Rating)
        .filter(
            session_feedback::Column::SessionId.in_subquery(
                Query::select()
                    .column(service_session::Column::Id)
                    .from(service_session::Entity)
                    .and_where(Expr::col(column).eq(id))
                    .and_where(Expr::col(service_session::Column::DeletedAt).is_null())
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?)
}

/// A provider's average rating over the feedback on their sessions.
#[utoipa::path(get, path = "/api/services/feedback/provider-rating/{provider_id}/", tag = "services", security(("jwt" = [])),
    params(("provider_id" = String, Path)), responses((status = 200, body = ProviderRating)))]
pub async fn provider_rating(
    Db(db): Db,
    _platform: Platform,
    Path(provider_id): Path<String>,
) -> ApiResult<Json<ProviderRating>> {
    let provider = super::providers::found(&db, &provider_id).await?;
    let all = ratings(&db, service_session::Column::ProviderId, &provider.id).await?;
    Ok(Json(ProviderRating {
        provider_id: provider.id,
        average_rating: average(&all),
        total_feedback: u64::try_from(all.len()).unwrap_or(0),
    }))
}

/// A service's average rating over the feedback on its sessions.
#[utoipa::path(get, path = "/api/services/feedback/service-rating/{service_id}/", tag = "services", security(("jwt" = [])),
    params(("service_id" = String, Path)), responses((status = 200, body = ServiceRating)))]
pub async fn service_rating(
    Db(db): Db,
    _platform: Platform,
    Path(service_id): Path<String>,
) -> ApiResult<Json<ServiceRating>> {
    let id = rest::path_id(&service_id, "Service")?;
    let service = crate::entities::service::Entity::find_by_id(id)
        .filter(crate::entities::service::Column::DeletedAt.is_null())
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Service"))?;
    let all = ratings(&db, service_session::Column::ServiceId, &service.id).await?;
    Ok(Json(ServiceRating {
        service_id: service.id,
        average_rating: average(&all),
        total_feedback: u64::try_from(all.len()).unwrap_or(0),
    }))
}

/// One piece of feedback.
#[utoipa::path(get, path = "/api/services/feedback/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = SessionFeedbackOut)))]
pub async fn get_feedback(
    Db(db): Db,
    _platform: Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionFeedbackOut>> {
    let row = found(&db, &id).await?;
    Ok(Json(render_one(&db, row).await?))
}

/// Feedback's fields; the session must be Completed and stays the same.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionFeedbackIn {
    /// A completed session (alias `session`).
    #[serde(default, alias = "session")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    session_id: Field<String>,
    /// 1 to 5.
    #[serde(default)]
    #[schema(schema_with = rating_schema, required = true)]
    rating: Field<i64>,
    /// Alias `comments`.
    #[serde(default, alias = "comments")]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    comment: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

fn rating_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::int(1, 5)
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<session_feedback::Model>,
    input: SessionFeedbackIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<SessionFeedbackOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let session_id = super::required_id(&mut c, "session_id", input.session_id);
    let rating = c.int("rating", input.rating, 1, 5);
    let comment = c.optional_text("comment", input.comment, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    let session = match (&current, session_id) {
        (Some(row), Some(Some(id))) => {
            if id != row.session_id {
                c.error("session_id", "This field cannot be changed.");
            }
            None
        }
        (None, id) => super::foreign::<service_session::Entity>(
            &**db,
            &mut c,
            "session_id",
            id,
            service_session::Column::DeletedAt,
        )
        .await?
        .flatten(),
        _ => None,
    };
    c.finish()?;
    if let Some(s) = &session
        && s.status != "Completed"
    {
        return Err(rest::invalid_state(NOT_COMPLETED));
    }
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: session_feedback::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => session_feedback::ActiveModel {
            id: Set(kernel::cuid::new()),
            session_id: Set(session.map(|s| s.id).unwrap_or_default()),
            rating: Set(1),
            comment: Set(None),
            submitted_by: Set(Some(me.user.id.clone())),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        },
    };
    if let Some(v) = rating {
        row.rating = Set(i32::try_from(v).unwrap_or(1));
    }
    if let Some(v) = comment {
        row.comment = Set(v);
    }
    if let Some(v) = metadata {
        row.metadata = Set(v);
    }
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
    let out = render_one(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Rates a completed session (platform users).
#[utoipa::path(post, path = "/api/services/feedback/", tag = "services", security(("jwt" = [])),
    request_body = SessionFeedbackIn, responses((status = 201, body = SessionFeedbackOut)))]
pub async fn create_feedback(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<SessionFeedbackIn>,
) -> ApiResult<(StatusCode, Json<SessionFeedbackOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces feedback (platform users).
#[utoipa::path(put, path = "/api/services/feedback/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionFeedbackIn, responses((status = 200, body = SessionFeedbackOut)))]
pub async fn put_feedback(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionFeedbackIn>, ApiError>,
) -> ApiResult<Json<SessionFeedbackOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a feedback's fields (platform users).
#[utoipa::path(patch, path = "/api/services/feedback/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SessionFeedbackIn, responses((status = 200, body = SessionFeedbackOut)))]
pub async fn patch_feedback(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<SessionFeedbackIn>, ApiError>,
) -> ApiResult<Json<SessionFeedbackOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes feedback (platform users).
#[utoipa::path(delete, path = "/api/services/feedback/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_feedback(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = found(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<session_feedback::Entity>(
        &txn,
        &me,
        &before.id,
        audit::snapshot(&before),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes feedback (platform users).
#[utoipa::path(post, path = "/api/services/feedback/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = SessionFeedbackOut)))]
pub async fn restore_feedback(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionFeedbackOut>> {
    let (txn, before, after) =
        rest::restore::<session_feedback::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
