//! Users (axis contract §2): `users/` CRUD for administrators (managers
//! read), status actions with their history, `set-password/`, restore.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{AdminOnly, Me, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, profile, role, user, user_client, user_role};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

pub const STATUSES: Choices = Choices(&[
    "Active",
    "Inactive",
    "Suspended",
    "Pending Verification",
    "Banned",
]);
kernel::choices!(
    /// A user's status.
    pub UserStatus = STATUSES.0
);

pub const LANGUAGES: Choices = Choices(&["English", "Spanish", "French", "German", "Other"]);

const MODEL: &str = "User";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, put_user, patch_user, delete_user))
        .routes(routes!(activate_user))
        .routes(routes!(suspend_user))
        .routes(routes!(ban_user))
        .routes(routes!(deactivate_user))
        .routes(routes!(set_user_password))
        .routes(routes!(restore_user))
}

/// A user's profile as the user shape shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileOut {
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub image: Option<String>,
    pub bio: Option<String>,
}

/// The user shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub status: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub email_verified: Option<chrono::DateTime<chrono::Utc>>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
    pub roles: Vec<String>,
    pub client_ids: Vec<String>,
    pub profile: Option<ProfileOut>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What the audit trail keeps of a user (the hash and epoch redacted).
pub fn record(user: &user::Model) -> Value {
    audit::snapshot(user)
}

/// Role names per user id.
pub async fn roles_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> ApiResult<HashMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = user_role::Entity::find()
        .select_only()
        .column(user_role::Column::UserId)
        .column_as(role::Column::Name, "name")
        .join_rev(
            sea_orm::JoinType::InnerJoin,
            role::Entity::belongs_to(user_role::Entity)
                .from(role::Column::Id)
                .to(user_role::Column::RoleId)
                .into(),
        )
        .filter(user_role::Column::UserId.is_in(ids.to_vec()))
        .filter(role::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, name) in rows {
        by_user.entry(user_id).or_default().push(name);
    }
    for names in by_user.values_mut() {
        names.sort();
    }
    Ok(by_user)
}

/// The user shapes of `users`, with their roles, grants and profiles loaded
/// for all of them at once.
pub async fn render(db: &impl ConnectionTrait, users: Vec<user::Model>) -> ApiResult<Vec<UserOut>> {
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut roles = roles_of(db, &ids).await?;
    let grants: Vec<(String, String)> = user_client::Entity::find()
        .select_only()
        .column(user_client::Column::UserId)
        .column(user_client::Column::ClientId)
        .filter(user_client::Column::UserId.is_in(ids.clone()))
        .filter(user_client::Column::DeletedAt.is_null())
        .filter(
            user_client::Column::ClientId.in_subquery(
                Query::select()
                    .column(client::Column::Id)
                    .from(client::Entity)
                    .and_where(Expr::col(client::Column::DeletedAt).is_null())
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut clients: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, client_id) in grants {
        clients.entry(user_id).or_default().push(client_id);
    }
    let mut profiles: HashMap<String, profile::Model> = profile::Entity::find()
        .filter(profile::Column::UserId.is_in(ids))
        .filter(profile::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.user_id.clone().map(|id| (id, p)))
        .collect();
    Ok(users
        .into_iter()
        .map(|u| UserOut {
            full_name: u.full_name(),
            roles: roles.remove(&u.id).unwrap_or_default(),
            client_ids: clients.remove(&u.id).unwrap_or_default(),
            profile: profiles.remove(&u.id).map(|p| ProfileOut {
                full_name: p.full_name,
                email: p.email,
                phone: p.phone,
                image: p.image,
                bio: p.bio,
            }),
            id: u.id,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            status: u.status,
            is_active: u.is_active,
            is_staff: u.is_staff,
            is_superuser: u.is_superuser,
            email_verified: u.email_verified,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        })
        .collect())
}

pub async fn render_one(db: &impl ConnectionTrait, user: user::Model) -> ApiResult<UserOut> {
    render(db, vec![user])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

/// Django's password validators, as errors on `field`.
pub fn check_password(field: &str, password: &str, email: &str, name: &str) -> ApiResult<()> {
    let errors =
        kernel::password::validate(password, &[("email address", email), ("full name", name)]);
    if errors.is_empty() {
        return Ok(());
    }
    let mut all = kernel::FieldErrors::new();
    for error in errors {
        all.add(field, error);
    }
    Err(ApiError::Validation(all))
}

/// The live user `id`, else 404 `User not found`.
async fn live(db: &impl ConnectionTrait, id: &str) -> ApiResult<user::Model> {
    let id = rest::path_id(id, MODEL)?;
    user::Entity::find_by_id(id)
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

/// The users, a page at a time (administrators and managers).
#[utoipa::path(get, path = "/api/users/", tag = "users", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("status" = inline(Option<UserStatus>), Query), ("is_staff" = Option<bool>, Query), ("role" = Option<String>, Query)),
    responses((status = 200, body = Page<UserOut>)))]
pub async fn list_users(Db(db): Db, _: Platform, list: List) -> ApiResult<Json<Page<UserOut>>> {
    let mut query = user::Entity::find().filter(user::Column::DeletedAt.is_null());
    if let Some(raw) = list.get("status") {
        query = query.filter(user::Column::Status.eq(STATUSES.check("status", raw)?));
    }
    query = list.filter(
        query,
        "is_staff",
        user::Column::IsStaff,
        kernel::listing::FilterKind::Bool,
    )?;
    if let Some(name) = list.get("role") {
        query = query.filter(
            user::Column::Id.in_subquery(
                Query::select()
                    .column(user_role::Column::UserId)
                    .from(user_role::Entity)
                    .inner_join(
                        role::Entity,
                        Expr::col((role::Entity, role::Column::Id))
                            .equals((user_role::Entity, user_role::Column::RoleId)),
                    )
                    .and_where(Expr::col((role::Entity, role::Column::Name)).eq(name.trim()))
                    .to_owned(),
            ),
        );
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
            ("email", Expr::col(user::Column::Email)),
            ("created_at", Expr::col(user::Column::CreatedAt)),
            ("last_login_at", Expr::col(user::Column::LastLoginAt)),
            ("status", Expr::col(user::Column::Status)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        user::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserIn {
    /// Unique, case-insensitively.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    email: Field<String>,
    /// Optional (Microsoft-only accounts have none; blank or null is none);
    /// at least 8 characters once trimmed, at most 128, not too like the
    /// email, not a common password, not all digits.
    #[serde(default)]
    #[schema(schema_with = new_password)]
    password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<150>)]
    username: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    is_staff: Field<bool>,
    /// Default `Active`; also accepted in any case and as `PENDING_VERIFICATION`.
    #[serde(default)]
    #[schema(schema_with = status_schema)]
    status: Field<String>,
    /// Role names; replaces the user's roles (null: none).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    roles: Field<Vec<String>>,
    /// Blank or null clears it.
    #[serde(default)]
    #[schema(schema_with = language_schema)]
    preferred_language: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<64>)]
    timezone: Field<String>,
}

fn status_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(STATUSES.0)
}

fn language_schema() -> utoipa::openapi::Schema {
    kernel::form::schema::blank_or_null(kernel::form::schema::choice(LANGUAGES.0))
}

/// A password the user form sets: blank or null for none, else 8 to 128
/// characters once the whitespace around it is trimmed.
fn new_password() -> utoipa::openapi::Schema {
    use kernel::form::schema::{NOT_BLANK_PATTERN, blank_or_null};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let space =
        &kernel::form::schema::BLANK_PATTERN[1..kernel::form::schema::BLANK_PATTERN.len() - 2];
    let pattern =
        format!("^{space}*{NOT_BLANK_PATTERN}[\\s\\S]{{6,126}}{NOT_BLANK_PATTERN}{space}*$");
    blank_or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .write_only(true),
    )
}

/// The checked input of a create or update.
struct Checked {
    email: Option<String>,
    password: Option<Option<String>>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<Option<String>>,
    is_staff: Option<bool>,
    status: Option<&'static str>,
    roles: Option<Vec<String>>,
    preferred_language: Option<Option<&'static str>>,
    timezone: Option<Option<String>>,
}

async fn check(
    db: &impl ConnectionTrait,
    mut c: Checker,
    input: UserIn,
    current: Option<&user::Model>,
) -> ApiResult<Checked> {
    let email = c.email("email", input.email);
    let password = c.optional_text("password", input.password, 128);
    let first_name = c.blank_text("first_name", input.first_name, 150);
    let last_name = c.blank_text("last_name", input.last_name, 150);
    let username = c.optional_text("username", input.username, 150);
    let is_staff = c.boolean("is_staff", input.is_staff, false);
    let status = match input.status {
        Field::Value(raw) => match STATUSES.parse(&raw) {
            Some(s) => Some(s),
            None => {
                c.error("status", format!("\"{raw}\" is not a valid choice."));
                None
            }
        },
        Field::Null => {
            c.error("status", kernel::form::NOT_NULL);
            None
        }
        Field::Absent => current.is_none().then_some("Active"),
    };
    let preferred_language = match input.preferred_language {
        Field::Value(raw) if raw.trim().is_empty() => Some(None),
        Field::Value(raw) => match LANGUAGES.parse(&raw) {
            Some(l) => Some(Some(l)),
            None => {
                c.error(
                    "preferred_language",
                    format!("\"{raw}\" is not a valid choice."),
                );
                None
            }
        },
        Field::Null => Some(None),
        Field::Absent => None,
    };
    let timezone = c.optional_text("timezone", input.timezone, 64);
    let roles = match input.roles {
        Field::Value(names) => {
            let names: Vec<String> = names.iter().map(|n| n.trim().to_owned()).collect();
            let known: Vec<String> = role::Entity::find()
                .select_only()
                .column(role::Column::Name)
                .filter(role::Column::Name.is_in(names.clone()))
                .filter(role::Column::DeletedAt.is_null())
                .into_tuple()
                .all(db)
                .await?;
            for name in &names {
                if !known.contains(name) {
                    c.error("roles", format!("Role \"{name}\" does not exist."));
                }
            }
            let mut names = names;
            names.sort();
            names.dedup();
            Some(names)
        }
        Field::Null => Some(Vec::new()),
        Field::Absent => None,
    };
    if let (Some(Some(password)), false) = (&password, c.has_error("password")) {
        let email_for = email
            .as_deref()
            .or(current.map(|u| u.email.as_str()))
            .unwrap_or("");
        if let Err(ApiError::Validation(errors)) =
            check_password("password", password, email_for, "")
            && let serde_json::Value::Object(map) = errors.to_json()
        {
            for message in map.values().filter_map(Value::as_array).flatten() {
                c.error("password", message.as_str().unwrap_or_default());
            }
        }
    }
    if let Some(email) = &email {
        let taken = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .filter(user::Column::DeletedAt.is_null())
            .filter(match current {
                Some(u) => Condition::all().add(user::Column::Id.ne(u.id.as_str())),
                None => Condition::all(),
            })
            .one(db)
            .await?;
        if taken.is_some() {
            c.error("email", "A user with this email already exists.");
        }
    }
    c.finish()?;
    Ok(Checked {
        email,
        password,
        first_name,
        last_name,
        username,
        is_staff,
        status,
        roles,
        preferred_language,
        timezone,
    })
}

/// Whether a status lets its user sign in.
fn active_for(status: &str) -> bool {
    !user::DISABLED.contains(&status)
}

/// Replaces the roles of `user_id` with `names`.
async fn set_roles(db: &impl ConnectionTrait, user_id: &str, names: &[String]) -> ApiResult<()> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if names.is_empty() {
        return Ok(());
    }
    let roles = role::Entity::find()
        .filter(role::Column::Name.is_in(names.to_vec()))
        .filter(role::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let now = kernel::time::now();
    let rows = roles.into_iter().map(|r| user_role::ActiveModel {
        id: Set(kernel::cuid::new()),
        user_id: Set(user_id.to_owned()),
        role_id: Set(r.id),
        created_at: Set(now),
    });
    user_role::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// The unique-email race lost at commit: the same 400 as the check.
fn email_taken(error: sea_orm::DbErr) -> ApiError {
    if rest::is_unique(&error) {
        ApiError::field("email", "A user with this email already exists.")
    } else {
        error.into()
    }
}

/// Creates a user (administrators): password optional (Microsoft-only
/// accounts), `roles` by name.
#[utoipa::path(post, path = "/api/users/", tag = "users", security(("jwt" = [])), request_body = UserIn,
    responses((status = 201, body = UserOut)))]
pub async fn create_user(
    State(state): State<AppState>,
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Json(input): Json<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let checked = check(&db, Checker::new(), input, None).await?;
    let password = match checked.password.flatten() {
        Some(p) => state.hasher.make(&p).await?,
        None => kernel::password::unusable(),
    };
    let now = kernel::time::now();
    let status = checked.status.unwrap_or("Active");
    let txn = kernel::db::begin_write(&db).await?;
    let row = user::ActiveModel {
        id: Set(kernel::cuid::new()),
        email: Set(checked.email.unwrap_or_default()),
        username: Set(checked.username.flatten()),
        password: Set(password),
        first_name: Set(checked.first_name.unwrap_or_default()),
        last_name: Set(checked.last_name.unwrap_or_default()),
        status: Set(status.to_owned()),
        is_active: Set(active_for(status)),
        is_staff: Set(checked.is_staff.unwrap_or(false)),
        is_superuser: Set(false),
        email_verified: Set(None),
        last_login_at: Set(None),
        preferred_language: Set(checked.preferred_language.flatten().map(str::to_owned)),
        timezone: Set(checked.timezone.flatten()),
        metadata: Set(json!({})),
        token_epoch: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    };
    let created = row.insert(&txn).await.map_err(email_taken)?;
    if let Some(names) = &checked.roles {
        set_roles(&txn, &created.id, names).await?;
    }
    let mut snapshot = record(&created);
    snapshot["roles"] = json!(checked.roles.unwrap_or_default());
    let event = Event::new("Create", MODEL, &created.id)
        .status(201)
        .change(Change {
            change_type: "Create",
            reason: None,
            old: None,
            new: Some(snapshot),
        });
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, created).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// One user (administrators and managers).
#[utoipa::path(get, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserOut)))]
pub async fn get_user(Db(db): Db, _: Platform, Path(id): Path<String>) -> ApiResult<Json<UserOut>> {
    let user = live(&db, &id).await?;
    Ok(Json(render_one(&db, user).await?))
}

async fn update(
    state: &AppState,
    db: &kernel::Db,
    me: &Me,
    id: &str,
    input: UserIn,
    partial: bool,
) -> ApiResult<Json<UserOut>> {
    let current = live(&**db, id).await?;
    let checked = check(&**db, Checker::partial(partial), input, Some(&current)).await?;
    // As with the status actions, nobody changes their own status.
    if current.id == me.user.id && checked.status.is_some_and(|s| s != current.status) {
        return Err(rest::invalid_state("You cannot change your own status"));
    }
    let password = match checked.password.clone().flatten() {
        Some(p) => Some(state.hasher.make(&p).await?),
        None => None,
    };
    let txn = kernel::db::begin_write(db).await?;
    let before = user::Entity::find_by_id(current.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    let before_roles = roles_of(&txn, std::slice::from_ref(&before.id))
        .await?
        .remove(&before.id)
        .unwrap_or_default();
    let mut row: user::ActiveModel = before.clone().into();
    let mut end_tokens = false;
    if let Some(email) = checked.email {
        row.email = Set(email);
    }
    if let Some(hash) = password {
        row.password = Set(hash);
        end_tokens = true;
    }
    if let Some(v) = checked.first_name {
        row.first_name = Set(v);
    }
    if let Some(v) = checked.last_name {
        row.last_name = Set(v);
    }
    if let Some(v) = checked.username {
        row.username = Set(v);
    }
    if let Some(v) = checked.is_staff {
        row.is_staff = Set(v);
    }
    if let Some(v) = checked.preferred_language {
        row.preferred_language = Set(v.map(str::to_owned));
    }
    if let Some(v) = checked.timezone {
        row.timezone = Set(v);
    }
    if let Some(status) = checked.status
        && status != before.status
    {
        let mut metadata = before.metadata.clone();
        push_history(&mut metadata, &before.status, status, None);
        row.metadata = Set(metadata);
        row.status = Set(status.to_owned());
        row.is_active = Set(active_for(status));
        end_tokens |= before.status == "Active";
    }
    if end_tokens {
        row.token_epoch = Set(before.token_epoch + 1);
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await.map_err(email_taken)?;
    let mut after_roles = before_roles.clone();
    if let Some(names) = &checked.roles {
        set_roles(&txn, &after.id, names).await?;
        after_roles = names.clone();
    }
    let mut old = record(&before);
    old["roles"] = json!(before_roles);
    let mut new = record(&after);
    new["roles"] = json!(after_roles);
    let event = Event::new("Update", MODEL, &after.id).change(Change {
        change_type: "Update",
        reason: None,
        old: Some(old),
        new: Some(new),
    });
    audit::record(&txn, Who::from(me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replaces a user's fields (administrators).
#[utoipa::path(put, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = UserIn, responses((status = 200, body = UserOut)))]
pub async fn put_user(
    State(state): State<AppState>,
    db: Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
    Json(input): Json<UserIn>,
) -> ApiResult<Json<UserOut>> {
    update(&state, &db, &me, &id, input, false).await
}

/// Changes some of a user's fields (administrators).
#[utoipa::path(patch, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = UserIn, responses((status = 200, body = UserOut)))]
pub async fn patch_user(
    State(state): State<AppState>,
    db: Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
    Json(input): Json<UserIn>,
) -> ApiResult<Json<UserOut>> {
    update(&state, &db, &me, &id, input, true).await
}

/// Soft-deletes and deactivates a user (administrators; not yourself).
#[utoipa::path(delete, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_user(
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = live(&db, &id).await?;
    if before.id == me.user.id {
        return Err(rest::invalid_state("You cannot delete your own account"));
    }
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<user::Entity>(&txn, &me, &before.id, record(&before)).await?;
    // Deleted users are inactive, and their tokens end.
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .col_expr(
            user::Column::TokenEpoch,
            Expr::col(user::Column::TokenEpoch).add(1),
        )
        .filter(user::Column::Id.eq(before.id.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Appends `{from, to, reason, changed_at}` to `metadata.status_history`.
fn push_history(metadata: &mut Value, from: &str, to: &str, reason: Option<&str>) {
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let entry = json!({
        "from": from,
        "to": to,
        "reason": reason,
        "changed_at": kernel::time::iso(kernel::time::now()),
    });
    match metadata
        .get_mut("status_history")
        .and_then(Value::as_array_mut)
    {
        Some(history) => history.push(entry),
        None => metadata["status_history"] = json!([entry]),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReasonIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<500>)]
    pub reason: Field<String>,
}

/// Moves a user to `status`, with its history; leaving Active ends their
/// tokens.
async fn set_status(
    db: &kernel::Db,
    me: &Me,
    id: &str,
    status: &'static str,
    change_type: &'static str,
    input: ReasonIn,
) -> ApiResult<Json<UserOut>> {
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 500).flatten();
    c.finish()?;
    let current = live(&**db, id).await?;
    if current.id == me.user.id && status != "Active" {
        return Err(rest::invalid_state("You cannot change your own status"));
    }
    let txn = kernel::db::begin_write(db).await?;
    let before = user::Entity::find_by_id(current.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| rest::not_found(MODEL))?;
    // A restored user keeps their status but is inactive until activated.
    if before.status == status && before.is_active == active_for(status) {
        return Err(rest::invalid_state(format!("User is already {status}")));
    }
    let mut metadata = before.metadata.clone();
    push_history(&mut metadata, &before.status, status, reason.as_deref());
    let mut row: user::ActiveModel = before.clone().into();
    row.metadata = Set(metadata);
    row.status = Set(status.to_owned());
    row.is_active = Set(active_for(status));
    if before.status == "Active" && status != "Active" {
        row.token_epoch = Set(before.token_epoch + 1);
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let change = Change::action(change_type, &record(&before), &record(&after)).reason(reason);
    let event = Event::new("Update", MODEL, &after.id).change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

macro_rules! status_action {
    ($name:ident, $path:literal, $status:literal, $change:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "users", security(("jwt" = [])),
            params(("id" = String, Path)), request_body = ReasonIn, responses((status = 200, body = UserOut)))]
        pub async fn $name(
            db: Db,
            AdminOnly(me): AdminOnly,
            Path(id): Path<String>,
            Json(input): Json<ReasonIn>,
        ) -> ApiResult<Json<UserOut>> {
            set_status(&db, &me, &id, $status, $change, input).await
        }
    };
}

status_action!(
    activate_user,
    "/api/users/{id}/activate/",
    "Active",
    "Activate",
    "Activates a user."
);
status_action!(
    suspend_user,
    "/api/users/{id}/suspend/",
    "Suspended",
    "Deactivate",
    "Suspends a user; their tokens end."
);
status_action!(
    ban_user,
    "/api/users/{id}/ban/",
    "Banned",
    "Deactivate",
    "Bans a user; their tokens end."
);
status_action!(
    deactivate_user,
    "/api/users/{id}/deactivate/",
    "Inactive",
    "Deactivate",
    "Deactivates a user; their tokens end."
);

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SetPasswordIn {
    /// At least 8 characters; not too like the email or name, not a common
    /// password, not all digits.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    password: Field<String>,
}

/// Sets a user's password (administrators); their tokens end.
#[utoipa::path(post, path = "/api/users/{id}/set-password/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = SetPasswordIn, responses((status = 200, body = UserOut)))]
pub async fn set_user_password(
    State(state): State<AppState>,
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
    Json(input): Json<SetPasswordIn>,
) -> ApiResult<Json<UserOut>> {
    let current = live(&db, &id).await?;
    let mut c = Checker::new();
    let password = c.value("password", input.password);
    c.finish()?;
    let password = password.unwrap_or_default();
    check_password("password", &password, &current.email, &current.full_name())?;
    let hash = state.hasher.make(&password).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: user::ActiveModel = current.clone().into();
    row.password = Set(hash);
    row.token_epoch = Set(current.token_epoch + 1);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event = Event::new("Update", MODEL, &after.id)
        .change(Change::updated(&record(&current), &record(&after)));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Undeletes a user (administrators); they stay inactive until activated.
#[utoipa::path(post, path = "/api/users/{id}/restore/", tag = "users", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserOut)))]
pub async fn restore_user(
    Db(db): Db,
    AdminOnly(me): AdminOnly,
    Path(id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    let (txn, before, after) = rest::restore::<user::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = render_one(&txn, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
