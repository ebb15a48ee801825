//! `/api/approvals/`: each office's decision on each request (spec §3.4).

use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::upload::{FileKind, FormBody};
use kernel::{ApiError, ApiResult, FilterKind, Id, Json, Page, PageSize};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    ModelTrait, Order, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::clearances::ClearanceStatus;
use crate::entities::user::{self, Role};
use crate::entities::{approval, clearance, department, student};
use crate::notify::Effects;
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;
use crate::workflow::{self, Decision};

/// Evidence files may be at most 5 MB (spec §2.5).
pub const EVIDENCE_MAX_BYTES: usize = 5 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_approvals, create_approval))
        .routes(routes!(pending_approvals))
        .routes(routes!(approvals_by_department))
        .routes(routes!(my_approvals))
        .routes(routes!(approval_statistics))
        .routes(routes!(bulk_approve))
        .routes(routes!(
            retrieve_approval,
            update_approval,
            partial_update_approval,
            destroy_approval
        ))
        .routes(routes!(approve_approval))
        .routes(routes!(reject_approval))
        .routes(routes!(approve_reject))
        .routes(routes!(approval_evidence))
        .routes(routes!(department_approvals))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentInfo {
    pub id: Uuid,
    pub full_name: String,
    pub email: String,
    pub admission_number: Option<String>,
    pub registration_number: String,
    pub faculty: String,
    pub program: String,
    pub graduation_year: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalOut {
    pub id: Uuid,
    pub clearance_request: Uuid,
    pub clearance_status: String,
    pub student_name: String,
    pub registration_number: String,
    pub student_info: Option<StudentInfo>,
    /// The office's name (what the original staff UI shows).
    pub department: String,
    pub department_id: Uuid,
    pub department_name: String,
    pub department_code: String,
    pub department_type: String,
    pub approval_order: i32,
    /// pending, approved or rejected.
    pub status: String,
    pub approved_by: Option<Uuid>,
    pub approved_by_name: Option<String>,
    pub approval_date: Option<chrono::DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub notes: String,
    /// Where to download the evidence, if any.
    pub evidence_file: Option<String>,
    /// When the request was submitted.
    pub submitted_date: chrono::DateTime<Utc>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

/// Renders approvals with a fixed number of queries, whatever their count.
pub async fn render<C: ConnectionTrait>(
    db: &C,
    rows: Vec<approval::Model>,
) -> ApiResult<Vec<ApprovalOut>> {
    let request_ids: Vec<Uuid> = rows.iter().map(|a| a.clearance_request_id).collect();
    let requests: HashMap<Uuid, clearance::Model> = clearance::Entity::find()
        .filter(clearance::Column::Id.is_in(request_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let student_ids: Vec<Uuid> = requests.values().map(|c| c.student_id).collect();
    let students: HashMap<Uuid, (student::Model, user::Model)> = student::Entity::find()
        .filter(student::Column::Id.is_in(student_ids))
        .find_also_related(user::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(s, u)| u.map(|u| (s.id, (s, u))))
        .collect();
    let office_ids: Vec<Uuid> = rows.iter().map(|a| a.department_id).collect();
    let offices: HashMap<Uuid, department::Model> = department::Entity::find()
        .filter(department::Column::Id.is_in(office_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let deciders =
        crate::users::by_id(db, rows.iter().filter_map(|a| a.approved_by_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|a| {
            let request = requests.get(&a.clearance_request_id);
            let student = request.and_then(|r| students.get(&r.student_id));
            let office = offices.get(&a.department_id);
            let decider = a
                .approved_by_id
                .and_then(|id| deciders.get(&id))
                .map(|u| u.full_name.clone());
            approval_out(a, request, student, office, decider)
        })
        .collect())
}

/// One approval as the API shows it, from its request, student (with
/// account), office and the name of whoever decided.
fn approval_out(
    a: approval::Model,
    request: Option<&clearance::Model>,
    student: Option<&(student::Model, user::Model)>,
    office: Option<&department::Model>,
    decider: Option<String>,
) -> ApprovalOut {
    ApprovalOut {
        id: a.id,
        clearance_request: a.clearance_request_id,
        clearance_status: request.map(|r| r.status.clone()).unwrap_or_default(),
        student_name: student
            .map(|(_, u)| u.full_name.clone())
            .unwrap_or_default(),
        registration_number: student
            .map(|(s, _)| s.registration_number.clone())
            .unwrap_or_default(),
        student_info: student.map(|(s, u)| StudentInfo {
            id: s.id,
            full_name: u.full_name.clone(),
            email: u.email.clone(),
            admission_number: u.admission_number.clone(),
            registration_number: s.registration_number.clone(),
            faculty: s.faculty.clone(),
            program: s.program.clone(),
            graduation_year: s.graduation_year,
        }),
        department: office.map(|d| d.name.clone()).unwrap_or_default(),
        department_id: a.department_id,
        department_name: office.map(|d| d.name.clone()).unwrap_or_default(),
        department_code: office.map(|d| d.code.clone()).unwrap_or_default(),
        department_type: office
            .map(|d| d.department_type.clone())
            .unwrap_or_default(),
        approval_order: office.map_or(0, |d| d.approval_order),
        status: a.status,
        approved_by: a.approved_by_id,
        approved_by_name: decider,
        approval_date: a.approval_date,
        rejection_reason: a.rejection_reason,
        notes: a.notes,
        evidence_file: a
            .evidence_file
            .as_ref()
            .map(|_| format!("/api/approvals/{}/evidence/", a.id)),
        submitted_date: request.map_or(a.created_at, |r| r.submission_date),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

async fn render_one<C: ConnectionTrait>(db: &C, row: approval::Model) -> ApiResult<ApprovalOut> {
    render(db, vec![row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No ClearanceApproval matches the given query.")
}

kernel::gate! {
    /// Someone who decides approvals: an administrator or office staff (who
    /// act on their own office's only); students get 403.
    pub Approver(user::Model) for AppState = |me| crate::workflow::may_approve(me)
}

/// Only approvals whose lower-order offices have all approved, on requests
/// still open.
pub(crate) fn decidable_now(query: Select<approval::Entity>) -> Select<approval::Entity> {
    let a2 = "a2".into_iden();
    let d2 = "d2".into_iden();
    let blocking = Query::select()
        .expr(Expr::val(1))
        .from_as(approval::Entity, a2.clone())
        .join_as(
            sea_orm::sea_query::JoinType::InnerJoin,
            department::Entity,
            d2.clone(),
            Expr::col((d2.clone(), department::Column::Id))
                .equals((a2.clone(), approval::Column::DepartmentId)),
        )
        .and_where(
            Expr::col((a2.clone(), approval::Column::ClearanceRequestId))
                .equals((approval::Entity, approval::Column::ClearanceRequestId)),
        )
        .and_where(Expr::col((a2, approval::Column::Status)).ne("approved"))
        .and_where(
            Expr::col((d2, department::Column::ApprovalOrder)).lt(Expr::col((
                department::Entity,
                department::Column::ApprovalOrder,
            ))),
        )
        .to_owned();
    let open_requests = Query::select()
        .column(clearance::Column::Id)
        .from(clearance::Entity)
        .and_where(clearance::Column::Status.is_in(["pending", "in_progress"]))
        .to_owned();
    query
        .inner_join(department::Entity)
        .filter(approval::Column::Status.eq("pending"))
        .filter(approval::Column::ClearanceRequestId.in_subquery(open_requests))
        .filter(Expr::exists(blocking).not())
}

const STATUSES: &[&str] = &["pending", "approved", "rejected"];

kernel::choices!(
    /// An office's decision on a clearance request.
    pub ApprovalStatus = STATUSES
);

fn filtered(
    list: &ListQuery,
    mut query: Select<approval::Entity>,
) -> ApiResult<Select<approval::Entity>> {
    query = list.filter(
        query,
        "status",
        approval::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "department",
        approval::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "clearance_request",
        approval::Column::ClearanceRequestId,
        FilterKind::Uuid,
    )?;
    if let Some(status) = list
        .get("clearance_status")
        .or_else(|| list.get("clearance_request__status"))
    {
        if !clearance::STATUSES.contains(&status) {
            return Err(ApiError::field(
                "clearance_status",
                format!("Select a valid choice. {status} is not one of the available choices."),
            ));
        }
        let requests = Query::select()
            .column(clearance::Column::Id)
            .from(clearance::Entity)
            .and_where(clearance::Column::Status.eq(status))
            .to_owned();
        query = query.filter(approval::Column::ClearanceRequestId.in_subquery(requests));
    }
    if let Some(matching) = crate::students::matching(list) {
        let requests = Query::select()
            .column(clearance::Column::Id)
            .from(clearance::Entity)
            .and_where(clearance::Column::StudentId.in_subquery(matching))
            .to_owned();
        query = query.filter(approval::Column::ClearanceRequestId.in_subquery(requests));
    }
    Ok(list.order(
        query,
        &[
            ("created_at", approval::Column::CreatedAt.into_simple_expr()),
            (
                "approval_date",
                approval::Column::ApprovalDate.into_simple_expr(),
            ),
            ("status", approval::Column::Status.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        approval::Column::Id,
    ))
}

async fn page_out(
    db: &sea_orm::DatabaseConnection,
    list: &ListQuery,
    query: Select<approval::Entity>,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    let page = list.page(db, query, PageSize::DEFAULT).await?;
    let results = render(db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

/// List approvals: an office's staff see their office's, administrators all.
/// Filters: `status`, `department`, `clearance_request`, `clearance_status`.
#[utoipa::path(get, path = "/api/approvals/", tag = "approvals", security(("jwt" = [])),
    params(("status" = inline(Option<ApprovalStatus>), Query), ("department" = Option<Uuid>, Query), ("clearance_request" = Option<Uuid>, Query),
           ("clearance_status" = inline(Option<ClearanceStatus>), Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ApprovalOut>), (status = 401), (status = 403)))]
pub async fn list_approvals(
    Db(db): Db,
    Approver(me): Approver,
    list: ListQuery,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    let query = filtered(&list, approval::Entity::visible(&me))?;
    page_out(&db, &list, query).await
}

/// Approvals are created with their clearance request, never directly.
#[utoipa::path(post, path = "/api/approvals/", tag = "approvals", security(("jwt" = [])), responses((status = 405)))]
pub async fn create_approval(kernel::Current(_me): CurrentUser) -> Response {
    let mut response = ApiError::MethodNotAllowed {
        method: "POST".into(),
    }
    .into_response();
    response.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET, HEAD"),
    );
    response
}

/// Approvals the caller's office can decide now (administrators: every office).
#[utoipa::path(get, path = "/api/approvals/pending/", tag = "approvals", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ApprovalOut>), (status = 401), (status = 403)))]
pub async fn pending_approvals(
    Db(db): Db,
    Approver(me): Approver,
    list: ListQuery,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    let query = decidable_now(approval::Entity::visible(&me));
    let query = list.order(query, &[], &[], approval::Column::CreatedAt);
    page_out(&db, &list, query).await
}

/// Approvals of one office (`?department=<id>`); staff only for their own office.
#[utoipa::path(get, path = "/api/approvals/by-department/", tag = "approvals", security(("jwt" = [])),
    params(("department" = Option<Uuid>, Query, description = "The office; defaults to the caller's own, so administrators must give it."),
           ("status" = inline(Option<ApprovalStatus>), Query), ("clearance_request" = Option<Uuid>, Query),
           ("clearance_status" = inline(Option<ClearanceStatus>), Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ApprovalOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn approvals_by_department(
    Db(db): Db,
    Approver(me): Approver,
    list: ListQuery,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    let office = match list.get("department") {
        Some(raw) => Uuid::parse_str(raw.trim())
            .map_err(|_| ApiError::field("department", "Enter a valid UUID."))?,
        None => me
            .department_id
            .ok_or_else(|| ApiError::field("department", "This query parameter is required."))?,
    };
    if me.role == Role::DepartmentStaff && me.department_id != Some(office) {
        return Err(ApiError::forbidden(
            "You can only view approvals of your own department.",
        ));
    }
    let query = filtered(
        &list,
        approval::Entity::visible(&me).filter(approval::Column::DepartmentId.eq(office)),
    )?;
    page_out(&db, &list, query).await
}

/// Approvals of one office (`/api/departments/{id}/approvals/`).
#[utoipa::path(get, path = "/api/departments/{id}/approvals/", tag = "departments", security(("jwt" = [])),
    params(("id" = Uuid, Path), ("status" = inline(Option<ApprovalStatus>), Query), ("clearance_request" = Option<Uuid>, Query),
           ("clearance_status" = inline(Option<ClearanceStatus>), Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ApprovalOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn department_approvals(
    Db(db): Db,
    Approver(me): Approver,
    Id(id): Id,
    list: ListQuery,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    department::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No Department matches the given query."))?;
    if me.role == Role::DepartmentStaff && me.department_id != Some(id) {
        return Err(ApiError::forbidden(
            "You can only view approvals of your own department.",
        ));
    }
    let query = filtered(
        &list,
        approval::Entity::visible(&me).filter(approval::Column::DepartmentId.eq(id)),
    )?;
    page_out(&db, &list, query).await
}

/// Approvals the caller decided.
#[utoipa::path(get, path = "/api/approvals/my_approvals/", tag = "approvals", security(("jwt" = [])),
    params(("status" = inline(Option<ApprovalStatus>), Query), ("department" = Option<Uuid>, Query), ("clearance_request" = Option<Uuid>, Query),
           ("clearance_status" = inline(Option<ClearanceStatus>), Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ApprovalOut>), (status = 401), (status = 403)))]
pub async fn my_approvals(
    Db(db): Db,
    Approver(me): Approver,
    list: ListQuery,
) -> ApiResult<Json<Page<ApprovalOut>>> {
    let query = filtered(
        &list,
        approval::Entity::visible(&me).filter(approval::Column::ApprovedById.eq(me.id)),
    )?;
    page_out(&db, &list, query).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalStatistics {
    /// The office's name, or "All Departments" for administrators.
    pub department: String,
    pub total_approvals: u64,
    pub pending_count: u64,
    pub approved_count: u64,
    pub rejected_count: u64,
    pub approval_rate: f64,
    pub average_approval_time_hours: Option<f64>,
}

/// Decision counts for the caller's office (administrators: all offices).
#[utoipa::path(get, path = "/api/approvals/statistics/", tag = "approvals", security(("jwt" = [])),
    responses((status = 200, body = ApprovalStatistics), (status = 401), (status = 403)))]
pub async fn approval_statistics(
    Db(db): Db,
    Approver(me): Approver,
) -> ApiResult<Json<ApprovalStatistics>> {
    let scope = approval::Entity::visible(&me);
    let backend = db.get_database_backend();
    let seconds = kernel::db::seconds_between(backend, "created_at", "approval_date");
    let row: Option<(i64, i64, i64, Option<f64>)> = scope
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(
            Expr::cust("COUNT(CASE WHEN status = 'pending' THEN 1 END)"),
            "pending",
        )
        .column_as(
            Expr::cust("COUNT(CASE WHEN status = 'rejected' THEN 1 END)"),
            "rejected",
        )
        .column_as(
            Expr::cust(kernel::db::cast_float(
                backend,
                &format!("AVG(CASE WHEN status = 'approved' THEN {seconds} END)"),
            )),
            "avg_seconds",
        )
        .into_tuple()
        .one(&db)
        .await?;
    let (total, pending, rejected, avg) = row.unwrap_or((0, 0, 0, None));
    let total = Ord::max(total, 0) as u64;
    let pending = Ord::max(pending, 0) as u64;
    let rejected = Ord::max(rejected, 0) as u64;
    let approved = total - pending - rejected;
    let department = match (me.role, me.department_id) {
        (Role::DepartmentStaff, Some(id)) => department::Entity::find_by_id(id)
            .one(&db)
            .await?
            .map(|d| d.name)
            .unwrap_or_default(),
        _ => "All Departments".to_owned(),
    };
    Ok(Json(ApprovalStatistics {
        department,
        total_approvals: total,
        pending_count: pending,
        approved_count: approved,
        rejected_count: rejected,
        approval_rate: workflow::completion_percentage(approved, total),
        average_approval_time_hours: avg.map(|s| (s / 36.0).round() / 100.0),
    }))
}

/// One approval.
#[utoipa::path(get, path = "/api/approvals/{id}/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ApprovalOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_approval(
    Db(db): Db,
    Approver(me): Approver,
    Id(id): Id,
) -> ApiResult<Json<ApprovalOut>> {
    let row = approval::Entity::find_visible(&db, &me, id).await?;
    Ok(Json(render_one(&db, row).await?))
}

/// `notes` and an `evidence_file` (multipart; PDF, PNG or JPEG up to 5 MB).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ApprovalUpdateIn {
    notes: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    evidence_file: Option<Vec<u8>>,
}

async fn write(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<ApprovalOut>> {
    // DRF's order: the object (404), then the body (400).
    let existing = approval::Entity::find_visible(db, &me, id).await?;
    let body = body?;
    let mut errors = kernel::FieldErrors::new();
    let notes = match body.fields.get("notes") {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.trim().to_owned()),
        Some(serde_json::Value::Null) => Some(String::new()),
        Some(_) => {
            errors.add("notes", "Not a valid string.");
            None
        }
    };
    let clear_evidence = matches!(
        body.fields.get("evidence_file"),
        Some(serde_json::Value::Null)
    );
    let upload = match body.files.get("evidence_file") {
        Some(file) => match file.validate(EVIDENCE_MAX_BYTES) {
            Ok(kind) => Some((file.bytes.clone(), kind)),
            Err(message) => {
                errors.add("evidence_file", message);
                None
            }
        },
        None => {
            if matches!(
                body.fields.get("evidence_file"),
                Some(serde_json::Value::String(_))
            ) {
                errors.add(
                    "evidence_file",
                    "The submitted data was not a file. Check the encoding type on the form.",
                );
            }
            None
        }
    };
    errors.into_result()?;
    let stored = match &upload {
        Some((bytes, kind)) => Some(
            state
                .storage
                .save("evidence", bytes, *kind)
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let txn = kernel::db::begin_write(db).await?;
    let mut model: approval::ActiveModel = existing.clone().into();
    if let Some(notes) = notes {
        model.notes = Set(notes);
    }
    if let Some(name) = &stored {
        model.evidence_file = Set(Some(name.clone()));
    } else if clear_evidence {
        model.evidence_file = Set(None);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await;
    let updated = match updated {
        Ok(updated) => updated,
        Err(e) => {
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            return Err(e.into());
        }
    };
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "ClearanceApproval",
        updated.id,
        &format!("Approval {}", updated.id),
        kernel::audit::diff(
            &json!({"notes": existing.notes, "evidence_file": existing.evidence_file.is_some()}),
            &json!({"notes": updated.notes, "evidence_file": updated.evidence_file.is_some()}),
        ),
    )
    .await?;
    let out = render_one(&txn, updated.clone()).await?;
    txn.commit().await?;
    if let Some(old) = existing
        .evidence_file
        .filter(|old| Some(old) != updated.evidence_file.as_ref())
    {
        state.storage.delete(&old).await;
    }
    Ok(Json(out))
}

/// Update notes and attach evidence (the office's staff or an administrator).
#[utoipa::path(put, path = "/api/approvals/{id}/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body(content = ApprovalUpdateIn, content_type = "multipart/form-data"),
    responses((status = 200, body = ApprovalOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_approval(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<ApprovalOut>> {
    write(&state, &db, me, ip, id, body).await
}

/// Same as PUT: only the fields given change.
#[utoipa::path(patch, path = "/api/approvals/{id}/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body(content = ApprovalUpdateIn, content_type = "multipart/form-data"),
    responses((status = 200, body = ApprovalOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_approval(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<ApprovalOut>> {
    write(&state, &db, me, ip, id, body).await
}

/// Delete an approval (admin); the request's status is recomputed.
#[utoipa::path(delete, path = "/api/approvals/{id}/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_approval(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = approval::Entity::find_visible(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let request = clearance::Entity::find_by_id(existing.clearance_request_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
        "ClearanceApproval",
        existing.id,
        &format!("Approval {}", existing.id),
        kernel::audit::deleted(
            &json!({"status": existing.status, "department": existing.department_id}),
        ),
    )
    .await?;
    let evidence = existing.evidence_file.clone();
    existing.delete(&txn).await?;
    let mut effects = Effects::new();
    workflow::refresh_request(&txn, &state, &mut effects, request, None).await?;
    txn.commit().await?;
    effects.publish(&state);
    if let Some(name) = evidence {
        state.storage.delete(&name).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An approval, with an optional note.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ApproveIn {
    pub notes: Option<String>,
}

/// A rejection and why.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RejectIn {
    #[schema(schema_with = reason, required = true)]
    pub rejection_reason: Option<String>,
    /// The original frontend's name for `rejection_reason`.
    #[schema(ignore)]
    pub reason: Option<String>,
    pub notes: Option<String>,
}

const ACTIONS: &[&str] = &["approve", "reject"];

kernel::choices!(
    /// What to do with an approval.
    pub DecisionAction = ACTIONS
);

/// `approve`, or `reject` with a `rejection_reason`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DecisionIn {
    #[schema(value_type = DecisionAction, required = true)]
    pub action: Option<String>,
    pub notes: Option<String>,
    /// Required to reject.
    #[schema(value_type = Option<String>)]
    pub rejection_reason: Option<String>,
    /// The original frontend's name for `rejection_reason`.
    #[schema(ignore)]
    pub reason: Option<String>,
}

/// Not blank.
fn reason() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::non_blank()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOut {
    pub message: String,
    pub approval: ApprovalOut,
}

fn decision_from(action: &str, input: DecisionIn) -> ApiResult<Decision> {
    let notes = input
        .notes
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    match action {
        "approve" => Ok(Decision::Approve { notes }),
        "reject" => Ok(Decision::Reject {
            reason: workflow::rejection_reason(input.rejection_reason, input.reason)?,
            notes,
        }),
        other => Err(ApiError::field(
            "action",
            format!("\"{other}\" is not a valid choice."),
        )),
    }
}

async fn decide_one(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    decision: Decision,
) -> ApiResult<Json<DecisionOut>> {
    let txn = kernel::db::begin_write(db).await?;
    let mut effects = Effects::new();
    let decided = workflow::decide(&txn, state, &mut effects, me, ip, id, decision).await?;
    txn.commit().await?;
    // Rendered from what the decision read: `me` decided it.
    let out = approval_out(
        decided.approval.clone(),
        Some(&decided.clearance),
        decided.student.as_ref(),
        Some(&decided.office),
        Some(me.full_name.clone()),
    );
    effects.publish(state);
    let message = match (
        decided.approval.status.as_str(),
        decided.clearance.status.as_str(),
    ) {
        ("approved", "completed") => {
            "Approved! All departments have cleared this student.".to_owned()
        }
        ("approved", _) => format!("Approved! {} department(s) remaining.", decided.remaining),
        _ => "Rejected. Clearance request has been rejected.".to_owned(),
    };
    Ok(Json(DecisionOut {
        message,
        approval: out,
    }))
}

/// Approve (the office's staff or an administrator). Lower-order offices must
/// have approved; finance offices also need a clear balance and a verified fee.
#[utoipa::path(post, path = "/api/approvals/{id}/approve/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ApproveIn,
    responses((status = 200, body = DecisionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn approve_approval(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<ApproveIn>, ApiError>,
) -> ApiResult<Json<DecisionOut>> {
    approval::Entity::find_visible(&db, &me, id).await?;
    let Json(input) = body?;
    let input = DecisionIn {
        notes: input.notes,
        ..DecisionIn::default()
    };
    decide_one(&state, &db, &me, ip, id, decision_from("approve", input)?).await
}

/// Reject with a `rejection_reason` (the office's staff or an administrator).
#[utoipa::path(post, path = "/api/approvals/{id}/reject/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = RejectIn,
    responses((status = 200, body = DecisionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn reject_approval(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<RejectIn>, ApiError>,
) -> ApiResult<Json<DecisionOut>> {
    approval::Entity::find_visible(&db, &me, id).await?;
    let Json(input) = body?;
    let input = DecisionIn {
        action: None,
        notes: input.notes,
        rejection_reason: input.rejection_reason,
        reason: input.reason,
    };
    decide_one(&state, &db, &me, ip, id, decision_from("reject", input)?).await
}

/// Approve or reject by `action` (the original frontend's endpoint).
#[utoipa::path(post, path = "/api/approvals/{id}/approve_reject/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = DecisionIn,
    responses((status = 200, body = DecisionOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn approve_reject(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<DecisionIn>, ApiError>,
) -> ApiResult<Json<DecisionOut>> {
    approval::Entity::find_visible(&db, &me, id).await?;
    let Json(input) = body?;
    let action = input
        .action
        .clone()
        .ok_or_else(|| ApiError::field("action", kernel::form::REQUIRED))?;
    decide_one(&state, &db, &me, ip, id, decision_from(&action, input)?).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkIn {
    /// 1 to 500 approvals the caller may decide.
    #[schema(min_items = 1, max_items = 500)]
    pub approval_ids: Vec<Uuid>,
    /// `approve` (default) or `reject`.
    #[schema(value_type = Option<DecisionAction>)]
    pub action: Option<String>,
    pub notes: Option<String>,
    /// Required to reject.
    pub rejection_reason: Option<String>,
    /// The original frontend's name for `rejection_reason`.
    #[schema(ignore)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOut {
    pub message: String,
    pub success_count: usize,
    pub failed_count: usize,
    pub errors: Vec<serde_json::Value>,
}

/// Decide several approvals at once: all of them or, on any problem, none.
#[utoipa::path(post, path = "/api/approvals/bulk_approve/", tag = "approvals", security(("jwt" = [])), request_body = BulkIn,
    responses((status = 200, body = BulkOut), (status = 400), (status = 401), (status = 403)))]
pub async fn bulk_approve(
    State(state): State<AppState>,
    Db(db): Db,
    Approver(me): Approver,
    ClientIp(ip): ClientIp,
    Json(input): Json<BulkIn>,
) -> ApiResult<Json<BulkOut>> {
    let mut ids = input.approval_ids.clone();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(ApiError::field(
            "approval_ids",
            "This list may not be empty.",
        ));
    }
    if ids.len() > 500 {
        return Err(ApiError::field(
            "approval_ids",
            "Ensure this field has no more than 500 elements.",
        ));
    }
    let action = input.action.clone().unwrap_or_else(|| "approve".to_owned());
    let decision = decision_from(
        &action,
        DecisionIn {
            action: None,
            notes: input.notes.clone(),
            rejection_reason: input.rejection_reason.clone(),
            reason: input.reason.clone(),
        },
    )?;
    let visible = approval::Entity::visible(&me)
        .filter(approval::Column::Id.is_in(ids.clone()))
        .count(&db)
        .await?;
    if visible != ids.len() as u64 {
        return Err(ApiError::field(
            "approval_ids",
            "Some approval IDs are invalid",
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut effects = Effects::new();
    for id in &ids {
        let decision = match &decision {
            Decision::Approve { notes } => Decision::Approve {
                notes: notes.clone().or_else(|| Some("Bulk approved".into())),
            },
            other => other.clone(),
        };
        if let Err(error) =
            workflow::decide(&txn, &state, &mut effects, &me, ip, *id, decision).await
        {
            // Nothing is applied: the transaction is dropped, rolling back.
            return Err(match error {
                ApiError::BadRequest { detail, .. } => {
                    ApiError::bad_request(format!("Approval {id}: {detail}"))
                }
                other => other,
            });
        }
    }
    txn.commit().await?;
    effects.publish(&state);
    Ok(Json(BulkOut {
        message: format!("Bulk {action} completed"),
        success_count: ids.len(),
        failed_count: 0,
        errors: Vec::new(),
    }))
}

/// Download an approval's evidence (its office, administrators, the student).
#[utoipa::path(get, path = "/api/approvals/{id}/evidence/", tag = "approvals", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The file, as an attachment"), (status = 401), (status = 404)))]
pub async fn approval_evidence(
    State(state): State<AppState>,
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Response> {
    // Those who see the approval (its office, administrators) and the
    // student whose request it is (who sees the request).
    let row = match me.role {
        Role::Student => {
            let row = approval::Entity::find_by_id(id)
                .one(&db)
                .await?
                .ok_or_else(not_found)?;
            clearance::Entity::find_visible(&db, &me, row.clearance_request_id)
                .await
                .map_err(|_| not_found())?;
            row
        }
        Role::Admin | Role::DepartmentStaff => approval::Entity::find_visible(&db, &me, id).await?,
    };
    let name = row.evidence_file.ok_or_else(not_found)?;
    let kind = FileKind::from_extension(&name).ok_or_else(not_found)?;
    let bytes = state.storage.read(&name).await.map_err(|_| not_found())?;
    Ok(kernel::upload::attachment(
        bytes,
        kind,
        &format!("evidence-{id}.{}", kind.extension()),
    ))
}

use sea_orm::PaginatorTrait;
