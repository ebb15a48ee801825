//! Contracts (axis contract §6): a client's service contracts. Platform
//! users read and write every contract; scoped users read the contracts of
//! their granted clients (others are absent). Status changes after create go
//! through the actions, each guarded; `renew` keeps `metadata.renewals`;
//! `mark_paid` moves the billing dates by the billing frequency. The spec's
//! and the original's names of one value are both emitted
//! (`billing_amount`/`billing_rate`, `billing_frequency`/`payment_frequency`,
//! `auto_renew`/`is_auto_renew`).

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Months, NaiveDate, Utc};
use kernel::money::Money;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json, Scoped};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
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
use crate::clients::{self, schema};
use crate::entities::{client, contract};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Contract";

pub const STATUSES: Choices = Choices(&[
    "Draft",
    "Pending",
    "Active",
    "Suspended",
    "Expired",
    "Terminated",
    "Renewed",
]);
/// What a create may set; afterwards only the actions move the status.
pub const CREATE_STATUSES: Choices = Choices(&["Draft", "Pending", "Active"]);
pub const PAYMENT_STATUSES: Choices =
    Choices(&["Pending", "Paid", "Overdue", "Cancelled", "Refunded"]);
/// The billing frequencies that drive billing dates (any other text is kept
/// as written and drives none).
pub const FREQUENCIES: Choices = Choices(&[
    "Weekly",
    "Monthly",
    "Quarterly",
    "Semi-Annual",
    "Annually",
    "Annual",
]);
/// Statuses in which a contract counts as running.
const RUNNING: &[&str] = &["Active", "Renewed"];

const END_BEFORE_START: &str = "End date must be after start date";
const RENEWAL_OUTSIDE: &str = "Renewal date must be within the contract period";
const NUMBER_TAKEN: &str = "A contract with this contract number already exists.";
pub const FIXED: &str = "This field cannot be changed after creation.";

kernel::choices!(
    /// Where a contract stands.
    pub ContractStatus = STATUSES.0
);

kernel::choices!(
    /// Where a contract's payment stands.
    pub PaymentStatus = PAYMENT_STATUSES.0
);

/// A contract is visible to platform users, and to a scoped user when its
/// client is granted; deleted contracts to nobody.
impl Scoped for contract::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        Condition::all()
            .add(contract::Column::DeletedAt.is_null())
            .add(me.client_condition(contract::Column::ClientId))
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contracts, create_contract))
        .routes(routes!(active_contracts))
        .routes(routes!(contracts_of_client))
        .routes(routes!(expiring_soon))
        .routes(routes!(pending_renewal))
        .routes(routes!(overdue_payments))
        .routes(routes!(billing_due))
        .routes(routes!(search_contracts))
        .routes(routes!(
            get_contract,
            put_contract,
            patch_contract,
            delete_contract
        ))
        .routes(routes!(activate_contract))
        .routes(routes!(suspend_contract))
        .routes(routes!(terminate_contract))
        .routes(routes!(renew_contract))
        .routes(routes!(mark_expired))
        .routes(routes!(mark_paid))
        .routes(routes!(mark_overdue))
        .routes(routes!(restore_contract))
}

/// `CTR-` and the first 8 characters of `id`, upper-cased.
pub(crate) fn default_number(id: &str) -> String {
    format!(
        "CTR-{}",
        id.chars().take(8).collect::<String>().to_uppercase()
    )
}

/// The id of a new contract. Its default number is made of the id's first
/// 8 characters, which hold the time to 36 ms: when a live contract already
/// has that number (one made in the same instant), a later id is taken.
async fn fresh_id(db: &impl ConnectionTrait, numbered: bool) -> ApiResult<String> {
    let mut id = kernel::cuid::new();
    if numbered {
        return Ok(id);
    }
    for _ in 0..100 {
        let clash = contract::Entity::find()
            .filter(contract::Column::ContractNumber.eq(default_number(&id)))
            .filter(contract::Column::DeletedAt.is_null())
            .one(db)
            .await?;
        if clash.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(12)).await;
        id = kernel::cuid::new();
    }
    Ok(id)
}

/// The UTC date.
pub fn today() -> NaiveDate {
    kernel::time::now().date_naive()
}

/// The next billing date after `from` for `frequency`: a week, a month,
/// three or six months, a year; none for any other frequency.
pub fn next_billing(frequency: &str, from: NaiveDate) -> Option<NaiveDate> {
    match FREQUENCIES.parse(frequency)? {
        "Weekly" => from.checked_add_signed(chrono::TimeDelta::days(7)),
        "Monthly" => from.checked_add_months(Months::new(1)),
        "Quarterly" => from.checked_add_months(Months::new(3)),
        "Semi-Annual" => from.checked_add_months(Months::new(6)),
        _ => from.checked_add_months(Months::new(12)),
    }
}

// ---------------------------------------------------------------- shapes

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractClient {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

/// A contract in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractItem {
    pub id: String,
    pub contract_number: String,
    pub title: String,
    pub client_id: String,
    pub client_name: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub end_date: NaiveDate,
    /// `"1500.00"`.
    #[schema(value_type = String, example = "1500.00")]
    pub billing_amount: Money,
    /// The same as `billing_amount`.
    #[schema(value_type = String, example = "1500.00")]
    pub billing_rate: Money,
    pub currency: String,
    #[schema(value_type = ContractStatus)]
    pub status: String,
    #[schema(value_type = PaymentStatus)]
    pub payment_status: String,
    /// Active or Renewed, and today within the period.
    pub is_active: bool,
    /// Today is past the end date.
    pub is_expired: bool,
    /// Days from today to the end date (negative once past).
    pub days_remaining: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One contract: every field under both names, its client and every
/// computed flag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractOut {
    #[serde(flatten)]
    pub item: ContractItem,
    pub description: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub renewal_date: Option<NaiveDate>,
    pub billing_frequency: String,
    /// The same as `billing_frequency`.
    pub payment_frequency: String,
    pub payment_terms: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub last_billing_date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub next_billing_date: Option<NaiveDate>,
    pub auto_renew: bool,
    /// The same as `auto_renew`.
    pub is_auto_renew: bool,
    pub is_renewable: bool,
    pub renewal_notice_days: i32,
    pub document_url: Option<String>,
    pub signed_by: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub termination_reason: Option<String>,
    pub notes: Option<String>,
    pub metadata: Value,
    pub client: Option<ContractClient>,
    /// Renewable, renewal date reached, not expired, Active or Renewed.
    pub is_pending_renewal: bool,
    /// Payment Overdue, or Pending with the next billing date past.
    pub is_payment_overdue: bool,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Whether `row` is running today: Active or Renewed, today within its period.
pub fn is_active(row: &contract::Model, today: NaiveDate) -> bool {
    RUNNING.contains(&row.status.as_str()) && row.start_date <= today && today <= row.end_date
}

fn is_pending_renewal(row: &contract::Model, today: NaiveDate) -> bool {
    row.is_renewable
        && row.renewal_date.is_some_and(|d| d <= today)
        && today <= row.end_date
        && RUNNING.contains(&row.status.as_str())
}

fn is_payment_overdue(row: &contract::Model, today: NaiveDate) -> bool {
    row.payment_status == "Overdue"
        || (row.payment_status == "Pending" && row.next_billing_date.is_some_and(|d| d < today))
}

/// The condition of [`is_active`], in SQL.
pub fn active_condition(today: NaiveDate) -> Condition {
    Condition::all()
        .add(contract::Column::Status.is_in(RUNNING.iter().copied()))
        .add(contract::Column::StartDate.lte(today))
        .add(contract::Column::EndDate.gte(today))
}

/// Live contracts per client among `ids`, all or only the active ones (the
/// counts of clients' `active_contracts_count` and `stats/`).
pub async fn counts(
    db: &impl ConnectionTrait,
    ids: &[String],
    active_only: bool,
) -> ApiResult<HashMap<String, u64>> {
    let mut query = contract::Entity::find()
        .select_only()
        .column(contract::Column::ClientId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(contract::Column::ClientId.is_in(ids.to_vec()))
        .filter(contract::Column::DeletedAt.is_null());
    if active_only {
        query = query.filter(active_condition(today()));
    }
    let rows: Vec<(String, i64)> = query
        .group_by(contract::Column::ClientId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// What the audit trail keeps of a contract: its fields, the amount as a
/// decimal string.
fn record(row: &contract::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["billing_amount"] = json!(Money(row.billing_amount).to_string());
    value
}

async fn clients_of(
    db: &impl ConnectionTrait,
    rows: &[contract::Model],
) -> ApiResult<HashMap<String, client::Model>> {
    Ok(client::Entity::find()
        .filter(client::Column::Id.is_in(rows.iter().map(|r| r.client_id.clone())))
        .filter(client::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect())
}

fn item(clients: &HashMap<String, client::Model>, r: &contract::Model) -> ContractItem {
    let today = today();
    ContractItem {
        id: r.id.clone(),
        contract_number: r.contract_number.clone(),
        title: r.title.clone(),
        client_id: r.client_id.clone(),
        client_name: clients.get(&r.client_id).map(|c| c.name.clone()),
        start_date: r.start_date,
        end_date: r.end_date,
        billing_amount: Money(r.billing_amount),
        billing_rate: Money(r.billing_amount),
        currency: r.currency.clone(),
        status: r.status.clone(),
        payment_status: r.payment_status.clone(),
        is_active: is_active(r, today),
        is_expired: today > r.end_date,
        days_remaining: (r.end_date - today).num_days(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<contract::Model>,
) -> ApiResult<Vec<ContractItem>> {
    let clients = clients_of(db, &rows).await?;
    Ok(rows.iter().map(|r| item(&clients, r)).collect())
}

/// The detail shape of `row`.
pub async fn detail(db: &impl ConnectionTrait, row: contract::Model) -> ApiResult<ContractOut> {
    let clients = clients_of(db, std::slice::from_ref(&row)).await?;
    let today = today();
    Ok(ContractOut {
        item: item(&clients, &row),
        client: clients.get(&row.client_id).map(|c| ContractClient {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
        }),
        is_pending_renewal: is_pending_renewal(&row, today),
        is_payment_overdue: is_payment_overdue(&row, today),
        description: row.description,
        renewal_date: row.renewal_date,
        payment_frequency: row.billing_frequency.clone(),
        billing_frequency: row.billing_frequency,
        payment_terms: row.payment_terms,
        last_billing_date: row.last_billing_date,
        next_billing_date: row.next_billing_date,
        auto_renew: row.auto_renew,
        is_auto_renew: row.auto_renew,
        is_renewable: row.is_renewable,
        renewal_notice_days: row.renewal_notice_days,
        document_url: row.document_url,
        signed_by: row.signed_by,
        signed_at: row.signed_at,
        termination_reason: row.termination_reason,
        notes: row.notes,
        metadata: row.metadata,
        deleted_at: row.deleted_at,
    })
}

// ---------------------------------------------------------------- reads

/// The contracts the caller may see, narrowed to the `X-Client-ID` client.
fn scoped(me: &Me, selected: &SelectedClient) -> Select<contract::Entity> {
    let query = contract::Entity::visible(me);
    match &selected.0 {
        Some(id) => query.filter(contract::Column::ClientId.eq(id.as_str())),
        None => query,
    }
}

/// `text` lower-cased with LIKE's wildcards escaped.
fn like(term: &str) -> LikeExpr {
    let mut escaped = String::new();
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// `?search=` over title, contract number, notes and the client's name:
/// every term must match one of them.
fn searched(query: Select<contract::Entity>, list: &List) -> Select<contract::Entity> {
    let Some(text) = list.get("search") else {
        return query;
    };
    let lower = |col: contract::Column| Expr::expr(Func::lower(Expr::col(col)));
    let mut all = Condition::all();
    for term in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .take(8)
    {
        let clients = Query::select()
            .column(client::Column::Id)
            .from(client::Entity)
            .and_where(Expr::expr(Func::lower(Expr::col(client::Column::Name))).like(like(term)))
            .to_owned();
        all = all.add(
            Condition::any()
                .add(lower(contract::Column::Title).like(like(term)))
                .add(lower(contract::Column::ContractNumber).like(like(term)))
                .add(lower(contract::Column::Notes).like(like(term)))
                .add(contract::Column::ClientId.in_subquery(clients)),
        );
    }
    query.filter(all)
}

/// The filters `client_id` (alias `client`), `status`, `payment_status`,
/// `is_renewable`, `is_auto_renew` (alias `auto_renew`) and `?search=`.
fn filtered(
    me: &Me,
    selected: &SelectedClient,
    list: &List,
) -> ApiResult<Select<contract::Entity>> {
    let mut query = scoped(me, selected);
    if let Some(id) = list.get("client_id").or(list.get("client")) {
        query = query.filter(contract::Column::ClientId.eq(id.trim()));
    }
    if let Some(status) = list.get("status") {
        query = query.filter(contract::Column::Status.eq(STATUSES.check("status", status)?));
    }
    if let Some(status) = list.get("payment_status") {
        query = query.filter(
            contract::Column::PaymentStatus.eq(PAYMENT_STATUSES.check("payment_status", status)?),
        );
    }
    if let Some(v) = rest::flag(list, "is_renewable")? {
        query = query.filter(contract::Column::IsRenewable.eq(v));
    }
    let auto = match rest::flag(list, "is_auto_renew")? {
        Some(v) => Some(v),
        None => rest::flag(list, "auto_renew")?,
    };
    if let Some(v) = auto {
        query = query.filter(contract::Column::AutoRenew.eq(v));
    }
    Ok(searched(query, list))
}

fn ordered(query: Select<contract::Entity>, list: &List) -> Select<contract::Entity> {
    list.order(
        query,
        &[
            ("start_date", Expr::col(contract::Column::StartDate)),
            ("end_date", Expr::col(contract::Column::EndDate)),
            ("created_at", Expr::col(contract::Column::CreatedAt)),
            ("billing_amount", Expr::col(contract::Column::BillingAmount)),
            ("billing_rate", Expr::col(contract::Column::BillingAmount)),
        ],
        &[("start_date", sea_orm::Order::Desc)],
        contract::Column::Id,
    )
}

async fn paged(
    db: &sea_orm::DatabaseConnection,
    list: &List,
    query: Select<contract::Entity>,
) -> ApiResult<Json<Page<ContractItem>>> {
    let query = ordered(query, list);
    let page = list.page(db, query, rest::PAGE).await?;
    let rows = items(db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// Contracts, a page at a time: search `title, contract_number, client
/// name, notes`; filters `client_id, status, payment_status, is_renewable,
/// is_auto_renew`; ordering `start_date, end_date, created_at,
/// billing_amount` (default `-start_date`).
#[utoipa::path(get, path = "/api/contracts/", tag = "contracts", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("client_id" = Option<String>, Query),
        ("client" = Option<String>, Query), ("status" = inline(Option<ContractStatus>), Query),
        ("payment_status" = inline(Option<PaymentStatus>), Query), ("is_renewable" = Option<bool>, Query),
        ("is_auto_renew" = Option<bool>, Query)),
    responses((status = 200, body = Page<ContractItem>)))]
pub async fn list_contracts(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<ContractItem>>> {
    let query = filtered(&me, &selected, &list)?;
    paged(&db, &list, query).await
}

/// Contracts matching `search, client_id, status, payment_status,
/// is_renewable, is_auto_renew`, a page at a time.
#[utoipa::path(get, path = "/api/contracts/search/", tag = "contracts", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("client_id" = Option<String>, Query),
        ("status" = inline(Option<ContractStatus>), Query), ("payment_status" = inline(Option<PaymentStatus>), Query),
        ("is_renewable" = Option<bool>, Query), ("is_auto_renew" = Option<bool>, Query)),
    responses((status = 200, body = Page<ContractItem>)))]
pub async fn search_contracts(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<ContractItem>>> {
    let query = filtered(&me, &selected, &list)?;
    paged(&db, &list, query).await
}

async fn array(
    db: &impl ConnectionTrait,
    query: Select<contract::Entity>,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let rows = query
        .order_by_desc(contract::Column::StartDate)
        .order_by_asc(contract::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, rows).await?))
}

/// Contracts running today (Active or Renewed, today within the period).
#[utoipa::path(get, path = "/api/contracts/active/", tag = "contracts", security(("jwt" = [])),
    responses((status = 200, body = Vec<ContractItem>)))]
pub async fn active_contracts(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let query = scoped(&me, &selected).filter(active_condition(today()));
    array(&db, query).await
}

/// The contracts of one client.
#[utoipa::path(get, path = "/api/contracts/client/{client_id}/", tag = "contracts", security(("jwt" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = Vec<ContractItem>)))]
pub async fn contracts_of_client(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    Path(client_id): Path<String>,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let query = scoped(&me, &selected).filter(contract::Column::ClientId.eq(client.id));
    array(&db, query).await
}

/// Active contracts ending within `days` (30).
#[utoipa::path(get, path = "/api/contracts/expiring_soon/", tag = "contracts", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<ContractItem>)))]
pub async fn expiring_soon(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let days = rest::days(list.get("days"), 30)?;
    let today = today();
    let until = today
        .checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX);
    let query = scoped(&me, &selected)
        .filter(active_condition(today))
        .filter(contract::Column::EndDate.lte(until));
    array(&db, query).await
}

/// Running, renewable contracts whose renewal date has come.
#[utoipa::path(get, path = "/api/contracts/pending_renewal/", tag = "contracts", security(("jwt" = [])),
    responses((status = 200, body = Vec<ContractItem>)))]
pub async fn pending_renewal(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let today = today();
    let query = scoped(&me, &selected)
        .filter(contract::Column::IsRenewable.eq(true))
        .filter(contract::Column::RenewalDate.lte(today))
        .filter(contract::Column::EndDate.gte(today))
        .filter(contract::Column::Status.is_in(RUNNING.iter().copied()));
    array(&db, query).await
}

/// Contracts whose payment is Overdue, or Pending past the next billing date.
#[utoipa::path(get, path = "/api/contracts/overdue_payments/", tag = "contracts", security(("jwt" = [])),
    responses((status = 200, body = Vec<ContractItem>)))]
pub async fn overdue_payments(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let query = scoped(&me, &selected).filter(
        Condition::any()
            .add(contract::Column::PaymentStatus.eq("Overdue"))
            .add(
                Condition::all()
                    .add(contract::Column::PaymentStatus.eq("Pending"))
                    .add(contract::Column::NextBillingDate.lt(today())),
            ),
    );
    array(&db, query).await
}

/// Contracts whose next billing date is within `days` (7) from today.
#[utoipa::path(get, path = "/api/contracts/billing_due/", tag = "contracts", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<ContractItem>)))]
pub async fn billing_due(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Vec<ContractItem>>> {
    let days = rest::days(list.get("days"), 7)?;
    let today = today();
    let until = today
        .checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX);
    let query = scoped(&me, &selected)
        .filter(contract::Column::NextBillingDate.gte(today))
        .filter(contract::Column::NextBillingDate.lte(until));
    array(&db, query).await
}

/// The contract `id` if the caller may see it.
pub async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<contract::Model> {
    let id = rest::path_id(id, MODEL)?;
    contract::Entity::find_visible(db, me, id).await
}

/// The contract `id` for a write: absent (404) unless visible, then 403
/// unless the caller is a platform user; the body is read after both.
async fn writable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<contract::Model> {
    let row = visible(db, me, id).await?;
    if me.is_platform() {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// One contract.
#[utoipa::path(get, path = "/api/contracts/{id}/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn get_contract(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let row = visible(&db, &me, &id).await?;
    Ok(Json(detail(&db, row).await?))
}

// ---------------------------------------------------------------- writes

fn create_status() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(CREATE_STATUSES.0)
}

fn payment_status() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(PAYMENT_STATUSES.0)
}

fn amount() -> utoipa::openapi::schema::Schema {
    Money::non_negative_schema()
}

fn notice_days() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(0, 3650)
}

/// The writable fields of a contract. `end_date` must be after
/// `start_date`; `renewal_date` within the period; `contract_number`
/// unique among live contracts. `client_id` is fixed after create (a PUT
/// or PATCH may repeat it); `status` is set on create only.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContractIn {
    /// A client the caller may see (alias `client`).
    #[serde(default, alias = "client")]
    #[schema(schema_with = schema::cuid, required = true)]
    client_id: Field<String>,
    /// `"<client name> contract"` when left out or blank.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    description: Field<String>,
    /// `CTR-` and the first 8 characters of the id, upper-cased, when left
    /// out or blank.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    contract_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = rest::date_schema, required = true)]
    start_date: Field<String>,
    /// After `start_date`.
    #[serde(default)]
    #[schema(schema_with = rest::date_schema, required = true)]
    end_date: Field<String>,
    /// Within the contract's period.
    #[serde(default)]
    #[schema(schema_with = rest::optional_date_schema)]
    renewal_date: Field<String>,
    /// Zero or more (alias `billing_rate`).
    #[serde(default, alias = "billing_rate")]
    #[schema(schema_with = amount, required = true)]
    billing_amount: Field<Money>,
    /// `UGX` when left out or blank.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10>)]
    currency: Field<String>,
    /// Free text (alias `payment_frequency`); Weekly, Monthly, Quarterly,
    /// Semi-Annual and Annually (or Annual) drive the billing dates.
    /// Monthly when left out or blank.
    #[serde(default, alias = "payment_frequency")]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    billing_frequency: Field<String>,
    /// Pending when left out.
    #[serde(default)]
    #[schema(schema_with = payment_status, required = false)]
    payment_status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    payment_terms: Field<String>,
    #[serde(default)]
    #[schema(schema_with = rest::optional_date_schema)]
    last_billing_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = rest::optional_date_schema)]
    next_billing_date: Field<String>,
    /// Alias `is_auto_renew`; false when left out.
    #[serde(default, alias = "is_auto_renew")]
    #[schema(value_type = bool, required = false)]
    auto_renew: Field<bool>,
    /// True when left out.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_renewable: Field<bool>,
    /// 30 when left out.
    #[serde(default)]
    #[schema(schema_with = notice_days, required = false)]
    renewal_notice_days: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<500>)]
    document_url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    signed_by: Field<String>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_time)]
    signed_at: Field<String>,
    /// Draft, Pending or Active on create (Draft when left out); checked
    /// but ignored afterwards (the actions move it).
    #[serde(default)]
    #[schema(schema_with = create_status, required = false)]
    status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    termination_reason: Field<String>,
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
    current: Option<contract::Model>,
    input: ContractIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ContractOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let client_id = c
        .value("client_id", input.client_id)
        .map(|v| v.trim().to_owned());
    let title = c.optional_text("title", input.title, 255);
    let description = c.optional_text("description", input.description, 10_000);
    let number = c.optional_text("contract_number", input.contract_number, 50);
    let start = rest::required_date(&mut c, "start_date", input.start_date);
    let end = rest::required_date(&mut c, "end_date", input.end_date);
    let renewal = rest::optional_date(&mut c, "renewal_date", input.renewal_date);
    let amount = match c.value("billing_amount", input.billing_amount) {
        Some(m) if m.cents() < 0 => {
            c.error(
                "billing_amount",
                "Ensure this value is greater than or equal to 0.",
            );
            None
        }
        other => other,
    };
    let currency = c.optional_text("currency", input.currency, 10);
    let frequency = c
        .optional_text("billing_frequency", input.billing_frequency, 50)
        .map(|f| f.map(|f| FREQUENCIES.parse(&f).map_or(f, str::to_owned)));
    let payment = match input.payment_status {
        Field::Value(v) => match PAYMENT_STATUSES.parse(&v) {
            Some(s) => Some(s),
            None => {
                c.error("payment_status", format!("\"{v}\" is not a valid choice."));
                None
            }
        },
        Field::Null => {
            c.error("payment_status", kernel::form::NOT_NULL);
            None
        }
        Field::Absent => creating.then_some("Pending"),
    };
    let payment_terms = c.optional_text("payment_terms", input.payment_terms, 10_000);
    let last_billing = rest::optional_date(&mut c, "last_billing_date", input.last_billing_date);
    let next_billing = rest::optional_date(&mut c, "next_billing_date", input.next_billing_date);
    let auto_renew = c.boolean("auto_renew", input.auto_renew, false);
    let renewable = c.boolean("is_renewable", input.is_renewable, true);
    let notice = match input.renewal_notice_days {
        Field::Absent if creating => Some(30),
        Field::Absent => None,
        other => c
            .int("renewal_notice_days", other, 0, 3650)
            .and_then(|v| i32::try_from(v).ok()),
    };
    let document_url = c.optional_text("document_url", input.document_url, 500);
    let signed_by = c.optional_text("signed_by", input.signed_by, 255);
    let signed_at = clients::datetime(&mut c, "signed_at", input.signed_at);
    // Checked on every write, used on create only.
    let status = match input.status {
        Field::Value(v) => match CREATE_STATUSES.parse(&v) {
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
        Field::Absent => creating.then_some("Draft"),
    };
    let termination = c.optional_text("termination_reason", input.termination_reason, 10_000);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, creating);
    // The client: one the caller may see, fixed once the contract exists.
    let mut client_row = None;
    if let Some(id) = &client_id {
        match &current {
            Some(row) if &row.client_id != id => c.error("client_id", FIXED),
            Some(_) => {}
            None => match client::Entity::find_visible(&**db, me, id.clone()).await {
                Ok(found) if crate::rest::is_id(id) => client_row = Some(found),
                _ => c.error("client_id", rest::invalid_pk_message(id)),
            },
        }
    }
    // The period, as it will be.
    let final_start = start.or(current.as_ref().map(|r| r.start_date));
    let final_end = end.or(current.as_ref().map(|r| r.end_date));
    if let (Some(s), Some(e)) = (final_start, final_end)
        && e <= s
        && (start.is_some() || end.is_some())
    {
        c.error("end_date", END_BEFORE_START);
    }
    let final_renewal = match &renewal {
        Some(v) => *v,
        None => current.as_ref().and_then(|r| r.renewal_date),
    };
    if let (Some(r), Some(s), Some(e)) = (final_renewal, final_start, final_end)
        && (r < s || r > e)
        && !c.has_error("end_date")
    {
        c.error("renewal_date", RENEWAL_OUTSIDE);
    }
    let own_id = current.as_ref().map(|r| r.id.clone());
    if let Some(Some(number)) = &number {
        let taken = contract::Entity::find()
            .filter(contract::Column::ContractNumber.eq(number.as_str()))
            .filter(contract::Column::DeletedAt.is_null())
            .filter(match &own_id {
                Some(id) => Condition::all().add(contract::Column::Id.ne(id.as_str())),
                None => Condition::all(),
            })
            .one(&**db)
            .await?;
        if taken.is_some() {
            c.error("contract_number", NUMBER_TAKEN);
        }
    }
    c.finish()?;

    let id = match &own_id {
        Some(id) => id.clone(),
        None => fresh_id(&**db, number.as_ref().is_some_and(Option::is_some)).await?,
    };
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("contract_number", NUMBER_TAKEN)
        } else {
            e.into()
        }
    };
    let default_number = || default_number(&id);
    let default_title = |name: &str| format!("{name} contract");
    let saved = match &current {
        None => {
            let client = client_row.ok_or_else(|| rest::not_found("Client"))?;
            let number = number.flatten().unwrap_or_else(default_number);
            contract::ActiveModel {
                id: Set(id.clone()),
                client_id: Set(client.id.clone()),
                title: Set(title
                    .flatten()
                    .unwrap_or_else(|| default_title(&client.name))),
                description: Set(description.flatten()),
                contract_number: Set(number),
                start_date: Set(start.unwrap_or_default()),
                end_date: Set(end.unwrap_or_default()),
                renewal_date: Set(renewal.flatten()),
                billing_amount: Set(amount.unwrap_or_default().cents()),
                currency: Set(currency.flatten().unwrap_or_else(|| "UGX".into())),
                billing_frequency: Set(frequency.flatten().unwrap_or_else(|| "Monthly".into())),
                payment_status: Set(payment.unwrap_or("Pending").to_owned()),
                payment_terms: Set(payment_terms.flatten()),
                last_billing_date: Set(last_billing.flatten()),
                next_billing_date: Set(next_billing.flatten()),
                auto_renew: Set(auto_renew.unwrap_or(false)),
                is_renewable: Set(renewable.unwrap_or(true)),
                renewal_notice_days: Set(notice.unwrap_or(30)),
                document_url: Set(document_url.flatten()),
                signed_by: Set(signed_by.flatten()),
                signed_at: Set(signed_at.flatten()),
                status: Set(status.unwrap_or("Draft").to_owned()),
                termination_reason: Set(termination.flatten()),
                notes: Set(notes.flatten()),
                metadata: Set(metadata.unwrap_or_else(|| json!({}))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                tombstone: Set(String::new()),
            }
            .insert(&txn)
            .await
            .map_err(taken)?
        }
        Some(before) => {
            let mut row: contract::ActiveModel = before.clone().into();
            if let Some(v) = title {
                let name = client::Entity::find_by_id(before.client_id.clone())
                    .one(&txn)
                    .await?
                    .map(|c| c.name)
                    .unwrap_or_default();
                row.title = Set(v.unwrap_or_else(|| default_title(&name)));
            }
            if let Some(v) = number {
                row.contract_number = Set(v.unwrap_or_else(default_number));
            }
            macro_rules! put {
                ($($field:ident = $value:expr),* $(,)?) => {
                    $(if let Some(v) = $value { row.$field = Set(v); })*
                };
            }
            put!(
                description = description,
                start_date = start,
                end_date = end,
                renewal_date = renewal,
                billing_amount = amount.map(Money::cents),
                currency = currency.map(|v| v.unwrap_or_else(|| "UGX".into())),
                billing_frequency = frequency.map(|v| v.unwrap_or_else(|| "Monthly".into())),
                payment_status = payment.map(str::to_owned),
                payment_terms = payment_terms,
                last_billing_date = last_billing,
                next_billing_date = next_billing,
                auto_renew = auto_renew,
                is_renewable = renewable,
                renewal_notice_days = notice,
                document_url = document_url,
                signed_by = signed_by,
                signed_at = signed_at,
                termination_reason = termination,
                notes = notes,
                metadata = metadata,
            );
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(taken)?
        }
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

/// Creates a contract (platform users): Draft, payment Pending, UGX,
/// Monthly, renewable, 30 days' notice unless given.
#[utoipa::path(post, path = "/api/contracts/", tag = "contracts", security(("jwt" = [])),
    request_body = ContractIn, responses((status = 201, body = ContractOut)))]
pub async fn create_contract(
    db: Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Json(input): Json<ContractIn>,
) -> ApiResult<(StatusCode, Json<ContractOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a contract's fields (platform users); its client stays.
#[utoipa::path(put, path = "/api/contracts/{id}/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ContractIn, responses((status = 200, body = ContractOut)))]
pub async fn put_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<ContractIn>, ApiError>,
) -> ApiResult<Json<ContractOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a contract's fields (platform users).
#[utoipa::path(patch, path = "/api/contracts/{id}/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ContractIn, responses((status = 200, body = ContractOut)))]
pub async fn patch_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<ContractIn>, ApiError>,
) -> ApiResult<Json<ContractOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a contract (platform users).
#[utoipa::path(delete, path = "/api/contracts/{id}/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_contract(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<contract::Entity>(&txn, &me, &before.id, record(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a contract (platform users).
#[utoipa::path(post, path = "/api/contracts/{id}/restore/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn restore_contract(
    Db(db): Db,
    Platform(me): Platform,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let (txn, before, after) =
        rest::restore::<contract::Entity>(&db, &id, Condition::all()).await?;
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

// ---------------------------------------------------------------- actions

/// A rule an action breaks because of one input field: 400 `invalid_state`
/// with the rule's text, and the field's error.
fn field_rule(field: &str, message: &str) -> ApiError {
    ApiError::detailed(
        StatusCode::BAD_REQUEST,
        message.to_owned(),
        "invalid_state",
        json!({"errors": {field: [message]}}),
    )
}

/// Locks the live contract `id` in `txn`, applies `change` (which may
/// refuse) and records the action; the detail.
async fn act<F>(
    db: &kernel::Db,
    me: &Me,
    found: contract::Model,
    change_type: &'static str,
    reason: Option<String>,
    change: F,
) -> ApiResult<Json<ContractOut>>
where
    F: FnOnce(&contract::Model, &mut contract::ActiveModel) -> ApiResult<()>,
{
    let txn = kernel::db::begin_write(db).await?;
    let before = contract::Entity::find_by_id(found.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    let mut row: contract::ActiveModel = before.clone().into();
    change(&before, &mut row)?;
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let change = Change::action(change_type, &record(&before), &record(&after)).reason(reason);
    let event = Event::new("Update", MODEL, &after.id).change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Refuses a move to `to` by `verb` unless the status is one of `from`.
fn guard(row: &contract::Model, verb: &str, from: &[&str], to: &str) -> ApiResult<()> {
    if row.status == to {
        return Err(rest::invalid_state(format!("Contract is already {to}")));
    }
    if !from.contains(&row.status.as_str()) {
        return Err(rest::invalid_state(format!(
            "Cannot {verb} a contract that is {}",
            row.status
        )));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContractReasonIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    reason: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TerminateIn {
    /// Why the contract ends (required: `Termination reason is required`).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<1000>, required = true)]
    reason: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RenewIn {
    /// After the current end date (`New end date must be after current end
    /// date`).
    #[serde(default)]
    #[schema(schema_with = rest::date_schema, required = true)]
    new_end_date: Field<String>,
    /// The new amount (alias `new_billing_amount`); the current one stays
    /// when left out.
    #[serde(default, alias = "new_billing_amount")]
    #[schema(schema_with = optional_amount)]
    new_billing_rate: Field<Money>,
}

fn optional_amount() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(Money::non_negative_schema())
}

/// Activates a Draft, Pending or Suspended contract whose end date has not passed.
#[utoipa::path(post, path = "/api/contracts/{id}/activate/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn activate_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    act(&db, &me, found, "Activate", None, |before, row| {
        guard(
            before,
            "activate",
            &["Draft", "Pending", "Suspended"],
            "Active",
        )?;
        if before.end_date < today() {
            return Err(rest::invalid_state(
                "Cannot activate a contract whose end date has passed",
            ));
        }
        row.status = Set("Active".into());
        Ok(())
    })
    .await
}

/// Suspends an Active or Renewed contract.
#[utoipa::path(post, path = "/api/contracts/{id}/suspend/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ContractReasonIn, responses((status = 200, body = ContractOut)))]
pub async fn suspend_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<ContractReasonIn>, ApiError>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    let kept = reason.clone();
    act(&db, &me, found, "Update", reason, move |before, row| {
        guard(before, "suspend", RUNNING, "Suspended")?;
        row.status = Set("Suspended".into());
        if let Some(reason) = kept {
            let mut metadata = object(&before.metadata);
            metadata["suspension_reason"] = json!(reason);
            row.metadata = Set(metadata);
        }
        Ok(())
    })
    .await
}

/// Terminates a contract (any status but Expired, Terminated); `reason` required.
#[utoipa::path(post, path = "/api/contracts/{id}/terminate/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = TerminateIn, responses((status = 200, body = ContractOut)))]
pub async fn terminate_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<TerminateIn>, ApiError>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    let Some(reason) = reason else {
        return Err(ApiError::field("reason", "Termination reason is required"));
    };
    let kept = reason.clone();
    act(
        &db,
        &me,
        found,
        "Update",
        Some(reason),
        move |before, row| {
            guard(
                before,
                "terminate",
                &["Draft", "Pending", "Active", "Renewed", "Suspended"],
                "Terminated",
            )?;
            row.status = Set("Terminated".into());
            row.termination_reason = Set(Some(kept));
            Ok(())
        },
    )
    .await
}

fn object(value: &Value) -> Value {
    if value.is_object() {
        value.clone()
    } else {
        json!({})
    }
}

/// Renews an Active, Renewed or Expired renewable contract to
/// `new_end_date`, optionally at a new amount; kept in `metadata.renewals`.
#[utoipa::path(post, path = "/api/contracts/{id}/renew/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = RenewIn, responses((status = 200, body = ContractOut)))]
pub async fn renew_contract(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<RenewIn>, ApiError>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let new_end = rest::required_date(&mut c, "new_end_date", input.new_end_date);
    let new_amount = match c.nullable(input.new_billing_rate).flatten() {
        Some(m) if m.cents() < 0 => {
            c.error(
                "new_billing_rate",
                "Ensure this value is greater than or equal to 0.",
            );
            None
        }
        other => other,
    };
    c.finish()?;
    let new_end = new_end.ok_or_else(|| ApiError::field("new_end_date", kernel::form::REQUIRED))?;
    let by = me.user.id.clone();
    act(&db, &me, found, "Update", None, move |before, row| {
        if !["Active", "Renewed", "Expired"].contains(&before.status.as_str()) {
            return Err(rest::invalid_state(format!(
                "Cannot renew a contract that is {}",
                before.status
            )));
        }
        if !before.is_renewable {
            return Err(rest::invalid_state("Contract is not renewable"));
        }
        if new_end <= before.end_date {
            return Err(field_rule(
                "new_end_date",
                "New end date must be after current end date",
            ));
        }
        let amount = new_amount.map_or(before.billing_amount, Money::cents);
        let mut metadata = object(&before.metadata);
        let entry = json!({
            "previous_end_date": before.end_date.format("%Y-%m-%d").to_string(),
            "new_end_date": new_end.format("%Y-%m-%d").to_string(),
            "previous_amount": Money(before.billing_amount).to_string(),
            "new_amount": Money(amount).to_string(),
            "renewed_at": kernel::time::iso(kernel::time::now()),
            "renewed_by": by,
        });
        match metadata.get_mut("renewals").and_then(Value::as_array_mut) {
            Some(list) => list.push(entry),
            None => metadata["renewals"] = json!([entry]),
        }
        row.status = Set("Renewed".into());
        row.end_date = Set(new_end);
        row.billing_amount = Set(amount);
        row.renewal_date = Set(None);
        row.metadata = Set(metadata);
        Ok(())
    })
    .await
}

/// Marks an Active, Renewed, Suspended or Pending contract Expired.
#[utoipa::path(post, path = "/api/contracts/{id}/mark_expired/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn mark_expired(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    act(&db, &me, found, "Update", None, |before, row| {
        guard(
            before,
            "expire",
            &["Active", "Renewed", "Suspended", "Pending"],
            "Expired",
        )?;
        row.status = Set("Expired".into());
        Ok(())
    })
    .await
}

/// Records a payment: Paid, billed today, next billing by the frequency.
#[utoipa::path(post, path = "/api/contracts/{id}/mark_paid/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn mark_paid(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    act(&db, &me, found, "Update", None, |before, row| {
        if !["Pending", "Overdue", "Paid"].contains(&before.payment_status.as_str()) {
            return Err(rest::invalid_state(format!(
                "Cannot mark a contract paid when its payment is {}",
                before.payment_status
            )));
        }
        let today = today();
        row.payment_status = Set("Paid".into());
        row.last_billing_date = Set(Some(today));
        row.next_billing_date = Set(next_billing(&before.billing_frequency, today));
        Ok(())
    })
    .await
}

/// Marks a Pending or Paid payment Overdue.
#[utoipa::path(post, path = "/api/contracts/{id}/mark_overdue/", tag = "contracts", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ContractOut)))]
pub async fn mark_overdue(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractOut>> {
    let found = writable(&*db, &me, &id).await?;
    act(&db, &me, found, "Update", None, |before, row| {
        if before.payment_status == "Overdue" {
            return Err(rest::invalid_state("Payment is already Overdue"));
        }
        if !["Pending", "Paid"].contains(&before.payment_status.as_str()) {
            return Err(rest::invalid_state(format!(
                "Cannot mark a contract overdue when its payment is {}",
                before.payment_status
            )));
        }
        row.payment_status = Set("Overdue".into());
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(raw: &str) -> NaiveDate {
        rest::parse_date(raw).unwrap_or_default()
    }

    #[test]
    fn billing_dates_follow_the_frequency() {
        let from = d("2026-01-31");
        assert_eq!(next_billing("Weekly", from), Some(d("2026-02-07")));
        assert_eq!(next_billing("monthly", from), Some(d("2026-02-28")));
        assert_eq!(next_billing("QUARTERLY", from), Some(d("2026-04-30")));
        assert_eq!(next_billing("SEMI_ANNUAL", from), Some(d("2026-07-31")));
        assert_eq!(next_billing("Annually", from), Some(d("2027-01-31")));
        assert_eq!(next_billing("Annual", from), Some(d("2027-01-31")));
        assert_eq!(next_billing("Fortnightly", from), None);
    }

    #[test]
    fn dates_are_yyyy_mm_dd_from_1900() {
        assert!(rest::parse_date("2026-05-01").is_ok());
        assert_eq!(rest::parse_date("2026-5-1"), Err(rest::DATE_FORMAT));
        assert_eq!(rest::parse_date("2026-02-30"), Err(rest::DATE_FORMAT));
        assert_eq!(rest::parse_date("1899-12-31"), Err(rest::DATE_RANGE));
    }
}
