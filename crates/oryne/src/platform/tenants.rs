//! `tenants/`: the registry of schools, their lifecycle, domains and usage.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PlatformAdmin;
use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{domain, tenant, user};
use crate::envelope::{Data, accepted, created, ok};
use crate::state::AppState;
use crate::tenancy::provision::{self, AdminSeed};
use crate::tenancy::subdomain_problem;
use crate::tenant_info::{MODULES, is_subscription_active, is_trial, modules_of};

pub const DROP_JOB: &str = "oryne.tenant.drop";

pub const STATUSES: &[&str] = &["provisioning", "active", "suspended", "archived", "failed"];
pub const PLANS: &[&str] = &["trial", "basic", "standard", "premium", "enterprise"];

kernel::choices!(
    /// A tenant's plan.
    pub Plan = PLANS
);
kernel::choices!(
    /// A tenant's lifecycle status.
    pub TenantStatus = STATUSES
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(check_subdomain))
        .routes(routes!(retrieve_tenant, update_tenant, destroy_tenant))
        .routes(routes!(suspend_tenant))
        .routes(routes!(activate_tenant))
        .routes(routes!(archive_tenant))
        .routes(routes!(reprovision_tenant))
        .routes(routes!(list_domains, create_domain))
        .routes(routes!(destroy_domain))
        .routes(routes!(verify_domain))
        .routes(routes!(set_primary_domain))
        .routes(routes!(tenant_usage))
}

/// A domain of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainOut {
    pub id: i64,
    pub domain: String,
    pub is_primary: bool,
    pub is_verified: bool,
    pub created_at: DateTime<Utc>,
}

impl DomainOut {
    fn of(d: domain::Model) -> Self {
        Self {
            id: d.id,
            domain: d.domain,
            is_primary: d.is_primary,
            is_verified: d.is_verified,
            created_at: d.created_at,
        }
    }
}

/// Where provisioning stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisioningOut {
    pub steps_done: Vec<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A tenant as platform administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantAdminOut {
    pub id: i64,
    pub name: String,
    pub subdomain: String,
    pub schema_name: String,
    #[schema(value_type = TenantStatus)]
    pub status: String,
    #[schema(value_type = Plan)]
    pub plan: String,
    pub admin_email: String,
    pub admin_phone: String,
    pub paid_until: Option<NaiveDate>,
    pub trial_ends_at: Option<NaiveDate>,
    pub enabled_modules: Vec<String>,
    pub max_users: i32,
    pub max_storage_gb: i32,
    pub settings: Value,
    pub metadata: Value,
    pub is_trial: bool,
    pub is_subscription_active: bool,
    pub domains: Vec<DomainOut>,
    pub provisioning: ProvisioningOut,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub provisioned_at: Option<DateTime<Utc>>,
}

impl TenantAdminOut {
    fn of(t: tenant::Model, domains: Vec<domain::Model>) -> Self {
        let p = &t.provisioning;
        Self {
            id: t.id,
            schema_name: t.schema_name(),
            enabled_modules: modules_of(&t),
            is_trial: is_trial(&t),
            is_subscription_active: is_subscription_active(&t),
            domains: domains.into_iter().map(DomainOut::of).collect(),
            provisioning: ProvisioningOut {
                steps_done: serde_json::from_value(p["steps_done"].clone()).unwrap_or_default(),
                attempts: p["attempts"].as_i64().unwrap_or(0),
                last_error: p["last_error"].as_str().map(str::to_owned),
            },
            name: t.name,
            subdomain: t.subdomain,
            status: t.status,
            plan: t.plan,
            admin_email: t.admin_email,
            admin_phone: t.admin_phone,
            paid_until: t.paid_until,
            trial_ends_at: t.trial_ends_at,
            max_users: t.max_users,
            max_storage_gb: t.max_storage_gb,
            settings: t.settings,
            metadata: t.metadata,
            created_at: t.created_at,
            updated_at: t.updated_at,
            provisioned_at: t.provisioned_at,
        }
    }

    async fn load(db: &impl ConnectionTrait, t: tenant::Model) -> ApiResult<Self> {
        let domains = domain::Entity::find()
            .filter(domain::Column::TenantId.eq(t.id))
            .order_by_asc(domain::Column::Id)
            .all(db)
            .await?;
        Ok(Self::of(t, domains))
    }
}

/// What a new tenant is made of (`subdomain` and `admin_email` fixed at creation).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TenantIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub name: Field<String>,
    /// Lowercase letters, digits and hyphens, 3–63, not reserved.
    #[serde(default)]
    #[schema(schema_with = crate::schema::subdomain, required = true)]
    pub subdomain: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub admin_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub admin_phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Plan)]
    pub plan: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::modules)]
    pub enabled_modules: Field<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::positive)]
    pub max_users: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::positive)]
    pub max_storage_gb: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_date)]
    pub paid_until: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_date)]
    pub trial_ends_at: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub settings: Field<Value>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub metadata: Field<Value>,
    /// The first admin's password (never stored on the tenant); without
    /// it the admin is invited to set one.
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_password)]
    pub admin_password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub admin_first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub admin_last_name: Field<String>,
}

/// The fields of a tenant both create and update check.
struct Common {
    name: Option<String>,
    admin_email: Option<String>,
    admin_phone: Option<Option<String>>,
    plan: Option<String>,
    modules: Option<Vec<String>>,
    max_users: Option<i64>,
    max_storage_gb: Option<i64>,
    paid_until: Option<Option<NaiveDate>>,
    trial_ends_at: Option<Option<NaiveDate>>,
    settings: Option<Value>,
    metadata: Option<Value>,
}

fn date(c: &mut Checker, name: &str, field: Field<String>) -> Option<Option<NaiveDate>> {
    let raw = c.nullable(field)?;
    match raw {
        None => Some(None),
        Some(raw) => match kernel::form::parse_date(&raw) {
            Some(d) => Some(Some(d)),
            None => {
                c.error(
                    name,
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                );
                None
            }
        },
    }
}

fn object(c: &mut Checker, name: &str, field: Field<Value>) -> Option<Value> {
    if field.is_absent() {
        return None;
    }
    let value = c.value(name, field)?;
    if value.is_object() {
        Some(value)
    } else {
        c.error(name, "Expected an object.");
        None
    }
}

#[allow(clippy::too_many_arguments)]
fn common(
    c: &mut Checker,
    name: Field<String>,
    admin_email: Field<String>,
    admin_phone: Field<String>,
    plan: Field<String>,
    modules: Field<Vec<String>>,
    max_users: Field<i64>,
    max_storage_gb: Field<i64>,
    paid_until: Field<String>,
    trial_ends_at: Field<String>,
    settings: Field<Value>,
    metadata: Field<Value>,
) -> Common {
    let modules = (!modules.is_absent())
        .then(|| c.value("enabled_modules", modules))
        .flatten()
        .and_then(
            |list| match list.iter().find(|m| !MODULES.contains(&m.as_str())) {
                Some(bad) => {
                    c.error(
                        "enabled_modules",
                        format!("\"{bad}\" is not a valid choice."),
                    );
                    None
                }
                None => {
                    let mut list = list;
                    list.sort();
                    list.dedup();
                    Some(list)
                }
            },
        );
    Common {
        name: c.text("name", name, 255),
        admin_email: c.email("admin_email", admin_email),
        admin_phone: c.optional_text("admin_phone", admin_phone, 20),
        plan: (!plan.is_absent())
            .then(|| c.choice("plan", plan, PLANS))
            .flatten(),
        modules,
        max_users: c.patch_int("max_users", max_users, 1, 1_000_000),
        max_storage_gb: c.patch_int("max_storage_gb", max_storage_gb, 1, 1_000_000),
        paid_until: date(c, "paid_until", paid_until),
        trial_ends_at: date(c, "trial_ends_at", trial_ends_at),
        settings: object(c, "settings", settings),
        metadata: object(c, "metadata", metadata),
    }
}

/// Inserts the tenant and queues its provisioning, in one transaction.
pub async fn insert_tenant(
    state: &AppState,
    admin: Option<i64>,
    trail: &Trail,
    body: TenantIn,
) -> ApiResult<tenant::Model> {
    let mut c = Checker::new();
    let subdomain = c
        .text("subdomain", body.subdomain, 63)
        .map(|s| s.trim().to_owned());
    if let Some(sub) = &subdomain
        && let Some(problem) = subdomain_problem(sub)
    {
        c.error("subdomain", problem);
    }
    let password = c.nullable(body.admin_password).flatten();
    let first_name = c
        .optional_text("admin_first_name", body.admin_first_name, 100)
        .flatten();
    let last_name = c
        .optional_text("admin_last_name", body.admin_last_name, 100)
        .flatten();
    let f = common(
        &mut c,
        body.name,
        body.admin_email,
        body.admin_phone,
        body.plan,
        body.enabled_modules,
        body.max_users,
        body.max_storage_gb,
        body.paid_until,
        body.trial_ends_at,
        body.settings,
        body.metadata,
    );
    if let (Some(password), Some(email)) = (&password, &f.admin_email) {
        for problem in kernel::password::validate(password, &[("email address", email.as_str())]) {
            c.error("admin_password", problem);
        }
    }
    c.finish()?;
    let subdomain = subdomain.unwrap_or_default();
    let password_hash = match password {
        Some(p) => Some(state.hasher.make(&p).await?),
        None => None,
    };
    let now = kernel::time::now();
    let plan = f.plan.unwrap_or_else(|| "trial".into());
    let trial_ends_at = match f.trial_ends_at {
        Some(given) => given,
        None if plan == "trial" => now
            .date_naive()
            .checked_add_days(Days::new(state.config.trial_days.unsigned_abs())),
        None => None,
    };
    let txn = kernel::db::begin_write(&state.db).await?;
    let taken = tenant::Entity::find()
        .filter(tenant::Column::Subdomain.eq(subdomain.clone()))
        .count(&*txn)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "subdomain",
            "This subdomain is already taken.",
        ));
    }
    let row = tenant::ActiveModel {
        name: Set(f.name.unwrap_or_default()),
        subdomain: Set(subdomain),
        status: Set("provisioning".into()),
        plan: Set(plan),
        admin_email: Set(f.admin_email.unwrap_or_default()),
        admin_phone: Set(f.admin_phone.flatten().unwrap_or_default()),
        paid_until: Set(f.paid_until.flatten()),
        trial_ends_at: Set(trial_ends_at),
        enabled_modules: Set(json!(
            f.modules
                .unwrap_or_else(|| MODULES.iter().map(|m| (*m).to_owned()).collect())
        )),
        max_users: Set(f.max_users.map_or(100, |n| n as i32)),
        max_storage_gb: Set(f.max_storage_gb.map_or(10, |n| n as i32)),
        settings: Set(f.settings.unwrap_or_else(|| json!({}))),
        metadata: Set(f.metadata.unwrap_or_else(|| json!({}))),
        provisioning: Set(provision::initial(&AdminSeed {
            password_hash,
            first_name: first_name.unwrap_or_else(|| "School".into()),
            last_name: last_name.unwrap_or_else(|| "Admin".into()),
        })),
        created_at: Set(now),
        updated_at: Set(now),
        provisioned_at: Set(None),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "subdomain") {
            ApiError::field("subdomain", "This subdomain is already taken.")
        } else {
            e.into()
        }
    })?;
    kernel::jobs::enqueue(&*txn, provision::JOB, provision::payload(row.id)).await?;
    Event::new(admin, CREATE, "Tenant", row.id)
        .changes(json!({"name": [null, row.name], "subdomain": [null, row.subdomain], "plan": [null, row.plan]}))
        .write_platform(&*txn, trail)
        .await?;
    txn.commit().await?;
    state.jobs_wake.notify_one();
    Ok(row)
}

async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<tenant::Model> {
    tenant::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Every tenant (filters `status`, `plan`; search name, subdomain, admin email).
#[utoipa::path(get, path = "/api/v1/tenants/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("status" = Option<TenantStatus>, Query), ("plan" = Option<Plan>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<TenantAdminOut>))),
    security(("jwt" = [])))]
pub async fn list_tenants(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, TenantAdminOut>>> {
    let mut query = tenant::Entity::find();
    if let Some(status) = list.get("status") {
        query = query.filter(tenant::Column::Status.eq(status));
    }
    if let Some(plan) = list.get("plan") {
        query = query.filter(tenant::Column::Plan.eq(plan));
    }
    let query = list.search(
        query,
        &[
            Expr::col(tenant::Column::Name),
            Expr::col(tenant::Column::Subdomain),
            Expr::col(tenant::Column::AdminEmail),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", tenant::Column::Name.into_simple_expr()),
            ("created_at", tenant::Column::CreatedAt.into_simple_expr()),
            ("id", tenant::Column::Id.into_simple_expr()),
        ],
        &[("id", sea_orm::Order::Asc)],
        tenant::Column::Id,
    );
    let page = list
        .page(
            &state.db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?;
    let ids: Vec<i64> = page.data.iter().map(|t| t.id).collect();
    let mut domains = domain::Entity::find()
        .filter(domain::Column::TenantId.is_in(ids))
        .order_by_asc(domain::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(page.map(|t| {
        let mine = domains.extract_if(.., |d| d.tenant_id == t.id).collect();
        TenantAdminOut::of(t, mine)
    })))
}

/// Creates a school: answered at once (`202`, `status: provisioning`);
/// the provisioning job builds its database and first admin.
#[utoipa::path(post, path = "/api/v1/tenants/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    request_body = TenantIn,
    responses((status = 202, body = inline(Data<TenantAdminOut>))),
    security(("jwt" = [])))]
pub async fn create_tenant(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    Json(body): Json<TenantIn>,
) -> ApiResult<(StatusCode, Data<TenantAdminOut>)> {
    let row = insert_tenant(&state, Some(admin.id), &trail, body).await?;
    Ok(accepted(TenantAdminOut::of(row, Vec::new())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SubdomainQuery {
    pub subdomain: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubdomainOut {
    pub subdomain: String,
    pub available: bool,
    pub reason: Option<String>,
}

/// Whether a subdomain may be taken.
#[utoipa::path(get, path = "/api/v1/tenants/check-subdomain/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(SubdomainQuery),
    responses((status = 200, body = inline(Data<SubdomainOut>))),
    security(("jwt" = [])))]
pub async fn check_subdomain(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    kernel::extract::Query(q): kernel::extract::Query<SubdomainQuery>,
) -> ApiResult<Data<SubdomainOut>> {
    let sub = q.subdomain.unwrap_or_default().trim().to_owned();
    if sub.is_empty() {
        return Err(ApiError::field("subdomain", kernel::form::REQUIRED));
    }
    let mut reason = subdomain_problem(&sub).map(str::to_owned);
    if reason.is_none()
        && tenant::Entity::find()
            .filter(tenant::Column::Subdomain.eq(sub.clone()))
            .count(&state.db)
            .await?
            > 0
    {
        reason = Some("This subdomain is already taken.".into());
    }
    Ok(ok(SubdomainOut {
        available: reason.is_none(),
        subdomain: sub,
        reason,
    }))
}

/// One tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<TenantAdminOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_tenant(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<TenantAdminOut>> {
    let row = find(&state.db, id).await?;
    Ok(ok(TenantAdminOut::load(&state.db, row).await?))
}

/// What a platform admin may change (`subdomain`, `schema_name` and
/// `status` are not among them).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TenantPatch {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Plan)]
    pub plan: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email)]
    pub admin_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub admin_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_date)]
    pub paid_until: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_date)]
    pub trial_ends_at: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::modules)]
    pub enabled_modules: Field<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::positive)]
    pub max_users: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::positive)]
    pub max_storage_gb: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub settings: Field<Value>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub metadata: Field<Value>,
}

/// Changes a tenant.
#[utoipa::path(patch, path = "/api/v1/tenants/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)), request_body = TenantPatch,
    responses((status = 200, body = inline(Data<TenantAdminOut>))),
    security(("jwt" = [])))]
pub async fn update_tenant(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<TenantPatch>,
) -> ApiResult<Data<TenantAdminOut>> {
    let mut c = Checker::partial(true);
    let f = common(
        &mut c,
        body.name,
        body.admin_email,
        body.admin_phone,
        body.plan,
        body.enabled_modules,
        body.max_users,
        body.max_storage_gb,
        body.paid_until,
        body.trial_ends_at,
        body.settings,
        body.metadata,
    );
    c.finish()?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let before = tenant::Entity::find_by_id(id)
        .lock_exclusive_if(&txn)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut row: tenant::ActiveModel = before.clone().into();
    if let Some(v) = f.name {
        row.name = Set(v);
    }
    if let Some(v) = f.admin_email {
        row.admin_email = Set(v);
    }
    if let Some(v) = f.admin_phone {
        row.admin_phone = Set(v.unwrap_or_default());
    }
    if let Some(v) = f.plan {
        row.plan = Set(v);
    }
    if let Some(v) = f.modules {
        row.enabled_modules = Set(json!(v));
    }
    if let Some(v) = f.max_users {
        row.max_users = Set(v as i32);
    }
    if let Some(v) = f.max_storage_gb {
        row.max_storage_gb = Set(v as i32);
    }
    if let Some(v) = f.paid_until {
        row.paid_until = Set(v);
    }
    if let Some(v) = f.trial_ends_at {
        row.trial_ends_at = Set(v);
    }
    if let Some(v) = f.settings {
        row.settings = Set(v);
    }
    if let Some(v) = f.metadata {
        row.metadata = Set(v);
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(admin.id), UPDATE, "Tenant", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write_platform(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.tenants.changed();
    Ok(ok(TenantAdminOut::load(&state.db, after).await?))
}

fn snapshot(t: &tenant::Model) -> Value {
    json!({
        "name": t.name, "status": t.status, "plan": t.plan, "admin_email": t.admin_email,
        "admin_phone": t.admin_phone, "paid_until": t.paid_until, "trial_ends_at": t.trial_ends_at,
        "enabled_modules": t.enabled_modules, "max_users": t.max_users,
        "max_storage_gb": t.max_storage_gb, "settings": t.settings, "metadata": t.metadata,
    })
}

/// Locks a row for update on PostgreSQL (SQLite's write transaction
/// already excludes other writers).
trait LockIf: Sized {
    fn lock_exclusive_if(self, txn: &kernel::db::WriteTxn) -> Self;
}

impl<E: EntityTrait> LockIf for sea_orm::Select<E> {
    fn lock_exclusive_if(self, txn: &kernel::db::WriteTxn) -> Self {
        use sea_orm::QuerySelect;
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            self.lock_exclusive()
        } else {
            self
        }
    }
}

/// Moves a tenant from one status to another, if `from` allows it.
async fn transition(
    state: &AppState,
    admin: i64,
    trail: &Trail,
    id: i64,
    from: &[&str],
    to: &str,
) -> ApiResult<tenant::Model> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let before = tenant::Entity::find_by_id(id)
        .lock_exclusive_if(&txn)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !from.contains(&before.status.as_str()) {
        return Err(ApiError::Conflict(
            format!("A {} tenant cannot become {to}.", before.status).into(),
        ));
    }
    let mut row: tenant::ActiveModel = before.clone().into();
    row.status = Set(to.to_owned());
    row.updated_at = Set(kernel::time::now());
    if to == "provisioning" {
        let mut p = before.provisioning.clone();
        p["attempts"] = json!(0);
        p["last_error"] = Value::Null;
        row.provisioning = Set(p);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(admin), UPDATE, "Tenant", id)
        .changes(json!({"status": [before.status, to]}))
        .write_platform(&*txn, trail)
        .await?;
    if to == "provisioning" {
        kernel::jobs::enqueue(&*txn, provision::JOB, provision::payload(id)).await?;
    }
    txn.commit().await?;
    state.tenants.changed();
    state.jobs_wake.notify_one();
    Ok(after)
}

macro_rules! lifecycle {
    ($name:ident, $path:literal, $doc:literal, [$($from:literal),*], $to:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "platform",
            description = "PlatformAdmin, platform context. A move the lifecycle does not allow is a 409.",
            params(("id" = i64, Path)),
            responses((status = 200, body = inline(Data<TenantAdminOut>))),
            security(("jwt" = [])))]
        pub async fn $name(
            PlatformAdmin(admin): PlatformAdmin,
            trail: Trail,
            State(state): State<AppState>,
            kernel::IntId(id): kernel::IntId,
        ) -> ApiResult<Data<TenantAdminOut>> {
            let row = transition(&state, admin.id, &trail, id, &[$($from),*], $to).await?;
            Ok(ok(TenantAdminOut::load(&state.db, row).await?))
        }
    };
}

lifecycle!(
    suspend_tenant,
    "/api/v1/tenants/{id}/suspend/",
    "Takes an active school offline (its requests answer 404 within seconds).",
    ["active"],
    "suspended"
);
lifecycle!(
    activate_tenant,
    "/api/v1/tenants/{id}/activate/",
    "Brings a suspended school back.",
    ["suspended"],
    "active"
);
lifecycle!(
    archive_tenant,
    "/api/v1/tenants/{id}/archive/",
    "Archives an active or suspended school (offline; may then be deleted).",
    ["active", "suspended"],
    "archived"
);
lifecycle!(
    reprovision_tenant,
    "/api/v1/tenants/{id}/reprovision/",
    "Tries a failed provisioning again, from the step that failed.",
    ["failed"],
    "provisioning"
);

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConfirmQuery {
    /// The tenant's subdomain, to confirm.
    pub confirm: Option<String>,
}

/// Deletes an archived school: its database and files are dropped by a
/// job (`202`). `?confirm=<subdomain>` is required.
#[utoipa::path(delete, path = "/api/v1/tenants/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context. Only an archived tenant (else 409).",
    params(("id" = i64, Path), ConfirmQuery),
    responses((status = 202, body = inline(Data<crate::envelope::Message>))),
    security(("jwt" = [])))]
pub async fn destroy_tenant(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
    kernel::extract::Query(q): kernel::extract::Query<ConfirmQuery>,
) -> ApiResult<(StatusCode, Data<crate::envelope::Message>)> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let row = tenant::Entity::find_by_id(id)
        .lock_exclusive_if(&txn)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if row.status != "archived" {
        return Err(ApiError::Conflict(
            "Only an archived tenant can be deleted.".into(),
        ));
    }
    if q.confirm.as_deref() != Some(row.subdomain.as_str()) {
        return Err(ApiError::field(
            "confirm",
            "Give the tenant's subdomain as ?confirm= to delete it.",
        ));
    }
    tenant::Entity::delete_by_id(id).exec(&*txn).await?;
    Event::new(Some(admin.id), DELETE, "Tenant", id)
        .deleted(&snapshot(&row))
        .write_platform(&*txn, &trail)
        .await?;
    kernel::jobs::enqueue(&*txn, DROP_JOB, json!({"tenant_id": id})).await?;
    txn.commit().await?;
    state.tenants.changed();
    state.jobs_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        crate::envelope::message("The tenant will be deleted."),
    ))
}

/// The job dropping a deleted tenant's schema or file and its files.
pub async fn drop_tenant(state: AppState, payload: Value) -> Result<(), String> {
    let Some(id) = payload["tenant_id"].as_i64() else {
        return Ok(());
    };
    let schema = tenant::schema_name(id);
    if let Some(db) = state.tenants.close(id) {
        db.close().await.ok();
    }
    match state.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            state
                .db
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .map_err(|e| e.to_string())?;
        }
        _ => {
            let file = kernel::db::tenant_file(&state.db, &schema).map_err(|e| e.to_string())?;
            for suffix in ["", "-wal", "-shm"] {
                let path = format!("{}{suffix}", file.display());
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
    crate::tenancy::files(&state, &schema)
        .remove_all()
        .await
        .map_err(|e| e.to_string())
}

/// A tenant's custom domains.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/domains/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<Vec<DomainOut>>))),
    security(("jwt" = [])))]
pub async fn list_domains(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<Vec<DomainOut>>> {
    find(&state.db, id).await?;
    let rows = domain::Entity::find()
        .filter(domain::Column::TenantId.eq(id))
        .order_by_asc(domain::Column::Id)
        .all(&state.db)
        .await?;
    Ok(ok(rows.into_iter().map(DomainOut::of).collect()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DomainIn {
    /// A host name, unique across tenants, not under a base domain.
    #[serde(default)]
    #[schema(schema_with = crate::schema::hostname, required = true)]
    pub domain: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_primary: Field<bool>,
}

fn hostname_ok(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && host.parse::<std::net::IpAddr>().is_err()
}

/// Adds a custom domain (unverified: it resolves once verified).
#[utoipa::path(post, path = "/api/v1/tenants/{id}/domains/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)), request_body = DomainIn,
    responses((status = 201, body = inline(Data<DomainOut>))),
    security(("jwt" = [])))]
pub async fn create_domain(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<DomainIn>,
) -> ApiResult<(StatusCode, Data<DomainOut>)> {
    let mut c = Checker::new();
    let host = c
        .text("domain", body.domain, 253)
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase());
    let primary = c.boolean("is_primary", body.is_primary, false);
    if let Some(host) = &host {
        if !hostname_ok(host) {
            c.error("domain", "Enter a valid host name.");
        } else if state
            .config
            .base_domains
            .iter()
            .any(|b| host == b || host.ends_with(&format!(".{b}")))
            || state.config.platform_hosts.contains(host)
        {
            c.error(
                "domain",
                "A custom domain cannot be under a platform domain.",
            );
        }
    }
    c.finish()?;
    let (host, primary) = (host.unwrap_or_default(), primary.unwrap_or(false));
    let txn = kernel::db::begin_write(&state.db).await?;
    tenant::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if primary {
        domain::Entity::update_many()
            .col_expr(domain::Column::IsPrimary, Expr::value(false))
            .filter(domain::Column::TenantId.eq(id))
            .exec(&*txn)
            .await?;
    }
    let row = domain::ActiveModel {
        tenant_id: Set(id),
        domain: Set(host),
        is_primary: Set(primary),
        is_verified: Set(false),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "domain") {
            ApiError::field("domain", "This domain is already registered.")
        } else {
            e.into()
        }
    })?;
    Event::new(Some(admin.id), CREATE, "Domain", row.id)
        .changes(json!({"domain": [null, row.domain], "tenant_id": [null, id]}))
        .write_platform(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.tenants.changed();
    Ok(created(DomainOut::of(row)))
}

async fn domain_of(db: &impl ConnectionTrait, tenant: i64, id: i64) -> ApiResult<domain::Model> {
    domain::Entity::find_by_id(id)
        .filter(domain::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn ids(raw: (String, String)) -> ApiResult<(i64, i64)> {
    match (
        kernel::extract::parse_int_id(&raw.0),
        kernel::extract::parse_int_id(&raw.1),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ApiError::not_found()),
    }
}

/// Removes a custom domain.
#[utoipa::path(delete, path = "/api/v1/tenants/{id}/domains/{domain_id}/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path), ("domain_id" = i64, Path)),
    responses((status = 204, description = "Removed.")),
    security(("jwt" = [])))]
pub async fn destroy_domain(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    Path(raw): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (id, domain_id) = ids(raw)?;
    let txn = state.db.begin().await?;
    let row = domain_of(&txn, id, domain_id).await?;
    domain::Entity::delete_by_id(row.id).exec(&txn).await?;
    Event::new(Some(admin.id), DELETE, "Domain", row.id)
        .changes(json!({"domain": [row.domain, null]}))
        .write_platform(&txn, &trail)
        .await?;
    txn.commit().await?;
    state.tenants.changed();
    Ok(StatusCode::NO_CONTENT)
}

async fn set_domain(
    state: &AppState,
    admin: i64,
    trail: &Trail,
    raw: (String, String),
    primary: bool,
) -> ApiResult<DomainOut> {
    let (id, domain_id) = ids(raw)?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let row = domain_of(&*txn, id, domain_id).await?;
    if primary {
        domain::Entity::update_many()
            .col_expr(domain::Column::IsPrimary, Expr::value(false))
            .filter(domain::Column::TenantId.eq(id))
            .exec(&*txn)
            .await?;
    }
    let mut active: domain::ActiveModel = row.clone().into();
    if primary {
        active.is_primary = Set(true)
    } else {
        active.is_verified = Set(true)
    }
    let after = active.update(&*txn).await?;
    let field = if primary { "is_primary" } else { "is_verified" };
    Event::new(Some(admin), UPDATE, "Domain", row.id)
        .changes(json!({ field: [false, true] }))
        .write_platform(&*txn, trail)
        .await?;
    txn.commit().await?;
    state.tenants.changed();
    Ok(DomainOut::of(after))
}

/// Marks a domain verified (the platform admin confirms its DNS).
#[utoipa::path(post, path = "/api/v1/tenants/{id}/domains/{domain_id}/verify/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path), ("domain_id" = i64, Path)),
    responses((status = 200, body = inline(Data<DomainOut>))),
    security(("jwt" = [])))]
pub async fn verify_domain(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    Path(raw): Path<(String, String)>,
) -> ApiResult<Data<DomainOut>> {
    Ok(ok(set_domain(&state, admin.id, &trail, raw, false).await?))
}

/// Makes a domain the tenant's primary one.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/domains/{domain_id}/set-primary/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path), ("domain_id" = i64, Path)),
    responses((status = 200, body = inline(Data<DomainOut>))),
    security(("jwt" = [])))]
pub async fn set_primary_domain(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    Path(raw): Path<(String, String)>,
) -> ApiResult<Data<DomainOut>> {
    Ok(ok(set_domain(&state, admin.id, &trail, raw, true).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageOut {
    pub users: u64,
    pub max_users: i32,
    pub storage_bytes: u64,
    pub max_storage_bytes: i64,
    pub students: u64,
    pub teachers: u64,
}

/// Bytes under `dir`, recursively.
/// How much of its plan a school uses.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/usage/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<UsageOut>))),
    security(("jwt" = [])))]
pub async fn tenant_usage(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<UsageOut>> {
    let row = find(&state.db, id).await?;
    let (users, students, teachers) = if crate::tenancy::migrate::has_database(&row) {
        let db = state.tenants.open(id).await?;
        (
            user::Entity::find()
                .filter(user::Column::IsActive.eq(true))
                .count(&db)
                .await?,
            crate::entities::student::Entity::find().count(&db).await?,
            crate::entities::teacher::Entity::find().count(&db).await?,
        )
    } else {
        (0, 0, 0)
    };
    let storage_bytes = crate::tenancy::files(&state, &row.schema_name())
        .usage()
        .await
        .map_err(|error| {
            tracing::warn!(%error, "cannot measure a school's storage");
            ApiError::Unavailable("File storage is temporarily unavailable.".into())
        })?;
    Ok(ok(UsageOut {
        users,
        max_users: row.max_users,
        storage_bytes,
        max_storage_bytes: i64::from(row.max_storage_gb) * 1024 * 1024 * 1024,
        students,
        teachers,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_names_are_checked() {
        assert!(super::hostname_ok("school.example.org"));
        assert!(!super::hostname_ok("localhost"));
        assert!(!super::hostname_ok("bad_host.example.org"));
        assert!(!super::hostname_ok("1.2.3.4"));
    }
}
