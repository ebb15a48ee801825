//! Session feedback (contract §5, **Feedback**): a trainee who attended a
//! completed session rates it once, within `feedback_window_days` of its
//! end; staff read the ratings without knowing who gave them (feedback is
//! anonymous to trainers), a trainee reads their own.
//!
//! One feedback per trainee and session is closed by a unique index; the
//! session's averages are recomputed in the transaction that adds one,
//! under the session's row lock.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{FeedbackSummary, RecordStatus, SessionStatus, mean};
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{attendance_record, attendance_session, session_feedback, user};
use crate::rest;
use crate::state::AppState;

const COMMENT_MAX: usize = 2000;
const ALREADY: &str = "You have already given feedback for this session.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_feedback, give_feedback))
}

/// A trainee's ratings of a session, 1 to 5 each.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FeedbackIn {
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 5, required = true)]
    pub content_rating: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 5, required = true)]
    pub delivery_rating: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 5, required = true)]
    pub engagement_rating: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 5, required = true)]
    pub overall_rating: Field<i64>,
    /// At most 2000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub comment: Field<String>,
}

/// One feedback, without who gave it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackOut {
    pub content_rating: i32,
    pub delivery_rating: i32,
    pub engagement_rating: i32,
    pub overall_rating: i32,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<session_feedback::Model> for FeedbackOut {
    fn from(f: session_feedback::Model) -> Self {
        Self {
            content_rating: f.content_rating,
            delivery_rating: f.delivery_rating,
            engagement_rating: f.engagement_rating,
            overall_rating: f.overall_rating,
            comment: f.comment,
            created_at: f.created_at,
        }
    }
}

/// The feedback of a session: its averages and the ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackList {
    pub summary: FeedbackSummary,
    pub results: Vec<FeedbackOut>,
}

/// A session `me` can read (404 otherwise).
async fn readable_session(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<attendance_session::Model> {
    let mut query = attendance_session::Entity::find_by_id(id);
    if let Some(c) = super::readable(db, me).await? {
        query = query.filter(c);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

/// Recomputes the count and averages kept on the session from its
/// feedback rows (call under the session's lock, in the writing
/// transaction).
pub(crate) async fn recompute(db: &impl ConnectionTrait, session: Uuid) -> Result<(), DbErr> {
    let rows: Vec<(i32, i32, i32, i32)> = session_feedback::Entity::find()
        .select_only()
        .column(session_feedback::Column::ContentRating)
        .column(session_feedback::Column::DeliveryRating)
        .column(session_feedback::Column::EngagementRating)
        .column(session_feedback::Column::OverallRating)
        .filter(session_feedback::Column::SessionId.eq(session))
        .into_tuple()
        .all(db)
        .await?;
    let avg = |f: fn(&(i32, i32, i32, i32)) -> i32| mean(rows.iter().map(|r| f64::from(f(r))));
    attendance_session::Entity::update_many()
        .col_expr(
            attendance_session::Column::FeedbackCount,
            Expr::value(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
        )
        .col_expr(
            attendance_session::Column::ContentAvg,
            Expr::value(avg(|r| r.0)),
        )
        .col_expr(
            attendance_session::Column::DeliveryAvg,
            Expr::value(avg(|r| r.1)),
        )
        .col_expr(
            attendance_session::Column::EngagementAvg,
            Expr::value(avg(|r| r.2)),
        )
        .col_expr(
            attendance_session::Column::OverallAvg,
            Expr::value(avg(|r| r.3)),
        )
        .filter(attendance_session::Column::Id.eq(session))
        .exec(db)
        .await?;
    Ok(())
}

/// The feedback of a session: staff who can read it get every rating
/// without the trainee's identity; a trainee their own only.
#[utoipa::path(get, path = "/api/attendance/sessions/{id}/feedback/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = FeedbackList), (status = 401), (status = 404)))]
pub async fn list_feedback(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<FeedbackList>> {
    let session = readable_session(&db, &me, id).await?;
    let mut query = session_feedback::Entity::find()
        .filter(session_feedback::Column::SessionId.eq(id))
        .order_by_asc(session_feedback::Column::CreatedAt)
        .order_by_asc(session_feedback::Column::Id);
    if me.role() == Role::Trainee {
        query = query.filter(session_feedback::Column::TraineeId.eq(me.id));
    }
    let results = query.all(&db).await?.into_iter().map(Into::into).collect();
    Ok(Json(FeedbackList {
        summary: FeedbackSummary::of(&session),
        results,
    }))
}

/// Rate a completed session (a trainee who was present or late, once,
/// within `feedback_window_days` of its end) → 201 the feedback.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/feedback/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = FeedbackIn,
    responses((status = 201, body = FeedbackOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn give_feedback(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<FeedbackIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<FeedbackOut>)> {
    let session = readable_session(&db, &me, id).await?;
    if me.role() != Role::Trainee {
        return Err(ApiError::forbidden(
            "Only trainees can give feedback on a session.",
        ));
    }
    let attended = attendance_record::Entity::find()
        .filter(attendance_record::Column::SessionId.eq(id))
        .filter(attendance_record::Column::TraineeId.eq(me.id))
        .filter(
            attendance_record::Column::Status
                .is_in([RecordStatus::Present.as_str(), RecordStatus::Late.as_str()]),
        )
        .one(&db)
        .await?
        .is_some();
    if SessionStatus::parse(&session.status) != Some(SessionStatus::Completed) {
        return Err(rest::refused(
            "Feedback opens when the session has been completed.",
            "invalid_state",
        ));
    }
    if !attended {
        return Err(ApiError::forbidden(
            "Only trainees who attended this session can give feedback.",
        ));
    }
    let Json(input) = body?;
    let mut c = Checker::new();
    let content = c.int("content_rating", input.content_rating, 1, 5);
    let delivery = c.int("delivery_rating", input.delivery_rating, 1, 5);
    let engagement = c.int("engagement_rating", input.engagement_rating, 1, 5);
    let overall = c.int("overall_rating", input.overall_rating, 1, 5);
    let comment = c
        .optional_text("comment", input.comment, COMMENT_MAX)
        .flatten();
    c.finish()?;
    let (Some(content), Some(delivery), Some(engagement), Some(overall)) =
        (content, delivery, engagement, overall)
    else {
        return Err(ApiError::field("overall_rating", kernel::form::REQUIRED));
    };
    let (window_days, _) = super::records::windows(&db).await?;
    let ended = session.ended_at.unwrap_or(session.scheduled_end);
    let now = kernel::time::now();
    if now > ended + TimeDelta::days(window_days) {
        return Err(rest::refused(
            format!("Feedback can be given up to {window_days} days after the session ended."),
            "feedback_window_closed",
        ));
    }
    let rating = |v: i64| i32::try_from(v).unwrap_or(1);
    let txn = kernel::db::begin_write(&db).await?;
    // One writer per session: the averages below see every committed row.
    attendance_session::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let exists = session_feedback::Entity::find()
        .filter(session_feedback::Column::SessionId.eq(id))
        .filter(session_feedback::Column::TraineeId.eq(me.id))
        .one(&txn)
        .await?
        .is_some();
    if exists {
        return Err(ApiError::non_field(ALREADY));
    }
    let inserted = session_feedback::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(id),
        trainee_id: Set(me.id),
        content_rating: Set(rating(content)),
        delivery_rating: Set(rating(delivery)),
        engagement_rating: Set(rating(engagement)),
        overall_rating: Set(rating(overall)),
        comment: Set(comment),
        created_at: Set(now),
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(ApiError::non_field(ALREADY));
        }
        Err(e) => return Err(e.into()),
    };
    recompute(&txn, id).await?;
    let entry = Entry::new(&actor, Action::CREATE, "session_feedback", row.id);
    Log::write(
        &txn,
        entry.changes(json!({
            "session": id,
            "content_rating": row.content_rating,
            "delivery_rating": row.delivery_rating,
            "engagement_rating": row.engagement_rating,
            "overall_rating": row.overall_rating,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}
