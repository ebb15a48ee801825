//! Deletion requests: asking, reviewing, executing (see [`super::erasure`])
//! and cancelling.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    JoinType, Order, QueryFilter, QuerySelect, RelationTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::entities::deletion_request::{self as deletion, APPROVED, PENDING};
use crate::entities::user;
use crate::principal::CurrentUser;
use crate::state::AppState;

use super::erasure::{ErasedOut, complete_erasure};
use super::refuse;

/// A request to erase someone's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionRequestOut {
    pub id: i64,
    /// The account whose data is to be erased.
    pub user: i64,
    pub user_email: String,
    pub requested_at: DateTime<Utc>,
    /// pending, approved, rejected, completed or cancelled.
    pub status: String,
    pub status_display: String,
    pub reason: String,
    pub reviewed_by: Option<i64>,
    pub reviewed_by_email: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub admin_notes: String,
    pub completed_at: Option<DateTime<Utc>>,
    /// Until when the proof of erasure is kept.
    pub retention_until: Option<DateTime<Utc>>,
}

impl DeletionRequestOut {
    fn new(d: deletion::Model, owner: &str, reviewer: Option<String>) -> Self {
        Self {
            id: d.id,
            user: d.user_id,
            user_email: owner.to_owned(),
            requested_at: d.requested_at,
            status_display: deletion::status_display(&d.status).to_owned(),
            status: d.status,
            reason: d.reason,
            reviewed_by: d.reviewed_by,
            reviewed_by_email: reviewer,
            reviewed_at: d.reviewed_at,
            admin_notes: d.admin_notes,
            completed_at: d.completed_at,
            retention_until: d.retention_until,
        }
    }
}

/// Deletion requests, newest first: administrators see those of everyone
/// they reach, others their own. Filter: `status`.
#[utoipa::path(get, path = "/api/popia/deletion-requests/", tag = "popia", security(("jwt" = [])),
    params(("status" = inline(Option<DeletionStatus>), Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<DeletionRequestOut>), (status = 400), (status = 401)))]
pub async fn list_deletion_requests(
    Db(db): Db,
    me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<DeletionRequestOut>>> {
    let mut query = deletion::Entity::find()
        .join(JoinType::InnerJoin, deletion::Relation::User.def())
        .filter(user::Entity::scope(&me));
    query = list.filter(
        query,
        "status",
        deletion::Column::Status,
        FilterKind::Choice(deletion::STATUSES),
    )?;
    let query = list.order(
        query,
        &[(
            "requested_at",
            deletion::Column::RequestedAt.into_simple_expr(),
        )],
        &[("requested_at", Order::Desc)],
        deletion::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    // The owners' and reviewers' addresses, in one query.
    let ids: std::collections::BTreeSet<i64> = page
        .results
        .iter()
        .flat_map(|d| [Some(d.user_id), d.reviewed_by])
        .flatten()
        .collect();
    let emails: std::collections::HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(&db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(Json(page.map(|d| {
        let owner = emails.get(&d.user_id).cloned().unwrap_or_default();
        let reviewer = d.reviewed_by.and_then(|id| emails.get(&id).cloned());
        DeletionRequestOut::new(d, &owner, reviewer)
    })))
}

kernel::choices!(
    /// Where a deletion request stands.
    pub DeletionStatus = deletion::STATUSES
);

/// Why the caller wants their data erased.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeletionRequestIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub reason: Field<String>,
}

/// Ask for everything held about the caller to be erased. One open
/// (pending or approved) request at a time.
#[utoipa::path(post, path = "/api/popia/deletion-requests/create/", tag = "popia", security(("jwt" = [])), request_body = DeletionRequestIn,
    responses((status = 201, body = DeletionRequestOut), (status = 400), (status = 401)))]
pub async fn create_deletion_request(
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<DeletionRequestIn>,
) -> ApiResult<(StatusCode, Json<DeletionRequestOut>)> {
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 2000);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    // The account row serialises requests of one person.
    user::Entity::find_by_id(me.id())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let open = deletion::Entity::find()
        .filter(deletion::Column::UserId.eq(me.id()))
        .filter(deletion::Column::Status.is_in([PENDING, APPROVED]))
        .one(&txn)
        .await?;
    if let Some(open) = open {
        let message = if open.status == PENDING {
            "You already have a pending deletion request"
        } else {
            "Your deletion request has been approved and is awaiting execution"
        };
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            message,
            json!({"request_id": open.id, "requested_at": open.requested_at}),
        ));
    }
    let created = deletion::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        user_id: Set(me.id()),
        status: Set(PENDING.to_owned()),
        reason: Set(reason.flatten().unwrap_or_default()),
        requested_at: Set(kernel::time::now()),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        admin_notes: Set(String::new()),
        completed_at: Set(None),
        deletion_proof: Set(None),
        retention_until: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::CREATE,
        "DataDeletionRequest",
        created.id,
        Some(json!({"status": [null, PENDING], "reason": "changed"})),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(DeletionRequestOut::new(created, &me.0.email, None)),
    ))
}

fn request_not_found() -> ApiError {
    refuse(
        StatusCode::NOT_FOUND,
        "Deletion request not found",
        json!({}),
    )
}

/// The request `id` and its owner, locked for the rest of `txn`, if the
/// reviewer may act on it: not their own, and an account they reach.
async fn reviewable<C: ConnectionTrait>(
    txn: &C,
    me: &CurrentUser,
    id: i64,
) -> ApiResult<(deletion::Model, user::Model)> {
    let request = deletion::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(request_not_found)?;
    let owner = user::Entity::find_by_id(request.user_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(request_not_found)?;
    if !me.can_reach(&owner) {
        return Err(request_not_found());
    }
    if owner.id == me.id() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "You cannot review your own deletion request",
            json!({}),
        ));
    }
    Ok((request, owner))
}

kernel::gate! {
    /// Who reviews and executes deletion requests: administrators and
    /// superusers; others get the original's 403.
    pub Reviewer(Current<user::Model>) for AppState = |me| {
        if me.is_staff() {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::FORBIDDEN,
                "Only admins can review deletion requests",
                json!({}),
            ))
        }
    }
}

const REVIEW_ACTIONS: &[&str] = &["approve", "reject"];

kernel::choices!(
    /// A reviewer's decision.
    pub ReviewAction = REVIEW_ACTIONS
);

/// A decision on a deletion request.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReviewIn {
    /// approve or reject.
    #[serde(default)]
    #[schema(value_type = ReviewAction, required = true)]
    pub action: Field<String>,
    /// Required when rejecting: the reason given to the person.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    pub notes: Field<String>,
}

/// Approve or reject a pending request (administrators and superusers, never
/// on their own request). Approval erases nothing yet.
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/review/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)), request_body = ReviewIn,
    responses((status = 200, body = DeletionRequestOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn review_deletion_request(
    State(state): State<AppState>,
    Db(db): Db,
    Reviewer(me): Reviewer,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<ReviewIn>, ApiError>,
) -> ApiResult<Json<DeletionRequestOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    // DRF's order: the object (404, or 403 on one's own), then the body (400).
    let (request, owner) = reviewable(&txn, &me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::new();
    let action = c.choice("action", input.action, REVIEW_ACTIONS);
    let notes = c.optional_text("notes", input.notes, 2000).flatten();
    if action.as_deref() == Some("reject") && notes.is_none() {
        c.error(
            "notes",
            "Rejection reason is required when rejecting a deletion request.",
        );
    }
    c.finish()?;
    let status = match action.as_deref() {
        Some("approve") => APPROVED,
        _ => deletion::REJECTED,
    };
    if request.status != PENDING {
        return Err(already(&request.status));
    }
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(status.to_owned());
    model.reviewed_by = Set(Some(me.id()));
    model.reviewed_at = Set(Some(kernel::time::now()));
    model.admin_notes = Set(notes.unwrap_or_default());
    let saved = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "DataDeletionRequest",
        saved.id,
        Some(json!({"status": [PENDING, status], "admin_notes": "changed"})),
    )
    .await?;
    let (subject, body) = decision_email(&owner, &saved);
    let queued = crate::email::queue(&txn, &state, &owner.email, &subject, &body).await?;
    txn.commit().await?;
    crate::email::wake(&state, queued);
    Ok(Json(DeletionRequestOut::new(
        saved,
        &owner.email,
        Some(me.0.email.clone()),
    )))
}

fn already(status: &str) -> ApiError {
    let message = match status {
        APPROVED => "Request is already approved",
        deletion::REJECTED => "Request is already rejected",
        deletion::COMPLETED => "Request is already completed",
        deletion::CANCELLED => "Request is already cancelled",
        _ => "Request is already pending",
    };
    refuse(StatusCode::BAD_REQUEST, message, json!({}))
}

fn decision_email(owner: &user::Model, request: &deletion::Model) -> (String, String) {
    let greeting = format!("Hello {},", owner.first_name.trim());
    if request.status == APPROVED {
        (
            "Your data deletion request was approved".to_owned(),
            format!(
                "{greeting}\n\nYour request to delete your personal data from PSS was approved. \
                 Your data will be erased shortly; you will receive a last message when it is done.\n"
            ),
        )
    } else {
        (
            "Your data deletion request was not approved".to_owned(),
            format!(
                "{greeting}\n\nYour request to delete your personal data from PSS was not approved.\n\n\
                 Reason: {}\n\nYou may contact the PSS administrators or submit a new request.\n",
                request.admin_notes
            ),
        )
    }
}

/// Erase the data of an approved request's account, in one transaction,
/// keeping a proof record for two years (administrators and superusers,
/// never on their own request).
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/execute/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ErasedOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn execute_deletion_request(
    State(state): State<AppState>,
    Db(db): Db,
    Reviewer(me): Reviewer,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<ErasedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let (request, owner) = reviewable(&txn, &me, id).await?;
    if request.status != APPROVED {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Only approved requests can be executed",
            json!({}),
        ));
    }
    let farewell = format!(
        "Hello {},\n\nAs you asked, your personal data has been erased from PSS and your \
         account closed. A record that the erasure took place (without your personal data) \
         is kept for two years, as the law requires.\n",
        owner.first_name.trim()
    );
    // Its one audit row, the erasure of the account, names the request too.
    let (_, proof, queued) = complete_erasure(
        &txn,
        &state,
        request,
        &owner,
        Some(Actor::user(me.id(), ip)),
        &farewell,
    )
    .await?;
    txn.commit().await?;
    crate::email::wake(&state, queued);
    Ok(Json(ErasedOut {
        message: "User data deleted successfully".to_owned(),
        deletion_summary: proof,
    }))
}

/// Withdraw one's own pending request.
#[utoipa::path(post, path = "/api/popia/deletion-requests/{id}/cancel/", tag = "popia", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = DeletionRequestOut), (status = 400), (status = 401), (status = 404)))]
pub async fn cancel_deletion_request(
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<DeletionRequestOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let request = deletion::Entity::find_by_id(id)
        .filter(deletion::Column::UserId.eq(me.id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(request_not_found)?;
    if request.status != PENDING {
        return Err(already(&request.status));
    }
    let mut model: deletion::ActiveModel = request.into();
    model.status = Set(deletion::CANCELLED.to_owned());
    let saved = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "DataDeletionRequest",
        saved.id,
        Some(json!({"status": [PENDING, deletion::CANCELLED]})),
    )
    .await?;
    txn.commit().await?;
    // Only pending requests are cancelled, and those nobody reviewed yet.
    Ok(Json(DeletionRequestOut::new(saved, &me.0.email, None)))
}
