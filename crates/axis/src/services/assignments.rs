//! `services/assignments/`: services assigned to clients, under one of the
//! client's contracts. Read on granted clients; written by platform users.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::NaiveDate;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json, Scoped};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, contract, service, service_assignment};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Service assignment";
const TRAIL: &str = "ServiceAssignment";
pub const STATUSES: Choices = Choices(&["Pending", "Ongoing", "Completed", "Cancelled"]);
pub const FREQUENCIES: Choices = Choices(&["Once", "Weekly", "Monthly", "Quarterly", "Annually"]);
const NOT_THE_CLIENTS: &str = "Contract does not belong to specified client";
const END_BEFORE_START: &str = "End date cannot be before the start date.";

kernel::choices!(
    /// Where an assignment stands.
    pub ServiceAssignmentStatus = STATUSES.0
);

impl Scoped for service_assignment::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        Condition::all()
            .add(service_assignment::Column::DeletedAt.is_null())
            .add(me.client_condition(service_assignment::Column::ClientId))
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_assignments, create_assignment))
        .routes(routes!(current_assignments))
        .routes(routes!(assignments_of_client))
        .routes(routes!(search_assignments))
        .routes(routes!(
            get_assignment,
            put_assignment,
            patch_assignment,
            delete_assignment
        ))
        .routes(routes!(restore_assignment))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentContractRef {
    pub id: String,
    pub contract_number: String,
}

/// An assignment in lists and queries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceAssignmentItem {
    pub id: String,
    pub service_id: String,
    pub service_name: Option<String>,
    pub contract_id: Option<String>,
    pub contract_number: Option<String>,
    pub client_id: String,
    pub client_name: Option<String>,
    pub status: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub frequency: Option<String>,
    pub metadata: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One assignment with its service, contract and client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceAssignmentOut {
    #[serde(flatten)]
    pub item: ServiceAssignmentItem,
    pub service: Option<AssignmentRef>,
    pub contract: Option<AssignmentContractRef>,
    pub client: Option<AssignmentRef>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

struct Related {
    services: HashMap<String, String>,
    contracts: HashMap<String, String>,
    clients: HashMap<String, String>,
}

async fn related(
    db: &impl ConnectionTrait,
    rows: &[service_assignment::Model],
) -> ApiResult<Related> {
    let services: Vec<(String, String)> = service::Entity::find()
        .select_only()
        .column(service::Column::Id)
        .column(service::Column::Name)
        .filter(service::Column::Id.is_in(rows.iter().map(|r| r.service_id.clone())))
        .filter(service::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let contracts: Vec<(String, String)> = contract::Entity::find()
        .select_only()
        .column(contract::Column::Id)
        .column(contract::Column::ContractNumber)
        .filter(contract::Column::Id.is_in(rows.iter().filter_map(|r| r.contract_id.clone())))
        .filter(contract::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let clients: Vec<(String, String)> = client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .column(client::Column::Name)
        .filter(client::Column::Id.is_in(rows.iter().map(|r| r.client_id.clone())))
        .filter(client::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(Related {
        services: services.into_iter().collect(),
        contracts: contracts.into_iter().collect(),
        clients: clients.into_iter().collect(),
    })
}

fn item(rel: &Related, r: &service_assignment::Model) -> ServiceAssignmentItem {
    ServiceAssignmentItem {
        id: r.id.clone(),
        service_id: r.service_id.clone(),
        service_name: rel.services.get(&r.service_id).cloned(),
        contract_id: r.contract_id.clone(),
        contract_number: r
            .contract_id
            .as_ref()
            .and_then(|c| rel.contracts.get(c))
            .cloned(),
        client_id: r.client_id.clone(),
        client_name: rel.clients.get(&r.client_id).cloned(),
        status: r.status.clone(),
        start_date: r.start_date,
        end_date: r.end_date,
        frequency: r.frequency.clone(),
        metadata: r.metadata.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<service_assignment::Model>,
) -> ApiResult<Vec<ServiceAssignmentItem>> {
    let rel = related(db, &rows).await?;
    Ok(rows.iter().map(|r| item(&rel, r)).collect())
}

async fn detail(
    db: &impl ConnectionTrait,
    row: service_assignment::Model,
) -> ApiResult<ServiceAssignmentOut> {
    let rel = related(db, std::slice::from_ref(&row)).await?;
    let it = item(&rel, &row);
    Ok(ServiceAssignmentOut {
        service: it.service_name.clone().map(|name| AssignmentRef {
            id: row.service_id.clone(),
            name,
        }),
        contract: match (&row.contract_id, &it.contract_number) {
            (Some(id), Some(number)) => Some(AssignmentContractRef {
                id: id.clone(),
                contract_number: number.clone(),
            }),
            _ => None,
        },
        client: it.client_name.clone().map(|name| AssignmentRef {
            id: row.client_id.clone(),
            name,
        }),
        item: it,
        deleted_at: row.deleted_at,
    })
}

fn filtered(
    me: &Me,
    selected: &SelectedClient,
    list: &List,
) -> ApiResult<Select<service_assignment::Entity>> {
    let mut query = service_assignment::Entity::visible(me);
    if let Some(c) = &selected.0 {
        query = query.filter(service_assignment::Column::ClientId.eq(c.as_str()));
    }
    if let Some(v) = list.get("client_id").or(list.get("client")) {
        query = query.filter(service_assignment::Column::ClientId.eq(v.trim()));
    }
    if let Some(v) = list.get("service_id").or(list.get("service")) {
        query = query.filter(service_assignment::Column::ServiceId.eq(v.trim()));
    }
    if let Some(v) = list.get("contract_id").or(list.get("contract")) {
        query = query.filter(service_assignment::Column::ContractId.eq(v.trim()));
    }
    if let Some(s) = list.get("status") {
        query = query.filter(service_assignment::Column::Status.eq(STATUSES.check("status", s)?));
    }
    Ok(query)
}

/// Assignments, a page at a time: filters `client_id, service_id,
/// contract_id, status`; ordering `start_date, end_date, created_at`;
/// narrowed to `X-Client-ID`.
#[utoipa::path(get, path = "/api/services/assignments/", tag = "services", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("ordering" = Option<String>, Query), ("client_id" = Option<String>, Query), ("service_id" = Option<String>, Query),
        ("contract_id" = Option<String>, Query), ("status" = inline(Option<ServiceAssignmentStatus>), Query)),
    responses((status = 200, body = Page<ServiceAssignmentItem>)))]
pub async fn list_assignments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<ServiceAssignmentItem>>> {
    let query = list.order(
        filtered(&me, &selected, &list)?,
        &[
            (
                "start_date",
                Expr::col(service_assignment::Column::StartDate),
            ),
            ("end_date", Expr::col(service_assignment::Column::EndDate)),
            (
                "created_at",
                Expr::col(service_assignment::Column::CreatedAt),
            ),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        service_assignment::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = items(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<service_assignment::Entity>,
) -> ApiResult<Json<Vec<ServiceAssignmentItem>>> {
    let rows = query
        .order_by_desc(service_assignment::Column::StartDate)
        .order_by_asc(service_assignment::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, rows).await?))
}

/// Current assignments: Ongoing, started, not yet ended.
#[utoipa::path(get, path = "/api/services/assignments/current/", tag = "services", security(("jwt" = [])),
    responses((status = 200, body = Vec<ServiceAssignmentItem>)))]
pub async fn current_assignments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<ServiceAssignmentItem>>> {
    let today = crate::persons::today();
    let query = filtered(&me, &selected, &list)?
        .filter(service_assignment::Column::Status.eq("Ongoing"))
        .filter(service_assignment::Column::StartDate.lte(today))
        .filter(
            Condition::any()
                .add(service_assignment::Column::EndDate.is_null())
                .add(service_assignment::Column::EndDate.gte(today)),
        );
    array(&db, query).await
}

/// One client's assignments.
#[utoipa::path(get, path = "/api/services/assignments/client/{client_id}/", tag = "services", security(("jwt" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = Vec<ServiceAssignmentItem>)))]
pub async fn assignments_of_client(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<Vec<ServiceAssignmentItem>>> {
    let client = crate::clients::visible(&db, &me, &client_id).await?;
    let query = filtered(&me, &selected, &list)?
        .filter(service_assignment::Column::ClientId.eq(client.id.as_str()));
    array(&db, query).await
}

/// Assignments matching `client_id, service_id, contract_id, status`.
#[utoipa::path(get, path = "/api/services/assignments/search/", tag = "services", security(("jwt" = [])),
    params(("client_id" = Option<String>, Query), ("service_id" = Option<String>, Query),
        ("contract_id" = Option<String>, Query), ("status" = inline(Option<ServiceAssignmentStatus>), Query)),
    responses((status = 200, body = Vec<ServiceAssignmentItem>)))]
pub async fn search_assignments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<ServiceAssignmentItem>>> {
    array(&db, filtered(&me, &selected, &list)?).await
}

async fn visible(
    db: &impl ConnectionTrait,
    me: &Me,
    id: &str,
) -> ApiResult<service_assignment::Model> {
    let id = rest::path_id(id, MODEL)?;
    service_assignment::Entity::find_visible(db, me, id).await
}

/// Visible, then platform only.
async fn writable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: &str,
) -> ApiResult<service_assignment::Model> {
    let row = visible(db, me, id).await?;
    if me.is_platform() {
        Ok(row)
    } else {
        Err(ApiError::forbidden(crate::access::NO_PERMISSION))
    }
}

/// One assignment.
#[utoipa::path(get, path = "/api/services/assignments/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceAssignmentOut)))]
pub async fn get_assignment(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceAssignmentOut>> {
    let row = visible(&db, &me, &id).await?;
    Ok(Json(detail(&db, row).await?))
}

fn status_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

fn frequency_schema() -> utoipa::openapi::Schema {
    crate::clients::schema::optional_choice(FREQUENCIES.0)
}

/// An assignment's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ServiceAssignmentIn {
    /// A live service (alias `service`).
    #[serde(default, alias = "service")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    service_id: Field<String>,
    /// A live client (alias `client`).
    #[serde(default, alias = "client")]
    #[schema(schema_with = crate::clients::schema::cuid, required = true)]
    client_id: Field<String>,
    /// A live contract of the client (alias `contract`).
    #[serde(default, alias = "contract")]
    #[schema(schema_with = crate::clients::schema::optional_cuid)]
    contract_id: Field<String>,
    /// Pending when left out.
    #[serde(default)]
    #[schema(schema_with = status_schema, required = false)]
    status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::date, required = true)]
    start_date: Field<String>,
    /// Not before the start date.
    #[serde(default)]
    #[schema(schema_with = crate::persons::schema::optional_date)]
    end_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = frequency_schema)]
    frequency: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<service_assignment::Model>,
    input: ServiceAssignmentIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ServiceAssignmentOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let service_id = super::required_id(&mut c, "service_id", input.service_id);
    let client_id = super::required_id(&mut c, "client_id", input.client_id);
    let contract_id = super::optional_id(&mut c, "contract_id", input.contract_id);
    let status = match input.status {
        Field::Absent => creating.then(|| "Pending".to_owned()),
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
    let start = if partial && input.start_date.is_absent() {
        None
    } else {
        rest::required_date(&mut c, "start_date", input.start_date)
    };
    let end = rest::optional_date(&mut c, "end_date", input.end_date);
    let frequency = rest::optional_choice(&mut c, "frequency", input.frequency, FREQUENCIES);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    let service = super::foreign::<service::Entity>(
        &**db,
        &mut c,
        "service_id",
        service_id,
        service::Column::DeletedAt,
    )
    .await?;
    let client = super::foreign::<client::Entity>(
        &**db,
        &mut c,
        "client_id",
        client_id,
        client::Column::DeletedAt,
    )
    .await?;
    let contract = super::foreign::<contract::Entity>(
        &**db,
        &mut c,
        "contract_id",
        contract_id,
        contract::Column::DeletedAt,
    )
    .await?;
    let final_client = match &client {
        Some(Some(cl)) => Some(cl.id.clone()),
        _ => current.as_ref().map(|r| r.client_id.clone()),
    };
    let final_contract = match &contract {
        Some(v) => v.as_ref().map(|k| k.client_id.clone()),
        None => None,
    };
    if let (Some(contract_client), Some(cl)) = (&final_contract, &final_client)
        && contract_client != cl
    {
        c.error("contract_id", NOT_THE_CLIENTS);
    }
    // A client changed under a contract kept.
    if contract.is_none()
        && let (Some(Some(cl)), Some(row)) = (&client, &current)
        && let Some(kept) = &row.contract_id
    {
        let same = contract::Entity::find_by_id(kept.clone())
            .one(&**db)
            .await?
            .is_some_and(|k| k.client_id == cl.id);
        if !same {
            c.error("contract_id", NOT_THE_CLIENTS);
        }
    }
    let final_start = start.or(current.as_ref().map(|r| r.start_date));
    let final_end = match end {
        Some(v) => v,
        None => current.as_ref().and_then(|r| r.end_date),
    };
    if let (Some(s), Some(e)) = (final_start, final_end)
        && e < s
    {
        c.error("end_date", END_BEFORE_START);
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: service_assignment::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => service_assignment::ActiveModel {
            id: Set(kernel::cuid::new()),
            service_id: Set(String::new()),
            contract_id: Set(None),
            client_id: Set(String::new()),
            status: Set("Pending".into()),
            start_date: Set(crate::persons::today()),
            end_date: Set(None),
            frequency: Set(None),
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
        service_id = service.flatten().map(|s| s.id),
        client_id = client.flatten().map(|c| c.id),
        contract_id = contract.map(|k| k.map(|k| k.id)),
        status = status,
        start_date = start,
        end_date = end,
        frequency = frequency,
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
        current.as_ref().map(audit::snapshot),
        audit::snapshot(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// Assigns a service to a client (platform users).
#[utoipa::path(post, path = "/api/services/assignments/", tag = "services", security(("jwt" = [])),
    request_body = ServiceAssignmentIn, responses((status = 201, body = ServiceAssignmentOut)))]
pub async fn create_assignment(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<ServiceAssignmentIn>,
) -> ApiResult<(StatusCode, Json<ServiceAssignmentOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces an assignment (platform users).
#[utoipa::path(put, path = "/api/services/assignments/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceAssignmentIn, responses((status = 200, body = ServiceAssignmentOut)))]
pub async fn put_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<ServiceAssignmentIn>, ApiError>,
) -> ApiResult<Json<ServiceAssignmentOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of an assignment's fields (platform users).
#[utoipa::path(patch, path = "/api/services/assignments/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ServiceAssignmentIn, responses((status = 200, body = ServiceAssignmentOut)))]
pub async fn patch_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<ServiceAssignmentIn>, ApiError>,
) -> ApiResult<Json<ServiceAssignmentOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes an assignment (platform users).
#[utoipa::path(delete, path = "/api/services/assignments/{id}/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_assignment(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<service_assignment::Entity>(
        &txn,
        &me,
        &before.id,
        audit::snapshot(&before),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes an assignment (platform users).
#[utoipa::path(post, path = "/api/services/assignments/{id}/restore/", tag = "services", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ServiceAssignmentOut)))]
pub async fn restore_assignment(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceAssignmentOut>> {
    let (txn, before, after) =
        rest::restore::<service_assignment::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
