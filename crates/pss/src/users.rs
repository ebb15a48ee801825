//! `/api/users/`: accounts. Administrators list, create and manage
//! candidates; every user reads and edits their own account; only
//! administrators change `role` or `is_active`, and only superusers create
//! administrators or grant the superuser role.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, FilterKind, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::profile;
use crate::entities::user::{self, Role};
use crate::original::Said;
use crate::principal::{CurrentUser, Staff};
use crate::profiles::ProfileOut;
use crate::state::AppState;

/// An account as every endpoint shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub is_active: bool,
    /// Administrators and superusers.
    pub is_staff: bool,
    pub is_superuser: bool,
    pub has_completed_intake: bool,
    pub date_joined: chrono::DateTime<Utc>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl UserOut {
    pub fn new(user: &user::Model, profile: Option<&profile::Model>) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            role: user.role,
            is_active: user.is_active,
            is_staff: user.role.is_staff(),
            is_superuser: user.role == Role::Superuser,
            has_completed_intake: profile.is_some_and(|p| p.has_completed_intake),
            date_joined: user.created_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// An account with its profile (decrypted).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetailOut {
    #[serde(flatten)]
    pub user: UserOut,
    pub profile: ProfileOut,
}

impl UserDetailOut {
    /// Renders `user` with its profile, loading the profile.
    pub async fn load<C: ConnectionTrait>(
        state: &AppState,
        db: &C,
        user: &user::Model,
    ) -> ApiResult<(Self, profile::Model)> {
        let profile = crate::profiles::profile_of(db, user.id).await?;
        Ok((
            Self {
                user: UserOut::new(user, Some(&profile)),
                profile: ProfileOut::open(&state.keys, &profile)?,
            },
            profile,
        ))
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(create_admin))
        .routes(routes!(create_candidate))
        .routes(routes!(auth_create_admin))
        .routes(routes!(auth_create_superuser))
        .routes(routes!(activate_user))
        .routes(routes!(deactivate_user))
        .routes(routes!(list_candidates))
        .routes(routes!(me))
        .routes(routes!(retrieve_user, update_user, partial_update_user))
}

/// The original's `/api/auth/me/`.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route("/api/auth/me/", axum::routing::get(me))
}

pub const EMAIL_TAKEN: &str = "User with this email already exists.";

pub(crate) async fn email_taken<C: ConnectionTrait>(
    db: &C,
    email: &str,
    except: Option<i64>,
) -> ApiResult<bool> {
    let mut query = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

/// Maps a unique-constraint race on `pss_users.email` to the field error the
/// up-front check gives.
pub(crate) fn user_conflict(error: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&error, "email") {
        ApiError::field("email", EMAIL_TAKEN)
    } else {
        error.into()
    }
}

/// A required email address, lower-cased, within the allowed domains.
pub(crate) fn check_email(
    c: &mut Checker,
    state: &AppState,
    field: Field<String>,
) -> Option<String> {
    let email = c.email("email", field)?;
    let domains = &state.allowed_email_domains;
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    if !domains.is_empty() && !domains.iter().any(|d| d == domain) {
        c.error(
            "email",
            format!("Email domain must be one of: {}", domains.join(", ")),
        );
        return None;
    }
    Some(email)
}

/// The password policy of the original: Django's validators with a minimum
/// of 12 characters, plus upper, lower, digit and symbol, and nothing of the
/// email's local part or the names.
pub(crate) fn password_problems(
    password: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> Vec<String> {
    let attrs = [
        ("email address", email),
        ("first name", first_name),
        ("last name", last_name),
    ];
    let mut problems = kernel::password::validate_with(password, &attrs, 12);
    let local = email.split('@').next().unwrap_or("");
    problems.extend(kernel::password::strong_rules(
        password,
        &[local, first_name, last_name],
    ));
    problems
}

/// What registration and `createsuperuser` create.
pub(crate) struct NewAccount {
    pub email: Field<String>,
    pub password: Field<String>,
    pub first_name: Field<String>,
    pub last_name: Field<String>,
    pub role: Role,
}

/// Validates (adding to the errors `c` already holds) and creates an account
/// with its (empty) profile in one transaction, audited as the new user's
/// own doing.
pub(crate) async fn create_account(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    c: Checker,
    input: NewAccount,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<user::Model> {
    insert_account(state, db, c, input, ip, None).await
}

/// As [`create_account`], audited as the doing of `by` when given (an
/// administrator creating someone else's account).
async fn insert_account(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    mut c: Checker,
    input: NewAccount,
    ip: Option<std::net::IpAddr>,
    by: Option<i64>,
) -> ApiResult<user::Model> {
    let email = check_email(&mut c, state, input.email);
    let password = c.value("password", input.password);
    let first_name = c.blank_text("first_name", input.first_name, 150);
    let last_name = c.blank_text("last_name", input.last_name, 150);
    if let Some(email) = &email
        && email_taken(db, email, None).await?
    {
        c.error("email", EMAIL_TAKEN);
    }
    match password.as_deref() {
        None => {}
        Some("") => c.error("password", kernel::form::NOT_BLANK),
        Some(password) => {
            for problem in password_problems(
                password,
                email.as_deref().unwrap_or(""),
                first_name.as_deref().unwrap_or(""),
                last_name.as_deref().unwrap_or(""),
            ) {
                c.error("password", problem);
            }
        }
    }
    c.finish()?;

    let hash = state.hasher.make(&password.unwrap_or_default()).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let created = user::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        email: Set(email.unwrap_or_default()),
        password: Set(hash),
        first_name: Set(first_name.unwrap_or_default()),
        last_name: Set(last_name.unwrap_or_default()),
        role: Set(input.role),
        is_active: Set(true),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(user_conflict)?;
    crate::profiles::create_empty(&txn, created.id).await?;
    // One row for the one write: the empty profile is part of every account.
    audit::record(
        &txn,
        Actor::user(by.unwrap_or(created.id), ip),
        Action::CREATE,
        "User",
        created.id,
        Some(audit::created(&audit_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// What an audit row may show of an account: which fields changed, with
/// values only for `role` and `is_active`.
pub(crate) fn audit_snapshot(u: &user::Model) -> Value {
    json!({
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "role": u.role.as_str(),
        "is_active": u.is_active,
    })
}

/// Accounts joined with their profiles, as `me` may see them.
impl kernel::Scoped for user::Entity {
    type Caller = user::Model;

    /// The accounts `me` may reach: their own; an administrator also every
    /// candidate's; a superuser everyone's.
    fn scope(me: &user::Model) -> sea_orm::Condition {
        me.reachable_users()
    }

    fn not_found() -> ApiError {
        user_not_found()
    }
}

async fn list(
    db: &sea_orm::DatabaseConnection,
    query: sea_orm::SelectTwo<user::Entity, profile::Entity>,
    list: &ListQuery,
    role_filter: bool,
) -> ApiResult<Page<UserOut>> {
    let mut query = query;
    if role_filter {
        query = list.filter(
            query,
            "role",
            user::Column::Role,
            FilterKind::Choice(Role::CHOICES),
        )?;
    }
    query = list.filter(query, "is_active", user::Column::IsActive, FilterKind::Bool)?;
    query = list.filter(
        query,
        "has_completed_intake",
        profile::Column::HasCompletedIntake,
        FilterKind::Bool,
    )?;
    query = list.search(
        query,
        &[
            user::Column::Email.into_simple_expr(),
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("email", user::Column::Email.into_simple_expr()),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("role", user::Column::Role.into_simple_expr()),
            ("date_joined", user::Column::CreatedAt.into_simple_expr()),
            ("created_at", user::Column::CreatedAt.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        user::Column::Id,
    );
    let page = list.page(db, query, PageSize::DEFAULT).await?;
    Ok(page.map(|(u, p)| UserOut::new(&u, p.as_ref())))
}

/// List accounts (administrators: candidates and themselves; superusers:
/// everyone). Filters: `role`, `is_active`, `has_completed_intake`; search:
/// email and names; ordering: `email`, `first_name`, `last_name`, `role`,
/// `date_joined`.
#[utoipa::path(get, path = "/api/users/", tag = "users", security(("jwt" = [])),
    params(("role" = inline(Option<Role>), Query), ("is_active" = Option<bool>, Query), ("has_completed_intake" = Option<bool>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<UserOut>), (status = 401), (status = 403)))]
pub async fn list_users(
    Db(db): Db,
    Staff(me): Staff,
    list: ListQuery,
) -> ApiResult<Json<Page<UserOut>>> {
    let query = user::Entity::visible(&me).find_also_related(profile::Entity);
    Ok(Json(self::list(&db, query, &list, true).await?))
}

/// A new account, as an administrator gives it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AccountIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    /// At least 12 characters with upper and lower case, a digit and a
    /// symbol, not containing the email's name or the user's names.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<12>, required = true)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub last_name: Field<String>,
}

/// A new account of any role.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserCreateIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    /// As at registration.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<12>, required = true)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub last_name: Field<String>,
    /// `candidate` (the default); `admin` and `superuser` take a superuser.
    #[serde(default)]
    #[schema(value_type = Role, required = false)]
    pub role: Field<String>,
}

/// An account just created: as `GET /api/users/{id}/` shows it, with the
/// original's `message` and its `user` summary beside it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCreatedOut {
    pub message: String,
    #[serde(flatten)]
    pub detail: UserDetailOut,
    pub user: AccountSummaryOut,
}

/// The original's summary of a created account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountSummaryOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

const ADMINS_BY_SUPERUSERS: &str = "Only superusers can create admin accounts";
const CANDIDATES_BY_ADMINS: &str = "Only admins can create candidate accounts";

/// 403 in DRF's shape, with the original's `error` member beside it.
fn refused(message: &'static str) -> ApiError {
    ApiError::detailed(
        axum::http::StatusCode::FORBIDDEN,
        message,
        "permission_denied",
        json!({ "error": message }),
    )
}

/// Creates an account of `role` for `me`, audited as `me`'s doing, and
/// renders it as `GET /api/users/{id}/` does.
async fn create_for(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    c: Checker,
    input: AccountIn,
    role: Role,
) -> ApiResult<UserDetailOut> {
    let created = insert_account(
        state,
        db,
        c,
        NewAccount {
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
            role,
        },
        ip,
        Some(me.id()),
    )
    .await?;
    let (out, _) = UserDetailOut::load(state, db, &created).await?;
    Ok(out)
}

/// The original's `error` (and `errors`) for a refused account creation.
fn creation_said(fields: &serde_json::Map<String, Value>) -> Said {
    use crate::original::{messages, missing};
    if missing(fields, "email") || missing(fields, "password") {
        return Said::plain("Email and password are required", fields);
    }
    if messages(fields, "email").contains(&EMAIL_TAKEN) {
        return Said::plain("User with this email already exists", fields);
    }
    if fields.contains_key("email") {
        return Said::plain("Invalid email", fields);
    }
    if fields.contains_key("password") {
        return Said::plain("Invalid password", fields);
    }
    Said::plain(crate::original::first_message(fields), fields)
}

fn created(message: &str, detail: UserDetailOut) -> (StatusCode, Json<AccountCreatedOut>) {
    let user = AccountSummaryOut {
        id: detail.user.id,
        email: detail.user.email.clone(),
        first_name: detail.user.first_name.clone(),
        last_name: detail.user.last_name.clone(),
        role: detail.user.role,
    };
    (
        StatusCode::CREATED,
        Json(AccountCreatedOut {
            message: message.to_owned(),
            detail,
            user,
        }),
    )
}

/// Create an account (administrators: candidates; superusers: any role),
/// with its empty profile. The password policy is registration's.
#[utoipa::path(post, path = "/api/users/", tag = "users", security(("jwt" = [])), request_body = UserCreateIn,
    responses((status = 201, body = UserDetailOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_user(
    State(state): State<AppState>,
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    Json(input): Json<UserCreateIn>,
) -> ApiResult<(StatusCode, Json<UserDetailOut>)> {
    let mut c = Checker::new();
    let role = match input.role {
        Field::Absent => Some(Role::Candidate),
        other => c
            .choice("role", other, Role::CHOICES)
            .and_then(|r| Role::parse(&r)),
    };
    match role {
        Some(Role::Superuser) if !me.is_superuser() => {
            return Err(refused("Only superusers can grant the superuser role."));
        }
        Some(Role::Admin) if !me.is_superuser() => return Err(refused(ADMINS_BY_SUPERUSERS)),
        _ => {}
    }
    let account = AccountIn {
        email: input.email,
        password: input.password,
        first_name: input.first_name,
        last_name: input.last_name,
    };
    let out = create_for(
        &state,
        &db,
        &me,
        ip,
        c,
        account,
        role.unwrap_or(Role::Candidate),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Create an administrator account (superusers).
#[utoipa::path(post, path = "/api/users/create-admin/", tag = "users", security(("jwt" = [])), request_body = AccountIn,
    responses((status = 201, body = AccountCreatedOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_admin(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<AccountIn>,
) -> ApiResult<(StatusCode, Json<AccountCreatedOut>)> {
    if !me.is_superuser() {
        return Err(refused(ADMINS_BY_SUPERUSERS));
    }
    let out = create_for(&state, &db, &me, ip, Checker::new(), input, Role::Admin)
        .await
        .map_err(|e| crate::original::explain(e, true, creation_said))?;
    Ok(created("Admin user created successfully", out))
}

const SUPERUSERS_BY_SUPERUSERS: &str = "Only superusers can create superuser accounts";

/// Create an administrator account (superusers): the original's
/// `/api/auth/create-admin/`, as `/api/users/create-admin/` does it.
#[utoipa::path(post, path = "/api/auth/create-admin/", tag = "auth", security(("jwt" = [])), request_body = AccountIn,
    responses((status = 201, body = AccountCreatedOut), (status = 400), (status = 401), (status = 403)))]
pub async fn auth_create_admin(
    state: State<AppState>,
    db: Db,
    me: CurrentUser,
    ip: ClientIp,
    input: Json<AccountIn>,
) -> ApiResult<(StatusCode, Json<AccountCreatedOut>)> {
    create_admin(state, db, me, ip, input).await
}

/// Create a superuser account (superusers), with the password policy of
/// every account.
#[utoipa::path(post, path = "/api/auth/create-superuser/", tag = "auth", security(("jwt" = [])), request_body = AccountIn,
    responses((status = 201, body = AccountCreatedOut), (status = 400), (status = 401), (status = 403)))]
pub async fn auth_create_superuser(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<AccountIn>,
) -> ApiResult<(StatusCode, Json<AccountCreatedOut>)> {
    if !me.is_superuser() {
        return Err(refused(SUPERUSERS_BY_SUPERUSERS));
    }
    let out = create_for(&state, &db, &me, ip, Checker::new(), input, Role::Superuser)
        .await
        .map_err(|e| crate::original::explain(e, true, creation_said))?;
    Ok(created("Superuser created successfully", out))
}

/// What activating or deactivating an account answers (the original's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountStatusOut {
    /// `activated` or `deactivated`.
    pub status: String,
}

/// Sets `is_active` of account `id` (administrators and superusers, as the
/// original's `users.change_user` permission), never one's own; a superuser
/// is never deactivated. Deactivating ends every session and token of the
/// account; the change and its audit row are one transaction.
async fn set_active(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    ip: Option<std::net::IpAddr>,
    id: i64,
    active: bool,
) -> ApiResult<Json<AccountStatusOut>> {
    let word = if active { "activate" } else { "deactivate" };
    if id == me.id {
        return Err(ApiError::bad_request(format!(
            "You cannot {word} your own account."
        )));
    }
    let txn = kernel::db::begin_write(db).await?;
    // Only accounts `me` may reach (an administrator: candidates; a
    // superuser: everyone), as every other change to an account.
    let current = user::Entity::find_by_id(id)
        .filter(me.reachable_users())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(user_not_found)?;
    if !active && current.role == Role::Superuser {
        return Err(ApiError::forbidden("Superusers cannot be deactivated."));
    }
    if current.is_active != active {
        let mut model: user::ActiveModel = current.clone().into();
        model.is_active = Set(active);
        model.updated_at = Set(kernel::time::now());
        let updated = model.update(&txn).await?;
        if !active {
            crate::sessions::end_all(&txn, updated.id, None).await?;
            crate::sessions::bump_epoch(&txn, updated.id).await?;
        }
        audit::record(
            &txn,
            Actor::user(me.id, ip),
            Action::UPDATE,
            "User",
            updated.id,
            Some(audit::changes(
                &audit_snapshot(&current),
                &audit_snapshot(&updated),
            )),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Json(AccountStatusOut {
        status: format!("{word}d"),
    }))
}

/// Activate an account (administrators: a candidate's; superusers: anyone's but their own).
#[utoipa::path(patch, path = "/api/users/{id}/activate/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = AccountStatusOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn activate_user(
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<AccountStatusOut>> {
    set_active(&db, &me, ip, id, true).await
}

/// Deactivate an account (administrators: a candidate's; superusers: anyone's
/// but their own or another superuser's): every session and token of it ends.
#[utoipa::path(patch, path = "/api/users/{id}/deactivate/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = AccountStatusOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn deactivate_user(
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<AccountStatusOut>> {
    set_active(&db, &me, ip, id, false).await
}

/// Create a candidate account (administrators and superusers).
#[utoipa::path(post, path = "/api/users/create-candidate/", tag = "users", security(("jwt" = [])), request_body = AccountIn,
    responses((status = 201, body = AccountCreatedOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_candidate(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<AccountIn>,
) -> ApiResult<(StatusCode, Json<AccountCreatedOut>)> {
    if !me.is_staff() {
        return Err(refused(CANDIDATES_BY_ADMINS));
    }
    let out = create_for(&state, &db, &me, ip, Checker::new(), input, Role::Candidate)
        .await
        .map_err(|e| crate::original::explain(e, true, creation_said))?;
    Ok(created("Candidate user created successfully", out))
}

/// List candidate accounts (administrators). Same filters, search and
/// ordering as `/api/users/`.
#[utoipa::path(get, path = "/api/users/candidates/", tag = "users", security(("jwt" = [])),
    params(("is_active" = Option<bool>, Query), ("has_completed_intake" = Option<bool>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<UserOut>), (status = 401), (status = 403)))]
pub async fn list_candidates(
    Db(db): Db,
    Staff(me): Staff,
    list: ListQuery,
) -> ApiResult<Json<Page<UserOut>>> {
    let query = user::Entity::visible(&me)
        .filter(user::Column::Role.eq(Role::Candidate))
        .find_also_related(profile::Entity);
    Ok(Json(self::list(&db, query, &list, false).await?))
}

/// The caller's own account with its profile.
#[utoipa::path(get, path = "/api/users/me/", tag = "users", security(("jwt" = [])),
    responses((status = 200, body = UserDetailOut), (status = 401)))]
pub async fn me(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
) -> ApiResult<Json<UserDetailOut>> {
    let (out, _) = UserDetailOut::load(&state, &db, &me.0).await?;
    Ok(Json(out))
}

pub(crate) fn user_not_found() -> ApiError {
    ApiError::not_found_msg("No User matches the given query.")
}

/// Records that the caller read someone else's profile.
pub(crate) async fn audit_profile_read<C: ConnectionTrait>(
    db: &C,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    owner: i64,
    profile_id: i64,
) -> ApiResult<()> {
    if owner == me.id() {
        return Ok(());
    }
    audit::record(
        db,
        Actor::user(me.id(), ip),
        Action::READ,
        "UserProfile",
        profile_id,
        None,
    )
    .await
}

/// An account with its profile (administrators: candidates; anyone: self).
/// Reading someone else's profile is audited.
#[utoipa::path(get, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = UserDetailOut), (status = 401), (status = 404)))]
pub async fn retrieve_user(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<Json<UserDetailOut>> {
    let user = user::Entity::find_visible(&db, &me, id).await?;
    let (out, profile) = UserDetailOut::load(&state, &db, &user).await?;
    audit_profile_read(&db, &me, ip, user.id, profile.id).await?;
    Ok(Json(out))
}

/// The writable fields of an account. `role` and `is_active` are for
/// administrators (and never one's own); anything else is ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<150>)]
    pub last_name: Field<String>,
    /// Administrators only; granting `superuser` takes a superuser.
    #[serde(default)]
    #[schema(value_type = Role, required = false)]
    pub role: Field<String>,
    /// Administrators only.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

const ROLE_FORBIDDEN: &str = "Only administrators can change role or is_active.";

async fn write_user(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    id: i64,
    body: Result<Json<UserIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<UserDetailOut>> {
    // DRF's order: the object (404), then the body (400).
    let existing = user::Entity::find_visible(db, me, id).await?;
    let Json(input) = body?;
    let mut c = Checker::partial(partial);
    let email = match input.email {
        Field::Absent if partial => None,
        other => check_email(&mut c, state, other),
    };
    let first_name = c.blank_text("first_name", input.first_name, 150);
    let last_name = c.blank_text("last_name", input.last_name, 150);
    let role = match input.role {
        Field::Absent => None,
        other => c
            .choice("role", other, Role::CHOICES)
            .and_then(|r| Role::parse(&r)),
    }
    .filter(|r| *r != existing.role);
    let is_active = match input.is_active {
        Field::Absent => None,
        other => c.value("is_active", other),
    }
    .filter(|a| *a != existing.is_active);
    if let Some(email) = &email
        && email_taken(db, email, Some(id)).await?
    {
        c.error("email", EMAIL_TAKEN);
    }
    c.finish()?;
    if role.is_some() || is_active.is_some() {
        if !me.is_staff() {
            return Err(ApiError::forbidden(ROLE_FORBIDDEN));
        }
        if existing.id == me.id() {
            return Err(ApiError::Validation(FieldErrors::single(
                FieldErrors::NON_FIELD,
                "You cannot change your own role or deactivate your own account.",
            )));
        }
        if role == Some(Role::Superuser) && !me.is_superuser() {
            return Err(ApiError::forbidden(
                "Only superusers can grant the superuser role.",
            ));
        }
    }

    let txn = kernel::db::begin_write(db).await?;
    let current = user::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(user_not_found)?;
    let mut model: user::ActiveModel = current.clone().into();
    if let Some(v) = email {
        model.email = Set(v);
    }
    if let Some(v) = first_name {
        model.first_name = Set(v);
    }
    if let Some(v) = last_name {
        model.last_name = Set(v);
    }
    if let Some(v) = role {
        model.role = Set(v);
    }
    if let Some(v) = is_active {
        model.is_active = Set(v);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(user_conflict)?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "User",
        updated.id,
        Some(audit::changes(
            &audit_snapshot(&current),
            &audit_snapshot(&updated),
        )),
    )
    .await?;
    // The update row is the record of this caller's access to the account:
    // showing them its profile in the answer adds no second row.
    let (out, _) = UserDetailOut::load(state, &txn, &updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replace an account's writable fields (administrators: candidates; anyone: self).
#[utoipa::path(put, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path)), request_body = UserIn,
    responses((status = 200, body = UserDetailOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_user(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<UserIn>, ApiError>,
) -> ApiResult<Json<UserDetailOut>> {
    write_user(&state, &db, &me, ip, id, body, false).await
}

/// Change some of an account's fields (administrators: candidates; anyone: self).
#[utoipa::path(patch, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = i64, Path)), request_body = UserIn,
    responses((status = 200, body = UserDetailOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_user(
    State(state): State<AppState>,
    Db(db): Db,
    me: CurrentUser,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<UserIn>, ApiError>,
) -> ApiResult<Json<UserDetailOut>> {
    write_user(&state, &db, &me, ip, id, body, true).await
}
