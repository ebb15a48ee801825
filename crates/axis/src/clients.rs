//! Clients (axis contract §5): CRUD for platform users, read for scoped
//! users (their granted clients only: others are absent), the status
//! actions with their history, `verify`, the array queries and `stats/`.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json, Scoped};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, NO_PERMISSION, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{activity, client, contact, industry, tag, tag_link};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Client";

pub const STATUSES: Choices = Choices(&["Active", "Inactive", "Pending", "Archived"]);
pub const CONTACT_METHODS: Choices = Choices(&["Email", "Phone", "SMS", "WhatsApp", "Other"]);

const NO_CONTACT: &str = "Active clients must have at least one contact method (email or phone)";

/// A client is visible to platform users, and to a scoped user when a live
/// grant names it; deleted clients to nobody.
impl Scoped for client::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        Condition::all()
            .add(client::Column::DeletedAt.is_null())
            .add(me.client_condition(client::Column::Id))
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clients, create_client))
        .routes(routes!(active_clients))
        .routes(routes!(verified_clients))
        .routes(routes!(clients_needing_verification))
        .routes(routes!(recent_clients))
        .routes(routes!(search_clients))
        .routes(routes!(clients_of_industry))
        .routes(routes!(get_client, put_client, patch_client, delete_client))
        .routes(routes!(activate_client))
        .routes(routes!(deactivate_client))
        .routes(routes!(archive_client))
        .routes(routes!(verify_client))
        .routes(routes!(restore_client))
        .routes(routes!(client_stats))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagBrief {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub color: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientIndustry {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrimaryContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub method: Option<String>,
}

/// A client in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientItem {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub industry_id: Option<String>,
    pub industry_name: Option<String>,
    /// Live contracts running today (Active or Renewed, within their period).
    pub active_contracts_count: u64,
    pub tags: Vec<TagBrief>,
    pub parent_client_id: Option<String>,
    pub parent_client_name: Option<String>,
    pub subsidiaries_count: u64,
    pub last_contact_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One client: every field, its industry, primary contact and counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientOut {
    #[serde(flatten)]
    pub item: ClientItem,
    pub website: Option<String>,
    pub address: Option<String>,
    pub billing_address: Option<String>,
    pub tax_id: Option<String>,
    pub contact_person: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub preferred_contact_method: Option<String>,
    pub timezone: Option<String>,
    pub notes: Option<String>,
    pub metadata: Value,
    pub tag_ids: Vec<String>,
    pub industry: Option<ClientIndustry>,
    pub parent_client: Option<String>,
    /// `Verified` or `Unverified`.
    pub verified_status: String,
    pub primary_contact: PrimaryContact,
    pub contacts_count: u64,
    pub activities_count: u64,
    pub documents_count: u64,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What the audit trail keeps of a client: its row and tag ids.
fn record(row: &client::Model, tags: &[String]) -> Value {
    let mut value = audit::snapshot(row);
    value["tag_ids"] = json!(tags);
    value
}

/// The client `id` as the audit trail keeps it, read on `db` (the
/// transaction of a change that touches it).
pub async fn snapshot(db: &impl ConnectionTrait, id: &str) -> ApiResult<Option<Value>> {
    let Some(row) = client::Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    let tags = tag_ids(db, id).await?;
    Ok(Some(record(&row, &tags)))
}

async fn tag_ids(db: &impl ConnectionTrait, id: &str) -> ApiResult<Vec<String>> {
    let mut ids: Vec<String> = tag_link::Entity::find()
        .select_only()
        .column(tag_link::Column::TagId)
        .filter(tag_link::Column::ClientId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    ids.sort();
    Ok(ids)
}

/// Counts of `column` per `key` among live rows of `E` whose key is in `ids`.
async fn count_by<E: EntityTrait>(
    db: &impl ConnectionTrait,
    key: E::Column,
    deleted: E::Column,
    ids: &[String],
    extra: Condition,
) -> ApiResult<HashMap<String, u64>> {
    let rows: Vec<(String, i64)> = E::find()
        .select_only()
        .column(key)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(key.is_in(ids.to_vec()))
        .filter(deleted.is_null())
        .filter(extra)
        .group_by(key)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect())
}

struct Related {
    industries: HashMap<String, industry::Model>,
    parents: HashMap<String, String>,
    subsidiaries: HashMap<String, u64>,
    tags: HashMap<String, Vec<TagBrief>>,
    tag_ids: HashMap<String, Vec<String>>,
    active_contracts: HashMap<String, u64>,
}

async fn related(db: &impl ConnectionTrait, me: &Me, rows: &[client::Model]) -> ApiResult<Related> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let industries = industry::Entity::find()
        .filter(industry::Column::Id.is_in(rows.iter().filter_map(|r| r.industry_id.clone())))
        .filter(industry::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    let parents = client::Entity::visible(me)
        .filter(client::Column::Id.is_in(rows.iter().filter_map(|r| r.parent_client_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let subsidiaries = count_by::<client::Entity>(
        db,
        client::Column::ParentClientId,
        client::Column::DeletedAt,
        &ids,
        me.client_condition(client::Column::Id),
    )
    .await?;
    let active_contracts = crate::contracts::counts(db, &ids, true).await?;
    let links = tag_link::Entity::find()
        .filter(tag_link::Column::ClientId.is_in(ids))
        .all(db)
        .await?;
    let live_tags: HashMap<String, tag::Model> = tag::Entity::find()
        .filter(tag::Column::Id.is_in(links.iter().map(|l| l.tag_id.clone())))
        .filter(tag::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mut tags: HashMap<String, Vec<TagBrief>> = HashMap::new();
    let mut tag_ids: HashMap<String, Vec<String>> = HashMap::new();
    for link in links {
        if let Some(t) = live_tags.get(&link.tag_id) {
            tags.entry(link.client_id.clone())
                .or_default()
                .push(TagBrief {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    slug: t.slug.clone(),
                    color: t.color.clone(),
                });
            tag_ids
                .entry(link.client_id)
                .or_default()
                .push(t.id.clone());
        }
    }
    for list in tags.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Related {
        industries,
        parents,
        subsidiaries,
        tags,
        tag_ids,
        active_contracts,
    })
}

fn item(rel: &Related, r: &client::Model) -> ClientItem {
    ClientItem {
        id: r.id.clone(),
        name: r.name.clone(),
        email: r.email.clone(),
        phone: r.phone.clone(),
        status: r.status.clone(),
        is_verified: r.is_verified,
        is_active: r.status == "Active",
        industry_id: r.industry_id.clone(),
        industry_name: r
            .industry_id
            .as_ref()
            .and_then(|i| rel.industries.get(i))
            .map(|i| i.name.clone()),
        active_contracts_count: rel.active_contracts.get(&r.id).copied().unwrap_or(0),
        tags: rel.tags.get(&r.id).cloned().unwrap_or_default(),
        parent_client_id: r.parent_client_id.clone(),
        parent_client_name: r
            .parent_client_id
            .as_ref()
            .and_then(|p| rel.parents.get(p).cloned()),
        subsidiaries_count: rel.subsidiaries.get(&r.id).copied().unwrap_or(0),
        last_contact_date: r.last_contact_date,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

async fn items(
    db: &impl ConnectionTrait,
    me: &Me,
    rows: Vec<client::Model>,
) -> ApiResult<Vec<ClientItem>> {
    let rel = related(db, me, &rows).await?;
    Ok(rows.iter().map(|r| item(&rel, r)).collect())
}

/// The detail shape of `row`.
pub async fn detail(
    db: &impl ConnectionTrait,
    me: &Me,
    row: client::Model,
) -> ApiResult<ClientOut> {
    let rel = related(db, me, std::slice::from_ref(&row)).await?;
    let ids = [row.id.clone()];
    let contacts = count_by::<contact::Entity>(
        db,
        contact::Column::ClientId,
        contact::Column::DeletedAt,
        &ids,
        Condition::all(),
    )
    .await?;
    let activities = count_by::<activity::Entity>(
        db,
        activity::Column::ClientId,
        activity::Column::DeletedAt,
        &ids,
        Condition::all(),
    )
    .await?;
    let primary = contact::Entity::find()
        .filter(contact::Column::ClientId.eq(row.id.as_str()))
        .filter(contact::Column::DeletedAt.is_null())
        .filter(contact::Column::IsPrimary.eq(true))
        .one(db)
        .await?;
    let primary_contact = match primary {
        Some(p) => PrimaryContact {
            name: Some(p.full_name()),
            email: p.email.clone(),
            phone: p.phone.clone().or(p.mobile.clone()),
            method: Some(p.preferred_contact_method.clone()),
        },
        None => PrimaryContact {
            name: row.contact_person.clone().or(Some(row.name.clone())),
            email: row.contact_email.clone().or(row.email.clone()),
            phone: row.contact_phone.clone().or(row.phone.clone()),
            method: row.preferred_contact_method.clone(),
        },
    };
    Ok(ClientOut {
        item: item(&rel, &row),
        tag_ids: rel.tag_ids.get(&row.id).cloned().unwrap_or_default(),
        industry: row
            .industry_id
            .as_ref()
            .and_then(|i| rel.industries.get(i))
            .map(|i| ClientIndustry {
                id: i.id.clone(),
                name: i.name.clone(),
                code: i.code.clone(),
            }),
        parent_client: row.parent_client_id.clone(),
        verified_status: if row.is_verified {
            "Verified"
        } else {
            "Unverified"
        }
        .to_owned(),
        primary_contact,
        contacts_count: contacts.get(&row.id).copied().unwrap_or(0),
        activities_count: activities.get(&row.id).copied().unwrap_or(0),
        documents_count: crate::documents::count(db, me, &row.id).await?,
        website: row.website,
        address: row.address,
        billing_address: row.billing_address,
        tax_id: row.tax_id,
        contact_person: row.contact_person,
        contact_email: row.contact_email,
        contact_phone: row.contact_phone,
        preferred_contact_method: row.preferred_contact_method,
        timezone: row.timezone,
        notes: row.notes,
        metadata: row.metadata,
        deleted_at: row.deleted_at,
    })
}

/// OpenAPI schemas of what the input fields of clients, contacts,
/// activities and industries accept, beyond `kernel::form::schema`.
pub(crate) mod schema {
    use kernel::form::schema::{blank_or_null, choice, date_from_1900, email};
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};

    /// A row id (a CUID); one that names no row the caller may see is
    /// refused with `Invalid pk "x" - object does not exist.`.
    pub fn cuid() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z][a-z0-9]{24}$"))
            .into()
    }

    /// A row id, or blank or null to clear it.
    pub fn optional_cuid() -> Schema {
        blank_or_null(cuid())
    }

    /// An address, or blank or null to clear it.
    pub fn optional_email() -> Schema {
        blank_or_null(email())
    }

    /// One of `allowed`, or blank or null to clear it.
    pub fn optional_choice(allowed: &[&str]) -> Schema {
        blank_or_null(choice(allowed))
    }

    /// What [`super::parse_time`] reads within [`super::YEARS`]: a
    /// `YYYY-MM-DD` date (midnight UTC) or an RFC 3339 date-time, written
    /// in years 1900 to 9999.
    pub fn time() -> Schema {
        AnyOfBuilder::new()
            .item(date_from_1900())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .pattern(Some("^(19[0-9]{2}|[2-9][0-9]{3})-"))
                    .max_length(Some(64)),
            )
            .into()
    }

    /// [`time`], or blank or null to clear it.
    pub fn optional_time() -> Schema {
        blank_or_null(time())
    }

    /// [`time`] as a type, for query parameters.
    #[derive(Debug, Clone, Copy)]
    pub struct Time;

    impl utoipa::PartialSchema for Time {
        fn schema() -> RefOr<Schema> {
            time().into()
        }
    }

    impl utoipa::ToSchema for Time {}
}

kernel::choices!(
    /// Where a client stands.
    pub ClientStatus = STATUSES.0
);

kernel::choices!(
    /// How a client or contact prefers to be reached.
    pub ContactMethod = CONTACT_METHODS.0
);

/// The years every database stores (MariaDB's `DATETIME` starts at 1000
/// and silently stores older values as NULL), as PSS's dates.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;
const OUT_OF_RANGE: &str = "Ensure this date is between 1900-01-01 and 9999-12-31.";

/// A query parameter as an RFC 3339 time or a `YYYY-MM-DD` date (midnight
/// UTC), written within [`YEARS`]; else a 400 on `name`. A time past the
/// last instant every database stores (`9999-12-31T23:00:00-05:00`) reads
/// as that instant, which compares the same with every stored row.
fn date_param(list: &List, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(raw) = list.get(name) else {
        return Ok(None);
    };
    match parse_time(raw.trim()) {
        Ok(at) => Ok(Some(at)),
        Err(TimeError::Late) => Ok(Some(last_instant())),
        Err(TimeError::OutOfRange) => Err(ApiError::field(name, OUT_OF_RANGE)),
        Err(TimeError::Malformed) => Err(ApiError::field(name, "Enter a valid date.")),
    }
}

/// 9999-12-31T23:59:59.999999Z.
fn last_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(*YEARS.end(), 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Why [`parse_time`] refused a value.
enum TimeError {
    Malformed,
    /// Written in a year outside [`YEARS`].
    OutOfRange,
    /// Written in [`YEARS`], but past 9999 in UTC (a negative offset on
    /// 9999-12-31).
    Late,
}

/// An RFC 3339 time, or a `YYYY-MM-DD` date as midnight UTC, written in a
/// year of [`YEARS`].
fn parse_time(raw: &str) -> Result<DateTime<Utc>, TimeError> {
    let (written, at) = match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => (at.year(), at.with_timezone(&Utc)),
        Err(_) => {
            // `YYYY-MM-DD` exactly (chrono would also read `+2020-1-1`).
            let shaped = raw.len() == 10
                && raw.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                });
            let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .filter(|_| shaped)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .ok_or(TimeError::Malformed)?;
            (date.year(), date.and_utc())
        }
    };
    if !YEARS.contains(&written) {
        Err(TimeError::OutOfRange)
    } else if at.year() > *YEARS.end() {
        Err(TimeError::Late)
    } else {
        // Possibly 1899 in UTC (1900-01-01 at a positive offset), which
        // every database stores.
        Ok(at)
    }
}

/// The filters every client query shares.
fn filtered(me: &Me, list: &List) -> ApiResult<Select<client::Entity>> {
    let mut query = client::Entity::visible(me);
    if let Some(name) = list.get("name") {
        query = query.filter(
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                client::Column::Name,
            )))
            .like(format!("%{}%", name.trim().to_lowercase())),
        );
    }
    if let Some(email) = list.get("email") {
        query = query.filter(client::Column::Email.contains(email.trim().to_lowercase()));
    }
    if let Some(status) = list.get("status") {
        query = query.filter(client::Column::Status.eq(STATUSES.check("status", status)?));
    }
    if let Some(verified) = rest::flag(list, "is_verified")? {
        query = query.filter(client::Column::IsVerified.eq(verified));
    }
    if let Some(industry) = list.get("industry_id").or(list.get("industry")) {
        query = query.filter(client::Column::IndustryId.eq(industry.trim()));
    }
    if let Some(method) = list
        .get("contact_method")
        .or(list.get("preferred_contact_method"))
    {
        query = query.filter(
            client::Column::PreferredContactMethod
                .eq(CONTACT_METHODS.check("contact_method", method)?),
        );
    }
    if let Some(after) = date_param(list, "created_after")? {
        query = query.filter(client::Column::CreatedAt.gte(after));
    }
    if let Some(before) = date_param(list, "created_before")? {
        let end = before
            .checked_add_signed(chrono::TimeDelta::days(1))
            .map_or(last_instant(), |end| Ord::min(end, last_instant()));
        query = query.filter(client::Column::CreatedAt.lt(end));
    }
    Ok(query)
}

/// Clients, a page at a time: search `name, email, phone, contact_person,
/// contact_email`; filters `name, status, is_verified, industry_id`
/// (alias `industry`), `created_after, created_before`; ordering `name,
/// created_at, status`.
#[utoipa::path(get, path = "/api/clients/", tag = "clients", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("name" = Option<String>, Query),
        ("status" = inline(Option<ClientStatus>), Query), ("is_verified" = Option<bool>, Query), ("industry_id" = Option<String>, Query),
        ("industry" = Option<String>, Query), ("created_after" = inline(Option<schema::Time>), Query),
        ("created_before" = inline(Option<schema::Time>), Query)),
    responses((status = 200, body = Page<ClientItem>)))]
pub async fn list_clients(Db(db): Db, me: Me, list: List) -> ApiResult<Json<Page<ClientItem>>> {
    let query = filtered(&me, &list)?;
    let query = list.search(
        query,
        &[
            Expr::col(client::Column::Name),
            Expr::col(client::Column::Email),
            Expr::col(client::Column::Phone),
            Expr::col(client::Column::ContactPerson),
            Expr::col(client::Column::ContactEmail),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(client::Column::Name)),
            ("created_at", Expr::col(client::Column::CreatedAt)),
            ("status", Expr::col(client::Column::Status)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        client::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = items(&db, &me, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

async fn array(
    db: &impl ConnectionTrait,
    me: &Me,
    query: Select<client::Entity>,
) -> ApiResult<Json<Vec<ClientItem>>> {
    let rows = query
        .order_by_desc(client::Column::CreatedAt)
        .order_by_asc(client::Column::Id)
        .limit(rest::ARRAY_LIMIT)
        .all(db)
        .await?;
    Ok(Json(items(db, me, rows).await?))
}

/// Active clients.
#[utoipa::path(get, path = "/api/clients/active/", tag = "clients", security(("jwt" = [])),
    responses((status = 200, body = Vec<ClientItem>)))]
pub async fn active_clients(Db(db): Db, me: Me) -> ApiResult<Json<Vec<ClientItem>>> {
    let query = client::Entity::visible(&me).filter(client::Column::Status.eq("Active"));
    array(&db, &me, query).await
}

/// Verified clients.
#[utoipa::path(get, path = "/api/clients/verified/", tag = "clients", security(("jwt" = [])),
    responses((status = 200, body = Vec<ClientItem>)))]
pub async fn verified_clients(Db(db): Db, me: Me) -> ApiResult<Json<Vec<ClientItem>>> {
    let query = client::Entity::visible(&me).filter(client::Column::IsVerified.eq(true));
    array(&db, &me, query).await
}

/// Active clients not yet verified.
#[utoipa::path(get, path = "/api/clients/needs_verification/", tag = "clients", security(("jwt" = [])),
    responses((status = 200, body = Vec<ClientItem>)))]
pub async fn clients_needing_verification(Db(db): Db, me: Me) -> ApiResult<Json<Vec<ClientItem>>> {
    let query = client::Entity::visible(&me)
        .filter(client::Column::Status.eq("Active"))
        .filter(client::Column::IsVerified.eq(false));
    array(&db, &me, query).await
}

/// Clients created in the last `days` (30).
#[utoipa::path(get, path = "/api/clients/recent/", tag = "clients", security(("jwt" = [])),
    params(("days" = Option<u64>, Query)), responses((status = 200, body = Vec<ClientItem>)))]
pub async fn recent_clients(Db(db): Db, me: Me, list: List) -> ApiResult<Json<Vec<ClientItem>>> {
    let days = rest::days(list.get("days"), 30)?;
    let since = kernel::time::now() - chrono::TimeDelta::days(days);
    let query = client::Entity::visible(&me).filter(client::Column::CreatedAt.gte(since));
    array(&db, &me, query).await
}

/// Clients matching `name, email, status, industry_id, is_verified, contact_method`.
#[utoipa::path(get, path = "/api/clients/search/", tag = "clients", security(("jwt" = [])),
    params(("name" = Option<String>, Query), ("email" = Option<String>, Query), ("status" = inline(Option<ClientStatus>), Query),
        ("industry_id" = Option<String>, Query), ("is_verified" = Option<bool>, Query),
        ("contact_method" = inline(Option<ContactMethod>), Query)),
    responses((status = 200, body = Vec<ClientItem>)))]
pub async fn search_clients(Db(db): Db, me: Me, list: List) -> ApiResult<Json<Vec<ClientItem>>> {
    let query = filtered(&me, &list)?;
    array(&db, &me, query).await
}

/// The clients of one industry.
#[utoipa::path(get, path = "/api/clients/industry/{industry_id}/", tag = "clients", security(("jwt" = [])),
    params(("industry_id" = String, Path)), responses((status = 200, body = Vec<ClientItem>)))]
pub async fn clients_of_industry(
    Db(db): Db,
    me: Me,
    Path(industry_id): Path<String>,
) -> ApiResult<Json<Vec<ClientItem>>> {
    // The path names an industry: unknown, malformed or deleted is a 404.
    let industry_id = rest::path_id(&industry_id, "Industry")?;
    industry::Entity::find_by_id(industry_id.clone())
        .filter(industry::Column::DeletedAt.is_null())
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Industry"))?;
    let query = client::Entity::visible(&me).filter(client::Column::IndustryId.eq(industry_id));
    array(&db, &me, query).await
}

/// The client `id` if the caller may see it.
pub async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<client::Model> {
    let id = rest::path_id(id, MODEL)?;
    client::Entity::find_visible(db, me, id).await
}

/// The client `id` for a write: absent (404) unless the caller may see it,
/// then refused (403) unless they are a platform user (§3: a row outside
/// the caller's scope behaves as absent; a forbidden action on a visible
/// row is a 403). The body is read after both checks.
async fn writable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<client::Model> {
    let row = visible(db, me, id).await?;
    if me.is_platform() {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// One client.
#[utoipa::path(get, path = "/api/clients/{id}/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ClientOut)))]
pub async fn get_client(Db(db): Db, me: Me, Path(id): Path<String>) -> ApiResult<Json<ClientOut>> {
    let row = visible(&db, &me, &id).await?;
    Ok(Json(detail(&db, &me, row).await?))
}

/// What clients' `preferred_contact_method` accepts.
fn contact_method() -> utoipa::openapi::schema::Schema {
    schema::optional_choice(CONTACT_METHODS.0)
}

fn client_status() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

/// What `website` accepts: an `http` or `https` address with a host name
/// (letters beyond ASCII as Django's `URLValidator` takes them, from the
/// Basic Multilingual Plane) or IPv4 address, an optional port, and
/// printable text without spaces after it. The same pattern in the
/// document and the server, so that they agree exactly.
const WEBSITE: &str = concat!(
    "^[Hh][Tt][Tt][Pp][Ss]?://",
    "[A-Za-z0-9\\u00a1-\\uffff]([A-Za-z0-9.\\u00a1-\\uffff-]*[A-Za-z0-9\\u00a1-\\uffff])?",
    "(:[0-9]{1,5})?",
    "([/?#][!-~\\u00a1-\\uffff]*)?$",
);

fn is_website(text: &str) -> bool {
    static PATTERN: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(WEBSITE).ok());
    PATTERN.as_ref().is_some_and(|p| p.is_match(text))
}

/// [`WEBSITE`], or blank or null to clear it.
fn website() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    kernel::form::schema::blank_or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(WEBSITE))
            .max_length(Some(500)),
    )
}

/// The writable fields of a client. `status` Active needs one of `email,
/// phone, contact_email, contact_phone`; `email` is unique among live
/// clients.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClientIn {
    /// Not blank.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_email)]
    email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = website)]
    website: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    address: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    billing_address: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    tax_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    contact_person: Field<String>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_email)]
    contact_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    contact_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = contact_method)]
    preferred_contact_method: Field<String>,
    /// A live industry (alias `industry`).
    #[serde(default, alias = "industry")]
    #[schema(schema_with = schema::optional_cuid)]
    industry_id: Field<String>,
    /// A client the caller may see, not this one nor below it (alias `parent_client`).
    #[serde(default, alias = "parent_client")]
    #[schema(schema_with = schema::optional_cuid)]
    parent_client_id: Field<String>,
    /// Pending when left out on a create.
    #[serde(default)]
    #[schema(schema_with = client_status, required = false)]
    status: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_verified: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<64>)]
    timezone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_time)]
    last_contact_date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
    /// Live tags (alias `tags`); replaces the client's tags.
    #[serde(default, alias = "tags")]
    #[schema(schema_with = tag_id_list)]
    tag_ids: Field<Vec<String>>,
}

/// Tag ids; null clears them.
fn tag_id_list() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::RefOr::T(schema::cuid())),
    )
}

/// An optional email, lower-cased.
fn optional_email(c: &mut Checker, name: &str, field: Field<String>) -> Option<Option<String>> {
    let value = c.optional_text(name, field, 254)?;
    match value {
        None => Some(None),
        Some(v) => match kernel::form::normalize_email(&v) {
            Some(e) => Some(Some(e)),
            None => {
                c.error(name, "Enter a valid email address.");
                None
            }
        },
    }
}

/// An optional datetime field (RFC 3339, or a date as midnight UTC) within
/// [`YEARS`]; blank or null clears it.
pub(crate) fn datetime(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> Option<Option<DateTime<Utc>>> {
    let raw = c.optional_text(name, field, 64)?;
    let Some(raw) = raw else {
        return Some(None);
    };
    match parse_time(&raw) {
        Ok(at) => Some(Some(at)),
        // A time past 9999 in UTC cannot be stored.
        Err(TimeError::OutOfRange | TimeError::Late) => {
            c.error(name, OUT_OF_RANGE);
            None
        }
        Err(TimeError::Malformed) => {
            c.error(
                name,
                "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
            );
            None
        }
    }
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<client::Model>,
    input: ClientIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ClientOut>)> {
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = match &input.name {
        Field::Value(v) if v.trim().is_empty() => {
            c.error("name", "Client name cannot be empty");
            None
        }
        _ => c.text("name", input.name, 255),
    };
    let email = optional_email(&mut c, "email", input.email);
    let phone = c.optional_text("phone", input.phone, 30);
    let website = c.optional_text("website", input.website, 500);
    if let Some(Some(url)) = &website
        && !is_website(url)
    {
        c.error("website", "Enter a valid URL.");
    }
    let address = c.optional_text("address", input.address, 5000);
    let billing_address = c.optional_text("billing_address", input.billing_address, 5000);
    let tax_id = c.optional_text("tax_id", input.tax_id, 50);
    let contact_person = c.optional_text("contact_person", input.contact_person, 255);
    let contact_email = optional_email(&mut c, "contact_email", input.contact_email);
    let contact_phone = c.optional_text("contact_phone", input.contact_phone, 30);
    let method = rest::optional_choice(
        &mut c,
        "preferred_contact_method",
        input.preferred_contact_method,
        CONTACT_METHODS,
    );
    let industry_id = c.optional_text("industry_id", input.industry_id, 64);
    let parent_id = c.optional_text("parent_client_id", input.parent_client_id, 64);
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
        Field::Absent => current.is_none().then_some("Pending"),
    };
    let is_verified = c.boolean("is_verified", input.is_verified, false);
    let timezone = c.optional_text("timezone", input.timezone, 64);
    let last_contact = datetime(&mut c, "last_contact_date", input.last_contact_date);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, current.is_none());
    let tags = match input.tag_ids {
        Field::Value(ids) => Some(ids),
        Field::Null => Some(Vec::new()),
        Field::Absent => None,
    };
    // Foreign ids must name rows the caller may see.
    if let Some(Some(id)) = &industry_id {
        let live = industry::Entity::find_by_id(id.clone())
            .filter(industry::Column::DeletedAt.is_null())
            .one(&**db)
            .await?;
        if live.is_none() {
            c.error("industry_id", rest::invalid_pk_message(id));
        }
    }
    let own_id = current.as_ref().map(|r| r.id.clone());
    if let Some(Some(parent)) = &parent_id {
        if own_id.as_deref() == Some(parent.as_str()) {
            c.error("parent_client_id", "A client cannot be its own parent");
        } else if client::Entity::find_visible(&**db, me, parent.clone())
            .await
            .is_err()
        {
            c.error("parent_client_id", rest::invalid_pk_message(parent));
        } else if let Some(own) = &own_id {
            let mut next = Some(parent.clone());
            for _ in 0..64 {
                let Some(id) = next else { break };
                if &id == own {
                    c.error(
                        "parent_client_id",
                        "Cannot update: would create circular reference in hierarchy",
                    );
                    break;
                }
                next = client::Entity::find_by_id(id)
                    .one(&**db)
                    .await?
                    .and_then(|p| p.parent_client_id);
            }
        }
    }
    if let Some(ids) = &tags {
        let live: Vec<String> = tag::Entity::find()
            .select_only()
            .column(tag::Column::Id)
            .filter(tag::Column::Id.is_in(ids.clone()))
            .filter(tag::Column::DeletedAt.is_null())
            .into_tuple()
            .all(&**db)
            .await?;
        for id in ids {
            if !live.contains(id) {
                c.error("tag_ids", rest::invalid_pk_message(id));
            }
        }
    }
    if let Some(Some(email)) = &email {
        let taken = client::Entity::find()
            .filter(client::Column::Email.eq(email.as_str()))
            .filter(client::Column::DeletedAt.is_null())
            .filter(match &own_id {
                Some(id) => Condition::all().add(client::Column::Id.ne(id.as_str())),
                None => Condition::all(),
            })
            .one(&**db)
            .await?;
        if taken.is_some() {
            c.error("email", "Client with this email already exists");
        }
    }
    c.finish()?;
    // The contact rule, on the row as it will be.
    let pick = |new: &Option<Option<String>>, old: Option<&Option<String>>| match new {
        Some(v) => v.clone(),
        None => old.cloned().flatten(),
    };
    let final_status = status
        .or(current.as_ref().map(|r| r.status.as_str()))
        .unwrap_or("Pending");
    let reachable = [
        pick(&email, current.as_ref().map(|r| &r.email)),
        pick(&phone, current.as_ref().map(|r| &r.phone)),
        pick(&contact_email, current.as_ref().map(|r| &r.contact_email)),
        pick(&contact_phone, current.as_ref().map(|r| &r.contact_phone)),
    ]
    .iter()
    .any(Option::is_some);
    if final_status == "Active" && !reachable {
        return Err(ApiError::non_field(NO_CONTACT));
    }

    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("email", "Client with this email already exists")
        } else {
            e.into()
        }
    };
    let before = match &current {
        Some(r) => Some((r.clone(), tag_ids(&txn, &r.id).await?)),
        None => None,
    };
    let mut row: client::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => client::ActiveModel {
            id: Set(kernel::cuid::new()),
            name: Set(String::new()),
            email: Set(None),
            phone: Set(None),
            website: Set(None),
            address: Set(None),
            billing_address: Set(None),
            tax_id: Set(None),
            contact_person: Set(None),
            contact_email: Set(None),
            contact_phone: Set(None),
            preferred_contact_method: Set(None),
            industry_id: Set(None),
            parent_client_id: Set(None),
            status: Set("Pending".into()),
            is_verified: Set(false),
            timezone: Set(None),
            last_contact_date: Set(None),
            notes: Set(None),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            tombstone: Set(String::new()),
        },
    };
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    put!(
        name = name,
        email = email,
        phone = phone,
        website = website,
        address = address,
        billing_address = billing_address,
        tax_id = tax_id,
        contact_person = contact_person,
        contact_email = contact_email,
        contact_phone = contact_phone,
        preferred_contact_method = method,
        industry_id = industry_id,
        parent_client_id = parent_id,
        status = status.map(str::to_owned),
        is_verified = is_verified,
        timezone = timezone,
        last_contact_date = last_contact,
        notes = notes,
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let saved = match current {
        Some(_) => row.update(&txn).await.map_err(taken)?,
        None => row.insert(&txn).await.map_err(taken)?,
    };
    if let Some(ids) = &tags {
        tag_link::Entity::delete_many()
            .filter(tag_link::Column::ClientId.eq(saved.id.as_str()))
            .exec(&txn)
            .await?;
        let mut ids = ids.clone();
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let links = ids.into_iter().map(|tag_id| tag_link::ActiveModel {
                id: Set(kernel::cuid::new()),
                client_id: Set(saved.id.clone()),
                tag_id: Set(tag_id),
            });
            tag_link::Entity::insert_many(links).exec(&txn).await?;
        }
    }
    let after_tags = tag_ids(&txn, &saved.id).await?;
    let (action, change, status) = match &before {
        None => ("Create", Change::created(&record(&saved, &after_tags)), 201),
        Some((row, tags)) => (
            "Update",
            Change::updated(&record(row, tags), &record(&saved, &after_tags)),
            200,
        ),
    };
    let event = Event::new(action, MODEL, &saved.id)
        .status(status)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, me, saved).await?;
    txn.commit().await?;
    let status = if status == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// Creates a client (platform users); status defaults to Pending.
#[utoipa::path(post, path = "/api/clients/", tag = "clients", security(("jwt" = [])),
    request_body = ClientIn, responses((status = 201, body = ClientOut)))]
pub async fn create_client(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<ClientIn>,
) -> ApiResult<(StatusCode, Json<ClientOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a client (platform users).
#[utoipa::path(put, path = "/api/clients/{id}/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientIn, responses((status = 200, body = ClientOut)))]
pub async fn put_client(
    db: Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a client's fields (platform users).
#[utoipa::path(patch, path = "/api/clients/{id}/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientIn, responses((status = 200, body = ClientOut)))]
pub async fn patch_client(
    db: Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a client (platform users): it disappears everywhere, its
/// email is free again, its audit history stays.
#[utoipa::path(delete, path = "/api/clients/{id}/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_client(Db(db): Db, me: Me, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let tags = tag_ids(&txn, &before.id).await?;
    rest::delete_recorded::<client::Entity>(&txn, &me, &before.id, record(&before, &tags)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a client (platform users).
#[utoipa::path(post, path = "/api/clients/{id}/restore/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ClientOut)))]
pub async fn restore_client(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientOut>> {
    let (txn, before, after) = rest::restore::<client::Entity>(&db, &id, Condition::all()).await?;
    let tags = tag_ids(&txn, &after.id).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before, &tags),
        &record(&after, &tags),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, &me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClientReasonIn {
    /// Kept in the status history.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    reason: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClientVerifyIn {
    /// Who verified the client; the caller's email when left out.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    verified_by: Field<String>,
}

/// A status action: its verb, the states it leaves, the state it reaches
/// and where its reason is kept in `metadata`.
struct Move {
    verb: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    reason_key: Option<&'static str>,
}

const ACTIVATE: Move = Move {
    verb: "activate",
    from: &["Pending", "Inactive", "Archived"],
    to: "Active",
    reason_key: None,
};
const DEACTIVATE: Move = Move {
    verb: "deactivate",
    from: &["Active", "Pending"],
    to: "Inactive",
    reason_key: Some("deactivation_reason"),
};
const ARCHIVE: Move = Move {
    verb: "archive",
    from: &["Active", "Inactive", "Pending"],
    to: "Archived",
    reason_key: Some("archive_reason"),
};

/// A status action: from one of `from` to `to`, with its history.
async fn transition(
    db: &kernel::Db,
    me: &Me,
    id: &str,
    step: &Move,
    input: Result<Json<ClientReasonIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    let Move {
        verb,
        from,
        to,
        reason_key,
    } = *step;
    let found = writable(&**db, me, id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = client::Entity::find_by_id(found.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    if before.status == to {
        return Err(rest::invalid_state(format!("Client is already {to}")));
    }
    if !from.contains(&before.status.as_str()) {
        return Err(rest::invalid_state(format!(
            "Cannot {verb} a client that is {}",
            before.status
        )));
    }
    if to == "Active"
        && [
            &before.email,
            &before.phone,
            &before.contact_email,
            &before.contact_phone,
        ]
        .iter()
        .all(|v| v.is_none())
    {
        return Err(ApiError::non_field(NO_CONTACT));
    }
    let now = kernel::time::now();
    let mut metadata = before.metadata.clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    let entry = json!({
        "from": before.status,
        "to": to,
        "reason": reason,
        "changed_at": kernel::time::iso(now),
        "changed_by": me.user.id,
    });
    match metadata
        .get_mut("status_history")
        .and_then(Value::as_array_mut)
    {
        Some(history) => history.push(entry),
        None => metadata["status_history"] = json!([entry]),
    }
    if let (Some(key), Some(reason)) = (reason_key, &reason) {
        metadata[key] = json!(reason);
    }
    let mut row: client::ActiveModel = before.clone().into();
    row.status = Set(to.to_owned());
    row.metadata = Set(metadata);
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    let tags = tag_ids(&txn, &after.id).await?;
    let change_type = match to {
        "Active" => "Activate",
        "Inactive" => "Deactivate",
        _ => "Archive",
    };
    let change =
        Change::action(change_type, &record(&before, &tags), &record(&after, &tags)).reason(reason);
    let event = Event::new("Update", MODEL, &after.id).change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Activates a client (Pending, Inactive or Archived; it needs a contact method).
#[utoipa::path(post, path = "/api/clients/{id}/activate/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientReasonIn, responses((status = 200, body = ClientOut)))]
pub async fn activate_client(
    db: Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientReasonIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    transition(&db, &me, &id, &ACTIVATE, input).await
}

/// Deactivates a client (Active or Pending); `reason` kept as `metadata.deactivation_reason`.
#[utoipa::path(post, path = "/api/clients/{id}/deactivate/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientReasonIn, responses((status = 200, body = ClientOut)))]
pub async fn deactivate_client(
    db: Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientReasonIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    transition(&db, &me, &id, &DEACTIVATE, input).await
}

/// Archives a client (Active, Inactive or Pending); `reason` kept as `metadata.archive_reason`.
#[utoipa::path(post, path = "/api/clients/{id}/archive/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientReasonIn, responses((status = 200, body = ClientOut)))]
pub async fn archive_client(
    db: Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientReasonIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    transition(&db, &me, &id, &ARCHIVE, input).await
}

/// Verifies a client: `metadata.verified_at` and `verified_by` (the given
/// text, else the caller's email); audited as `Verify`.
#[utoipa::path(post, path = "/api/clients/{id}/verify/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = ClientVerifyIn, responses((status = 200, body = ClientOut)))]
pub async fn verify_client(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
    input: Result<Json<ClientVerifyIn>, ApiError>,
) -> ApiResult<Json<ClientOut>> {
    let found = writable(&db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let by = c
        .optional_text("verified_by", input.verified_by, 255)
        .flatten();
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = client::Entity::find_by_id(found.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    if before.is_verified {
        return Err(rest::invalid_state("Client is already verified"));
    }
    let now = kernel::time::now();
    let mut metadata = before.metadata.clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["verified_at"] = json!(kernel::time::iso(now));
    metadata["verified_by"] = json!(by.unwrap_or_else(|| me.user.email.clone()));
    let mut row: client::ActiveModel = before.clone().into();
    row.is_verified = Set(true);
    row.metadata = Set(metadata);
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    let tags = tag_ids(&txn, &after.id).await?;
    let change = Change::updated(&record(&before, &tags), &record(&after, &tags));
    let event = Event::new("Verify", MODEL, &after.id).change(change);
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, &me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientStats {
    pub total_contracts: u64,
    pub active_contracts: u64,
    pub total_staff: u64,
    pub is_verified: bool,
}

/// A client's contracts (all live ones, and those running today) and staff.
#[utoipa::path(get, path = "/api/clients/{id}/stats/", tag = "clients", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ClientStats)))]
pub async fn client_stats(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientStats>> {
    let row = visible(&db, &me, &id).await?;
    let ids = [row.id.clone()];
    let total = crate::contracts::counts(&db, &ids, false).await?;
    let active = crate::contracts::counts(&db, &ids, true).await?;
    Ok(Json(ClientStats {
        total_contracts: total.get(&row.id).copied().unwrap_or(0),
        active_contracts: active.get(&row.id).copied().unwrap_or(0),
        total_staff: crate::persons::staff_count(&db, &row.id).await?,
        is_verified: row.is_verified,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websites_are_http_addresses_with_a_host() {
        for good in [
            "https://beta.example",
            "HTTP://A:8080",
            "http://10.0.0.1/x?y=1#z",
            "https://münchen.example/straße",
        ] {
            assert!(is_website(good), "{good}");
        }
        for bad in [
            "notaurl",
            "http://",
            "ftp://a.example",
            "http://-a.example",
            "http://a_b.example",
            "https://a.example/with space",
            "http://a.example*",
        ] {
            assert!(!is_website(bad), "{bad}");
        }
    }

    #[test]
    fn times_are_read_in_the_years_they_are_written_in() {
        let year = |raw: &str| {
            parse_time(raw).map(|t| t.year()).map_err(|e| match e {
                TimeError::Malformed => "malformed",
                TimeError::OutOfRange => "out of range",
                TimeError::Late => "late",
            })
        };
        assert_eq!(year("2026-05-01"), Ok(2026));
        assert_eq!(year("2026-05-01T09:30:00.123456Z"), Ok(2026));
        assert_eq!(year("1900-01-01T00:30:00+01:00"), Ok(1899));
        assert_eq!(year("1899-12-31"), Err("out of range"));
        assert_eq!(year("1899-12-31T23:30:00-01:00"), Err("out of range"));
        assert_eq!(year("9999-12-31T23:00:00-05:00"), Err("late"));
        assert_eq!(year("2026-5-1"), Err("malformed"));
        assert_eq!(year("+2026-05-01"), Err("malformed"));
        assert_eq!(year("yesterday"), Err("malformed"));
    }
}
