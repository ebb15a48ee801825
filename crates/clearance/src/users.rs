//! `/api/users/`: administrators manage accounts, including the office staff
//! whose approvals act for their department.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Page, PageSize};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::department;
use crate::entities::user::{self, Role};
use crate::principal::Admin;
use crate::state::AppState;

/// An account as every endpoint shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub admission_number: Option<String>,
    pub full_name: String,
    pub role: Role,
    pub role_display: &'static str,
    /// The clearance office this staff member decides for.
    pub department: Option<Uuid>,
    pub department_name: Option<String>,
    pub department_code: Option<String>,
    pub is_active: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl UserOut {
    pub fn new(user: &user::Model, department: Option<&department::Model>) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            admission_number: user.admission_number.clone(),
            full_name: user.full_name.clone(),
            role: user.role,
            role_display: user.role.display(),
            department: user.department_id,
            department_name: department.map(|d| d.name.clone()),
            department_code: department.map(|d| d.code.clone()),
            is_active: user.is_active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }

    /// Loads the user's office (if any) and renders the user.
    pub async fn load<C: ConnectionTrait>(db: &C, user: &user::Model) -> ApiResult<Self> {
        let department = match user.department_id {
            Some(id) => department::Entity::find_by_id(id).one(db).await?,
            None => None,
        };
        Ok(Self::new(user, department.as_ref()))
    }
}

/// A new account's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub admission_number: Field<String>,
    /// Write-only; hashed before it is stored.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    pub password: Field<String>,
    /// Also accepted: the original's office roles (`library_staff`,
    /// `finance_staff`, `hostel_staff`, `academic_staff`, `gown_issuance_staff`,
    /// `clearance_officer`), which make a `department_staff` account of an
    /// office of the matching type.
    #[serde(default)]
    #[schema(value_type = Role, required = true)]
    pub role: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<Uuid>,
    /// Defaults to true.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

/// An account's writable fields on PUT (and, none required, on PATCH): the
/// password is set only when given.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserUpdateIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub admission_number: Field<String>,
    /// Write-only; a new password ends the account's sessions.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = false)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(value_type = Role, required = true)]
    pub role: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<Uuid>,
    /// Deactivating an account ends its sessions.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_active: Field<bool>,
}

/// What an audit row shows of an account: never the password hash or the
/// session epoch.
pub(crate) fn audit_snapshot(u: &user::Model) -> Value {
    kernel::audit::snapshot(&json!({
        "email": u.email,
        "full_name": u.full_name,
        "admission_number": u.admission_number,
        "role": u.role.as_str(),
        "department": u.department_id,
        "is_active": u.is_active,
    }))
}

/// How an account is named in audit rows.
pub(crate) fn audit_name(u: &user::Model) -> String {
    format!("{} <{}>", u.full_name, u.email)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(
            retrieve_user,
            update_user,
            partial_update_user,
            destroy_user
        ))
}

pub(crate) async fn email_taken<C: ConnectionTrait>(
    db: &C,
    email: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

pub(crate) async fn admission_taken<C: ConnectionTrait>(
    db: &C,
    number: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = user::Entity::find().filter(user::Column::AdmissionNumber.eq(number));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

pub const EMAIL_TAKEN: &str = "User with this email already exists.";
pub const ADMISSION_TAKEN: &str = "User with this admission number already exists.";

/// Maps a unique-constraint race on `users` to the same field errors the
/// up-front checks give.
pub(crate) fn user_conflict(error: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&error, "email") {
        ApiError::field("email", EMAIL_TAKEN)
    } else if kernel::error::is_unique_violation(&error, "admission_number") {
        ApiError::field("admission_number", ADMISSION_TAKEN)
    } else {
        error.into()
    }
}

/// List accounts (admin). Filters: `role`, `is_active`, `department`;
/// search: email, full name, admission number.
#[utoipa::path(get, path = "/api/users/", tag = "users", security(("jwt" = [])),
    params(("role" = inline(Option<Role>), Query), ("is_active" = Option<bool>, Query), ("department" = Option<Uuid>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<UserOut>), (status = 401), (status = 403)))]
pub async fn list_users(
    Db(db): Db,
    _admin: Admin,
    list: ListQuery,
) -> ApiResult<Json<Page<UserOut>>> {
    let mut query = user::Entity::find().find_also_related(department::Entity);
    query = list.filter(
        query,
        "role",
        user::Column::Role,
        FilterKind::Choice(Role::CHOICES),
    )?;
    query = list.filter(query, "is_active", user::Column::IsActive, FilterKind::Bool)?;
    query = list.filter(
        query,
        "department",
        user::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    query = list.search(
        query,
        &[
            user::Column::Email.into_simple_expr(),
            user::Column::FullName.into_simple_expr(),
            user::Column::AdmissionNumber.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("email", user::Column::Email.into_simple_expr()),
            ("full_name", user::Column::FullName.into_simple_expr()),
            ("role", user::Column::Role.into_simple_expr()),
            ("created_at", user::Column::CreatedAt.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        user::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    Ok(Json(page.map(|(u, d)| UserOut::new(&u, d.as_ref()))))
}

/// The original's office roles and the office type each stands for. Its
/// Angular frontend offers them; an account made with one is a
/// `department_staff` member of an office of that type.
///
/// `academic_staff` belongs to the academic office (type `faculty`, the
/// original's "Academic Affairs"). So does `clearance_officer`: the original
/// gives that role no office of its own, and a clearance officer works for the
/// registry, which sits in Academic Affairs. `gown_issuance_staff` belongs to
/// the office of type `other` (the original's "Student Services", which issues
/// gowns), as there is no gown office type.
pub const STAFF_ROLE_ALIASES: &[(&str, &str)] = &[
    ("library_staff", "library"),
    ("finance_staff", "finance"),
    ("hostel_staff", "hostel"),
    ("academic_staff", "faculty"),
    ("gown_issuance_staff", "other"),
    ("clearance_officer", "faculty"),
];

/// Reads `role`: one of the spec's roles, or an office role of the original
/// (see [`STAFF_ROLE_ALIASES`]) as `department_staff` with the alias and the
/// office type it requires.
fn read_role(
    c: &mut Checker,
    role: Field<String>,
) -> (Option<Role>, Option<(&'static str, &'static str)>) {
    if let Field::Value(name) = &role
        && let Some(alias) = STAFF_ROLE_ALIASES.iter().find(|(a, _)| a == name)
    {
        return (Some(Role::DepartmentStaff), Some(*alias));
    }
    let role = c
        .choice("role", role, Role::CHOICES)
        .and_then(|r| Role::parse(&r));
    (role, None)
}

/// The office an account made with an office role joins: the one named, which
/// must be of the role's type; else the current one if it is of that type;
/// else the first active office of that type in approval order.
async fn office_for_alias<C: ConnectionTrait>(
    db: &C,
    c: &mut Checker,
    (alias, kind): (&str, &str),
    named: Option<Option<Uuid>>,
    current: Option<Uuid>,
) -> ApiResult<Option<Uuid>> {
    if let Some(Some(id)) = named {
        if let Some(office) = department::Entity::find_by_id(id).one(db).await?
            && office.department_type != kind
        {
            c.error(
                "department",
                format!("A {alias} account belongs to an office of type \"{kind}\"."),
            );
        }
        return Ok(Some(id));
    }
    let of_kind = department::Entity::find().filter(department::Column::DepartmentType.eq(kind));
    if named.is_none()
        && let Some(id) = current
        && of_kind
            .clone()
            .filter(department::Column::Id.eq(id))
            .one(db)
            .await?
            .is_some()
    {
        return Ok(Some(id));
    }
    let first = of_kind
        .filter(department::Column::IsActive.eq(true))
        .order_by(department::Column::ApprovalOrder, Order::Asc)
        .order_by(department::Column::Name, Order::Asc)
        .one(db)
        .await?;
    if first.is_none() {
        c.error(
            "department",
            format!("There is no active office of type \"{kind}\" for a {alias} account."),
        );
    }
    Ok(first.map(|d| d.id))
}

async fn check_department<C: ConnectionTrait>(
    db: &C,
    c: &mut Checker,
    id: Option<Option<Uuid>>,
) -> ApiResult<()> {
    if let Some(Some(id)) = id
        && department::Entity::find_by_id(id).one(db).await?.is_none()
    {
        c.error(
            "department",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    Ok(())
}

/// Create an account (admin).
#[utoipa::path(post, path = "/api/users/", tag = "users", security(("jwt" = [])), request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_user(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let mut c = Checker::new();
    let email = c.email("email", input.email);
    let full_name = c.text("full_name", input.full_name, 255);
    let admission_number = c
        .optional_text("admission_number", input.admission_number, 50)
        .flatten();
    let password = c.value("password", input.password);
    let (role, alias) = read_role(&mut c, input.role);
    let mut department = c.nullable(input.department);
    let is_active = c.boolean("is_active", input.is_active, true);
    check_department(&db, &mut c, department).await?;
    if let Some(alias) = alias {
        department = Some(office_for_alias(&db, &mut c, alias, department, None).await?);
    }
    if let Some(email) = &email
        && email_taken(&db, email, None).await?
    {
        c.error("email", EMAIL_TAKEN);
    }
    if let Some(number) = &admission_number
        && admission_taken(&db, number, None).await?
    {
        c.error("admission_number", ADMISSION_TAKEN);
    }
    if let Some(password) = &password {
        let attrs = [
            ("email address", email.as_deref().unwrap_or("")),
            ("full name", full_name.as_deref().unwrap_or("")),
        ];
        for message in kernel::password::validate(password, &attrs) {
            c.error("password", message);
        }
    }
    c.finish()?;

    let hash = state.hasher.make(&password.unwrap_or_default()).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.unwrap_or_default()),
        admission_number: Set(admission_number),
        full_name: Set(full_name.unwrap_or_default()),
        password: Set(hash),
        role: Set(role.unwrap_or(Role::Student)),
        department_id: Set(department.flatten()),
        is_active: Set(is_active.unwrap_or(true)),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(user_conflict)?;
    audit::record(
        &txn,
        Actor::user(admin.id, ip),
        Action::CREATE,
        "User",
        created.id,
        &audit_name(&created),
        kernel::audit::created(&audit_snapshot(&created)),
    )
    .await?;
    let out = UserOut::load(&txn, &created).await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The accounts with these ids, by id, in one query (none without ids): the
/// actors, deciders and verifiers a page of rows names.
pub async fn by_id<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> ApiResult<std::collections::HashMap<Uuid, user::Model>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

async fn find_user<C: ConnectionTrait>(db: &C, id: Uuid) -> ApiResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No User matches the given query."))
}

/// Retrieve an account (admin).
#[utoipa::path(get, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_user(Db(db): Db, _admin: Admin, Id(id): Id) -> ApiResult<Json<UserOut>> {
    let user = find_user(&db, id).await?;
    Ok(Json(UserOut::load(&db, &user).await?))
}

async fn write_user(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    admin: &user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<UserUpdateIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<UserOut>> {
    // DRF's order: the object (404), then the body (400).
    let existing = find_user(db, id).await?;
    let Json(input) = body?;
    let mut c = Checker::partial(partial);
    let email = c.email("email", input.email);
    let full_name = c.text("full_name", input.full_name, 255);
    let admission_number = c.optional_text("admission_number", input.admission_number, 50);
    let (role, alias) = read_role(&mut c, input.role);
    let mut department = c.nullable(input.department);
    let is_active = match input.is_active {
        Field::Absent => None,
        other => c.value("is_active", other),
    };
    let password = match input.password {
        Field::Absent => None,
        other => c.value("password", other),
    };
    check_department(db, &mut c, department).await?;
    if let Some(alias) = alias {
        department =
            Some(office_for_alias(db, &mut c, alias, department, existing.department_id).await?);
    }
    if let Some(email) = &email
        && email_taken(db, email, Some(id)).await?
    {
        c.error("email", EMAIL_TAKEN);
    }
    if let Some(Some(number)) = &admission_number
        && admission_taken(db, number, Some(id)).await?
    {
        c.error("admission_number", ADMISSION_TAKEN);
    }
    if existing.id == admin.id
        && (is_active == Some(false) || role.is_some_and(|r| r != Role::Admin))
    {
        c.error(
            kernel::FieldErrors::NON_FIELD,
            "You cannot deactivate or demote your own account.",
        );
    }
    if let Some(password) = &password {
        let attrs = [
            ("email address", email.as_deref().unwrap_or(&existing.email)),
            (
                "full name",
                full_name.as_deref().unwrap_or(&existing.full_name),
            ),
        ];
        for message in kernel::password::validate(password, &attrs) {
            c.error("password", message);
        }
    }
    c.finish()?;

    // Hash before taking the write lock: hashing is slow on purpose.
    let hash = match password {
        Some(password) => Some(state.hasher.make(&password).await?),
        None => None,
    };
    let txn = kernel::db::begin_write(db).await?;
    // Re-read under the lock so the audit row's "before" is what is replaced.
    let current = user::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No User matches the given query."))?;
    let mut model: user::ActiveModel = current.clone().into();
    if let Some(v) = email {
        model.email = Set(v);
    }
    if let Some(v) = full_name {
        model.full_name = Set(v);
    }
    if let Some(v) = admission_number {
        model.admission_number = Set(v);
    }
    if let Some(v) = role {
        model.role = Set(v);
    }
    if let Some(v) = department {
        model.department_id = Set(v);
    }
    let mut revoke = false;
    if let Some(v) = is_active {
        model.is_active = Set(v);
        revoke |= !v;
    }
    if let Some(hash) = hash {
        model.password = Set(hash);
        revoke = true;
    }
    if revoke {
        // A deactivated account or a reset password ends every session.
        model.token_epoch = Set(current.token_epoch + 1);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(user_conflict)?;
    audit::record(
        &txn,
        Actor::user(admin.id, ip),
        Action::UPDATE,
        "User",
        updated.id,
        &audit_name(&updated),
        kernel::audit::diff(&audit_snapshot(&current), &audit_snapshot(&updated)),
    )
    .await?;
    let out = UserOut::load(&txn, &updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replace an account's writable fields (admin).
#[utoipa::path(put, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = UserUpdateIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_user(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<UserUpdateIn>, ApiError>,
) -> ApiResult<Json<UserOut>> {
    write_user(&state, &db, &admin, ip, id, body, false).await
}

/// Change some of an account's fields (admin).
#[utoipa::path(patch, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = UserUpdateIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_user(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<UserUpdateIn>, ApiError>,
) -> ApiResult<Json<UserOut>> {
    write_user(&state, &db, &admin, ip, id, body, true).await
}

/// Delete an account (admin). An administrator cannot delete their own account.
#[utoipa::path(delete, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_user(
    Db(db): Db,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let user = find_user(&db, id).await?;
    if user.id == admin.id {
        return Err(ApiError::bad_request("You cannot delete your own account."));
    }
    let txn = kernel::db::begin_write(&db).await?;
    audit::record(
        &txn,
        Actor::user(admin.id, ip),
        Action::DELETE,
        "User",
        user.id,
        &audit_name(&user),
        kernel::audit::deleted(&audit_snapshot(&user)),
    )
    .await?;
    let deleted = user::Entity::delete_many()
        .filter(user::Column::Id.eq(user.id).into_condition())
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        // Deleted meanwhile: no row, no audit of a deletion that did not happen here.
        return Err(ApiError::not_found_msg("No User matches the given query."));
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
