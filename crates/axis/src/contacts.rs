//! A client's contacts (axis contract §5, "Contacts"), nested under
//! `clients/{client_id}/contacts/`: read and written by platform users and
//! by scoped users on their granted clients. One primary contact per client.

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::clients::{self, CONTACT_METHODS};
use crate::entities::{client, contact};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Contact";
pub const ROLES: Choices = Choices(&[
    "Primary",
    "Billing",
    "Technical",
    "Executive",
    "Legal",
    "Other",
]);
const NO_METHOD: &str = "Contact must have at least one contact method (email, phone, or mobile).";
const TAKEN: &str = "A contact with this email already exists for this client.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(primary_contact))
        .routes(routes!(
            get_contact,
            put_contact,
            patch_contact,
            delete_contact
        ))
        .routes(routes!(set_primary_contact))
        .routes(routes!(restore_contact))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub role: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub is_primary: bool,
    pub preferred_contact_method: String,
    pub is_active: bool,
    pub notes: Option<String>,
    pub metadata: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn out(client: &client::Model, r: contact::Model) -> ContactOut {
    ContactOut {
        full_name: r.full_name(),
        client_name: client.name.clone(),
        id: r.id,
        client_id: r.client_id,
        first_name: r.first_name,
        last_name: r.last_name,
        email: r.email,
        phone: r.phone,
        mobile: r.mobile,
        role: r.role,
        title: r.title,
        department: r.department,
        is_primary: r.is_primary,
        preferred_contact_method: r.preferred_contact_method,
        is_active: r.is_active,
        notes: r.notes,
        metadata: r.metadata,
        created_at: r.created_at,
        updated_at: r.updated_at,
        deleted_at: r.deleted_at,
    }
}

/// The live contact `id` of `client`, else 404.
async fn live(
    db: &impl ConnectionTrait,
    client: &client::Model,
    id: &str,
) -> ApiResult<contact::Model> {
    let id = rest::path_id(id, MODEL)?;
    contact::Entity::find_by_id(id)
        .filter(contact::Column::ClientId.eq(client.id.as_str()))
        .filter(contact::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

/// A client's contacts, a page at a time; search names and email; filters
/// `is_primary, is_active, role`.
#[utoipa::path(get, path = "/api/clients/{client_id}/contacts/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("limit" = Option<u64>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("is_primary" = Option<bool>, Query), ("is_active" = Option<bool>, Query), ("role" = inline(Option<ContactRole>), Query)),
    responses((status = 200, body = Page<ContactOut>)))]
pub async fn list_contacts(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<Page<ContactOut>>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let mut query = contact::Entity::find()
        .filter(contact::Column::ClientId.eq(client.id.as_str()))
        .filter(contact::Column::DeletedAt.is_null());
    if let Some(v) = rest::flag(&list, "is_primary")? {
        query = query.filter(contact::Column::IsPrimary.eq(v));
    }
    if let Some(v) = rest::flag(&list, "is_active")? {
        query = query.filter(contact::Column::IsActive.eq(v));
    }
    if let Some(v) = list.get("role") {
        query = query.filter(contact::Column::Role.eq(ROLES.check("role", v)?));
    }
    let query = list.search(
        query,
        &[
            Expr::col(contact::Column::FirstName),
            Expr::col(contact::Column::LastName),
            Expr::col(contact::Column::Email),
        ],
    );
    let query = list.order(
        query,
        &[
            ("first_name", Expr::col(contact::Column::FirstName)),
            ("last_name", Expr::col(contact::Column::LastName)),
            ("created_at", Expr::col(contact::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        contact::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    Ok(Json(page.map(|r| out(&client, r))))
}

/// The client's primary contact.
#[utoipa::path(get, path = "/api/clients/{client_id}/contacts/primary/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = ContactOut)))]
pub async fn primary_contact(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let row = contact::Entity::find()
        .filter(contact::Column::ClientId.eq(client.id.as_str()))
        .filter(contact::Column::DeletedAt.is_null())
        .filter(contact::Column::IsPrimary.eq(true))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No primary contact found for this client"))?;
    Ok(Json(out(&client, row)))
}

/// One contact of the client.
#[utoipa::path(get, path = "/api/clients/{client_id}/contacts/{id}/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 200, body = ContactOut)))]
pub async fn get_contact(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ContactOut>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let row = live(&db, &client, &id).await?;
    Ok(Json(out(&client, row)))
}

kernel::choices!(
    /// A contact's role.
    pub ContactRole = ROLES.0
);

fn role() -> utoipa::openapi::schema::Schema {
    clients::schema::optional_choice(ROLES.0)
}

/// Email when blank or null on a create; left as it is on an update.
fn contact_method() -> utoipa::openapi::schema::Schema {
    clients::schema::optional_choice(CONTACT_METHODS.0)
}

/// The writable fields of a contact: it needs one of `email, phone,
/// mobile`; `email` is unique among the client's live contacts; a primary
/// contact makes the others not so.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = clients::schema::optional_email)]
    email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
    mobile: Field<String>,
    #[serde(default)]
    #[schema(schema_with = role)]
    role: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    title: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    department: Field<String>,
    /// False when left out on a create.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_primary: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = contact_method)]
    preferred_contact_method: Field<String>,
    /// True when left out on a create.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_active: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
    notes: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// Clears the other primary contacts of `client_id`.
async fn clear_primary(db: &impl ConnectionTrait, client_id: &str, keep: &str) -> ApiResult<()> {
    contact::Entity::update_many()
        .col_expr(contact::Column::IsPrimary, Expr::value(false))
        .filter(contact::Column::ClientId.eq(client_id))
        .filter(contact::Column::Id.ne(keep))
        .filter(contact::Column::IsPrimary.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    client: &client::Model,
    current: Option<contact::Model>,
    input: ContactIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<ContactOut>)> {
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let first_name = c.text("first_name", input.first_name, 100);
    let last_name = c.text("last_name", input.last_name, 100);
    let email = match c.optional_text("email", input.email, 254) {
        Some(Some(v)) => match kernel::form::normalize_email(&v) {
            Some(e) => Some(Some(e)),
            None => {
                c.error("email", "Enter a valid email address.");
                None
            }
        },
        other => other,
    };
    let phone = c.optional_text("phone", input.phone, 30);
    let mobile = c.optional_text("mobile", input.mobile, 30);
    let role = rest::optional_choice(&mut c, "role", input.role, ROLES);
    let title = c.optional_text("title", input.title, 100);
    let department = c.optional_text("department", input.department, 100);
    let is_primary = c.boolean("is_primary", input.is_primary, false);
    let method = match rest::optional_choice(
        &mut c,
        "preferred_contact_method",
        input.preferred_contact_method,
        CONTACT_METHODS,
    ) {
        Some(None) if current.is_none() => Some("Email".to_owned()),
        Some(None) => None,
        Some(Some(v)) => Some(v),
        None => None,
    };
    let is_active = c.boolean("is_active", input.is_active, true);
    let notes = c.optional_text("notes", input.notes, 10_000);
    let metadata = rest::metadata(&mut c, input.metadata, current.is_none());
    if let Some(Some(email)) = &email {
        let taken = contact::Entity::find()
            .filter(contact::Column::ClientId.eq(client.id.as_str()))
            .filter(contact::Column::Email.eq(email.as_str()))
            .filter(contact::Column::DeletedAt.is_null())
            .filter(match &current {
                Some(r) => Condition::all().add(contact::Column::Id.ne(r.id.as_str())),
                None => Condition::all(),
            })
            .one(&**db)
            .await?;
        if taken.is_some() {
            c.error("email", TAKEN);
        }
    }
    c.finish()?;
    let pick = |new: &Option<Option<String>>, old: Option<&Option<String>>| match new {
        Some(v) => v.clone(),
        None => old.cloned().flatten(),
    };
    let reachable = [
        pick(&email, current.as_ref().map(|r| &r.email)),
        pick(&phone, current.as_ref().map(|r| &r.phone)),
        pick(&mobile, current.as_ref().map(|r| &r.mobile)),
    ]
    .iter()
    .any(Option::is_some);
    if !reachable {
        return Err(ApiError::non_field(NO_METHOD));
    }
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut row: contact::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => contact::ActiveModel {
            id: Set(kernel::cuid::new()),
            client_id: Set(client.id.clone()),
            first_name: Set(String::new()),
            last_name: Set(String::new()),
            email: Set(None),
            phone: Set(None),
            mobile: Set(None),
            role: Set(None),
            title: Set(None),
            department: Set(None),
            is_primary: Set(false),
            preferred_contact_method: Set("Email".into()),
            is_active: Set(true),
            notes: Set(None),
            metadata: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            tombstone: Set(String::new()),
        },
    };
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    put!(
        first_name = first_name,
        last_name = last_name,
        email = email,
        phone = phone,
        mobile = mobile,
        role = role,
        title = title,
        department = department,
        is_primary = is_primary,
        preferred_contact_method = method,
        is_active = is_active,
        notes = notes,
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("email", TAKEN)
        } else {
            e.into()
        }
    };
    let saved = match &current {
        Some(_) => row.update(&txn).await.map_err(taken)?,
        None => row.insert(&txn).await.map_err(taken)?,
    };
    if saved.is_primary {
        clear_primary(&txn, &client.id, &saved.id).await?;
    }
    let (event, status) = Event::saved(
        "ClientContact",
        &saved.id,
        current.as_ref().map(audit::snapshot),
        audit::snapshot(&saved),
    );
    audit::record(&txn, Who::from(me), event).await?;
    txn.commit().await?;
    Ok((status, Json(out(client, saved))))
}

/// Adds a contact to the client.
#[utoipa::path(post, path = "/api/clients/{client_id}/contacts/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path)), request_body = ContactIn, responses((status = 201, body = ContactOut)))]
pub async fn create_contact(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path(client_id): Path<String>,
    Json(input): Json<ContactIn>,
) -> ApiResult<(StatusCode, Json<ContactOut>)> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    save(&db, &me, &client, None, input, false).await
}

/// Replaces a contact.
#[utoipa::path(put, path = "/api/clients/{client_id}/contacts/{id}/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), request_body = ContactIn, responses((status = 200, body = ContactOut)))]
pub async fn put_contact(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
    Json(input): Json<ContactIn>,
) -> ApiResult<Json<ContactOut>> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    let current = live(&*db, &client, &id).await?;
    save(&db, &me, &client, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a contact's fields.
#[utoipa::path(patch, path = "/api/clients/{client_id}/contacts/{id}/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), request_body = ContactIn, responses((status = 200, body = ContactOut)))]
pub async fn patch_contact(
    db: Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
    Json(input): Json<ContactIn>,
) -> ApiResult<Json<ContactOut>> {
    let client = clients::visible(&*db, &me, &client_id).await?;
    let current = live(&*db, &client, &id).await?;
    save(&db, &me, &client, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a contact.
#[utoipa::path(delete, path = "/api/clients/{client_id}/contacts/{id}/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 204)))]
pub async fn delete_contact(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let before = live(&db, &client, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<contact::Entity>(&txn, &me, &before.id, audit::snapshot(&before))
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a contact the client's primary one (the others stop being so).
#[utoipa::path(post, path = "/api/clients/{client_id}/contacts/{id}/set_primary/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 200, body = ContactOut)))]
pub async fn set_primary_contact(
    Db(db): Db,
    me: Me,
    _client: SelectedClient,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ContactOut>> {
    let client = clients::visible(&db, &me, &client_id).await?;
    let before = live(&db, &client, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    clear_primary(&txn, &client.id, &before.id).await?;
    let mut row: contact::ActiveModel = before.clone().into();
    row.is_primary = Set(true);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&txn).await?;
    let event =
        Event::new("Update", "ClientContact", &after.id).change(Change::updated(&before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    txn.commit().await?;
    Ok(Json(out(&client, after)))
}

/// Undeletes a contact (platform users).
#[utoipa::path(post, path = "/api/clients/{client_id}/contacts/{id}/restore/", tag = "contacts", security(("jwt" = [])),
    params(("client_id" = String, Path), ("id" = String, Path)), responses((status = 200, body = ContactOut)))]
pub async fn restore_contact(
    Db(db): Db,
    me: Me,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<Json<ContactOut>> {
    // A client the caller cannot see is absent (404); restoring is for
    // platform users (403).
    let client = clients::visible(&db, &me, &client_id).await?;
    if !me.is_platform() {
        return Err(ApiError::forbidden(crate::access::NO_PERMISSION));
    }
    let scope = Condition::all().add(contact::Column::ClientId.eq(client.id.as_str()));
    let (txn, before, mut after) = rest::restore::<contact::Entity>(&db, &id, scope).await?;
    if after.is_primary {
        let mut row: contact::ActiveModel = after.clone().into();
        row.is_primary = Set(false);
        after = row.update(&txn).await?;
    }
    let event = Event::new("Update", "ClientContact", &after.id)
        .change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    txn.commit().await?;
    Ok(Json(out(&client, after)))
}
