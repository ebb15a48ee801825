//! Leave requests (contract §3, "Operations"): `leave_requests`.
//!
//! The requester is the caller: a parent for one of their linked children,
//! a student for themself, staff and teachers for themselves (no student).
//! Reviewers hold `leave:write` unscoped. Approving a student's leave marks
//! their attendance `excused` for each school day (Monday to Friday) of the
//! range, in the same transaction.
//!
//! Reads follow `leave:read` (`:own` — the caller's requests and their own
//! student record's; `:children`; `:class`; unscoped — every request).

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use kernel::listing::{FilterKind, ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoSimpleExpr, Order, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::academics::{date, missing};
use crate::Oryne;
use crate::audit::{CREATE, Event, Trail, UPDATE};
use crate::entities::{attendance, leave_request, student};
use crate::envelope::{Data, created, ok};
use crate::rbac::Me;
use crate::state::AppState;

pub const STATUSES: &[&str] = &["pending", "approved", "rejected", "cancelled"];

/// The longest range one request may cover, in days.
const MAX_DAYS: i64 = 366;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_leave_requests, create_leave_request))
        .routes(routes!(retrieve_leave_request))
        .routes(routes!(approve_leave_request))
        .routes(routes!(reject_leave_request))
        .routes(routes!(cancel_leave_request))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaveRequestOut {
    pub id: i64,
    /// The user who asked.
    pub requester: i64,
    /// The student on leave (null: the requester themself, staff or teacher).
    pub student: Option<i64>,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub reason: String,
    /// pending | approved | rejected | cancelled
    pub status: String,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LeaveRequestOut {
    pub fn of(l: &leave_request::Model) -> Self {
        Self {
            id: l.id,
            requester: l.requester_id,
            student: l.student_id,
            from_date: l.from_date,
            to_date: l.to_date,
            reason: l.reason.clone(),
            status: l.status.clone(),
            reviewed_by: l.reviewed_by,
            reviewed_at: l.reviewed_at,
            review_note: l.review_note.clone(),
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

fn snapshot(l: &leave_request::Model) -> Value {
    json!({"requester": l.requester_id, "student": l.student_id, "from_date": l.from_date,
           "to_date": l.to_date, "reason": l.reason, "status": l.status,
           "reviewed_by": l.reviewed_by, "review_note": l.review_note})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LeaveRequestIn {
    /// Student id: a parent names one of their children; a student may omit
    /// it (themself); staff and teachers omit it.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub student: Field<i64>,
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub from_date: Field<String>,
    /// On or after `from_date`.
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub to_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LeaveReviewIn {
    /// The reviewer's note (required to reject; alias `reason`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub note: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reason: Field<String>,
}

/// The requests a caller reads: `None` for every one.
async fn visible(db: &impl ConnectionTrait, me: &Me) -> ApiResult<Option<Condition>> {
    let reach = me.reach("leave", "read")?;
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any().add(leave_request::Column::RequesterId.eq(me.id()));
    if let Some(ids) = super::student_ids(db, me, reach).await?
        && !ids.is_empty()
    {
        any = any.add(leave_request::Column::StudentId.is_in(ids));
    }
    Ok(Some(any))
}

async fn find_visible(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
) -> ApiResult<leave_request::Model> {
    let mut query = leave_request::Entity::find_by_id(id);
    if let Some(cond) = visible(db, me).await? {
        query = query.filter(cond);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

/// The leave requests the caller reaches.
#[utoipa::path(get, path = "/api/v1/erp/leave-requests/", tag = "erp",
    description = "Permission: `leave:read` (every request), `leave:read:own` (the caller's), `:children`, `:class`. Filters `status`, `student`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn list_leave_requests(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, LeaveRequestOut>>> {
    let mut query = leave_request::Entity::find();
    if let Some(cond) = visible(&db, &me).await? {
        query = query.filter(cond);
    }
    query = list.filter(
        query,
        "status",
        leave_request::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "student",
        leave_request::Column::StudentId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "requester",
        leave_request::Column::RequesterId,
        FilterKind::Int,
    )?;
    let query = list.order(
        query,
        &[
            (
                "from_date",
                leave_request::Column::FromDate.into_simple_expr(),
            ),
            (
                "created_at",
                leave_request::Column::CreatedAt.into_simple_expr(),
            ),
            ("status", leave_request::Column::Status.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        leave_request::Column::Id,
    );
    Ok(Json(
        list.page(
            &db,
            query,
            PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(|l| LeaveRequestOut::of(&l)),
    ))
}

/// Asks for leave.
#[utoipa::path(post, path = "/api/v1/erp/leave-requests/", tag = "erp",
    description = "Permission: `leave:write` in any scope: parents (`:children`) for a linked child, students and teachers (`:own`) for themselves.",
    request_body = LeaveRequestIn,
    responses((status = 201, body = inline(Data<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn create_leave_request(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<LeaveRequestIn>,
) -> ApiResult<(StatusCode, Data<LeaveRequestOut>)> {
    let reach = me.reach("leave", "write")?;
    let mut c = Checker::new();
    let student_id = c.nullable(body.student).flatten();
    let from = date(&mut c, "from_date", body.from_date);
    let to = date(&mut c, "to_date", body.to_date);
    let reason = c.text("reason", body.reason, 2000);
    c.finish()?;
    let (Some(from), Some(to), Some(reason)) = (from, to, reason) else {
        return Err(ApiError::non_field("Invalid data."));
    };
    if from > to {
        return Err(ApiError::field(
            "to_date",
            "The end date cannot be before the start date.",
        ));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::field(
            "to_date",
            format!("A request may cover at most {MAX_DAYS} days."),
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let student_id = match student_id {
        Some(id) => {
            if student::Entity::find_by_id(id).one(&*txn).await?.is_none() {
                return Err(missing("student", id));
            }
            if let Some(ids) = super::student_ids(&*txn, &me, reach).await?
                && !ids.contains(&id)
            {
                return Err(ApiError::field(
                    "student",
                    "You may not ask leave for this student.",
                ));
            }
            Some(id)
        }
        None => {
            let own = student::Entity::find()
                .filter(student::Column::UserId.eq(me.id()))
                .one(&*txn)
                .await?;
            match own {
                Some(s) if reach.own || reach.all => Some(s.id),
                None if reach.own || reach.all => None,
                _ => {
                    return Err(ApiError::field(
                        "student",
                        "Name the student the leave is for.",
                    ));
                }
            }
        }
    };
    let now = kernel::time::now();
    let row = leave_request::ActiveModel {
        requester_id: Set(me.id()),
        student_id: Set(student_id),
        from_date: Set(from),
        to_date: Set(to),
        reason: Set(reason),
        status: Set("pending".into()),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        review_note: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "LeaveRequest", row.id)
        .created(&snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(LeaveRequestOut::of(&row)))
}

/// One leave request.
#[utoipa::path(get, path = "/api/v1/erp/leave-requests/{id}/", tag = "erp",
    description = "Permission: a `leave:read` scope; requests outside it are 404.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_leave_request(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<LeaveRequestOut>> {
    Ok(ok(LeaveRequestOut::of(&find_visible(&db, &me, id).await?)))
}

/// The request a reviewer acts on: 404 when the caller cannot see it, 403
/// when they see it without `leave:write`, 409 unless pending.
async fn for_review(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
) -> ApiResult<leave_request::Model> {
    let row = if me.can("leave:write") {
        leave_request::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?
    } else {
        find_visible(db, me, id).await?;
        return Err(ApiError::no_permission());
    };
    if row.status != "pending" {
        return Err(ApiError::Conflict(
            format!(
                "This request is {}; only a pending one can be reviewed.",
                row.status
            )
            .into(),
        ));
    }
    Ok(row)
}

fn note_of(c: &mut Checker, body: LeaveReviewIn) -> Option<String> {
    let field = if body.note.is_absent() {
        body.reason
    } else {
        body.note
    };
    c.optional_text("note", field, 2000).flatten()
}

/// Marks `student_id` excused for every school day from `from` to `to`.
async fn excuse(
    db: &impl ConnectionTrait,
    me: &Me,
    trail: &Trail,
    leave: &leave_request::Model,
    student_id: i64,
) -> ApiResult<()> {
    let Some(pupil) = student::Entity::find_by_id(student_id).one(db).await? else {
        return Ok(());
    };
    let remarks = format!("Leave request #{} approved.", leave.id);
    let now = kernel::time::now();
    let mut day = leave.from_date;
    while day <= leave.to_date {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let existing = attendance::Entity::find()
                .filter(attendance::Column::StudentId.eq(student_id))
                .filter(attendance::Column::Date.eq(day))
                .one(db)
                .await?;
            match existing {
                Some(before) => {
                    let mut row: attendance::ActiveModel = before.clone().into();
                    row.status = Set("excused".into());
                    row.marked_by = Set(Some(me.id()));
                    row.remarks = Set(remarks.clone());
                    row.updated_at = Set(now);
                    let after = row.update(db).await?;
                    Event::new(Some(me.id()), UPDATE, "Attendance", after.id)
                        .diff(
                            &json!({"status": before.status, "remarks": before.remarks, "marked_by": before.marked_by}),
                            &json!({"status": after.status, "remarks": after.remarks, "marked_by": after.marked_by}),
                        )
                        .write(db, trail)
                        .await?;
                }
                None => {
                    let row = attendance::ActiveModel {
                        student_id: Set(student_id),
                        date: Set(day),
                        status: Set("excused".into()),
                        class_name: Set(pupil.class_name.clone()),
                        section: Set(pupil.section.clone()),
                        marked_by: Set(Some(me.id())),
                        remarks: Set(remarks.clone()),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    }
                    .insert(db)
                    .await?;
                    Event::new(Some(me.id()), CREATE, "Attendance", row.id)
                        .created(
                            &json!({"student": student_id, "date": day, "status": "excused",
                                         "class_name": row.class_name, "section": row.section,
                                         "remarks": row.remarks}),
                        )
                        .write(db, trail)
                        .await?;
                }
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    Ok(())
}

async fn review(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: LeaveReviewIn,
    approve: bool,
) -> ApiResult<leave_request::Model> {
    let mut c = Checker::new();
    let note = note_of(&mut c, body);
    if !approve && note.is_none() && !c.has_error("note") {
        c.error("note", "Give a reason for the rejection.");
    }
    let txn = kernel::db::begin_write(db).await?;
    let before = for_review(&*txn, me, id).await?;
    c.finish()?;
    let mut row: leave_request::ActiveModel = before.clone().into();
    row.status = Set(if approve { "approved" } else { "rejected" }.into());
    row.reviewed_by = Set(Some(me.id()));
    row.reviewed_at = Set(Some(kernel::time::now()));
    row.review_note = Set(note.unwrap_or_default());
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "LeaveRequest", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, trail)
        .await?;
    if approve && let Some(student_id) = after.student_id {
        excuse(&*txn, me, trail, &after, student_id).await?;
    }
    txn.commit().await?;
    Ok(after)
}

/// Approves a pending request; a student's school days become `excused`.
#[utoipa::path(post, path = "/api/v1/erp/leave-requests/{id}/approve/", tag = "erp",
    description = "Permission: `leave:write` (unscoped). Only pending requests (else 409). Marks the student's attendance `excused` for each school day of the range.",
    params(("id" = i64, Path)), request_body = LeaveReviewIn,
    responses((status = 200, body = inline(Data<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn approve_leave_request(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<LeaveReviewIn>,
) -> ApiResult<Data<LeaveRequestOut>> {
    let row = review(&me, &trail, &db, id, body, true).await?;
    Ok(ok(LeaveRequestOut::of(&row)))
}

/// Rejects a pending request (a note is required).
#[utoipa::path(post, path = "/api/v1/erp/leave-requests/{id}/reject/", tag = "erp",
    description = "Permission: `leave:write` (unscoped). Body `{note}` (or `reason`) required. Only pending requests (else 409).",
    params(("id" = i64, Path)), request_body = LeaveReviewIn,
    responses((status = 200, body = inline(Data<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn reject_leave_request(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<LeaveReviewIn>,
) -> ApiResult<Data<LeaveRequestOut>> {
    let row = review(&me, &trail, &db, id, body, false).await?;
    Ok(ok(LeaveRequestOut::of(&row)))
}

/// Withdraws the caller's own pending request.
#[utoipa::path(post, path = "/api/v1/erp/leave-requests/{id}/cancel/", tag = "erp",
    description = "The requester only (others who can see it: 403), while pending (else 409).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<LeaveRequestOut>))),
    security(("jwt" = [])))]
pub async fn cancel_leave_request(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<LeaveRequestOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_visible(&*txn, &me, id).await?;
    if before.requester_id != me.id() {
        return Err(ApiError::forbidden(
            "Only the requester can cancel a leave request.",
        ));
    }
    if before.status != "pending" {
        return Err(ApiError::Conflict(
            format!(
                "This request is {}; only a pending one can be cancelled.",
                before.status
            )
            .into(),
        ));
    }
    let mut row: leave_request::ActiveModel = before.clone().into();
    row.status = Set("cancelled".into());
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "LeaveRequest", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(ok(LeaveRequestOut::of(&after)))
}
