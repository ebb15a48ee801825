//! Face enrolment (contract §1, Face; §8): a user's reference photo, its
//! stored 128-float encoding (never shown), the photo itself for its owner
//! and administrators, and a test of a photo against it.
//!
//! `…/users/me/face/` is the caller's own; `…/users/{id}/face/` is for an
//! administrator (anyone) or a HOD (users of the department they head:
//! its trainers, and trainees of its programmes' class groups). Others'
//! faces are 403 to every other role; a HOD's reach ends at their
//! department (404 beyond it), and the stored photo is for its owner and
//! administrators only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::upload::{FileKind, FormBody};
use kernel::{ApiError, ApiResult, Id};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::{Me, Role, forbidden};
use crate::audit::Log;
use crate::entities::{face, user};
use crate::face::{DEFAULT_THRESHOLD, FaceBox, FaceMatch};
use crate::state::AppState;

/// Where reference photos are stored (kernel storage).
const FOLDER: &str = "faces";

/// The audit trail's name for a user's reference face (id: the user's).
const RESOURCE: &str = "face";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_face, register_my_face, delete_my_face))
        .routes(routes!(my_face_image))
        .routes(routes!(verify_my_face))
        .routes(routes!(user_face, register_user_face, delete_user_face))
        .routes(routes!(user_face_image))
}

/// A photo upload: multipart `image`, or JSON `{"image": "data:image/jpeg;base64,…"}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documents the request body")]
pub struct FaceImageIn {
    /// JPEG or PNG (by content), at most 5 MB, at least 80×80 px, one face.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
}

/// A registered face.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaceOut {
    pub has_face: bool,
    pub registered_at: DateTime<Utc>,
    pub face_box: FaceBox,
}

/// Whether a user has a reference face.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaceStatus {
    pub has_face: bool,
    pub registered_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/users/me/face/", tag = "users", security(("jwt" = [])),
    responses((status = 200, body = FaceStatus), (status = 401)))]
async fn my_face(State(state): State<AppState>, me: Me) -> ApiResult<Json<FaceStatus>> {
    status(&state.db, me.id).await
}

#[utoipa::path(post, path = "/api/users/me/face/", tag = "users", security(("jwt" = [])),
    request_body(content = FaceImageIn, content_type = "multipart/form-data"),
    responses((status = 201, body = FaceOut), (status = 400), (status = 401), (status = 503)))]
async fn register_my_face(
    State(state): State<AppState>,
    Caller(me, actor): Caller<Me>,
    body: Result<FormBody, ApiError>,
) -> ApiResult<(StatusCode, Json<FaceOut>)> {
    register(&state, &actor, me.id, body).await
}

#[utoipa::path(delete, path = "/api/users/me/face/", tag = "users", security(("jwt" = [])),
    responses((status = 204), (status = 401), (status = 404)))]
async fn delete_my_face(
    State(state): State<AppState>,
    Caller(me, actor): Caller<Me>,
) -> ApiResult<StatusCode> {
    remove(&state, &actor, me.id).await
}

#[utoipa::path(get, path = "/api/users/me/face/image/", tag = "users", security(("jwt" = [])),
    responses((status = 200, description = "The stored photo, as an attachment", content_type = "image/jpeg"),
              (status = 401), (status = 404)))]
async fn my_face_image(State(state): State<AppState>, me: Me) -> ApiResult<Response> {
    image(&state, me.id).await
}

#[utoipa::path(post, path = "/api/users/me/face/verify/", tag = "users", security(("jwt" = [])),
    request_body(content = FaceImageIn, content_type = "multipart/form-data"),
    responses((status = 200, body = FaceMatch), (status = 400), (status = 401), (status = 503)))]
async fn verify_my_face(
    State(state): State<AppState>,
    me: Me,
    body: Result<FormBody, ApiError>,
) -> ApiResult<Json<FaceMatch>> {
    if !state.faces.is_available() {
        return Err(crate::face::unavailable());
    }
    let bytes = crate::face::image_field(&body?, "image")?;
    crate::face::verify(&state, me.id, bytes, DEFAULT_THRESHOLD)
        .await?
        .map(Json)
        .ok_or_else(|| {
            crate::rest::refused(
                "Upload a photo of your face in your profile first.",
                "no_reference_face",
            )
        })
}

#[utoipa::path(get, path = "/api/users/{id}/face/", tag = "users", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = FaceStatus), (status = 401), (status = 403), (status = 404)))]
async fn user_face(
    State(state): State<AppState>,
    me: Me,
    Id(id): Id,
) -> ApiResult<Json<FaceStatus>> {
    let target = managed_user(&state.db, &me, id).await?;
    status(&state.db, target).await
}

#[utoipa::path(post, path = "/api/users/{id}/face/", tag = "users", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = FaceImageIn, content_type = "multipart/form-data"),
    responses((status = 201, body = FaceOut), (status = 400), (status = 401), (status = 403),
              (status = 404), (status = 503)))]
async fn register_user_face(
    State(state): State<AppState>,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
    body: Result<FormBody, ApiError>,
) -> ApiResult<(StatusCode, Json<FaceOut>)> {
    let target = managed_user(&state.db, &me, id).await?;
    register(&state, &actor, target, body).await
}

#[utoipa::path(delete, path = "/api/users/{id}/face/", tag = "users", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
async fn delete_user_face(
    State(state): State<AppState>,
    Caller(me, actor): Caller<Me>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let target = managed_user(&state.db, &me, id).await?;
    remove(&state, &actor, target).await
}

#[utoipa::path(get, path = "/api/users/{id}/face/image/", tag = "users", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The stored photo, as an attachment", content_type = "image/jpeg"),
              (status = 401), (status = 403), (status = 404)))]
async fn user_face_image(State(state): State<AppState>, me: Me, Id(id): Id) -> ApiResult<Response> {
    let target = managed_user(&state.db, &me, id).await?;
    // The photo itself: its owner and administrators only.
    if target != me.id && me.role() != Role::Admin {
        return Err(forbidden());
    }
    image(&state, target).await
}

/// The user `id` whose face `me` manages: themselves, anyone for an
/// administrator, a user of the headed department for a HOD (404 beyond
/// it); any other role is refused (403).
async fn managed_user(db: &impl ConnectionTrait, me: &user::Model, id: Uuid) -> ApiResult<Uuid> {
    if id == me.id {
        return Ok(id);
    }
    let mut query = user::Entity::find_by_id(id);
    match me.role() {
        Role::Admin => {}
        Role::Hod => {
            let Some(department) = crate::access::headed_department(db, me).await? else {
                return Err(ApiError::not_found());
            };
            query = query.filter(crate::access::department_members(department));
        }
        Role::DpAcademics | Role::Trainer | Role::Trainee => return Err(forbidden()),
    }
    query
        .one(db)
        .await?
        .map(|found| found.id)
        .ok_or_else(ApiError::not_found)
}

async fn stored(db: &impl ConnectionTrait, user_id: Uuid) -> ApiResult<Option<face::Model>> {
    Ok(face::Entity::find()
        .filter(face::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

async fn status(db: &impl ConnectionTrait, user_id: Uuid) -> ApiResult<Json<FaceStatus>> {
    let row = stored(db, user_id).await?;
    Ok(Json(FaceStatus {
        has_face: row.is_some(),
        registered_at: row.map(|row| row.registered_at),
    }))
}

/// Encodes the body's photo and makes it `user_id`'s reference face
/// (replacing any earlier one): 201, one audit row.
async fn register(
    state: &AppState,
    actor: &kernel::audit::Actor,
    user_id: Uuid,
    body: Result<FormBody, ApiError>,
) -> ApiResult<(StatusCode, Json<FaceOut>)> {
    if !state.faces.is_available() {
        return Err(crate::face::unavailable());
    }
    let bytes = crate::face::image_field(&body?, "image")?;
    let kind = FileKind::sniff(&bytes).unwrap_or(FileKind::Jpeg);
    let found = state.faces.encode(bytes.clone()).await?;
    let name = state
        .storage
        .save(FOLDER, &bytes, kind)
        .await
        .map_err(ApiError::internal)?;
    let saved = save(state, actor, user_id, &name, kind, &found).await;
    match saved {
        Ok((row, replaced)) => {
            if let Some(old) = replaced {
                state.storage.delete(&old).await;
            }
            Ok((
                StatusCode::CREATED,
                Json(FaceOut {
                    has_face: true,
                    registered_at: row.registered_at,
                    face_box: found.face_box,
                }),
            ))
        }
        Err(error) => {
            state.storage.delete(&name).await;
            Err(error)
        }
    }
}

/// Writes the face row (insert or overwrite) and its audit row in one
/// transaction; answers the row and the photo it replaced.
async fn save(
    state: &AppState,
    actor: &kernel::audit::Actor,
    user_id: Uuid,
    image_name: &str,
    kind: FileKind,
    found: &crate::face::Face,
) -> ApiResult<(face::Model, Option<String>)> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = stored(&txn, user_id).await?;
    let now = kernel::time::now();
    let replaced = existing.as_ref().map(|row| row.image_name.clone());
    let (mut row, action) = match existing {
        Some(row) => (face::ActiveModel::from(row), Action::UPDATE),
        None => (
            face::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(user_id),
                ..Default::default()
            },
            Action::CREATE,
        ),
    };
    let face_box = found.face_box;
    row.encoding = Set(found.encoding.to_text());
    row.image_name = Set(image_name.to_owned());
    row.image_type = Set(kind.content_type().to_owned());
    row.box_left = Set(face_box.left);
    row.box_top = Set(face_box.top);
    row.box_right = Set(face_box.right);
    row.box_bottom = Set(face_box.bottom);
    row.registered_at = Set(now);
    let row = if action == Action::CREATE {
        row.insert(&txn).await
    } else {
        row.update(&txn).await
    }
    .map_err(|error| {
        if kernel::error::is_unique_violation(&error, "user_id") {
            ApiError::Conflict(
                "A face is being registered for this user already; try again.".into(),
            )
        } else {
            error.into()
        }
    })?;
    Log::write(
        &txn,
        Entry::new(actor, action, RESOURCE, user_id)
            .changes(json!({"registered_at": now, "face_box": face_box})),
    )
    .await?;
    txn.commit().await?;
    Ok((row, replaced))
}

/// Deletes `user_id`'s reference face and its photo: 204, one audit row.
async fn remove(
    state: &AppState,
    actor: &kernel::audit::Actor,
    user_id: Uuid,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let row = stored(&txn, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    face::Entity::delete_by_id(row.id).exec(&txn).await?;
    Log::write(&txn, Entry::new(actor, Action::DELETE, RESOURCE, user_id)).await?;
    txn.commit().await?;
    state.storage.delete(&row.image_name).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `user_id`'s stored photo as an attachment (`Cache-Control: no-store`).
async fn image(state: &AppState, user_id: Uuid) -> ApiResult<Response> {
    let row = stored(&state.db, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let kind = FileKind::from_extension(&row.image_name).unwrap_or(FileKind::Jpeg);
    let bytes = state.storage.read(&row.image_name).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ApiError::not_found()
        } else {
            ApiError::internal(error)
        }
    })?;
    let filename = format!("face-{user_id}.{}", kind.extension());
    Ok(kernel::upload::attachment(bytes, kind, &filename))
}
