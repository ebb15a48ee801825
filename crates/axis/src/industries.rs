//! Industries (axis contract §4): a tree (`parent_id`) read by everyone
//! signed in and written by platform users. The tree is a small reference
//! table, so levels, paths and subtrees are computed from the live rows in
//! memory; no change may make an industry its own ancestor.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, Platform};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, industry};
use crate::rest::{self, List, Page};
use crate::state::AppState;

const MODEL: &str = "Industry";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_industries, create_industry))
        .routes(routes!(industry_roots))
        .routes(routes!(industry_tree))
        .routes(routes!(search_industries))
        .routes(routes!(
            get_industry,
            put_industry,
            patch_industry,
            delete_industry
        ))
        .routes(routes!(industry_children))
        .routes(routes!(industry_descendants))
        .routes(routes!(industry_subtree))
        .routes(routes!(restore_industry))
}

/// The live industries, indexed.
struct Tree {
    rows: Vec<industry::Model>,
    index: HashMap<String, usize>,
    /// Live clients per industry (those the caller may see).
    clients: HashMap<String, u64>,
}

impl Tree {
    async fn load(db: &impl ConnectionTrait, me: &Me) -> ApiResult<Self> {
        let rows = industry::Entity::find()
            .filter(industry::Column::DeletedAt.is_null())
            .all(db)
            .await?;
        let counts: Vec<(Option<String>, i64)> = client::Entity::find()
            .select_only()
            .column(client::Column::IndustryId)
            .column_as(client::Column::Id.count(), "n")
            .filter(client::Column::DeletedAt.is_null())
            .filter(client::Column::IndustryId.is_not_null())
            .filter(me.client_condition(client::Column::Id))
            .group_by(client::Column::IndustryId)
            .into_tuple()
            .all(db)
            .await?;
        let clients = counts
            .into_iter()
            .filter_map(|(id, n)| id.map(|id| (id, u64::try_from(n).unwrap_or(0))))
            .collect();
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Ok(Self {
            rows,
            index,
            clients,
        })
    }

    fn get(&self, id: &str) -> Option<&industry::Model> {
        self.index.get(id).map(|i| &self.rows[*i])
    }

    /// The ancestors of `id`, nearest first (stops at a cycle).
    fn ancestors(&self, id: &str) -> Vec<&industry::Model> {
        let mut out: Vec<&industry::Model> = Vec::new();
        let mut next = self.get(id).and_then(|r| r.parent_id.as_deref());
        while let Some(parent) = next.and_then(|p| self.get(p)) {
            if parent.id == id || out.iter().any(|a| a.id == parent.id) {
                break;
            }
            out.push(parent);
            next = parent.parent_id.as_deref();
        }
        out
    }

    fn level(&self, id: &str) -> usize {
        self.ancestors(id).len()
    }

    fn children(&self, id: &str) -> Vec<&industry::Model> {
        let mut out: Vec<&industry::Model> = self
            .rows
            .iter()
            .filter(|r| r.parent_id.as_deref() == Some(id))
            .collect();
        out.sort_by_key(|r| r.name.to_lowercase());
        out
    }

    /// Every industry below `id`, depth first.
    fn descendants(&self, id: &str) -> Vec<&industry::Model> {
        let mut out = Vec::new();
        let mut stack = vec![id.to_owned()];
        while let Some(next) = stack.pop() {
            for child in self.children(&next).into_iter().rev() {
                if child.id != id && !out.iter().any(|o: &&industry::Model| o.id == child.id) {
                    out.push(child);
                    stack.push(child.id.clone());
                }
            }
        }
        out
    }

    fn item(&self, row: &industry::Model) -> IndustryItem {
        let level = self.level(&row.id);
        IndustryItem {
            id: row.id.clone(),
            name: row.name.clone(),
            code: row.code.clone(),
            parent_id: row.parent_id.clone(),
            parent_name: row
                .parent_id
                .as_deref()
                .and_then(|p| self.get(p))
                .map(|p| p.name.clone()),
            level,
            depth: level,
            has_children: self
                .rows
                .iter()
                .any(|r| r.parent_id.as_deref() == Some(&row.id)),
            client_count: self.clients.get(&row.id).copied().unwrap_or(0),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    fn detail(&self, row: &industry::Model) -> IndustryOut {
        let mut path: Vec<String> = self
            .ancestors(&row.id)
            .iter()
            .rev()
            .map(|a| a.name.clone())
            .collect();
        path.push(row.name.clone());
        IndustryOut {
            item: self.item(row),
            description: row.description.clone(),
            external_id: row.external_id.clone(),
            metadata: row.metadata.clone(),
            parent: row
                .parent_id
                .as_deref()
                .and_then(|p| self.get(p))
                .map(brief),
            full_path: path.join(" > "),
            children: self.children(&row.id).into_iter().map(brief).collect(),
            deleted_at: row.deleted_at,
        }
    }

    fn node(&self, row: &industry::Model, seen: &mut Vec<String>) -> TreeNode {
        seen.push(row.id.clone());
        let children = self
            .children(&row.id)
            .into_iter()
            .filter(|c| !seen.contains(&c.id))
            .collect::<Vec<_>>();
        TreeNode {
            id: row.id.clone(),
            name: row.name.clone(),
            code: row.code.clone(),
            parent_id: row.parent_id.clone(),
            level: self.level(&row.id),
            children: children.into_iter().map(|c| self.node(c, seen)).collect(),
        }
    }
}

fn brief(row: &industry::Model) -> IndustryBrief {
    IndustryBrief {
        id: row.id.clone(),
        name: row.name.clone(),
        code: row.code.clone(),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndustryBrief {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
}

/// An industry in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndustryItem {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub parent_id: Option<String>,
    pub parent_name: Option<String>,
    /// Depth in the tree (0 for roots).
    pub level: usize,
    /// The same as `level`.
    pub depth: usize,
    pub has_children: bool,
    pub client_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One industry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndustryOut {
    #[serde(flatten)]
    pub item: IndustryItem,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub metadata: Value,
    pub parent: Option<IndustryBrief>,
    /// `Finance > Banking`.
    pub full_path: String,
    pub children: Vec<IndustryBrief>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TreeNode {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub parent_id: Option<String>,
    pub level: usize,
    #[schema(no_recursion)]
    pub children: Vec<TreeNode>,
}

/// The rows `list` asks for: search, filters, ordering.
fn select<'t>(tree: &'t Tree, list: &List) -> ApiResult<Vec<&'t industry::Model>> {
    let has_children = rest::flag(list, "has_children")?;
    let search = list.get("search").map(str::trim).map(str::to_lowercase);
    let parent = list.get("parent_id").or(list.get("parent")).map(str::trim);
    let code = list.get("code").map(str::trim);
    let name = list.get("name").map(str::trim);
    let mut rows: Vec<&industry::Model> = tree
        .rows
        .iter()
        .filter(|r| match &search {
            Some(s) => s.split_whitespace().all(|term| {
                rest::contains(Some(&r.name), term)
                    || rest::contains(r.code.as_deref(), term)
                    || rest::contains(r.description.as_deref(), term)
            }),
            None => true,
        })
        .filter(|r| parent.is_none_or(|p| r.parent_id.as_deref() == Some(p)))
        .filter(|r| {
            code.is_none_or(|c| r.code.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(c)))
        })
        .filter(|r| name.is_none_or(|n| rest::contains(Some(&r.name), n)))
        .filter(|r| {
            has_children.is_none_or(|want| {
                tree.rows
                    .iter()
                    .any(|c| c.parent_id.as_deref() == Some(&r.id))
                    == want
            })
        })
        .collect();
    let ordering = list.get("ordering").unwrap_or("level,name");
    let keys: Vec<(&str, bool)> = ordering
        .split(',')
        .map(str::trim)
        .filter_map(|k| {
            let (name, desc) = match k.strip_prefix('-') {
                Some(n) => (n, true),
                None => (k, false),
            };
            ["name", "code", "level", "created_at"]
                .contains(&name)
                .then_some((name, desc))
        })
        .collect();
    let keys = if keys.is_empty() {
        vec![("level", false), ("name", false)]
    } else {
        keys
    };
    rows.sort_by(|a, b| {
        for (key, desc) in &keys {
            let order = match *key {
                "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                "code" => a.code.cmp(&b.code),
                "level" => tree.level(&a.id).cmp(&tree.level(&b.id)),
                _ => a.created_at.cmp(&b.created_at),
            };
            let order = if *desc { order.reverse() } else { order };
            if order.is_ne() {
                return order;
            }
        }
        a.id.cmp(&b.id)
    });
    Ok(rows)
}

/// Industries, a page at a time: search `name, code, description`; filters
/// `parent_id, code, has_children`; ordering `name, code, level, created_at`
/// (default `level,name`).
#[utoipa::path(get, path = "/api/industries/", tag = "industries", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query), ("parent_id" = Option<String>, Query),
        ("code" = Option<String>, Query), ("has_children" = Option<bool>, Query)),
    responses((status = 200, body = Page<IndustryItem>)))]
pub async fn list_industries(
    Db(db): Db,
    me: Me,
    list: List,
) -> ApiResult<Json<Page<IndustryItem>>> {
    let tree = Tree::load(&db, &me).await?;
    let rows = select(&tree, &list)?;
    let items = rows.into_iter().map(|r| tree.item(r)).collect();
    Ok(Json(rest::page_of(&list, items)?))
}

/// Root industries.
#[utoipa::path(get, path = "/api/industries/roots/", tag = "industries", security(("jwt" = [])),
    responses((status = 200, body = Vec<IndustryItem>)))]
pub async fn industry_roots(Db(db): Db, me: Me) -> ApiResult<Json<Vec<IndustryItem>>> {
    let tree = Tree::load(&db, &me).await?;
    let mut roots: Vec<&industry::Model> = tree
        .rows
        .iter()
        .filter(|r| tree.level(&r.id) == 0)
        .collect();
    roots.sort_by_key(|r| r.name.to_lowercase());
    Ok(Json(roots.into_iter().map(|r| tree.item(r)).collect()))
}

/// The whole tree, from its roots.
#[utoipa::path(get, path = "/api/industries/tree/", tag = "industries", security(("jwt" = [])),
    responses((status = 200, body = Vec<TreeNode>)))]
pub async fn industry_tree(Db(db): Db, me: Me) -> ApiResult<Json<Vec<TreeNode>>> {
    let tree = Tree::load(&db, &me).await?;
    let mut roots: Vec<&industry::Model> = tree
        .rows
        .iter()
        .filter(|r| tree.level(&r.id) == 0)
        .collect();
    roots.sort_by_key(|r| r.name.to_lowercase());
    let mut seen = Vec::new();
    Ok(Json(
        roots.into_iter().map(|r| tree.node(r, &mut seen)).collect(),
    ))
}

/// Industries matching `name` (contains), `code`, `parent_id`, `has_children`.
#[utoipa::path(get, path = "/api/industries/search/", tag = "industries", security(("jwt" = [])),
    params(("name" = Option<String>, Query), ("code" = Option<String>, Query), ("parent_id" = Option<String>, Query),
        ("has_children" = Option<bool>, Query)),
    responses((status = 200, body = Vec<IndustryItem>)))]
pub async fn search_industries(
    Db(db): Db,
    me: Me,
    list: List,
) -> ApiResult<Json<Vec<IndustryItem>>> {
    let tree = Tree::load(&db, &me).await?;
    let rows = select(&tree, &list)?;
    Ok(Json(
        rows.into_iter()
            .take(rest::ARRAY_LIMIT as usize)
            .map(|r| tree.item(r))
            .collect(),
    ))
}

fn found<'t>(tree: &'t Tree, id: &str) -> ApiResult<&'t industry::Model> {
    let id = rest::path_id(id, MODEL)?;
    tree.get(&id).ok_or_else(|| rest::not_found(MODEL))
}

/// One industry with its parent, path and children.
#[utoipa::path(get, path = "/api/industries/{id}/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = IndustryOut)))]
pub async fn get_industry(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<IndustryOut>> {
    let tree = Tree::load(&db, &me).await?;
    let row = found(&tree, &id)?;
    Ok(Json(tree.detail(row)))
}

/// The direct children of an industry.
#[utoipa::path(get, path = "/api/industries/{id}/children/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<IndustryItem>)))]
pub async fn industry_children(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<IndustryItem>>> {
    let tree = Tree::load(&db, &me).await?;
    let row = found(&tree, &id)?;
    Ok(Json(
        tree.children(&row.id)
            .into_iter()
            .map(|r| tree.item(r))
            .collect(),
    ))
}

/// Every industry below one, at all levels.
#[utoipa::path(get, path = "/api/industries/{id}/descendants/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<IndustryItem>)))]
pub async fn industry_descendants(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<IndustryItem>>> {
    let tree = Tree::load(&db, &me).await?;
    let row = found(&tree, &id)?;
    Ok(Json(
        tree.descendants(&row.id)
            .into_iter()
            .map(|r| tree.item(r))
            .collect(),
    ))
}

/// The tree below (and including) one industry.
#[utoipa::path(get, path = "/api/industries/{id}/subtree/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<TreeNode>)))]
pub async fn industry_subtree(
    Db(db): Db,
    me: Me,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TreeNode>>> {
    let tree = Tree::load(&db, &me).await?;
    let row = found(&tree, &id)?;
    let mut seen = Vec::new();
    Ok(Json(vec![tree.node(row, &mut seen)]))
}

/// The writable fields of an industry. `name` is unique among live
/// industries (ignoring case), as are `code` and `external_id`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IndustryIn {
    /// Not blank.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    code: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
    description: Field<String>,
    /// A live industry, neither this one nor below it (alias `parent`).
    #[serde(default, alias = "parent")]
    #[schema(schema_with = crate::clients::schema::optional_cuid)]
    parent_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    external_id: Field<String>,
    /// A JSON object (null reads as `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Field<Value>,
}

/// What `industry::Model` snapshots show (without its key columns).
fn record(row: &industry::Model) -> Value {
    audit::snapshot(row)
}

async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<industry::Model>,
    input: IndustryIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<IndustryOut>)> {
    let mut c = if current.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = match &input.name {
        Field::Value(v) if v.trim().is_empty() => {
            c.error("name", "Industry name cannot be empty");
            None
        }
        _ => c.text("name", input.name, 100),
    };
    let code = c.optional_text("code", input.code, 50);
    let description = c.optional_text("description", input.description, 5000);
    let parent_id = c.optional_text("parent_id", input.parent_id, 64);
    let external_id = c.optional_text("external_id", input.external_id, 100);
    let metadata = rest::metadata(&mut c, input.metadata, current.is_none());
    let tree = Tree::load(&**db, me).await?;
    let own_id = current.as_ref().map(|r| r.id.clone());
    let others = |f: &dyn Fn(&industry::Model) -> bool| {
        tree.rows
            .iter()
            .any(|r| Some(&r.id) != own_id.as_ref() && f(r))
    };
    if let Some(name) = &name
        && others(&|r| r.name.to_lowercase() == name.to_lowercase())
    {
        c.error(
            "name",
            format!("Industry with name '{name}' already exists"),
        );
    }
    if let Some(Some(code)) = &code
        && others(&|r| {
            r.code
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(code))
        })
    {
        c.error(
            "code",
            format!("Industry with code '{code}' already exists"),
        );
    }
    if let Some(Some(ext)) = &external_id
        && others(&|r| {
            r.external_id
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        })
    {
        c.error(
            "external_id",
            format!("Industry with external id '{ext}' already exists"),
        );
    }
    if let Some(Some(parent)) = &parent_id {
        if own_id.as_deref() == Some(parent.as_str()) {
            c.error("parent_id", "Industry cannot be its own parent");
        } else if tree.get(parent).is_none() {
            c.error("parent_id", rest::invalid_pk_message(parent));
        } else if let Some(own) = &own_id
            && (tree.ancestors(parent).iter().any(|a| &a.id == own))
        {
            c.error(
                "parent_id",
                "Cannot update: would create circular reference in hierarchy",
            );
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let (row, event) = match current {
        None => {
            let name = name.unwrap_or_default();
            let row = industry::ActiveModel {
                id: Set(kernel::cuid::new()),
                name_key: Set(name.to_lowercase()),
                name: Set(name),
                code: Set(code.flatten()),
                description: Set(description.flatten()),
                parent_id: Set(parent_id.flatten()),
                external_id: Set(external_id.flatten()),
                metadata: Set(metadata.unwrap_or_else(|| json!({}))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                tombstone: Set(String::new()),
            }
            .insert(&txn)
            .await
            .map_err(taken)?;
            let event = Change::created(&record(&row));
            (row, ("Create", event, 201))
        }
        Some(before) => {
            let mut row: industry::ActiveModel = before.clone().into();
            if let Some(name) = name {
                row.name_key = Set(name.to_lowercase());
                row.name = Set(name);
            }
            if let Some(v) = code {
                row.code = Set(v);
            }
            if let Some(v) = description {
                row.description = Set(v);
            }
            if let Some(v) = parent_id {
                row.parent_id = Set(v);
            }
            if let Some(v) = external_id {
                row.external_id = Set(v);
            }
            if let Some(v) = metadata {
                row.metadata = Set(v);
            }
            row.updated_at = Set(now);
            let after = row.update(&txn).await.map_err(taken)?;
            let event = Change::updated(&record(&before), &record(&after));
            (after, ("Update", event, 200))
        }
    };
    let (action, change, status) = event;
    let event = Event::new(action, MODEL, &row.id)
        .status(status)
        .change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let tree = Tree::load(&txn, me).await?;
    let out = tree
        .get(&row.id)
        .map(|r| tree.detail(r))
        .ok_or_else(|| rest::not_found(MODEL))?;
    txn.commit().await?;
    let code = if status == 201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(out)))
}

/// A unique value taken by a concurrent write.
fn taken(error: sea_orm::DbErr) -> ApiError {
    if !rest::is_unique(&error) {
        return error.into();
    }
    let text = error.to_string();
    let field = ["code", "external_id"]
        .into_iter()
        .find(|f| text.contains(&format!("uq_axis_industries_{f}")))
        .unwrap_or("name");
    ApiError::field(field, "An industry with this value already exists.")
}

/// Creates an industry (platform users).
#[utoipa::path(post, path = "/api/industries/", tag = "industries", security(("jwt" = [])),
    request_body = IndustryIn, responses((status = 201, body = IndustryOut)))]
pub async fn create_industry(
    db: Db,
    Platform(me): Platform,
    Json(input): Json<IndustryIn>,
) -> ApiResult<(StatusCode, Json<IndustryOut>)> {
    save(&db, &me, None, input, false).await
}

async fn live(db: &impl ConnectionTrait, id: &str) -> ApiResult<industry::Model> {
    let id = rest::path_id(id, MODEL)?;
    industry::Entity::find_by_id(id)
        .filter(industry::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| rest::not_found(MODEL))
}

/// Replaces an industry (platform users).
#[utoipa::path(put, path = "/api/industries/{id}/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = IndustryIn, responses((status = 200, body = IndustryOut)))]
pub async fn put_industry(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    Json(input): Json<IndustryIn>,
) -> ApiResult<Json<IndustryOut>> {
    let current = live(&*db, &id).await?;
    save(&db, &me, Some(current), input, false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of an industry's fields (platform users).
#[utoipa::path(patch, path = "/api/industries/{id}/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = IndustryIn, responses((status = 200, body = IndustryOut)))]
pub async fn patch_industry(
    db: Db,
    Platform(me): Platform,
    Path(id): Path<String>,
    Json(input): Json<IndustryIn>,
) -> ApiResult<Json<IndustryOut>> {
    let current = live(&*db, &id).await?;
    save(&db, &me, Some(current), input, true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes an industry without live children (platform users).
#[utoipa::path(delete, path = "/api/industries/{id}/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_industry(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = live(&db, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let children = industry::Entity::find()
        .filter(industry::Column::ParentId.eq(before.id.as_str()))
        .filter(industry::Column::DeletedAt.is_null())
        .one(&txn)
        .await?;
    if children.is_some() {
        return Err(rest::invalid_state(
            "Cannot delete an industry that has child industries",
        ));
    }
    rest::delete_recorded::<industry::Entity>(&txn, &me, &before.id, record(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes an industry (platform users).
#[utoipa::path(post, path = "/api/industries/{id}/restore/", tag = "industries", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = IndustryOut)))]
pub async fn restore_industry(
    Db(db): Db,
    Platform(me): Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<IndustryOut>> {
    let (txn, before, _) =
        rest::restore::<industry::Entity>(&db, &id, sea_orm::Condition::all()).await?;
    let tree = Tree::load(&txn, &me).await?;
    let after = tree.get(&before.id).ok_or_else(|| rest::not_found(MODEL))?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = tree.detail(after);
    txn.commit().await?;
    Ok(Json(out))
}
