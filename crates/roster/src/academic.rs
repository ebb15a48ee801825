//! Academic years and their terms (contract §2): `/api/academic-years/`
//! (one active year, `activate/`, `terms/`, `current/`) and `/api/terms/`
//! (inside their year, never overlapping, `current/`).

use axum::http::StatusCode;
use chrono::NaiveDate;
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Db, Field, Id, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::Roster;
use crate::access::{Admin, Me};
use crate::audit::Log;
use crate::entities::{academic_year, term};
use crate::state::AppState;

const YEAR_FORMAT: &str = "Use the format YYYY/YYYY, e.g. 2025/2026.";
const YEAR_SEQUENCE: &str = "The second year must be the first plus one, e.g. 2025/2026.";
const YEAR_TAKEN: &str = "Academic year with this name already exists.";
const END_AFTER_START: &str = "End date must be after start date.";
const YEAR_IN_USE: &str =
    "This academic year has terms, class groups or enrollments and cannot be deleted.";
const TERM_IN_USE: &str = "This term has enrollments or timetable entries and cannot be deleted.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_years, create_year))
        .routes(routes!(current_year))
        .routes(routes!(get_year, put_year, patch_year, delete_year))
        .routes(routes!(activate_year))
        .routes(routes!(year_terms))
        .routes(routes!(list_terms, create_term))
        .routes(routes!(current_term))
        .routes(routes!(get_term, put_term, patch_term, delete_term))
}

fn today() -> NaiveDate {
    kernel::time::now().date_naive()
}

/// `2025-09-01 – 2025-12-05`.
fn span(start: NaiveDate, end: NaiveDate) -> String {
    format!("{start} \u{2013} {end}")
}

fn bad_date(c: &mut Checker, name: &str, field: Field<String>) -> Option<NaiveDate> {
    let raw = c.value(name, field)?;
    let date = crate::rest::parse_date(&raw);
    if date.is_none() {
        c.error(name, crate::rest::BAD_DATE);
    }
    date
}

// ---------------------------------------------------------------------------
// Academic years
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicYearOut {
    pub id: Uuid,
    /// `2025/2026`.
    pub name: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub is_active: bool,
    /// The year's terms, by number.
    pub terms: Vec<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicYearIn {
    #[serde(default)]
    #[schema(schema_with = year_name_schema, required = true, example = "2025/2026")]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub start_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub end_date: Field<String>,
    /// Making a year active deactivates every other.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Field<bool>,
}

async fn year_out(
    db: &impl ConnectionTrait,
    y: academic_year::Model,
) -> ApiResult<AcademicYearOut> {
    let terms = term::Entity::find()
        .select_only()
        .column(term::Column::Id)
        .filter(term::Column::AcademicYearId.eq(y.id))
        .order_by_asc(term::Column::Number)
        .into_tuple()
        .all(db)
        .await?;
    Ok(AcademicYearOut {
        id: y.id,
        name: y.name,
        start_date: y.start_date,
        end_date: y.end_date,
        is_active: y.is_active,
        terms,
        created_at: y.created_at,
    })
}

fn year_snapshot(y: &academic_year::Model) -> serde_json::Value {
    json!({"name": y.name, "start_date": y.start_date, "end_date": y.end_date, "is_active": y.is_active})
}

async fn find_year(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<academic_year::Model> {
    academic_year::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// OpenAPI: a `YYYY/YYYY` name (that the second is the first plus one is
/// beyond a schema).
fn year_name_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[0-9]{4}/[0-9]{4}$"))
        .into()
}

/// The `YYYY/YYYY` rule: both years, the second the first plus one.
fn year_name(c: &mut Checker, field: Field<String>) -> Option<String> {
    let name = c.text("name", field, 9)?;
    let parts: Vec<&str> = name.split('/').collect();
    let years: Option<Vec<i32>> = match parts.as_slice() {
        [a, b] if a.len() == 4 && b.len() == 4 => {
            let all_digits = |s: &str| s.chars().all(|ch| ch.is_ascii_digit());
            (all_digits(a) && all_digits(b))
                .then(|| vec![a.parse().unwrap_or(0), b.parse().unwrap_or(0)])
        }
        _ => None,
    };
    match years.as_deref() {
        None => {
            c.error("name", YEAR_FORMAT);
            None
        }
        Some([first, second]) if *second != first + 1 => {
            c.error("name", YEAR_SEQUENCE);
            None
        }
        Some(_) => Some(name),
    }
}

struct ValidYear {
    name: Option<String>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    is_active: Option<bool>,
}

async fn validate_year(
    db: &impl ConnectionTrait,
    input: AcademicYearIn,
    existing: Option<&academic_year::Model>,
    partial: bool,
) -> ApiResult<ValidYear> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = year_name(&mut c, input.name);
    let start = bad_date(&mut c, "start_date", input.start_date);
    let end = bad_date(&mut c, "end_date", input.end_date);
    let is_active = c.boolean("is_active", input.is_active, false);
    let except = existing.map(|y| y.id);
    if let Some(name) = &name {
        let mut q =
            academic_year::Entity::find().filter(academic_year::Column::Name.eq(name.as_str()));
        if let Some(id) = except {
            q = q.filter(academic_year::Column::Id.ne(id));
        }
        if q.one(db).await?.is_some() {
            c.error("name", YEAR_TAKEN);
        }
    }
    c.finish()?;
    let s = start.or(existing.map(|y| y.start_date));
    let e = end.or(existing.map(|y| y.end_date));
    if let (Some(s), Some(e)) = (s, e) {
        if e <= s {
            return Err(ApiError::non_field(END_AFTER_START));
        }
        let mut q = academic_year::Entity::find()
            .filter(academic_year::Column::StartDate.lte(e))
            .filter(academic_year::Column::EndDate.gte(s));
        if let Some(id) = except {
            q = q.filter(academic_year::Column::Id.ne(id));
        }
        if let Some(other) = q.one(db).await? {
            return Err(ApiError::non_field(format!(
                "Dates overlap academic year {} ({}).",
                other.name,
                span(other.start_date, other.end_date)
            )));
        }
        if let Some(existing) = existing {
            let outside = term::Entity::find()
                .filter(term::Column::AcademicYearId.eq(existing.id))
                .filter(
                    sea_orm::Condition::any()
                        .add(term::Column::StartDate.lt(s))
                        .add(term::Column::EndDate.gt(e)),
                )
                .one(db)
                .await?;
            if let Some(t) = outside {
                return Err(ApiError::non_field(format!(
                    "{} ({}) would fall outside the academic year.",
                    t.name,
                    span(t.start_date, t.end_date)
                )));
            }
        }
    }
    Ok(ValidYear {
        name,
        start,
        end,
        is_active,
    })
}

/// Makes `id` the only active year.
async fn only_active(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<()> {
    academic_year::Entity::update_many()
        .col_expr(
            academic_year::Column::IsActive,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(academic_year::Column::Id.ne(id))
        .filter(academic_year::Column::IsActive.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

/// List academic years (any signed-in user). Filter `is_active`; search
/// name; ordering `name`, `start_date` (default newest first).
#[utoipa::path(get, path = "/api/academic-years/", tag = "school", security(("jwt" = [])),
    params(("is_active" = Option<bool>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<AcademicYearOut>), (status = 401)))]
pub async fn list_years(
    Db(db): Db,
    _me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, AcademicYearOut>>> {
    let query = list.filter(
        academic_year::Entity::find(),
        "is_active",
        academic_year::Column::IsActive,
        FilterKind::Bool,
    )?;
    let query = list.search(query, &[academic_year::Column::Name.into_simple_expr()]);
    let query = list.order(
        query,
        &[
            ("name", academic_year::Column::Name.into_simple_expr()),
            (
                "start_date",
                academic_year::Column::StartDate.into_simple_expr(),
            ),
        ],
        &[("start_date", Order::Desc)],
        academic_year::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    let mut rows = Vec::with_capacity(page.results.len());
    for y in &page.results {
        rows.push(year_out(&db, y.clone()).await?);
    }
    Ok(Json(crate::departments::with_results(page, rows)))
}

/// Create an academic year (admin).
#[utoipa::path(post, path = "/api/academic-years/", tag = "school", security(("jwt" = [])), request_body = AcademicYearIn,
    responses((status = 201, body = AcademicYearOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_year(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Json(input): Json<AcademicYearIn>,
) -> ApiResult<(StatusCode, Json<AcademicYearOut>)> {
    let v = validate_year(&db, input, None, false).await?;
    let id = Uuid::new_v4();
    let active = v.is_active.unwrap_or(false);
    let txn = kernel::db::begin_write(&db).await?;
    if active {
        only_active(&txn, id).await?;
    }
    let created = academic_year::ActiveModel {
        id: Set(id),
        name: Set(v.name.unwrap_or_default()),
        start_date: Set(v.start.unwrap_or_default()),
        end_date: Set(v.end.unwrap_or_default()),
        is_active: Set(active),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "name") {
            ApiError::field("name", YEAR_TAKEN)
        } else {
            e.into()
        }
    })?;
    let entry = Entry::new(&actor, Action::CREATE, "academic_year", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&year_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(year_out(&db, created).await?)))
}

/// The active academic year (any signed-in user); 404 when none is.
#[utoipa::path(get, path = "/api/academic-years/current/", tag = "school", security(("jwt" = [])),
    responses((status = 200, body = AcademicYearOut), (status = 401), (status = 404)))]
pub async fn current_year(Db(db): Db, _me: Me) -> ApiResult<Json<AcademicYearOut>> {
    let year = academic_year::Entity::find()
        .filter(academic_year::Column::IsActive.eq(true))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No academic year is active."))?;
    Ok(Json(year_out(&db, year).await?))
}

/// An academic year (any signed-in user).
#[utoipa::path(get, path = "/api/academic-years/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AcademicYearOut), (status = 401), (status = 404)))]
pub async fn get_year(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<AcademicYearOut>> {
    Ok(Json(year_out(&db, find_year(&db, id).await?).await?))
}

async fn update_year(
    db: &sea_orm::DatabaseConnection,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<AcademicYearIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<AcademicYearOut>> {
    let existing = find_year(db, id).await?;
    let Json(input) = body?;
    let v = validate_year(db, input, Some(&existing), partial).await?;
    let txn = kernel::db::begin_write(db).await?;
    let mut row: academic_year::ActiveModel = existing.clone().into();
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(x) = v.start {
        row.start_date = Set(x);
    }
    if let Some(x) = v.end {
        row.end_date = Set(x);
    }
    if let Some(x) = v.is_active {
        if x {
            only_active(&txn, id).await?;
        }
        row.is_active = Set(x);
    }
    let updated = row.update(&txn).await.map_err(|e| {
        if kernel::error::is_unique_violation(&e, "name") {
            ApiError::field("name", YEAR_TAKEN)
        } else {
            e.into()
        }
    })?;
    let entry = Entry::new(actor, Action::UPDATE, "academic_year", id);
    let changes = kernel::audit::diff(&year_snapshot(&existing), &year_snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(year_out(db, updated).await?))
}

/// Replace an academic year (admin).
#[utoipa::path(put, path = "/api/academic-years/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = AcademicYearIn,
    responses((status = 200, body = AcademicYearOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_year(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<AcademicYearIn>, ApiError>,
) -> ApiResult<Json<AcademicYearOut>> {
    update_year(&db, &actor, id, body, false).await
}

/// Change some of an academic year (admin).
#[utoipa::path(patch, path = "/api/academic-years/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = AcademicYearIn,
    responses((status = 200, body = AcademicYearOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_year(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<AcademicYearIn>, ApiError>,
) -> ApiResult<Json<AcademicYearOut>> {
    update_year(&db, &actor, id, body, true).await
}

/// Delete an academic year (admin); 409 while terms, class groups or
/// enrollments use it.
#[utoipa::path(delete, path = "/api/academic-years/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_year(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_year(&db, id).await?;
    let terms = term::Entity::find()
        .filter(term::Column::AcademicYearId.eq(id))
        .one(&db)
        .await?;
    let groups = crate::entities::class_group::Entity::find()
        .filter(crate::entities::class_group::Column::AcademicYearId.eq(id))
        .one(&db)
        .await?;
    if terms.is_some() || groups.is_some() {
        return Err(ApiError::Conflict(YEAR_IN_USE.into()));
    }
    let txn = kernel::db::begin_write(&db).await?;
    academic_year::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| in_use(e, YEAR_IN_USE))?;
    let entry = Entry::new(&actor, Action::DELETE, "academic_year", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&year_snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn in_use(e: sea_orm::DbErr, message: &'static str) -> ApiError {
    if kernel::error::is_foreign_key_violation(&e) {
        ApiError::Conflict(message.into())
    } else {
        e.into()
    }
}

/// Make this year the only active one (admin).
#[utoipa::path(post, path = "/api/academic-years/{id}/activate/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AcademicYearOut), (status = 401), (status = 403), (status = 404)))]
pub async fn activate_year(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
) -> ApiResult<Json<AcademicYearOut>> {
    let existing = find_year(&db, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    only_active(&txn, id).await?;
    let mut row: academic_year::ActiveModel = existing.clone().into();
    row.is_active = Set(true);
    let updated = row.update(&txn).await?;
    let entry = Entry::new(&actor, Action("activate"), "academic_year", id);
    let changes = kernel::audit::diff(&year_snapshot(&existing), &year_snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(year_out(&db, updated).await?))
}

/// The terms of an academic year, by number (any signed-in user).
#[utoipa::path(get, path = "/api/academic-years/{id}/terms/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<TermOut>), (status = 401), (status = 404)))]
pub async fn year_terms(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<Vec<TermOut>>> {
    find_year(&db, id).await?;
    let terms = term::Entity::find()
        .filter(term::Column::AcademicYearId.eq(id))
        .order_by_asc(term::Column::Number)
        .all(&db)
        .await?;
    Ok(Json(terms.into_iter().map(TermOut::from).collect()))
}

// ---------------------------------------------------------------------------
// Terms
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct TermOut {
    pub id: Uuid,
    pub academic_year: Uuid,
    /// `Term 1`.
    pub name: String,
    /// 1–4, unique in the year.
    pub number: i32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// Days from start to end, both included.
    pub duration_days: i64,
    /// Whether today falls within the term.
    pub is_current: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<term::Model> for TermOut {
    fn from(t: term::Model) -> Self {
        let today = today();
        Self {
            id: t.id,
            academic_year: t.academic_year_id,
            duration_days: (t.end_date - t.start_date).num_days() + 1,
            is_current: t.start_date <= today && today <= t.end_date,
            name: t.name,
            number: t.number,
            start_date: t.start_date,
            end_date: t.end_date,
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TermIn {
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub academic_year: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<50>, required = true, example = "Term 1")]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 4)]
    pub number: Field<i64>,
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub start_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = NaiveDate, required = true)]
    pub end_date: Field<String>,
}

fn term_snapshot(t: &term::Model) -> serde_json::Value {
    json!({"academic_year": t.academic_year_id, "name": t.name, "number": t.number,
           "start_date": t.start_date, "end_date": t.end_date})
}

async fn find_term(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<term::Model> {
    term::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The term containing `day`, if any.
pub async fn term_on(
    db: &impl ConnectionTrait,
    day: NaiveDate,
) -> Result<Option<term::Model>, sea_orm::DbErr> {
    term::Entity::find()
        .filter(term::Column::StartDate.lte(day))
        .filter(term::Column::EndDate.gte(day))
        .order_by_asc(term::Column::StartDate)
        .one(db)
        .await
}

struct ValidTerm {
    year: Option<academic_year::Model>,
    name: Option<String>,
    number: Option<i32>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
}

fn number_taken(year: &academic_year::Model, number: i32) -> String {
    format!("{} already has term {number}.", year.name)
}

async fn validate_term(
    db: &impl ConnectionTrait,
    input: TermIn,
    existing: Option<&term::Model>,
    partial: bool,
) -> ApiResult<ValidTerm> {
    let mut c = if existing.is_some() {
        Checker::partial(partial)
    } else {
        Checker::new()
    };
    let name = c.text("name", input.name, 50);
    let number = c
        .int("number", input.number, 1, 4)
        .and_then(|n| i32::try_from(n).ok());
    let start = bad_date(&mut c, "start_date", input.start_date);
    let end = bad_date(&mut c, "end_date", input.end_date);
    let year = match c.value("academic_year", input.academic_year) {
        Some(raw) => {
            match crate::rest::referenced::<academic_year::Entity>(db, "academic_year", &raw).await
            {
                Ok(y) => Some(y),
                Err(ApiError::Validation(e)) => {
                    c.error("academic_year", crate::departments::first_message(&e));
                    None
                }
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    c.finish()?;
    let target_year = match (&year, existing) {
        (Some(y), _) => y.clone(),
        (None, Some(t)) => find_year(db, t.academic_year_id).await?,
        (None, None) => return Err(ApiError::field("academic_year", kernel::form::REQUIRED)),
    };
    let except = existing.map(|t| t.id);
    if let Some(n) = number.or(existing.map(|t| t.number)) {
        let mut q = term::Entity::find()
            .filter(term::Column::AcademicYearId.eq(target_year.id))
            .filter(term::Column::Number.eq(n));
        if let Some(id) = except {
            q = q.filter(term::Column::Id.ne(id));
        }
        if q.one(db).await?.is_some() {
            return Err(ApiError::field("number", number_taken(&target_year, n)));
        }
    }
    let s = start.or(existing.map(|t| t.start_date));
    let e = end.or(existing.map(|t| t.end_date));
    if let (Some(s), Some(e)) = (s, e) {
        if e <= s {
            return Err(ApiError::non_field(END_AFTER_START));
        }
        if s < target_year.start_date || e > target_year.end_date {
            return Err(ApiError::non_field(format!(
                "Term dates must fall within {} ({}).",
                target_year.name,
                span(target_year.start_date, target_year.end_date)
            )));
        }
        let mut q = term::Entity::find()
            .filter(term::Column::AcademicYearId.eq(target_year.id))
            .filter(term::Column::StartDate.lte(e))
            .filter(term::Column::EndDate.gte(s))
            .order_by_asc(term::Column::StartDate);
        if let Some(id) = except {
            q = q.filter(term::Column::Id.ne(id));
        }
        if let Some(other) = q.one(db).await? {
            return Err(ApiError::non_field(format!(
                "Term dates overlap {} ({}).",
                other.name,
                span(other.start_date, other.end_date)
            )));
        }
    }
    Ok(ValidTerm {
        year,
        name,
        number,
        start,
        end,
    })
}

fn term_unique(e: sea_orm::DbErr, year: &academic_year::Model, number: i32) -> ApiError {
    if kernel::error::is_unique_violation(&e, "number") {
        ApiError::field("number", number_taken(year, number))
    } else {
        e.into()
    }
}

/// List terms (any signed-in user). Filters `academic_year`, `number`;
/// ordering `start_date`, `number`, `name`.
#[utoipa::path(get, path = "/api/terms/", tag = "school", security(("jwt" = [])),
    params(("academic_year" = Option<Uuid>, Query), ("number" = Option<i64>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = kernel::listing::Page<TermOut>), (status = 401)))]
pub async fn list_terms(
    Db(db): Db,
    _me: Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, TermOut>>> {
    let query = list.filter(
        term::Entity::find(),
        "academic_year",
        term::Column::AcademicYearId,
        FilterKind::Uuid,
    )?;
    let query = list.filter(query, "number", term::Column::Number, FilterKind::Int)?;
    let query = list.search(query, &[term::Column::Name.into_simple_expr()]);
    let query = list.order(
        query,
        &[
            ("start_date", term::Column::StartDate.into_simple_expr()),
            ("number", term::Column::Number.into_simple_expr()),
            ("name", term::Column::Name.into_simple_expr()),
        ],
        &[("start_date", Order::Asc)],
        term::Column::Id,
    );
    let page = list.page(&db, query, crate::rest::PAGE).await?;
    Ok(Json(page.map(TermOut::from)))
}

/// Create a term (admin).
#[utoipa::path(post, path = "/api/terms/", tag = "school", security(("jwt" = [])), request_body = TermIn,
    responses((status = 201, body = TermOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_term(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Json(input): Json<TermIn>,
) -> ApiResult<(StatusCode, Json<TermOut>)> {
    let v = validate_term(&db, input, None, false).await?;
    let year = v
        .year
        .ok_or_else(|| ApiError::field("academic_year", kernel::form::REQUIRED))?;
    let number = v.number.unwrap_or(1);
    let txn = kernel::db::begin_write(&db).await?;
    let created = term::ActiveModel {
        id: Set(Uuid::new_v4()),
        academic_year_id: Set(year.id),
        name: Set(v.name.unwrap_or_default()),
        number: Set(number),
        start_date: Set(v.start.unwrap_or_default()),
        end_date: Set(v.end.unwrap_or_default()),
        created_at: Set(kernel::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| term_unique(e, &year, number))?;
    let entry = Entry::new(&actor, Action::CREATE, "term", created.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&term_snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// The term containing today (any signed-in user); 404 when none does.
#[utoipa::path(get, path = "/api/terms/current/", tag = "school", security(("jwt" = [])),
    responses((status = 200, body = TermOut), (status = 401), (status = 404)))]
pub async fn current_term(Db(db): Db, _me: Me) -> ApiResult<Json<TermOut>> {
    term_on(&db, today())
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found_msg("No term contains today."))
}

/// A term (any signed-in user).
#[utoipa::path(get, path = "/api/terms/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TermOut), (status = 401), (status = 404)))]
pub async fn get_term(Db(db): Db, _me: Me, Id(id): Id) -> ApiResult<Json<TermOut>> {
    Ok(Json(find_term(&db, id).await?.into()))
}

async fn update_term(
    db: &sea_orm::DatabaseConnection,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Result<Json<TermIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<TermOut>> {
    let existing = find_term(db, id).await?;
    let Json(input) = body?;
    let v = validate_term(db, input, Some(&existing), partial).await?;
    let year = match &v.year {
        Some(y) => y.clone(),
        None => find_year(db, existing.academic_year_id).await?,
    };
    let txn = kernel::db::begin_write(db).await?;
    let mut row: term::ActiveModel = existing.clone().into();
    row.academic_year_id = Set(year.id);
    if let Some(x) = v.name {
        row.name = Set(x);
    }
    if let Some(x) = v.number {
        row.number = Set(x);
    }
    if let Some(x) = v.start {
        row.start_date = Set(x);
    }
    if let Some(x) = v.end {
        row.end_date = Set(x);
    }
    let number = v.number.unwrap_or(existing.number);
    let updated = row
        .update(&txn)
        .await
        .map_err(|e| term_unique(e, &year, number))?;
    let entry = Entry::new(actor, Action::UPDATE, "term", id);
    let changes = kernel::audit::diff(&term_snapshot(&existing), &term_snapshot(&updated));
    Log::write(&txn, entry.changes(changes)).await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace a term (admin).
#[utoipa::path(put, path = "/api/terms/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = TermIn,
    responses((status = 200, body = TermOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn put_term(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<TermIn>, ApiError>,
) -> ApiResult<Json<TermOut>> {
    update_term(&db, &actor, id, body, false).await
}

/// Change some of a term (admin).
#[utoipa::path(patch, path = "/api/terms/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = TermIn,
    responses((status = 200, body = TermOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch_term(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
    body: Result<Json<TermIn>, ApiError>,
) -> ApiResult<Json<TermOut>> {
    update_term(&db, &actor, id, body, true).await
}

/// Delete a term (admin); 409 while enrollments use it.
#[utoipa::path(delete, path = "/api/terms/{id}/", tag = "school", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_term(
    Db(db): Db,
    Caller(_admin, actor): Caller<Admin>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = find_term(&db, id).await?;
    let used = crate::entities::enrollment::Entity::find()
        .filter(crate::entities::enrollment::Column::TermId.eq(id))
        .one(&db)
        .await?;
    if used.is_some() {
        return Err(ApiError::Conflict(TERM_IN_USE.into()));
    }
    let txn = kernel::db::begin_write(&db).await?;
    term::Entity::delete_by_id(id)
        .exec(&txn)
        .await
        .map_err(|e| in_use(e, TERM_IN_USE))?;
    let entry = Entry::new(&actor, Action::DELETE, "term", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&term_snapshot(&existing))),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
