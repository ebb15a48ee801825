//! `roles/` and `permissions/` (contract §2): roles as data; nobody
//! creates or edits a role with a permission they do not hold.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{permission, role, user};
use crate::envelope::{Data, created, ok};
use crate::rbac::{self, Me};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(
            retrieve_role,
            update_role,
            partial_update_role,
            destroy_role
        ))
        .routes(routes!(list_permissions))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub is_system_role: bool,
    pub created_at: DateTime<Utc>,
}

impl RoleOut {
    fn of(r: &role::Model) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: r.codes(),
            is_system_role: r.is_system_role,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionOut {
    pub code: String,
    pub name: String,
    pub description: String,
    pub module: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RoleIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<50>, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    pub description: Field<String>,
    /// Permission codes of the catalogue.
    #[serde(default)]
    #[schema(schema_with = crate::schema::permissions, required = true)]
    pub permissions: Field<Vec<String>>,
}

/// The codes of `codes` the catalogue knows, sorted and unique, else 400.
async fn check_codes(
    db: &impl ConnectionTrait,
    me: &Me,
    codes: Vec<String>,
) -> ApiResult<Vec<String>> {
    let known: std::collections::HashSet<String> = permission::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let mut codes = codes;
    codes.sort();
    codes.dedup();
    if let Some(bad) = codes.iter().find(|c| !known.contains(*c)) {
        return Err(ApiError::field(
            "permissions",
            format!("Unknown permission \"{bad}\"."),
        ));
    }
    if let Some(missing) = codes.iter().find(|c| !me.can(c)) {
        return Err(ApiError::forbidden(format!(
            "You cannot grant \"{missing}\": you do not hold it."
        )));
    }
    Ok(codes)
}

/// The school's roles (`roles:read`).
#[utoipa::path(get, path = "/api/v1/roles/", tag = "roles",
    description = "Permission: `roles:read`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<RoleOut>))),
    security(("jwt" = [])))]
pub async fn list_roles(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, RoleOut>>> {
    me.require("roles:read")?;
    let query = list
        .search(role::Entity::find(), &[Expr::col(role::Column::Name)])
        .order_by_asc(role::Column::Id);
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
        .map(|r| RoleOut::of(&r)),
    ))
}

/// Adds a custom role (`roles:write`).
#[utoipa::path(post, path = "/api/v1/roles/", tag = "roles",
    description = "Permission: `roles:write`; only permissions the caller holds.",
    request_body = RoleIn,
    responses((status = 201, body = inline(Data<RoleOut>))),
    security(("jwt" = [])))]
pub async fn create_role(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<RoleIn>,
) -> ApiResult<(StatusCode, Data<RoleOut>)> {
    me.require("roles:write")?;
    let mut c = Checker::new();
    let name = c.text("name", body.name, 50);
    let description = c
        .optional_text("description", body.description, 1000)
        .flatten()
        .unwrap_or_default();
    let codes = c.value("permissions", body.permissions);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let codes = check_codes(&*txn, &me, codes.unwrap_or_default()).await?;
    let row = role::ActiveModel {
        name: Set(name.unwrap_or_default()),
        description: Set(description),
        permissions: Set(json!(codes)),
        is_system_role: Set(false),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "name") {
            ApiError::field("name", "A role with this name already exists.")
        } else {
            e.into()
        }
    })?;
    Event::new(Some(me.id()), CREATE, "Role", row.id)
        .created(&json!({"name": row.name, "description": row.description, "permissions": row.permissions}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(RoleOut::of(&row)))
}

async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<role::Model> {
    role::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One role (`roles:read`).
#[utoipa::path(get, path = "/api/v1/roles/{id}/", tag = "roles",
    description = "Permission: `roles:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<RoleOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_role(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<RoleOut>> {
    me.require("roles:read")?;
    Ok(ok(RoleOut::of(&find(&db, id).await?)))
}

async fn change_role(
    me: &Me,
    trail: &Trail,
    db: &sea_orm::DatabaseConnection,
    id: i64,
    body: RoleIn,
    partial: bool,
) -> ApiResult<role::Model> {
    me.require("roles:write")?;
    let mut c = Checker::partial(partial);
    let name = c.text("name", body.name, 50);
    let description = c.optional_text("description", body.description, 1000);
    let codes = if partial && body.permissions.is_absent() {
        None
    } else {
        c.value("permissions", body.permissions)
    };
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find(&*txn, id).await?;
    if before.is_system_role && name.as_ref().is_some_and(|n| *n != before.name) {
        return Err(ApiError::Conflict(
            "A system role cannot be renamed.".into(),
        ));
    }
    if before.name == rbac::TENANT_ADMIN && codes.is_some() {
        return Err(ApiError::Conflict(
            "TenantAdmin holds every permission; its list cannot be edited.".into(),
        ));
    }
    let mut row: role::ActiveModel = before.clone().into();
    if let Some(v) = name {
        row.name = Set(v);
    }
    if let Some(v) = description {
        row.description = Set(v.unwrap_or_default());
    }
    if let Some(codes) = codes {
        // Removing a code is also granting power over it: the caller must hold it.
        let removed: Vec<String> = before
            .codes()
            .into_iter()
            .filter(|c| !codes.contains(c))
            .collect();
        if let Some(missing) = removed.iter().find(|c| !me.can(c)) {
            return Err(ApiError::forbidden(format!(
                "You cannot revoke \"{missing}\": you do not hold it."
            )));
        }
        let codes = check_codes(&*txn, me, codes).await?;
        row.permissions = Set(json!(codes));
    }
    let after = row.update(&*txn).await.map_err(|e| {
        if kernel::error::is_unique_violation(&e, "name") {
            ApiError::field("name", "A role with this name already exists.")
        } else {
            e.into()
        }
    })?;
    if after.name != before.name {
        rename_in_users(&*txn, &before.name, &after.name).await?;
    }
    Event::new(Some(me.id()), UPDATE, "Role", id)
        .diff(
            &json!({"name": before.name, "description": before.description, "permissions": before.permissions}),
            &json!({"name": after.name, "description": after.description, "permissions": after.permissions}),
        )
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Users holding role `old` now hold it as `new`.
async fn rename_in_users(db: &impl ConnectionTrait, old: &str, new: &str) -> ApiResult<()> {
    for u in holders(db, old).await? {
        let roles: Vec<String> = u
            .role_names()
            .into_iter()
            .map(|r| if r == old { new.to_owned() } else { r })
            .collect();
        user::Entity::update_many()
            .col_expr(user::Column::Roles, Expr::value(json!(roles)))
            .filter(user::Column::Id.eq(u.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Users holding role `name`.
async fn holders(db: &impl ConnectionTrait, name: &str) -> ApiResult<Vec<user::Model>> {
    let rows = user::Entity::find()
        .filter(crate::users::may_hold(db.get_database_backend(), name))
        .all(db)
        .await?;
    Ok(rows.into_iter().filter(|u| u.has_role(name)).collect())
}

/// Replaces a role (`roles:write`).
#[utoipa::path(put, path = "/api/v1/roles/{id}/", tag = "roles",
    description = "Permission: `roles:write`. System roles keep their names (409); TenantAdmin's permissions are fixed (409).",
    params(("id" = i64, Path)), request_body = RoleIn,
    responses((status = 200, body = inline(Data<RoleOut>))),
    security(("jwt" = [])))]
pub async fn update_role(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<RoleIn>,
) -> ApiResult<Data<RoleOut>> {
    Ok(ok(RoleOut::of(
        &change_role(&me, &trail, &db, id, body, false).await?,
    )))
}

/// Changes a role (`roles:write`).
#[utoipa::path(patch, path = "/api/v1/roles/{id}/", tag = "roles",
    description = "Permission: `roles:write`. System roles keep their names (409); TenantAdmin's permissions are fixed (409).",
    params(("id" = i64, Path)), request_body = RoleIn,
    responses((status = 200, body = inline(Data<RoleOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_role(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<RoleIn>,
) -> ApiResult<Data<RoleOut>> {
    Ok(ok(RoleOut::of(
        &change_role(&me, &trail, &db, id, body, true).await?,
    )))
}

/// Deletes a custom role nobody holds (`roles:delete`; else 409).
#[utoipa::path(delete, path = "/api/v1/roles/{id}/", tag = "roles",
    description = "Permission: `roles:delete`. System roles and roles in use are kept (409).",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_role(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require("roles:delete")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find(&*txn, id).await?;
    if before.is_system_role {
        return Err(ApiError::Conflict(
            "A system role cannot be deleted.".into(),
        ));
    }
    if !holders(&*txn, &before.name).await?.is_empty() {
        return Err(ApiError::Conflict(
            "This role is held by users; take it from them first.".into(),
        ));
    }
    role::Entity::delete_by_id(id).exec(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Role", id)
        .deleted(&json!({"name": before.name, "permissions": before.permissions}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The whole permission catalogue, unpaginated.
#[utoipa::path(get, path = "/api/v1/permissions/", tag = "roles",
    description = "Any member of the school.",
    responses((status = 200, body = inline(Data<Vec<PermissionOut>>))),
    security(("jwt" = [])))]
pub async fn list_permissions(
    _me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<Vec<PermissionOut>>> {
    let rows = permission::Entity::find()
        .order_by_asc(permission::Column::Code)
        .all(&db)
        .await?;
    Ok(ok(rows
        .into_iter()
        .map(|p| PermissionOut {
            code: p.code,
            name: p.name,
            description: p.description,
            module: p.module,
        })
        .collect()))
}
