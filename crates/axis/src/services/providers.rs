//! `services/providers/`: who delivers services (counsellors, clinics,
//! hotlines, coaches).

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::money::Money;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{service_provider, service_session};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Service provider";
const TRAIL: &str = "ServiceProvider";
pub const TYPES: Choices = Choices(&["Counselor", "Clinic", "Hotline", "Coach", "Other"]);
pub const STATUSES: Choices = Choices(&[
    "Active",
    "Inactive",
    "On Leave",
    "Terminated",
    "Suspended",
    "Resigned",
]);
const RATING_RANGE: &str = "Ensure this value is between 0 and 5.";

kernel::choices!(
    /// A provider's kind.
    pub ProviderType = TYPES.0
);
kernel::choices!(
    /// Where a provider stands.
    pub ProviderStatus = STATUSES.0
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers, create_provider))
        .routes(routes!(available_providers))
        .routes(routes!(search_providers))
        .routes(routes!(
            get_provider,
            put_provider,
            patch_provider,
            delete_provider
        ))
        .routes(routes!(verify_provider))
        .routes(routes!(update_provider_rating))
        .routes(routes!(restore_provider))
}

/// A provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderOut {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub provider_type: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub location: Option<String>,
    pub qualifications: Value,
    pub specializations: Value,
    pub availability: Value,
    /// 0 to 5, two places.
    pub rating: Money,
    pub is_verified: bool,
    pub status: String,
    pub metadata: Value,
    /// Active and verified.
    pub is_available: bool,
    pub sessions_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the audit trail keeps of a provider (the rating as text).
pub fn record(row: &service_provider::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["rating"] = json!(Money(i64::from(row.rating)).to_string());
    value
}

/// Whether `p` may take sessions.
pub fn is_available(p: &service_provider::Model) -> bool {
    p.status == "Active" && p.is_verified
}

async fn render(
    db: &impl ConnectionTrait,
    rows: Vec<service_provider::Model>,
) -> ApiResult<Vec<ProviderOut>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts: Vec<(String, i64)> = service_session::Entity::find()
        .select_only()
        .column(service_session::Column::ProviderId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(service_session::Column::ProviderId.is_in(ids))
        .filter(service_session::Column::DeletedAt.is_null())
        .group_by(service_session::Column::ProviderId)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|r| ProviderOut {
            is_available: is_available(&r),
            sessions_count: u64::try_from(counts.get(&r.id).copied().unwrap_or(0)).unwrap_or(0),
            rating: Money(i64::from(r.rating)),
            id: r.id,
            name: r.name,
            provider_type: r.provider_type,
            contact_email: r.contact_email,
            contact_phone: r.contact_phone,
            location: r.location,
            qualifications: r.qualifications,
            specializations: r.specializations,
            availability: r.availability,
            is_verified: r.is_verified,
            status: r.status,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn render_one(
    db: &impl ConnectionTrait,
    row: service_provider::Model,
) -> ApiResult<ProviderOut> {
    render(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

fn live() -> Select<service_provider::Entity> {
    service_provider::Entity::find().filter(service_provider::Column::DeletedAt.is_null())
}

pub(crate) async fn found(
    db: &impl ConnectionTrait,
    id: &str,
) -> ApiResult<service_provider::Model> {
    let id = rest::path_id(id, MODEL)?;
    live()
        .filter(service_provider::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn filtered(list: &List) -> ApiResult<Select<service_provider::Entity>> {
    let mut query = live();
    if let Some(name) = list.get("name") {
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(service_provider::Column::Name)))
                .like(format!("%{}%", name.trim().to_lowercase())),
        );
    }
    if let Some(t) = list.get("type") {
        query = query.filter(service_provider::Column::ProviderType.eq(TYPES.check("type", t)?));
    }
    if let Some(s) = list.get("status") {
        query = query.filter(service_provider::Column::Status.eq(STATUSES.check("status", s)?));
    }
    if let Some(v) = rest::flag(list, "is_verified")? {
        query = query.filter(service_provider::Column::IsVerified.eq(v));
    }
    Ok(query)
}

/// Providers, a page at a time: search `name, location`; filters `type,
/// status, is_verified`; ordering `name, rating, created_at`.
#[utoipa::path(get, path = "/api/services/providers/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("type" = inline(Option<ProviderType>), Query), ("status" = inline(Option<ProviderStatus>), Query),
        ("is_verified" = Option<bool>, Query)),
    responses((status = 200, body = Page<ProviderOut>)))]
pub async fn list_providers(Db(db): Db, _me: Me, list: List) -> ApiResult<Json<Page<ProviderOut>>> {
    let query = list.search(
        filtered(&list)?,
        &[
            Expr::col(service_provider::Column::Name),
            Expr::col(service_provider::Column::Location),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(service_provider::Column::Name)),
            ("rating", Expr::col(service_provider::Column::Rating)),
            ("created_at", Expr::col(service_provider::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        service_provider::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<service_provider::Entity>,
) -> ApiResult<Json<Vec<ProviderOut>>> {
    let rows = query
        .order_by_asc(service_provider::Column::Name)
        .order_by_asc(service_provider::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(render(db, rows).await?))
}

/// Available providers (Active and verified).
#[utoipa::path(get, path = "/api/services/providers/available/", tag = "services", security(("jwt" = [])),
    responses((status = 200, body = Vec<ProviderOut>)))]
pub async fn available_providers(Db(db): Db, _me: Me) -> ApiResult<Json<Vec<ProviderOut>>> {
    let query = live()
        .filter(service_provider::Column::Status.eq("Active"))
        .filter(service_provider::Column::IsVerified.eq(true));
    array(&db, query).await
}

/// Providers matching `name, type, status, is_verified`.
#[utoipa::path(get, path = "/api/services/providers/search/", tag = "services", security(("jwt" = [])),
    params(("name" = Option<String>, Query), ("type" = inline(Option<ProviderType>), Query),
        ("status" = inline(Option<ProviderStatus>), Query), ("is_verified" = Option<bool>, Query)),
    responses((status = 200, body = Vec<ProviderOut>)))]
pub async fn search_providers(
    Db(db): Db,
    _me: Me,
    list: List,
) -> ApiResult<Json<Vec<ProviderOut>>> {
    array(&db, filtered(&list)?).await
}

/// One provider.
#[utoipa::path(get, path = "/api/services/providers/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ProviderOut)))]
pub async fn get_provider(
    Db(db): Db,
    _me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderOut>> {
    let row = found(&db, &id).await?;
    Ok(Json(render_one(&db, row).await?))
}

/// A rating from 0 to 5 with at most two places, as a number or a string.
pub fn rating_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .maximum(Some(5.0))
                .multiple_of(Some(0.25)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(5(\\.0{1,2})?|[0-4](\\.[0-9]{1,2})?)$")),
        )
        .into()
}

fn type_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(TYPES.0)
}

fn status_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

/// A provider's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProviderIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    /// Other when left out.
    #[serde(default, rename = "type", alias = "provider_type")]
    #[schema(schema_with = type_schema, required = false)]
    provider_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::clients::schema::optional_email)]
    contact_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    contact_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    location: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::texts)]
    qualifications: Field<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::texts)]
    specializations: Field<Vec<String>>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    availability: Field<Value>,
    /// 0 to 5.
    #[serde(default)]
    #[schema(schema_with = rating_schema)]
    rating: Field<Money>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_verified: Field<bool>,
    /// Active when left out.
    #[serde(default)]
    #[schema(schema_with = status_schema, required = false)]
    status: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// A rating in hundredths, else an error on `rating`.
fn rating(c: &mut Checker, field: Field<Money>, creating: bool) -> Option<i32> {
    match field {
        Field::Absent => creating.then_some(0),
        Field::Null => {
            c.error("rating", kernel::form::NOT_NULL);
            None
        }
        Field::Value(m) if (0..=500).contains(&m.cents()) => i32::try_from(m.cents()).ok(),
        Field::Value(_) => {
            c.error("rating", RATING_RANGE);
            None
        }
    }
}

fn choice(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    choices: Choices,
    default: Option<&str>,
) -> Option<String> {
    match field {
        Field::Absent => default.map(str::to_owned),
        other => c.value(name, other).and_then(|v| match choices.parse(&v) {
            Some(s) => Some(s.to_owned()),
            None => {
                c.error(name, format!("\"{v}\" is not a valid choice."));
                None
            }
        }),
    }
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<service_provider::Model>,
    input: ProviderIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ProviderOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 255);
    let provider_type = choice(
        &mut c,
        "type",
        input.provider_type,
        TYPES,
        creating.then_some("Other"),
    );
    let contact_email =
        crate::persons::optional_email(&mut c, "contact_email", input.contact_email);
    let contact_phone = c.optional_text("contact_phone", input.contact_phone, 30);
    let location = c.optional_text("location", input.location, 255);
    let qualifications = crate::persons::texts(&mut c, "qualifications", input.qualifications)
        .or(creating.then(|| json!([])));
    let specializations = crate::persons::texts(&mut c, "specializations", input.specializations)
        .or(creating.then(|| json!([])));
    let availability = match input.availability {
        Field::Absent => creating.then(|| json!({})),
        Field::Null => Some(json!({})),
        Field::Value(v) if v.is_object() => Some(v),
        Field::Value(_) => {
            c.error("availability", "Value must be valid JSON object.");
            None
        }
    };
    let rating = rating(&mut c, input.rating, creating);
    let is_verified = c.boolean("is_verified", input.is_verified, false);
    let status = choice(
        &mut c,
        "status",
        input.status,
        STATUSES,
        creating.then_some("Active"),
    );
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service_provider::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => service_provider::ActiveModel {
            id: Set(kernel::cuid::new()),
            name: Set(String::new()),
            provider_type: Set("Other".into()),
            contact_email: Set(None),
            contact_phone: Set(None),
            location: Set(None),
            qualifications: Set(json!([])),
            specializations: Set(json!([])),
            availability: Set(json!({})),
            rating: Set(0),
            is_verified: Set(false),
            status: Set("Active".into()),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        },
    };
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    put!(
        name = name,
        provider_type = provider_type,
        contact_email = contact_email,
        contact_phone = contact_phone,
        location = location,
        qualifications = qualifications,
        specializations = specializations,
        availability = availability,
        rating = rating,
        is_verified = is_verified,
        status = status,
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let saved = match &current {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    let (event, status) = Event::saved(
        TRAIL,
        &saved.id,
        current.as_ref().map(record),
        record(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    let out = render_one(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Creates a provider (platform users).
#[utoipa::path(post, path = "/api/services/providers/", tag = "services", security(("jwt" = [])),
    request_body = ProviderIn, responses((status = 201, body = ProviderOut)))]
pub async fn create_provider(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<ProviderIn>,
) -> ApiResult<(StatusCode, Json<ProviderOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a provider (platform users).
#[utoipa::path(put, path = "/api/services/providers/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ProviderIn, responses((status = 200, body = ProviderOut)))]
pub async fn put_provider(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ProviderIn>, ApiError>,
) -> ApiResult<Json<ProviderOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a provider's fields (platform users).
#[utoipa::path(patch, path = "/api/services/providers/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ProviderIn, responses((status = 200, body = ProviderOut)))]
pub async fn patch_provider(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ProviderIn>, ApiError>,
) -> ApiResult<Json<ProviderOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a provider (platform users).
#[utoipa::path(delete, path = "/api/services/providers/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_provider(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = found(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<service_provider::Entity>(&txn, &me, &before.id, record(&before))
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a provider (platform users).
#[utoipa::path(post, path = "/api/services/providers/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ProviderOut)))]
pub async fn restore_provider(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderOut>> {
    let (txn, before, after) =
        rest::restore::<service_provider::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", TRAIL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Verifies a provider; audited as `Verify`.
#[utoipa::path(post, path = "/api/services/providers/{id}/verify/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ProviderOut)))]
pub async fn verify_provider(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderOut>> {
    let before = found(&db, &id).await?;
    if before.is_verified {
        return Err(rest::invalid_state("Provider is already verified"));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: service_provider::ActiveModel = before.clone().into();
    row.is_verified = Set(true);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let change = Change::updated(&record(&before), &record(&after));
    audit::record(
        &txn,
        Who::from(&me),
        Event::new("Verify", TRAIL, &after.id).change(change),
    )
    .await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProviderRatingIn {
    /// 0 to 5.
    #[serde(default)]
    #[schema(schema_with = rating_schema, required = true)]
    rating: Field<Money>,
}

/// Sets a provider's rating (0 to 5).
#[utoipa::path(post, path = "/api/services/providers/{id}/update_rating/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ProviderRatingIn, responses((status = 200, body = ProviderOut)))]
pub async fn update_provider_rating(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ProviderRatingIn>, ApiError>,
) -> ApiResult<Json<ProviderOut>> {
    let before = found(&db, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    if input.rating.is_absent() {
        c.error("rating", kernel::form::REQUIRED);
    }
    let value = rating(&mut c, input.rating, false);
    c.finish()?;
    let Some(value) = value else {
        return Err(ApiError::field("rating", kernel::form::REQUIRED));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: service_provider::ActiveModel = before.clone().into();
    row.rating = Set(value);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let change = Change::updated(&record(&before), &record(&after));
    audit::record(
        &txn,
        Who::from(&me),
        Event::new("Update", TRAIL, &after.id).change(change),
    )
    .await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
