//! `/api/admin-notes/`: what administrators record about candidates
//! (administrators and superusers only). Title and text are sealed at rest.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::{ClientIp, IntId};
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Json, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Actor};
use crate::entities::admin_note::{self, CATEGORIES};
use crate::entities::user::{self, Role};
use crate::principal::{CurrentUser, Staff};
use crate::seal::Row;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_admin_notes, create_admin_note))
        .routes(routes!(candidate_admin_notes))
        .routes(routes!(
            retrieve_admin_note,
            update_admin_note,
            partial_update_admin_note,
            destroy_admin_note
        ))
}

/// A note, decrypted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminNoteOut {
    pub id: i64,
    /// The candidate the note is about.
    pub candidate: i64,
    /// The administrator who wrote it.
    pub admin: i64,
    /// progress, concern, achievement, medical, accommodation or general.
    pub category: String,
    pub title: String,
    pub note_text: String,
    /// The original's name for `note_text`.
    pub content: String,
    /// Comma-separated.
    pub tags: String,
    pub is_important: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

pub(crate) fn open_text(state: &AppState, n: &admin_note::Model) -> ApiResult<(String, String)> {
    let row = Row::new(&state.keys, admin_note::TABLE, n.id);
    Ok((
        row.text("title", n.title.as_deref())?,
        row.text("note_text", n.note_text.as_deref())?,
    ))
}

impl AdminNoteOut {
    fn open(state: &AppState, n: &admin_note::Model) -> ApiResult<Self> {
        let (title, note_text) = open_text(state, n)?;
        Ok(Self {
            id: n.id,
            candidate: n.candidate_id,
            admin: n.admin_id,
            category: n.category.clone(),
            title,
            content: note_text.clone(),
            note_text,
            tags: n.tags.clone(),
            is_important: n.is_important,
            created_at: n.created_at,
            updated_at: n.updated_at,
        })
    }
}

/// An audit snapshot: which fields changed, never the text.
fn snapshot(n: &admin_note::Model, title: &str, text: &str) -> Value {
    json!({
        "candidate": n.candidate_id,
        "category": n.category,
        "title": title,
        "note_text": text,
        "tags": n.tags,
        "is_important": n.is_important,
    })
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No AdminNote matches the given query.")
}

async fn find_note<C: ConnectionTrait>(db: &C, id: i64) -> ApiResult<admin_note::Model> {
    admin_note::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

async fn page(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    list: &ListQuery,
    mut query: Select<admin_note::Entity>,
) -> ApiResult<Page<AdminNoteOut>> {
    query = list.filter(
        query,
        "candidate",
        admin_note::Column::CandidateId,
        FilterKind::Int,
    )?;
    query = list.filter(query, "admin", admin_note::Column::AdminId, FilterKind::Int)?;
    query = list.filter(
        query,
        "category",
        admin_note::Column::Category,
        FilterKind::Choice(CATEGORIES),
    )?;
    query = list.filter(
        query,
        "is_important",
        admin_note::Column::IsImportant,
        FilterKind::Bool,
    )?;
    query = list.search(query, &[admin_note::Column::Tags.into_simple_expr()]);
    let query = list.order(
        query,
        &[
            (
                "created_at",
                admin_note::Column::CreatedAt.into_simple_expr(),
            ),
            (
                "updated_at",
                admin_note::Column::UpdatedAt.into_simple_expr(),
            ),
            ("category", admin_note::Column::Category.into_simple_expr()),
            (
                "is_important",
                admin_note::Column::IsImportant.into_simple_expr(),
            ),
        ],
        &[("created_at", Order::Desc)],
        admin_note::Column::Id,
    );
    let page = list.page(db, query, PageSize::DEFAULT).await?;
    let mut results = Vec::with_capacity(page.results.len());
    for note in &page.results {
        results.push(AdminNoteOut::open(state, note)?);
    }
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    })
}

/// List notes, newest first. Filters: `candidate`, `admin`, `category`,
/// `is_important`; `?search=` over tags; ordering: `created_at`,
/// `updated_at`, `category`, `is_important`.
#[utoipa::path(get, path = "/api/admin-notes/", tag = "admin-notes", security(("jwt" = [])),
    params(("candidate" = Option<i64>, Query), ("admin" = Option<i64>, Query), ("category" = inline(Option<NoteCategory>), Query),
           ("is_important" = Option<bool>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AdminNoteOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn list_admin_notes(
    State(state): State<AppState>,
    Db(db): Db,
    _staff: Staff,
    list: ListQuery,
) -> ApiResult<Json<Page<AdminNoteOut>>> {
    Ok(Json(
        page(&state, &db, &list, admin_note::Entity::find()).await?,
    ))
}

/// Notes about one candidate, newest first (same filters as the list).
#[utoipa::path(get, path = "/api/admin-notes/candidate/{id}/", tag = "admin-notes", security(("jwt" = [])),
    params(("id" = i64, Path, description = "The candidate's user id"), ("candidate" = Option<i64>, Query), ("admin" = Option<i64>, Query),
           ("category" = inline(Option<NoteCategory>), Query), ("is_important" = Option<bool>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<AdminNoteOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn candidate_admin_notes(
    State(state): State<AppState>,
    Db(db): Db,
    _staff: Staff,
    IntId(id): IntId,
    list: ListQuery,
) -> ApiResult<Json<Page<AdminNoteOut>>> {
    user::Entity::find_by_id(id)
        .filter(user::Column::Role.eq(Role::Candidate))
        .one(&db)
        .await?
        .ok_or_else(crate::users::user_not_found)?;
    let query = admin_note::Entity::find().filter(admin_note::Column::CandidateId.eq(id));
    Ok(Json(page(&state, &db, &list, query).await?))
}

kernel::choices!(
    /// What a note is about.
    pub NoteCategory = CATEGORIES
);

/// The writable fields of a note. On PUT, optional fields left out keep
/// their values.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AdminNoteIn {
    /// The candidate's user id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub candidate: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<10000>, required = true)]
    pub note_text: Field<String>,
    /// The original's name for `note_text`.
    #[serde(default)]
    #[schema(ignore)]
    pub content: Field<String>,
    /// Defaults to `general`.
    #[serde(default)]
    #[schema(value_type = NoteCategory, required = false)]
    pub category: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<200>)]
    pub title: Field<String>,
    /// Comma-separated; blanks and spaces around tags are dropped.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
    pub tags: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub is_important: Field<bool>,
}

#[derive(Default)]
struct Changes {
    candidate: Option<i64>,
    note_text: Option<String>,
    category: Option<String>,
    title: Option<String>,
    tags: Option<String>,
    is_important: Option<bool>,
}

fn normalize_tags(tags: &str) -> String {
    tags.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

async fn check(
    db: &sea_orm::DatabaseConnection,
    input: AdminNoteIn,
    partial: bool,
) -> ApiResult<Changes> {
    let mut c = Checker::partial(partial);
    let text_field = match (input.note_text, input.content) {
        (Field::Absent, content) => ("content", content),
        (text, _) => ("note_text", text),
    };
    let note_text = match text_field {
        ("content", Field::Absent) => c.text("note_text", Field::Absent, 10_000),
        (name, field) => c.text(name, field, 10_000),
    };
    let candidate = c.value("candidate", input.candidate);
    // Optional fields left out are kept (PUT too); a new note takes their defaults.
    let category = match input.category {
        Field::Absent => None,
        other => c.choice("category", other, CATEGORIES),
    };
    let title = match input.title {
        Field::Absent => None,
        other => c
            .optional_text("title", other, 200)
            .map(Option::unwrap_or_default),
    };
    let tags = match input.tags {
        Field::Absent => None,
        other => c
            .optional_text("tags", other, 255)
            .map(|t| normalize_tags(&t.unwrap_or_default())),
    };
    let is_important = match input.is_important {
        Field::Absent => None,
        other => c.value("is_important", other),
    };
    if let Some(id) = candidate {
        let found = user::Entity::find_by_id(id)
            .filter(user::Column::Role.eq(Role::Candidate))
            .one(db)
            .await?;
        if found.is_none() {
            c.error(
                "candidate",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        }
    }
    c.finish()?;
    Ok(Changes {
        candidate,
        note_text,
        category,
        title,
        tags,
        is_important,
    })
}

/// Write a note about a candidate; `admin` is the caller.
#[utoipa::path(post, path = "/api/admin-notes/", tag = "admin-notes", security(("jwt" = [])), request_body = AdminNoteIn,
    responses((status = 201, body = AdminNoteOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_admin_note(
    State(state): State<AppState>,
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    Json(input): Json<AdminNoteIn>,
) -> ApiResult<(StatusCode, Json<AdminNoteOut>)> {
    let changes = check(&db, input, false).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let created = admin_note::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        candidate_id: Set(changes.candidate.unwrap_or_default()),
        admin_id: Set(me.id()),
        category: Set(changes.category.unwrap_or_else(|| "general".to_owned())),
        title: Set(None),
        note_text: Set(None),
        tags: Set(changes.tags.unwrap_or_default()),
        is_important: Set(changes.is_important.unwrap_or(false)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let (title, text) = (
        changes.title.unwrap_or_default(),
        changes.note_text.unwrap_or_default(),
    );
    // The id binds the ciphertext, so the text is sealed once the row has one.
    let row = Row::new(&state.keys, admin_note::TABLE, created.id);
    let mut model: admin_note::ActiveModel = created.into();
    model.title = Set(row.seal("title", Some(&title)));
    model.note_text = Set(row.seal("note_text", Some(&text)));
    let created = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::CREATE,
        "AdminNote",
        created.id,
        Some(audit::created(&snapshot(&created, &title, &text))),
    )
    .await?;
    let out = AdminNoteOut::open(&state, &created)?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A note.
#[utoipa::path(get, path = "/api/admin-notes/{id}/", tag = "admin-notes", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = AdminNoteOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_admin_note(
    State(state): State<AppState>,
    Db(db): Db,
    _staff: Staff,
    IntId(id): IntId,
) -> ApiResult<Json<AdminNoteOut>> {
    let note = find_note(&db, id).await?;
    Ok(Json(AdminNoteOut::open(&state, &note)?))
}

async fn write_note(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    id: i64,
    body: Result<Json<AdminNoteIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<AdminNoteOut>> {
    // DRF's order: the object (404), then the body (400).
    find_note(db, id).await?;
    let Json(input) = body?;
    let changes = check(db, input, partial).await?;
    let txn = kernel::db::begin_write(db).await?;
    let current = admin_note::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let (old_title, old_text) = open_text(state, &current)?;
    let title = changes.title.unwrap_or_else(|| old_title.clone());
    let text = changes.note_text.unwrap_or_else(|| old_text.clone());
    let row = Row::new(&state.keys, admin_note::TABLE, current.id);
    let mut model: admin_note::ActiveModel = current.clone().into();
    model.title = Set(row.seal("title", Some(&title)));
    model.note_text = Set(row.seal("note_text", Some(&text)));
    if let Some(v) = changes.candidate {
        model.candidate_id = Set(v);
    }
    if let Some(v) = changes.category {
        model.category = Set(v);
    }
    if let Some(v) = changes.tags {
        model.tags = Set(v);
    }
    if let Some(v) = changes.is_important {
        model.is_important = Set(v);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::UPDATE,
        "AdminNote",
        updated.id,
        Some(audit::changes(
            &snapshot(&current, &old_title, &old_text),
            &snapshot(&updated, &title, &text),
        )),
    )
    .await?;
    let out = AdminNoteOut::open(state, &updated)?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replace a note's fields.
#[utoipa::path(put, path = "/api/admin-notes/{id}/", tag = "admin-notes", security(("jwt" = [])), params(("id" = i64, Path)), request_body = AdminNoteIn,
    responses((status = 200, body = AdminNoteOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_admin_note(
    State(state): State<AppState>,
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<AdminNoteIn>, ApiError>,
) -> ApiResult<Json<AdminNoteOut>> {
    write_note(&state, &db, &me, ip, id, body, false).await
}

/// Change some of a note's fields.
#[utoipa::path(patch, path = "/api/admin-notes/{id}/", tag = "admin-notes", security(("jwt" = [])), params(("id" = i64, Path)), request_body = AdminNoteIn,
    responses((status = 200, body = AdminNoteOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_admin_note(
    State(state): State<AppState>,
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
    body: Result<Json<AdminNoteIn>, ApiError>,
) -> ApiResult<Json<AdminNoteOut>> {
    write_note(&state, &db, &me, ip, id, body, true).await
}

/// Delete a note.
#[utoipa::path(delete, path = "/api/admin-notes/{id}/", tag = "admin-notes", security(("jwt" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_admin_note(
    Db(db): Db,
    Staff(me): Staff,
    ClientIp(ip): ClientIp,
    IntId(id): IntId,
) -> ApiResult<StatusCode> {
    let note = find_note(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let deleted = admin_note::Entity::delete_by_id(note.id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    audit::record(
        &txn,
        Actor::user(me.id(), ip),
        Action::DELETE,
        "AdminNote",
        note.id,
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
