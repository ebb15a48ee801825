//! `platform/users/`: platform administrators, and `campus createsuperuser oryne`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::system::NewSuperuser;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PlatformAdmin;
use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::platform_user;
use crate::envelope::{Data, created, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_platform_users, create_platform_user))
        .routes(routes!(
            retrieve_platform_user,
            update_platform_user,
            destroy_platform_user
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformUserOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub roles: Vec<String>,
    pub is_active: bool,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl PlatformUserOut {
    pub fn of(u: platform_user::Model) -> Self {
        Self {
            id: u.id,
            full_name: format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_owned(),
            roles: serde_json::from_value(u.roles).unwrap_or_default(),
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            is_active: u.is_active,
            last_login: u.last_login,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PlatformUserIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schema::password, required = true)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub last_name: Field<String>,
}

/// Creates an active PlatformAdmin (`createsuperuser` and the API).
async fn insert(
    state: &AppState,
    email: &str,
    password: &str,
    first: &str,
    last: &str,
) -> ApiResult<platform_user::Model> {
    let email = kernel::form::normalize_email(email)
        .ok_or_else(|| ApiError::field("email", "Enter a valid email address."))?;
    let problems = kernel::password::validate(password, &[("email address", email.as_str())]);
    if !problems.is_empty() {
        let mut errors = kernel::FieldErrors::new();
        for p in problems {
            errors.add("password", p);
        }
        return Err(ApiError::Validation(errors));
    }
    let taken = platform_user::Entity::find()
        .filter(platform_user::Column::Email.eq(email.clone()))
        .count(&state.db)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "email",
            "A platform user with this email already exists.",
        ));
    }
    let hash = state.hasher.make(password).await?;
    let now = kernel::time::now();
    platform_user::ActiveModel {
        email: Set(email),
        password: Set(hash),
        first_name: Set(first.to_owned()),
        last_name: Set(last.to_owned()),
        roles: Set(json!(["PlatformAdmin"])),
        is_active: Set(true),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "email") {
            ApiError::field("email", "A platform user with this email already exists.")
        } else {
            e.into()
        }
    })
}

/// `campus createsuperuser oryne`: a platform administrator.
pub async fn create_superuser(state: &AppState, account: &NewSuperuser) -> Result<(), String> {
    let (first, last) = account
        .full_name
        .trim()
        .split_once(' ')
        .unwrap_or((account.full_name.trim(), ""));
    insert(state, &account.email, &account.password, first, last.trim())
        .await
        .map(drop)
        .map_err(|e| {
            let report = e.report();
            match report.fields {
                Some(fields) => fields.to_json().to_string(),
                None => report.message,
            }
        })
}

/// Platform users.
#[utoipa::path(get, path = "/api/v1/platform/users/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<PlatformUserOut>))),
    security(("jwt" = [])))]
pub async fn list_platform_users(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, PlatformUserOut>>> {
    let query = list
        .search(
            platform_user::Entity::find(),
            &[
                Expr::col(platform_user::Column::Email),
                Expr::col(platform_user::Column::FirstName),
                Expr::col(platform_user::Column::LastName),
            ],
        )
        .order_by_asc(platform_user::Column::Id);
    Ok(Json(
        list.page(
            &state.db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(PlatformUserOut::of),
    ))
}

/// Adds a platform administrator.
#[utoipa::path(post, path = "/api/v1/platform/users/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    request_body = PlatformUserIn,
    responses((status = 201, body = inline(Data<PlatformUserOut>))),
    security(("jwt" = [])))]
pub async fn create_platform_user(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    Json(body): Json<PlatformUserIn>,
) -> ApiResult<(StatusCode, Data<PlatformUserOut>)> {
    let mut c = Checker::new();
    let email = c.email("email", body.email);
    let password = c.text("password", body.password, 128);
    let first = c
        .optional_text("first_name", body.first_name, 100)
        .flatten()
        .unwrap_or_default();
    let last = c
        .optional_text("last_name", body.last_name, 100)
        .flatten()
        .unwrap_or_default();
    c.finish()?;
    let row = insert(
        &state,
        &email.unwrap_or_default(),
        &password.unwrap_or_default(),
        &first,
        &last,
    )
    .await?;
    Event::new(Some(admin.id), CREATE, "PlatformUser", row.id)
        .changes(json!({"email": [null, row.email]}))
        .write_platform(&state.db, &trail)
        .await?;
    Ok(created(PlatformUserOut::of(row)))
}

async fn find(state: &AppState, id: i64) -> ApiResult<platform_user::Model> {
    platform_user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// One platform user.
#[utoipa::path(get, path = "/api/v1/platform/users/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<PlatformUserOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_platform_user(
    _admin: PlatformAdmin,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<PlatformUserOut>> {
    Ok(ok(PlatformUserOut::of(find(&state, id).await?)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PlatformUserPatch {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
}

/// Changes a platform user's names or activity (deactivation ends their tokens).
#[utoipa::path(patch, path = "/api/v1/platform/users/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context. Nobody deactivates themself (409).",
    params(("id" = i64, Path)), request_body = PlatformUserPatch,
    responses((status = 200, body = inline(Data<PlatformUserOut>))),
    security(("jwt" = [])))]
pub async fn update_platform_user(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<PlatformUserPatch>,
) -> ApiResult<Data<PlatformUserOut>> {
    let mut c = Checker::partial(true);
    let first = c.optional_text("first_name", body.first_name, 100);
    let last = c.optional_text("last_name", body.last_name, 100);
    let active = c.boolean("is_active", body.is_active, true);
    c.finish()?;
    let before = find(&state, id).await?;
    if active == Some(false) && id == admin.id {
        return Err(ApiError::Conflict("You cannot deactivate yourself.".into()));
    }
    let mut row: platform_user::ActiveModel = before.clone().into();
    if let Some(v) = first {
        row.first_name = Set(v.unwrap_or_default());
    }
    if let Some(v) = last {
        row.last_name = Set(v.unwrap_or_default());
    }
    if let Some(v) = active {
        row.is_active = Set(v);
        if !v && before.is_active {
            row.token_epoch = Set(before.token_epoch + 1);
        }
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&state.db).await?;
    Event::new(Some(admin.id), UPDATE, "PlatformUser", id)
        .diff(
            &json!({"first_name": before.first_name, "last_name": before.last_name, "is_active": before.is_active}),
            &json!({"first_name": after.first_name, "last_name": after.last_name, "is_active": after.is_active}),
        )
        .write_platform(&state.db, &trail)
        .await?;
    Ok(ok(PlatformUserOut::of(after)))
}

/// Deactivates a platform user (`204`).
#[utoipa::path(delete, path = "/api/v1/platform/users/{id}/", tag = "platform",
    description = "PlatformAdmin, platform context. Nobody deactivates themself (409).",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_platform_user(
    PlatformAdmin(admin): PlatformAdmin,
    trail: Trail,
    State(state): State<AppState>,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let before = find(&state, id).await?;
    if id == admin.id {
        return Err(ApiError::Conflict("You cannot deactivate yourself.".into()));
    }
    platform_user::Entity::update_many()
        .col_expr(platform_user::Column::IsActive, Expr::value(false))
        .col_expr(
            platform_user::Column::TokenEpoch,
            Expr::value(before.token_epoch + 1),
        )
        .filter(platform_user::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    Event::new(Some(admin.id), DELETE, "PlatformUser", id)
        .changes(json!({"is_active": [before.is_active, false]}))
        .write_platform(&state.db, &trail)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
