//! AXIS EAP (`specs/004_882326dfb3fb2c11.txt`), the employee-assistance
//! back office: users and client access, industries, clients with their
//! tags, contacts and activities, contracts, persons, services and
//! counselling sessions, documents, KPIs, and the full audit trail. The contract
//! it serves is `reference/axis-contract.md`.

pub mod entities;
pub mod expiry;
pub mod microsoft;
pub mod migration;

mod access;
mod activities;
mod audit;
mod audit_api;
mod auth;
mod clients;
mod contacts;
mod contracts;
mod docs;
mod documents;
mod envelope;
mod health;
mod import;
mod industries;
mod kpi_assignments;
mod kpis;
mod persons;
mod rest;
mod roles;
mod services;
mod state;
mod tags;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use kernel::config::{CorsPolicy, Rate, SettingError, Settings, SystemDefaults};
use kernel::system::NewSuperuser;
use kernel::{Kernel, System};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sea_orm_migration::MigratorTrait;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

use crate::entities::{profile, user};

pub const NAME: &str = "axis";

/// AXIS EAP, as the kernel runs it.
pub struct Axis;

#[derive(OpenApi)]
#[openapi(
    info(title = "AXIS EAP API", description = "The AXIS employee-assistance back office: users and client access, industries, clients, tags, contacts, activities, contracts, persons, services and counselling sessions, documents with versions, KPIs and the audit trail; password and Microsoft Entra ID sign-in."),
    tags((name = "auth"), (name = "users"), (name = "access"), (name = "industries"), (name = "clients"), (name = "tags"),
         (name = "contacts"), (name = "activities"), (name = "contracts"), (name = "kpis"), (name = "documents"), (name = "persons"), (name = "services"),
         (name = "audit"), (name = "health")),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3.1 document of this system.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kernel::system::openapi::<Axis>()
}

/// axis's own settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CAMPUS_MICROSOFT_*`: Entra ID sign-in, when a client id is set.
    pub microsoft: Option<microsoft::Settings>,
    /// Production mode: the refresh cookie is `Secure`.
    pub secure_cookies: bool,
}

impl System for Axis {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str = "AXIS EAP: the employee-assistance back office.";
    const TITLE: &'static str = "AXIS EAP API";
    const AUDIT_TABLE: Option<&'static str> = Some("axis_audit_logs");

    type Config = Config;
    type State = AppState;
    type Paging = kernel::listing::Axis;

    /// 24-hour access and 7-day refresh tokens, throttles `100/hour`
    /// anonymous and `1000/hour` per user (the spec), 12 MiB bodies (so a
    /// 10 MiB document upload is refused by its own rule, not by 413), CORS
    /// with credentials and `X-Client-ID`.
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
            access_token_lifetime: Duration::from_secs(24 * 3600),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            max_body_bytes: 12 * 1024 * 1024,
            cors: CorsPolicy {
                credentials: true,
                extra_headers: &["x-client-id"],
            },
            ..SystemDefaults::base(NAME)
        }
    }

    fn config(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, SettingError> {
        Ok(Config {
            microsoft: microsoft::Settings::read(lookup)?,
            secure_cookies: kernel::crypto::is_production(lookup, &settings.database_url),
        })
    }

    fn state(kernel: Kernel, config: Config) -> Result<AppState, String> {
        Ok(AppState {
            kernel,
            microsoft: config
                .microsoft
                .map(microsoft::Microsoft::new)
                .transpose()?
                .map(Arc::new),
            secure_cookies: config.secure_cookies,
        })
    }

    async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::up(db, None).await
    }

    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(auth::router())
            .merge(microsoft::router())
            .merge(users::router())
            .merge(roles::router())
            .merge(industries::router())
            .merge(tags::router())
            .merge(clients::router())
            .merge(contacts::router())
            .merge(activities::router())
            .merge(contracts::router())
            .merge(kpis::router())
            .merge(kpi_assignments::router())
            .merge(documents::router())
            .merge(persons::router())
            .merge(services::router())
            .merge(audit_api::router())
            .merge(health::router());
        let (router, openapi) = api.split_for_parts();
        (router, docs::finish(openapi))
    }

    fn aliases() -> axum::Router<AppState> {
        auth::aliases()
    }

    fn envelope() -> Option<kernel::error::Envelope> {
        Some(envelope::render)
    }

    /// The referrer policy the contract names, on every response.
    fn layers(router: Router) -> Router {
        router
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("strict-origin-when-cross-origin"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
            ))
    }

    fn spawn_workers(state: &AppState) {
        spawn_workers(state);
    }

    async fn is_administrator(state: &AppState, request: &mut axum::http::request::Parts) -> bool {
        use axum::extract::FromRequestParts;
        crate::access::AdminOnly::from_request_parts(request, state)
            .await
            .is_ok()
    }

    async fn has_admin(state: &AppState) -> Result<bool, sea_orm::DbErr> {
        Ok(user::Entity::find()
            .filter(user::Column::IsSuperuser.eq(true))
            .filter(user::Column::DeletedAt.is_null())
            .one(&state.db)
            .await?
            .is_some())
    }

    async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
        create_superuser(state, account).await
    }

    /// `campus import-django axis`: the Django original's database (see
    /// [`import`]).
    async fn import_django(
        state: &AppState,
        options: &kernel::import::Options,
    ) -> Result<kernel::import::Report, String> {
        import::run(state, options).await
    }
}

/// What runs the axis jobs (the email queue).
pub fn job_worker(state: &AppState) -> kernel::jobs::Worker {
    let mail_state = state.clone();
    kernel::jobs::Worker::new().on(expiry::EMAIL_JOB, move |payload| {
        expiry::send(mail_state.clone(), payload)
    })
}

/// Background work: the job queue (email); hourly, forgetting blacklist rows
/// of expired tokens; daily (and at start), [`expiry::run`] — each periodic
/// kind once per period however many nodes run.
fn spawn_workers(state: &AppState) {
    let expiry_state = state.clone();
    job_worker(state)
        .housekeeping(state.db.clone())
        .every(EXPIRY_JOB, Duration::from_secs(24 * 3600), move |_| {
            run_expiry(expiry_state.clone())
        })
        .spawn(&state.kernel, Duration::from_secs(5));
}

/// Daily: [`expiry::run`] for today.
const EXPIRY_JOB: &str = "axis.expiry";

async fn run_expiry(state: AppState) -> Result<(), String> {
    let today = kernel::time::now().date_naive();
    match expiry::run(&state, today).await {
        Ok(report) => {
            if report != expiry::Report::default() {
                tracing::info!(?report, "expiry job applied");
            }
            Ok(())
        }
        Err(error) => Err(format!("could not run the expiry job: {error:?}")),
    }
}

/// `campus createsuperuser axis`: an active staff superuser with a profile.
pub async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
    let email = kernel::form::normalize_email(&account.email)
        .ok_or_else(|| format!("{:?} is not an email address", account.email))?;
    let full_name = account.full_name.trim();
    users::check_password("password", &account.password, &email, full_name).map_err(
        |e| match e {
            kernel::ApiError::Validation(errors) => errors
                .to_json()
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|v| v.as_array())
                .flatten()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        },
    )?;
    let db = &state.db;
    let taken = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(|e| e.to_string())?;
    if taken.is_some() {
        return Err(format!("A user with the email {email} already exists."));
    }
    let hash = state
        .hasher
        .make(&account.password)
        .await
        .map_err(|e| e.to_string())?;
    let (first, last) = match full_name.split_once(' ') {
        Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
        None => (full_name.to_owned(), String::new()),
    };
    let now = kernel::time::now();
    let id = kernel::cuid::new();
    user::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.clone()),
        username: Set(Some(email.clone())),
        password: Set(hash),
        first_name: Set(first),
        last_name: Set(last),
        status: Set("Active".into()),
        is_active: Set(true),
        is_staff: Set(true),
        is_superuser: Set(true),
        email_verified: Set(Some(now)),
        last_login_at: Set(None),
        preferred_language: Set(None),
        timezone: Set(None),
        metadata: Set(serde_json::json!({})),
        token_epoch: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    profile::ActiveModel {
        id: Set(kernel::cuid::new()),
        user_id: Set(Some(id)),
        full_name: Set(if full_name.is_empty() {
            email.clone()
        } else {
            full_name.to_owned()
        }),
        email: Set(Some(email)),
        phone: Set(None),
        image: Set(None),
        bio: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

impl Config {
    /// axis's settings from `lookup` alone.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        kernel::system::configure::<Axis>(&lookup).map(|(_, config)| config)
    }
}
