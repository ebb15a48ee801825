//! KPI types and KPIs (axis contract §10). `kpi-types/` is read by everyone
//! signed in and written by platform users; `kpis/` is written by platform
//! users and read by scoped users where public and global or of a granted
//! client. `public/`, `global_kpis/` and `toggle_visibility`.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json, Scoped};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, NO_PERMISSION, Platform, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::clients::schema;
use crate::entities::{client, contract, kpi, kpi_type};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const TYPE_MODEL: &str = "KPI type";
const TYPE_TRAIL: &str = "KPIType";
const MODEL: &str = "KPI";

pub const UNIT_TYPES: Choices = Choices(&["Percentage", "Count", "Score", "Time"]);
pub const FREQUENCIES: Choices = Choices(&["Once", "Weekly", "Monthly", "Quarterly", "Annually"]);

const TYPE_TAKEN: &str = "A KPI type with this name already exists.";
pub const WRONG_CLIENT: &str = "Contract does not belong to this client";

kernel::choices!(
    /// How a KPI's value is expressed.
    pub UnitType = UNIT_TYPES.0
);

kernel::choices!(
    /// How often a KPI is measured.
    pub KpiFrequency = FREQUENCIES.0
);

/// Platform users see every live KPI; scoped users the public ones that
/// are global or of a granted client.
impl Scoped for kpi::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        let live = Condition::all().add(kpi::Column::DeletedAt.is_null());
        if me.is_platform() {
            return live;
        }
        live.add(kpi::Column::IsPublic.eq(true)).add(
            Condition::any()
                .add(kpi::Column::ClientId.is_null())
                .add(kpi::Column::ClientId.is_in(me.grants.clone())),
        )
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_kpi_types, create_kpi_type))
        .routes(routes!(
            get_kpi_type,
            put_kpi_type,
            patch_kpi_type,
            delete_kpi_type
        ))
        .routes(routes!(restore_kpi_type))
        .routes(routes!(list_kpis, create_kpi))
        .routes(routes!(public_kpis))
        .routes(routes!(global_kpis))
        .routes(routes!(get_kpi, put_kpi, patch_kpi, delete_kpi))
        .routes(routes!(toggle_visibility))
        .routes(routes!(restore_kpi))
}

/// 403 unless the caller is a platform user (a write on a visible row).
fn platform(me: &Me) -> ApiResult<()> {
    if me.is_platform() {
        Ok(())
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

// ================================================================ KPI types

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiTypeOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub weight: Option<i32>,
    pub metadata: Value,
    /// Live KPIs of this type the caller may see.
    pub kpi_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

async fn render_types(
    db: &impl ConnectionTrait,
    me: &Me,
    rows: Vec<kpi_type::Model>,
) -> ApiResult<Vec<KpiTypeOut>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts: Vec<(String, i64)> = kpi::Entity::visible(me)
        .select_only()
        .column(kpi::Column::TypeId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(kpi::Column::TypeId.is_in(ids))
        .group_by(kpi::Column::TypeId)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<String, u64> = counts
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| KpiTypeOut {
            kpi_count: counts.get(&r.id).copied().unwrap_or(0),
            id: r.id,
            name: r.name,
            description: r.description,
            weight: r.weight,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn one_type(
    db: &impl ConnectionTrait,
    me: &Me,
    row: kpi_type::Model,
) -> ApiResult<KpiTypeOut> {
    render_types(db, me, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(TYPE_MODEL))
}

async fn live_type(db: &impl ConnectionTrait, id: &str) -> ApiResult<kpi_type::Model> {
    let id = rest::path_id(id, TYPE_MODEL)?;
    kpi_type::Entity::find_by_id(id)
        .filter(kpi_type::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(TYPE_MODEL))
}

/// KPI types, a page at a time; search `name, description`; ordering
/// `name, weight, created_at`.
#[utoipa::path(get, path = "/api/kpi-types/", tag = "kpis", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = Page<KpiTypeOut>)))]
pub async fn list_kpi_types(Db(db): Db, me: Me, list: List) -> ApiResult<Json<Page<KpiTypeOut>>> {
    let query = kpi_type::Entity::find().filter(kpi_type::Column::DeletedAt.is_null());
    let query = list.search(
        query,
        &[
            Expr::col(kpi_type::Column::Name),
            Expr::col(kpi_type::Column::Description),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(kpi_type::Column::Name)),
            ("weight", Expr::col(kpi_type::Column::Weight)),
            ("created_at", Expr::col(kpi_type::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        kpi_type::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render_types(&db, &me, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// One KPI type.
#[utoipa::path(get, path = "/api/kpi-types/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = KpiTypeOut)))]
pub async fn get_kpi_type(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<KpiTypeOut>> {
    let row = live_type(&db, &id).await?;
    one_type(&db, &me, row).await.map(Json)
}

fn weight() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(kernel::form::schema::int(0, 1_000_000))
}

/// The writable fields of a KPI type; `name` is unique among live types
/// (case-insensitive).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct KpiTypeIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    /// A whole number, zero or more; null clears it.
    #[serde(default)]
    #[schema(schema_with = weight)]
    weight: Field<i64>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save_type(
    db: &kernel::Db,
    me: &Me,
    current: Option<kpi_type::Model>,
    input: KpiTypeIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<KpiTypeOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 255);
    let description = c.optional_text("description", input.description, 5000);
    let weight = match c.nullable(input.weight) {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) => c
            .patch_int("weight", Field::Value(w), 0, 1_000_000)
            .map(|w| i32::try_from(w).ok()),
    };
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    if let Some(name) = &name {
        let clash = kpi_type::Entity::find()
            .filter(kpi_type::Column::DeletedAt.is_null())
            .filter(
                Expr::expr(Func::lower(Expr::col(kpi_type::Column::Name))).eq(name.to_lowercase()),
            )
            .all(&**db)
            .await?
            .into_iter()
            .any(|t| Some(&t.id) != current.as_ref().map(|c| &c.id));
        if clash {
            c.error("name", TYPE_TAKEN);
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("name", TYPE_TAKEN)
        } else {
            e.into()
        }
    };
    let (row, action, change, status) = match current {
        None => {
            let row = kpi_type::ActiveModel {
                id: Set(kernel::cuid::new()),
                name: Set(name.unwrap_or_default()),
                description: Set(description.flatten()),
                weight: Set(weight.flatten()),
                metadata: Set(metadata.unwrap_or_else(|| json!({}))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                tombstone: Set(String::new()),
            }
            .insert(&txn)
            .await
            .map_err(taken)?;
            let change = Change::created(&row);
            (row, "Create", change, 201)
        }
        Some(before) => {
            let mut row: kpi_type::ActiveModel = before.clone().into();
            if let Some(v) = name {
                row.name = Set(v);
            }
            if let Some(v) = description {
                row.description = Set(v);
            }
            if let Some(v) = weight {
                row.weight = Set(v);
            }
            if let Some(v) = metadata {
                row.metadata = Set(v);
            }
            row.updated_at = Set(now);
            let after = row.update(&txn).await.map_err(taken)?;
            let change = Change::updated(&before, &after);
            (after, "Update", change, 200)
        }
    };
    let event = Event::new(action, TYPE_TRAIL, &row.id)
        .status(status)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = one_type(&txn, me, row).await?;
    txn.commit().await?;
    let status = if status == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// Creates a KPI type (platform users).
#[utoipa::path(post, path = "/api/kpi-types/", tag = "kpis", security(("jwt" = [])),
    request_body = KpiTypeIn, responses((status = 201, body = KpiTypeOut)))]
pub async fn create_kpi_type(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<KpiTypeIn>,
) -> ApiResult<(StatusCode, Json<KpiTypeOut>)> {
    save_type(&db, &me, None, input, false).await
}

/// Replaces a KPI type (platform users).
#[utoipa::path(put, path = "/api/kpi-types/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = KpiTypeIn, responses((status = 200, body = KpiTypeOut)))]
pub async fn put_kpi_type(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<KpiTypeIn>, ApiError>,
) -> ApiResult<Json<KpiTypeOut>> {
    let current = live_type(&*db, &id).await?;
    let Json(input) = input?;
    save_type(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a KPI type's fields (platform users).
#[utoipa::path(patch, path = "/api/kpi-types/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = KpiTypeIn, responses((status = 200, body = KpiTypeOut)))]
pub async fn patch_kpi_type(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    input: Result<Json<KpiTypeIn>, ApiError>,
) -> ApiResult<Json<KpiTypeOut>> {
    let current = live_type(&*db, &id).await?;
    let Json(input) = input?;
    save_type(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a KPI type (platform users); its KPIs keep their reference.
#[utoipa::path(delete, path = "/api/kpi-types/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_kpi_type(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = live_type(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<kpi_type::Entity>(&txn, &me, &before.id, audit::snapshot(&before))
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a KPI type (platform users).
#[utoipa::path(post, path = "/api/kpi-types/{id}/restore/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = KpiTypeOut)))]
pub async fn restore_kpi_type(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<KpiTypeOut>> {
    let (txn, before, after) =
        rest::restore::<kpi_type::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", TYPE_TRAIL, &after.id)
        .change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one_type(&txn, &me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

// ================================================================ KPIs

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub type_id: String,
    pub type_name: Option<String>,
    pub unit: String,
    #[schema(value_type = UnitType)]
    pub unit_type: String,
    pub target_value: Option<String>,
    pub calculation_method: Option<String>,
    #[schema(value_type = Option<KpiFrequency>)]
    pub frequency: Option<String>,
    pub is_public: bool,
    /// Null for a global KPI.
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub contract_id: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

async fn render(db: &impl ConnectionTrait, rows: Vec<kpi::Model>) -> ApiResult<Vec<KpiOut>> {
    let types: HashMap<String, String> = kpi_type::Entity::find()
        .filter(kpi_type::Column::Id.is_in(rows.iter().map(|r| r.type_id.clone())))
        .filter(kpi_type::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let clients: HashMap<String, String> = client::Entity::find()
        .filter(client::Column::Id.is_in(rows.iter().filter_map(|r| r.client_id.clone())))
        .filter(client::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| KpiOut {
            type_name: types.get(&r.type_id).cloned(),
            client_name: r.client_id.as_ref().and_then(|c| clients.get(c).cloned()),
            id: r.id,
            name: r.name,
            description: r.description,
            type_id: r.type_id,
            unit: r.unit,
            unit_type: r.unit_type,
            target_value: r.target_value,
            calculation_method: r.calculation_method,
            frequency: r.frequency,
            is_public: r.is_public,
            client_id: r.client_id,
            contract_id: r.contract_id,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn one(db: &impl ConnectionTrait, row: kpi::Model) -> ApiResult<KpiOut> {
    render(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

/// The KPIs the caller may see; with `X-Client-ID`, that client's and the
/// global ones.
fn scoped(me: &Me, selected: &SelectedClient) -> Select<kpi::Entity> {
    let query = kpi::Entity::visible(me);
    match &selected.0 {
        Some(id) => query.filter(
            Condition::any()
                .add(kpi::Column::ClientId.eq(id.as_str()))
                .add(kpi::Column::ClientId.is_null()),
        ),
        None => query,
    }
}

/// The KPI `id` if the caller may see it.
pub async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<kpi::Model> {
    let id = rest::path_id(id, MODEL)?;
    kpi::Entity::find_visible(db, me, id).await
}

/// KPIs, a page at a time: search `name, description, unit`; filters
/// `type_id` (alias `type`), `client_id` (alias `client`), `contract_id`,
/// `unit_type`, `frequency`, `is_public`; ordering `name, created_at`.
#[utoipa::path(get, path = "/api/kpis/", tag = "kpis", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("type_id" = Option<String>, Query),
        ("client_id" = Option<String>, Query), ("contract_id" = Option<String>, Query),
        ("unit_type" = inline(Option<UnitType>), Query), ("frequency" = inline(Option<KpiFrequency>), Query),
        ("is_public" = Option<bool>, Query)),
    responses((status = 200, body = Page<KpiOut>)))]
pub async fn list_kpis(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<KpiOut>>> {
    let mut query = scoped(&me, &selected);
    if let Some(v) = list.get("type_id").or(list.get("type")) {
        query = query.filter(kpi::Column::TypeId.eq(v.trim()));
    }
    if let Some(v) = list.get("client_id").or(list.get("client")) {
        query = query.filter(kpi::Column::ClientId.eq(v.trim()));
    }
    if let Some(v) = list.get("contract_id").or(list.get("contract")) {
        query = query.filter(kpi::Column::ContractId.eq(v.trim()));
    }
    if let Some(v) = list.get("unit_type") {
        query = query.filter(kpi::Column::UnitType.eq(UNIT_TYPES.check("unit_type", v)?));
    }
    if let Some(v) = list.get("frequency") {
        query = query.filter(kpi::Column::Frequency.eq(FREQUENCIES.check("frequency", v)?));
    }
    if let Some(v) = rest::flag(&list, "is_public")? {
        query = query.filter(kpi::Column::IsPublic.eq(v));
    }
    let query = list.search(
        query,
        &[
            Expr::col(kpi::Column::Name),
            Expr::col(kpi::Column::Description),
            Expr::col(kpi::Column::Unit),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(kpi::Column::Name)),
            ("created_at", Expr::col(kpi::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        kpi::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<kpi::Entity>,
) -> ApiResult<Json<Vec<KpiOut>>> {
    let rows = query
        .order_by_asc(kpi::Column::Name)
        .order_by_asc(kpi::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(render(db, rows).await?))
}

/// Public KPIs.
#[utoipa::path(get, path = "/api/kpis/public/", tag = "kpis", security(("jwt" = [])),
    responses((status = 200, body = Vec<KpiOut>)))]
pub async fn public_kpis(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<KpiOut>>> {
    let query = scoped(&me, &selected).filter(kpi::Column::IsPublic.eq(true));
    array(&db, query).await
}

/// Global KPIs (no client).
#[utoipa::path(get, path = "/api/kpis/global_kpis/", tag = "kpis", security(("jwt" = [])),
    responses((status = 200, body = Vec<KpiOut>)))]
pub async fn global_kpis(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<KpiOut>>> {
    let query = scoped(&me, &selected).filter(kpi::Column::ClientId.is_null());
    array(&db, query).await
}

/// One KPI.
#[utoipa::path(get, path = "/api/kpis/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = KpiOut)))]
pub async fn get_kpi(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<KpiOut>> {
    let row = visible(&db, &me, &id).await?;
    one(&db, row).await.map(Json)
}

fn unit_type() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(UNIT_TYPES.0)
}

fn frequency() -> utoipa::openapi::schema::Schema {
    schema::optional_choice(FREQUENCIES.0)
}

/// The writable fields of a KPI. `contract_id` must belong to `client_id`;
/// given alone it sets the client.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct KpiIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    /// A live KPI type (alias `type`).
    #[serde(default, alias = "type")]
    #[schema(schema_with = schema::cuid, required = true)]
    type_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    unit: Field<String>,
    #[serde(default)]
    #[schema(schema_with = unit_type, required = true)]
    unit_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    target_value: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    calculation_method: Field<String>,
    #[serde(default)]
    #[schema(schema_with = frequency)]
    frequency: Field<String>,
    /// True when left out.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_public: Field<bool>,
    /// A client the caller may see (alias `client`); null for a global KPI.
    #[serde(default, alias = "client")]
    #[schema(schema_with = schema::optional_cuid)]
    client_id: Field<String>,
    /// A live contract of the client (alias `contract`).
    #[serde(default, alias = "contract")]
    #[schema(schema_with = schema::optional_cuid)]
    contract_id: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<kpi::Model>,
    input: KpiIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<KpiOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 255);
    let description = c.optional_text("description", input.description, 5000);
    let type_id = c
        .value("type_id", input.type_id)
        .map(|v| v.trim().to_owned());
    let unit = c.text("unit", input.unit, 100);
    let unit_type = rest::required_choice(&mut c, "unit_type", input.unit_type, UNIT_TYPES);
    let target = c.optional_text("target_value", input.target_value, 255);
    let method = c.optional_text("calculation_method", input.calculation_method, 5000);
    let frequency = rest::optional_choice(&mut c, "frequency", input.frequency, FREQUENCIES);
    let is_public = c.boolean("is_public", input.is_public, true);
    let mut client_id = c.optional_text("client_id", input.client_id, 64);
    let contract_id = c.optional_text("contract_id", input.contract_id, 64);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    if let Some(id) = &type_id {
        let live = kpi_type::Entity::find_by_id(id.clone())
            .filter(kpi_type::Column::DeletedAt.is_null())
            .one(&**db)
            .await?;
        if live.is_none() {
            c.error("type_id", rest::invalid_pk_message(id));
        }
    }
    if let Some(Some(id)) = &client_id
        && client::Entity::find_visible(&**db, me, id.clone())
            .await
            .is_err()
    {
        c.error("client_id", rest::invalid_pk_message(id));
    }
    if let Some(Some(id)) = &contract_id {
        match contract::Entity::find_visible(&**db, me, id.clone()).await {
            Err(_) => c.error("contract_id", rest::invalid_pk_message(id)),
            // Alone (or with a null client), the contract sets the client.
            Ok(found) => match &client_id {
                None | Some(None) => client_id = Some(Some(found.client_id)),
                Some(Some(client)) if *client != found.client_id => {
                    if !c.has_error("client_id") {
                        c.error("contract_id", WRONG_CLIENT);
                    }
                }
                Some(Some(_)) => {}
            },
        }
    } else if contract_id.is_none()
        && let (Some(row), Some(new_client)) = (&current, &client_id)
        && let Some(kept) = &row.contract_id
        && let Some(found) = contract::Entity::find_by_id(kept.clone())
            .one(&**db)
            .await?
        && new_client.as_deref() != Some(found.client_id.as_str())
        && !c.has_error("client_id")
    {
        // The contract kept must still belong to the (new) client.
        c.error("contract_id", WRONG_CLIENT);
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let (row, action, change, status) = match &current {
        None => {
            let row = kpi::ActiveModel {
                id: Set(kernel::cuid::new()),
                name: Set(name.unwrap_or_default()),
                description: Set(description.flatten()),
                type_id: Set(type_id.unwrap_or_default()),
                unit: Set(unit.unwrap_or_default()),
                unit_type: Set(unit_type.unwrap_or("Count").to_owned()),
                target_value: Set(target.flatten()),
                calculation_method: Set(method.flatten()),
                frequency: Set(frequency.flatten()),
                is_public: Set(is_public.unwrap_or(true)),
                client_id: Set(client_id.flatten()),
                contract_id: Set(contract_id.flatten()),
                metadata: Set(metadata.unwrap_or_else(|| json!({}))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
            }
            .insert(&txn)
            .await?;
            let change = Change::created(&row);
            (row, "Create", change, 201)
        }
        Some(before) => {
            let mut row: kpi::ActiveModel = before.clone().into();
            macro_rules! put {
                ($($field:ident = $value:expr),* $(,)?) => {
                    $(if let Some(v) = $value { row.$field = Set(v); })*
                };
            }
            put!(
                name = name,
                description = description,
                type_id = type_id,
                unit = unit,
                unit_type = unit_type.map(str::to_owned),
                target_value = target,
                calculation_method = method,
                frequency = frequency,
                is_public = is_public,
                client_id = client_id,
                contract_id = contract_id,
                metadata = metadata,
            );
            row.updated_at = Set(now);
            let after = row.update(&txn).await?;
            let change = Change::updated(before, &after);
            (after, "Update", change, 200)
        }
    };
    let event = Event::new(action, MODEL, &row.id)
        .status(status)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = one(&txn, row).await?;
    txn.commit().await?;
    let status = if status == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// The KPI `id` for a write: 404 unless visible, 403 unless platform.
async fn writable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<kpi::Model> {
    let row = visible(db, me, id).await?;
    platform(me)?;
    Ok(row)
}

/// Creates a KPI (platform users).
#[utoipa::path(post, path = "/api/kpis/", tag = "kpis", security(("jwt" = [])),
    request_body = KpiIn, responses((status = 201, body = KpiOut)))]
pub async fn create_kpi(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<KpiIn>,
) -> ApiResult<(StatusCode, Json<KpiOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a KPI (platform users).
#[utoipa::path(put, path = "/api/kpis/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = KpiIn, responses((status = 200, body = KpiOut)))]
pub async fn put_kpi(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<KpiIn>, ApiError>,
) -> ApiResult<Json<KpiOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a KPI's fields (platform users).
#[utoipa::path(patch, path = "/api/kpis/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = KpiIn, responses((status = 200, body = KpiOut)))]
pub async fn patch_kpi(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<KpiIn>, ApiError>,
) -> ApiResult<Json<KpiOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a KPI (platform users).
#[utoipa::path(delete, path = "/api/kpis/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_kpi(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<kpi::Entity>(&txn, &me, &before.id, audit::snapshot(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Flips whether a KPI is public (platform users).
#[utoipa::path(post, path = "/api/kpis/{id}/toggle_visibility/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = KpiOut)))]
pub async fn toggle_visibility(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<KpiOut>> {
    let found = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = kpi::Entity::find_by_id(found.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    let mut row: kpi::ActiveModel = before.clone().into();
    row.is_public = Set(!before.is_public);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::updated(&before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Undeletes a KPI (platform users).
#[utoipa::path(post, path = "/api/kpis/{id}/restore/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = KpiOut)))]
pub async fn restore_kpi(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<KpiOut>> {
    let (txn, before, after) = rest::restore::<kpi::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", MODEL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
