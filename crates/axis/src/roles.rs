//! Roles, permissions and client access (axis contract §2): `roles/` and
//! `permissions/` (read by administrators and managers), `user-clients/`
//! (read by administrators and managers, granted and revoked by
//! administrators; a revoked grant ends at the next request).

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{AdminOnly, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, permission, role, role_permission, user, user_client};
use crate::rest::{self, List, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles))
        .routes(routes!(get_role))
        .routes(routes!(list_permissions))
        .routes(routes!(list_user_clients, create_user_client))
        .routes(routes!(get_user_client, delete_user_client))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The permission names the role holds.
    pub permissions: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

async fn render_roles(
    db: &impl ConnectionTrait,
    roles: Vec<role::Model>,
) -> ApiResult<Vec<RoleOut>> {
    let links = role_permission::Entity::find()
        .filter(role_permission::Column::RoleId.is_in(roles.iter().map(|r| r.id.clone())))
        .all(db)
        .await?;
    let names: HashMap<String, String> = permission::Entity::find()
        .filter(permission::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    Ok(roles
        .into_iter()
        .map(|r| {
            let mut permissions: Vec<String> = links
                .iter()
                .filter(|l| l.role_id == r.id)
                .filter_map(|l| names.get(&l.permission_id).cloned())
                .collect();
            permissions.sort();
            RoleOut {
                id: r.id,
                name: r.name,
                description: r.description,
                permissions,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// The roles (administrators and managers).
#[utoipa::path(get, path = "/api/roles/", tag = "access", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = Page<RoleOut>)))]
pub async fn list_roles(Db(db): Db, _: Platform, list: List) -> ApiResult<Json<Page<RoleOut>>> {
    let query = role::Entity::find().filter(role::Column::DeletedAt.is_null());
    let query = list.search(query, &[Expr::col(role::Column::Name)]);
    let query = list.order(
        query,
        &[("name", Expr::col(role::Column::Name))],
        &[("name", sea_orm::Order::Asc)],
        role::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render_roles(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

/// One role.
#[utoipa::path(get, path = "/api/roles/{id}/", tag = "access", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = RoleOut)))]
pub async fn get_role(Db(db): Db, _: Platform, Path(id): Path<String>) -> ApiResult<Json<RoleOut>> {
    let id = rest::path_id(&id, "Role")?;
    let role = role::Entity::find_by_id(id)
        .filter(role::Column::DeletedAt.is_null())
        .one(&db)
        .await?
        .ok_or_else(|| rest::not_found("Role"))?;
    let mut out = render_roles(&db, vec![role]).await?;
    out.pop().map(Json).ok_or_else(|| rest::not_found("Role"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The permissions (administrators and managers).
#[utoipa::path(get, path = "/api/permissions/", tag = "access", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, body = Page<PermissionOut>)))]
pub async fn list_permissions(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Page<PermissionOut>>> {
    let query = permission::Entity::find().filter(permission::Column::DeletedAt.is_null());
    let query = list.order(
        query,
        &[("name", Expr::col(permission::Column::Name))],
        &[("name", sea_orm::Order::Asc)],
        permission::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    Ok(Json(page.map(|p| PermissionOut {
        id: p.id,
        name: p.name,
        description: p.description,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserClientOut {
    pub id: String,
    pub user_id: String,
    pub user_email: Option<String>,
    pub client_id: String,
    pub client_name: Option<String>,
    pub granted_at: chrono::DateTime<chrono::Utc>,
    pub granted_by: Option<String>,
    pub granted_by_email: Option<String>,
    pub notes: Option<String>,
}

async fn render_grants(
    db: &impl ConnectionTrait,
    rows: Vec<user_client::Model>,
) -> ApiResult<Vec<UserClientOut>> {
    let user_ids: Vec<String> = rows
        .iter()
        .flat_map(|r| [Some(r.user_id.clone()), r.granted_by.clone()])
        .flatten()
        .collect();
    let emails: HashMap<String, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let names: HashMap<String, String> = client::Entity::find()
        .filter(client::Column::Id.is_in(rows.iter().map(|r| r.client_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| UserClientOut {
            user_email: emails.get(&r.user_id).cloned(),
            client_name: names.get(&r.client_id).cloned(),
            granted_by_email: r.granted_by.as_ref().and_then(|g| emails.get(g).cloned()),
            id: r.id,
            user_id: r.user_id,
            client_id: r.client_id,
            granted_at: r.granted_at,
            granted_by: r.granted_by,
            notes: r.notes,
        })
        .collect())
}

/// Client grants (administrators and managers); filters `user_id`, `client_id`.
#[utoipa::path(get, path = "/api/user-clients/", tag = "access", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("user_id" = Option<String>, Query), ("client_id" = Option<String>, Query)),
    responses((status = 200, body = Page<UserClientOut>)))]
pub async fn list_user_clients(
    Db(db): Db,
    _: Platform,
    list: List,
) -> ApiResult<Json<Page<UserClientOut>>> {
    let mut query = user_client::Entity::find().filter(user_client::Column::DeletedAt.is_null());
    if let Some(id) = list.get("user_id") {
        query = query.filter(user_client::Column::UserId.eq(id.trim()));
    }
    if let Some(id) = list.get("client_id") {
        query = query.filter(user_client::Column::ClientId.eq(id.trim()));
    }
    let query = list.order(
        query,
        &[("granted_at", Expr::col(user_client::Column::GrantedAt))],
        &[("granted_at", sea_orm::Order::Desc)],
        user_client::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render_grants(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserClientIn {
    /// A live user's id (alias `user`).
    #[serde(default, alias = "user")]
    #[schema(schema_with = kernel::form::schema::text::<64>, required = true)]
    user_id: Field<String>,
    /// A live client's id (alias `client`).
    #[serde(default, alias = "client")]
    #[schema(schema_with = kernel::form::schema::text::<64>, required = true)]
    client_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<2000>)]
    notes: Field<String>,
}

const DUPLICATE: &str = "This user already has access to this client";

/// Grants a user a client (administrators).
#[utoipa::path(post, path = "/api/user-clients/", tag = "access", security(("jwt" = [])),
    request_body = UserClientIn, responses((status = 201, body = UserClientOut)))]
pub async fn create_user_client(
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Json(input): Json<UserClientIn>,
) -> ApiResult<(StatusCode, Json<UserClientOut>)> {
    let mut c = Checker::new();
    let user_id = c.text("user_id", input.user_id, 64);
    let client_id = c.text("client_id", input.client_id, 64);
    let notes = c.optional_text("notes", input.notes, 2000).flatten();
    if let Some(id) = &user_id {
        let found = user::Entity::find_by_id(id.clone())
            .filter(user::Column::DeletedAt.is_null())
            .one(&db)
            .await?;
        if found.is_none() {
            c.error("user_id", rest::invalid_pk_message(id));
        }
    }
    if let Some(id) = &client_id {
        let found = client::Entity::find_by_id(id.clone())
            .filter(client::Column::DeletedAt.is_null())
            .one(&db)
            .await?;
        if found.is_none() {
            c.error("client_id", rest::invalid_pk_message(id));
        }
    }
    c.finish()?;
    let (user_id, client_id) = (user_id.unwrap_or_default(), client_id.unwrap_or_default());
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let row = user_client::ActiveModel {
        id: Set(kernel::cuid::new()),
        user_id: Set(user_id),
        client_id: Set(client_id),
        granted_at: Set(now),
        granted_by: Set(Some(me.user.id.clone())),
        notes: Set(notes),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if rest::is_unique(&e) {
            ApiError::non_field(DUPLICATE)
        } else {
            e.into()
        }
    })?;
    let event = Event::new("Create", "UserClient", &row.id)
        .status(201)
        .change(Change::created(&row));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_grants(&txn, vec![row]).await?;
    txn.commit().await?;
    out.into_iter()
        .next()
        .map(|o| (StatusCode::CREATED, Json(o)))
        .ok_or_else(|| rest::not_found("User client"))
}

async fn live_grant(db: &impl ConnectionTrait, id: &str) -> ApiResult<user_client::Model> {
    let id = rest::path_id(id, "User client")?;
    user_client::Entity::find_by_id(id)
        .filter(user_client::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found("User client"))
}

/// One grant.
#[utoipa::path(get, path = "/api/user-clients/{id}/", tag = "access", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserClientOut)))]
pub async fn get_user_client(
    Db(db): Db,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<UserClientOut>> {
    let row = live_grant(&db, &id).await?;
    let out = render_grants(&db, vec![row]).await?;
    out.into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| rest::not_found("User client"))
}

/// Revokes a grant (administrators); it ends at the user's next request.
#[utoipa::path(delete, path = "/api/user-clients/{id}/", tag = "access", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_user_client(
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = live_grant(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<user_client::Entity>(&txn, &me, &before.id, audit::snapshot(&before))
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
