//! The System shape: what a campus system implements once — its name and
//! defaults, its own settings and state, migrations, routes and OpenAPI
//! document, workers and first administrator — and everything the kernel
//! then does for every system alike: reading settings, connecting, running
//! the kernel's migrations before the system's, assembling the HTTP
//! application, and the `campus` commands through one registry.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::Notify;
use utoipa::openapi::OpenApi;

use crate::config::{SettingError, Settings, SystemDefaults};
use crate::error::Envelope;
use crate::events::Hub;
use crate::jwt::Jwt;
use crate::lifecycle::Lifecycle;
use crate::listing::{Paging, SystemPaging};
use crate::lockout::LoginGuard;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::password::Hasher;
use crate::shared::SharedRedis;
use crate::upload::Storage;

/// What every system shares, built once from the settings: the database,
/// token signing, password hashing, the sign-in lockout, mail, the job
/// queue's wake-up, file storage and live events.
#[derive(Clone)]
pub struct Kernel {
    pub db: DatabaseConnection,
    pub jwt: Arc<Jwt>,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    /// Failed sign-ins per account and address (in Redis when configured).
    pub lockout: Arc<LoginGuard>,
    /// Outgoing email, when `CAMPUS_EMAIL_URL` is set.
    pub mailer: Option<Mailer>,
    /// Wakes the job worker after a commit that queued work.
    pub jobs_wake: Arc<Notify>,
    /// Uploaded files.
    pub storage: Storage,
    /// Wakes live streams (on every node, on PostgreSQL).
    pub hub: Hub,
    /// The Redis nodes share (`CAMPUS_REDIS_URL`), if any.
    pub redis: Option<SharedRedis>,
    /// What `/metrics` reports of this node.
    pub metrics: Arc<Metrics>,
    /// Serving, then closing (SIGTERM).
    pub lifecycle: Lifecycle,
}

impl Kernel {
    /// The shared parts over an open database.
    pub fn new(db: DatabaseConnection, settings: Settings) -> Result<Self, String> {
        let mailer = match &settings.email_url {
            Some(url) => Some(Mailer::new(url, &settings.email_from)?),
            None => None,
        };
        let redis = match &settings.redis_url {
            Some(url) => Some(SharedRedis::open(
                url,
                &settings.redis_prefix,
                settings.system,
            )?),
            None => None,
        };
        let metrics = Arc::new(Metrics::new(settings.system));
        let lifecycle = Lifecycle::new();
        let hub = Hub::for_node(&db, settings.system, lifecycle.clone(), metrics.clone());
        Ok(Self {
            db,
            jwt: Arc::new(Jwt::new(
                &settings.secret_key,
                settings.access_token_lifetime,
                settings.refresh_token_lifetime,
            )),
            hasher: Hasher::new(settings.password, settings.hash_concurrency),
            lockout: Arc::new(
                LoginGuard::new(settings.lockout, redis.as_ref(), "lockout")
                    .counted_in(metrics.clone()),
            ),
            mailer,
            jobs_wake: Arc::new(Notify::new()),
            storage: Storage::open(&settings.storage)?,
            hub,
            redis,
            metrics,
            lifecycle,
            settings: Arc::new(settings),
        })
    }

    /// Connects to the configured database.
    pub async fn connect(settings: Settings) -> Result<Self, String> {
        let db = crate::db::connect(&settings.database_url)
            .await
            .map_err(|e| e.to_string())?;
        Self::new(db, settings)
    }
}

/// A system's state gives the kernel's extractors (current user, client
/// address, access claims) the shared parts.
pub trait HasKernel: Send {
    fn kernel(&self) -> &Kernel;
}

/// Declares that a system's state holds the [`Kernel`] in `field`: it
/// implements [`HasKernel`] and derefs to the kernel (so `state.jwt`,
/// `state.settings` read naturally).
///
/// ```ignore
/// kernel::has_kernel!(AppState.kernel);
/// ```
#[macro_export]
macro_rules! has_kernel {
    ($state:ident . $field:tt) => {
        impl ::std::ops::Deref for $state {
            type Target = $crate::Kernel;
            fn deref(&self) -> &$crate::Kernel {
                &self.$field
            }
        }

        impl $crate::HasKernel for $state {
            fn kernel(&self) -> &$crate::Kernel {
                &self.$field
            }
        }
    };
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One campus system. Implemented once per system crate on a unit type
/// (`clearance::Clearance`); see `docs/ARCHITECTURE.md`, "Adding a system".
pub trait System: Send + Sync + 'static {
    /// What `campus <command> <name>` calls it.
    const NAME: &'static str;
    /// One line for `campus --help`.
    const ABOUT: &'static str;
    /// The title of its API documents.
    const TITLE: &'static str;

    /// The table every write through the API leaves exactly one row in
    /// (its [`crate::audit::AuditSink::TABLE`]: its own spec-shaped table, or the kernel's
    /// [`crate::audit_log::TABLE`]); `None` for a system that keeps no audit
    /// trail. The conformance table (feature `testing`) counts its rows.
    const AUDIT_TABLE: Option<&'static str>;

    /// Its own settings, read beside the kernel's.
    type Config: Send + 'static;
    /// What its handlers reach: the [`Kernel`] plus its own parts.
    type State: HasKernel + Clone + Sync + 'static;
    /// How its lists read `?page=` and answer a page ([`crate::listing::Drf`]
    /// for DRF's `{count, next, previous, results}`). Handlers take
    /// [`ListOf<Self>`](crate::listing::ListOf) and answer
    /// [`PageOf<Self, T>`](crate::listing::PageOf). Associated types
    /// cannot default, so DRF systems say `type Paging = listing::Drf;`.
    type Paging: Paging;

    fn defaults() -> SystemDefaults;

    /// Reads the system's own settings (`lookup` is the environment).
    fn config(settings: &Settings, lookup: Lookup<'_>) -> Result<Self::Config, SettingError>;

    /// Builds the state from the shared kernel and the system's settings.
    fn state(kernel: Kernel, config: Self::Config) -> Result<Self::State, String>;

    /// Applies the system's own pending migrations (the kernel's have run).
    fn migrate(db: &DatabaseConnection) -> impl Future<Output = Result<(), DbErr>> + Send;

    /// Its documented API routes and their OpenAPI document.
    fn api() -> (axum::Router<Self::State>, OpenApi);

    /// Undocumented routes kept for an original's clients (other spellings
    /// of documented paths).
    fn aliases() -> axum::Router<Self::State> {
        axum::Router::new()
    }

    /// Whether the request comes from one of the system's administrators
    /// (who may read `/metrics` on the main address); none by default.
    fn is_administrator(
        _state: &Self::State,
        _request: &mut axum::http::request::Parts,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Paths never throttled (health probes, payment callbacks).
    fn throttle_exempt() -> &'static [&'static str] {
        &["/api/health/"]
    }

    /// Error bodies in the system's own envelope; `None` is DRF's.
    fn envelope() -> Option<Envelope> {
        None
    }

    /// Layers the system puts around every response, outside the kernel's
    /// stack (so unmatched routes, 405s, CORS preflights and panics too).
    fn layers(router: Router) -> Router {
        router
    }

    /// The database a request works on, resolved before authentication
    /// from what the request says (host, headers): a system with tenants
    /// answers its tenant's database, or an error in its envelope when the
    /// request names no tenant it serves. `None` (the default) is the
    /// kernel's database. Handlers reach it through [`crate::Db`]; tokens
    /// and lockout keys carry the tenant ([`crate::db::tenant`]).
    fn tenant_db(
        _state: &Self::State,
        _request: &axum::http::request::Parts,
    ) -> impl Future<Output = Result<Option<crate::db::Tenant>, crate::ApiError>> + Send {
        async { Ok(None) }
    }

    /// Starts background work: job workers, periodic sweeps.
    fn spawn_workers(state: &Self::State);

    /// Whether an administrator exists (to tell a new user how to make one).
    fn has_admin(state: &Self::State) -> impl Future<Output = Result<bool, DbErr>> + Send;

    /// `campus createsuperuser`: refuses a taken email or a weak password
    /// with a message for the terminal.
    fn create_superuser(
        state: &Self::State,
        account: &NewSuperuser,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// `campus rotate-keys`: re-encrypts every encrypted field with the first
    /// key; answers what it did.
    fn rotate_keys(_state: &Self::State) -> impl Future<Output = Result<String, String>> + Send {
        async { Err(format!("{} has no encrypted fields", Self::NAME)) }
    }

    /// `campus seed-bench`: creates the system's benchmark data set for
    /// `students` students in a freshly migrated database (refusing one that
    /// already holds the system's rows); answers what it created.
    fn seed_bench(
        _state: &Self::State,
        _students: u64,
    ) -> impl Future<Output = Result<String, String>> + Send {
        async { Err(format!("{} has no benchmark data set", Self::NAME)) }
    }

    /// `campus import-django`: the system's data from the database of the
    /// Django original it replaces, in one transaction (none on a dry run).
    /// A refusal (a wrong key, an unreadable database) writes nothing.
    fn import_django(
        _state: &Self::State,
        _options: &crate::import::Options,
    ) -> impl Future<Output = Result<crate::import::Report, String>> + Send {
        async {
            Err(format!(
                "{} has no Django original to import from",
                Self::NAME
            ))
        }
    }
}

/// The first administrator, from `campus createsuperuser`.
#[derive(Debug, Clone)]
pub struct NewSuperuser {
    pub email: String,
    pub password: String,
    pub full_name: String,
}

/// The kernel's settings and the system's, from `lookup`.
pub fn configure<S: System>(lookup: Lookup<'_>) -> Result<(Settings, S::Config), SettingError> {
    let settings = Settings::from_lookup(&S::defaults(), lookup)?;
    let config = S::config(&settings, lookup)?;
    Ok((settings, config))
}

/// The process environment (after loading `.env` when present).
pub fn environment() -> impl Fn(&str) -> Option<String> {
    let _ = dotenvy::dotenv();
    |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Connects and builds the state (no migrations).
pub async fn start<S: System>(settings: Settings, config: S::Config) -> Result<S::State, String> {
    let kernel = Kernel::connect(settings).await?;
    S::state(kernel, config)
}

/// The kernel's pending migrations, then the system's.
pub async fn migrate<S: System>(db: &DatabaseConnection) -> Result<(), DbErr> {
    crate::migration::migrate(db).await?;
    S::migrate(db).await?;
    crate::counts::fold(db).await.map(drop)
}

/// The system's OpenAPI 3.1 document.
pub fn openapi<S: System>() -> OpenApi {
    crate::docs::finish_for::<S::Paging>(S::api().1)
}

/// The whole HTTP application: documented routes and aliases (told the
/// system's paging style), throttling, the documents, the system's own
/// layers, then the kernel's standard stack (see [`crate::http::wrap`]).
pub fn app<S: System>(state: S::State) -> Router {
    let (api, openapi) = S::api();
    let kernel = state.kernel().clone();
    let settings = kernel.settings.clone();
    let throttle = crate::throttle::ThrottleLayerState {
        throttle: Arc::new(crate::throttle::Throttle::shared(
            settings.throttle_anon,
            settings.throttle_user,
            kernel.redis.clone(),
            settings.throttle_fail_open,
        )),
        jwt: kernel.jwt.clone(),
        trusted_proxies: settings.trusted_proxies,
        exempt: S::throttle_exempt(),
        metrics: kernel.metrics.clone(),
    };
    let router = api
        .merge(S::aliases())
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(crate::metrics::mark_route))
        .layer(axum::Extension(SystemPaging::of::<S::Paging>()))
        .layer(axum::middleware::from_fn_with_state(
            throttle,
            crate::throttle::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            resolve_db::<S>,
        ))
        .merge(crate::docs::router(
            crate::docs::finish_for::<S::Paging>(openapi),
            S::TITLE,
        ))
        .merge(crate::ops::router::<S>(
            state,
            settings.metrics_bind.is_none(),
        ));
    crate::http::wrap(router, &settings, S::envelope(), S::layers).layer(
        axum::middleware::from_fn_with_state(kernel.metrics.clone(), crate::metrics::track),
    )
}

/// Puts the request's database ([`System::tenant_db`]) where [`crate::Db`]
/// finds it and serves the request as its tenant's, before throttling and
/// authentication.
async fn resolve_db<S: System>(
    axum::extract::State(state): axum::extract::State<S::State>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (mut parts, body) = request.into_parts();
    match S::tenant_db(&state, &parts).await {
        Ok(Some(tenant)) => {
            parts.extensions.insert(crate::Db(tenant.db));
            let request = axum::extract::Request::from_parts(parts, body);
            crate::db::in_tenant(tenant.key, next.run(request)).await
        }
        Ok(None) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Err(error) => error.into_response(),
    }
}

/// A `campus` command for one system.
#[derive(Debug, Clone)]
pub enum Command {
    /// Migrate, then serve the API (on `bind`, else `CAMPUS_BIND`).
    Serve {
        bind: Option<SocketAddr>,
    },
    Migrate,
    CreateSuperuser(NewSuperuser),
    /// Print the OpenAPI document.
    Openapi,
    RotateKeys,
    /// Check the settings and that the database, Redis and file storage
    /// answer; one line per problem, non-zero exit when any.
    Check,
    /// Create the benchmark data set for this many students.
    SeedBench {
        students: u64,
    },
    /// Bring the Django original's data over.
    ImportDjango(crate::import::Options),
}

type Run = fn(Command) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A system as the CLI sees it: the registry in `campus`'s `main.rs` lists
/// one of these per system.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub about: &'static str,
    pub run: Run,
}

/// The registry entry of `S`.
pub const fn entry<S: System>() -> Entry {
    Entry {
        name: S::NAME,
        about: S::ABOUT,
        run: |command| Box::pin(run::<S>(command)),
    }
}

async fn ready<S: System>() -> anyhow::Result<S::State> {
    let (settings, config) = configure::<S>(&environment())?;
    let state = start::<S>(settings, config)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot start")?;
    migrate::<S>(&state.kernel().db)
        .await
        .context("migration failed")?;
    Ok(state)
}

/// Carries out `command` for system `S`.
pub async fn run<S: System>(command: Command) -> anyhow::Result<()> {
    let name = S::NAME;
    match command {
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&openapi::<S>())?);
        }
        Command::Migrate => {
            ready::<S>().await?;
            println!("{name}: migrations applied");
        }
        Command::CreateSuperuser(account) => {
            let state = ready::<S>().await?;
            S::create_superuser(&state, &account)
                .await
                .map_err(anyhow::Error::msg)?;
            println!("Superuser {} created.", account.email);
        }
        Command::RotateKeys => {
            let state = ready::<S>().await?;
            let report = S::rotate_keys(&state).await.map_err(anyhow::Error::msg)?;
            println!("{name}: {report}");
        }
        Command::SeedBench { students } => {
            let state = ready::<S>().await?;
            let report = S::seed_bench(&state, students)
                .await
                .map_err(anyhow::Error::msg)?;
            println!("{name}: {report}");
        }
        Command::ImportDjango(options) => {
            let state = ready::<S>().await?;
            println!(
                "{name}: importing from {}{}",
                crate::db::redact(&options.from),
                if options.dry_run { " (dry run)" } else { "" }
            );
            let report = S::import_django(&state, &options)
                .await
                .map_err(anyhow::Error::msg)?;
            print!("{report}");
        }
        Command::Serve { bind } => {
            crate::http::init_logging();
            let state = ready::<S>().await?;
            let address = bind.unwrap_or(state.kernel().settings.bind);
            let needs_admin = !S::has_admin(&state).await?;
            S::spawn_workers(&state);
            crate::counts::spawn_folding(state.kernel().db.clone());
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            println!(
                "campus {name} listening on http://{address}/api/ (docs: http://{address}/api/docs/)"
            );
            if needs_admin {
                println!(
                    "No administrator yet: create one with\n  cargo run --release -- createsuperuser {name} --email admin@example.org --password '<a strong password>'"
                );
            }
            let kernel = state.kernel().clone();
            if let Some(address) = kernel.settings.metrics_bind {
                let metrics = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (CAMPUS_METRICS_BIND)"))?;
                println!("metrics on http://{address}/metrics");
                let (router, settings) = (
                    crate::ops::metrics_only(kernel.clone()),
                    kernel.settings.serve,
                );
                let closing = kernel.lifecycle.clone();
                tokio::spawn(async move {
                    let stop = async move { closing.closed().await };
                    if let Err(error) =
                        crate::serve::serve_with(router, metrics, settings, stop).await
                    {
                        tracing::error!(%error, "the metrics listener stopped");
                    }
                });
            }
            crate::serve::serve(
                app::<S>(state),
                listener,
                kernel.settings.serve,
                kernel.lifecycle.clone(),
            )
            .await?;
        }
        Command::Check => {
            let problems = match configure::<S>(&environment()) {
                Ok((settings, config)) => check::<S>(settings, config).await,
                Err(error) => vec![error.to_string()],
            };
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{name}: {problem}");
                }
                anyhow::bail!("{} problem(s) found", problems.len());
            }
            println!("{name}: settings, database, Redis and file storage are ready");
        }
    }
    Ok(())
}

/// `campus check`: every problem with what valid settings point at
/// (database, Redis, file storage) and with the system's own start-up, one
/// line each; none when the system can start.
pub async fn check<S: System>(settings: Settings, config: S::Config) -> Vec<String> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let mut problems = Vec::new();
    let answered = tokio::time::timeout(WAIT, crate::db::probe(&settings.database_url))
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
    let db = match answered {
        Ok(()) => match crate::db::connect(&settings.database_url).await {
            Ok(db) => Some(db),
            Err(error) => {
                problems.push(format!("CAMPUS_DATABASE_URL: cannot connect: {error}"));
                None
            }
        },
        Err(reason) => {
            problems.push(format!("CAMPUS_DATABASE_URL: cannot connect: {reason}"));
            None
        }
    };
    if let Some(url) = &settings.redis_url {
        let answered = match SharedRedis::open(url, &settings.redis_prefix, settings.system) {
            Ok(redis) => tokio::time::timeout(WAIT, redis.ping())
                .await
                .unwrap_or_else(|_| Err("no answer within 10 s".to_owned())),
            Err(reason) => Err(reason),
        };
        if let Err(reason) = answered {
            problems.push(format!("CAMPUS_REDIS_URL: {reason}"));
        }
    }
    match Storage::open(&settings.storage) {
        Ok(storage) => {
            let checked = tokio::time::timeout(WAIT, storage.check())
                .await
                .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
            if let Err(reason) = checked {
                problems.push(format!("CAMPUS_STORAGE_URL: {reason}"));
            }
        }
        Err(reason) => problems.push(format!("CAMPUS_STORAGE_URL: {reason}")),
    }
    if let Some(db) = db
        && let Err(reason) =
            Kernel::new(db, settings).and_then(|kernel| S::state(kernel, config).map(drop))
    {
        problems.push(reason);
    }
    problems
}
