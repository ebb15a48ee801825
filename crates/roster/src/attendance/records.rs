//! Attendance records (contract §5, **AttendanceRecord** and **Excuses**):
//! `/api/attendance/records/` (alias `/api/attendance/sessions/{id}/records/`),
//! the trainer's or HOD's manual override, the check-in photo, and the
//! trainee's excuse with its document and its review.
//!
//! Reads are scoped through the session: a trainee sees their own records,
//! a trainer those of their sessions, a HOD those of their department's
//! sessions, admin and the deputy principal all of them.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page};
use kernel::upload::{FileKind, FormBody, UploadedFile};
use kernel::{ApiError, ApiResult, Checker, Current, Db, Field, FilterKind, Id, Json};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoSimpleExpr, Order,
    QueryFilter, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{RecordStatus, SessionStatus};
use crate::Roster;
use crate::access::{Me, Role};
use crate::audit::Log;
use crate::entities::{attendance_record, attendance_session, profile, user};
use crate::notify::{self, Kind, Note};
use crate::rest::{self, PAGE, round2};
use crate::state::AppState;

/// Where a record's excuse is.
const EXCUSE_STATUSES: &[&str] = &["none", "pending", "approved", "rejected"];

kernel::choices!(
    /// A record's status.
    pub RecordStatusChoice = RecordStatus::CHOICES
);

kernel::choices!(
    /// Where a record's excuse is.
    pub ExcuseStatusChoice = EXCUSE_STATUSES
);

/// The largest excuse document (5 MB).
const DOCUMENT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// How long after a session ends its trainer may still correct records.
const TRAINER_OVERRIDE_HOURS: i64 = 48;
const EXCUSE_REASON_MAX: usize = 1000;
const OVERRIDE_REASON_MAX: usize = 1000;
const COMMENT_MAX: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_records))
        .routes(routes!(retrieve_record, partial_update_record))
        .routes(routes!(record_image))
        .routes(routes!(request_excuse))
        .routes(routes!(excuse_document))
        .routes(routes!(review_excuse))
}

/// `/api/attendance/sessions/{id}/records/`: the records of one session.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route(
        "/api/attendance/sessions/{id}/records/",
        get(session_records),
    )
}

/// The windows (in days) the attendance settings give feedback and
/// excuses.
pub(crate) async fn windows(db: &impl ConnectionTrait) -> Result<(i64, i64), DbErr> {
    let s = super::settings::load(db).await?;
    Ok((
        i64::from(s.feedback_window_days),
        i64::from(s.excuse_window_days),
    ))
}

/// One trainee's record of one session as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    pub id: Uuid,
    pub session: Uuid,
    pub trainee: Uuid,
    pub trainee_name: String,
    pub admission_number: Option<String>,
    /// `present`, `late`, `absent`, `excused` or `pending`.
    pub status: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub distance_m: Option<f64>,
    pub location_verified: bool,
    pub face_distance: Option<f64>,
    pub face_verified: bool,
    pub failed_attempts: i32,
    pub marked_by_system: bool,
    pub manual_override: bool,
    pub marked_by: Option<Uuid>,
    pub override_reason: Option<String>,
    pub excuse_reason: Option<String>,
    /// Where the excuse document is downloaded, when there is one.
    pub excuse_document: Option<String>,
    /// `none`, `pending`, `approved` or `rejected`.
    pub excuse_status: String,
    pub excuse_reviewed_by: Option<Uuid>,
    pub excuse_reviewed_at: Option<DateTime<Utc>>,
    pub excuse_comment: Option<String>,
}

impl RecordOut {
    /// `rows` as shown, with names and admission numbers in two queries.
    pub async fn many(
        db: &impl ConnectionTrait,
        rows: Vec<attendance_record::Model>,
    ) -> Result<Vec<Self>, DbErr> {
        let ids: HashSet<Uuid> = rows.iter().map(|r| r.trainee_id).collect();
        let users: HashMap<Uuid, user::Model> =
            super::by_id::<user::Entity>(db, ids.clone(), user::Column::Id).await?;
        let mut numbers: HashMap<Uuid, String> = HashMap::new();
        let ids: Vec<Uuid> = ids.into_iter().collect();
        for chunk in ids.chunks(500) {
            for p in profile::Entity::find()
                .filter(profile::Column::UserId.is_in(chunk.iter().copied()))
                .all(db)
                .await?
            {
                if let Some(n) = p.admission_number {
                    numbers.insert(p.user_id, n);
                }
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| Self {
                id: r.id,
                session: r.session_id,
                trainee: r.trainee_id,
                trainee_name: users
                    .get(&r.trainee_id)
                    .map(user::Model::full_name)
                    .unwrap_or_default(),
                admission_number: numbers.get(&r.trainee_id).cloned(),
                status: r.status,
                checked_in_at: r.checked_in_at,
                latitude: r.latitude,
                longitude: r.longitude,
                distance_m: r.distance_m.map(round2),
                location_verified: r.location_verified,
                face_distance: r.face_distance,
                face_verified: r.face_verified,
                failed_attempts: r.failed_attempts,
                marked_by_system: r.marked_by_system,
                manual_override: r.manual_override,
                marked_by: r.marked_by,
                override_reason: r.override_reason,
                excuse_reason: r.excuse_reason,
                excuse_document: r
                    .excuse_document
                    .as_ref()
                    .map(|_| format!("/api/attendance/records/{}/excuse/document/", r.id)),
                excuse_status: r.excuse_status,
                excuse_reviewed_by: r.excuse_reviewed_by,
                excuse_reviewed_at: r.excuse_reviewed_at,
                excuse_comment: r.excuse_comment,
            })
            .collect())
    }

    pub async fn one(db: &impl ConnectionTrait, row: attendance_record::Model) -> ApiResult<Self> {
        Self::many(db, vec![row])
            .await?
            .pop()
            .ok_or_else(ApiError::not_found)
    }
}

/// The records `me` may read, as a condition on `roster_attendance_records`
/// (`extra`: further conditions on their sessions).
async fn scope(
    db: &impl ConnectionTrait,
    me: &user::Model,
    extra: Condition,
) -> Result<Condition, DbErr> {
    let mut sessions = Condition::all().add(extra);
    if let Some(readable) = super::readable(db, me).await? {
        sessions = sessions.add(readable);
    }
    let sub = Query::select()
        .column(attendance_session::Column::Id)
        .from(attendance_session::Entity)
        .cond_where(sessions)
        .to_owned();
    let mut out = Condition::all().add(attendance_record::Column::SessionId.in_subquery(sub));
    if me.role() == Role::Trainee {
        out = out.add(attendance_record::Column::TraineeId.eq(me.id));
    }
    Ok(out)
}

/// A record `me` can read with its session (404 otherwise).
async fn visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<(attendance_record::Model, attendance_session::Model)> {
    let record = attendance_record::Entity::find_by_id(id)
        .filter(scope(db, me, Condition::all()).await?)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let session = attendance_session::Entity::find_by_id(record.session_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((record, session))
}

/// The first instant of `date` in the school's timezone.
pub(crate) async fn day_start(
    db: &impl ConnectionTrait,
    date: NaiveDate,
) -> Result<DateTime<Utc>, DbErr> {
    let tz = crate::timetable::engine::school_timezone(db).await?;
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    Ok(tz
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)))
}

/// A `?name=YYYY-MM-DD` parameter (400 keyed by the parameter when bad).
pub(crate) fn date_param(list: &ListOf<Roster>, name: &str) -> ApiResult<Option<NaiveDate>> {
    list.get(name)
        .map(|raw| {
            rest::parse_date(raw.trim()).ok_or_else(|| {
                ApiError::field(
                    name,
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                )
            })
        })
        .transpose()
}

/// The session-side filters `course`, `class_group`, `trainer`,
/// `date_from`, `date_to` (dates in school time, on `scheduled_start`).
pub(crate) async fn session_filters(
    db: &impl ConnectionTrait,
    list: &ListOf<Roster>,
    with_trainer: bool,
) -> ApiResult<Condition> {
    let mut c = Condition::all();
    let mut names = vec![
        ("course", attendance_session::Column::CourseId),
        ("class_group", attendance_session::Column::ClassGroupId),
    ];
    if with_trainer {
        names.push(("trainer", attendance_session::Column::TrainerId));
    }
    for (name, column) in names {
        if let Some(raw) = list.get(name) {
            let id = Uuid::parse_str(raw.trim())
                .map_err(|_| ApiError::field(name, "Enter a valid UUID."))?;
            c = c.add(column.eq(id));
        }
    }
    if let Some(from) = date_param(list, "date_from")? {
        c = c.add(attendance_session::Column::ScheduledStart.gte(day_start(db, from).await?));
    }
    if let Some(to) = date_param(list, "date_to")? {
        let next = to.checked_add_days(Days::new(1)).unwrap_or(to);
        c = c.add(attendance_session::Column::ScheduledStart.lt(day_start(db, next).await?));
    }
    Ok(c)
}

fn filtered(
    list: &ListOf<Roster>,
    mut query: Select<attendance_record::Entity>,
) -> ApiResult<Select<attendance_record::Entity>> {
    query = list.filter(
        query,
        "session",
        attendance_record::Column::SessionId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "trainee",
        attendance_record::Column::TraineeId,
        FilterKind::Uuid,
    )?;
    query = list.filter(
        query,
        "status",
        attendance_record::Column::Status,
        FilterKind::Choice(RecordStatus::CHOICES),
    )?;
    query = list.filter(
        query,
        "excuse_status",
        attendance_record::Column::ExcuseStatus,
        FilterKind::Choice(EXCUSE_STATUSES),
    )?;
    Ok(list.order(
        query,
        &[
            (
                "checked_in_at",
                attendance_record::Column::CheckedInAt.into_simple_expr(),
            ),
            (
                "status",
                attendance_record::Column::Status.into_simple_expr(),
            ),
            (
                "created_at",
                attendance_record::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("created_at", Order::Desc)],
        attendance_record::Column::Id,
    ))
}

async fn list(
    db: &impl ConnectionTrait,
    me: &user::Model,
    list: &ListOf<Roster>,
    extra: Condition,
) -> ApiResult<Json<Page<RecordOut>>> {
    let sessions = session_filters(db, list, false).await?.add(extra);
    let query = filtered(
        list,
        attendance_record::Entity::find().filter(scope(db, me, sessions).await?),
    )?;
    let Page {
        count,
        next,
        previous,
        results,
    } = list.page(db, query, PAGE).await?;
    Ok(Json(Page {
        count,
        next,
        previous,
        results: RecordOut::many(db, results).await?,
    }))
}

/// The records the caller can read (trainee: own; trainer: of own
/// sessions; HOD: of their department's sessions; admin, deputy
/// principal: all). Filters `session`, `trainee`, `status`, `course`,
/// `class_group`, `excuse_status`, `date_from`, `date_to`; ordering
/// `checked_in_at`, `status`, `created_at` (default newest first).
#[utoipa::path(get, path = "/api/attendance/records/", tag = "attendance", security(("jwt" = [])),
    params(("session" = Option<Uuid>, Query), ("trainee" = Option<Uuid>, Query),
           ("status" = inline(Option<RecordStatusChoice>), Query), ("course" = Option<Uuid>, Query),
           ("class_group" = Option<Uuid>, Query), ("excuse_status" = inline(Option<ExcuseStatusChoice>), Query),
           ("date_from" = Option<NaiveDate>, Query), ("date_to" = Option<NaiveDate>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<RecordOut>), (status = 400), (status = 401)))]
pub async fn list_records(
    Db(db): Db,
    Current(me): Me,
    query: ListOf<Roster>,
) -> ApiResult<Json<Page<RecordOut>>> {
    list(&db, &me, &query, Condition::all()).await
}

/// The records of one session the caller can read (404 for a session they
/// cannot read).
pub async fn session_records(
    Db(db): Db,
    Current(me): Me,
    Path(raw): Path<String>,
    query: ListOf<Roster>,
) -> ApiResult<Json<Page<RecordOut>>> {
    let id = Uuid::parse_str(&raw).map_err(|_| ApiError::not_found())?;
    let mut found = attendance_session::Entity::find_by_id(id);
    if let Some(c) = super::readable(&db, &me).await? {
        found = found.filter(c);
    }
    found.one(&db).await?.ok_or_else(ApiError::not_found)?;
    list(
        &db,
        &me,
        &query,
        Condition::all().add(attendance_session::Column::Id.eq(id)),
    )
    .await
}

/// One record the caller can read (404 otherwise).
#[utoipa::path(get, path = "/api/attendance/records/{id}/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordOut), (status = 401), (status = 404)))]
pub async fn retrieve_record(
    Db(db): Db,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Json<RecordOut>> {
    let (record, _) = visible(&db, &me, id).await?;
    Ok(Json(RecordOut::one(&db, record).await?))
}

/// A manual correction of a record.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OverrideIn {
    /// `present`, `late`, `absent` or `excused`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub status: Field<String>,
    /// Why (kept on the record and in the audit log).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Field<String>,
}

/// Whether `me` may correct the records of `session` now: its trainer while
/// it is active or up to 48 h after it ended; the HOD of its department,
/// admin and the deputy principal at any time.
async fn may_override(
    db: &impl ConnectionTrait,
    me: &user::Model,
    session: &attendance_session::Model,
) -> Result<bool, DbErr> {
    match me.role() {
        Role::Trainee => Ok(false),
        Role::Trainer => {
            if session.trainer_id != Some(me.id) {
                return Ok(false);
            }
            let now = kernel::time::now();
            Ok(match SessionStatus::parse(&session.status) {
                Some(SessionStatus::Active) => true,
                Some(SessionStatus::Completed) => session
                    .ended_at
                    .is_some_and(|end| now <= end + TimeDelta::hours(TRAINER_OVERRIDE_HOURS)),
                _ => false,
            })
        }
        Role::Admin | Role::DpAcademics | Role::Hod => super::manages(db, me, session).await,
    }
}

/// Correct a record's status (`manual_override: true`, `marked_by` the
/// caller, audited): the session's trainer while it is active or up to
/// 48 h after it ended, the HOD of its department, admin.
#[utoipa::path(patch, path = "/api/attendance/records/{id}/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = OverrideIn,
    responses((status = 200, body = RecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_record(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<OverrideIn>, ApiError>,
) -> ApiResult<Json<RecordOut>> {
    let (record, session) = visible(&db, &me, id).await?;
    if !may_override(&db, &me, &session).await? {
        return Err(ApiError::forbidden(
            "You cannot change the records of this session.",
        ));
    }
    let Json(input) = body?;
    let mut c = Checker::new();
    let status = c.choice(
        "status",
        input.status,
        &["present", "late", "absent", "excused"],
    );
    let reason = c.text("reason", input.reason, OVERRIDE_REASON_MAX);
    c.finish()?;
    let (Some(status), Some(reason)) = (status, reason) else {
        return Err(ApiError::field("status", kernel::form::REQUIRED));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let now = kernel::time::now();
    let done = attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::Status,
            Expr::value(status.clone()),
        )
        .col_expr(attendance_record::Column::ManualOverride, Expr::value(true))
        .col_expr(
            attendance_record::Column::MarkedBySystem,
            Expr::value(false),
        )
        .col_expr(attendance_record::Column::MarkedBy, Expr::value(me.id))
        .col_expr(
            attendance_record::Column::OverrideReason,
            Expr::value(reason.clone()),
        )
        .col_expr(attendance_record::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_record::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action("override"), "attendance_record", id);
    Log::write(
        &txn,
        entry.changes(json!({
            "status": [record.status, status],
            "reason": reason,
            "session": session.id,
            "trainee": record.trainee_id,
        })),
    )
    .await?;
    txn.commit().await?;
    let row = attendance_record::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(RecordOut::one(&db, row).await?))
}

/// A stored file as an attachment (404 when it is gone).
async fn stored_file(state: &AppState, name: &str, filename: &str) -> ApiResult<Response> {
    let kind = FileKind::from_extension(name).unwrap_or(FileKind::Jpeg);
    let bytes = state.storage.read(name).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ApiError::not_found()
        } else {
            ApiError::internal(error)
        }
    })?;
    let mut response =
        kernel::upload::attachment(bytes, kind, &format!("{filename}.{}", kind.extension()));
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The check-in photo (admin and the session's trainer only; 404 once it
/// is purged or when there was none).
#[utoipa::path(get, path = "/api/attendance/records/{id}/image/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The check-in photo, as an attachment", content_type = "image/jpeg"),
              (status = 401), (status = 403), (status = 404)))]
pub async fn record_image(
    State(state): State<AppState>,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Response> {
    let (record, session) = visible(&state.db, &me, id).await?;
    if !(me.role() == Role::Admin || session.trainer_id == Some(me.id)) {
        return Err(crate::access::forbidden());
    }
    let name = record.image.ok_or_else(ApiError::not_found)?;
    stored_file(&state, &name, &format!("check-in-{id}")).await
}

/// An excuse request: JSON or `multipart/form-data`.
#[allow(dead_code, reason = "OpenAPI only: the body is read as a FormBody")]
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ExcuseIn {
    /// Why the trainee was absent or late (at most 1000 characters).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Field<String>,
    /// A PDF, PNG or JPEG of at most 5 MB: a file, or in JSON a base64
    /// data URL.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Binary)]
    pub document: Field<Value>,
}

/// The bytes of a base64 data URL.
fn data_url(url: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let rest = url.trim().strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return None;
    }
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// The excuse document of a body, checked (None when absent).
fn document_of(body: &FormBody, c: &mut Checker) -> Option<(Vec<u8>, FileKind)> {
    let file = match (body.files.get("document"), body.fields.get("document")) {
        (Some(file), _) => file.clone(),
        (None, None | Some(Value::Null)) => return None,
        (None, Some(Value::String(s))) if s.is_empty() => return None,
        (None, Some(Value::String(url))) => match data_url(url) {
            Some(bytes) => UploadedFile {
                filename: "document".into(),
                bytes: bytes.into(),
            },
            None => {
                c.error(
                    "document",
                    "The submitted data was not a file. Check the encoding type on the form.",
                );
                return None;
            }
        },
        (None, Some(_)) => {
            c.error(
                "document",
                "The submitted data was not a file. Check the encoding type on the form.",
            );
            return None;
        }
    };
    match file.validate(DOCUMENT_MAX_BYTES) {
        Ok(kind) => Some((file.bytes.to_vec(), kind)),
        Err(message) => {
            c.error("document", message);
            None
        }
    }
}

/// Ask for an absence or lateness to be excused (the trainee of the
/// record, absent or late, within `excuse_window_days` after the session
/// ended) → the record with `excuse_status: pending`.
#[utoipa::path(post, path = "/api/attendance/records/{id}/excuse/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    request_body(content((ExcuseIn = "application/json"), (ExcuseIn = "multipart/form-data"))),
    responses((status = 200, body = RecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn request_excuse(
    State(state): State<AppState>,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<RecordOut>> {
    let db = &state.db;
    let (record, session) = visible(db, &me, id).await?;
    if record.trainee_id != me.id {
        return Err(ApiError::forbidden(
            "Only the trainee of this record can ask for an excuse.",
        ));
    }
    let body = body?;
    if !matches!(
        RecordStatus::parse(&record.status),
        Some(RecordStatus::Absent | RecordStatus::Late)
    ) {
        return Err(rest::refused(
            "Only an absence or a late arrival can be excused.",
            "invalid_state",
        ));
    }
    if record.excuse_status == "pending" {
        return Err(rest::refused(
            "An excuse for this record is already waiting for review.",
            "excuse_pending",
        ));
    }
    let (_, window_days) = windows(db).await?;
    let ended = session.ended_at.unwrap_or(session.scheduled_end);
    if kernel::time::now() > ended + TimeDelta::days(window_days) {
        return Err(rest::refused(
            format!("Excuses can be sent up to {window_days} days after the session ended."),
            "excuse_window_closed",
        ));
    }
    let mut c = Checker::new();
    let reason_field = match body.fields.get("reason") {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(Value::String(s)) => Field::Value(s.clone()),
        Some(_) => {
            c.error("reason", "Not a valid string.");
            Field::Absent
        }
    };
    let reason = if c.has_error("reason") {
        None
    } else {
        c.text("reason", reason_field, EXCUSE_REASON_MAX)
    };
    let document = document_of(&body, &mut c);
    c.finish()?;
    let reason = reason.ok_or_else(|| ApiError::field("reason", kernel::form::REQUIRED))?;
    let stored = match &document {
        Some((bytes, kind)) => Some(
            state
                .storage
                .save("excuses", bytes, *kind)
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let written = write_excuse(db, &actor, &record, &reason, stored.clone()).await;
    match written {
        Ok(true) => {
            if let Some(old) = &record.excuse_document {
                state.storage.delete(old).await;
            }
        }
        Ok(false) => {
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            return Err(rest::refused(
                "An excuse for this record is already waiting for review.",
                "excuse_pending",
            ));
        }
        Err(e) => {
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            return Err(e);
        }
    }
    let row = attendance_record::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(RecordOut::one(db, row).await?))
}

/// Marks the excuse pending unless one already is (false then).
async fn write_excuse(
    db: &sea_orm::DatabaseConnection,
    actor: &kernel::audit::Actor,
    record: &attendance_record::Model,
    reason: &str,
    document: Option<String>,
) -> ApiResult<bool> {
    let txn = kernel::db::begin_write(db).await?;
    let now = kernel::time::now();
    let mut update = attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::ExcuseStatus,
            Expr::value("pending"),
        )
        .col_expr(
            attendance_record::Column::ExcuseReason,
            Expr::value(reason.to_owned()),
        )
        .col_expr(
            attendance_record::Column::ExcuseReviewedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            attendance_record::Column::ExcuseReviewedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            attendance_record::Column::ExcuseComment,
            Expr::value(Option::<String>::None),
        )
        .col_expr(attendance_record::Column::UpdatedAt, Expr::value(now));
    // A new request replaces the document of an earlier (rejected) one.
    update = update.col_expr(
        attendance_record::Column::ExcuseDocument,
        Expr::value(document.clone()),
    );
    let done = update
        .filter(attendance_record::Column::Id.eq(record.id))
        .filter(attendance_record::Column::ExcuseStatus.ne("pending"))
        .filter(attendance_record::Column::Status.is_in(["absent", "late"]))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(false);
    }
    let entry = Entry::new(actor, Action("excuse"), "attendance_record", record.id);
    Log::write(
        &txn,
        entry.changes(json!({
            "excuse_status": [record.excuse_status, "pending"],
            "reason": reason,
            "document": document.is_some(),
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The excuse document (the trainee of the record and the staff who
/// manage its session; 404 when there is none).
#[utoipa::path(get, path = "/api/attendance/records/{id}/excuse/document/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The document, as an attachment", content_type = "application/pdf"),
              (status = 401), (status = 403), (status = 404)))]
pub async fn excuse_document(
    State(state): State<AppState>,
    Current(me): Me,
    Id(id): Id,
) -> ApiResult<Response> {
    let (record, session) = visible(&state.db, &me, id).await?;
    if record.trainee_id != me.id && !super::manages(&state.db, &me, &session).await? {
        return Err(crate::access::forbidden());
    }
    let name = record.excuse_document.ok_or_else(ApiError::not_found)?;
    stored_file(&state, &name, &format!("excuse-{id}")).await
}

/// A decision on an excuse.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReviewIn {
    /// `approve` or `reject`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub decision: Field<String>,
    /// For the trainee (at most 1000 characters).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub comment: Field<String>,
}

/// Approve (the record becomes `excused`) or reject a pending excuse: the
/// session's trainer, the HOD of its department, admin. The trainee is
/// notified.
#[utoipa::path(post, path = "/api/attendance/records/{id}/excuse/review/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = ReviewIn,
    responses((status = 200, body = RecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn review_excuse(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<Json<ReviewIn>, ApiError>,
) -> ApiResult<Json<RecordOut>> {
    let (record, session) = visible(&db, &me, id).await?;
    if me.role() == Role::Trainee || !super::manages(&db, &me, &session).await? {
        return Err(crate::access::forbidden());
    }
    let Json(input) = body?;
    let mut c = Checker::new();
    let decision = c.choice("decision", input.decision, &["approve", "reject"]);
    let comment = c
        .optional_text("comment", input.comment, COMMENT_MAX)
        .flatten();
    c.finish()?;
    let decision = decision.ok_or_else(|| ApiError::field("decision", kernel::form::REQUIRED))?;
    let approve = decision == "approve";
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let mut update = attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::ExcuseStatus,
            Expr::value(if approve { "approved" } else { "rejected" }),
        )
        .col_expr(
            attendance_record::Column::ExcuseReviewedBy,
            Expr::value(me.id),
        )
        .col_expr(
            attendance_record::Column::ExcuseReviewedAt,
            Expr::value(now),
        )
        .col_expr(
            attendance_record::Column::ExcuseComment,
            Expr::value(comment.clone()),
        )
        .col_expr(attendance_record::Column::UpdatedAt, Expr::value(now));
    if approve {
        update = update.col_expr(attendance_record::Column::Status, Expr::value("excused"));
    }
    let done = update
        .filter(attendance_record::Column::Id.eq(id))
        .filter(attendance_record::Column::ExcuseStatus.eq("pending"))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(rest::refused(
            "There is no pending excuse to review on this record.",
            "invalid_state",
        ));
    }
    let entry = Entry::new(&actor, Action("review_excuse"), "attendance_record", id);
    Log::write(
        &txn,
        entry.changes(json!({
            "decision": decision,
            "comment": comment,
            "status": [record.status, if approve { "excused" } else { record.status.as_str() }],
        })),
    )
    .await?;
    let course = crate::entities::course::Entity::find_by_id(session.course_id)
        .one(&txn)
        .await?
        .map(|c| c.code)
        .unwrap_or_default();
    let title = if approve {
        "Excuse approved"
    } else {
        "Excuse rejected"
    };
    let message = format!(
        "Your excuse for {course} on {} was {}.{}",
        session.scheduled_start.format("%Y-%m-%d"),
        if approve { "approved" } else { "rejected" },
        comment
            .as_ref()
            .map(|c| format!(" Comment: {c}"))
            .unwrap_or_default()
    );
    notify::send(
        &txn,
        [record.trainee_id],
        &Note::new(Kind::Attendance, title, &message).about("attendance_record", id),
    )
    .await?;
    txn.commit().await?;
    let row = attendance_record::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(RecordOut::one(&db, row).await?))
}
