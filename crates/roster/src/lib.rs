//! Smart Roster (`specs/003_40c723f55eb81b0c.txt`): a training institution's
//! users, school structure, curriculum and enrolments, rooms and the
//! timetable (with exact conflict detection and generation), attendance with
//! geofence and face verification, notifications and reports. The contract
//! it serves is `reference/roster-contract.md`.

pub mod entities;
pub mod face;
pub mod migration;

mod academic;
mod access;
mod attendance;
mod audit;
mod auth;
mod availability;
mod broadcasts;
mod bulk_courses;
mod bulk_users;
mod class_groups;
mod courses;
mod departments;
mod email;
mod enrollments;
mod faces;
mod health;
mod mappings;
mod notifications;
mod notify;
mod programmes;
mod reports;
mod rest;
mod rooms;
mod school;
mod sheets;
mod state;
mod timetable;
mod timetable_settings;
mod topics;
mod users;

use std::time::Duration;

use kernel::config::{Rate, SettingError, Settings, SystemDefaults};
use kernel::system::NewSuperuser;
use kernel::{Kernel, System};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sea_orm_migration::MigratorTrait;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

use crate::entities::user;

pub const NAME: &str = "roster";

/// Smart Roster, as the kernel runs it.
pub struct Roster;

#[derive(OpenApi)]
#[openapi(
    info(title = "Smart Roster API", description = "Smart Roster: users and face enrolment, school structure, courses and enrolments, rooms, trainer availability, the timetable with conflict detection, drafts and automatic generation; attendance with geofence and face verification, notifications and reports."),
    tags((name = "auth"), (name = "users"), (name = "school"), (name = "courses"), (name = "rooms"),
         (name = "timetable"), (name = "attendance"), (name = "notifications"), (name = "reports"), (name = "audit"), (name = "health")),
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
    kernel::system::openapi::<Roster>()
}

/// roster's own settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CAMPUS_FRONTEND_URL`: where links in emails (verification,
    /// invitation, password reset) point.
    pub frontend_url: String,
    /// `CAMPUS_FACE_MODELS_DIR`: the dlib model files (contract §8).
    pub face_models_dir: std::path::PathBuf,
}

impl System for Roster {
    const NAME: &'static str = NAME;
    const ABOUT: &'static str = "Smart Roster: timetable and attendance of a training institution.";
    const TITLE: &'static str = "Smart Roster API";
    const AUDIT_TABLE: Option<&'static str> = Some(<audit::Log as kernel::audit::AuditSink>::TABLE);

    type Config = Config;
    type State = AppState;
    type Paging = kernel::listing::Drf;

    /// 30-minute access and 7-day refresh tokens (the contract), throttles
    /// `100/hour` anonymous and `1000/hour` per user, 8 MiB bodies (a 5 MB
    /// photo or spreadsheet is refused by its own rule, not by 413).
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
            access_token_lifetime: Duration::from_secs(30 * 60),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            max_body_bytes: 8 * 1024 * 1024,
            ..SystemDefaults::base(NAME)
        }
    }

    fn config(
        _settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, SettingError> {
        let frontend_url = lookup("CAMPUS_FRONTEND_URL")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "http://localhost:3000".into());
        let face_models_dir = lookup("CAMPUS_FACE_MODELS_DIR")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| face::models::DEFAULT_DIR.into());
        Ok(Config {
            frontend_url: frontend_url.trim_end_matches('/').to_owned(),
            face_models_dir: face_models_dir.into(),
        })
    }

    fn state(kernel: Kernel, config: Config) -> Result<AppState, String> {
        Ok(AppState {
            kernel,
            frontend_url: config.frontend_url.into(),
            faces: std::sync::Arc::new(face::Faces::open(&config.face_models_dir)),
        })
    }

    async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        migration::Migrator::up(db, None).await
    }

    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(health::router())
            .merge(auth::router())
            .merge(users::router())
            .merge(bulk_users::router())
            .merge(bulk_courses::router())
            .merge(faces::router())
            .merge(audit::router())
            .merge(school::router())
            .merge(departments::router())
            .merge(programmes::router())
            .merge(academic::router())
            .merge(class_groups::router())
            .merge(courses::router())
            .merge(mappings::router())
            .merge(enrollments::router())
            .merge(topics::router())
            .merge(rooms::router())
            .merge(availability::router())
            .merge(timetable_settings::router())
            .merge(timetable::generation_api::router())
            .merge(timetable::router())
            .merge(attendance::router())
            .merge(notifications::router())
            .merge(broadcasts::router())
            .merge(reports::router())
            .split_for_parts()
    }

    /// Paths served beside the documented ones (hyphenated action names,
    /// `/api/users/me/`, ...), left out of the OpenAPI document.
    fn aliases() -> axum::Router<AppState> {
        axum::Router::new()
            .merge(auth::aliases())
            .merge(school::aliases())
            .merge(availability::aliases())
            .merge(timetable::generation_api::aliases())
            .merge(timetable::aliases())
            .merge(attendance::aliases())
            .merge(notifications::aliases())
            .merge(reports::aliases())
    }

    /// A path without its trailing slash is served the same (contract §0).
    fn layers(router: axum::Router) -> axum::Router {
        kernel::http::append_slash(router)
    }

    fn throttle_exempt() -> &'static [&'static str] {
        &["/api/health/"]
    }

    fn spawn_workers(state: &AppState) {
        jobs(state).spawn(&state.kernel, Duration::from_secs(5));
    }

    async fn is_administrator(state: &AppState, request: &mut axum::http::request::Parts) -> bool {
        use axum::extract::FromRequestParts;
        crate::access::Admin::from_request_parts(request, state)
            .await
            .is_ok()
    }

    async fn has_admin(state: &AppState) -> Result<bool, sea_orm::DbErr> {
        Ok(user::Entity::find()
            .filter(user::Column::Role.eq(access::Role::Admin.as_str()))
            .one(&state.db)
            .await?
            .is_some())
    }

    async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
        users::create_superuser(state, account).await
    }
}

/// Every job roster runs, by kind (`docs/ARCHITECTURE.md`, jobs).
pub fn jobs(state: &AppState) -> kernel::jobs::Worker {
    let mail = state.clone();
    let generation = state.clone();
    kernel::jobs::Worker::new()
        .housekeeping(state.db.clone())
        .on(users::EMAIL_JOB, move |payload| {
            users::send_email(mail.clone(), payload)
        })
        .on(email::LINK_JOB, {
            let state = state.clone();
            move |payload| email::send_link(state.clone(), payload)
        })
        .on(timetable::generation_api::GENERATE_JOB, move |payload| {
            timetable::generation_api::run_job(generation.clone(), payload)
        })
        .on(notify::DELIVER_JOB, with(state, notify::deliver))
        .on(reports::BUILD_JOB, with(state, reports::build))
        .every(
            attendance::jobs::MATERIALIZE,
            DAY,
            with(state, attendance::jobs::materialize),
        )
        .every(
            attendance::jobs::MARK_MISSED,
            MINUTE,
            with(state, attendance::jobs::mark_missed),
        )
        .every(
            attendance::jobs::AUTO_CLOSE,
            MINUTE,
            with(state, attendance::jobs::auto_close),
        )
        .every(
            attendance::jobs::PURGE_IMAGES,
            DAY,
            with(state, attendance::jobs::purge_images),
        )
        .every(
            reports::SCHEDULED_JOB,
            5 * MINUTE,
            with(state, reports::run_schedules),
        )
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A job handler that gets its own copy of the state.
fn with<F, Fut>(
    state: &AppState,
    handler: F,
) -> impl Fn(serde_json::Value) -> Fut + Send + Sync + 'static
where
    F: Fn(AppState, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let state = state.clone();
    move |payload| handler(state.clone(), payload)
}
