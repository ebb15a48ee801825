//! `GET /api/reports/attendance/…`: the report kinds, as JSON or as a file.

use axum::extract::State;
use axum::response::Response;
use kernel::extract::Query;
use kernel::{ApiError, Current, Db, Id};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::build::{Report, compute};
use super::export::{Format, Letterhead, ReportFormat, respond};
use super::kinds::{self, Kind};
use crate::access::Me;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trainee_report))
        .routes(routes!(class_group_report))
        .routes(routes!(course_report))
        .routes(routes!(trainer_report))
        .routes(routes!(programme_report))
        .routes(routes!(department_report))
        .routes(routes!(school_report))
}

/// The filters every report takes (each kind reads those it names), and
/// the file format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Only sessions of this term.
    #[param(value_type = Option<Uuid>)]
    pub term: Option<String>,
    /// First day (school time), `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    pub date_from: Option<String>,
    /// Last day (school time), `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    pub date_to: Option<String>,
    /// Trainee report: one trainee (adds their `sessions`).
    #[param(value_type = Option<Uuid>)]
    pub trainee: Option<String>,
    /// Trainee and course reports: one class group.
    #[param(value_type = Option<Uuid>)]
    pub class_group: Option<String>,
    /// Trainee, class group and trainer reports: one course.
    #[param(value_type = Option<Uuid>)]
    pub course: Option<String>,
    /// A file instead of JSON: `json`, `csv`, `xlsx` or `pdf`.
    #[param(value_type = Option<ReportFormat>, inline)]
    pub format: Option<String>,
    /// Alias of `format`.
    #[param(value_type = Option<ReportFormat>, inline)]
    pub export: Option<String>,
}

impl ReportParams {
    fn get(&self, name: &str) -> Option<String> {
        match name {
            "term" => self.term.clone(),
            "date_from" => self.date_from.clone(),
            "date_to" => self.date_to.clone(),
            "trainee" => self.trainee.clone(),
            "class_group" => self.class_group.clone(),
            "course" => self.course.clone(),
            _ => None,
        }
    }
}

async fn serve(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &crate::entities::user::Model,
    kind: Kind,
    subject: Option<Uuid>,
    params: &ReportParams,
) -> Result<Response, ApiError> {
    let format = Format::of_query(params.format.as_deref(), params.export.as_deref(), None)?;
    let spec = kinds::parse(db, kind, subject, &|name| params.get(name)).await?;
    let report = compute(db, me, &spec).await?;
    let tz = crate::timetable::engine::school_timezone(db).await?;
    let letterhead = if format == Some(Format::Pdf) {
        Letterhead::of(state, db).await?
    } else {
        Letterhead::default()
    };
    respond(report, format, &letterhead, tz)
}

/// Attendance per trainee and course (filters `trainee`, `class_group`,
/// `course`): staff see the trainees of the enrollments they reach, a
/// trainee only their own rows (another trainee → 403).
#[utoipa::path(get, path = "/api/reports/attendance/trainees/", tag = "reports", security(("jwt" = [])),
    params(ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))),
        (status = 400), (status = 401), (status = 403)))]
pub async fn trainee_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::Trainee, None, &params).await
}

/// Attendance of one class group, per course enrolled (filter `course`).
#[utoipa::path(get, path = "/api/reports/attendance/class-groups/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn class_group_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::ClassGroup, Some(id), &params).await
}

/// Attendance of one course, per enrollment (filter `class_group`).
#[utoipa::path(get, path = "/api/reports/attendance/courses/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn course_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::Course, Some(id), &params).await
}

/// One trainer's sessions and how they kept to them (filter `course`); a
/// trainer reads their own only.
#[utoipa::path(get, path = "/api/reports/attendance/trainers/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn trainer_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::Trainer, Some(id), &params).await
}

/// A programme's attendance per class group (HOD: own department; admin,
/// deputy principal).
#[utoipa::path(get, path = "/api/reports/attendance/programmes/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn programme_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::Programme, Some(id), &params).await
}

/// A department's attendance per programme (HOD: own department; admin,
/// deputy principal).
#[utoipa::path(get, path = "/api/reports/attendance/departments/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path), ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn department_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::Department, Some(id), &params).await
}

/// The school's attendance per department (admin, deputy principal).
#[utoipa::path(get, path = "/api/reports/attendance/school/", tag = "reports", security(("jwt" = [])),
    params(ReportParams),
    responses((status = 200, description = "The report as JSON, or the file `format` asks for.", content((Report = "application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("application/pdf"))), (status = 400), (status = 401), (status = 403)))]
pub async fn school_report(
    State(state): State<AppState>,
    Db(db): Db,
    Current(me): Me,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    serve(&state, &db, &me, Kind::School, None, &params).await
}
