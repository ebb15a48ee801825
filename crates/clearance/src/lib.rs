//! The MksU graduation clearance system (`specs/000_2bb215e86a245d41.txt`).

pub mod bench_seed;
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
mod import;
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

use kernel::config::{Rate, SettingError, Settings, SystemDefaults};
use kernel::lockout::LockoutSettings;
use kernel::password::Algorithm;
use kernel::system::NewSuperuser;
use kernel::{Kernel, System};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sea_orm_migration::MigratorTrait;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use state::AppState;

use crate::entities::user::{self, Role};

/// The clearance system, as the kernel runs it.
pub struct Clearance;

#[derive(OpenApi)]
#[openapi(
    info(title = "MksU Clearance System API", description = "Graduation clearance: students, offices, approvals, finance, gowns, notifications, audit and analytics."),
    tags((name = "auth"), (name = "users"), (name = "students"), (name = "departments"), (name = "clearances"),
         (name = "approvals"), (name = "finance"), (name = "gowns"), (name = "notifications"), (name = "academics"), (name = "audit"), (name = "analytics"), (name = "health"))
)]
struct ApiDoc;

/// Clearance's own settings, read beside the kernel's.
#[derive(Debug, Clone)]
pub struct Config {
    pub mpesa: mpesa::MpesaSettings,
    /// `CAMPUS_GRADUATION_FEE`, in KES (default 5500.00).
    pub graduation_fee: kernel::Money,
}

fn graduation_fee(lookup: &dyn Fn(&str) -> Option<String>) -> Result<kernel::Money, SettingError> {
    match lookup("CAMPUS_GRADUATION_FEE") {
        None => Ok(kernel::Money::from_units(5500)),
        Some(text) => kernel::Money::parse(&text)
            .filter(|m| m.cents() >= 0)
            .ok_or(SettingError {
                name: "CAMPUS_GRADUATION_FEE",
                reason: format!("{text:?} is not an amount such as 5500 or 5500.00"),
            }),
    }
}

impl System for Clearance {
    const NAME: &'static str = "clearance";
    const ABOUT: &'static str = "MksU graduation clearance.";
    const TITLE: &'static str = "MksU Clearance System API";
    const AUDIT_TABLE: Option<&'static str> =
        Some(<audit::AuditLogs as kernel::audit::AuditSink>::TABLE);

    type Config = Config;
    type State = AppState;
    type Paging = kernel::listing::Drf;

    /// The spec's defaults: throttles 100/hour anonymous and 1000/hour per
    /// user, access tokens for 5 minutes, refresh tokens for 7 days, Django
    /// 4.2's PBKDF2-SHA256 (600 000 iterations); sign-in locks after 10
    /// failures in 15 minutes.
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
            access_token_lifetime: Duration::from_secs(5 * 60),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            lockout: LockoutSettings {
                max_failures: 10,
                window: Duration::from_secs(15 * 60),
            },
            password: Algorithm::DJANGO_PBKDF2,
            ..SystemDefaults::base(Self::NAME)
        }
    }

    fn config(
        _settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, SettingError> {
        Ok(Config {
            mpesa: mpesa::MpesaSettings::from_lookup(lookup)?,
            graduation_fee: graduation_fee(lookup)?,
        })
    }

    fn state(kernel: Kernel, config: Config) -> Result<AppState, String> {
        Ok(AppState {
            kernel,
            daraja: Arc::new(mpesa::Daraja::new(config.mpesa)),
            graduation_fee: config.graduation_fee,
        })
    }

    async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::up(db, None).await
    }

    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
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
            .split_for_parts()
    }

    fn aliases() -> axum::Router<AppState> {
        auth::user_aliases()
            .merge(clearances::aliases())
            .merge(students::aliases())
            .merge(finance::aliases())
            .merge(notifications::aliases())
            .merge(gowns::aliases())
            .merge(analytics::aliases())
    }

    fn throttle_exempt() -> &'static [&'static str] {
        &["/api/health/", "/api/finance/mpesa_callback/"]
    }

    /// The job queue (notification email), the blacklist's housekeeping and
    /// the gown reminders.
    fn spawn_workers(state: &AppState) {
        let mail_state = state.clone();
        let gown_state = state.clone();
        kernel::jobs::Worker::new()
            .on(notify::EMAIL_JOB, move |payload| {
                notify::send_email(mail_state.clone(), payload)
            })
            .housekeeping(state.db.clone())
            .every(GOWN_REMINDERS_JOB, Duration::from_secs(3600), move |_| {
                remind_overdue_gowns(gown_state.clone())
            })
            .spawn(&state.kernel, Duration::from_secs(5));
    }

    async fn is_administrator(state: &AppState, request: &mut axum::http::request::Parts) -> bool {
        use axum::extract::FromRequestParts;
        crate::principal::Admin::from_request_parts(request, state)
            .await
            .is_ok()
    }

    async fn has_admin(state: &AppState) -> Result<bool, sea_orm::DbErr> {
        Ok(user::Entity::find()
            .filter(user::Column::Role.eq(Role::Admin))
            .one(&state.db)
            .await?
            .is_some())
    }

    async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
        create_superuser(state, &account.email, &account.password, &account.full_name).await
    }

    /// The benchmark data set of `../shared/peers/README.md` (see [`bench_seed`]).
    async fn import_django(
        state: &AppState,
        options: &kernel::import::Options,
    ) -> Result<kernel::import::Report, String> {
        import::run(state, options).await
    }

    async fn seed_bench(state: &AppState, students: u64) -> Result<String, String> {
        bench_seed::seed(state, students).await
    }
}

/// The OpenAPI 3.1 document of this system.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kernel::system::openapi::<Clearance>()
}

/// Hourly (once across every node): remind students of overdue gowns.
const GOWN_REMINDERS_JOB: &str = "clearance.gowns.remind";

async fn remind_overdue_gowns(state: AppState) -> Result<(), String> {
    match gowns::notify_overdue(&state).await {
        Ok(0) => Ok(()),
        Ok(sent) => {
            tracing::info!(sent, "reminded students of overdue gowns");
            Ok(())
        }
        Err(error) => Err(error.to_string()),
    }
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
    let now = kernel::time::now();
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
