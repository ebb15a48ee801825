//! Starting, ending and checking in to a session (contract §5, **Start**,
//! **Geofence**, **Check-in**, **End**), and the checks they share: where the
//! caller is (present, accurate, inside the room's or the school's geofence)
//! and who (one face, matching the reference face).
//!
//! Each refusal is a 400 with a `detail` and a stable `code`, in the order
//! the contract lists them; the rules that decide a race are closed in the
//! database: a conditional `UPDATE … WHERE status = …` and the unique index
//! on `active_trainer_id` (one active session per trainer).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::upload::{FileKind, FormBody};
use kernel::{ApiError, ApiResult, Current, FieldErrors, Id, Json};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::records::RecordOut;
use super::sessions::{self, RESOURCE, course_code, local, trainees_of};
use super::{RecordStatus, SessionOut, SessionStatus, Tally};
use crate::access::{Me, Role, forbidden};
use crate::audit::Log;
use crate::entities::{attendance_record, attendance_session, attendance_settings, room, school};
use crate::notify::{self, Kind, Note};
use crate::rest::{self, round2};
use crate::state::AppState;
use crate::timetable::engine::school_timezone;

/// Where check-in photos are stored (kernel storage).
pub const PHOTO_FOLDER: &str = "checkins";

const ONLY_TRAINER_START: &str = "Only the assigned trainer can start this session.";
const ONLY_TRAINER_END: &str = "Only the assigned trainer can end this session.";
const NOT_IN_GROUP: &str = "You are not a trainee of this session's class group.";
const NOT_STARTED: &str = "Check-in opens when the trainer starts the session.";
const ENDED: &str = "This session has ended.";
const ALREADY: &str = "You have already checked in to this session.";
const MISMATCH: &str = "The face in the photo does not match your registered photo.";

// ----- location -----

/// A position a client sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, as the device reports it.
    pub accuracy: Option<f64>,
}

/// The circle a position is checked against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fence {
    /// A virtual room: no check.
    Virtual,
    /// Centre and radius in metres.
    Circle {
        latitude: f64,
        longitude: f64,
        radius_m: i32,
    },
    /// Neither the room nor the school has coordinates: recorded, not checked.
    Unknown,
}

/// The geofence of a session in `room`: the room's coordinates and radius,
/// else the school's, else none; virtual rooms are not checked.
pub async fn fence_of(
    db: &impl ConnectionTrait,
    room: Option<&room::Model>,
) -> Result<Fence, DbErr> {
    if let Some(r) = room {
        if r.is_virtual {
            return Ok(Fence::Virtual);
        }
        if let (Some(latitude), Some(longitude)) = (r.latitude, r.longitude) {
            return Ok(Fence::Circle {
                latitude,
                longitude,
                radius_m: r.geofence_radius_m,
            });
        }
    }
    Ok(match school::Entity::find().one(db).await? {
        Some(s) => match (s.latitude, s.longitude) {
            (Some(latitude), Some(longitude)) => Fence::Circle {
                latitude,
                longitude,
                radius_m: s.geofence_radius_m,
            },
            _ => Fence::Unknown,
        },
        None => Fence::Unknown,
    })
}

/// A number field of a JSON or multipart body (`None` when absent, null or
/// blank), within `min..=max`.
fn number(
    body: &FormBody,
    name: &str,
    min: f64,
    max: f64,
    errors: &mut FieldErrors,
) -> Option<f64> {
    let value = match body.fields.get(name) {
        None | Some(Value::Null) => return None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return None,
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        Some(_) => None,
    };
    match value {
        None => {
            errors.add(name, "A valid number is required.");
            None
        }
        Some(v) if v < min => {
            errors.add(
                name,
                format!("Ensure this value is greater than or equal to {min}."),
            );
            None
        }
        Some(v) if v > max => {
            errors.add(
                name,
                format!("Ensure this value is less than or equal to {max}."),
            );
            None
        }
        Some(v) => Some(v),
    }
}

/// The body's `latitude`, `longitude` and `accuracy`: `None` when neither
/// coordinate was sent; one without the other, or a bad value, is a field
/// error; both missing are field errors when `required`.
pub fn position(body: &FormBody, required: bool) -> Result<Option<Position>, ApiError> {
    let mut errors = FieldErrors::new();
    let latitude = number(body, "latitude", -90.0, 90.0, &mut errors);
    let longitude = number(body, "longitude", -180.0, 180.0, &mut errors);
    let accuracy = number(body, "accuracy", 0.0, 1_000_000.0, &mut errors);
    let sent = |name: &str| !matches!(body.fields.get(name), None | Some(Value::Null));
    let any = sent("latitude") || sent("longitude");
    if required || any {
        for name in ["latitude", "longitude"] {
            if !sent(name) {
                errors.add(name, kernel::form::REQUIRED);
            }
        }
    }
    errors.into_result()?;
    Ok(match (latitude, longitude) {
        (Some(latitude), Some(longitude)) => Some(Position {
            latitude,
            longitude,
            accuracy,
        }),
        _ => None,
    })
}

/// Where the caller was, as recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Located {
    pub position: Option<Position>,
    /// Distance to the geofence centre, when there is one.
    pub distance_m: Option<f64>,
    /// Inside a geofence that was checked.
    pub verified: bool,
}

/// The location checks in the contract's order: present when `required`
/// and the room is physical (field errors), accuracy ≤ the settings' maximum
/// (`location_inaccurate`), inside the geofence (`outside_geofence` with
/// `distance_m` and `radius_m`). A location not required is recorded, not
/// enforced.
pub fn check_location(
    settings: &attendance_settings::Model,
    required: bool,
    fence: Fence,
    body: &FormBody,
) -> Result<Located, ApiError> {
    let required = required && fence != Fence::Virtual;
    let Some(at) = position(body, required)? else {
        return Ok(Located::default());
    };
    let mut located = Located {
        position: Some(at),
        ..Located::default()
    };
    if fence == Fence::Virtual {
        return Ok(located);
    }
    let max = f64::from(settings.max_location_accuracy_m);
    if required && let Some(accuracy) = at.accuracy.filter(|a| *a > max) {
        return Err(rest::refused(
            format!(
                "Your location is only accurate to {} m; at most {} m is accepted. Turn on precise location and try again.",
                accuracy.round(),
                settings.max_location_accuracy_m
            ),
            "location_inaccurate",
        ));
    }
    if let Fence::Circle {
        latitude,
        longitude,
        radius_m,
    } = fence
    {
        let distance = super::haversine_m(latitude, longitude, at.latitude, at.longitude);
        located.distance_m = Some(round2(distance));
        located.verified = distance <= f64::from(radius_m);
        if required && !located.verified {
            return Err(ApiError::detailed(
                StatusCode::BAD_REQUEST,
                format!(
                    "You are {} m from the session's location; you must be within {} m.",
                    distance.round(),
                    radius_m
                ),
                "outside_geofence",
                json!({"distance_m": round2(distance), "radius_m": radius_m}),
            ));
        }
    }
    Ok(located)
}

// ----- face -----

/// The body's photo: required (field error when missing) when `required`,
/// else read only when sent.
pub fn photo(body: &FormBody, required: bool) -> Result<Option<Bytes>, ApiError> {
    let sent = body.files.contains_key("image")
        || !matches!(body.fields.get("image"), None | Some(Value::Null));
    if !required && !sent {
        return Ok(None);
    }
    crate::face::image_field(body, "image").map(Some)
}

/// A face compared with the reference face.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaceResult {
    pub distance: Option<f64>,
    pub verified: bool,
}

/// The face checks in the contract's order: the verifier is installed (503
/// `face_verification_unavailable`: never a silent pass), `user` has a
/// reference face (`no_reference_face` with `no_reference`), one face in the photo (field error on
/// `image`), distance ≤ the threshold (`face_mismatch`).
pub async fn check_face(
    state: &AppState,
    user: Uuid,
    image: Bytes,
    threshold: f64,
    no_reference: &'static str,
) -> Result<FaceResult, ApiError> {
    if !state.faces.is_available() {
        return Err(crate::face::unavailable());
    }
    let Some(reference) = crate::face::reference(&state.db, user).await? else {
        return Err(rest::refused(no_reference, "no_reference_face"));
    };
    let face = state.faces.encode(image).await?;
    let distance = f64::from(face.encoding.distance(&reference));
    let distance = (distance * 10_000.0).round() / 10_000.0;
    if distance > threshold {
        return Err(rest::refused(MISMATCH, "face_mismatch"));
    }
    Ok(FaceResult {
        distance: Some(distance),
        verified: true,
    })
}

// ----- start -----

/// The session `id` for its trainer: 404 when the caller cannot read it,
/// 403 `refusal` when they are not its trainer (admins included).
async fn trainers_session(
    db: &impl ConnectionTrait,
    me: &crate::entities::user::Model,
    id: Uuid,
    refusal: &'static str,
) -> ApiResult<attendance_session::Model> {
    let s = sessions::visible(db, me, id).await?;
    if s.trainer_id != Some(me.id) {
        return Err(ApiError::forbidden(refusal));
    }
    Ok(s)
}

async fn room_of(
    db: &impl ConnectionTrait,
    s: &attendance_session::Model,
) -> Result<Option<room::Model>, DbErr> {
    match s.room_id {
        Some(id) => room::Entity::find_by_id(id).one(db).await,
        None => Ok(None),
    }
}

/// Start a session (its assigned trainer only): JSON or multipart
/// `{latitude, longitude, accuracy?, image?}`. Checks in order: scheduled
/// (`invalid_state`), no other active session (`another_session_active`),
/// inside the start window (`outside_start_window`), location, accuracy,
/// geofence, face. Makes a `pending` record per trainee and tells them.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/start/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = inline(CheckIn), content_type = "multipart/form-data"),
    responses((status = 200, body = SessionOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn start_session(
    State(state): State<AppState>,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<SessionOut>> {
    let db = &state.db;
    let s = trainers_session(db, &me, id, ONLY_TRAINER_START).await?;
    let body = body?;
    if s.status != SessionStatus::Scheduled.as_str() {
        return Err(rest::refused(
            format!(
                "This session is {}; only a scheduled session can be started.",
                s.status
            ),
            "invalid_state",
        ));
    }
    if let Some(other) = attendance_session::Entity::find()
        .filter(attendance_session::Column::ActiveTrainerId.eq(me.id))
        .one(db)
        .await?
    {
        let code = course_code(db, other.course_id).await?;
        return Err(another_active(&code));
    }
    let settings = super::settings::load(db).await?;
    let tz = school_timezone(db).await?;
    let now = kernel::time::now();
    let open =
        s.scheduled_start - Duration::minutes(i64::from(settings.start_window_before_minutes));
    let shut =
        s.scheduled_start + Duration::minutes(i64::from(settings.start_window_after_minutes));
    if now < open || now > shut {
        return Err(rest::refused(
            format!(
                "This session can be started from {} to {} (school time).",
                local(tz, open),
                shut.with_timezone(&tz).format("%H:%M")
            ),
            "outside_start_window",
        ));
    }
    let the_room = room_of(db, &s).await?;
    let fence = fence_of(db, the_room.as_ref()).await?;
    let located = check_location(&settings, settings.require_trainer_location, fence, &body)?;
    let face = if settings.require_trainer_face {
        let image = photo(&body, true)?.unwrap_or_default();
        check_face(
            &state,
            me.id,
            image,
            settings.face_match_threshold,
            "Upload a photo of your face in your profile before starting a session.",
        )
        .await?
    } else {
        FaceResult::default()
    };
    let txn = kernel::db::begin_write(db).await?;
    let now = kernel::time::now();
    let at = located.position;
    let done = attendance_session::Entity::update_many()
        .col_expr(
            attendance_session::Column::Status,
            Expr::value(SessionStatus::Active.as_str()),
        )
        .col_expr(
            attendance_session::Column::ActiveTrainerId,
            Expr::value(Some(me.id)),
        )
        .col_expr(
            attendance_session::Column::StartedAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            attendance_session::Column::StartLatitude,
            Expr::value(at.map(|p| p.latitude)),
        )
        .col_expr(
            attendance_session::Column::StartLongitude,
            Expr::value(at.map(|p| p.longitude)),
        )
        .col_expr(
            attendance_session::Column::StartDistanceM,
            Expr::value(located.distance_m),
        )
        .col_expr(
            attendance_session::Column::StartFaceDistance,
            Expr::value(face.distance),
        )
        .col_expr(
            attendance_session::Column::TrainerFaceVerified,
            Expr::value(face.verified),
        )
        .col_expr(attendance_session::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_session::Column::Id.eq(id))
        .filter(attendance_session::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .exec(&*txn)
        .await;
    let done = match done {
        Ok(done) => done,
        Err(error) if kernel::error::is_unique_violation(&error, "active_trainer_id") => {
            drop(txn);
            return Err(another_active(""));
        }
        Err(error) => return Err(error.into()),
    };
    if done.rows_affected == 0 {
        return Err(rest::refused(
            "This session is no longer scheduled; only a scheduled session can be started.",
            "invalid_state",
        ));
    }
    let trainees = trainees_of(&*txn, s.class_group_id).await?;
    let rows: Vec<attendance_record::ActiveModel> = trainees
        .iter()
        .map(|t| pending_record(id, *t, now))
        .collect();
    for chunk in rows.chunks(500) {
        attendance_record::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&*txn)
            .await?;
    }
    let code = course_code(&*txn, s.course_id).await?;
    let message = match &the_room {
        Some(r) => format!("{code} has started in {} — check in now", r.name),
        None => format!("{code} has started — check in now"),
    };
    let note = Note::new(Kind::Session, "Session started", &message)
        .about(RESOURCE, id)
        .priority("high")
        .action(format!("/attendance/sessions/{id}/check-in"));
    notify::send(&*txn, trainees.iter().copied(), &note).await?;
    let entry = Entry::new(&actor, Action("start"), RESOURCE, id);
    Log::write(
        &*txn,
        entry.changes(json!({
            "status": [s.status, "active"], "started_at": now,
            "location": at.map(|p| json!({"latitude": p.latitude, "longitude": p.longitude, "accuracy": p.accuracy})),
            "distance_m": located.distance_m, "location_verified": located.verified,
            "face_verified": face.verified, "records": trainees.len(),
        })),
    )
    .await?;
    txn.commit().await?;
    notify::wake(&state, trainees.iter().copied());
    let started = attendance_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(sessions::rendered(db, started).await?))
}

fn another_active(code: &str) -> ApiError {
    let detail = if code.is_empty() {
        "You already have an active session; end it before starting another.".to_owned()
    } else {
        format!("You already have an active session ({code}); end it before starting another.")
    };
    rest::refused(detail, "another_session_active")
}

fn pending_record(
    session: Uuid,
    trainee: Uuid,
    now: DateTime<Utc>,
) -> attendance_record::ActiveModel {
    attendance_record::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session),
        trainee_id: Set(trainee),
        status: Set(RecordStatus::Pending.as_str().to_owned()),
        checked_in_at: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        accuracy: Set(None),
        distance_m: Set(None),
        location_verified: Set(false),
        face_distance: Set(None),
        face_verified: Set(false),
        failed_attempts: Set(0),
        marked_by_system: Set(false),
        manual_override: Set(false),
        marked_by: Set(None),
        override_reason: Set(None),
        image: Set(None),
        excuse_reason: Set(None),
        excuse_document: Set(None),
        excuse_status: Set("none".to_owned()),
        excuse_reviewed_by: Set(None),
        excuse_reviewed_at: Set(None),
        excuse_comment: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

// ----- check-in -----

/// A check-in (or start/end) body: multipart, or JSON with a base64 `image`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documents the request body")]
pub struct CheckIn {
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// Metres.
    accuracy: Option<f64>,
    /// JPEG or PNG, one face (multipart file, or a `data:` URL in JSON).
    #[schema(value_type = Option<String>, format = Binary)]
    image: Option<Vec<u8>>,
}

/// Check in to an active session (a trainee of its class group): photo and
/// location checked in the contract's order; every refused attempt is
/// counted on the record; `present` until `late_after_minutes` after
/// max(scheduled start, actual start), then `late`.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/check-in/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = inline(CheckIn), content_type = "multipart/form-data"),
    responses((status = 200, body = RecordOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn check_in(
    State(state): State<AppState>,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<RecordOut>> {
    let db = &state.db;
    let s = attendance_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if me.role() != Role::Trainee {
        return Err(forbidden());
    }
    let record = attendance_record::Entity::find()
        .filter(attendance_record::Column::SessionId.eq(id))
        .filter(attendance_record::Column::TraineeId.eq(me.id))
        .one(db)
        .await?;
    if record.is_none() && !trainees_of(db, s.class_group_id).await?.contains(&me.id) {
        return Err(ApiError::forbidden(NOT_IN_GROUP));
    }
    let body = body?;
    let settings = super::settings::load(db).await?;
    let verified = verify_check_in(&state, &me, &s, record.as_ref(), &settings, &body).await;
    let (located, face, image) = match verified {
        Ok(v) => v,
        Err((error, counted)) => {
            if counted
                && error.status() == StatusCode::BAD_REQUEST
                && let Some(r) = &record
            {
                count_failure(db, &actor, r, &error).await?;
            }
            return Err(error);
        }
    };
    let Some(record) = record else {
        return Err(rest::refused(NOT_STARTED, "session_not_active"));
    };
    let stored = match &image {
        Some(bytes) => {
            // Kept only as the photo it claims to be (a check-in without
            // face verification may still send one).
            let kind = match FileKind::sniff(bytes) {
                Some(kind @ (FileKind::Jpeg | FileKind::Png)) => kind,
                _ => return Err(ApiError::field("image", crate::face::NOT_AN_IMAGE)),
            };
            Some(
                state
                    .storage
                    .save(PHOTO_FOLDER, bytes, kind)
                    .await
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let outcome = save_check_in(
        db,
        &actor,
        &s,
        &record,
        &settings,
        located,
        face,
        stored.clone(),
    )
    .await;
    let saved = match outcome {
        Ok(Some(saved)) => saved,
        refused => {
            // Nothing was saved: the photo goes too.
            if let Some(name) = &stored {
                state.storage.delete(name).await;
            }
            refused?;
            // Another check-in of this trainee, or the end, came first.
            let now = attendance_session::Entity::find_by_id(id).one(db).await?;
            return Err(
                if now.is_some_and(|s| s.status != SessionStatus::Active.as_str()) {
                    rest::refused(ENDED, "session_not_active")
                } else {
                    rest::refused(ALREADY, "already_checked_in")
                },
            );
        }
    };
    Ok(Json(RecordOut::one(db, saved).await?))
}

type Verified = (Located, FaceResult, Option<Bytes>);

/// The check-in rules in order; the flag says whether a refusal counts as
/// a failed attempt (all but `already_checked_in`).
async fn verify_check_in(
    state: &AppState,
    me: &crate::entities::user::Model,
    s: &attendance_session::Model,
    record: Option<&attendance_record::Model>,
    settings: &attendance_settings::Model,
    body: &FormBody,
) -> Result<Verified, (ApiError, bool)> {
    let counted = |e: ApiError| (e, true);
    if s.status != SessionStatus::Active.as_str() {
        let detail = if s.status == SessionStatus::Scheduled.as_str() {
            NOT_STARTED
        } else {
            ENDED
        };
        return Err(counted(rest::refused(detail, "session_not_active")));
    }
    let Some(record) = record else {
        return Err(counted(rest::refused(NOT_STARTED, "session_not_active")));
    };
    if record.status != RecordStatus::Pending.as_str() {
        return Err((rest::refused(ALREADY, "already_checked_in"), false));
    }
    let image = photo(body, settings.require_trainee_face).map_err(counted)?;
    let the_room = room_of(&state.db, s).await.map_err(|e| (e.into(), false))?;
    let fence = fence_of(&state.db, the_room.as_ref())
        .await
        .map_err(|e| (e.into(), false))?;
    let located = check_location(settings, settings.require_trainee_location, fence, body)
        .map_err(counted)?;
    let face = match (&image, settings.require_trainee_face) {
        (Some(bytes), true) => check_face(
            state,
            me.id,
            bytes.clone(),
            settings.face_match_threshold,
            "Upload a photo of your face in your profile before checking in.",
        )
        .await
        .map_err(counted)?,
        _ => FaceResult::default(),
    };
    Ok((located, face, image))
}

/// Counts a refused check-in on the record (committed although the request
/// is refused), audited.
async fn count_failure(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    record: &attendance_record::Model,
    error: &ApiError,
) -> ApiResult<()> {
    let txn = kernel::db::begin_write(db).await?;
    attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::FailedAttempts,
            Expr::col(attendance_record::Column::FailedAttempts).add(1),
        )
        .filter(attendance_record::Column::Id.eq(record.id))
        .exec(&*txn)
        .await?;
    let report = error.report();
    let entry = Entry::new(
        actor,
        Action("check_in_refused"),
        "attendance_record",
        record.id,
    );
    Log::write(
        &*txn,
        entry.changes(json!({"session": record.session_id, "code": report.code})),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Marks `record` present or late if it is still pending (`Ok(None)`
/// otherwise: another check-in or the end came first).
#[allow(clippy::too_many_arguments, reason = "one check-in's parts")]
async fn save_check_in(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    s: &attendance_session::Model,
    record: &attendance_record::Model,
    settings: &attendance_settings::Model,
    located: Located,
    face: FaceResult,
    image: Option<String>,
) -> ApiResult<Option<attendance_record::Model>> {
    let now = kernel::time::now();
    let reference = s
        .started_at
        .map_or(s.scheduled_start, |at| std::cmp::max(at, s.scheduled_start));
    let status = if now <= reference + Duration::minutes(i64::from(settings.late_after_minutes)) {
        RecordStatus::Present
    } else {
        RecordStatus::Late
    };
    let at = located.position;
    let txn = kernel::db::begin_write(db).await?;
    let done = attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            attendance_record::Column::CheckedInAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            attendance_record::Column::Latitude,
            Expr::value(at.map(|p| p.latitude)),
        )
        .col_expr(
            attendance_record::Column::Longitude,
            Expr::value(at.map(|p| p.longitude)),
        )
        .col_expr(
            attendance_record::Column::Accuracy,
            Expr::value(at.and_then(|p| p.accuracy)),
        )
        .col_expr(
            attendance_record::Column::DistanceM,
            Expr::value(located.distance_m),
        )
        .col_expr(
            attendance_record::Column::LocationVerified,
            Expr::value(located.verified),
        )
        .col_expr(
            attendance_record::Column::FaceDistance,
            Expr::value(face.distance),
        )
        .col_expr(
            attendance_record::Column::FaceVerified,
            Expr::value(face.verified),
        )
        .col_expr(attendance_record::Column::Image, Expr::value(image.clone()))
        .col_expr(attendance_record::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_record::Column::Id.eq(record.id))
        .filter(attendance_record::Column::Status.eq(RecordStatus::Pending.as_str()))
        .filter(
            attendance_record::Column::SessionId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(attendance_session::Column::Id)
                    .from(attendance_session::Entity)
                    .and_where(attendance_session::Column::Id.eq(s.id))
                    .and_where(
                        attendance_session::Column::Status.eq(SessionStatus::Active.as_str()),
                    )
                    .to_owned(),
            ),
        )
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    let entry = Entry::new(actor, Action("check_in"), "attendance_record", record.id);
    Log::write(
        &*txn,
        entry.changes(json!({
            "session": s.id, "status": ["pending", status.as_str()], "checked_in_at": now,
            "distance_m": located.distance_m, "location_verified": located.verified,
            "face_distance": face.distance, "face_verified": face.verified,
        })),
    )
    .await?;
    let saved = attendance_record::Entity::find_by_id(record.id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    txn.commit().await?;
    Ok(Some(saved))
}

// ----- end -----

/// Records of an ended session by status.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Summary {
    pub present: i64,
    pub late: i64,
    pub absent: i64,
    pub excused: i64,
}

impl From<Tally> for Summary {
    fn from(t: Tally) -> Self {
        Self {
            present: t.present,
            late: t.late,
            absent: t.absent,
            excused: t.excused,
        }
    }
}

/// An ended session with its summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedOut {
    #[serde(flatten)]
    pub session: SessionOut,
    pub summary: Summary,
}

/// End a session (its assigned trainer only): active (`invalid_state`),
/// after `min_elapsed_percent_to_end` of the slot (`too_early_to_end`), then
/// the start's location and face checks. Pending records become absent;
/// absentees, the trainer and trainees falling under the threshold are told.
#[utoipa::path(post, path = "/api/attendance/sessions/{id}/end/", tag = "attendance", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = inline(CheckIn), content_type = "multipart/form-data"),
    responses((status = 200, body = EndedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn end_session(
    State(state): State<AppState>,
    Caller(Current(me), actor): Caller<Me>,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<EndedOut>> {
    let db = &state.db;
    let s = trainers_session(db, &me, id, ONLY_TRAINER_END).await?;
    let body = body?;
    if s.status != SessionStatus::Active.as_str() {
        return Err(rest::refused(
            format!(
                "This session is {}; only an active session can be ended.",
                s.status
            ),
            "invalid_state",
        ));
    }
    let settings = super::settings::load(db).await?;
    let tz = school_timezone(db).await?;
    let length = (s.scheduled_end - s.scheduled_start).num_seconds();
    let from = s.scheduled_start
        + Duration::seconds(length * i64::from(settings.min_elapsed_percent_to_end) / 100);
    if kernel::time::now() < from {
        return Err(rest::refused(
            format!(
                "This session can be ended from {}.",
                from.with_timezone(&tz).format("%H:%M")
            ),
            "too_early_to_end",
        ));
    }
    let the_room = room_of(db, &s).await?;
    let fence = fence_of(db, the_room.as_ref()).await?;
    let located = check_location(&settings, settings.require_trainer_location, fence, &body)?;
    if settings.require_trainer_face {
        let image = photo(&body, true)?.unwrap_or_default();
        check_face(
            &state,
            me.id,
            image,
            settings.face_match_threshold,
            "Upload a photo of your face in your profile before ending a session.",
        )
        .await?;
    }
    let txn = kernel::db::begin_write(db).await?;
    let Some(summary) = close(&*txn, &s, false).await? else {
        return Err(rest::refused(
            "This session is no longer active; only an active session can be ended.",
            "invalid_state",
        ));
    };
    let at = located.position;
    attendance_session::Entity::update_many()
        .col_expr(
            attendance_session::Column::EndLatitude,
            Expr::value(at.map(|p| p.latitude)),
        )
        .col_expr(
            attendance_session::Column::EndLongitude,
            Expr::value(at.map(|p| p.longitude)),
        )
        .col_expr(
            attendance_session::Column::EndDistanceM,
            Expr::value(located.distance_m),
        )
        .filter(attendance_session::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    let entry = Entry::new(&actor, Action("end"), RESOURCE, id);
    Log::write(
        &*txn,
        entry.changes(json!({
            "status": ["active", "completed"], "summary": summary,
            "distance_m": located.distance_m, "location_verified": located.verified,
        })),
    )
    .await?;
    txn.commit().await?;
    let mut people = trainees_of(db, s.class_group_id).await?;
    people.extend(s.trainer_id);
    notify::wake(&state, people);
    let ended = attendance_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(EndedOut {
        session: sessions::rendered(db, ended).await?,
        summary,
    }))
}

/// Ends the active `session` in `txn` (the end endpoint and the auto-close
/// job): completed, `ended_at`, `active_trainer_id` cleared, `auto_closed`;
/// every pending record absent (`marked_by_system`); the absentees, the
/// trainer and each trainee whose attendance rate in the course falls under
/// the threshold are told. `Ok(None)`: the session was no longer active
/// (nothing changed). The caller audits and commits.
pub async fn close(
    txn: &impl ConnectionTrait,
    session: &attendance_session::Model,
    auto_closed: bool,
) -> Result<Option<Summary>, DbErr> {
    let now = kernel::time::now();
    let done = attendance_session::Entity::update_many()
        .col_expr(
            attendance_session::Column::Status,
            Expr::value(SessionStatus::Completed.as_str()),
        )
        .col_expr(attendance_session::Column::EndedAt, Expr::value(Some(now)))
        .col_expr(
            attendance_session::Column::ActiveTrainerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            attendance_session::Column::AutoClosed,
            Expr::value(auto_closed),
        )
        .col_expr(attendance_session::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_session::Column::Id.eq(session.id))
        .filter(attendance_session::Column::Status.eq(SessionStatus::Active.as_str()))
        .exec(txn)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    let absentees: Vec<Uuid> = attendance_record::Entity::find()
        .select_only()
        .column(attendance_record::Column::TraineeId)
        .filter(attendance_record::Column::SessionId.eq(session.id))
        .filter(attendance_record::Column::Status.eq(RecordStatus::Pending.as_str()))
        .into_tuple()
        .all(txn)
        .await?;
    attendance_record::Entity::update_many()
        .col_expr(
            attendance_record::Column::Status,
            Expr::value(RecordStatus::Absent.as_str()),
        )
        .col_expr(attendance_record::Column::MarkedBySystem, Expr::value(true))
        .col_expr(attendance_record::Column::UpdatedAt, Expr::value(now))
        .filter(attendance_record::Column::SessionId.eq(session.id))
        .filter(attendance_record::Column::Status.eq(RecordStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    let tally = super::tallies(txn, &[session.id])
        .await?
        .remove(&session.id)
        .unwrap_or_default();
    let settings = super::settings::load(txn).await?;
    let tz = school_timezone(txn).await?;
    let code = course_code(txn, session.course_id).await?;
    let when = local(tz, session.scheduled_start);
    let absent = format!(
        "You were marked absent from {code} on {when}. If you had a reason, request an excuse within {} days.",
        settings.excuse_window_days
    );
    let note = Note::new(Kind::Attendance, "Marked absent", &absent).about(RESOURCE, session.id);
    notify::send(txn, absentees.iter().copied(), &note).await?;
    if let Some(trainer) = session.trainer_id {
        let how = if auto_closed {
            "was closed automatically"
        } else {
            "has ended"
        };
        let summary = format!(
            "{code} on {when} {how}: {} present, {} late, {} absent, {} excused.",
            tally.present, tally.late, tally.absent, tally.excused
        );
        let note =
            Note::new(Kind::Session, "Session summary", &summary).about(RESOURCE, session.id);
        notify::send(txn, [trainer], &note).await?;
    }
    low_attendance(
        txn,
        session,
        &code,
        settings.low_attendance_threshold_percent,
    )
    .await?;
    Ok(Some(tally.into()))
}

/// Tells each trainee of `session` whose attendance rate in its course was
/// at or above `threshold` (or unknown) before it and is under it now.
async fn low_attendance(
    txn: &impl ConnectionTrait,
    session: &attendance_session::Model,
    code: &str,
    threshold: i32,
) -> Result<(), DbErr> {
    let trainees: Vec<Uuid> = attendance_record::Entity::find()
        .select_only()
        .column(attendance_record::Column::TraineeId)
        .filter(attendance_record::Column::SessionId.eq(session.id))
        .into_tuple()
        .all(txn)
        .await?;
    if trainees.is_empty() {
        return Ok(());
    }
    let course_sessions = sea_orm::sea_query::Query::select()
        .column(attendance_session::Column::Id)
        .from(attendance_session::Entity)
        .and_where(attendance_session::Column::CourseId.eq(session.course_id))
        .to_owned();
    let mut before: std::collections::HashMap<Uuid, Tally> = std::collections::HashMap::new();
    let mut after: std::collections::HashMap<Uuid, Tally> = std::collections::HashMap::new();
    for chunk in trainees.chunks(500) {
        let rows: Vec<(Uuid, Uuid, String)> = attendance_record::Entity::find()
            .select_only()
            .column(attendance_record::Column::TraineeId)
            .column(attendance_record::Column::SessionId)
            .column(attendance_record::Column::Status)
            .filter(attendance_record::Column::TraineeId.is_in(chunk.iter().copied()))
            .filter(attendance_record::Column::SessionId.in_subquery(course_sessions.clone()))
            .into_tuple()
            .all(txn)
            .await?;
        for (trainee, s, status) in rows {
            after.entry(trainee).or_default().add(&status, 1);
            if s != session.id {
                before.entry(trainee).or_default().add(&status, 1);
            }
        }
    }
    let limit = f64::from(threshold);
    for trainee in trainees {
        let now = after.get(&trainee).and_then(Tally::attendance_rate);
        let was = before.get(&trainee).and_then(Tally::attendance_rate);
        if let Some(rate) = now
            && rate < limit
            && was.is_none_or(|w| w >= limit)
        {
            let message = format!(
                "Your attendance in {code} is {rate:.2} %, under the required {threshold} %."
            );
            let note = Note::new(Kind::Attendance, "Low attendance", &message)
                .about(RESOURCE, session.id)
                .priority("high");
            notify::send(txn, [trainee], &note).await?;
        }
    }
    Ok(())
}
