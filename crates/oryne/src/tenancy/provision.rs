//! Provisioning a tenant (contract §1, spec §5.3): the `oryne.provision`
//! job, queued in the transaction that inserts the tenant. Each step is
//! idempotent and recorded in `provisioning.steps_done`, so a retry resumes
//! where the last try stopped, and a later release can add steps that run
//! for existing tenants.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Statement,
};
use serde_json::{Value, json};

use crate::entities::{notification, permission, role, tenant, user};
use crate::notify::{self, Notice};
use crate::rbac;
use crate::state::AppState;

pub const JOB: &str = "oryne.provision";

/// The steps, in order.
pub const STEPS: &[&str] = &[
    "schema",
    "migrations",
    "roles",
    "admin",
    "storage",
    "search",
    "activate",
];

/// Tries before a tenant stays `failed` until `reprovision/`.
pub const MAX_TRIES: i64 = 3;

/// The storage folders of every tenant.
pub const FOLDERS: &[&str] = &[
    "avatars",
    "assignments",
    "submissions",
    "library",
    "reports",
];

/// The job's payload: the tenant.
pub fn payload(tenant_id: i64) -> Value {
    json!({"tenant_id": tenant_id})
}

/// What `provisioning` starts as: no step done, and the first admin's
/// seed (their password's hash, never the password) until the admin step
/// has used it, so a retry or `reprovision/` creates the same admin.
pub fn initial(admin: &AdminSeed) -> Value {
    json!({
        "steps_done": [],
        "attempts": 0,
        "last_error": null,
        "admin_seed": {
            "password_hash": admin.password_hash,
            "first_name": admin.first_name,
            "last_name": admin.last_name,
        },
    })
}

/// Who the first admin is, beside the tenant's `admin_email`.
#[derive(Debug, Clone, Default)]
pub struct AdminSeed {
    pub password_hash: Option<String>,
    pub first_name: String,
    pub last_name: String,
}

impl AdminSeed {
    fn of(provisioning: &Value) -> Self {
        let seed = &provisioning["admin_seed"];
        Self {
            password_hash: seed["password_hash"].as_str().map(str::to_owned),
            first_name: seed["first_name"].as_str().unwrap_or("School").to_owned(),
            last_name: seed["last_name"].as_str().unwrap_or("Admin").to_owned(),
        }
    }
}

fn steps_done(row: &tenant::Model) -> Vec<String> {
    row.provisioning["steps_done"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn attempts(row: &tenant::Model) -> i64 {
    row.provisioning["attempts"].as_i64().unwrap_or(0)
}

async fn mark(
    platform: &DatabaseConnection,
    row: &mut tenant::Model,
    step: &str,
) -> Result<(), DbErr> {
    let mut done = steps_done(row);
    if !done.iter().any(|s| s == step) {
        done.push(step.to_owned());
    }
    row.provisioning["steps_done"] = json!(done);
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::Provisioning,
            Expr::value(row.provisioning.clone()),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(tenant::Column::Id.eq(row.id))
        .exec(platform)
        .await?;
    Ok(())
}

/// The job: provisions the tenant, or records why it could not and
/// schedules the next try (three in all).
pub async fn run(state: AppState, payload: Value) -> Result<(), String> {
    let Some(id) = payload["tenant_id"].as_i64() else {
        return Ok(());
    };
    let platform = state.db.clone();
    // A tenant deleted meanwhile has nothing to provision (the spec's
    // handler touched it even when loading it failed).
    let Some(mut row) = tenant::Entity::find_by_id(id)
        .one(&platform)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if !matches!(row.status.as_str(), "provisioning" | "failed") {
        return Ok(());
    }
    let tries = attempts(&row) + 1;
    row.provisioning["attempts"] = json!(tries);
    let seed = AdminSeed::of(&row.provisioning);
    match steps(&state, &mut row, &seed).await {
        Ok(()) => Ok(()),
        Err(error) => {
            tracing::warn!(tenant = id, %error, "provisioning failed");
            row.provisioning["last_error"] = json!(public_error(&error));
            tenant::Entity::update_many()
                .col_expr(tenant::Column::Status, Expr::value("failed"))
                .col_expr(
                    tenant::Column::Provisioning,
                    Expr::value(row.provisioning.clone()),
                )
                .col_expr(tenant::Column::UpdatedAt, Expr::value(kernel::time::now()))
                .filter(tenant::Column::Id.eq(id))
                .exec(&platform)
                .await
                .map_err(|e| e.to_string())?;
            if tries < MAX_TRIES {
                let at = kernel::time::now()
                    + chrono::Duration::from_std(state.config.provision_retry).unwrap_or_default();
                kernel::jobs::enqueue_at(&platform, JOB, payload, at)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            state.tenants.changed();
            Ok(())
        }
    }
}

/// What a platform admin is told of a failure: the step and the kind of
/// problem, never connection strings or SQL.
fn public_error(error: &Failure) -> String {
    format!("step {} failed: {}", error.step, error.kind)
}

#[derive(Debug)]
struct Failure {
    step: &'static str,
    kind: &'static str,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}: {}", self.step, self.kind)
    }
}

fn failed(step: &'static str) -> impl Fn(DbErr) -> Failure {
    move |error| {
        tracing::warn!(step, %error, "provisioning step failed");
        Failure {
            step,
            kind: if matches!(error, DbErr::Conn(_) | DbErr::ConnectionAcquire(_)) {
                "the database could not be reached"
            } else {
                "the database refused a change"
            },
        }
    }
}

async fn steps(
    state: &AppState,
    row: &mut tenant::Model,
    admin: &AdminSeed,
) -> Result<(), Failure> {
    let platform = state.db.clone();
    tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value("provisioning"))
        .col_expr(
            tenant::Column::Provisioning,
            Expr::value(row.provisioning.clone()),
        )
        .filter(tenant::Column::Id.eq(row.id))
        .exec(&platform)
        .await
        .map_err(failed("start"))?;
    let done = steps_done(row);
    let has = |step: &str| done.iter().any(|s| s == step);
    let schema = row.schema_name();
    if !has("schema") {
        if platform.get_database_backend() == sea_orm::DbBackend::Postgres {
            // The name is `tenant_<digits>` (checked again by connect_tenant).
            platform
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(failed("schema"))?;
        }
        state.tenants.open(row.id).await.map_err(failed("schema"))?;
        mark(&platform, row, "schema")
            .await
            .map_err(failed("schema"))?;
    }
    let db = state
        .tenants
        .open(row.id)
        .await
        .map_err(failed("migrations"))?;
    if !has("migrations") {
        super::migrate::tenant(&db)
            .await
            .map_err(failed("migrations"))?;
        mark(&platform, row, "migrations")
            .await
            .map_err(failed("migrations"))?;
    }
    if !has("roles") {
        seed_roles(&db).await.map_err(failed("roles"))?;
        mark(&platform, row, "roles")
            .await
            .map_err(failed("roles"))?;
    }
    let key: std::sync::Arc<str> = std::sync::Arc::from(row.id.to_string());
    if !has("admin") {
        kernel::db::in_tenant(key.clone(), first_admin(state, &db, row, admin))
            .await
            .map_err(failed("admin"))?;
        if let Value::Object(p) = &mut row.provisioning {
            p.remove("admin_seed");
        }
        mark(&platform, row, "admin")
            .await
            .map_err(failed("admin"))?;
    }
    if !has("storage") {
        super::files(state, &schema)
            .prepare(FOLDERS)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot create a storage folder");
                Failure {
                    step: "storage",
                    kind: "the storage folder could not be created",
                }
            })?;
        mark(&platform, row, "storage")
            .await
            .map_err(failed("storage"))?;
    }
    if !has("search") {
        search_tables(&db).await.map_err(failed("search"))?;
        mark(&platform, row, "search")
            .await
            .map_err(failed("search"))?;
    }
    // Activation: the welcome is queued in the tenant's database (once,
    // whatever retries happen), then the tenant turns active.
    welcome(state, &db, row).await.map_err(failed("activate"))?;
    let now = kernel::time::now();
    let mut done = steps_done(row);
    if !done.iter().any(|s| s == "activate") {
        done.push("activate".into());
    }
    row.provisioning["steps_done"] = json!(done);
    row.provisioning["last_error"] = Value::Null;
    tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value("active"))
        .col_expr(tenant::Column::ProvisionedAt, Expr::value(now))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            tenant::Column::Provisioning,
            Expr::value(row.provisioning.clone()),
        )
        .filter(tenant::Column::Id.eq(row.id))
        .filter(tenant::Column::Status.eq("provisioning"))
        .exec(&platform)
        .await
        .map_err(failed("activate"))?;
    row.status = "active".into();
    state.tenants.changed();
    state.wake.tenant(row.id);
    Ok(())
}

/// The permission catalogue and the five system roles (missing ones only).
pub async fn seed_roles(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let now = kernel::time::now();
    let have: std::collections::HashSet<String> = permission::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let missing: Vec<permission::ActiveModel> = rbac::catalogue()
        .into_iter()
        .filter(|(code, _)| !have.contains(code))
        .map(|(code, module)| {
            let (name, description) = rbac::describe(&code);
            permission::ActiveModel {
                code: Set(code),
                name: Set(name),
                description: Set(description),
                module: Set(module.to_owned()),
                created_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    for chunk in missing.chunks(100) {
        permission::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    for (name, description, codes) in rbac::system_roles() {
        let exists = role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .one(db)
            .await?;
        match exists {
            Some(existing) if name == rbac::TENANT_ADMIN => {
                // TenantAdmin holds every permission, new ones included.
                role::Entity::update_many()
                    .col_expr(role::Column::Permissions, Expr::value(json!(codes)))
                    .filter(role::Column::Id.eq(existing.id))
                    .exec(db)
                    .await?;
            }
            Some(_) => {}
            None => {
                role::ActiveModel {
                    name: Set(name.to_owned()),
                    description: Set(description.to_owned()),
                    permissions: Set(json!(codes)),
                    is_system_role: Set(true),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?;
            }
        }
    }
    Ok(())
}

async fn first_admin(
    state: &AppState,
    db: &DatabaseConnection,
    row: &tenant::Model,
    admin: &AdminSeed,
) -> Result<(), DbErr> {
    let exists = user::Entity::find()
        .filter(user::Column::Email.eq(row.admin_email.clone()))
        .one(db)
        .await?;
    if exists.is_some() {
        return Ok(());
    }
    let txn = kernel::db::begin_write(db).await?;
    let now = kernel::time::now();
    let invite = admin.password_hash.is_none();
    let created = user::ActiveModel {
        email: Set(row.admin_email.clone()),
        password: Set(admin
            .password_hash
            .clone()
            .unwrap_or_else(kernel::password::unusable)),
        first_name: Set(admin.first_name.clone()),
        last_name: Set(admin.last_name.clone()),
        phone: Set(row.admin_phone.clone()),
        avatar: Set(String::new()),
        roles: Set(json!([rbac::TENANT_ADMIN])),
        is_active: Set(true),
        is_staff: Set(true),
        is_superuser: Set(false),
        profile_data: Set(json!({})),
        preferences: Set(json!({})),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    crate::audit::Event::new(None, crate::audit::CREATE, "User", created.id)
        .changes(json!({"email": [null, created.email], "roles": [null, [rbac::TENANT_ADMIN]]}))
        .write(&*txn, &crate::audit::Trail::default())
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    if invite {
        let data = json!({
            "first_name": created.first_name,
            "tenant_name": row.name,
            "login_url": state.config.login_url_of(&row.subdomain),
            "set_password_for": created.id,
        });
        notify::queue(
            &*txn,
            Notice::new("welcome_email", "email", created.email.clone(), data).to_user(created.id),
        )
        .await?;
    }
    txn.commit().await
}

async fn welcome(
    state: &AppState,
    db: &DatabaseConnection,
    row: &tenant::Model,
) -> Result<(), DbErr> {
    let sent = notification::Entity::find()
        .filter(notification::Column::Template.eq("tenant_welcome"))
        .one(db)
        .await?
        .is_some();
    if sent {
        return Ok(());
    }
    let data = json!({
        "tenant_name": row.name,
        "subdomain": row.subdomain,
        "login_url": state.config.login_url_of(&row.subdomain),
    });
    let txn = kernel::db::begin_write(db).await?;
    notify::queue(
        &*txn,
        Notice::new("tenant_welcome", "email", row.admin_email.clone(), data),
    )
    .await?;
    txn.commit().await
}

/// The tenant's search index (contract §12): a full-text table in its own
/// schema or file.
async fn search_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let statements: &[&str] = match backend {
        sea_orm::DbBackend::Postgres => &[
            "CREATE TABLE IF NOT EXISTS search_documents (doc_type VARCHAR(30) NOT NULL, doc_id BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, document TSVECTOR GENERATED ALWAYS AS (setweight(to_tsvector('simple', coalesce(title, '')), 'A') || setweight(to_tsvector('simple', coalesce(body, '')), 'B')) STORED, PRIMARY KEY (doc_type, doc_id))",
            "CREATE INDEX IF NOT EXISTS ix_search_documents_document ON search_documents USING GIN (document)",
        ],
        _ => &[
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_documents USING fts5(doc_type UNINDEXED, doc_id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')",
        ],
    };
    for sql in statements {
        db.execute_raw(Statement::from_string(backend, (*sql).to_owned()))
            .await?;
    }
    Ok(())
}
