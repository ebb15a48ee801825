//! Stored reports (contract §7, the spec's `BaseReport` family): `POST
//! /api/reports/ {report_type, filters}` queues one (202), the
//! `roster.reports.build` job computes it as its requester would see it,
//! stores `{summary, data}`, marks it `ready` (or `failed` with `error`) and
//! notifies the requester; `GET /api/reports/` (own; admin all), `GET
//! /{id}/`, `GET /{id}/download/?format=…`, `DELETE /{id}/`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::extract::Query;
use kernel::listing::{FilterKind, ListOf, Page};
use kernel::{ApiError, ApiResult, Current, Db, FieldErrors, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::BUILD_JOB;
use super::build::{Report, authorize, compute};
use super::export::{Format, Letterhead, ReportFormat};
use super::kinds::{self, Kind, Spec};
use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{report, user};
use crate::notify::{self, Kind as NoteKind, Note};
use crate::rest::PAGE;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, create_report))
        .routes(routes!(retrieve_report, destroy_report))
        .routes(routes!(download_report))
}

/// A stored report's states.
pub const STATUSES: &[&str] = &["pending", "ready", "failed"];

kernel::choices!(
    /// Where a stored report is.
    pub ReportStatusChoice = STATUSES
);

/// A stored report.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredOut {
    pub id: Uuid,
    pub report_type: String,
    #[schema(value_type = Object)]
    pub filters: Value,
    /// `pending`, `ready` or `failed`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Value>,
    /// The whole report (`{report_type, generated_at, filters, summary,
    /// columns, rows}`) once ready.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    pub error: Option<String>,
    pub requested_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn parsed(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

impl From<report::Model> for StoredOut {
    fn from(r: report::Model) -> Self {
        Self {
            id: r.id,
            report_type: r.report_type,
            filters: parsed(Some(&r.filters)).unwrap_or_else(|| json!({})),
            status: r.status,
            summary: parsed(r.summary.as_deref()),
            data: parsed(r.data.as_deref()),
            error: r.error,
            requested_by: r.requested_by,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

/// What `POST /api/reports/` takes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StoredIn {
    /// `trainee`, `class_group`, `course`, `trainer`, `programme`,
    /// `department` or `school`.
    #[serde(default)]
    #[schema(value_type = super::kinds::ReportTypeChoice, required = true)]
    pub report_type: Option<Value>,
    /// `{term?, date_from?, date_to?, trainee?, class_group?, course?}` and,
    /// for a kind about one subject, its id under the kind's name
    /// (`class_group`, `course`, `trainer`, `programme`, `department`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
}

/// Reads `report_type` and `filters` of a body: field errors on either.
pub async fn spec_of(
    db: &impl ConnectionTrait,
    report_type: Option<&Value>,
    filters: Option<&Value>,
) -> Result<Spec, ApiError> {
    let kind = match report_type {
        None | Some(Value::Null) => {
            return Err(ApiError::field("report_type", kernel::form::REQUIRED));
        }
        Some(Value::String(s)) => Kind::parse(s).ok_or_else(|| {
            ApiError::field("report_type", format!("\"{s}\" is not a valid choice."))
        })?,
        Some(_) => return Err(ApiError::field("report_type", "Not a valid string.")),
    };
    let empty = serde_json::Map::new();
    let map = match filters {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ApiError::field(
                "filters",
                "Expected a dictionary of items but got type \"list\".",
            ));
        }
    };
    let get = |name: &str| match map.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    kinds::parse(db, kind, None, &get)
        .await
        .map_err(|e| match e {
            // The filters' problems, keyed under `filters`.
            ApiError::Validation(errors) => {
                let mut out = FieldErrors::new();
                if let Value::Object(fields) = errors.to_json() {
                    for (field, messages) in fields {
                        for message in messages.as_array().into_iter().flatten() {
                            let message = message.as_str().unwrap_or_default();
                            out.add("filters", format!("{field}: {message}"));
                        }
                    }
                }
                ApiError::Validation(out)
            }
            other => other,
        })
}

/// `authorize` for a body: an unknown or unreachable subject is the body's
/// error, not a 404.
pub async fn check_access(
    db: &impl ConnectionTrait,
    me: &user::Model,
    spec: &Spec,
) -> Result<(), ApiError> {
    authorize(db, me, spec).await.map_err(|e| match e {
        ApiError::NotFound(_) => {
            let field = spec.kind.subject_field().unwrap_or("filters");
            let raw = spec.subject.map(|s| s.to_string()).unwrap_or_default();
            let mut out = FieldErrors::new();
            out.add(
                "filters",
                format!("{field}: {}", crate::rest::invalid_pk(&raw)),
            );
            ApiError::Validation(out)
        }
        other => other,
    })
}

/// The id and state of a queued report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub id: Uuid,
    /// `pending`.
    pub status: String,
}

/// Queue a report (any signed-in user, for what they may read): 202 `{id,
/// status:"pending"}`; the requester is notified when it is ready.
#[utoipa::path(post, path = "/api/reports/", tag = "reports", security(("jwt" = [])),
    request_body = StoredIn,
    responses((status = 202, body = Queued), (status = 400), (status = 401), (status = 403)))]
pub async fn create_report(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    body: Result<Json<StoredIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let Json(input) = body?;
    let spec = spec_of(&db, input.report_type.as_ref(), input.filters.as_ref()).await?;
    check_access(&db, &me, &spec).await?;
    let now = kernel::time::now();
    let filters = spec.filters_json();
    let txn = kernel::db::begin_write(&db).await?;
    let row = report::ActiveModel {
        id: Set(Uuid::new_v4()),
        report_type: Set(spec.kind.as_str().to_owned()),
        filters: Set(filters.to_string()),
        status: Set("pending".into()),
        summary: Set(None),
        data: Set(None),
        error: Set(None),
        requested_by: Set(me.id),
        created_at: Set(now),
        completed_at: Set(None),
    }
    .insert(&txn)
    .await?;
    kernel::jobs::enqueue(&txn, BUILD_JOB, json!({"report_id": row.id})).await?;
    let entry = Entry::new(&actor, Action::CREATE, "report", row.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(
            &json!({"report_type": row.report_type, "filters": filters}),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            id: row.id,
            status: row.status,
        }),
    ))
}

/// The reports a caller reaches: their own; an administrator's, all.
fn scope(me: &user::Model) -> Condition {
    if me.role() == Role::Admin {
        Condition::all()
    } else {
        Condition::all().add(report::Column::RequestedBy.eq(me.id))
    }
}

async fn visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<report::Model> {
    report::Entity::find_by_id(id)
        .filter(scope(me))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The caller's reports (an administrator: everyone's), newest first.
/// Filters `status`, `report_type`; ordering `created_at`, `status`.
#[utoipa::path(get, path = "/api/reports/", tag = "reports", security(("jwt" = [])),
    params(("status" = inline(Option<ReportStatusChoice>), Query), ("report_type" = inline(Option<super::kinds::ReportTypeChoice>), Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<StoredOut>), (status = 400), (status = 401)))]
pub async fn list_reports(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<StoredOut>>> {
    let mut query = report::Entity::find().filter(scope(&me));
    query = list.filter(
        query,
        "status",
        report::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "report_type",
        report::Column::ReportType,
        FilterKind::Choice(Kind::CHOICES),
    )?;
    let query = list.order(
        query,
        &[
            ("created_at", report::Column::CreatedAt.into_simple_expr()),
            ("status", report::Column::Status.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        report::Column::Id,
    );
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
        results: results.into_iter().map(StoredOut::from).collect(),
    }))
}

/// One stored report (own; admin any).
#[utoipa::path(get, path = "/api/reports/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = StoredOut), (status = 401), (status = 404)))]
pub async fn retrieve_report(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<StoredOut>> {
    Ok(Json(visible(&db, &me, id).await?.into()))
}

/// Remove a stored report (own; admin any).
#[utoipa::path(delete, path = "/api/reports/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn destroy_report(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = visible(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let deleted = report::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action::DELETE, "report", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&json!({
            "report_type": existing.report_type, "status": existing.status,
        }))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?format=` of a download.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// `pdf` (default), `csv`, `xlsx` or `json`.
    #[param(value_type = Option<ReportFormat>, inline)]
    pub format: Option<String>,
    /// Alias of `format`.
    #[param(value_type = Option<ReportFormat>, inline)]
    pub export: Option<String>,
}

/// A ready report as a file (own; admin any); not ready yet → 400
/// `report_not_ready`.
#[utoipa::path(get, path = "/api/reports/{id}/download/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), DownloadParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content(("application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 404)))]
pub async fn download_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<DownloadParams>,
) -> Result<Response, ApiError> {
    let format = Format::of_query(
        params.format.as_deref(),
        params.export.as_deref(),
        Some(Format::Pdf),
    )?
    .unwrap_or(Format::Pdf);
    let row = visible(&db, &me, id).await?;
    let report: Report = match (row.status.as_str(), row.data.as_deref()) {
        ("ready", Some(data)) => serde_json::from_str(data).map_err(ApiError::internal)?,
        _ => {
            return Err(crate::rest::refused(
                "This report is not ready yet.",
                "report_not_ready",
            ));
        }
    };
    let tz = crate::timetable::engine::school_timezone(&db).await?;
    let letterhead = if format == Format::Pdf {
        Letterhead::of(&state, &db).await?
    } else {
        Letterhead::default()
    };
    Ok(super::export::render(&report, format, &letterhead, tz)?.into_response())
}

/// What a refusal says, for a failed report's `error`.
pub fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Validation(errors) => errors.to_json().to_string(),
        ApiError::BadRequest { detail, .. }
        | ApiError::PermissionDenied(detail)
        | ApiError::NotFound(detail) => detail.to_string(),
        _ => "The report could not be built.".to_owned(),
    }
}

/// Whether `error` is the server's fault (the job is retried) rather than
/// the report's (it fails).
pub fn is_fault(error: &ApiError) -> bool {
    error.status().is_server_error()
}

/// The `roster.reports.build` job.
pub async fn run(state: AppState, payload: Value) -> Result<(), String> {
    let id = payload
        .get("report_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or("report_id missing")?;
    let db = &state.kernel.db;
    let Some(row) = report::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if row.status != "pending" {
        return Ok(());
    }
    let requester = user::Entity::find_by_id(row.requested_by)
        .one(db)
        .await
        .map_err(|e| e.to_string())?;
    let filters: Value = serde_json::from_str(&row.filters).unwrap_or_else(|_| json!({}));
    let outcome = match requester {
        None => Err("The requester no longer exists.".to_owned()),
        Some(me) => {
            let built = async {
                let spec = spec_of(db, Some(&json!(row.report_type)), Some(&filters)).await?;
                compute(db, &me, &spec).await
            }
            .await;
            match built {
                Ok(report) => Ok(report),
                Err(e) if is_fault(&e) => return Err(describe(&e)),
                Err(e) => Err(describe(&e)),
            }
        }
    };
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db)
        .await
        .map_err(|e| e.to_string())?;
    let mut update = report::Entity::update_many()
        .col_expr(report::Column::CompletedAt, Expr::value(Some(now)))
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::Status.eq("pending"));
    let (title, message) = match &outcome {
        Ok(report) => {
            let data = serde_json::to_string(report).map_err(|e| e.to_string())?;
            let summary = Value::Object(report.summary.clone()).to_string();
            update = update
                .col_expr(report::Column::Status, Expr::value("ready"))
                .col_expr(report::Column::Summary, Expr::value(Some(summary)))
                .col_expr(report::Column::Data, Expr::value(Some(data)));
            (
                "Your report is ready",
                format!(
                    "The {} report you asked for is ready to download.",
                    row.report_type.replace('_', " ")
                ),
            )
        }
        Err(error) => {
            update = update
                .col_expr(report::Column::Status, Expr::value("failed"))
                .col_expr(report::Column::Error, Expr::value(Some(error.clone())));
            (
                "Your report failed",
                format!(
                    "The {} report you asked for could not be built: {error}",
                    row.report_type.replace('_', " ")
                ),
            )
        }
    };
    let done = update.exec(&txn).await.map_err(|e| e.to_string())?;
    if done.rows_affected == 1 {
        let note = Note::new(NoteKind::Report, title, &message)
            .about("report", id)
            .action(format!("/api/reports/{id}/"));
        notify::send(&txn, [row.requested_by], &note)
            .await
            .map_err(|e| e.to_string())?;
        let status = if outcome.is_ok() { "ready" } else { "failed" };
        let system = Actor::system();
        let entry = Entry::new(&system, Action("build"), "report", id);
        Log::write(&txn, entry.changes(json!({"status": [row.status, status]})))
            .await
            .map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    Ok(())
}
