//! `services/categories/`: kinds of service, unique by name.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{service, service_category};
use crate::rest::{self, List, Page};
use crate::state::AppState;

const MODEL: &str = "Service category";
const TRAIL: &str = "ServiceCategory";
const TAKEN: &str = "A service category with this name already exists.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories, create_category))
        .routes(routes!(categories_with_services))
        .routes(routes!(search_categories))
        .routes(routes!(
            get_category,
            put_category,
            patch_category,
            delete_category
        ))
        .routes(routes!(restore_category))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceCategoryOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub metadata: Value,
    pub service_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceBrief {
    pub id: String,
    pub name: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceCategoryWithServices {
    #[serde(flatten)]
    pub category: ServiceCategoryOut,
    pub services: Vec<ServiceBrief>,
}

/// Live services per category.
async fn counts(db: &impl ConnectionTrait, ids: &[String]) -> ApiResult<HashMap<String, u64>> {
    let rows: Vec<(String, i64)> = service::Entity::find()
        .select_only()
        .column(service::Column::CategoryId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(service::Column::CategoryId.is_in(ids.to_vec()))
        .filter(service::Column::DeletedAt.is_null())
        .group_by(service::Column::CategoryId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect())
}

async fn render(
    db: &impl ConnectionTrait,
    rows: Vec<service_category::Model>,
) -> ApiResult<Vec<ServiceCategoryOut>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts = counts(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| ServiceCategoryOut {
            service_count: counts.get(&r.id).copied().unwrap_or(0),
            id: r.id,
            name: r.name,
            description: r.description,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn render_one(
    db: &impl ConnectionTrait,
    row: service_category::Model,
) -> ApiResult<ServiceCategoryOut> {
    let mut out = render(db, vec![row]).await?;
    out.pop().ok_or_else(|| rest::not_found(MODEL))
}

fn live() -> sea_orm::Select<service_category::Entity> {
    service_category::Entity::find().filter(service_category::Column::DeletedAt.is_null())
}

async fn found(db: &impl ConnectionTrait, id: &str) -> ApiResult<service_category::Model> {
    let id = rest::path_id(id, MODEL)?;
    live()
        .filter(service_category::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

fn name_like(name: &str) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::expr(Func::lower(Expr::col(service_category::Column::Name)))
        .like(format!("%{}%", name.trim().to_lowercase()))
}

/// Service categories, a page at a time: search `name, description`;
/// ordering `name, created_at`.
#[utoipa::path(get, path = "/api/services/categories/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = Page<ServiceCategoryOut>)))]
pub async fn list_categories(
    Db(db): Db,
    _me: Me,
    list: List,
) -> ApiResult<Json<Page<ServiceCategoryOut>>> {
    let query = list.search(
        live(),
        &[
            Expr::col(service_category::Column::Name),
            Expr::col(service_category::Column::Description),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(service_category::Column::Name)),
            ("created_at", Expr::col(service_category::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        service_category::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// Every category with its services.
#[utoipa::path(get, path = "/api/services/categories/with_services/", tag = "services", security(("jwt" = [])),
    responses((status = 200, body = Vec<ServiceCategoryWithServices>)))]
pub async fn categories_with_services(
    Db(db): Db,
    _me: Me,
) -> ApiResult<Json<Vec<ServiceCategoryWithServices>>> {
    let rows = live()
        .order_by_asc(service_category::Column::Name)
        .order_by_asc(service_category::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let services = service::Entity::find()
        .filter(service::Column::CategoryId.is_in(ids))
        .filter(service::Column::DeletedAt.is_null())
        .order_by_asc(service::Column::Name)
        .all(&db)
        .await?;
    let mut by: HashMap<String, Vec<ServiceBrief>> = HashMap::new();
    for s in services {
        by.entry(s.category_id.clone())
            .or_default()
            .push(ServiceBrief {
                id: s.id,
                name: s.name,
                status: s.status,
            });
    }
    let out = render(&db, rows)
        .await?
        .into_iter()
        .map(|c| ServiceCategoryWithServices {
            services: by.remove(&c.id).unwrap_or_default(),
            category: c,
        })
        .collect();
    Ok(Json(out))
}

/// Categories whose name contains `name`.
#[utoipa::path(get, path = "/api/services/categories/search/", tag = "services", security(("jwt" = [])),
    params(("name" = Option<String>, Query)), responses((status = 200, body = Vec<ServiceCategoryOut>)))]
pub async fn search_categories(
    Db(db): Db,
    _me: Me,
    list: List,
) -> ApiResult<Json<Vec<ServiceCategoryOut>>> {
    let mut query = live();
    if let Some(name) = list.get("name") {
        query = query.filter(name_like(name));
    }
    let rows = query
        .order_by_asc(service_category::Column::Name)
        .order_by_asc(service_category::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    Ok(Json(render(&db, rows).await?))
}

/// One category.
#[utoipa::path(get, path = "/api/services/categories/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceCategoryOut)))]
pub async fn get_category(
    Db(db): Db,
    _me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceCategoryOut>> {
    let row = found(&db, &id).await?;
    Ok(Json(render_one(&db, row).await?))
}

/// A category's fields; `name` is unique among live categories (any case).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ServiceCategoryIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<service_category::Model>,
    input: ServiceCategoryIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ServiceCategoryOut>)> {
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 255);
    let description = c.optional_text("description", input.description, 5000);
    let metadata = rest::metadata(&mut c, input.metadata, current.is_none());
    if let Some(name) = &name {
        use sea_orm::sea_query::ExprTrait;
        let taken = live()
            .filter(
                Expr::expr(Func::lower(Expr::col(service_category::Column::Name)))
                    .eq(name.to_lowercase()),
            )
            .filter(match &current {
                Some(r) => Condition::all().add(service_category::Column::Id.ne(r.id.as_str())),
                None => Condition::all(),
            })
            .one(&**db)
            .await?;
        if taken.is_some() {
            c.error("name", TAKEN);
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service_category::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => service_category::ActiveModel {
            id: Set(kernel::cuid::new()),
            name: Set(String::new()),
            description: Set(None),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            tombstone: Set(String::new()),
        },
    };
    if let Some(v) = name {
        row.name = Set(v);
    }
    if let Some(v) = description {
        row.description = Set(v);
    }
    if let Some(v) = metadata {
        row.metadata = Set(v);
    }
    row.updated_at = Set(now);
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("name", TAKEN)
        } else {
            e.into()
        }
    };
    let saved = match &current {
        Some(_) => row.update(&txn).await.map_err(taken)?,
        None => row.insert(&txn).await.map_err(taken)?,
    };
    let (event, status) = Event::saved(
        TRAIL,
        &saved.id,
        current.as_ref().map(audit::snapshot),
        audit::snapshot(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    let out = render_one(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Creates a category (platform users).
#[utoipa::path(post, path = "/api/services/categories/", tag = "services", security(("jwt" = [])),
    request_body = ServiceCategoryIn, responses((status = 201, body = ServiceCategoryOut)))]
pub async fn create_category(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<ServiceCategoryIn>,
) -> ApiResult<(StatusCode, Json<ServiceCategoryOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a category (platform users).
#[utoipa::path(put, path = "/api/services/categories/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceCategoryIn, responses((status = 200, body = ServiceCategoryOut)))]
pub async fn put_category(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ServiceCategoryIn>, ApiError>,
) -> ApiResult<Json<ServiceCategoryOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a category's fields (platform users).
#[utoipa::path(patch, path = "/api/services/categories/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceCategoryIn, responses((status = 200, body = ServiceCategoryOut)))]
pub async fn patch_category(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<ServiceCategoryIn>, ApiError>,
) -> ApiResult<Json<ServiceCategoryOut>> {
    let current = found(&*db, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a category without live services (platform users).
#[utoipa::path(delete, path = "/api/services/categories/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_category(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = found(&db, &id).await?;
    let used = service::Entity::find()
        .filter(service::Column::CategoryId.eq(before.id.as_str()))
        .filter(service::Column::DeletedAt.is_null())
        .one(&db)
        .await?;
    if used.is_some() {
        return Err(rest::invalid_state(
            "Cannot delete a service category that has services",
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<service_category::Entity>(
        &txn,
        &me,
        &before.id,
        audit::snapshot(&before),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a category (platform users).
#[utoipa::path(post, path = "/api/services/categories/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceCategoryOut)))]
pub async fn restore_category(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceCategoryOut>> {
    let (txn, before, after) =
        rest::restore::<service_category::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
