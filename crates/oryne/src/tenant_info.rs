//! `tenant/` (contract §1, "Tenant members"): the signed-in member's
//! school, and its `settings`/`admin_phone` for those with `tenant:manage`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::NaiveDate;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{Event, Trail, UPDATE};
use crate::entities::tenant;
use crate::envelope::{Data, ok};
use crate::rbac::Me;
use crate::state::AppState;

/// Every module a tenant may have.
pub const MODULES: &[&str] = &[
    "erp",
    "lms",
    "estore",
    "hostel",
    "library",
    "transport",
    "events",
    "ai",
];

pub fn modules_of(tenant: &tenant::Model) -> Vec<String> {
    serde_json::from_value(tenant.enabled_modules.clone()).unwrap_or_default()
}

/// The tenant of the request (its platform row, read through the node's
/// short cache).
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Arc<tenant::Model>);

impl FromRequestParts<AppState> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = AppState::tenant_id().ok_or_else(crate::envelope::tenant_not_found)?;
        let row = state
            .tenants
            .get(id)
            .await?
            .ok_or_else(crate::envelope::tenant_not_found)?;
        Ok(CurrentTenant(row))
    }
}

/// A school as its members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub id: i64,
    pub name: String,
    pub subdomain: String,
    pub plan: String,
    pub status: String,
    pub enabled_modules: Vec<String>,
    pub max_users: i32,
    pub max_storage_gb: i32,
    pub is_trial: bool,
    pub is_subscription_active: bool,
    pub trial_ends_at: Option<NaiveDate>,
    pub paid_until: Option<NaiveDate>,
    pub settings: Value,
}

/// The spec's `is_trial`: a trial plan whose trial has not ended.
pub fn is_trial(t: &tenant::Model) -> bool {
    t.plan == "trial"
        && t.trial_ends_at
            .is_none_or(|end| end >= kernel::time::now().date_naive())
}

/// The spec's `is_subscription_active`: active, and in trial or paid up.
pub fn is_subscription_active(t: &tenant::Model) -> bool {
    let today = kernel::time::now().date_naive();
    t.status == "active" && (is_trial(t) || t.paid_until.is_some_and(|paid| paid >= today))
}

impl TenantOut {
    pub fn of(t: &tenant::Model) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            subdomain: t.subdomain.clone(),
            plan: t.plan.clone(),
            status: t.status.clone(),
            enabled_modules: modules_of(t),
            max_users: t.max_users,
            max_storage_gb: t.max_storage_gb,
            is_trial: is_trial(t),
            is_subscription_active: is_subscription_active(t),
            trial_ends_at: t.trial_ends_at,
            paid_until: t.paid_until,
            settings: t.settings.clone(),
        }
    }
}

/// What members with `tenant:manage` may change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TenantSettingsIn {
    /// An object.
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub settings: Field<Value>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub admin_phone: Field<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_current_tenant, update_current_tenant))
}

/// The caller's school.
#[utoipa::path(get, path = "/api/v1/tenant/", tag = "tenant",
    description = "Any member of the school.",
    responses((status = 200, body = inline(Data<TenantOut>))),
    security(("jwt" = [])))]
pub async fn get_current_tenant(
    _me: Me,
    CurrentTenant(t): CurrentTenant,
) -> ApiResult<Data<TenantOut>> {
    Ok(ok(TenantOut::of(&t)))
}

/// Changes the school's `settings` and `admin_phone`.
#[utoipa::path(patch, path = "/api/v1/tenant/", tag = "tenant",
    description = "Permission: `tenant:manage`.",
    request_body = TenantSettingsIn,
    responses((status = 200, body = inline(Data<TenantOut>))),
    security(("jwt" = [])))]
pub async fn update_current_tenant(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    axum::extract::State(state): axum::extract::State<AppState>,
    CurrentTenant(t): CurrentTenant,
    Json(body): Json<TenantSettingsIn>,
) -> ApiResult<Data<TenantOut>> {
    me.require("tenant:manage")?;
    let mut c = Checker::partial(true);
    let settings = c.value("settings", body.settings);
    if let Some(value) = &settings
        && !value.is_object()
    {
        c.error("settings", "Expected an object.");
    }
    let phone = c.optional_text("admin_phone", body.admin_phone, 20);
    c.finish()?;
    let mut update = tenant::Entity::update_many()
        .col_expr(tenant::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(tenant::Column::Id.eq(t.id));
    let mut changes = serde_json::Map::new();
    if let Some(settings) = settings {
        changes.insert("settings".into(), serde_json::json!([t.settings, settings]));
        update = update.col_expr(tenant::Column::Settings, Expr::value(settings));
    }
    if let Some(phone) = phone {
        let phone = phone.unwrap_or_default();
        changes.insert(
            "admin_phone".into(),
            serde_json::json!([t.admin_phone, phone]),
        );
        update = update.col_expr(tenant::Column::AdminPhone, Expr::value(phone));
    }
    // The platform row and the tenant's audit row live in two databases:
    // the audit row is written first, so a failed platform write leaves a
    // row recording an attempt rather than a change without a record.
    let txn = kernel::db::begin_write(&db).await?;
    Event::new(Some(me.id()), UPDATE, "Tenant", t.id)
        .changes(Value::Object(changes))
        .write(&*txn, &trail)
        .await?;
    update.exec(&state.db).await?;
    txn.commit().await?;
    state.tenants.changed();
    let fresh = tenant::Entity::find_by_id(t.id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ok(TenantOut::of(&fresh)))
}
