//! `example`: a whole campus system on the kernel — accounts that sign in,
//! two resources (projects, and the tasks of a project), a migration, audit
//! rows, an error envelope and a paging style (axis's) other than DRF's —
//! with nothing copied from another system. `docs/ARCHITECTURE.md` walks
//! through it.

use axum::extract::State;
use axum::http::StatusCode;
use kernel::Db;
use kernel::audit::{Action, AuditSink, Caller, Entry, KernelLog};
use kernel::config::{SettingError, Settings, SystemDefaults};
use kernel::extract::ClientIp;
use kernel::identity::{Account, Identity};
use kernel::system::NewSuperuser;
use kernel::{ApiError, ApiResult, Checker, Current, Field, HasKernel, IntId, Json, Kernel};
use kernel::{PageSize, Scoped, System};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition, DatabaseConnection, QueryOrder};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, boolean, string_len};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

pub mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "example_accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub password: String,
        pub is_active: bool,
        pub token_epoch: i64,
        pub last_login: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, utoipa::ToSchema,
    )]
    #[sea_orm(table_name = "example_projects")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub name: String,
        pub done: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl Account for account::Model {
    type Id = i64;
    const ID: account::Column = account::Column::Id;
    const TOKEN_EPOCH: account::Column = account::Column::TokenEpoch;
    const EMAIL: account::Column = account::Column::Email;
    const PASSWORD: account::Column = account::Column::Password;
    const LAST_LOGIN: account::Column = account::Column::LastLogin;
    fn account_id(&self) -> i64 {
        self.id
    }
    fn password_hash(&self) -> &str {
        &self.password
    }
    fn is_active(&self) -> bool {
        self.is_active
    }
    fn token_epoch(&self) -> i64 {
        self.token_epoch
    }
}

/// The kernel, and the tenants' databases by key (`X-Tenant: <key>` picks
/// one; without the header a request is the default tenant's).
/// A project is its owner's alone.
impl Scoped for project::Entity {
    type Caller = account::Model;
    fn scope(me: &account::Model) -> Condition {
        Condition::all().add(project::Column::OwnerId.eq(me.id))
    }
}

#[derive(Clone)]
pub struct AppState(pub Kernel, pub Tenants);

pub type Tenants =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, DatabaseConnection>>>;

kernel::has_kernel!(AppState.0);

impl Identity for AppState {
    type Account = account::Model;
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let accounts = Table::create()
            .table("example_accounts")
            .col(big_pk_auto("id"))
            .col(string_len("email", 254).unique_key())
            .col(string_len("password", 255))
            .col(boolean("is_active"))
            .col(big_integer("token_epoch"))
            .col(kernel::migration::cols::ts(
                manager.get_database_backend(),
                "last_login",
                true,
            ))
            .to_owned();
        let projects = Table::create()
            .table("example_projects")
            .col(big_pk_auto("id"))
            .col(big_integer("owner_id"))
            .col(string_len("name", 100))
            .col(boolean("done"))
            .to_owned();
        manager.create_table(accounts).await?;
        manager.create_table(projects).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("example_projects").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("example_accounts").to_owned())
            .await
    }
}

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateTables)]
    }
    fn migration_table_name() -> DynIden {
        "example_migrations".into_iden()
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    email: String,
    password: String,
}

/// Sign in: a token pair.
#[utoipa::path(post, path = "/api/token/", request_body = SignIn, responses((status = 200)))]
async fn sign_in(
    State(state): State<AppState>,
    Db(db): Db,
    ClientIp(ip): ClientIp,
    Json(input): Json<SignIn>,
) -> ApiResult<Json<Value>> {
    let checked = kernel::identity::check_password(&state, &db, &input.email, &input.password, ip);
    let refused = || ApiError::auth_failed("No active account found", "no_active_account");
    let account = checked.await?.ok_or_else(refused)?.sign_in(&db).await?;
    let pair = kernel::identity::issue(&state, &account, serde_json::Map::new())?;
    Ok(Json(
        json!({"access": pair.access, "refresh": pair.refresh}),
    ))
}

type ListQuery = kernel::listing::ListOf<Example>;
type Page<T> = kernel::listing::PageOf<Example, T>;

/// The caller's projects, a page at a time.
#[utoipa::path(get, path = "/api/projects/", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, body = Page<project::Model>)))]
async fn list_projects(
    Db(db): Db,
    Current(me): Current<account::Model>,
    list: ListQuery,
) -> ApiResult<Json<Page<project::Model>>> {
    let query = project::Entity::visible(&me).order_by_asc(project::Column::Id);
    let size = PageSize {
        default: 10,
        max: 100,
    };
    Ok(Json(list.page(&db, query, size).await?))
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct ProjectIn {
    #[schema(value_type = String)]
    #[serde(default)]
    name: Field<String>,
}

/// Create a project of the caller's; audited in the same transaction.
#[utoipa::path(post, path = "/api/projects/", security(("jwt" = [])), request_body = ProjectIn, responses((status = 201, body = project::Model)))]
async fn create_project(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Current<account::Model>>,
    Json(input): Json<ProjectIn>,
) -> ApiResult<(StatusCode, Json<project::Model>)> {
    let mut c = Checker::new();
    let name = c.text("name", input.name, 100);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let project = project::ActiveModel {
        owner_id: Set(me.id),
        name: Set(name.unwrap_or_default()),
        done: Set(false),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let entry = Entry::new(&actor, Action::CREATE, "project", project.id);
    Log::write(&txn, entry.changes(kernel::audit::created(&json!(project)))).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// Mark one of the caller's projects done; another's answers 404.
#[utoipa::path(post, path = "/api/projects/{id}/done/", security(("jwt" = [])), params(("id" = i64, Path)), responses((status = 200, body = project::Model)))]
async fn finish_project(
    Db(db): Db,
    Caller(Current(me), actor): Caller<Current<account::Model>>,
    IntId(id): IntId,
) -> ApiResult<Json<project::Model>> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = project::Entity::find_visible(&txn, &me, id).await?;
    let mut row: project::ActiveModel = before.clone().into();
    row.done = Set(true);
    let after = row.update(&txn).await?;
    let entry = Entry::new(&actor, Action::UPDATE, "project", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(&json!(before), &json!(after))),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(after))
}

/// Audit rows go to the kernel's table.
type Log = KernelLog<Example>;

/// Errors as `{"error": {"code", "message", "fields"}}`.
fn envelope(report: &kernel::error::ErrorReport) -> Value {
    let fields = report.fields.as_ref().map(kernel::FieldErrors::to_json);
    json!({"error": {"code": report.code, "message": report.message, "fields": fields}})
}

pub struct Example;

impl System for Example {
    const NAME: &'static str = "example";
    const ABOUT: &'static str = "The smallest whole system.";
    const TITLE: &'static str = "Example API";
    const AUDIT_TABLE: Option<&'static str> = Some(<Log as AuditSink>::TABLE);
    type Config = ();
    type State = AppState;
    type Paging = kernel::listing::Axis;

    fn defaults() -> SystemDefaults {
        SystemDefaults::base(Self::NAME)
    }
    fn config(_: &Settings, _: &dyn Fn(&str) -> Option<String>) -> Result<(), SettingError> {
        Ok(())
    }
    fn state(kernel: Kernel, (): ()) -> Result<AppState, String> {
        Ok(AppState(kernel, Tenants::default()))
    }
    async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }
    fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        OpenApiRouter::new()
            .routes(routes!(sign_in))
            .routes(routes!(list_projects, create_project))
            .routes(routes!(finish_project))
            .split_for_parts()
    }
    fn envelope() -> Option<kernel::error::Envelope> {
        Some(envelope)
    }
    async fn tenant_db(
        state: &AppState,
        request: &axum::http::request::Parts,
    ) -> ApiResult<Option<kernel::db::Tenant>> {
        let Some(key) = request.headers.get("x-tenant") else {
            return Ok(None);
        };
        let key = key.to_str().unwrap_or_default();
        let db = state
            .1
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        let db = db.ok_or_else(|| ApiError::not_found_msg("Unknown tenant."))?;
        Ok(Some(kernel::db::Tenant {
            key: key.into(),
            db,
        }))
    }
    fn spawn_workers(_: &AppState) {}
    async fn has_admin(state: &AppState) -> Result<bool, DbErr> {
        Ok(account::Entity::find()
            .one(&state.kernel().db)
            .await?
            .is_some())
    }
    async fn create_superuser(state: &AppState, new: &NewSuperuser) -> Result<(), String> {
        let hash = state
            .kernel()
            .hasher
            .make(&new.password)
            .await
            .map_err(|e| e.to_string())?;
        let row = account::ActiveModel {
            email: Set(new.email.clone()),
            password: Set(hash),
            is_active: Set(true),
            token_epoch: Set(0),
            ..Default::default()
        };
        row.insert(&state.kernel().db)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
