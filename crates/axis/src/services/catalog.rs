//! `services/services/`: the services of the catalogue.

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
use crate::entities::{service, service_category, service_provider};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Service";
pub const STATUSES: Choices = Choices(&["Active", "Inactive", "Pending", "Archived"]);

kernel::choices!(
    /// Where a service stands.
    pub ServiceStatus = STATUSES.0
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(available_services))
        .routes(routes!(service_catalog))
        .routes(routes!(search_services))
        .routes(routes!(
            get_service,
            put_service,
            patch_service,
            delete_service
        ))
        .routes(routes!(activate_service))
        .routes(routes!(deactivate_service))
        .routes(routes!(restore_service))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceCategoryRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceProviderRef {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub provider_type: String,
}

/// A service in lists and queries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceItem {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub category_id: String,
    pub category_name: Option<String>,
    pub status: String,
    /// Minutes.
    pub duration: Option<i32>,
    pub capacity: i32,
    pub prerequisites: Option<String>,
    pub is_public: bool,
    pub price: Option<Money>,
    pub service_provider_id: Option<String>,
    pub provider_name: Option<String>,
    pub metadata: Value,
    /// Active.
    pub is_available: bool,
    /// Capacity above 1.
    pub is_group_service: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One service with its category and provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceOut {
    #[serde(flatten)]
    pub item: ServiceItem,
    pub category: Option<ServiceCategoryRef>,
    pub service_provider: Option<ServiceProviderRef>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the audit trail keeps of a service (money as text).
pub fn record(row: &service::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["price"] = json!(row.price.map(|c| Money(c).to_string()));
    value
}

struct Related {
    categories: HashMap<String, service_category::Model>,
    providers: HashMap<String, service_provider::Model>,
}

async fn related(db: &impl ConnectionTrait, rows: &[service::Model]) -> ApiResult<Related> {
    let categories = service_category::Entity::find()
        .filter(service_category::Column::Id.is_in(rows.iter().map(|r| r.category_id.clone())))
        .filter(service_category::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let providers = service_provider::Entity::find()
        .filter(
            service_provider::Column::Id
                .is_in(rows.iter().filter_map(|r| r.service_provider_id.clone())),
        )
        .filter(service_provider::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Ok(Related {
        categories,
        providers,
    })
}

fn item(rel: &Related, r: &service::Model) -> ServiceItem {
    ServiceItem {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        category_id: r.category_id.clone(),
        category_name: rel.categories.get(&r.category_id).map(|c| c.name.clone()),
        status: r.status.clone(),
        duration: r.duration,
        capacity: r.capacity,
        prerequisites: r.prerequisites.clone(),
        is_public: r.is_public,
        price: r.price.map(Money),
        service_provider_id: r.service_provider_id.clone(),
        provider_name: r
            .service_provider_id
            .as_ref()
            .and_then(|p| rel.providers.get(p))
            .map(|p| p.name.clone()),
        metadata: r.metadata.clone(),
        is_available: r.status == "Active",
        is_group_service: r.capacity > 1,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<service::Model>,
) -> ApiResult<Vec<ServiceItem>> {
    let rel = related(db, &rows).await?;
    Ok(rows.iter().map(|r| item(&rel, r)).collect())
}

async fn detail(db: &impl ConnectionTrait, row: service::Model) -> ApiResult<ServiceOut> {
    let rel = related(db, std::slice::from_ref(&row)).await?;
    Ok(ServiceOut {
        item: item(&rel, &row),
        category: rel
            .categories
            .get(&row.category_id)
            .map(|c| ServiceCategoryRef {
                id: c.id.clone(),
                name: c.name.clone(),
            }),
        service_provider: row
            .service_provider_id
            .as_ref()
            .and_then(|p| rel.providers.get(p))
            .map(|p| ServiceProviderRef {
                id: p.id.clone(),
                name: p.name.clone(),
                provider_type: p.provider_type.clone(),
            }),
        deleted_at: row.deleted_at,
    })
}

fn live() -> Select<service::Entity> {
    service::Entity::find().filter(service::Column::DeletedAt.is_null())
}

async fn found(db: &impl ConnectionTrait, id: &str) -> ApiResult<service::Model> {
    let id = rest::path_id(id, MODEL)?;
    live()
        .filter(service::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn filtered(list: &List) -> ApiResult<Select<service::Entity>> {
    let mut query = live();
    if let Some(name) = list.get("name") {
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(service::Column::Name)))
                .like(format!("%{}%", name.trim().to_lowercase())),
        );
    }
    if let Some(v) = list.get("category_id").or(list.get("category")) {
        query = query.filter(service::Column::CategoryId.eq(v.trim()));
    }
    if let Some(v) = list.get("service_provider_id") {
        query = query.filter(service::Column::ServiceProviderId.eq(v.trim()));
    }
    if let Some(s) = list.get("status") {
        query = query.filter(service::Column::Status.eq(STATUSES.check("status", s)?));
    }
    if let Some(v) = rest::flag(list, "is_public")? {
        query = query.filter(service::Column::IsPublic.eq(v));
    }
    Ok(query)
}

/// Services, a page at a time: search `name, description`; filters
/// `category_id, status, is_public, service_provider_id`; ordering `name,
/// created_at, price`.
#[utoipa::path(get, path = "/api/services/services/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("category_id" = Option<String>, Query),
        ("status" = inline(Option<ServiceStatus>), Query), ("is_public" = Option<bool>, Query),
        ("service_provider_id" = Option<String>, Query)),
    responses((status = 200, body = Page<ServiceItem>)))]
pub async fn list_services(Db(db): Db, _me: Me, list: List) -> ApiResult<Json<Page<ServiceItem>>> {
    let query = list.search(
        filtered(&list)?,
        &[
            Expr::col(service::Column::Name),
            Expr::col(service::Column::Description),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(service::Column::Name)),
            ("created_at", Expr::col(service::Column::CreatedAt)),
            ("price", Expr::col(service::Column::Price)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        service::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = items(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<service::Entity>,
) -> ApiResult<Json<Vec<ServiceItem>>> {
    let rows = query
        .order_by_asc(service::Column::Name)
        .order_by_asc(service::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, rows).await?))
}

/// Available (Active) services.
#[utoipa::path(get, path = "/api/services/services/available/", tag = "services", security(("jwt" = [])),
    responses((status = 200, body = Vec<ServiceItem>)))]
pub async fn available_services(Db(db): Db, _me: Me) -> ApiResult<Json<Vec<ServiceItem>>> {
    array(&db, live().filter(service::Column::Status.eq("Active"))).await
}

/// The public catalogue: public and available services.
#[utoipa::path(get, path = "/api/services/services/catalog/", tag = "services", security(("jwt" = [])),
    responses((status = 200, body = Vec<ServiceItem>)))]
pub async fn service_catalog(Db(db): Db, _me: Me) -> ApiResult<Json<Vec<ServiceItem>>> {
    let query = live()
        .filter(service::Column::Status.eq("Active"))
        .filter(service::Column::IsPublic.eq(true));
    array(&db, query).await
}

/// Services matching `name, category_id, status, is_public`.
#[utoipa::path(get, path = "/api/services/services/search/", tag = "services", security(("jwt" = [])),
    params(("name" = Option<String>, Query), ("category_id" = Option<String>, Query),
        ("status" = inline(Option<ServiceStatus>), Query), ("is_public" = Option<bool>, Query)),
    responses((status = 200, body = Vec<ServiceItem>)))]
pub async fn search_services(Db(db): Db, _me: Me, list: List) -> ApiResult<Json<Vec<ServiceItem>>> {
    array(&db, filtered(&list)?).await
}

/// One service.
#[utoipa::path(get, path = "/api/services/services/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceOut)))]
pub async fn get_service(
    Db(db): Db,
    _me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceOut>> {
    let row = found(&db, &id).await?;
    Ok(Json(detail(&db, row).await?))
}

fn status_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

/// A service's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ServiceIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    /// A live category (alias `category`).
    #[serde(default, alias = "category")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    category_id: Field<String>,
    /// Active when left out.
    #[serde(default)]
    #[schema(schema_with = status_schema, required = false)]
    status: Field<String>,
    /// Minutes (alias `duration_minutes`).
    #[serde(default, alias = "duration_minutes")]
    #[schema(schema_with = crate::persons::schema::optional_int::<1, 100000>)]
    duration: Field<i64>,
    /// 1 when left out.
    #[serde(default)]
    #[schema(schema_with = capacity_schema)]
    capacity: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    prerequisites: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_public: Field<bool>,
    /// Alias `default_price`.
    #[serde(default, alias = "default_price")]
    #[schema(schema_with = crate::persons::schema::optional_amount)]
    price: Field<Money>,
    /// A live provider (alias `service_provider`).
    #[serde(default, alias = "service_provider")]
    #[schema(schema_with = crate::clients::schema::optional_cuid)]
    service_provider_id: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

fn capacity_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::int(1, 100_000)
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<service::Model>,
    input: ServiceIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ServiceOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 255);
    let description = c.optional_text("description", input.description, 5000);
    let category = super::required_id(&mut c, "category_id", input.category_id);
    let status = match input.status {
        Field::Absent => creating.then(|| "Active".to_owned()),
        other => c
            .value("status", other)
            .and_then(|v| match STATUSES.parse(&v) {
                Some(s) => Some(s.to_owned()),
                None => {
                    c.error("status", format!("\"{v}\" is not a valid choice."));
                    None
                }
            }),
    };
    let duration = match input.duration {
        Field::Absent => None,
        Field::Null => Some(None),
        other => c.int("duration", other, 1, 100_000).map(Some),
    };
    let capacity = match input.capacity {
        Field::Absent => creating.then_some(1),
        other => c.int("capacity", other, 1, 100_000),
    };
    let prerequisites = c.optional_text("prerequisites", input.prerequisites, 5000);
    let is_public = c.boolean("is_public", input.is_public, true);
    let price = match input.price {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(m) if m.cents() < 0 => {
            c.error("price", "Ensure this value is greater than or equal to 0.");
            None
        }
        Field::Value(m) => Some(Some(m.cents())),
    };
    let provider = super::optional_id(&mut c, "service_provider_id", input.service_provider_id);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    let category = super::foreign::<service_category::Entity>(
        &**db,
        &mut c,
        "category_id",
        category,
        service_category::Column::DeletedAt,
    )
    .await?;
    let provider = super::foreign::<service_provider::Entity>(
        &**db,
        &mut c,
        "service_provider_id",
        provider,
        service_provider::Column::DeletedAt,
    )
    .await?;
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => service::ActiveModel {
            id: Set(kernel::cuid::new()),
            name: Set(String::new()),
            description: Set(None),
            category_id: Set(String::new()),
            status: Set("Active".into()),
            duration: Set(None),
            capacity: Set(1),
            prerequisites: Set(None),
            is_public: Set(true),
            price: Set(None),
            service_provider_id: Set(None),
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
        description = description,
        category_id = category.flatten().map(|c| c.id),
        status = status,
        duration = duration.map(|d| d.map(|d| i32::try_from(d).unwrap_or(1))),
        capacity = capacity.map(|v| i32::try_from(v).unwrap_or(1)),
        prerequisites = prerequisites,
        is_public = is_public,
        price = price,
        service_provider_id = provider.map(|p| p.map(|p| p.id)),
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let saved = match &current {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    let (event, status) = Event::saved(
        MODEL,
        &saved.id,
        current.as_ref().map(record),
        record(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Creates a service (platform users).
#[utoipa::path(post, path = "/api/services/services/", tag = "services", security(("jwt" = [])),
    request_body = ServiceIn, responses((status = 201, body = ServiceOut)))]
pub async fn create_service(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<ServiceIn>,
) -> ApiResult<(StatusCode, Json<ServiceOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a service (platform users).
#[utoipa::path(put, path = "/api/services/services/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceIn, responses((status = 200, body = ServiceOut)))]
pub async fn put_service(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ServiceIn>, ApiError>,
) -> ApiResult<Json<ServiceOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a service's fields (platform users).
#[utoipa::path(patch, path = "/api/services/services/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceIn, responses((status = 200, body = ServiceOut)))]
pub async fn patch_service(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ServiceIn>, ApiError>,
) -> ApiResult<Json<ServiceOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a service (platform users).
#[utoipa::path(delete, path = "/api/services/services/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_service(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = found(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<service::Entity>(&txn, &me, &before.id, record(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a service (platform users).
#[utoipa::path(post, path = "/api/services/services/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceOut)))]
pub async fn restore_service(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceOut>> {
    let (txn, before, after) = rest::restore::<service::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

async fn set_status(
    db: &kernel::Db,
    me: &Me,
    id: &str,
    to: &'static str,
    change_type: &'static str,
) -> ApiResult<Json<ServiceOut>> {
    let before = found(&**db, id).await?;
    if before.status == to {
        return Err(rest::invalid_state(format!("Service is already {to}")));
    }
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service::ActiveModel = before.clone().into();
    row.status = Set(to.to_owned());
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let change = Change::action(change_type, &record(&before), &record(&after));
    audit::record(
        &txn,
        Who::from(me),
        Event::new("Update", MODEL, &after.id).change(change),
    )
    .await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Makes a service Active (platform users).
#[utoipa::path(post, path = "/api/services/services/{id}/activate/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceOut)))]
pub async fn activate_service(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceOut>> {
    set_status(&db, &me, &id, "Active", "Activate").await
}

/// Makes a service Inactive (platform users).
#[utoipa::path(post, path = "/api/services/services/{id}/deactivate/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceOut)))]
pub async fn deactivate_service(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceOut>> {
    set_status(&db, &me, &id, "Inactive", "Deactivate").await
}
