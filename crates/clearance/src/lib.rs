//! The MksU graduation clearance system (`specs/000_2bb215e86a245d41.txt`).

pub mod entities;
pub mod migration;

mod academics;
mod analytics;
mod approvals;
mod audit;
mod audit_logs;
mod auth;
mod clearances;
mod departments;
mod finance;
pub mod gowns;
pub mod mpesa;
mod notifications;
mod notify;
mod principal;
mod state;
mod students;
mod users;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::Utc;
use kernel::config::{Rate, Settings, SystemDefaults};
use kernel::jwt::Jwt;
use kernel::password::{Algorithm, Hasher};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sea_orm_migration::MigratorTrait;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use state::AppState;

use crate::entities::user::{self, Role};

pub const NAME: &str = "clearance";
const TITLE: &str = "MksU Clearance System API";

/// The spec's defaults: throttles 100/hour anonymous and 1000/hour per user,
/// access tokens for 5 minutes, refresh tokens for 7 days.
pub fn defaults() -> SystemDefaults {
    SystemDefaults {
        name: NAME,
        throttle_anon: Some(Rate {
            requests: 100,
            period: Duration::from_secs(3600),
        }),
        throttle_user: Some(Rate {
            requests: 1000,
            period: Duration::from_secs(3600),
        }),
        access_token_lifetime: Duration::from_secs(5 * 60),
        refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "MksU Clearance System API", description = "Graduation clearance: students, offices, approvals, finance, gowns, notifications, audit and analytics."),
    tags((name = "auth"), (name = "users"), (name = "students"), (name = "departments"), (name = "clearances"),
         (name = "approvals"), (name = "finance"), (name = "gowns"), (name = "notifications"), (name = "academics"), (name = "audit"), (name = "analytics"), (name = "health"))
)]
struct ApiDoc;

fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(students::router())
        .merge(departments::router())
        .merge(clearances::router())
        .merge(approvals::router())
        .merge(finance::router())
        .merge(notifications::router())
        .merge(academics::router())
        .merge(gowns::router())
        .merge(audit_logs::router())
        .merge(analytics::router())
        .split_for_parts();
    (router, kernel::docs::finish(openapi))
}

/// The OpenAPI 3.1 document of this system.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// Everything the system reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub mpesa: mpesa::MpesaSettings,
    /// `CAMPUS_GRADUATION_FEE`, in KES (default 5500.00).
    pub graduation_fee: kernel::Money,
    /// `CAMPUS_LOGIN_MAX_FAILURES` / `CAMPUS_LOGIN_LOCKOUT_SECONDS` (default 10 in 15 minutes).
    pub lockout: kernel::lockout::LockoutSettings,
}

const LOCKOUT: kernel::lockout::LockoutSettings = kernel::lockout::LockoutSettings {
    max_failures: 10,
    window: Duration::from_secs(15 * 60),
};

fn graduation_fee(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<kernel::Money, kernel::config::SettingError> {
    match lookup("CAMPUS_GRADUATION_FEE") {
        None => Ok(kernel::Money::from_units(5500)),
        Some(text) => kernel::Money::parse(&text)
            .filter(|m| m.cents() >= 0)
            .ok_or(kernel::config::SettingError {
                name: "CAMPUS_GRADUATION_FEE",
                reason: format!("{text:?} is not an amount such as 5500 or 5500.00"),
            }),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, kernel::config::SettingError> {
        let settings = Settings::from_env(&defaults())?;
        let lookup = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Self {
            settings,
            mpesa: mpesa::MpesaSettings::from_lookup(lookup)?,
            graduation_fee: graduation_fee(lookup)?,
            lockout: kernel::lockout::LockoutSettings::from_lookup(&lookup, LOCKOUT)?,
        })
    }

    /// Reads settings through `lookup` (tests supply their own environment).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, kernel::config::SettingError> {
        Ok(Self {
            settings: Settings::from_lookup(&defaults(), &lookup)?,
            mpesa: mpesa::MpesaSettings::from_lookup(&lookup)?,
            graduation_fee: graduation_fee(&lookup)?,
            lockout: kernel::lockout::LockoutSettings::from_lookup(&lookup, LOCKOUT)?,
        })
    }
}

impl AppState {
    /// Connects to the configured database. Passwords are hashed with
    /// `algorithm` (the spec asks for Django's PBKDF2).
    pub async fn connect(config: Config, algorithm: Algorithm) -> Result<Self, String> {
        let db = kernel::db::connect(&config.settings.database_url)
            .await
            .map_err(|e| e.to_string())?;
        Self::new(db, config, algorithm)
    }

    pub fn new(
        db: DatabaseConnection,
        config: Config,
        algorithm: Algorithm,
    ) -> Result<Self, String> {
        let settings = config.settings;
        let mailer = match &settings.email_url {
            Some(url) => Some(kernel::mail::Mailer::new(url, &settings.email_from)?),
            None => None,
        };
        Ok(Self {
            db,
            jwt: Arc::new(Jwt::new(
                &settings.secret_key,
                settings.access_token_lifetime,
                settings.refresh_token_lifetime,
            )),
            hasher: Hasher::new(algorithm, settings.hash_concurrency),
            lockout: Arc::new(kernel::lockout::LoginGuard::new(
                config.lockout,
                settings.redis_url.as_deref(),
                NAME,
            )?),
            hub: kernel::events::Hub::new(),
            storage: kernel::upload::Storage::new(settings.media_root.clone()),
            mailer,
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            daraja: Arc::new(mpesa::Daraja::new(config.mpesa)),
            graduation_fee: config.graduation_fee,
            settings: Arc::new(settings),
        })
    }
}

/// The hashing the spec asks for: Django 4.2's PBKDF2-SHA256, 600 000 iterations.
pub const PASSWORD_ALGORITHM: Algorithm = Algorithm::DJANGO_PBKDF2;

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    migration::Migrator::up(db, None).await
}

/// The whole HTTP application: API, docs, throttling and the standard middleware.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api();
    let throttle = kernel::throttle::ThrottleLayerState {
        throttle: Arc::new(kernel::throttle::Throttle::new(
            state.settings.throttle_anon,
            state.settings.throttle_user,
        )),
        jwt: state.jwt.clone(),
        trusted_proxies: state.settings.trusted_proxies,
        exempt: &["/api/health/", "/api/finance/mpesa_callback/"],
    };
    let settings = state.settings.clone();
    let router = api
        .merge(auth::user_aliases())
        .merge(clearances::aliases())
        .merge(students::aliases())
        .merge(finance::aliases())
        .merge(notifications::aliases())
        .merge(gowns::aliases())
        .merge(analytics::aliases())
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            throttle,
            kernel::throttle::middleware,
        ))
        .merge(kernel::docs::router(openapi, TITLE));
    kernel::http::wrap(router, &settings)
}

/// Background work: the job queue (notification email) and housekeeping.
pub fn spawn_workers(state: &AppState) {
    let mail_state = state.clone();
    kernel::jobs::Worker::new()
        .on(notify::EMAIL_JOB, move |payload| {
            notify::send_email(mail_state.clone(), payload)
        })
        .spawn(
            state.db.clone(),
            state.jobs_wake.clone(),
            Duration::from_secs(5),
        );
    spawn_housekeeping(state.db.clone());
    spawn_gown_reminders(state.clone());
}

/// Periodic housekeeping: forget blacklisted refresh tokens that have expired.
fn spawn_housekeeping(db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(error) = kernel::jwt::purge_expired(&db).await {
                tracing::warn!(%error, "could not purge expired blacklist rows");
            }
        }
    })
}

/// Hourly, from a minute after start: remind students of overdue gowns.
fn spawn_gown_reminders(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(start, Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match gowns::notify_overdue(&state).await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "reminded students of overdue gowns"),
                Err(error) => tracing::warn!(%error, "could not remind overdue gowns"),
            }
        }
    })
}

/// Whether any active administrator exists (to tell a new user how to create one).
pub async fn has_admin(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .one(db)
        .await?
        .is_some())
}

/// Creates an administrator, refusing a taken email or a weak password.
pub async fn create_superuser(
    state: &AppState,
    email: &str,
    password: &str,
    full_name: &str,
) -> Result<(), String> {
    let email =
        kernel::form::normalize_email(email.trim()).ok_or("Enter a valid email address.")?;
    let full_name = if full_name.trim().is_empty() {
        "Administrator"
    } else {
        full_name.trim()
    };
    let problems = kernel::password::validate(
        password,
        &[("email address", &email), ("full name", full_name)],
    );
    if !problems.is_empty() {
        return Err(problems.join(" "));
    }
    let db_error = |e: sea_orm::DbErr| format!("database error: {e}");
    if users::email_taken(&state.db, &email, None)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err("Error: That email is already taken.".into());
    }
    let hash = state
        .hasher
        .make(password)
        .await
        .map_err(|e| e.to_string())?;
    let now = Utc::now();
    user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        admission_number: Set(None),
        full_name: Set(full_name.to_owned()),
        password: Set(hash),
        role: Set(Role::Admin),
        department_id: Set(None),
        is_active: Set(true),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await
    .map_err(db_error)?;
    Ok(())
}
