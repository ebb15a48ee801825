//! `erp/parents/` (contract §3 People): parents and guardians, created with
//! their user (role Parent) in one transaction, and their linked children.
//!
//! Reading needs `parents:read` with a reach: every row, `:own` (a parent's
//! own row) or `:class` (the parents of students in a teacher's classes).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::listing::{ListOf, PageOf, PageSize};
use kernel::money::Money;
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, IntoSimpleExpr, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{parent, student, student_parent, user};
use crate::envelope::{Data, created, ok};
use crate::erp::students::{
    StudentOut, apply_names, brief, deactivate, name_change, user_join, user_of, users_by_id,
};
use crate::rbac::{self, Me, Reach};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;
use crate::users::{self, UserBrief};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_parents, create_parent))
        .routes(routes!(
            retrieve_parent,
            update_parent,
            partial_update_parent,
            destroy_parent
        ))
        .routes(routes!(parent_children))
}

/// A parent as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ErpParentOut)]
pub struct ParentOut {
    pub id: i64,
    pub user: UserBrief,
    pub full_name: String,
    pub occupation: String,
    pub organization: String,
    /// An exact decimal, e.g. `"1234.50"`.
    pub annual_income: Option<String>,
    pub office_phone: String,
    pub can_pickup: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ParentOut {
    pub fn of(p: &parent::Model, u: Option<&user::Model>) -> Self {
        let (user, full_name) = brief(u);
        Self {
            id: p.id,
            user,
            full_name,
            occupation: p.occupation.clone(),
            organization: p.organization.clone(),
            annual_income: p.annual_income.map(|c| Money(c).to_string()),
            office_phone: p.office_phone.clone(),
            can_pickup: p.can_pickup,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

fn snapshot(p: &parent::Model, u: &user::Model) -> Value {
    json!({
        "user_id": p.user_id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "phone": u.phone, "is_active": u.is_active, "occupation": p.occupation,
        "organization": p.organization, "annual_income": p.annual_income.map(|c| Money(c).to_string()),
        "office_phone": p.office_phone, "can_pickup": p.can_pickup,
    })
}

/// A parent to create or change: the user's fields flat beside the parent's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpParentIn)]
pub struct ParentIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>)]
    pub last_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub occupation: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub organization: Field<String>,
    /// An exact decimal string such as `"1234.50"` (≥ 0), or null.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub annual_income: Field<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub office_phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub can_pickup: Field<bool>,
}

#[derive(Debug, Default)]
struct ParentFields {
    occupation: Option<String>,
    organization: Option<String>,
    annual_income: Option<Option<i64>>,
    office_phone: Option<String>,
    can_pickup: Option<bool>,
}

fn check_parent(c: &mut Checker, body: ParentIn) -> ParentFields {
    let annual_income = match c.nullable(body.annual_income) {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) => {
            let text = match &v {
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => Some(String::from("x")),
            };
            match text {
                None => Some(None),
                Some(t) => match Money::parse(&t) {
                    Some(m) if m.cents() >= 0 => Some(Some(m.cents())),
                    Some(_) => {
                        c.error(
                            "annual_income",
                            "Ensure this value is greater than or equal to 0.",
                        );
                        None
                    }
                    None => {
                        c.error(
                            "annual_income",
                            "A valid number is required (at most 2 decimal places).",
                        );
                        None
                    }
                },
            }
        }
    };
    ParentFields {
        occupation: c.blank_text("occupation", body.occupation, 100),
        organization: c.blank_text("organization", body.organization, 200),
        annual_income,
        office_phone: c.blank_text("office_phone", body.office_phone, 20),
        can_pickup: c.boolean("can_pickup", body.can_pickup, true),
    }
}

impl ParentFields {
    fn apply(self, row: &mut parent::ActiveModel) {
        if let Some(v) = self.occupation {
            row.occupation = Set(v);
        }
        if let Some(v) = self.organization {
            row.organization = Set(v);
        }
        if let Some(v) = self.annual_income {
            row.annual_income = Set(v);
        }
        if let Some(v) = self.office_phone {
            row.office_phone = Set(v);
        }
        if let Some(v) = self.can_pickup {
            row.can_pickup = Set(v);
        }
    }
}

/// The condition on `parents` a caller's `reach` allows (`None`: every row).
pub async fn parents_in_reach(
    db: &impl ConnectionTrait,
    me: &Me,
    reach: Reach,
) -> Result<Option<Condition>, DbErr> {
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any();
    if reach.own || reach.children {
        any = any.add(parent::Column::UserId.eq(me.id()));
    }
    if reach.class {
        let students = crate::erp::student_ids(
            db,
            me,
            Reach {
                class: true,
                ..Reach::default()
            },
        )
        .await?
        .unwrap_or_default();
        if !students.is_empty() {
            let ids: Vec<i64> = student_parent::Entity::find()
                .select_only()
                .column(student_parent::Column::ParentId)
                .filter(student_parent::Column::StudentId.is_in(students))
                .into_tuple()
                .all(db)
                .await?;
            if !ids.is_empty() {
                any = any.add(parent::Column::Id.is_in(ids));
            }
        }
    }
    Ok(Some(if any.is_empty() {
        kernel::scope::none()
    } else {
        any
    }))
}

async fn read_scope(db: &impl ConnectionTrait, me: &Me) -> ApiResult<Option<Condition>> {
    let reach = me.reach("parents", "read")?;
    Ok(parents_in_reach(db, me, reach).await?)
}

/// Parent `id`, whoever may see it (for links made by `students:write`).
pub async fn find_parent_any(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<parent::Model>, DbErr> {
    parent::Entity::find_by_id(id).one(db).await
}

async fn find_readable(db: &impl ConnectionTrait, me: &Me, id: i64) -> ApiResult<parent::Model> {
    let mut query = parent::Entity::find_by_id(id);
    if let Some(scope) = read_scope(db, me).await? {
        query = query.filter(scope);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

async fn find_writable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
    code: &str,
) -> ApiResult<parent::Model> {
    if me.can(code) {
        return find_parent_any(db, id)
            .await?
            .ok_or_else(ApiError::not_found);
    }
    find_readable(db, me, id).await?;
    Err(ApiError::no_permission())
}

/// Parents in the caller's reach (search name, email, occupation).
#[utoipa::path(get, path = "/api/v1/erp/parents/", tag = "erp",
    description = "Permission: `parents:read` (`:own` a parent's own row, `:class` the parents of a teacher's students).",
    params(("can_pickup" = Option<bool>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<ParentOut>))),
    security(("jwt" = [])))]
pub async fn list_parents(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, ParentOut>>> {
    let scope = read_scope(&db, &me).await?;
    let mut query = parent::Entity::find().join(
        JoinType::InnerJoin,
        user_join::<parent::Entity>(parent::Column::UserId),
    );
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    query = list.filter(
        query,
        "can_pickup",
        parent::Column::CanPickup,
        kernel::listing::FilterKind::Bool,
    )?;
    let query = list.search(
        query,
        &[
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
            user::Column::Email.into_simple_expr(),
            parent::Column::Occupation.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("created_at", parent::Column::CreatedAt.into_simple_expr()),
            ("id", parent::Column::Id.into_simple_expr()),
        ],
        &[("id", sea_orm::Order::Asc)],
        parent::Column::Id,
    );
    let page = list
        .page(
            &db,
            query,
            PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?;
    let users = users_by_id(&db, page.data.iter().map(|p| p.user_id)).await?;
    Ok(Json(page.map(|p| ParentOut::of(&p, users.get(&p.user_id)))))
}

/// Creates a parent with their user (role Parent) in one transaction.
#[utoipa::path(post, path = "/api/v1/erp/parents/", tag = "erp",
    description = "Permission: `parents:write`. Counts against the plan's `max_users`.",
    request_body = ParentIn,
    responses((status = 201, body = inline(Data<ParentOut>))),
    security(("jwt" = [])))]
pub async fn create_parent(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Json(mut body): Json<ParentIn>,
) -> ApiResult<(StatusCode, Data<ParentOut>)> {
    me.require("parents:write")?;
    let mut c = Checker::new();
    let mut account = users::check_account(
        &mut c,
        std::mem::take(&mut body.email),
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
        std::mem::take(&mut body.password),
    );
    let fields = check_parent(&mut c, body);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    account.roles = vec![rbac::PARENT.into()];
    let u = users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    let now = kernel::time::now();
    let mut row = parent::ActiveModel {
        user_id: Set(u.id),
        occupation: Set(String::new()),
        organization: Set(String::new()),
        annual_income: Set(None),
        office_phone: Set(String::new()),
        can_pickup: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    fields.apply(&mut row);
    let p = row.insert(&*txn).await?;
    Event::new(Some(me.id()), CREATE, "Parent", p.id)
        .created(&snapshot(&p, &u))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(ParentOut::of(&p, Some(&u))))
}

/// One parent in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/parents/{id}/", tag = "erp",
    description = "Permission: `parents:read` (`:own`, `:class`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<ParentOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_parent(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<ParentOut>> {
    let p = find_readable(&db, &me, id).await?;
    let u = user_of(&db, p.user_id).await?;
    Ok(ok(ParentOut::of(&p, Some(&u))))
}

async fn change_parent(
    me: &Me,
    db: &sea_orm::DatabaseConnection,
    trail: &Trail,
    id: i64,
    mut body: ParentIn,
    partial: bool,
) -> ApiResult<ParentOut> {
    let mut c = Checker::partial(partial);
    let names = name_change(
        &mut c,
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
    );
    let fields = check_parent(&mut c, body);
    let txn = kernel::db::begin_write(db).await?;
    let before = find_writable(&*txn, me, id, "parents:write").await?;
    c.finish()?;
    let u_before = user_of(&*txn, before.user_id).await?;
    let mut row: parent::ActiveModel = before.clone().into();
    fields.apply(&mut row);
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    let u = apply_names(&*txn, u_before.clone(), names).await?;
    Event::new(Some(me.id()), UPDATE, "Parent", id)
        .diff(&snapshot(&before, &u_before), &snapshot(&after, &u))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(ParentOut::of(&after, Some(&u)))
}

/// Replaces a parent's fields (`parents:write`).
#[utoipa::path(put, path = "/api/v1/erp/parents/{id}/", tag = "erp",
    description = "Permission: `parents:write`.",
    params(("id" = i64, Path)), request_body = ParentIn,
    responses((status = 200, body = inline(Data<ParentOut>))),
    security(("jwt" = [])))]
pub async fn update_parent(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<ParentIn>,
) -> ApiResult<Data<ParentOut>> {
    Ok(ok(change_parent(&me, &db, &trail, id, body, false).await?))
}

/// Changes some of a parent's fields (`parents:write`).
#[utoipa::path(patch, path = "/api/v1/erp/parents/{id}/", tag = "erp",
    description = "Permission: `parents:write`.",
    params(("id" = i64, Path)), request_body = ParentIn,
    responses((status = 200, body = inline(Data<ParentOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_parent(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<ParentIn>,
) -> ApiResult<Data<ParentOut>> {
    Ok(ok(change_parent(&me, &db, &trail, id, body, true).await?))
}

/// Deactivates a parent's user (tokens end); links stay (`parents:delete`).
#[utoipa::path(delete, path = "/api/v1/erp/parents/{id}/", tag = "erp",
    description = "Permission: `parents:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_parent(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_writable(&*txn, &me, id, "parents:delete").await?;
    let u = user_of(&*txn, before.user_id).await?;
    deactivate(&*txn, &me, &u).await?;
    Event::new(Some(me.id()), DELETE, "Parent", id)
        .changes(json!({"is_active": [u.is_active, false]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A parent's link to a child.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpParentChildLink)]
pub struct ChildLinkOut {
    pub id: i64,
    pub parent_id: i64,
    pub relationship: String,
    pub is_primary: bool,
    pub is_emergency_contact: bool,
    pub created_at: DateTime<Utc>,
    pub student: StudentOut,
}

/// The children linked to a parent in the caller's reach (only the children
/// the caller may also read as students).
#[utoipa::path(get, path = "/api/v1/erp/parents/{id}/children/", tag = "erp",
    description = "Permission: `parents:read` (`:own`, `:class`) and `students:read` for the children shown.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<Vec<ChildLinkOut>>))),
    security(("jwt" = [])))]
pub async fn parent_children(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<Vec<ChildLinkOut>>> {
    let p = find_readable(&db, &me, id).await?;
    let links = student_parent::Entity::find()
        .filter(student_parent::Column::ParentId.eq(p.id))
        .order_by_asc(student_parent::Column::Id)
        .all(&db)
        .await?;
    let mut query = student::Entity::find()
        .filter(student::Column::Id.is_in(links.iter().map(|l| l.student_id)));
    let reach = me.perms.reach("students", "read");
    // A parent reading their own row sees their children.
    let own = p.user_id == me.id();
    if !own {
        match crate::erp::students_in_reach(&db, &me, reach).await? {
            None => {}
            Some(scope) => query = query.filter(scope),
        }
    }
    let students: HashMap<i64, student::Model> = query
        .all(&db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let users = users_by_id(&db, students.values().map(|s| s.user_id)).await?;
    let out = links
        .into_iter()
        .filter_map(|l| {
            let s = students.get(&l.student_id)?;
            Some(ChildLinkOut {
                id: l.id,
                parent_id: l.parent_id,
                relationship: l.relationship,
                is_primary: l.is_primary,
                is_emergency_contact: l.is_emergency_contact,
                created_at: l.created_at,
                student: StudentOut::of(s, users.get(&s.user_id)),
            })
        })
        .collect();
    Ok(ok(out))
}
