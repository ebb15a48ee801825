//! Oryne (`specs/001_6caefe30c2d9fa91.txt`), a multi-tenant school
//! platform: a platform (the tenant registry, platform administrators,
//! provisioning) and, per school, an isolated database holding everything
//! else. The contract it serves is `reference/oryne-contract.md`.
//!
//! Tenancy is resolved before anything else ([`System::tenant_db`]): the
//! request's [`kernel::Db`] is its school's database (a PostgreSQL schema
//! or an SQLite file), tokens carry the school and are refused in any other.

pub mod cli;
pub mod entities;
pub mod migration;
pub mod notify;
pub mod rbac;
pub mod settings;
pub mod state;
pub mod tenancy;

mod audit;
mod auth;
mod docs;
mod envelope;
mod erp;
mod health;
mod notifications;
mod platform;
mod roles;
mod schema;
mod tenant_info;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use kernel::config::{Rate, SettingError, Settings, SystemDefaults};
use kernel::system::NewSuperuser;
use kernel::{ApiError, Kernel, System};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use settings::Config;
pub use state::AppState;

use crate::entities::platform_user;
use crate::tenancy::{Context, Registry};

pub const NAME: &str = "oryne";

/// Oryne, as the kernel runs it.
pub struct Oryne;

#[derive(OpenApi)]
#[openapi(
    info(title = "Oryne API", description = "Oryne, a multi-tenant school platform: the platform (tenants, domains, provisioning, platform users) and each school's identity, roles and permissions, ERP, notifications and audit. A school is chosen by its subdomain, `X-Tenant-ID` or a verified custom domain; every answer is `{success, data, meta, error}`."),
    tags((name = "health"), (name = "auth"), (name = "platform"), (name = "tenant"), (name = "users"), (name = "roles"), (name = "audit"),
         (name = "erp"), (name = "notifications")),
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of this system.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kernel::system::openapi::<Oryne>()
}

/// Paths every request may reach whatever its host says.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/api/health/" | "/api/v1/health/" | "/api/health" | "/api/v1/health"
    )
}

/// Routes of the platform context only.
fn is_platform_route(path: &str) -> bool {
    path == "/api/v1/tenants"
        || path.starts_with("/api/v1/tenants/")
        || path.starts_with("/api/v1/platform/")
}

/// The module a tenant route belongs to, for `enabled_modules`.
fn module_of(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/api/v1/")?;
    let first = rest.split('/').next()?;
    [
        "erp",
        "lms",
        "estore",
        "hostel",
        "library",
        "transport",
        "events",
        "ai",
    ]
    .into_iter()
    .find(|m| *m == first)
}

impl System for Oryne {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str = "Oryne: a multi-tenant school platform.";
    const TITLE: &'static str = "Oryne API";
    const AUDIT_TABLE: Option<&'static str> = Some("platform_audit_logs");

    type Config = Config;
    type State = AppState;
    type Paging = kernel::listing::Oryne;

    /// 15-minute access and 7-day refresh tokens (spec §4.1), throttles
    /// 100/hour anonymous and 1000/hour per user (architecture §7.3).
    fn defaults() -> SystemDefaults {
        SystemDefaults {
            throttle_anon: Some(Rate {
                requests: 100,
                period: Duration::from_secs(3600),
            }),
            throttle_user: Some(Rate {
                requests: 1000,
                period: Duration::from_secs(3600),
            }),
            access_token_lifetime: Duration::from_secs(900),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            ..SystemDefaults::base(NAME)
        }
    }

    fn config(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, SettingError> {
        if kernel::db::Backend::from_url(&settings.database_url) == Some(kernel::db::Backend::MySql)
        {
            return Err(SettingError {
                name: "CAMPUS_DATABASE_URL",
                reason: "oryne keeps each school in its own PostgreSQL schema or SQLite file; MySQL/MariaDB is not supported (use postgres:// or sqlite://)".into(),
            });
        }
        Config::read(lookup)
    }

    fn state(kernel: Kernel, config: Config) -> Result<AppState, String> {
        let pools = config
            .tenant_pools
            .unwrap_or(match kernel.db.get_database_backend() {
                sea_orm::DbBackend::Postgres => 32,
                _ => 256,
            });
        let tenants = Arc::new(Registry::new(kernel.db.clone(), pools));
        Ok(AppState {
            kernel,
            config: Arc::new(config),
            tenants,
            wake: Arc::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .map_err(|e| e.to_string())?,
        })
    }

    async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        tenancy::migrate::all(db, None).await.map(drop)
    }

    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(health::router())
            .merge(auth::router())
            .merge(platform::router())
            .merge(tenant_info::router())
            .merge(users::router())
            .merge(roles::router())
            .merge(audit::router())
            .merge(erp::router())
            .merge(notifications::router());
        let (router, openapi) = api.split_for_parts();
        (router, docs::finish(openapi))
    }

    fn aliases() -> axum::Router<AppState> {
        auth::aliases()
    }

    fn throttle_exempt() -> &'static [&'static str] {
        &["/api/health/", "/api/v1/health/"]
    }

    fn envelope() -> Option<kernel::error::Envelope> {
        Some(envelope::render)
    }

    fn layers(router: axum::Router) -> axum::Router {
        kernel::http::append_slash(router)
    }

    async fn tenant_db(
        state: &AppState,
        request: &axum::http::request::Parts,
    ) -> Result<Option<kernel::db::Tenant>, ApiError> {
        let path = request.uri.path();
        if is_public(path) {
            return Ok(None);
        }
        let context = state.tenants.resolve(&state.config, request).await?;
        match context {
            Context::Platform => {
                let tenant_route = path.starts_with("/api/v1/")
                    && !is_platform_route(path)
                    && !path.starts_with("/api/v1/auth/");
                if tenant_route {
                    return Err(envelope::tenant_not_found());
                }
                Ok(None)
            }
            Context::Tenant(tenant) => {
                if is_platform_route(path) {
                    return Err(envelope::other_tenant());
                }
                if let Some(module) = module_of(path)
                    && !tenant_info::modules_of(&tenant).iter().any(|m| m == module)
                {
                    return Err(envelope::error(
                        StatusCode::FORBIDDEN,
                        envelope::MODULE_DISABLED,
                        "This module is not enabled for your school.",
                    ));
                }
                let db = state.tenants.open(tenant.id).await?;
                Ok(Some(kernel::db::Tenant {
                    key: Arc::from(tenant.id.to_string()),
                    db,
                }))
            }
        }
    }

    fn spawn_workers(state: &AppState) {
        spawn_workers(state);
    }

    async fn is_administrator(state: &AppState, request: &mut axum::http::request::Parts) -> bool {
        use axum::extract::FromRequestParts;
        crate::platform::PlatformAdmin::from_request_parts(request, state)
            .await
            .is_ok()
    }

    async fn has_admin(state: &AppState) -> Result<bool, sea_orm::DbErr> {
        Ok(platform_user::Entity::find()
            .filter(platform_user::Column::IsActive.eq(true))
            .one(&state.db)
            .await?
            .is_some())
    }

    async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
        platform::users::create_superuser(state, account).await
    }
}

/// The platform's jobs (provisioning, tenant deletion).
pub fn platform_worker(state: &AppState) -> kernel::jobs::Worker {
    let provision = state.clone();
    let drop_tenant = state.clone();
    kernel::jobs::Worker::new()
        .on(tenancy::provision::JOB, move |payload| {
            tenancy::provision::run(provision.clone(), payload)
        })
        .on(platform::tenants::DROP_JOB, move |payload| {
            platform::tenants::drop_tenant(drop_tenant.clone(), payload)
        })
        .housekeeping(state.db.clone())
}

/// Every tenant's jobs (notification delivery, token purge).
pub fn tenant_worker(state: &AppState) -> kernel::jobs::Worker {
    let deliver = state.clone();
    let purge = state.clone();
    kernel::jobs::Worker::new()
        .on(notify::DELIVER_JOB, move |payload| {
            notify::deliver(deliver.clone(), payload)
        })
        .every(
            kernel::jwt::PURGE_JOB,
            Duration::from_secs(3600),
            move |_| {
                let state = purge.clone();
                async move {
                    let id = AppState::tenant_id().ok_or("purge outside a tenant")?;
                    let db = state.tenants.open(id).await.map_err(|e| e.to_string())?;
                    kernel::jwt::purge_expired(&db)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
            },
        )
}

fn spawn_workers(state: &AppState) {
    platform_worker(state).spawn(&state.kernel, Duration::from_secs(5));
    tenancy::jobs::spawn(
        state.clone(),
        tenant_worker(state).on_node(&state.kernel),
        Duration::from_secs(30),
    );
}
