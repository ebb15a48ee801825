//! KPI assignments (axis contract §10): a KPI tracked for a client's
//! contract. Platform users write; scoped users read those of granted
//! clients. `kpi_id`, `client_id` and `contract_id` are fixed once created.
//! The status moves through the actions (Pending ⇄ Ongoing → Completed,
//! Pending|Ongoing → Cancelled); measurements are recorded while Ongoing
//! into `metadata.measurements`.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
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

use crate::access::{Me, NO_PERMISSION, Platform, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::clients::schema;
use crate::contracts::{self, FIXED};
use crate::entities::{client, contract, kpi, kpi_assignment};
use crate::kpis::{FREQUENCIES, KpiFrequency, WRONG_CLIENT};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "KPI assignment";
const TRAIL: &str = "KPIAssignment";

pub const STATUSES: Choices = Choices(&["Pending", "Ongoing", "Completed", "Cancelled"]);
const END_BEFORE_START: &str = "End date must be on or after start date";

kernel::choices!(
    /// Where a KPI assignment stands.
    pub AssignmentStatus = STATUSES.0
);

impl Scoped for kpi_assignment::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        Condition::all()
            .add(kpi_assignment::Column::DeletedAt.is_null())
            .add(me.client_condition(kpi_assignment::Column::ClientId))
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_assignments, create_assignment))
        .routes(routes!(active_assignments))
        .routes(routes!(
            get_assignment,
            put_assignment,
            patch_assignment,
            delete_assignment
        ))
        .routes(routes!(activate_assignment))
        .routes(routes!(pause_assignment))
        .routes(routes!(complete_assignment))
        .routes(routes!(cancel_assignment))
        .routes(routes!(record_measurement))
        .routes(routes!(restore_assignment))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentOut {
    pub id: String,
    pub kpi_id: String,
    pub kpi_name: Option<String>,
    pub client_id: String,
    pub client_name: Option<String>,
    pub contract_id: String,
    pub contract_number: Option<String>,
    pub target_value: Option<String>,
    /// The assignment's own target, else the KPI's.
    pub effective_target: Option<String>,
    #[schema(value_type = KpiFrequency)]
    pub frequency: String,
    #[schema(value_type = AssignmentStatus)]
    pub status: String,
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub end_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub metadata: Value,
    /// `metadata.measurements`: `{value, period, notes, recorded_at, recorded_by}`.
    pub measurements: Vec<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

async fn render(
    db: &impl ConnectionTrait,
    rows: Vec<kpi_assignment::Model>,
) -> ApiResult<Vec<AssignmentOut>> {
    let kpis: HashMap<String, kpi::Model> = kpi::Entity::find()
        .filter(kpi::Column::Id.is_in(rows.iter().map(|r| r.kpi_id.clone())))
        .filter(kpi::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let clients: HashMap<String, String> = client::Entity::find()
        .filter(client::Column::Id.is_in(rows.iter().map(|r| r.client_id.clone())))
        .filter(client::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let numbers: HashMap<String, String> = contract::Entity::find()
        .filter(contract::Column::Id.is_in(rows.iter().map(|r| r.contract_id.clone())))
        .filter(contract::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.contract_number))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let kpi = kpis.get(&r.kpi_id);
            AssignmentOut {
                kpi_name: kpi.map(|k| k.name.clone()),
                effective_target: r
                    .target_value
                    .clone()
                    .or_else(|| kpi.and_then(|k| k.target_value.clone())),
                client_name: clients.get(&r.client_id).cloned(),
                contract_number: numbers.get(&r.contract_id).cloned(),
                measurements: r
                    .metadata
                    .get("measurements")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                id: r.id,
                kpi_id: r.kpi_id,
                client_id: r.client_id,
                contract_id: r.contract_id,
                target_value: r.target_value,
                frequency: r.frequency,
                status: r.status,
                start_date: r.start_date,
                end_date: r.end_date,
                notes: r.notes,
                metadata: r.metadata,
                created_at: r.created_at,
                updated_at: r.updated_at,
                deleted_at: r.deleted_at,
            }
        })
        .collect())
}

async fn one(db: &impl ConnectionTrait, row: kpi_assignment::Model) -> ApiResult<AssignmentOut> {
    render(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

fn scoped(me: &Me, selected: &SelectedClient) -> Select<kpi_assignment::Entity> {
    let query = kpi_assignment::Entity::visible(me);
    match &selected.0 {
        Some(id) => query.filter(kpi_assignment::Column::ClientId.eq(id.as_str())),
        None => query,
    }
}

/// KPI assignments, a page at a time: filters `kpi_id` (alias `kpi`),
/// `client_id` (alias `client`), `contract_id` (alias `contract`),
/// `status`; search `notes, target_value`; ordering `start_date, end_date,
/// status, created_at`.
#[utoipa::path(get, path = "/api/kpi-assignments/", tag = "kpis", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("kpi_id" = Option<String>, Query),
        ("client_id" = Option<String>, Query), ("contract_id" = Option<String>, Query),
        ("status" = inline(Option<AssignmentStatus>), Query)),
    responses((status = 200, body = Page<AssignmentOut>)))]
pub async fn list_assignments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<AssignmentOut>>> {
    let mut query = scoped(&me, &selected);
    if let Some(v) = list.get("kpi_id").or(list.get("kpi")) {
        query = query.filter(kpi_assignment::Column::KpiId.eq(v.trim()));
    }
    if let Some(v) = list.get("client_id").or(list.get("client")) {
        query = query.filter(kpi_assignment::Column::ClientId.eq(v.trim()));
    }
    if let Some(v) = list.get("contract_id").or(list.get("contract")) {
        query = query.filter(kpi_assignment::Column::ContractId.eq(v.trim()));
    }
    if let Some(v) = list.get("status") {
        query = query.filter(kpi_assignment::Column::Status.eq(STATUSES.check("status", v)?));
    }
    let query = list.search(
        query,
        &[
            Expr::col(kpi_assignment::Column::Notes),
            Expr::col(kpi_assignment::Column::TargetValue),
        ],
    );
    let query = list.order(
        query,
        &[
            ("start_date", Expr::col(kpi_assignment::Column::StartDate)),
            ("end_date", Expr::col(kpi_assignment::Column::EndDate)),
            ("status", Expr::col(kpi_assignment::Column::Status)),
            ("created_at", Expr::col(kpi_assignment::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        kpi_assignment::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// Ongoing KPI assignments.
#[utoipa::path(get, path = "/api/kpi-assignments/active/", tag = "kpis", security(("jwt" = [])),
    responses((status = 200, body = Vec<AssignmentOut>)))]
pub async fn active_assignments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<AssignmentOut>>> {
    let rows = scoped(&me, &selected)
        .filter(kpi_assignment::Column::Status.eq("Ongoing"))
        .order_by_desc(kpi_assignment::Column::StartDate)
        .order_by_asc(kpi_assignment::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(&db)
        .await?;
    Ok(Json(render(&db, rows).await?))
}

async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<kpi_assignment::Model> {
    let id = rest::path_id(id, MODEL)?;
    kpi_assignment::Entity::find_visible(db, me, id).await
}

async fn writable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: &str,
) -> ApiResult<kpi_assignment::Model> {
    let row = visible(db, me, id).await?;
    if me.is_platform() {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// One KPI assignment.
#[utoipa::path(get, path = "/api/kpi-assignments/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn get_assignment(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    let row = visible(&db, &me, &id).await?;
    one(&db, row).await.map(Json)
}

fn frequency() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(FREQUENCIES.0)
}

fn status() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

/// The writable fields of a KPI assignment. The contract must belong to
/// the client; `kpi_id`, `client_id` and `contract_id` cannot change once
/// created (a PUT or PATCH may repeat them); `status` is set on create
/// only (the actions move it).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AssignmentIn {
    /// A KPI the caller may see (alias `kpi`).
    #[serde(default, alias = "kpi")]
    #[schema(schema_with = schema::cuid, required = true)]
    kpi_id: Field<String>,
    /// A client the caller may see (alias `client`).
    #[serde(default, alias = "client")]
    #[schema(schema_with = schema::cuid, required = true)]
    client_id: Field<String>,
    /// A live contract of the client (alias `contract`).
    #[serde(default, alias = "contract")]
    #[schema(schema_with = schema::cuid, required = true)]
    contract_id: Field<String>,
    /// The KPI's target applies when left out.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    target_value: Field<String>,
    #[serde(default)]
    #[schema(schema_with = frequency, required = true)]
    frequency: Field<String>,
    /// Pending when left out; checked but ignored after create (the
    /// actions move it).
    #[serde(default)]
    #[schema(schema_with = status, required = false)]
    status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = rest::date_schema, required = true)]
    start_date: Field<String>,
    /// On or after `start_date`.
    #[serde(default)]
    #[schema(schema_with = rest::optional_date_schema)]
    end_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<kpi_assignment::Model>,
    input: AssignmentIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<AssignmentOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let kpi_id = c.value("kpi_id", input.kpi_id).map(|v| v.trim().to_owned());
    let client_id = c
        .value("client_id", input.client_id)
        .map(|v| v.trim().to_owned());
    let contract_id = c
        .value("contract_id", input.contract_id)
        .map(|v| v.trim().to_owned());
    let target = c.optional_text("target_value", input.target_value, 255);
    let frequency = rest::required_choice(&mut c, "frequency", input.frequency, FREQUENCIES);
    // Checked on every write, used on create only.
    let status = match input.status {
        Field::Value(v) => match STATUSES.parse(&v) {
            Some(s) => Some(s),
            None => {
                c.error("status", format!("\"{v}\" is not a valid choice."));
                None
            }
        },
        Field::Null => {
            c.error("status", kernel::form::NOT_NULL);
            None
        }
        Field::Absent => creating.then_some("Pending"),
    };
    let start = rest::required_date(&mut c, "start_date", input.start_date);
    let end = rest::optional_date(&mut c, "end_date", input.end_date);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    match &current {
        Some(row) => {
            for (name, given, kept) in [
                ("kpi_id", &kpi_id, &row.kpi_id),
                ("client_id", &client_id, &row.client_id),
                ("contract_id", &contract_id, &row.contract_id),
            ] {
                if given.as_ref().is_some_and(|g| g != kept) {
                    c.error(name, FIXED);
                }
            }
        }
        None => {
            if let Some(id) = &kpi_id
                && kpi::Entity::find_visible(&**db, me, id.clone())
                    .await
                    .is_err()
            {
                c.error("kpi_id", rest::invalid_pk_message(id));
            }
            let client_ok = match &client_id {
                Some(id) => {
                    let ok = client::Entity::find_visible(&**db, me, id.clone())
                        .await
                        .is_ok();
                    if !ok {
                        c.error("client_id", rest::invalid_pk_message(id));
                    }
                    ok
                }
                None => false,
            };
            if let Some(id) = &contract_id {
                match contract::Entity::find_visible(&**db, me, id.clone()).await {
                    Err(_) => c.error("contract_id", rest::invalid_pk_message(id)),
                    Ok(found) => {
                        if client_ok && Some(&found.client_id) != client_id.as_ref() {
                            c.error("contract_id", WRONG_CLIENT);
                        }
                    }
                }
            }
        }
    }
    let final_start = start.or(current.as_ref().map(|r| r.start_date));
    let final_end = match &end {
        Some(v) => *v,
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
    let (row, action, change, code) = match &current {
        None => {
            let row = kpi_assignment::ActiveModel {
                id: Set(kernel::cuid::new()),
                kpi_id: Set(kpi_id.unwrap_or_default()),
                client_id: Set(client_id.unwrap_or_default()),
                contract_id: Set(contract_id.unwrap_or_default()),
                target_value: Set(target.flatten()),
                frequency: Set(frequency.unwrap_or("Monthly").to_owned()),
                status: Set(status.unwrap_or("Pending").to_owned()),
                start_date: Set(start.unwrap_or_default()),
                end_date: Set(end.flatten()),
                notes: Set(notes.flatten()),
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
            let mut row: kpi_assignment::ActiveModel = before.clone().into();
            macro_rules! put {
                ($($field:ident = $value:expr),* $(,)?) => {
                    $(if let Some(v) = $value { row.$field = Set(v); })*
                };
            }
            put!(
                target_value = target,
                frequency = frequency.map(str::to_owned),
                start_date = start,
                end_date = end,
                notes = notes,
                metadata = metadata,
            );
            row.updated_at = Set(now);
            let after = row.update(&txn).await?;
            let change = Change::updated(before, &after);
            (after, "Update", change, 200)
        }
    };
    let event = Event::new(action, TRAIL, &row.id)
        .status(code)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = one(&txn, row).await?;
    txn.commit().await?;
    let code = if code == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(out)))
}

/// Assigns a KPI to a client's contract (platform users); Pending unless given.
#[utoipa::path(post, path = "/api/kpi-assignments/", tag = "kpis", security(("jwt" = [])),
    request_body = AssignmentIn, responses((status = 201, body = AssignmentOut)))]
pub async fn create_assignment(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<AssignmentIn>,
) -> ApiResult<(StatusCode, Json<AssignmentOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a KPI assignment's fields (platform users).
#[utoipa::path(put, path = "/api/kpi-assignments/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = AssignmentIn, responses((status = 200, body = AssignmentOut)))]
pub async fn put_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<AssignmentIn>, ApiError>,
) -> ApiResult<Json<AssignmentOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a KPI assignment's fields (platform users).
#[utoipa::path(patch, path = "/api/kpi-assignments/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = AssignmentIn, responses((status = 200, body = AssignmentOut)))]
pub async fn patch_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<AssignmentIn>, ApiError>,
) -> ApiResult<Json<AssignmentOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a KPI assignment (platform users).
#[utoipa::path(delete, path = "/api/kpi-assignments/{id}/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_assignment(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<kpi_assignment::Entity>(
        &txn,
        &me,
        &before.id,
        audit::snapshot(&before),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a KPI assignment (platform users).
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/restore/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn restore_assignment(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    let (txn, before, after) =
        rest::restore::<kpi_assignment::Entity>(&db, &id, Condition::all()).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Locks the live assignment, applies `change` (which may refuse) and
/// records it as an action; the detail.
async fn act<F>(
    db: &kernel::Db,
    me: &Me,
    found: kpi_assignment::Model,
    change_type: &'static str,
    change: F,
) -> ApiResult<Json<AssignmentOut>>
where
    F: FnOnce(&kpi_assignment::Model, &mut kpi_assignment::ActiveModel) -> ApiResult<()>,
{
    let txn = kernel::db::begin_write(db).await?;
    let before = kpi_assignment::Entity::find_by_id(found.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    let mut row: kpi_assignment::ActiveModel = before.clone().into();
    change(&before, &mut row)?;
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event =
        Event::new("Update", TRAIL, &after.id).change(Change::action(change_type, &before, &after));
    audit::record(&txn, Who::from(me), event).await?;
    let out = one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// A status move by `verb` from one of `from` to `to`.
async fn transition(
    db: &kernel::Db,
    me: &Me,
    id: &str,
    verb: &'static str,
    from: &'static [&'static str],
    to: &'static str,
) -> ApiResult<Json<AssignmentOut>> {
    let found = writable(&**db, me, id).await?;
    let change_type = if to == "Ongoing" {
        "Activate"
    } else {
        "Update"
    };
    act(db, me, found, change_type, move |before, row| {
        if before.status == to {
            return Err(rest::invalid_state(format!(
                "KPI assignment is already {to}"
            )));
        }
        if !from.contains(&before.status.as_str()) {
            return Err(rest::invalid_state(format!(
                "Cannot {verb} a KPI assignment that is {}",
                before.status
            )));
        }
        row.status = Set(to.to_owned());
        if to == "Completed" && before.end_date.is_none() {
            row.end_date = Set(Some(contracts::today()));
        }
        Ok(())
    })
    .await
}

/// Starts a Pending assignment (→ Ongoing).
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/activate/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn activate_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    transition(&db, &me, &id, "activate", &["Pending"], "Ongoing").await
}

/// Pauses an Ongoing assignment (→ Pending).
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/pause/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn pause_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    transition(&db, &me, &id, "pause", &["Ongoing"], "Pending").await
}

/// Completes an Ongoing assignment (its end date today when unset).
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/complete/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn complete_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    transition(&db, &me, &id, "complete", &["Ongoing"], "Completed").await
}

/// Cancels a Pending or Ongoing assignment.
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/cancel/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = AssignmentOut)))]
pub async fn cancel_assignment(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    transition(
        &db,
        &me,
        &id,
        "cancel",
        &["Pending", "Ongoing"],
        "Cancelled",
    )
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MeasurementIn {
    /// The measured value.
    #[serde(default)]
    #[schema(value_type = f64, required = true)]
    value: Field<serde_json::Number>,
    /// The period measured (`2026-Q1`).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    period: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    notes: Field<String>,
}

/// Records a measurement on an Ongoing assignment (appended to
/// `metadata.measurements`).
#[utoipa::path(post, path = "/api/kpi-assignments/{id}/record_measurement/", tag = "kpis", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = MeasurementIn, responses((status = 200, body = AssignmentOut)))]
pub async fn record_measurement(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<MeasurementIn>, ApiError>,
) -> ApiResult<Json<AssignmentOut>> {
    let found = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let value = c.value("value", input.value);
    let period = c.optional_text("period", input.period, 100).flatten();
    let notes = c.optional_text("notes", input.notes, 1000).flatten();
    c.finish()?;
    let value = value.ok_or_else(|| ApiError::field("value", kernel::form::REQUIRED))?;
    let by = me.user.id.clone();
    act(&db, &me, found, "Update", move |before, row| {
        if before.status != "Ongoing" {
            return Err(rest::invalid_state(format!(
                "Cannot record a measurement on a KPI assignment that is {}",
                before.status
            )));
        }
        let mut metadata = if before.metadata.is_object() {
            before.metadata.clone()
        } else {
            json!({})
        };
        let entry = json!({
            "value": value,
            "period": period,
            "notes": notes,
            "recorded_at": kernel::time::iso(kernel::time::now()),
            "recorded_by": by,
        });
        match metadata
            .get_mut("measurements")
            .and_then(Value::as_array_mut)
        {
            Some(list) => list.push(entry),
            None => metadata["measurements"] = json!([entry]),
        }
        row.metadata = Set(metadata);
        Ok(())
    })
    .await
}
