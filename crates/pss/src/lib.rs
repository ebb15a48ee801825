//! PSS, the Personal Support System (`specs/002_9a60ab9a44f40200.txt`):
//! candidates with disabilities, their encrypted medical profiles, intake,
//! journal, the notes administrators keep, and dashboards.

pub mod entities;
pub mod migration;
pub mod seal;

mod admin_notes;
mod audit;
mod audit_logs;
mod dashboard;
mod email;
mod health;
mod import;
mod intake;
mod journal;
mod original;
mod popia;
mod principal;
mod profiles;
pub mod retention;
mod rotate;
mod signin;
mod state;
pub mod totp;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use kernel::config::{Rate, SettingError, Settings, SystemDefaults};
use kernel::crypto::KeyRing;
use kernel::lockout::LockoutSettings;
use kernel::password::Algorithm;
use kernel::system::NewSuperuser;
use kernel::{Kernel, System};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sea_orm_migration::MigratorTrait;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use rotate::{RotationReport, rotate_keys};
// The sign-in modules live under `signin/` but keep their crate-root paths.
use signin::{auth, password_reset, passwords, sessions, two_factor};
pub use state::AppState;

use crate::entities::user::{self, Role};

pub const NAME: &str = "pss";

/// PSS, as the kernel runs it.
pub struct Pss;

/// django-axes as the original configured it: 5 failures for one email from
/// one address lock that pair for 15 minutes.
pub const LOCKOUT: LockoutSettings = LockoutSettings {
    max_failures: 5,
    window: Duration::from_secs(15 * 60),
};

#[derive(OpenApi)]
#[openapi(
    info(title = "PSS Backend API", description = "Personal Support System for students with disabilities: candidates, encrypted medical profiles, intake, journal, admin notes, dashboards, the audit log and POPIA consent, export and erasure."),
    tags((name = "auth"), (name = "sessions"), (name = "2fa"), (name = "users"), (name = "intake"), (name = "journal"), (name = "admin-notes"),
         (name = "dashboard"), (name = "audit"), (name = "popia"), (name = "health"))
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of this system.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kernel::system::openapi::<Pss>()
}

/// PSS's own settings, read beside the kernel's.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CAMPUS_FIELD_ENCRYPTION_KEY`: required in production mode.
    pub keys: Arc<KeyRing>,
    /// `CAMPUS_PSS_ALLOWED_EMAIL_DOMAINS`: comma-separated; empty allows any.
    pub allowed_email_domains: Vec<String>,
    /// `CAMPUS_PSS_REQUIRE_ADMIN_2FA`: administrators and superusers must
    /// sign in with 2FA (default false).
    pub require_admin_2fa: bool,
    /// `CAMPUS_FRONTEND_URL` (default `http://localhost:3000`): where the
    /// password-reset link of an email points.
    pub frontend_url: String,
    /// `CAMPUS_PSS_RETENTION_DAYS` (default off): candidate accounts unused
    /// this long are warned, then erased (see [`retention`]).
    pub retention: Option<chrono::TimeDelta>,
}

impl Config {
    fn read(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingError> {
        let keys = kernel::crypto::key_ring_from_settings(lookup, &settings.database_url)?;
        let allowed_email_domains = match lookup("CAMPUS_PSS_ALLOWED_EMAIL_DOMAINS") {
            Some(value) => parse_domains(&value).map_err(|reason| SettingError {
                name: "CAMPUS_PSS_ALLOWED_EMAIL_DOMAINS",
                reason,
            })?,
            None => Vec::new(),
        };
        let frontend_url = match lookup("CAMPUS_FRONTEND_URL") {
            Some(value) => parse_frontend_url(&value).map_err(|reason| SettingError {
                name: "CAMPUS_FRONTEND_URL",
                reason,
            })?,
            None => "http://localhost:3000".to_owned(),
        };
        let require_admin_2fa = match lookup("CAMPUS_PSS_REQUIRE_ADMIN_2FA")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(_) => {
                return Err(SettingError {
                    name: "CAMPUS_PSS_REQUIRE_ADMIN_2FA",
                    reason: "expected true or false".into(),
                });
            }
        };
        let retention = match lookup("CAMPUS_PSS_RETENTION_DAYS")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "off") => None,
            Some(days) => match days.parse::<i64>() {
                Ok(days) if (60..=36_500).contains(&days) => Some(chrono::TimeDelta::days(days)),
                _ => {
                    return Err(SettingError {
                        name: "CAMPUS_PSS_RETENTION_DAYS",
                        reason: "expected a number of days from 60 to 36500, or off".into(),
                    });
                }
            },
        };
        if retention.is_some() && settings.email_url.is_none() {
            return Err(SettingError {
                name: "CAMPUS_PSS_RETENTION_DAYS",
                reason: "needs CAMPUS_EMAIL_URL: nobody would be warned before the erasure".into(),
            });
        }
        Ok(Self {
            frontend_url,
            require_admin_2fa,
            retention,
            keys: Arc::new(keys),
            allowed_email_domains,
        })
    }
}

/// An `http(s)://` URL without query or fragment, kept without its trailing slash.
fn parse_frontend_url(value: &str) -> Result<String, String> {
    let expected = || format!("{value:?} is not a URL such as https://pss.example.org");
    let parsed = url::Url::parse(value.trim()).map_err(|_| expected())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(expected());
    }
    Ok(value.trim().trim_end_matches('/').to_owned())
}

fn parse_domains(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|domain| {
            kernel::form::normalize_email(&format!("x@{domain}"))
                .map(|_| domain.clone())
                .ok_or_else(|| format!("{domain:?} is not a domain such as capaciti.org.za"))
        })
        .collect()
}

impl System for Pss {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str = "Personal Support System for students with disabilities.";
    const TITLE: &'static str = "PSS Backend API";
    const AUDIT_TABLE: Option<&'static str> =
        Some(<audit::AuditLog as kernel::audit::AuditSink>::TABLE);

    type Config = Config;
    type State = AppState;
    type Paging = kernel::listing::Drf;

    /// Access tokens for 15 minutes and refresh tokens for 7 days (the
    /// spec); throttles as the original configured them: 10/minute
    /// anonymous, 1000/day per user; django-axes' [`LOCKOUT`]; Argon2id.
    fn defaults() -> SystemDefaults {
        SystemDefaults {
            throttle_anon: Some(Rate {
                requests: 10,
                period: Duration::from_secs(60),
            }),
            throttle_user: Some(Rate {
                requests: 1000,
                period: Duration::from_secs(86_400),
            }),
            access_token_lifetime: Duration::from_secs(15 * 60),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            lockout: LOCKOUT,
            password: Algorithm::ARGON2ID,
            ..SystemDefaults::base(NAME)
        }
    }

    fn config(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, SettingError> {
        Config::read(settings, lookup)
    }

    fn state(kernel: Kernel, config: Config) -> Result<AppState, String> {
        Ok(AppState {
            reset_limits: Arc::new(password_reset::ResetLimits::new(kernel.redis.as_ref())),
            kernel,
            frontend_url: Arc::new(config.frontend_url),
            keys: config.keys,
            allowed_email_domains: Arc::new(config.allowed_email_domains),
            require_admin_2fa: config.require_admin_2fa,
            retention: config.retention,
        })
    }

    async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::up(db, None).await
    }

    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(auth::router())
            .merge(password_reset::router())
            .merge(sessions::router())
            .merge(two_factor::router())
            .merge(users::router())
            .merge(profiles::router())
            .merge(intake::router())
            .merge(journal::router())
            .merge(admin_notes::router())
            .merge(dashboard::router())
            .merge(audit_logs::router())
            .merge(popia::router())
            .merge(health::router())
            .split_for_parts()
    }

    fn aliases() -> axum::Router<AppState> {
        auth::aliases()
            .merge(users::aliases())
            .merge(intake::aliases())
            .merge(dashboard::aliases())
            .merge(health::aliases())
    }

    fn throttle_exempt() -> &'static [&'static str] {
        &["/api/health/", "/", "/api/"]
    }

    /// Every response carries `Cache-Control: no-store` (unmatched routes
    /// too): nearly all of them hold personal data.
    fn layers(router: Router) -> Router {
        router
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                HeaderName::from_static("pragma"),
                HeaderValue::from_static("no-cache"),
            ))
    }

    fn spawn_workers(state: &AppState) {
        spawn_workers(state);
    }

    async fn is_administrator(state: &AppState, request: &mut axum::http::request::Parts) -> bool {
        use axum::extract::FromRequestParts;
        crate::principal::Staff::from_request_parts(request, state)
            .await
            .is_ok()
    }

    async fn has_admin(state: &AppState) -> Result<bool, sea_orm::DbErr> {
        has_admin(&state.db).await
    }

    async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
        create_superuser(state, &account.email, &account.password, &account.full_name).await
    }

    async fn import_django(
        state: &AppState,
        options: &kernel::import::Options,
    ) -> Result<kernel::import::Report, String> {
        import::run(state, options).await
    }

    async fn rotate_keys(state: &AppState) -> Result<String, String> {
        let report = rotate_keys(state).await?;
        Ok(format!(
            "{} rows checked, {} values re-encrypted with the first key",
            report.rows, report.values
        ))
    }
}

/// What runs the PSS jobs (the email queue).
pub fn job_worker(state: &AppState) -> kernel::jobs::Worker {
    let mail_state = state.clone();
    kernel::jobs::Worker::new().on(email::EMAIL_JOB, move |payload| {
        email::send(mail_state.clone(), payload)
    })
}

/// Background work: the job queue (email) and, hourly (once across every
/// node), [`purge_stale`] and the retention policy when configured.
fn spawn_workers(state: &AppState) {
    let hourly = state.clone();
    job_worker(state)
        .every(HOUSEKEEPING_JOB, Duration::from_secs(3600), move |_| {
            housekeeping(hourly.clone())
        })
        .spawn(&state.kernel, Duration::from_secs(5));
}

/// Hourly: [`purge_stale`] (which forgets expired blacklist rows too) and
/// the retention policy.
const HOUSEKEEPING_JOB: &str = "pss.housekeeping";

async fn housekeeping(state: AppState) -> Result<(), String> {
    purge_stale(&state.db)
        .await
        .map_err(|error| format!("could not purge stale rows: {error:?}"))?;
    if let Some(after) = state.retention {
        match retention::enforce(&state, after, kernel::time::now()).await {
            Ok(report) if report != retention::RetentionReport::default() => {
                tracing::info!(?report, "retention policy applied");
            }
            Ok(_) => {}
            Err(error) => return Err(format!("could not apply the retention policy: {error:?}")),
        }
    }
    Ok(())
}

/// Forgets what no longer serves anyone: blacklist rows of expired tokens,
/// sessions ended or expired 90 days ago, reset tokens a day past expiry, and
/// anything that reached an erased account after its erasure.
pub async fn purge_stale(db: &DatabaseConnection) -> Result<(), kernel::ApiError> {
    let now = kernel::time::now();
    kernel::jwt::purge_expired(db).await?;
    sessions::purge_ended(db, now).await?;
    entities::password_reset_token::Entity::delete_many()
        .filter(
            entities::password_reset_token::Column::ExpiresAt.lt(now - chrono::TimeDelta::days(1)),
        )
        .exec(db)
        .await?;
    popia::sweep_erased(db).await?;
    Ok(())
}

/// Whether any active superuser or administrator exists.
async fn has_admin(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.is_in([Role::Admin, Role::Superuser]))
        .filter(user::Column::IsActive.eq(true))
        .one(db)
        .await?
        .is_some())
}

/// Creates a superuser (with its profile), refusing a taken email, an email
/// outside the allowed domains, or a weak password.
pub async fn create_superuser(
    state: &AppState,
    email: &str,
    password: &str,
    full_name: &str,
) -> Result<(), String> {
    let (first_name, last_name) = match full_name.trim().split_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
        None => (full_name.trim().to_owned(), String::new()),
    };
    users::create_account(
        state,
        &state.db,
        kernel::Checker::new(),
        users::NewAccount {
            email: kernel::Field::Value(email.to_owned()),
            password: kernel::Field::Value(password.to_owned()),
            first_name: kernel::Field::Value(first_name),
            last_name: kernel::Field::Value(last_name),
            role: Role::Superuser,
        },
        None,
    )
    .await
    .map(drop)
    .map_err(|error| match error {
        kernel::ApiError::Validation(errors) => {
            let mut lines = Vec::new();
            if let serde_json::Value::Object(map) = errors.to_json() {
                for (field, messages) in map {
                    for message in messages.as_array().into_iter().flatten() {
                        lines.push(format!("{field}: {}", message.as_str().unwrap_or("")));
                    }
                }
            }
            lines.join("\n")
        }
        other => other.to_string(),
    })
}

impl Config {
    /// PSS's settings from `lookup` alone (the kernel's are read and
    /// checked too), for callers that only need these.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        kernel::system::configure::<Pss>(&lookup).map(|(_, config)| config)
    }
}
