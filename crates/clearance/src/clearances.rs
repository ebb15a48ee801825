//! `/api/clearances/`: students submit; offices decide through approvals;
//! everyone follows progress (spec §3.3).

use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Money, Page, PageSize};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    ModelTrait, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::entities::{approval, clearance, department, payment, student};
use crate::notify::{Effects, Note};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;
use crate::workflow::{completion_counts, completion_percentage};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clearances, create_clearance))
        .routes(routes!(my_clearances))
        .routes(routes!(clearances_pending_approval))
        .routes(routes!(clearance_statistics))
        .routes(routes!(
            retrieve_clearance,
            update_clearance,
            partial_update_clearance,
            destroy_clearance
        ))
        .routes(routes!(clearance_progress))
}

/// The original's underscore action names.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/clearances/{id}/approval_progress/",
        axum::routing::get(clearance_progress),
    )
}

kernel::gate! {
    /// A student, asking for their own requests; anyone else gets 403.
    pub StudentRequests(user::Model) for AppState = |me| {
        if me.role == Role::Student {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only students have clearance requests."))
        }
    }
}

kernel::gate! {
    /// A student opening a request; anyone else gets 403.
    pub Requester(user::Model) for AppState = |me| {
        if me.role == Role::Student {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only students can create clearance requests."))
        }
    }
}

/// The requests `me` may see: all for administrators and office staff, their
/// own for a student.
impl kernel::Scoped for clearance::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        match me.role {
            Role::Admin | Role::DepartmentStaff => Condition::all(),
            Role::Student => crate::students::own_rows(me.id, clearance::Column::StudentId),
        }
    }

    fn not_found() -> ApiError {
        ApiError::not_found_msg("No ClearanceRequest matches the given query.")
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceListOut {
    pub id: Uuid,
    pub student: Uuid,
    pub student_name: String,
    pub registration_number: String,
    /// pending, in_progress, completed or rejected.
    pub status: String,
    pub submission_date: chrono::DateTime<Utc>,
    pub completion_date: Option<chrono::DateTime<Utc>>,
    pub completion_percentage: f64,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalSummary {
    pub id: Uuid,
    /// The office's name.
    pub department: String,
    pub department_id: Uuid,
    pub department_code: String,
    pub department_type: String,
    pub approval_order: i32,
    pub status: String,
    /// Name of who decided.
    pub approved_by: Option<String>,
    pub approval_date: Option<chrono::DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub notes: String,
    pub has_evidence: bool,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentInfo {
    pub id: Uuid,
    pub amount: Money,
    pub payment_method: String,
    pub transaction_id: Option<String>,
    pub payment_date: Option<chrono::DateTime<Utc>>,
    pub is_verified: bool,
    pub verified_by: Option<Uuid>,
    pub verification_date: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentDepartment {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub approval_order: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceOut {
    pub id: Uuid,
    pub student: Uuid,
    pub student_name: String,
    pub registration_number: String,
    pub status: String,
    pub submission_date: chrono::DateTime<Utc>,
    pub completion_date: Option<chrono::DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub approvals: Vec<ApprovalSummary>,
    pub completion_percentage: f64,
    /// The student's payment, for those who may read it (administrators, the
    /// finance office, the student); otherwise null.
    pub payment_info: Option<PaymentInfo>,
    /// The lowest-order office still to approve (null once completed).
    pub current_department: Option<CurrentDepartment>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

async fn students_with_users<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> ApiResult<HashMap<Uuid, (student::Model, user::Model)>> {
    let rows = student::Entity::find()
        .filter(student::Column::Id.is_in(ids))
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| u.map(|u| (s.id, (s, u))))
        .collect())
}

/// Renders a page of requests with two extra queries, whatever the page size.
async fn list_out<C: ConnectionTrait>(
    db: &C,
    rows: Vec<clearance::Model>,
) -> ApiResult<Vec<ClearanceListOut>> {
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let counts = completion_counts(db, &ids).await?;
    let students = students_with_users(db, rows.iter().map(|c| c.student_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let (approved, total) = counts.get(&c.id).copied().unwrap_or((0, 0));
            let (name, reg) = students
                .get(&c.student_id)
                .map_or((String::new(), String::new()), |(s, u)| {
                    (u.full_name.clone(), s.registration_number.clone())
                });
            ClearanceListOut {
                id: c.id,
                student: c.student_id,
                student_name: name,
                registration_number: reg,
                status: c.status,
                submission_date: c.submission_date,
                completion_date: c.completion_date,
                completion_percentage: completion_percentage(approved, total),
                created_at: c.created_at,
            }
        })
        .collect())
}

/// A request's approvals as its detail and progress show them, ordered by
/// office (approval order, then name): one query, with each office and the
/// name of whoever decided.
async fn steps<C: ConnectionTrait>(db: &C, request_id: Uuid) -> ApiResult<Vec<ApprovalSummary>> {
    let mut rows = approval::Entity::find()
        .filter(approval::Column::ClearanceRequestId.eq(request_id))
        .find_also_related(department::Entity)
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    rows.sort_by(|(a, da, _), (b, db_, _)| {
        let key =
            |d: &Option<department::Model>| d.as_ref().map(|d| (d.approval_order, d.name.clone()));
        key(da).cmp(&key(db_)).then(a.id.cmp(&b.id))
    });
    Ok(rows
        .into_iter()
        .map(|(a, d, decider)| {
            let (name, code, kind, order) = d.map_or_else(
                || (String::new(), String::new(), String::new(), 0),
                |d| (d.name, d.code, d.department_type, d.approval_order),
            );
            ApprovalSummary {
                id: a.id,
                department: name,
                department_id: a.department_id,
                department_code: code,
                department_type: kind,
                approval_order: order,
                status: a.status,
                approved_by: decider.map(|u| u.full_name),
                approval_date: a.approval_date,
                rejection_reason: a.rejection_reason,
                notes: a.notes,
                has_evidence: a.evidence_file.is_some(),
                created_at: a.created_at,
            }
        })
        .collect())
}

/// Loads everything the detail shows to `viewer` (the payment only to those
/// who may read the student's finances).
pub async fn detail<C: ConnectionTrait>(
    db: &C,
    viewer: &user::Model,
    request: clearance::Model,
) -> ApiResult<ClearanceOut> {
    let approvals = steps(db, request.id).await?;
    let student = student::Entity::find_by_id(request.student_id)
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    let (name, reg) = match student {
        Some((s, Some(u))) => (u.full_name, s.registration_number),
        _ => (String::new(), String::new()),
    };
    let payment = payment::Entity::find()
        .filter(payment::Column::StudentId.eq(request.student_id))
        .filter(payment::Entity::scope(viewer))
        .one(db)
        .await?;
    let approved = approvals.iter().filter(|a| a.status == "approved").count() as u64;
    let current = approvals
        .iter()
        .find(|a| a.status != "approved" && !a.department.is_empty())
        .filter(|_| request.status != "completed")
        .map(|a| CurrentDepartment {
            id: a.department_id,
            name: a.department.clone(),
            code: a.department_code.clone(),
            approval_order: a.approval_order,
        });
    let total = approvals.len() as u64;
    Ok(ClearanceOut {
        id: request.id,
        student: request.student_id,
        student_name: name,
        registration_number: reg,
        status: request.status,
        submission_date: request.submission_date,
        completion_date: request.completion_date,
        rejection_reason: request.rejection_reason,
        approvals,
        completion_percentage: completion_percentage(approved, total),
        payment_info: payment.map(|p| PaymentInfo {
            id: p.id,
            amount: Money(p.amount),
            payment_method: p.payment_method,
            transaction_id: p.transaction_id,
            payment_date: p.payment_date,
            is_verified: p.is_verified,
            verified_by: p.verified_by_id,
            verification_date: p.verification_date,
        }),
        current_department: current,
        created_at: request.created_at,
        updated_at: request.updated_at,
    })
}

fn filtered(
    me: &user::Model,
    list: &ListQuery,
    query: Select<clearance::Entity>,
) -> ApiResult<Select<clearance::Entity>> {
    let mut query = list.filter(
        query,
        "status",
        clearance::Column::Status,
        FilterKind::Choice(clearance::STATUSES),
    )?;
    // `?student=` takes a student record's id or, as the original frontend
    // sends, its account's id. A student's list is already their own, so the
    // filter never empties it.
    if let Some(raw) = list.get("student")
        && me.role != Role::Student
    {
        let id = Uuid::parse_str(raw.trim())
            .map_err(|_| ApiError::field("student", "Enter a valid UUID."))?;
        query = query.filter(
            Condition::any()
                .add(clearance::Column::StudentId.eq(id))
                .add(
                    clearance::Column::StudentId.in_subquery(
                        Query::select()
                            .column(student::Column::Id)
                            .from(student::Entity)
                            .and_where(student::Column::UserId.eq(id))
                            .to_owned(),
                    ),
                ),
        );
    }
    if let Some(matching) = crate::students::matching(list) {
        query = query.filter(clearance::Column::StudentId.in_subquery(matching));
    }
    Ok(list.order(
        query,
        &[
            (
                "submission_date",
                clearance::Column::SubmissionDate.into_simple_expr(),
            ),
            (
                "completion_date",
                clearance::Column::CompletionDate.into_simple_expr(),
            ),
            ("status", clearance::Column::Status.into_simple_expr()),
            (
                "created_at",
                clearance::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("submission_date", Order::Desc)],
        clearance::Column::Id,
    ))
}

/// List clearance requests (students: their own). Filters: `status`,
/// `student` (a student record's id or its account's id); search: student
/// name, email, registration number.
#[utoipa::path(get, path = "/api/clearances/", tag = "clearances", security(("jwt" = [])),
    params(("status" = inline(Option<ClearanceStatus>), Query), ("student" = Option<Uuid>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ClearanceListOut>), (status = 401)))]
pub async fn list_clearances(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<ClearanceListOut>>> {
    let query = filtered(&me, &list, clearance::Entity::visible(&me))?;
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let results = list_out(&db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

/// The caller's own requests, newest first (student).
#[utoipa::path(get, path = "/api/clearances/my_clearances/", tag = "clearances", security(("jwt" = [])),
    responses((status = 200, body = Vec<ClearanceListOut>), (status = 401), (status = 403)))]
pub async fn my_clearances(
    Db(db): Db,
    StudentRequests(me): StudentRequests,
) -> ApiResult<Json<Vec<ClearanceListOut>>> {
    let rows = clearance::Entity::visible(&me)
        .order_by(clearance::Column::SubmissionDate, Order::Desc)
        .all(&db)
        .await?;
    Ok(Json(list_out(&db, rows).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingClearancesOut {
    /// The caller's office, or "All Departments" for administrators.
    pub department: String,
    pub pending_count: usize,
    pub clearances: Vec<ClearanceListOut>,
}

/// Requests awaiting the caller's office now (the original's
/// `pending_approvals/`): those with an approval in `/api/approvals/pending/`.
/// Administrators see every office's; staff without an office get 400.
#[utoipa::path(get, path = "/api/clearances/pending_approvals/", tag = "clearances", security(("jwt" = [])),
    responses((status = 200, body = PendingClearancesOut), (status = 400), (status = 401), (status = 403)))]
pub async fn clearances_pending_approval(
    Db(db): Db,
    crate::approvals::Approver(me): crate::approvals::Approver,
) -> ApiResult<Json<PendingClearancesOut>> {
    let department = match (me.role, me.department_id) {
        (Role::DepartmentStaff, None) => {
            return Err(ApiError::bad_request(
                "No department assigned to your account",
            ));
        }
        (Role::DepartmentStaff, Some(office)) => department::Entity::find_by_id(office)
            .one(&db)
            .await?
            .map(|d| d.name)
            .unwrap_or_default(),
        _ => "All Departments".to_owned(),
    };
    let waiting = crate::approvals::decidable_now(approval::Entity::visible(&me))
        .select_only()
        .column(approval::Column::ClearanceRequestId)
        .into_query();
    let rows = clearance::Entity::find()
        .filter(clearance::Column::Id.in_subquery(waiting))
        .order_by(clearance::Column::SubmissionDate, Order::Asc)
        .order_by(clearance::Column::Id, Order::Asc)
        .limit(500)
        .all(&db)
        .await?;
    let clearances = list_out(&db, rows).await?;
    Ok(Json(PendingClearancesOut {
        department,
        pending_count: clearances.len(),
        clearances,
    }))
}

/// Submit a clearance request (student). Creates one pending approval per
/// active office, in one transaction.
#[utoipa::path(post, path = "/api/clearances/", tag = "clearances", security(("jwt" = [])),
    responses((status = 201, body = ClearanceOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_clearance(
    State(state): State<AppState>,
    Db(db): Db,
    Requester(me): Requester,
    ClientIp(ip): ClientIp,
) -> ApiResult<(StatusCode, Json<ClearanceOut>)> {
    let txn = kernel::db::begin_write(&db).await?;
    // The student row is locked so two submissions cannot both pass the checks.
    let record = student::Entity::find()
        .filter(student::Column::UserId.eq(me.id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("You have no student record; ask the registry to create one.")
        })?;
    if record.eligibility_status == "ineligible" {
        return Err(ApiError::field(
            "student_id",
            "Student is not eligible for clearance. Status: Ineligible",
        ));
    }
    let open = clearance::Entity::find()
        .filter(clearance::Column::StudentId.eq(record.id))
        .filter(clearance::Column::Status.is_in(["pending", "in_progress", "completed"]))
        .one(&txn)
        .await?;
    if let Some(open) = open {
        let detail = if open.status == "completed" {
            "Your clearance is already completed."
        } else {
            "You already have a clearance request in progress."
        };
        return Err(ApiError::bad_request(detail));
    }
    let offices = department::Entity::find()
        .filter(department::Column::IsActive.eq(true))
        .order_by(department::Column::ApprovalOrder, Order::Asc)
        .all(&txn)
        .await?;
    if offices.is_empty() {
        return Err(ApiError::bad_request(
            "No clearance offices are active yet; try again later.",
        ));
    }
    let now = kernel::time::now();
    let request = clearance::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(record.id),
        status: Set("pending".into()),
        submission_date: Set(now),
        completion_date: Set(None),
        rejection_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let first_order = offices.first().map_or(0, |d| d.approval_order);
    let mut effects = Effects::new();
    for office in &offices {
        let row = approval::ActiveModel {
            id: Set(Uuid::new_v4()),
            clearance_request_id: Set(request.id),
            department_id: Set(office.id),
            status: Set("pending".into()),
            approved_by_id: Set(None),
            approval_date: Set(None),
            rejection_reason: Set(None),
            notes: Set(format!("Awaiting approval from {}", office.name)),
            evidence_file: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        if office.approval_order == first_order {
            let note = Note {
                title: "Clearance Awaiting Approval",
                message: format!(
                    "{} ({}) submitted a clearance request awaiting your office's decision.",
                    me.full_name, record.registration_number
                ),
                kind: "status_update",
                related: Some(("approval", row.id)),
            };
            effects
                .notify_office(&txn, &state, office.id, &note)
                .await?;
        }
    }
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::CREATE,
        "ClearanceRequest",
        request.id,
        &format!("Clearance request of {}", record.registration_number),
        kernel::audit::created(
            &json!({"student": record.id, "status": "pending", "departments": offices.len()}),
        ),
    )
    .await?;
    let submitted = Note {
        title: "Clearance Request Submitted",
        message: format!(
            "Your clearance request was submitted to {} offices.",
            offices.len()
        ),
        kind: "status_update",
        related: Some(("clearance", request.id)),
    };
    effects.notify(&txn, &state, me.id, &submitted).await?;
    let for_admins = Note {
        title: "New Clearance Request",
        message: format!(
            "{} ({}) submitted a clearance request.",
            me.full_name, record.registration_number
        ),
        kind: "status_update",
        related: Some(("clearance", request.id)),
    };
    effects.notify_admins(&txn, &state, &for_admins).await?;
    let out = detail(&txn, &me, request).await?;
    txn.commit().await?;
    effects.publish(&state);
    Ok((StatusCode::CREATED, Json(out)))
}

/// A request with its approvals, payment and current office.
#[utoipa::path(get, path = "/api/clearances/{id}/", tag = "clearances", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ClearanceOut), (status = 401), (status = 404)))]
pub async fn retrieve_clearance(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<ClearanceOut>> {
    let request = clearance::Entity::find_visible(&db, &me, id).await?;
    Ok(Json(detail(&db, &me, request).await?))
}

kernel::choices!(
    /// Where a clearance request stands.
    pub ClearanceStatus = clearance::STATUSES
);

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClearanceIn {
    /// An administrator's note on the request (its status follows the approvals).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub rejection_reason: Field<String>,
}

async fn write(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<ClearanceIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<ClearanceOut>> {
    // DRF's order: the object (404), then the body (400).
    let existing = clearance::Entity::find_visible(db, &me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::partial(partial);
    let reason = c.optional_text("rejection_reason", input.rejection_reason, 10_000);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let mut model: clearance::ActiveModel = existing.clone().into();
    if let Some(reason) = reason {
        model.rejection_reason = Set(reason);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "ClearanceRequest",
        updated.id,
        &format!("Clearance request {}", updated.id),
        kernel::audit::diff(
            &json!({"rejection_reason": existing.rejection_reason}),
            &json!({"rejection_reason": updated.rejection_reason}),
        ),
    )
    .await?;
    let out = detail(&txn, &me, updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Update a request's administrative note (admin).
#[utoipa::path(put, path = "/api/clearances/{id}/", tag = "clearances", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ClearanceIn,
    responses((status = 200, body = ClearanceOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_clearance(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<ClearanceIn>, ApiError>,
) -> ApiResult<Json<ClearanceOut>> {
    write(&db, me, ip, id, body, false).await
}

/// Partially update a request's administrative note (admin).
#[utoipa::path(patch, path = "/api/clearances/{id}/", tag = "clearances", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ClearanceIn,
    responses((status = 200, body = ClearanceOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_clearance(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<ClearanceIn>, ApiError>,
) -> ApiResult<Json<ClearanceOut>> {
    write(&db, me, ip, id, body, true).await
}

/// Delete a request and its approvals (admin).
#[utoipa::path(delete, path = "/api/clearances/{id}/", tag = "clearances", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_clearance(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = clearance::Entity::find_visible(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
        "ClearanceRequest",
        existing.id,
        &format!("Clearance request {}", existing.id),
        kernel::audit::deleted(&json!({"status": existing.status, "student": existing.student_id})),
    )
    .await?;
    existing.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressStep {
    pub order: i32,
    pub department: String,
    pub department_code: String,
    pub status: String,
    pub approved_by: Option<String>,
    pub approval_date: Option<chrono::DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub notes: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressOut {
    pub clearance_request_id: Uuid,
    pub overall_status: String,
    pub completion_percentage: f64,
    pub total_departments: usize,
    pub approved_count: usize,
    pub pending_count: usize,
    pub rejected_count: usize,
    pub progress: Vec<ProgressStep>,
}

/// Approval progress of a request, office by office in approval order.
#[utoipa::path(get, path = "/api/clearances/{id}/progress/", tag = "clearances", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ProgressOut), (status = 401), (status = 404)))]
pub async fn clearance_progress(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<ProgressOut>> {
    let request = clearance::Entity::find_visible(&db, &me, id).await?;
    let approvals = steps(&db, request.id).await?;
    let count = |status: &str| approvals.iter().filter(|a| a.status == status).count();
    let (approved, total) = (count("approved"), approvals.len());
    Ok(Json(ProgressOut {
        clearance_request_id: request.id,
        overall_status: request.status,
        completion_percentage: completion_percentage(approved as u64, total as u64),
        total_departments: total,
        approved_count: approved,
        pending_count: count("pending"),
        rejected_count: count("rejected"),
        progress: approvals
            .into_iter()
            .map(|a| ProgressStep {
                order: a.approval_order,
                department: a.department,
                department_code: a.department_code,
                status: a.status,
                approved_by: a.approved_by,
                approval_date: a.approval_date,
                rejection_reason: a.rejection_reason,
                notes: a.notes,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceStatistics {
    pub total_requests: u64,
    pub status_breakdown: HashMap<String, u64>,
    pub completion_rate: f64,
}

/// Counts by status (administrators and office staff).
#[utoipa::path(get, path = "/api/clearances/statistics/", tag = "clearances", security(("jwt" = [])),
    responses((status = 200, body = ClearanceStatistics), (status = 401), (status = 403)))]
pub async fn clearance_statistics(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
) -> ApiResult<Json<ClearanceStatistics>> {
    if me.role == Role::Student {
        return Err(ApiError::no_permission());
    }
    let rows: Vec<(String, i64)> = clearance::Entity::find()
        .select_only()
        .column(clearance::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(clearance::Column::Status)
        .into_tuple()
        .all(&db)
        .await?;
    let mut breakdown: HashMap<String, u64> = clearance::STATUSES
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for (status, n) in rows {
        breakdown.insert(status, Ord::max(n, 0) as u64);
    }
    let total: u64 = breakdown.values().sum();
    let completed = breakdown.get("completed").copied().unwrap_or(0);
    Ok(Json(ClearanceStatistics {
        total_requests: total,
        completion_rate: completion_percentage(completed, total),
        status_breakdown: breakdown,
    }))
}
