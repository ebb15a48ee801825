//! Academic structure (contract §3, phase 1C): academic years (one current
//! at a time), terms, classes, sections, subjects and teacher assignments
//! (which drive the `:class` scope), plus the students of a class or
//! section and the subjects taught to a class.
//!
//! Permissions: `academics:read` to read (every system role holds it),
//! `academics:write` to create and change, `academics:delete` to delete.
//! Student lists follow the caller's `students:read` reach.

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::listing::{ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoSimpleExpr, Order, PaginatorTrait, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{
    academic_year, admission, school_class, section, student, subject, teacher, teacher_assignment,
    term, timetable_entry, user,
};
use crate::envelope::{Data, created, ok};
use crate::rbac::Me;
use crate::state::AppState;
use crate::users::UserBrief;

pub const READ: &str = "academics:read";
pub const WRITE: &str = "academics:write";
pub const REMOVE: &str = "academics:delete";

pub const SUBJECT_TYPES: &[&str] = &["core", "elective", "language", "co_curricular"];
pub const ASSIGNMENT_ROLES: &[&str] = &["class_teacher", "subject_teacher"];

const PAGE: PageSize = PageSize {
    default: 20,
    max: 100,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_academic_years, create_academic_year))
        .routes(routes!(current_academic_year))
        .routes(routes!(
            retrieve_academic_year,
            update_academic_year,
            partial_update_academic_year,
            destroy_academic_year
        ))
        .routes(routes!(activate_academic_year))
        .routes(routes!(list_terms, create_term))
        .routes(routes!(
            retrieve_term,
            update_term,
            partial_update_term,
            destroy_term
        ))
        .routes(routes!(list_school_classes, create_school_class))
        .routes(routes!(
            retrieve_school_class,
            update_school_class,
            partial_update_school_class,
            destroy_school_class
        ))
        .routes(routes!(school_class_students))
        .routes(routes!(school_class_subjects))
        .routes(routes!(list_sections, create_section))
        .routes(routes!(
            retrieve_section,
            update_section,
            partial_update_section,
            destroy_section
        ))
        .routes(routes!(section_students))
        .routes(routes!(list_subjects, create_subject))
        .routes(routes!(
            retrieve_subject,
            update_subject,
            partial_update_subject,
            destroy_subject
        ))
        .routes(routes!(
            academics_list_assignments,
            academics_create_assignment
        ))
        .routes(routes!(
            academics_retrieve_assignment,
            academics_update_assignment,
            academics_partial_update_assignment,
            academics_destroy_assignment
        ))
}

// ---------------------------------------------------------------- helpers

pub(crate) const DATE_FORMAT: &str =
    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

/// A required `YYYY-MM-DD` date (absent under PATCH: `None`).
pub(crate) fn date(c: &mut Checker, name: &str, field: Field<String>) -> Option<NaiveDate> {
    let raw = c.value(name, field)?;
    let parsed = kernel::form::parse_date(&raw);
    if parsed.is_none() {
        c.error(name, DATE_FORMAT);
    }
    parsed
}

/// The id of a row that must exist, else a 400 on `field`.
pub(crate) fn missing(field: &str, id: i64) -> ApiError {
    ApiError::field(
        field,
        format!("Invalid pk \"{id}\" - object does not exist."),
    )
}

/// A protected delete, or a write that lost to a referencing row.
fn protected(e: DbErr) -> ApiError {
    if kernel::error::is_foreign_key_violation(&e) {
        ApiError::Conflict("This row is referenced by other rows.".into())
    } else {
        e.into()
    }
}

/// Checks that `class_name`/`section` name a defined class (and one of its
/// sections, when it has any) whenever classes are defined at all.
pub(crate) async fn check_class_section(
    db: &impl ConnectionTrait,
    class_name: &str,
    section_name: &str,
) -> ApiResult<()> {
    if school_class::Entity::find().count(db).await? == 0 {
        return Ok(());
    }
    let Some(class) = school_class::Entity::find()
        .filter(school_class::Column::Name.eq(class_name))
        .one(db)
        .await?
    else {
        return Err(ApiError::field(
            "class_name",
            format!("No class named \"{class_name}\"."),
        ));
    };
    let sections: Vec<String> = section::Entity::find()
        .select_only()
        .column(section::Column::Name)
        .filter(section::Column::SchoolClassId.eq(class.id))
        .into_tuple()
        .all(db)
        .await?;
    if !sections.is_empty() && !sections.iter().any(|s| s == section_name) {
        return Err(ApiError::field(
            "section",
            format!("Class \"{class_name}\" has no section \"{section_name}\"."),
        ));
    }
    Ok(())
}

async fn year_exists(db: &impl ConnectionTrait, id: i64) -> ApiResult<academic_year::Model> {
    academic_year::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| missing("academic_year", id))
}

/// A student as the academic lists show them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicStudentOut {
    pub id: i64,
    pub user: UserBrief,
    pub full_name: String,
    pub enrollment_no: String,
    pub class_name: String,
    pub section: String,
    pub roll_number: Option<i32>,
    pub status: String,
}

/// A page of the students `query` selects, within the caller's
/// `students:read` reach.
async fn students_page(
    me: &Me,
    db: &DatabaseConnection,
    list: &ListOf<Oryne>,
    query: Select<student::Entity>,
) -> ApiResult<PageOf<Oryne, AcademicStudentOut>> {
    let reach = me.reach("students", "read")?;
    let mut query = query;
    if let Some(cond) = super::students_in_reach(db, me, reach).await? {
        query = query.filter(cond);
    }
    let query = list.search(
        query,
        &[
            Expr::col(student::Column::EnrollmentNo),
            Expr::col(student::Column::ClassName),
        ],
    );
    let query = list.order(
        query,
        &[
            ("class_name", student::Column::ClassName.into_simple_expr()),
            ("section", student::Column::Section.into_simple_expr()),
            (
                "roll_number",
                student::Column::RollNumber.into_simple_expr(),
            ),
            (
                "enrollment_no",
                student::Column::EnrollmentNo.into_simple_expr(),
            ),
        ],
        &[
            ("class_name", Order::Asc),
            ("section", Order::Asc),
            ("roll_number", Order::Asc),
        ],
        student::Column::Id,
    );
    let page = list.page(db, query, PAGE).await?;
    let users: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.data.iter().map(|s| s.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(page.map(|s| {
        let (brief, full_name) = match users.get(&s.user_id) {
            Some(u) => (
                UserBrief::of(u),
                format!("{} {}", u.first_name, u.last_name)
                    .trim()
                    .to_owned(),
            ),
            None => (
                UserBrief {
                    id: s.user_id,
                    email: String::new(),
                    first_name: String::new(),
                    last_name: String::new(),
                    phone: String::new(),
                    is_active: false,
                },
                String::new(),
            ),
        };
        AcademicStudentOut {
            id: s.id,
            user: brief,
            full_name,
            enrollment_no: s.enrollment_no,
            class_name: s.class_name,
            section: s.section,
            roll_number: s.roll_number,
            status: s.status,
        }
    }))
}

// --------------------------------------------------------- academic years

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicYearOut {
    pub id: i64,
    pub name: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub is_current: bool,
    pub created_at: DateTime<Utc>,
}

impl AcademicYearOut {
    fn of(y: &academic_year::Model) -> Self {
        Self {
            id: y.id,
            name: y.name.clone(),
            start_date: y.start_date,
            end_date: y.end_date,
            is_current: y.is_current,
            created_at: y.created_at,
        }
    }
}

fn year_snapshot(y: &academic_year::Model) -> Value {
    json!({"name": y.name, "start_date": y.start_date, "end_date": y.end_date, "is_current": y.is_current})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicYearIn {
    /// e.g. "2025-2026", unique.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub start_date: Field<String>,
    /// After `start_date`.
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub end_date: Field<String>,
    /// Setting it clears every other year's.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_current: Field<bool>,
}

async fn find_year(db: &impl ConnectionTrait, id: i64) -> ApiResult<academic_year::Model> {
    academic_year::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn clear_current(db: &impl ConnectionTrait, except: i64) -> ApiResult<()> {
    academic_year::Entity::update_many()
        .col_expr(academic_year::Column::IsCurrent, Expr::value(false))
        .filter(academic_year::Column::Id.ne(except))
        .filter(academic_year::Column::IsCurrent.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

async fn year_name_taken(db: &impl ConnectionTrait, name: &str, except: i64) -> ApiResult<()> {
    let taken = academic_year::Entity::find()
        .filter(academic_year::Column::Name.eq(name))
        .filter(academic_year::Column::Id.ne(except))
        .count(db)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "name",
            "An academic year with this name already exists.",
        ));
    }
    Ok(())
}

fn dates_ordered(start: NaiveDate, end: NaiveDate) -> ApiResult<()> {
    if start >= end {
        return Err(ApiError::field(
            "end_date",
            "The end date must be after the start date.",
        ));
    }
    Ok(())
}

/// The academic years.
#[utoipa::path(get, path = "/api/v1/erp/academic-years/", tag = "erp",
    description = "Permission: `academics:read`. Filter `is_current`; search name; ordering name, start_date.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn list_academic_years(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicYearOut>>> {
    me.require(READ)?;
    let query = list.filter(
        academic_year::Entity::find(),
        "is_current",
        academic_year::Column::IsCurrent,
        kernel::listing::FilterKind::Bool,
    )?;
    let query = list.search(query, &[Expr::col(academic_year::Column::Name)]);
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
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|y| AcademicYearOut::of(&y)),
    ))
}

/// Adds an academic year.
#[utoipa::path(post, path = "/api/v1/erp/academic-years/", tag = "erp",
    description = "Permission: `academics:write`. Name unique, start before end; `is_current` clears the others.",
    request_body = AcademicYearIn,
    responses((status = 201, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn create_academic_year(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AcademicYearIn>,
) -> ApiResult<(StatusCode, Data<AcademicYearOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let name = c.text("name", body.name, 20);
    let start = date(&mut c, "start_date", body.start_date);
    let end = date(&mut c, "end_date", body.end_date);
    let current = c.boolean("is_current", body.is_current, false);
    c.finish()?;
    let (Some(name), Some(start), Some(end)) = (name, start, end) else {
        return Err(ApiError::non_field("Invalid data."));
    };
    dates_ordered(start, end)?;
    let current = current.unwrap_or(false);
    let txn = kernel::db::begin_write(&db).await?;
    year_name_taken(&*txn, &name, 0).await?;
    let row = academic_year::ActiveModel {
        name: Set(name),
        start_date: Set(start),
        end_date: Set(end),
        is_current: Set(current),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    if current {
        clear_current(&*txn, row.id).await?;
    }
    Event::new(Some(me.id()), CREATE, "AcademicYear", row.id)
        .created(&year_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(AcademicYearOut::of(&row)))
}

/// The current academic year (404 when none is).
#[utoipa::path(get, path = "/api/v1/erp/academic-years/current/", tag = "erp",
    description = "Permission: `academics:read`. 404 when no year is current.",
    responses((status = 200, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn current_academic_year(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<AcademicYearOut>> {
    me.require(READ)?;
    let row = academic_year::Entity::find()
        .filter(academic_year::Column::IsCurrent.eq(true))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No academic year is current."))?;
    Ok(ok(AcademicYearOut::of(&row)))
}

/// One academic year.
#[utoipa::path(get, path = "/api/v1/erp/academic-years/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_academic_year(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicYearOut>> {
    me.require(READ)?;
    Ok(ok(AcademicYearOut::of(&find_year(&db, id).await?)))
}

async fn change_year(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: AcademicYearIn,
    partial: bool,
) -> ApiResult<academic_year::Model> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let name = c.text("name", body.name, 20);
    let start = date(&mut c, "start_date", body.start_date);
    let end = date(&mut c, "end_date", body.end_date);
    let current = c.boolean("is_current", body.is_current, false);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_year(&*txn, id).await?;
    dates_ordered(
        start.unwrap_or(before.start_date),
        end.unwrap_or(before.end_date),
    )?;
    let mut row: academic_year::ActiveModel = before.clone().into();
    if let Some(name) = name {
        year_name_taken(&*txn, &name, id).await?;
        row.name = Set(name);
    }
    if let Some(v) = start {
        row.start_date = Set(v);
    }
    if let Some(v) = end {
        row.end_date = Set(v);
    }
    if let Some(v) = current {
        row.is_current = Set(v);
    }
    let after = row.update(&*txn).await?;
    if after.is_current {
        clear_current(&*txn, id).await?;
    }
    Event::new(Some(me.id()), UPDATE, "AcademicYear", id)
        .diff(&year_snapshot(&before), &year_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces an academic year.
#[utoipa::path(put, path = "/api/v1/erp/academic-years/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicYearIn,
    responses((status = 200, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn update_academic_year(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicYearIn>,
) -> ApiResult<Data<AcademicYearOut>> {
    let row = change_year(&me, &trail, &db, id, body, false).await?;
    Ok(ok(AcademicYearOut::of(&row)))
}

/// Changes an academic year.
#[utoipa::path(patch, path = "/api/v1/erp/academic-years/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicYearIn,
    responses((status = 200, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_academic_year(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicYearIn>,
) -> ApiResult<Data<AcademicYearOut>> {
    let row = change_year(&me, &trail, &db, id, body, true).await?;
    Ok(ok(AcademicYearOut::of(&row)))
}

/// Deletes an academic year nothing references (else 409).
#[utoipa::path(delete, path = "/api/v1/erp/academic-years/{id}/", tag = "erp",
    description = "Permission: `academics:delete`. 409 while terms, sections, assignments, timetable entries or admissions reference it.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_academic_year(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_year(&*txn, id).await?;
    let used = term::Entity::find()
        .filter(term::Column::AcademicYearId.eq(id))
        .count(&*txn)
        .await?
        + section::Entity::find()
            .filter(section::Column::AcademicYearId.eq(id))
            .count(&*txn)
            .await?
        + teacher_assignment::Entity::find()
            .filter(teacher_assignment::Column::AcademicYearId.eq(id))
            .count(&*txn)
            .await?
        + timetable_entry::Entity::find()
            .filter(timetable_entry::Column::AcademicYearId.eq(id))
            .count(&*txn)
            .await?
        + admission::Entity::find()
            .filter(admission::Column::AcademicYearId.eq(id))
            .count(&*txn)
            .await?;
    if used > 0 {
        return Err(ApiError::Conflict(
            "This academic year has terms, sections, assignments, timetable entries or admissions."
                .into(),
        ));
    }
    academic_year::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "AcademicYear", id)
        .deleted(&year_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a year the current one (the others stop being current).
#[utoipa::path(post, path = "/api/v1/erp/academic-years/{id}/activate/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicYearOut>))),
    security(("jwt" = [])))]
pub async fn activate_academic_year(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicYearOut>> {
    me.require(WRITE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_year(&*txn, id).await?;
    clear_current(&*txn, id).await?;
    let mut row: academic_year::ActiveModel = before.clone().into();
    row.is_current = Set(true);
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "AcademicYear", id)
        .diff(&year_snapshot(&before), &year_snapshot(&after))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(ok(AcademicYearOut::of(&after)))
}

// ------------------------------------------------------------------ terms

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicTermOut {
    pub id: i64,
    pub academic_year: i64,
    pub name: String,
    pub number: i32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

impl AcademicTermOut {
    fn of(t: &term::Model) -> Self {
        Self {
            id: t.id,
            academic_year: t.academic_year_id,
            name: t.name.clone(),
            number: t.number,
            start_date: t.start_date,
            end_date: t.end_date,
            created_at: t.created_at,
        }
    }
}

fn term_snapshot(t: &term::Model) -> Value {
    json!({"academic_year": t.academic_year_id, "name": t.name, "number": t.number,
           "start_date": t.start_date, "end_date": t.end_date})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicTermIn {
    /// Academic year id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub academic_year: Field<i64>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field<String>,
    /// Unique within the year, from 1.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub number: Field<i64>,
    /// Inside the year.
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub start_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub end_date: Field<String>,
}

async fn find_term(db: &impl ConnectionTrait, id: i64) -> ApiResult<term::Model> {
    term::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Checks a term's final state: year exists, dates ordered and inside it,
/// number free.
async fn check_term(
    db: &impl ConnectionTrait,
    id: i64,
    year_id: i64,
    number: i32,
    start: NaiveDate,
    end: NaiveDate,
) -> ApiResult<()> {
    let year = year_exists(db, year_id).await?;
    dates_ordered(start, end)?;
    if start < year.start_date || end > year.end_date {
        return Err(ApiError::non_field(format!(
            "The term must lie inside the academic year ({} to {}).",
            year.start_date, year.end_date
        )));
    }
    let taken = term::Entity::find()
        .filter(term::Column::AcademicYearId.eq(year_id))
        .filter(term::Column::Number.eq(number))
        .filter(term::Column::Id.ne(id))
        .count(db)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "number",
            "This academic year already has a term with this number.",
        ));
    }
    Ok(())
}

/// The terms.
#[utoipa::path(get, path = "/api/v1/erp/terms/", tag = "erp",
    description = "Permission: `academics:read`. Filter `academic_year`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicTermOut>))),
    security(("jwt" = [])))]
pub async fn list_terms(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicTermOut>>> {
    me.require(READ)?;
    let query = list.filter(
        term::Entity::find(),
        "academic_year",
        term::Column::AcademicYearId,
        kernel::listing::FilterKind::Int,
    )?;
    let query = list.search(query, &[Expr::col(term::Column::Name)]);
    let query = list.order(
        query,
        &[
            ("number", term::Column::Number.into_simple_expr()),
            ("start_date", term::Column::StartDate.into_simple_expr()),
            ("name", term::Column::Name.into_simple_expr()),
        ],
        &[("start_date", Order::Asc)],
        term::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|t| AcademicTermOut::of(&t)),
    ))
}

/// Adds a term.
#[utoipa::path(post, path = "/api/v1/erp/terms/", tag = "erp",
    description = "Permission: `academics:write`. Dates inside the year; number unique per year.",
    request_body = AcademicTermIn,
    responses((status = 201, body = inline(Data<AcademicTermOut>))),
    security(("jwt" = [])))]
pub async fn create_term(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AcademicTermIn>,
) -> ApiResult<(StatusCode, Data<AcademicTermOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let year = c.value("academic_year", body.academic_year);
    let name = c.text("name", body.name, 50);
    let number = c.int("number", body.number, 1, 100);
    let start = date(&mut c, "start_date", body.start_date);
    let end = date(&mut c, "end_date", body.end_date);
    c.finish()?;
    let (Some(year), Some(name), Some(number), Some(start), Some(end)) =
        (year, name, number, start, end)
    else {
        return Err(ApiError::non_field("Invalid data."));
    };
    let number = i32::try_from(number).unwrap_or(1);
    let txn = kernel::db::begin_write(&db).await?;
    check_term(&*txn, 0, year, number, start, end).await?;
    let row = term::ActiveModel {
        academic_year_id: Set(year),
        name: Set(name),
        number: Set(number),
        start_date: Set(start),
        end_date: Set(end),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "Term", row.id)
        .created(&term_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(AcademicTermOut::of(&row)))
}

/// One term.
#[utoipa::path(get, path = "/api/v1/erp/terms/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicTermOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_term(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicTermOut>> {
    me.require(READ)?;
    Ok(ok(AcademicTermOut::of(&find_term(&db, id).await?)))
}

async fn change_term(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: AcademicTermIn,
    partial: bool,
) -> ApiResult<term::Model> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let year = c.value("academic_year", body.academic_year);
    let name = c.text("name", body.name, 50);
    let number = c.int("number", body.number, 1, 100);
    let start = date(&mut c, "start_date", body.start_date);
    let end = date(&mut c, "end_date", body.end_date);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_term(&*txn, id).await?;
    let mut row: term::ActiveModel = before.clone().into();
    let year = year.unwrap_or(before.academic_year_id);
    let number = number
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(before.number);
    let start = start.unwrap_or(before.start_date);
    let end = end.unwrap_or(before.end_date);
    check_term(&*txn, id, year, number, start, end).await?;
    row.academic_year_id = Set(year);
    row.number = Set(number);
    row.start_date = Set(start);
    row.end_date = Set(end);
    if let Some(v) = name {
        row.name = Set(v);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Term", id)
        .diff(&term_snapshot(&before), &term_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a term.
#[utoipa::path(put, path = "/api/v1/erp/terms/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicTermIn,
    responses((status = 200, body = inline(Data<AcademicTermOut>))),
    security(("jwt" = [])))]
pub async fn update_term(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicTermIn>,
) -> ApiResult<Data<AcademicTermOut>> {
    let row = change_term(&me, &trail, &db, id, body, false).await?;
    Ok(ok(AcademicTermOut::of(&row)))
}

/// Changes a term.
#[utoipa::path(patch, path = "/api/v1/erp/terms/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicTermIn,
    responses((status = 200, body = inline(Data<AcademicTermOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_term(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicTermIn>,
) -> ApiResult<Data<AcademicTermOut>> {
    let row = change_term(&me, &trail, &db, id, body, true).await?;
    Ok(ok(AcademicTermOut::of(&row)))
}

/// Deletes a term.
#[utoipa::path(delete, path = "/api/v1/erp/terms/{id}/", tag = "erp",
    description = "Permission: `academics:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_term(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_term(&*txn, id).await?;
    term::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "Term", id)
        .deleted(&term_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- classes

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolClassOut {
    pub id: i64,
    pub name: String,
    pub numeric_value: Option<i32>,
    pub board: String,
    pub created_at: DateTime<Utc>,
}

impl SchoolClassOut {
    fn of(c: &school_class::Model) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            numeric_value: c.numeric_value,
            board: c.board.clone(),
            created_at: c.created_at,
        }
    }
}

fn class_snapshot(c: &school_class::Model) -> Value {
    json!({"name": c.name, "numeric_value": c.numeric_value, "board": c.board})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SchoolClassIn {
    /// e.g. "10", unique.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub numeric_value: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub board: Field<String>,
}

async fn find_class(db: &impl ConnectionTrait, id: i64) -> ApiResult<school_class::Model> {
    school_class::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn class_name_taken(db: &impl ConnectionTrait, name: &str, except: i64) -> ApiResult<()> {
    let taken = school_class::Entity::find()
        .filter(school_class::Column::Name.eq(name))
        .filter(school_class::Column::Id.ne(except))
        .count(db)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "name",
            "A class with this name already exists.",
        ));
    }
    Ok(())
}

fn numeric(c: &mut Checker, field: Field<i64>) -> Option<Option<i32>> {
    match c.nullable(field)? {
        None => Some(None),
        Some(v) => match i32::try_from(v) {
            Ok(v) if (0..=1000).contains(&v) => Some(Some(v)),
            _ => {
                c.error("numeric_value", "Ensure this value is between 0 and 1000.");
                None
            }
        },
    }
}

/// The classes.
#[utoipa::path(get, path = "/api/v1/erp/classes/", tag = "erp",
    description = "Permission: `academics:read`. Filter `board`; search name.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<SchoolClassOut>))),
    security(("jwt" = [])))]
pub async fn list_school_classes(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, SchoolClassOut>>> {
    me.require(READ)?;
    let query = list.filter(
        school_class::Entity::find(),
        "board",
        school_class::Column::Board,
        kernel::listing::FilterKind::Text,
    )?;
    let query = list.search(query, &[Expr::col(school_class::Column::Name)]);
    let query = list.order(
        query,
        &[
            (
                "numeric_value",
                school_class::Column::NumericValue.into_simple_expr(),
            ),
            ("name", school_class::Column::Name.into_simple_expr()),
        ],
        &[("numeric_value", Order::Asc), ("name", Order::Asc)],
        school_class::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|c| SchoolClassOut::of(&c)),
    ))
}

/// Adds a class.
#[utoipa::path(post, path = "/api/v1/erp/classes/", tag = "erp",
    description = "Permission: `academics:write`. Name unique.",
    request_body = SchoolClassIn,
    responses((status = 201, body = inline(Data<SchoolClassOut>))),
    security(("jwt" = [])))]
pub async fn create_school_class(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<SchoolClassIn>,
) -> ApiResult<(StatusCode, Data<SchoolClassOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let name = c.text("name", body.name, 20);
    let numeric_value = numeric(&mut c, body.numeric_value);
    let board = c.blank_text("board", body.board, 50);
    c.finish()?;
    let Some(name) = name else {
        return Err(ApiError::non_field("Invalid data."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    class_name_taken(&*txn, &name, 0).await?;
    let row = school_class::ActiveModel {
        name: Set(name),
        numeric_value: Set(numeric_value.flatten()),
        board: Set(board.unwrap_or_default()),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "SchoolClass", row.id)
        .created(&class_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(SchoolClassOut::of(&row)))
}

/// One class.
#[utoipa::path(get, path = "/api/v1/erp/classes/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<SchoolClassOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_school_class(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<SchoolClassOut>> {
    me.require(READ)?;
    Ok(ok(SchoolClassOut::of(&find_class(&db, id).await?)))
}

async fn change_class(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: SchoolClassIn,
    partial: bool,
) -> ApiResult<school_class::Model> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let name = c.text("name", body.name, 20);
    let numeric_value = numeric(&mut c, body.numeric_value);
    let board = c.blank_text("board", body.board, 50);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_class(&*txn, id).await?;
    let mut row: school_class::ActiveModel = before.clone().into();
    if let Some(name) = name {
        class_name_taken(&*txn, &name, id).await?;
        row.name = Set(name);
    }
    if let Some(v) = numeric_value {
        row.numeric_value = Set(v);
    }
    if let Some(v) = board {
        row.board = Set(v);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "SchoolClass", id)
        .diff(&class_snapshot(&before), &class_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a class.
#[utoipa::path(put, path = "/api/v1/erp/classes/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = SchoolClassIn,
    responses((status = 200, body = inline(Data<SchoolClassOut>))),
    security(("jwt" = [])))]
pub async fn update_school_class(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<SchoolClassIn>,
) -> ApiResult<Data<SchoolClassOut>> {
    let row = change_class(&me, &trail, &db, id, body, false).await?;
    Ok(ok(SchoolClassOut::of(&row)))
}

/// Changes a class.
#[utoipa::path(patch, path = "/api/v1/erp/classes/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = SchoolClassIn,
    responses((status = 200, body = inline(Data<SchoolClassOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_school_class(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<SchoolClassIn>,
) -> ApiResult<Data<SchoolClassOut>> {
    let row = change_class(&me, &trail, &db, id, body, true).await?;
    Ok(ok(SchoolClassOut::of(&row)))
}

/// Deletes a class without sections (else 409).
#[utoipa::path(delete, path = "/api/v1/erp/classes/{id}/", tag = "erp",
    description = "Permission: `academics:delete`. 409 while sections reference it.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_school_class(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_class(&*txn, id).await?;
    let used = section::Entity::find()
        .filter(section::Column::SchoolClassId.eq(id))
        .count(&*txn)
        .await?;
    if used > 0 {
        return Err(ApiError::Conflict(
            "This class has sections; delete them first.".into(),
        ));
    }
    school_class::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "SchoolClass", id)
        .deleted(&class_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The students of a class (within the caller's `students:read` reach).
#[utoipa::path(get, path = "/api/v1/erp/classes/{id}/students/", tag = "erp",
    description = "Permission: `academics:read` and a `students:read` scope; only students the caller reaches.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicStudentOut>))),
    security(("jwt" = [])))]
pub async fn school_class_students(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicStudentOut>>> {
    me.require(READ)?;
    let class = find_class(&db, id).await?;
    let query = student::Entity::find().filter(student::Column::ClassName.eq(class.name));
    Ok(Json(students_page(&me, &db, &list, query).await?))
}

/// The subjects taught to a class (through teacher assignments).
#[utoipa::path(get, path = "/api/v1/erp/classes/{id}/subjects/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn school_class_subjects(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicSubjectOut>>> {
    me.require(READ)?;
    let class = find_class(&db, id).await?;
    let ids: Vec<Option<i64>> = teacher_assignment::Entity::find()
        .select_only()
        .column(teacher_assignment::Column::SubjectId)
        .filter(teacher_assignment::Column::ClassName.eq(class.name))
        .filter(teacher_assignment::Column::SubjectId.is_not_null())
        .into_tuple()
        .all(&db)
        .await?;
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    let query = subject::Entity::find().filter(subject::Column::Id.is_in(ids));
    let query = list.order(
        query,
        &[
            ("name", subject::Column::Name.into_simple_expr()),
            ("code", subject::Column::Code.into_simple_expr()),
        ],
        &[("name", Order::Asc)],
        subject::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|s| AcademicSubjectOut::of(&s)),
    ))
}

// --------------------------------------------------------------- sections

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicSectionOut {
    pub id: i64,
    pub school_class: i64,
    pub class_name: String,
    pub name: String,
    pub academic_year: Option<i64>,
    pub capacity: Option<i32>,
    pub room: String,
    pub class_teacher: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl AcademicSectionOut {
    fn of(s: &section::Model, class_name: &str) -> Self {
        Self {
            id: s.id,
            school_class: s.school_class_id,
            class_name: class_name.to_owned(),
            name: s.name.clone(),
            academic_year: s.academic_year_id,
            capacity: s.capacity,
            room: s.room.clone(),
            class_teacher: s.class_teacher_id,
            created_at: s.created_at,
        }
    }
}

fn section_snapshot(s: &section::Model) -> Value {
    json!({"school_class": s.school_class_id, "name": s.name, "academic_year": s.academic_year_id,
           "capacity": s.capacity, "room": s.room, "class_teacher": s.class_teacher_id})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicSectionIn {
    /// Class id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub school_class: Field<i64>,
    /// e.g. "A"; unique per class and year.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field<String>,
    /// Academic year id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub academic_year: Field<i64>,
    /// At least 1.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub capacity: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub room: Field<String>,
    /// Teacher id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub class_teacher: Field<i64>,
}

async fn find_section(db: &impl ConnectionTrait, id: i64) -> ApiResult<section::Model> {
    section::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn class_names(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> ApiResult<HashMap<i64, String>> {
    Ok(school_class::Entity::find()
        .filter(school_class::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

async fn section_out(
    db: &impl ConnectionTrait,
    s: &section::Model,
) -> ApiResult<AcademicSectionOut> {
    let names = class_names(db, [s.school_class_id]).await?;
    Ok(AcademicSectionOut::of(
        s,
        names.get(&s.school_class_id).map_or("", String::as_str),
    ))
}

async fn check_section(
    db: &impl ConnectionTrait,
    id: i64,
    class_id: i64,
    name: &str,
    year: Option<i64>,
    teacher_id: Option<i64>,
) -> ApiResult<()> {
    if school_class::Entity::find_by_id(class_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(missing("school_class", class_id));
    }
    if let Some(y) = year {
        year_exists(db, y).await?;
    }
    if let Some(t) = teacher_id
        && teacher::Entity::find_by_id(t).one(db).await?.is_none()
    {
        return Err(missing("class_teacher", t));
    }
    let mut same = section::Entity::find()
        .filter(section::Column::SchoolClassId.eq(class_id))
        .filter(section::Column::Name.eq(name))
        .filter(section::Column::Id.ne(id));
    same = match year {
        Some(y) => same.filter(section::Column::AcademicYearId.eq(y)),
        None => same.filter(section::Column::AcademicYearId.is_null()),
    };
    if same.count(db).await? > 0 {
        return Err(ApiError::non_field(
            "This class already has a section with this name in this academic year.",
        ));
    }
    Ok(())
}

fn capacity(c: &mut Checker, field: Field<i64>) -> Option<Option<i32>> {
    match c.nullable(field)? {
        None => Some(None),
        Some(v) => match i32::try_from(v) {
            Ok(v) if (1..=10_000).contains(&v) => Some(Some(v)),
            _ => {
                c.error("capacity", "Ensure this value is between 1 and 10000.");
                None
            }
        },
    }
}

/// The sections.
#[utoipa::path(get, path = "/api/v1/erp/sections/", tag = "erp",
    description = "Permission: `academics:read`. Filters `school_class`, `academic_year`, `class_teacher`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicSectionOut>))),
    security(("jwt" = [])))]
pub async fn list_sections(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicSectionOut>>> {
    me.require(READ)?;
    let mut query = section::Entity::find();
    for (param, col) in [
        ("school_class", section::Column::SchoolClassId),
        ("academic_year", section::Column::AcademicYearId),
        ("class_teacher", section::Column::ClassTeacherId),
    ] {
        query = list.filter(query, param, col, kernel::listing::FilterKind::Int)?;
    }
    let query = list.search(
        query,
        &[
            Expr::col(section::Column::Name),
            Expr::col(section::Column::Room),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", section::Column::Name.into_simple_expr()),
            (
                "school_class",
                section::Column::SchoolClassId.into_simple_expr(),
            ),
        ],
        &[("school_class", Order::Asc), ("name", Order::Asc)],
        section::Column::Id,
    );
    let page = list.page(&db, query, PAGE).await?;
    let names = class_names(&db, page.data.iter().map(|s| s.school_class_id)).await?;
    Ok(Json(page.map(|s| {
        AcademicSectionOut::of(&s, names.get(&s.school_class_id).map_or("", String::as_str))
    })))
}

/// Adds a section.
#[utoipa::path(post, path = "/api/v1/erp/sections/", tag = "erp",
    description = "Permission: `academics:write`. Unique class + name + year (400).",
    request_body = AcademicSectionIn,
    responses((status = 201, body = inline(Data<AcademicSectionOut>))),
    security(("jwt" = [])))]
pub async fn create_section(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AcademicSectionIn>,
) -> ApiResult<(StatusCode, Data<AcademicSectionOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let class_id = c.value("school_class", body.school_class);
    let name = c.text("name", body.name, 10);
    let year = c.nullable(body.academic_year).flatten();
    let cap = capacity(&mut c, body.capacity);
    let room = c.blank_text("room", body.room, 50);
    let teacher_id = c.nullable(body.class_teacher).flatten();
    c.finish()?;
    let (Some(class_id), Some(name)) = (class_id, name) else {
        return Err(ApiError::non_field("Invalid data."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    check_section(&*txn, 0, class_id, &name, year, teacher_id).await?;
    let row = section::ActiveModel {
        school_class_id: Set(class_id),
        name: Set(name),
        academic_year_id: Set(year),
        capacity: Set(cap.flatten()),
        room: Set(room.unwrap_or_default()),
        class_teacher_id: Set(teacher_id),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "Section", row.id)
        .created(&section_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    let out = section_out(&*txn, &row).await?;
    txn.commit().await?;
    Ok(created(out))
}

/// One section.
#[utoipa::path(get, path = "/api/v1/erp/sections/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicSectionOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_section(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicSectionOut>> {
    me.require(READ)?;
    let row = find_section(&db, id).await?;
    Ok(ok(section_out(&db, &row).await?))
}

async fn change_section(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: AcademicSectionIn,
    partial: bool,
) -> ApiResult<AcademicSectionOut> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let class_id = c.value("school_class", body.school_class);
    let name = c.text("name", body.name, 10);
    let year = c.nullable(body.academic_year);
    let cap = capacity(&mut c, body.capacity);
    let room = c.blank_text("room", body.room, 50);
    let teacher_id = c.nullable(body.class_teacher);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_section(&*txn, id).await?;
    let class_id = class_id.unwrap_or(before.school_class_id);
    let name = name.unwrap_or_else(|| before.name.clone());
    let year = year.unwrap_or(before.academic_year_id);
    let teacher_id = teacher_id.unwrap_or(before.class_teacher_id);
    check_section(&*txn, id, class_id, &name, year, teacher_id).await?;
    let mut row: section::ActiveModel = before.clone().into();
    row.school_class_id = Set(class_id);
    row.name = Set(name);
    row.academic_year_id = Set(year);
    row.class_teacher_id = Set(teacher_id);
    if let Some(v) = cap {
        row.capacity = Set(v);
    }
    if let Some(v) = room {
        row.room = Set(v);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Section", id)
        .diff(&section_snapshot(&before), &section_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    let out = section_out(&*txn, &after).await?;
    txn.commit().await?;
    Ok(out)
}

/// Replaces a section.
#[utoipa::path(put, path = "/api/v1/erp/sections/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicSectionIn,
    responses((status = 200, body = inline(Data<AcademicSectionOut>))),
    security(("jwt" = [])))]
pub async fn update_section(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicSectionIn>,
) -> ApiResult<Data<AcademicSectionOut>> {
    Ok(ok(change_section(&me, &trail, &db, id, body, false).await?))
}

/// Changes a section.
#[utoipa::path(patch, path = "/api/v1/erp/sections/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicSectionIn,
    responses((status = 200, body = inline(Data<AcademicSectionOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_section(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicSectionIn>,
) -> ApiResult<Data<AcademicSectionOut>> {
    Ok(ok(change_section(&me, &trail, &db, id, body, true).await?))
}

/// Deletes a section.
#[utoipa::path(delete, path = "/api/v1/erp/sections/{id}/", tag = "erp",
    description = "Permission: `academics:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_section(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_section(&*txn, id).await?;
    section::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "Section", id)
        .deleted(&section_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The students of a section (within the caller's `students:read` reach).
#[utoipa::path(get, path = "/api/v1/erp/sections/{id}/students/", tag = "erp",
    description = "Permission: `academics:read` and a `students:read` scope; only students the caller reaches.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicStudentOut>))),
    security(("jwt" = [])))]
pub async fn section_students(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicStudentOut>>> {
    me.require(READ)?;
    let row = find_section(&db, id).await?;
    let class = find_class(&db, row.school_class_id).await?;
    let query = student::Entity::find()
        .filter(student::Column::ClassName.eq(class.name))
        .filter(student::Column::Section.eq(row.name));
    Ok(Json(students_page(&me, &db, &list, query).await?))
}

// --------------------------------------------------------------- subjects

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicSubjectOut {
    pub id: i64,
    pub name: String,
    pub code: String,
    /// core | elective | language | co_curricular
    #[serde(rename = "type")]
    pub subject_type: String,
    pub max_marks: i32,
    pub passing_marks: i32,
    pub created_at: DateTime<Utc>,
}

impl AcademicSubjectOut {
    fn of(s: &subject::Model) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            code: s.code.clone(),
            subject_type: s.subject_type.clone(),
            max_marks: s.max_marks,
            passing_marks: s.passing_marks,
            created_at: s.created_at,
        }
    }
}

fn subject_snapshot(s: &subject::Model) -> Value {
    json!({"name": s.name, "code": s.code, "type": s.subject_type,
           "max_marks": s.max_marks, "passing_marks": s.passing_marks})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicSubjectIn {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field<String>,
    /// Unique.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub code: Field<String>,
    /// core | elective | language | co_curricular (default core).
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<String>)]
    pub subject_type: Field<String>,
    /// Above 0 (default 100).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub max_marks: Field<i64>,
    /// At most `max_marks` (default 33).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub passing_marks: Field<i64>,
}

async fn find_subject(db: &impl ConnectionTrait, id: i64) -> ApiResult<subject::Model> {
    subject::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn check_subject(
    db: &impl ConnectionTrait,
    id: i64,
    code: &str,
    max: i32,
    pass: i32,
) -> ApiResult<()> {
    if pass > max {
        return Err(ApiError::field(
            "passing_marks",
            "Passing marks cannot exceed the maximum marks.",
        ));
    }
    let taken = subject::Entity::find()
        .filter(subject::Column::Code.eq(code))
        .filter(subject::Column::Id.ne(id))
        .count(db)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "code",
            "A subject with this code already exists.",
        ));
    }
    Ok(())
}

fn subject_type(c: &mut Checker, field: Field<String>, create: bool) -> Option<String> {
    if field.is_absent() {
        return create.then(|| "core".to_owned());
    }
    c.choice("type", field, SUBJECT_TYPES)
}

fn marks(c: &mut Checker, name: &str, field: Field<i64>, min: i64) -> Option<i32> {
    c.patch_int(name, field, min, 10_000)
        .and_then(|v| i32::try_from(v).ok())
}

/// The subjects.
#[utoipa::path(get, path = "/api/v1/erp/subjects/", tag = "erp",
    description = "Permission: `academics:read`. Filter `type`; search name, code.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn list_subjects(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicSubjectOut>>> {
    me.require(READ)?;
    let query = list.filter(
        subject::Entity::find(),
        "type",
        subject::Column::SubjectType,
        kernel::listing::FilterKind::Choice(SUBJECT_TYPES),
    )?;
    let query = list.search(
        query,
        &[
            Expr::col(subject::Column::Name),
            Expr::col(subject::Column::Code),
        ],
    );
    let query = list.order(
        query,
        &[
            ("name", subject::Column::Name.into_simple_expr()),
            ("code", subject::Column::Code.into_simple_expr()),
        ],
        &[("name", Order::Asc)],
        subject::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|s| AcademicSubjectOut::of(&s)),
    ))
}

/// Adds a subject.
#[utoipa::path(post, path = "/api/v1/erp/subjects/", tag = "erp",
    description = "Permission: `academics:write`. Code unique; passing marks at most max marks.",
    request_body = AcademicSubjectIn,
    responses((status = 201, body = inline(Data<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn create_subject(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AcademicSubjectIn>,
) -> ApiResult<(StatusCode, Data<AcademicSubjectOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let name = c.text("name", body.name, 100);
    let code = c.text("code", body.code, 20);
    let kind = subject_type(&mut c, body.subject_type, true);
    let max = marks(&mut c, "max_marks", body.max_marks, 1).unwrap_or(100);
    let pass = marks(&mut c, "passing_marks", body.passing_marks, 0).unwrap_or(33.min(max));
    c.finish()?;
    let (Some(name), Some(code), Some(kind)) = (name, code, kind) else {
        return Err(ApiError::non_field("Invalid data."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    check_subject(&*txn, 0, &code, max, pass).await?;
    let row = subject::ActiveModel {
        name: Set(name),
        code: Set(code),
        subject_type: Set(kind),
        max_marks: Set(max),
        passing_marks: Set(pass),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "Subject", row.id)
        .created(&subject_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(AcademicSubjectOut::of(&row)))
}

/// One subject.
#[utoipa::path(get, path = "/api/v1/erp/subjects/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_subject(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicSubjectOut>> {
    me.require(READ)?;
    Ok(ok(AcademicSubjectOut::of(&find_subject(&db, id).await?)))
}

async fn change_subject(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: AcademicSubjectIn,
    partial: bool,
) -> ApiResult<subject::Model> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let name = c.text("name", body.name, 100);
    let code = c.text("code", body.code, 20);
    let kind = subject_type(&mut c, body.subject_type, false);
    let max = marks(&mut c, "max_marks", body.max_marks, 1);
    let pass = marks(&mut c, "passing_marks", body.passing_marks, 0);
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_subject(&*txn, id).await?;
    let code = code.unwrap_or_else(|| before.code.clone());
    let max = max.unwrap_or(before.max_marks);
    let pass = pass.unwrap_or(before.passing_marks);
    check_subject(&*txn, id, &code, max, pass).await?;
    let mut row: subject::ActiveModel = before.clone().into();
    row.code = Set(code);
    row.max_marks = Set(max);
    row.passing_marks = Set(pass);
    if let Some(v) = name {
        row.name = Set(v);
    }
    if let Some(v) = kind {
        row.subject_type = Set(v);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Subject", id)
        .diff(&subject_snapshot(&before), &subject_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a subject.
#[utoipa::path(put, path = "/api/v1/erp/subjects/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicSubjectIn,
    responses((status = 200, body = inline(Data<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn update_subject(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicSubjectIn>,
) -> ApiResult<Data<AcademicSubjectOut>> {
    let row = change_subject(&me, &trail, &db, id, body, false).await?;
    Ok(ok(AcademicSubjectOut::of(&row)))
}

/// Changes a subject.
#[utoipa::path(patch, path = "/api/v1/erp/subjects/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicSubjectIn,
    responses((status = 200, body = inline(Data<AcademicSubjectOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_subject(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicSubjectIn>,
) -> ApiResult<Data<AcademicSubjectOut>> {
    let row = change_subject(&me, &trail, &db, id, body, true).await?;
    Ok(ok(AcademicSubjectOut::of(&row)))
}

/// Deletes a subject nothing references (else 409).
#[utoipa::path(delete, path = "/api/v1/erp/subjects/{id}/", tag = "erp",
    description = "Permission: `academics:delete`. 409 while assignments or timetable entries reference it.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_subject(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_subject(&*txn, id).await?;
    let used = teacher_assignment::Entity::find()
        .filter(teacher_assignment::Column::SubjectId.eq(id))
        .count(&*txn)
        .await?
        + timetable_entry::Entity::find()
            .filter(timetable_entry::Column::SubjectId.eq(id))
            .count(&*txn)
            .await?;
    if used > 0 {
        return Err(ApiError::Conflict(
            "This subject is assigned or timetabled.".into(),
        ));
    }
    subject::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "Subject", id)
        .deleted(&subject_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------- teacher assignments

#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicAssignmentOut {
    pub id: i64,
    pub teacher: i64,
    pub class_name: String,
    pub section: String,
    pub subject: Option<i64>,
    pub academic_year: Option<i64>,
    /// class_teacher | subject_teacher
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl AcademicAssignmentOut {
    pub fn of(a: &teacher_assignment::Model) -> Self {
        Self {
            id: a.id,
            teacher: a.teacher_id,
            class_name: a.class_name.clone(),
            section: a.section.clone(),
            subject: a.subject_id,
            academic_year: a.academic_year_id,
            role: a.role.clone(),
            created_at: a.created_at,
        }
    }
}

fn assignment_snapshot(a: &teacher_assignment::Model) -> Value {
    json!({"teacher": a.teacher_id, "class_name": a.class_name, "section": a.section,
           "subject": a.subject_id, "academic_year": a.academic_year_id, "role": a.role})
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcademicAssignmentIn {
    /// Teacher id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub teacher: Field<i64>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub class_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub section: Field<String>,
    /// Subject id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub subject: Field<i64>,
    /// Academic year id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub academic_year: Field<i64>,
    /// class_teacher | subject_teacher (default subject_teacher).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Field<String>,
}

async fn find_assignment(
    db: &impl ConnectionTrait,
    id: i64,
) -> ApiResult<teacher_assignment::Model> {
    teacher_assignment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn check_assignment(
    db: &impl ConnectionTrait,
    teacher_id: i64,
    class_name: &str,
    section_name: &str,
    subject_id: Option<i64>,
    year: Option<i64>,
) -> ApiResult<()> {
    if teacher::Entity::find_by_id(teacher_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(missing("teacher", teacher_id));
    }
    if let Some(s) = subject_id
        && subject::Entity::find_by_id(s).one(db).await?.is_none()
    {
        return Err(missing("subject", s));
    }
    if let Some(y) = year {
        year_exists(db, y).await?;
    }
    check_class_section(db, class_name, section_name).await
}

/// The teacher assignments.
#[utoipa::path(get, path = "/api/v1/erp/teacher-assignments/", tag = "erp",
    description = "Permission: `academics:read`. Filters `teacher`, `class_name`, `section`, `subject`, `academic_year`, `role`.",
    responses((status = 200, body = inline(kernel::listing::OrynePage<AcademicAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn academics_list_assignments(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AcademicAssignmentOut>>> {
    use kernel::listing::FilterKind;
    me.require(READ)?;
    let mut query = teacher_assignment::Entity::find();
    query = list.filter(
        query,
        "teacher",
        teacher_assignment::Column::TeacherId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "subject",
        teacher_assignment::Column::SubjectId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "academic_year",
        teacher_assignment::Column::AcademicYearId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "class_name",
        teacher_assignment::Column::ClassName,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "section",
        teacher_assignment::Column::Section,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "role",
        teacher_assignment::Column::Role,
        FilterKind::Choice(ASSIGNMENT_ROLES),
    )?;
    let query = list.order(
        query,
        &[
            (
                "class_name",
                teacher_assignment::Column::ClassName.into_simple_expr(),
            ),
            (
                "section",
                teacher_assignment::Column::Section.into_simple_expr(),
            ),
            (
                "teacher",
                teacher_assignment::Column::TeacherId.into_simple_expr(),
            ),
        ],
        &[("class_name", Order::Asc), ("section", Order::Asc)],
        teacher_assignment::Column::Id,
    );
    Ok(Json(
        list.page(&db, query, PAGE)
            .await?
            .map(|a| AcademicAssignmentOut::of(&a)),
    ))
}

/// Assigns a teacher to a class, section and subject.
#[utoipa::path(post, path = "/api/v1/erp/teacher-assignments/", tag = "erp",
    description = "Permission: `academics:write`.",
    request_body = AcademicAssignmentIn,
    responses((status = 201, body = inline(Data<AcademicAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn academics_create_assignment(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AcademicAssignmentIn>,
) -> ApiResult<(StatusCode, Data<AcademicAssignmentOut>)> {
    me.require(WRITE)?;
    let mut c = Checker::new();
    let teacher_id = c.value("teacher", body.teacher);
    let class_name = c.text("class_name", body.class_name, 20);
    let section_name = c.text("section", body.section, 10);
    let subject_id = c.nullable(body.subject).flatten();
    let year = c.nullable(body.academic_year).flatten();
    let role = if body.role.is_absent() {
        Some("subject_teacher".to_owned())
    } else {
        c.choice("role", body.role, ASSIGNMENT_ROLES)
    };
    c.finish()?;
    let (Some(teacher_id), Some(class_name), Some(section_name), Some(role)) =
        (teacher_id, class_name, section_name, role)
    else {
        return Err(ApiError::non_field("Invalid data."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    check_assignment(
        &*txn,
        teacher_id,
        &class_name,
        &section_name,
        subject_id,
        year,
    )
    .await?;
    let row = teacher_assignment::ActiveModel {
        teacher_id: Set(teacher_id),
        class_name: Set(class_name),
        section: Set(section_name),
        subject_id: Set(subject_id),
        academic_year_id: Set(year),
        role: Set(role),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    Event::new(Some(me.id()), CREATE, "TeacherAssignment", row.id)
        .created(&assignment_snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(created(AcademicAssignmentOut::of(&row)))
}

/// One teacher assignment.
#[utoipa::path(get, path = "/api/v1/erp/teacher-assignments/{id}/", tag = "erp",
    description = "Permission: `academics:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AcademicAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn academics_retrieve_assignment(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AcademicAssignmentOut>> {
    me.require(READ)?;
    Ok(ok(AcademicAssignmentOut::of(
        &find_assignment(&db, id).await?,
    )))
}

async fn change_assignment(
    me: &Me,
    trail: &Trail,
    db: &DatabaseConnection,
    id: i64,
    body: AcademicAssignmentIn,
    partial: bool,
) -> ApiResult<teacher_assignment::Model> {
    me.require(WRITE)?;
    let mut c = Checker::partial(partial);
    let teacher_id = c.value("teacher", body.teacher);
    let class_name = c.text("class_name", body.class_name, 20);
    let section_name = c.text("section", body.section, 10);
    let subject_id = c.nullable(body.subject);
    let year = c.nullable(body.academic_year);
    let role = if body.role.is_absent() {
        None
    } else {
        c.choice("role", body.role, ASSIGNMENT_ROLES)
    };
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    let before = find_assignment(&*txn, id).await?;
    let teacher_id = teacher_id.unwrap_or(before.teacher_id);
    let class_name = class_name.unwrap_or_else(|| before.class_name.clone());
    let section_name = section_name.unwrap_or_else(|| before.section.clone());
    let subject_id = subject_id.unwrap_or(before.subject_id);
    let year = year.unwrap_or(before.academic_year_id);
    check_assignment(
        &*txn,
        teacher_id,
        &class_name,
        &section_name,
        subject_id,
        year,
    )
    .await?;
    let mut row: teacher_assignment::ActiveModel = before.clone().into();
    row.teacher_id = Set(teacher_id);
    row.class_name = Set(class_name);
    row.section = Set(section_name);
    row.subject_id = Set(subject_id);
    row.academic_year_id = Set(year);
    if let Some(v) = role {
        row.role = Set(v);
    }
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "TeacherAssignment", id)
        .diff(&assignment_snapshot(&before), &assignment_snapshot(&after))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(after)
}

/// Replaces a teacher assignment.
#[utoipa::path(put, path = "/api/v1/erp/teacher-assignments/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicAssignmentIn,
    responses((status = 200, body = inline(Data<AcademicAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn academics_update_assignment(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicAssignmentIn>,
) -> ApiResult<Data<AcademicAssignmentOut>> {
    let row = change_assignment(&me, &trail, &db, id, body, false).await?;
    Ok(ok(AcademicAssignmentOut::of(&row)))
}

/// Changes a teacher assignment.
#[utoipa::path(patch, path = "/api/v1/erp/teacher-assignments/{id}/", tag = "erp",
    description = "Permission: `academics:write`.",
    params(("id" = i64, Path)), request_body = AcademicAssignmentIn,
    responses((status = 200, body = inline(Data<AcademicAssignmentOut>))),
    security(("jwt" = [])))]
pub async fn academics_partial_update_assignment(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AcademicAssignmentIn>,
) -> ApiResult<Data<AcademicAssignmentOut>> {
    let row = change_assignment(&me, &trail, &db, id, body, true).await?;
    Ok(ok(AcademicAssignmentOut::of(&row)))
}

/// Deletes a teacher assignment.
#[utoipa::path(delete, path = "/api/v1/erp/teacher-assignments/{id}/", tag = "erp",
    description = "Permission: `academics:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn academics_destroy_assignment(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require(REMOVE)?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_assignment(&*txn, id).await?;
    teacher_assignment::Entity::delete_by_id(id)
        .exec(&*txn)
        .await
        .map_err(protected)?;
    Event::new(Some(me.id()), DELETE, "TeacherAssignment", id)
        .deleted(&assignment_snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
