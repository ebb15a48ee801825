//! `users/` (contract §2): a school's accounts, their roles and activity;
//! and [`new_account`], which every "created with its user" resource (ERP
//! students, parents, teachers, staff; admissions' enrolment) goes through.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    PaginatorTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{role, tenant, user};
use crate::envelope::{Data, created, ok};
use crate::notify::{self, Notice};
use crate::rbac::{self, Me};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(
            retrieve_user,
            update_user,
            partial_update_user,
            destroy_user
        ))
        .routes(routes!(activate_user))
}

/// A user as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub phone: String,
    pub avatar: String,
    pub roles: Vec<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    #[schema(value_type = Object)]
    pub profile_data: Value,
    #[schema(value_type = Object)]
    pub preferences: Value,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserOut {
    pub fn of(u: &user::Model) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            full_name: u.full_name(),
            phone: u.phone.clone(),
            avatar: u.avatar.clone(),
            roles: u.role_names(),
            is_active: u.is_active,
            is_staff: u.is_staff,
            is_superuser: u.is_superuser,
            profile_data: u.profile_data.clone(),
            preferences: u.preferences.clone(),
            last_login: u.last_login,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The short user nested in people resources (students, parents, teachers, staff).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBrief {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub is_active: bool,
}

impl UserBrief {
    pub fn of(u: &user::Model) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            phone: u.phone.clone(),
            is_active: u.is_active,
        }
    }
}

/// What audit rows keep of a user (no password, no token epoch).
pub fn snapshot(u: &user::Model) -> Value {
    json!({
        "email": u.email, "first_name": u.first_name, "last_name": u.last_name, "phone": u.phone,
        "avatar": u.avatar, "roles": u.roles, "is_active": u.is_active,
        "profile_data": u.profile_data, "preferences": u.preferences,
    })
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    /// Without one the user is invited to set it (`welcome_email`).
    pub password: Option<String>,
    pub roles: Vec<String>,
    pub is_active: bool,
}

/// The account fields of a create body, checked into `c` (email required
/// and normalised, names required ≤100, phone ≤20, password validated).
pub fn check_account(
    c: &mut Checker,
    email: Field<String>,
    first_name: Field<String>,
    last_name: Field<String>,
    phone: Field<String>,
    password: Field<String>,
) -> NewAccount {
    let email = c.email("email", email);
    let first_name = c.text("first_name", first_name, 100);
    let last_name = c.text("last_name", last_name, 100);
    let phone = c.optional_text("phone", phone, 20).flatten();
    let password = c.nullable(password).flatten();
    if let Some(p) = &password {
        for problem in kernel::password::validate(
            p,
            &[
                ("email address", email.as_deref().unwrap_or_default()),
                ("first name", first_name.as_deref().unwrap_or_default()),
                ("last name", last_name.as_deref().unwrap_or_default()),
            ],
        ) {
            c.error("password", problem);
        }
    }
    NewAccount {
        email: email.unwrap_or_default(),
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        password,
        roles: Vec::new(),
        is_active: true,
    }
}

/// Refuses a new active user past the plan's `max_users` (403 `ERR_TENANT_03`).
pub async fn check_seat(db: &impl ConnectionTrait, tenant: &tenant::Model) -> ApiResult<()> {
    let active = user::Entity::find()
        .filter(user::Column::IsActive.eq(true))
        .count(db)
        .await?;
    if active >= u64::try_from(tenant.max_users).unwrap_or(0) {
        return Err(crate::envelope::plan_limit(
            "The school's plan allows no more users.",
        ));
    }
    Ok(())
}

/// Creates an account in `txn` (the caller's transaction): refuses a taken
/// email (400 `details.email`), unknown roles (400 `details.roles`) and a
/// user past the plan's limit; invites a user without a password; writes
/// the audit row. The caller wakes the job runner after commit.
pub async fn new_account(
    state: &AppState,
    txn: &impl ConnectionTrait,
    tenant: &tenant::Model,
    actor: Option<i64>,
    trail: &Trail,
    account: NewAccount,
) -> ApiResult<user::Model> {
    if account.is_active {
        check_seat(txn, tenant).await?;
    }
    let taken = user::Entity::find()
        .filter(user::Column::Email.eq(account.email.clone()))
        .count(txn)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "email",
            "A user with this email already exists.",
        ));
    }
    known_roles(txn, &account.roles).await?;
    let hash = match &account.password {
        Some(p) => state.hasher.make(p).await?,
        None => kernel::password::unusable(),
    };
    let now = kernel::time::now();
    let row = user::ActiveModel {
        email: Set(account.email.clone()),
        password: Set(hash),
        first_name: Set(account.first_name),
        last_name: Set(account.last_name),
        phone: Set(account.phone),
        avatar: Set(String::new()),
        roles: Set(json!(account.roles)),
        is_active: Set(account.is_active),
        is_staff: Set(account
            .roles
            .iter()
            .any(|r| r == rbac::TENANT_ADMIN || r == rbac::STAFF)),
        is_superuser: Set(false),
        profile_data: Set(json!({})),
        preferences: Set(json!({})),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "email") {
            ApiError::field("email", "A user with this email already exists.")
        } else {
            e.into()
        }
    })?;
    Event::new(actor, CREATE, "User", row.id)
        .created(&snapshot(&row))
        .write(txn, trail)
        .await?;
    if account.password.is_none() && row.is_active {
        let data = json!({
            "first_name": row.first_name,
            "tenant_name": tenant.name,
            "login_url": state.config.login_url_of(&tenant.subdomain),
            "set_password_for": row.id,
        });
        notify::queue(
            txn,
            Notice::new("welcome_email", "email", row.email.clone(), data).to_user(row.id),
        )
        .await?;
    }
    Ok(row)
}

/// Every name in `roles` is a role of the school, else 400 `details.roles`.
pub async fn known_roles(
    db: &impl ConnectionTrait,
    roles: &[String],
) -> ApiResult<Vec<role::Model>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let found = role::Entity::find()
        .filter(role::Column::Name.is_in(roles.iter().cloned()))
        .all(db)
        .await?;
    if let Some(unknown) = roles.iter().find(|r| !found.iter().any(|f| &f.name == *r)) {
        return Err(ApiError::field(
            "roles",
            format!("Unknown role \"{unknown}\"."),
        ));
    }
    Ok(found)
}

/// Nobody grants a role carrying a permission they do not hold (403).
pub fn may_grant(me: &Me, roles: &[role::Model]) -> ApiResult<()> {
    for r in roles {
        if let Some(code) = r.codes().iter().find(|c| !me.can(c)) {
            return Err(ApiError::forbidden(format!(
                "You cannot grant the role \"{}\": it holds \"{code}\", which you do not.",
                r.name
            )));
        }
    }
    Ok(())
}

/// Users whose roles may include `name` (a text match on the stored list;
/// callers confirm with [`user::Model::has_role`] where exactness matters).
pub fn may_hold(backend: sea_orm::DbBackend, name: &str) -> sea_orm::sea_query::SimpleExpr {
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "CAST(roles AS TEXT) LIKE $1"
    } else {
        "CAST(roles AS TEXT) LIKE ?"
    };
    Expr::cust_with_values(
        sql,
        [format!("%\"{}\"%", name.replace(['"', '%', '_', '\\'], ""))],
    )
}

/// Whether another active TenantAdmin than `except` remains.
pub async fn another_admin(db: &impl ConnectionTrait, except: i64) -> ApiResult<bool> {
    let admins = user::Entity::find()
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::Id.ne(except))
        .filter(may_hold(db.get_database_backend(), rbac::TENANT_ADMIN))
        .all(db)
        .await?;
    Ok(admins.iter().any(|u| u.has_role(rbac::TENANT_ADMIN)))
}

/// The school's users (`users:read`; filters `role`, `is_active`; search name and email).
#[utoipa::path(get, path = "/api/v1/users/", tag = "users",
    description = "Permission: `users:read`.",
    params(("role" = Option<String>, Query), ("is_active" = Option<bool>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<UserOut>))),
    security(("jwt" = [])))]
pub async fn list_users(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, UserOut>>> {
    me.require("users:read")?;
    let mut query = user::Entity::find();
    if let Some(active) = list.get("is_active") {
        let active = match active {
            "true" | "1" | "True" => true,
            "false" | "0" | "False" => false,
            _ => return Err(ApiError::field("is_active", "Must be a valid boolean.")),
        };
        query = query.filter(user::Column::IsActive.eq(active));
    }
    if let Some(role) = list.get("role") {
        query = query.filter(may_hold(db.get_database_backend(), role));
    }
    let query = list.search(
        query,
        &[
            Expr::col(user::Column::Email),
            Expr::col(user::Column::FirstName),
            Expr::col(user::Column::LastName),
        ],
    );
    let query = list.order(
        query,
        &[
            ("email", user::Column::Email.into_simple_expr()),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("created_at", user::Column::CreatedAt.into_simple_expr()),
            ("id", user::Column::Id.into_simple_expr()),
        ],
        &[("id", sea_orm::Order::Asc)],
        user::Column::Id,
    );
    Ok(Json(
        list.page(
            &db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(|u| UserOut::of(&u)),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    /// Without one the user is invited to set it.
    #[serde(default)]
    #[schema(schema_with = crate::schema::optional_password)]
    pub password: Field<String>,
    /// Role names of the school.
    #[serde(default)]
    #[schema(schema_with = crate::schema::role_names)]
    pub roles: Field<Vec<String>>,
}

/// Adds a user (`users:write`); counts against the plan's `max_users`.
#[utoipa::path(post, path = "/api/v1/users/", tag = "users",
    description = "Permission: `users:write`. Granting a role needs every permission it holds.",
    request_body = UserIn,
    responses((status = 201, body = inline(Data<UserOut>))),
    security(("jwt" = [])))]
pub async fn create_user(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Json(body): Json<UserIn>,
) -> ApiResult<(StatusCode, Data<UserOut>)> {
    me.require("users:write")?;
    let mut c = Checker::new();
    let mut account = check_account(
        &mut c,
        body.email,
        body.first_name,
        body.last_name,
        body.phone,
        body.password,
    );
    let roles = if body.roles.is_absent() {
        Vec::new()
    } else {
        c.value("roles", body.roles).unwrap_or_default()
    };
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let granted = known_roles(&*txn, &roles).await?;
    may_grant(&me, &granted)?;
    account.roles = roles;
    let row = new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(UserOut::of(&row)))
}

async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One user (`users:read`).
#[utoipa::path(get, path = "/api/v1/users/{id}/", tag = "users",
    description = "Permission: `users:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<UserOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_user(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<UserOut>> {
    if id != me.id() {
        me.require("users:read")?;
    }
    Ok(ok(UserOut::of(&find(&db, id).await?)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserPatch {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<500>)]
    pub avatar: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::role_names)]
    pub roles: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub profile_data: Field<Value>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::object)]
    pub preferences: Field<Value>,
}

/// Applies a user change; `partial` is PATCH.
async fn change_user(
    me: &Me,
    db: &sea_orm::DatabaseConnection,
    tenant: &tenant::Model,
    trail: &Trail,
    id: i64,
    body: UserPatch,
    partial: bool,
) -> ApiResult<user::Model> {
    me.require("users:write")?;
    let mut c = Checker::partial(partial);
    let first = c.text("first_name", body.first_name, 100);
    let last = c.text("last_name", body.last_name, 100);
    let phone = c.optional_text("phone", body.phone, 20);
    let avatar = c.optional_text("avatar", body.avatar, 500);
    let roles = if body.roles.is_absent() {
        None
    } else {
        c.value("roles", body.roles)
    };
    let active = if body.is_active.is_absent() {
        None
    } else {
        c.boolean("is_active", body.is_active, true)
    };
    let mut objects = Vec::new();
    for (name, field) in [
        ("profile_data", body.profile_data),
        ("preferences", body.preferences),
    ] {
        if field.is_absent() {
            objects.push(None);
            continue;
        }
        let value = c.value(name, field);
        if value.as_ref().is_some_and(|v| !v.is_object()) {
            c.error(name, "Expected an object.");
        }
        objects.push(value);
    }
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find(&*txn, id).await?;
    let mut row: user::ActiveModel = before.clone().into();
    if let Some(v) = first {
        row.first_name = Set(v);
    }
    if let Some(v) = last {
        row.last_name = Set(v);
    }
    if let Some(v) = phone {
        row.phone = Set(v.unwrap_or_default());
    }
    if let Some(v) = avatar {
        row.avatar = Set(v.unwrap_or_default());
    }
    if let Some(Some(v)) = objects.first().cloned() {
        row.profile_data = Set(v);
    }
    if let Some(Some(v)) = objects.get(1).cloned() {
        row.preferences = Set(v);
    }
    let mut ends_tokens = false;
    if let Some(roles) = roles {
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        let granted = known_roles(&*txn, &roles).await?;
        let old = before.role_names();
        let added: Vec<_> = granted
            .into_iter()
            .filter(|r| !old.contains(&r.name))
            .collect();
        may_grant(me, &added)?;
        let removed: Vec<String> = old.iter().filter(|r| !roles.contains(r)).cloned().collect();
        if !removed.is_empty() {
            // Taking a role away needs the permissions it carries too.
            let taken = known_roles(&*txn, &removed).await.unwrap_or_default();
            may_grant(me, &taken)?;
        }
        if removed.iter().any(|r| r == rbac::TENANT_ADMIN) && !another_admin(&*txn, id).await? {
            return Err(ApiError::Conflict(
                "The last active TenantAdmin cannot lose the role.".into(),
            ));
        }
        ends_tokens |= !removed.is_empty();
        row.is_staff = Set(roles
            .iter()
            .any(|r| r == rbac::TENANT_ADMIN || r == rbac::STAFF));
        row.roles = Set(json!(roles));
    }
    if let Some(active) = active
        && active != before.is_active
    {
        if active {
            check_seat(&*txn, tenant).await?;
        } else {
            if id == me.id() {
                return Err(ApiError::Conflict("You cannot deactivate yourself.".into()));
            }
            if before.has_role(rbac::TENANT_ADMIN) && !another_admin(&*txn, id).await? {
                return Err(ApiError::Conflict(
                    "The last active TenantAdmin cannot be deactivated.".into(),
                ));
            }
            ends_tokens = true;
        }
        row.is_active = Set(active);
    }
    if ends_tokens {
        row.token_epoch = Set(before.token_epoch + 1);
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "User", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a user's names and phone (`users:write`).
#[utoipa::path(put, path = "/api/v1/users/{id}/", tag = "users",
    description = "Permission: `users:write`.",
    params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = inline(Data<UserOut>))),
    security(("jwt" = [])))]
pub async fn update_user(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    CurrentTenant(tenant): CurrentTenant,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<UserPatch>,
) -> ApiResult<Data<UserOut>> {
    let row = change_user(&me, &db, &tenant, &trail, id, body, false).await?;
    Ok(ok(UserOut::of(&row)))
}

/// Changes a user: names, phone, avatar, roles, activity (`users:write`).
#[utoipa::path(patch, path = "/api/v1/users/{id}/", tag = "users",
    description = "Permission: `users:write`. The last active TenantAdmin keeps the role and stays active (409).",
    params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = inline(Data<UserOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_user(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    CurrentTenant(tenant): CurrentTenant,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<UserPatch>,
) -> ApiResult<Data<UserOut>> {
    let row = change_user(&me, &db, &tenant, &trail, id, body, true).await?;
    Ok(ok(UserOut::of(&row)))
}

/// Deactivates a user (`users:delete`; ends their tokens).
#[utoipa::path(delete, path = "/api/v1/users/{id}/", tag = "users",
    description = "Permission: `users:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_user(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require("users:delete")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find(&*txn, id).await?;
    if id == me.id() {
        return Err(ApiError::Conflict("You cannot deactivate yourself.".into()));
    }
    if before.has_role(rbac::TENANT_ADMIN) && before.is_active && !another_admin(&*txn, id).await? {
        return Err(ApiError::Conflict(
            "The last active TenantAdmin cannot be deactivated.".into(),
        ));
    }
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .col_expr(
            user::Column::TokenEpoch,
            Expr::value(before.token_epoch + 1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(user::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    Event::new(Some(me.id()), DELETE, "User", id)
        .changes(json!({"is_active": [before.is_active, false]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-activates a user (`users:write`; counts against `max_users`).
#[utoipa::path(post, path = "/api/v1/users/{id}/activate/", tag = "users",
    description = "Permission: `users:write`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<UserOut>))),
    security(("jwt" = [])))]
pub async fn activate_user(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    CurrentTenant(tenant): CurrentTenant,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<UserOut>> {
    me.require("users:write")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find(&*txn, id).await?;
    if !before.is_active {
        check_seat(&*txn, &tenant).await?;
    }
    let mut row: user::ActiveModel = before.clone().into();
    row.is_active = Set(true);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "User", id)
        .changes(json!({"is_active": [before.is_active, true]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(ok(UserOut::of(&after)))
}

/// Every field error of `problems` under `field`.
pub fn field_errors(field: &str, problems: Vec<String>) -> ApiResult<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let mut errors = FieldErrors::new();
    for p in problems {
        errors.add(field, p);
    }
    Err(ApiError::Validation(errors))
}
