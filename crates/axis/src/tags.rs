//! Client tags (axis contract §5, "Tags"): `tags/` read by everyone signed
//! in and written by platform users; system tags cannot be renamed or
//! deleted; `stats/`.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, tag, tag_link};
use crate::rest::{self, List, Page};
use crate::state::AppState;

const MODEL: &str = "Tag";
const DEFAULT_COLOR: &str = "#6B7280";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(tag_stats))
        .routes(routes!(get_tag, put_tag, patch_tag, delete_tag))
        .routes(routes!(restore_tag))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagOut {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub color: String,
    pub description: Option<String>,
    pub is_system: bool,
    /// Live clients (the caller may see) carrying the tag.
    pub client_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live, visible clients per tag.
async fn counts(
    db: &impl ConnectionTrait,
    me: &Me,
    tags: &[String],
) -> ApiResult<HashMap<String, u64>> {
    let rows: Vec<(String, i64)> = tag_link::Entity::find()
        .select_only()
        .column(tag_link::Column::TagId)
        .column_as(tag_link::Column::Id.count(), "n")
        .filter(tag_link::Column::TagId.is_in(tags.to_vec()))
        .filter(
            tag_link::Column::ClientId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(client::Column::Id)
                    .from(client::Entity)
                    .and_where(Expr::col(client::Column::DeletedAt).is_null())
                    .cond_where(me.client_condition(client::Column::Id))
                    .to_owned(),
            ),
        )
        .group_by(tag_link::Column::TagId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

async fn render(
    db: &impl ConnectionTrait,
    me: &Me,
    rows: Vec<tag::Model>,
) -> ApiResult<Vec<TagOut>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts = counts(db, me, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| TagOut {
            client_count: counts.get(&r.id).copied().unwrap_or(0),
            id: r.id,
            name: r.name,
            slug: r.slug,
            color: r.color,
            description: r.description,
            is_system: r.is_system,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

/// Tags, a page at a time; search `name, slug, description`; filter `is_system`.
#[utoipa::path(get, path = "/api/tags/", tag = "tags", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("is_system" = Option<bool>, Query)),
    responses((status = 200, body = Page<TagOut>)))]
pub async fn list_tags(Db(db): Db, me: Me, list: List) -> ApiResult<Json<Page<TagOut>>> {
    let query = tag::Entity::find().filter(tag::Column::DeletedAt.is_null());
    let query = list.filter(
        query,
        "is_system",
        tag::Column::IsSystem,
        kernel::listing::FilterKind::Bool,
    )?;
    let query = list.search(
        query,
        &[
            Expr::col(tag::Column::Name),
            Expr::col(tag::Column::Slug),
            Expr::col(tag::Column::Description),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", Expr::col(tag::Column::Name)),
            ("created_at", Expr::col(tag::Column::CreatedAt)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        tag::Column::Id,
    );
    let page = list.page(&db, query, rest::PAGE).await?;
    let rows = render(&db, &me, page.data.clone()).await?;
    Ok(Json(page.with_data(rows)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagUse {
    pub id: String,
    pub name: String,
    pub client_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagStats {
    pub total_tags: u64,
    pub system_tags: u64,
    pub custom_tags: u64,
    /// The five tags on most clients.
    pub most_used: Vec<TagUse>,
    /// Tags on no client.
    pub unused_tags: u64,
}

/// How tags are used.
#[utoipa::path(get, path = "/api/tags/stats/", tag = "tags", security(("jwt" = [])),
    responses((status = 200, body = TagStats)))]
pub async fn tag_stats(Db(db): Db, me: Me) -> ApiResult<Json<TagStats>> {
    let tags = tag::Entity::find()
        .filter(tag::Column::DeletedAt.is_null())
        .all(&db)
        .await?;
    let ids: Vec<String> = tags.iter().map(|t| t.id.clone()).collect();
    let counts = counts(&db, &me, &ids).await?;
    let mut used: Vec<TagUse> = tags
        .iter()
        .map(|t| TagUse {
            id: t.id.clone(),
            name: t.name.clone(),
            client_count: counts.get(&t.id).copied().unwrap_or(0),
        })
        .collect();
    let unused = used.iter().filter(|u| u.client_count == 0).count();
    used.retain(|u| u.client_count > 0);
    used.sort_by(|a, b| {
        b.client_count
            .cmp(&a.client_count)
            .then(a.name.cmp(&b.name))
    });
    used.truncate(5);
    let system = tags.iter().filter(|t| t.is_system).count();
    let n = |v: usize| u64::try_from(v).unwrap_or(0);
    Ok(Json(TagStats {
        total_tags: n(tags.len()),
        system_tags: n(system),
        custom_tags: n(tags.len() - system),
        most_used: used,
        unused_tags: n(unused),
    }))
}

async fn live(db: &impl ConnectionTrait, id: &str) -> ApiResult<tag::Model> {
    let id = rest::path_id(id, MODEL)?;
    tag::Entity::find_by_id(id)
        .filter(tag::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

/// One tag.
#[utoipa::path(get, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TagOut)))]
pub async fn get_tag(Db(db): Db, me: Me, Path(id): Path<String>) -> ApiResult<Json<TagOut>> {
    let row = live(&db, &id).await?;
    one(&db, &me, row).await.map(Json)
}

async fn one(db: &impl ConnectionTrait, me: &Me, row: tag::Model) -> ApiResult<TagOut> {
    render(db, me, vec![row])
        .await?
        .pop()
        .ok_or_else(|| rest::not_found(MODEL))
}

/// `#RRGGBB`; null means the default, #6B7280.
fn color() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^#[0-9A-Fa-f]{6}$")),
    )
}

/// The writable fields of a tag. Its slug (the name lower-cased, with
/// runs of anything but letters and digits as `-`) is unique among live
/// tags; a system tag keeps its name and stays a system tag.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TagIn {
    /// Not blank, with a letter or a digit (the slug is made of them:
    /// `Enter a name with at least one letter or digit.`; "letter or
    /// digit" in Unicode's sense, which patterns read differently).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = color)]
    color: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    is_system: Field<bool>,
}

/// `name` lower-cased, with runs of anything but letters and digits as `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(100).collect()
}

const TAKEN: &str = "A tag with this name already exists.";

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<tag::Model>,
    input: TagIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<TagOut>)> {
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    let name = c.text("name", input.name, 100);
    let color = match input.color {
        Field::Value(v) => {
            let v = v.trim().to_owned();
            let ok =
                v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                c.error("color", "Enter a valid hex color, such as #6B7280.");
            }
            ok.then(|| v.to_uppercase())
        }
        Field::Null => Some(DEFAULT_COLOR.to_owned()),
        Field::Absent => current.is_none().then(|| DEFAULT_COLOR.to_owned()),
    };
    let description = c.optional_text("description", input.description, 5000);
    let is_system = c.boolean("is_system", input.is_system, false);
    if let (Some(before), Some(false)) = (&current, is_system)
        && before.is_system
    {
        return Err(rest::invalid_state("System tags cannot be made custom."));
    }
    if let (Some(before), Some(name)) = (&current, &name)
        && before.is_system
        && *name != before.name
    {
        return Err(rest::invalid_state("System tags cannot be renamed."));
    }
    if let Some(name) = &name {
        if slugify(name).is_empty() {
            c.error("name", "Enter a name with at least one letter or digit.");
        }
        let clash = tag::Entity::find()
            .filter(tag::Column::DeletedAt.is_null())
            .filter(tag::Column::Slug.eq(slugify(name)))
            .all(&**db)
            .await?
            .into_iter()
            .any(|t| Some(&t.id) != current.as_ref().map(|c| &c.id));
        if clash {
            c.error("name", TAKEN);
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let taken = |e: sea_orm::DbErr| {
        if rest::is_unique(&e) {
            ApiError::field("name", TAKEN)
        } else {
            e.into()
        }
    };
    let (row, change, status) = match current {
        None => {
            let name = name.unwrap_or_default();
            let row = tag::ActiveModel {
                id: Set(kernel::cuid::new()),
                slug: Set(slugify(&name)),
                name: Set(name),
                color: Set(color.unwrap_or_else(|| DEFAULT_COLOR.to_owned())),
                description: Set(description.flatten()),
                is_system: Set(is_system.unwrap_or(false)),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                tombstone: Set(String::new()),
            }
            .insert(&txn)
            .await
            .map_err(taken)?;
            let change = Change::created(&row);
            (row, ("Create", change), 201)
        }
        Some(before) => {
            let mut row: tag::ActiveModel = before.clone().into();
            if let Some(name) = name {
                row.slug = Set(slugify(&name));
                row.name = Set(name);
            }
            if let Some(v) = color {
                row.color = Set(v);
            }
            if let Some(v) = description {
                row.description = Set(v);
            }
            if let Some(v) = is_system {
                row.is_system = Set(v);
            }
            row.updated_at = Set(now);
            let after = row.update(&txn).await.map_err(taken)?;
            let change = Change::updated(&before, &after);
            (after, ("Update", change), 200)
        }
    };
    let (action, change) = change;
    let event = Event::new(action, "ClientTag", &row.id)
        .status(status)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = one(&txn, me, row).await?;
    txn.commit().await?;
    let status = if status == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// Creates a tag (platform users).
#[utoipa::path(post, path = "/api/tags/", tag = "tags", security(("jwt" = [])),
    request_body = TagIn, responses((status = 201, body = TagOut)))]
pub async fn create_tag(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<TagIn>,
) -> ApiResult<(StatusCode, Json<TagOut>)> {
    save(&db, &me, None, input, false).await
}

/// Replaces a tag (platform users); a system tag keeps its name.
#[utoipa::path(put, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = TagIn, responses((status = 200, body = TagOut)))]
pub async fn put_tag(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    Json(input): Json<TagIn>,
) -> ApiResult<Json<TagOut>> {
    let current = live(&*db, &id).await?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a tag's fields (platform users).
#[utoipa::path(patch, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = TagIn, responses((status = 200, body = TagOut)))]
pub async fn patch_tag(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    Json(input): Json<TagIn>,
) -> ApiResult<Json<TagOut>> {
    let current = live(&*db, &id).await?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a tag (platform users); system tags cannot be deleted.
#[utoipa::path(delete, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_tag(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = live(&db, &id).await?;
    if before.is_system {
        return Err(rest::invalid_state("System tags cannot be deleted"));
    }
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<tag::Entity>(&txn, &me, &before.id, audit::snapshot(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a tag (platform users).
#[utoipa::path(post, path = "/api/tags/{id}/restore/", tag = "tags", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TagOut)))]
pub async fn restore_tag(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<TagOut>> {
    let (txn, before, after) =
        rest::restore::<tag::Entity>(&db, &id, sea_orm::Condition::all()).await?;
    let event = Event::new("Update", "ClientTag", &after.id)
        .change(Change::action("Restore", &before, &after));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = one(&txn, &me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}
