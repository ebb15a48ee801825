//! The school, a single instance (contract §2): `/api/school/` with its
//! logo and headline counts, and the original's `/api/schools/` aliases.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::PageOf;
use kernel::upload::{FileKind, FormBody};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Admin, Me, Role};
use crate::audit::Log;
use crate::entities::{class_group, department, programme, school, user};
use crate::state::AppState;

/// Largest logo accepted.
const LOGO_MAX: usize = 2 * 1024 * 1024;
const ONLY_ONE: &str = "Only one school can exist.";
const COORDINATES: &str = "Give both latitude and longitude, or neither.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            get_school,
            create_school,
            put_school,
            patch_school,
            delete_school
        ))
        .routes(routes!(upload_logo, get_logo))
}

/// `/api/schools/` (a list of one) and `/api/schools/{id}/`, as the
/// original's model viewset served them.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/schools/", get(list_schools).post(create_school))
        .route(
            "/api/schools/{id}/",
            get(get_school_by_id)
                .put(put_school_by_id)
                .patch(patch_school_by_id)
                .delete(delete_school),
        )
}

/// Headline counts of the school.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolStats {
    pub total_departments: u64,
    pub total_programmes: u64,
    pub total_class_groups: u64,
    pub total_trainees: u64,
    pub total_trainers: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolOut {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// Where the logo is served (`/api/school/logo/`), once uploaded.
    pub logo: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geofence_radius_m: i32,
    /// IANA time zone of the timetable's wall-clock times.
    pub timezone: String,
    pub stats: SchoolStats,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SchoolIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<200>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub code: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    pub address: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = email_schema)]
    pub email: Field<String>,
    /// An `http://` or `https://` address.
    #[serde(default)]
    #[schema(schema_with = website_schema)]
    pub website: Field<String>,
    /// -90…90; given together with `longitude`.
    #[serde(default)]
    #[schema(schema_with = latitude_schema)]
    pub latitude: Field<f64>,
    /// -180…180; given together with `latitude`.
    #[serde(default)]
    #[schema(schema_with = longitude_schema)]
    pub longitude: Field<f64>,
    /// 1…100 000 metres, default 200.
    #[serde(default)]
    #[schema(schema_with = geofence_schema)]
    pub geofence_radius_m: Field<i64>,
    /// An IANA time zone, default `UTC`.
    #[serde(default)]
    #[schema(schema_with = timezone_schema)]
    pub timezone: Field<String>,
}

fn email_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::blank_or_null(kernel::form::schema::email())
}

fn website_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::blank_or_null(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(200))
            .pattern(Some("^https?://")),
    )
}

fn latitude_schema() -> utoipa::openapi::schema::Schema {
    crate::rooms::coordinate_schema(90.0)
}

fn longitude_schema() -> utoipa::openapi::schema::Schema {
    crate::rooms::coordinate_schema(180.0)
}

fn geofence_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1, 100_000)
}

fn timezone_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .into()
}

/// The school, if it was set up.
pub async fn the_school(
    db: &impl ConnectionTrait,
) -> Result<Option<school::Model>, sea_orm::DbErr> {
    school::Entity::find().one(db).await
}

/// The school's IANA time zone (`UTC` before setup).
pub async fn timezone(db: &impl ConnectionTrait) -> Result<chrono_tz::Tz, sea_orm::DbErr> {
    Ok(the_school(db)
        .await?
        .and_then(|s| s.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC))
}

async fn stats(db: &impl ConnectionTrait) -> ApiResult<SchoolStats> {
    let users = |role: Role| {
        user::Entity::find()
            .filter(user::Column::Role.eq(role.as_str()))
            .filter(user::Column::IsActive.eq(true))
    };
    Ok(SchoolStats {
        total_departments: department::Entity::find().count(db).await?,
        total_programmes: programme::Entity::find().count(db).await?,
        total_class_groups: class_group::Entity::find().count(db).await?,
        total_trainees: users(Role::Trainee).count(db).await?,
        total_trainers: users(Role::Trainer).count(db).await?,
    })
}

async fn out(db: &impl ConnectionTrait, s: school::Model) -> ApiResult<SchoolOut> {
    Ok(build(s, stats(db).await?))
}

fn build(s: school::Model, stats: SchoolStats) -> SchoolOut {
    SchoolOut {
        id: s.id,
        logo: s.logo.as_ref().map(|_| "/api/school/logo/".to_owned()),
        stats,
        name: s.name,
        code: s.code,
        description: s.description,
        address: s.address,
        phone: s.phone,
        email: s.email,
        website: s.website,
        latitude: s.latitude,
        longitude: s.longitude,
        geofence_radius_m: s.geofence_radius_m,
        timezone: s.timezone,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn snapshot(s: &school::Model) -> serde_json::Value {
    kernel::audit::snapshot(&json!({
        "name": s.name, "code": s.code, "description": s.description, "address": s.address,
        "phone": s.phone, "email": s.email, "website": s.website, "logo": s.logo,
        "latitude": s.latitude, "longitude": s.longitude,
        "geofence_radius_m": s.geofence_radius_m, "timezone": s.timezone,
    }))
}

async fn require(db: &impl ConnectionTrait) -> ApiResult<school::Model> {
    the_school(db).await?.ok_or_else(ApiError::not_found)
}

/// The school (any signed-in user); 404 before setup.
#[utoipa::path(get, path = "/api/school/", tag = "school", security(("jwt" = [])),
    responses((status = 200, body = SchoolOut), (status = 401), (status = 404)))]
pub async fn get_school(Db(db): Db, _me: Me) -> ApiResult<Json<SchoolOut>> {
    Ok(Json(out(&db, require(&db).await?).await?))
}

async fn get_school_by_id(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<SchoolOut>> {
    let s = require(&db).await?;
    if s.id != id {
        return Err(ApiError::not_found());
    }
    Ok(Json(out(&db, s).await?))
}

async fn list_schools(
    Db(db): Db,
    _me: Me,
    list: kernel::listing::ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, SchoolOut>>> {
    let stats = stats(&db).await?;
    let page = list
        .page(&db, school::Entity::find(), crate::rest::PAGE)
        .await?;
    Ok(Json(page.map(|s| build(s, stats.clone()))))
}

struct Valid {
    name: Option<String>,
    code: Option<Option<String>>,
    description: Option<Option<String>>,
    address: Option<Option<String>>,
    phone: Option<Option<String>>,
    email: Option<Option<String>>,
    website: Option<Option<String>>,
    latitude: Option<Option<f64>>,
    longitude: Option<Option<f64>>,
    geofence_radius_m: Option<i32>,
    timezone: Option<String>,
}

fn coordinate(c: &mut Checker, name: &str, field: Field<f64>, limit: f64) -> Option<Option<f64>> {
    let value = c.nullable(field)?;
    if let Some(v) = value
        && !(v.is_finite() && (-limit..=limit).contains(&v))
    {
        c.error(
            name,
            format!("Ensure this value is between -{limit} and {limit}."),
        );
        return None;
    }
    Some(value)
}

fn validate(input: SchoolIn, existing: Option<&school::Model>, partial: bool) -> ApiResult<Valid> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = c.text("name", input.name, 200);
    let code = c.optional_text("code", input.code, 20);
    let description = c.optional_text("description", input.description, 10_000);
    let address = c.optional_text("address", input.address, 1000);
    let phone = c.optional_text("phone", input.phone, 30);
    let email = match c.optional_text("email", input.email, 254) {
        Some(Some(e)) => match kernel::form::normalize_email(&e) {
            Some(e) => Some(Some(e)),
            None => {
                c.error("email", "Enter a valid email address.");
                None
            }
        },
        other => other,
    };
    let website = c.optional_text("website", input.website, 200);
    if let Some(Some(w)) = &website
        && !(w.starts_with("http://") || w.starts_with("https://"))
    {
        c.error("website", "Enter a valid URL.");
    }
    let latitude = coordinate(&mut c, "latitude", input.latitude, 90.0);
    let longitude = coordinate(&mut c, "longitude", input.longitude, 180.0);
    let radius = match input.geofence_radius_m {
        Field::Absent if existing.is_none() => Some(200),
        other => c.patch_int("geofence_radius_m", other, 1, 100_000),
    };
    let timezone = match input.timezone {
        Field::Absent if existing.is_none() => Some("UTC".to_owned()),
        Field::Absent => None,
        other => c
            .text("timezone", other, 64)
            .and_then(|tz| match tz.parse::<chrono_tz::Tz>() {
                Ok(_) => Some(tz),
                Err(_) => {
                    c.error("timezone", format!("\"{tz}\" is not a valid choice."));
                    None
                }
            }),
    };
    // Both or neither, as they will be stored.
    if !c.has_error("latitude") && !c.has_error("longitude") {
        let lat = latitude.unwrap_or_else(|| existing.and_then(|s| s.latitude));
        let lon = longitude.unwrap_or_else(|| existing.and_then(|s| s.longitude));
        if lat.is_some() != lon.is_some() {
            c.error(kernel::FieldErrors::NON_FIELD, COORDINATES);
        }
    }
    c.finish()?;
    Ok(Valid {
        name,
        code,
        description,
        address,
        phone,
        email,
        website,
        latitude,
        longitude,
        geofence_radius_m: radius.and_then(|r| i32::try_from(r).ok()),
        timezone,
    })
}

fn apply(row: &mut school::ActiveModel, v: Valid) {
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(x) = v.code {
        row.code = Set(x);
    }
    if let Some(x) = v.description {
        row.description = Set(x);
    }
    if let Some(x) = v.address {
        row.address = Set(x);
    }
    if let Some(x) = v.phone {
        row.phone = Set(x);
    }
    if let Some(x) = v.email {
        row.email = Set(x);
    }
    if let Some(x) = v.website {
        row.website = Set(x);
    }
    if let Some(x) = v.latitude {
        row.latitude = Set(x);
    }
    if let Some(x) = v.longitude {
        row.longitude = Set(x);
    }
    if let Some(x) = v.geofence_radius_m {
        row.geofence_radius_m = Set(x);
    }
    if let Some(x) = v.timezone {
        row.timezone = Set(x);
    }
}

/// Set up the school (admin); a second one is refused.
#[utoipa::path(post, path = "/api/school/", tag = "school", security(("jwt" = [])), request_body = SchoolIn,
    responses((status = 201, body = SchoolOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_school(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Json(input): Json<SchoolIn>,
) -> ApiResult<(StatusCode, Json<SchoolOut>)> {
    if the_school(&db).await?.is_some() {
        return Err(ApiError::non_field(ONLY_ONE));
    }
    let v = validate(input, None, false)?;
    let now = kernel::time::now();
    let mut row = school::ActiveModel {
        id: Set(Uuid::new_v4()),
        singleton: Set(1),
        name: Set(String::new()),
        code: Set(None),
        description: Set(None),
        address: Set(None),
        phone: Set(None),
        email: Set(None),
        website: Set(None),
        logo: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        geofence_radius_m: Set(200),
        timezone: Set("UTC".into()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    apply(&mut row, v);
    let txn = kernel::db::begin_write(&db).await?;
    let created = row.insert(&txn).await.map_err(|e| {
        if kernel::error::is_unique_violation(&e, "singleton") {
            ApiError::non_field(ONLY_ONE)
        } else {
            e.into()
        }
    })?;
    let entry = Entry::new(&actor, Action::CREATE, "school", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out(&db, created).await?)))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    actor: &kernel::audit::Actor,
    id: Option<Uuid>,
    body: Result<Json<SchoolIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<SchoolOut>> {
    let existing = require(db).await?;
    if id.is_some_and(|id| id != existing.id) {
        return Err(ApiError::not_found());
    }
    let Json(input) = body?;
    let v = validate(input, Some(&existing), partial)?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: school::ActiveModel = existing.clone().into();
    apply(&mut row, v);
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(&txn).await?;
    let entry = Entry::new(actor, Action::UPDATE, "school", updated.id);
    let changes = kernel::audit::diff(&snapshot(&existing), &snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(out(db, updated).await?))
}

/// Replace the school's details (admin).
#[utoipa::path(put, path = "/api/school/", tag = "school", security(("jwt" = [])), request_body = SchoolIn,
    responses((status = 200, body = SchoolOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_school(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    body: Result<Json<SchoolIn>, ApiError>,
) -> ApiResult<Json<SchoolOut>> {
    update(&db, &actor, None, body, false).await
}

/// Change some of the school's details (admin).
#[utoipa::path(patch, path = "/api/school/", tag = "school", security(("jwt" = [])), request_body = SchoolIn,
    responses((status = 200, body = SchoolOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_school(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    body: Result<Json<SchoolIn>, ApiError>,
) -> ApiResult<Json<SchoolOut>> {
    update(&db, &actor, None, body, true).await
}

async fn put_school_by_id(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<SchoolIn>, ApiError>,
) -> ApiResult<Json<SchoolOut>> {
    update(&db, &actor, Some(id), body, false).await
}

async fn patch_school_by_id(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<SchoolIn>, ApiError>,
) -> ApiResult<Json<SchoolOut>> {
    update(&db, &actor, Some(id), body, true).await
}

/// The school is never deleted: 405.
#[utoipa::path(delete, path = "/api/school/", tag = "school", security(("jwt" = [])),
    responses((status = 405), (status = 401)))]
pub async fn delete_school(_me: Me) -> ApiError {
    ApiError::detailed(
        StatusCode::METHOD_NOT_ALLOWED,
        "The school cannot be deleted.",
        "method_not_allowed",
        json!({}),
    )
}

/// The logo upload's `multipart/form-data` body.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart body")]
pub struct LogoUpload {
    /// A PNG or JPEG image of at most 2 MB (also accepted as `image` or
    /// `file`).
    #[schema(schema_with = crate::sheets::file_schema, required = true)]
    logo: Vec<u8>,
}

/// Upload the school's logo (admin): multipart `logo` (or `image`/`file`),
/// PNG or JPEG by content, at most 2 MB. Replaces the previous one.
#[utoipa::path(post, path = "/api/school/logo/", tag = "school", security(("jwt" = [])),
    request_body(content_type = "multipart/form-data", content = LogoUpload),
    responses((status = 200, body = SchoolOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn upload_logo(
    axum::extract::State(state): axum::extract::State<AppState>,
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    body: FormBody,
) -> ApiResult<Json<SchoolOut>> {
    let existing = require(&db).await?;
    let file = ["logo", "image", "file"]
        .iter()
        .find_map(|name| body.files.get(*name))
        .ok_or_else(|| ApiError::field("logo", "No file was submitted."))?;
    let kind = file
        .validate(LOGO_MAX)
        .map_err(|message| ApiError::field("logo", message))?;
    if !matches!(kind, FileKind::Png | FileKind::Jpeg) {
        return Err(ApiError::field(
            "logo",
            "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
        ));
    }
    let name = state
        .storage
        .save("school", &file.bytes, kind)
        .await
        .map_err(ApiError::internal)?;
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: school::ActiveModel = existing.clone().into();
    row.logo = Set(Some(name.clone()));
    row.updated_at = Set(kernel::time::now());
    let updated = match row.update(&txn).await {
        Ok(updated) => updated,
        Err(e) => {
            state.storage.delete(&name).await;
            return Err(e.into());
        }
    };
    let entry = Entry::new(&actor, Action("upload_logo"), "school", updated.id);
    let changes = kernel::audit::diff(&snapshot(&existing), &snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    if let Some(old) = existing.logo {
        state.storage.delete(&old).await;
    }
    Ok(Json(out(&db, updated).await?))
}

/// The school's logo image (any signed-in user); 404 when none.
#[utoipa::path(get, path = "/api/school/logo/", tag = "school", security(("jwt" = [])),
    responses((status = 200, content_type = "image/png"), (status = 401), (status = 404)))]
pub async fn get_logo(
    axum::extract::State(state): axum::extract::State<AppState>,
    Db(db): Db,
    _me: Me,
) -> ApiResult<Response> {
    let name = require(&db).await?.logo.ok_or_else(ApiError::not_found)?;
    let bytes = state
        .storage
        .read(&name)
        .await
        .map_err(|_| ApiError::not_found())?;
    let kind = FileKind::sniff(&bytes).ok_or_else(ApiError::not_found)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind.content_type()),
            (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}
