//! `attendance/` (contract §3 "Operations"): a student's day, marked one
//! at a time or a whole class at once (all or nothing); a change to
//! `absent` notifies the student's linked parents (`attendance_absent`,
//! email and in-app) in the marking transaction.
//!
//! Reading follows `attendance:read[:own|:children|:class]`; marking needs
//! `attendance:mark` (every student) or `attendance:mark:class` (students
//! of the teacher's classes).

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::listing::{FilterKind, ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{attendance, parent, student, student_parent, user};
use crate::envelope::{Data, created, ok};
use crate::notify::{self, Notice};
use crate::rbac::{Me, Reach};
use crate::state::AppState;

pub const STATUSES: &[&str] = &["present", "absent", "late", "excused"];

kernel::choices!(
    /// A day's attendance status.
    pub AttendanceStatus = STATUSES
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_attendance, create_attendance))
        .routes(routes!(mark_attendance))
        .routes(routes!(attendance_by_class))
        .routes(routes!(attendance_summary))
        .routes(routes!(
            retrieve_attendance,
            update_attendance,
            destroy_attendance
        ))
}

/// A day's attendance as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendanceOut {
    pub id: i64,
    /// The student's id.
    pub student: i64,
    pub student_name: String,
    pub date: NaiveDate,
    pub status: String,
    pub class_name: String,
    pub section: String,
    /// The marking user's id.
    pub marked_by: Option<i64>,
    pub remarks: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn snapshot(a: &attendance::Model) -> Value {
    json!({
        "student": a.student_id, "date": a.date, "status": a.status, "class_name": a.class_name,
        "section": a.section, "marked_by": a.marked_by, "remarks": a.remarks,
    })
}

/// The full names of the students `ids`.
async fn names_of(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> ApiResult<HashMap<i64, String>> {
    let ids: HashSet<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let students = student::Entity::find()
        .filter(student::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(students.iter().map(|s| s.user_id)))
        .all(db)
        .await?;
    Ok(students
        .iter()
        .map(|s| {
            let name = users
                .iter()
                .find(|u| u.id == s.user_id)
                .map(user::Model::full_name)
                .unwrap_or_default();
            (s.id, name)
        })
        .collect())
}

async fn outs(
    db: &impl ConnectionTrait,
    rows: Vec<attendance::Model>,
) -> ApiResult<Vec<AttendanceOut>> {
    let names = names_of(db, rows.iter().map(|r| r.student_id)).await?;
    Ok(rows
        .into_iter()
        .map(|a| AttendanceOut {
            id: a.id,
            student: a.student_id,
            student_name: names.get(&a.student_id).cloned().unwrap_or_default(),
            date: a.date,
            status: a.status,
            class_name: a.class_name,
            section: a.section,
            marked_by: a.marked_by,
            remarks: a.remarks,
            created_at: a.created_at,
            updated_at: a.updated_at,
        })
        .collect())
}

async fn out(db: &impl ConnectionTrait, row: attendance::Model) -> ApiResult<AttendanceOut> {
    outs(db, vec![row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// Whether student `s` is within `reach` for the caller.
async fn in_reach(db: &impl ConnectionTrait, me: &Me, reach: Reach, s: i64) -> ApiResult<bool> {
    Ok(match crate::erp::student_ids(db, me, reach).await? {
        None => true,
        Some(ids) => ids.contains(&s),
    })
}

/// May the caller mark student `s`? `attendance:mark` for every student,
/// `attendance:mark:class` for the students of their classes; else 403.
async fn may_mark(db: &impl ConnectionTrait, me: &Me, s: &student::Model) -> ApiResult<()> {
    if me.can("attendance:mark") {
        return Ok(());
    }
    if me.can("attendance:mark:class")
        && let Some(t) = crate::erp::teacher_of(db, me.id()).await?
        && crate::erp::classes_of(db, t.id)
            .await?
            .iter()
            .any(|(c, sec)| *c == s.class_name && *sec == s.section)
    {
        return Ok(());
    }
    Err(ApiError::no_permission())
}

/// Either marking code held (else 403), before anything is read.
fn require_mark(me: &Me) -> ApiResult<()> {
    if me.can("attendance:mark") || me.can("attendance:mark:class") {
        Ok(())
    } else {
        Err(ApiError::no_permission())
    }
}

/// Queues `attendance_absent` (email and in-app) to every linked parent of
/// student `s`, in `db` (the marking transaction).
async fn notify_parents(
    db: &impl ConnectionTrait,
    s: &student::Model,
    date: NaiveDate,
    student_name: &str,
) -> ApiResult<Vec<i64>> {
    let parent_ids: Vec<i64> = student_parent::Entity::find()
        .select_only()
        .column(student_parent::Column::ParentId)
        .filter(student_parent::Column::StudentId.eq(s.id))
        .into_tuple()
        .all(db)
        .await?;
    if parent_ids.is_empty() {
        return Ok(Vec::new());
    }
    let parents = parent::Entity::find()
        .filter(parent::Column::Id.is_in(parent_ids))
        .all(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(parents.iter().map(|p| p.user_id)))
        .filter(user::Column::IsActive.eq(true))
        .all(db)
        .await?;
    let data = json!({
        "student_name": student_name,
        "date": date.format("%Y-%m-%d").to_string(),
        "class_name": s.class_name,
    });
    for u in &users {
        notify::queue(
            db,
            Notice::new("attendance_absent", "email", u.email.clone(), data.clone()).to_user(u.id),
        )
        .await?;
        notify::queue(
            db,
            Notice::new("attendance_absent", "in_app", u.email.clone(), data.clone()).to_user(u.id),
        )
        .await?;
    }
    Ok(users.iter().map(|u| u.id).collect())
}

fn date_param(name: &str, raw: Option<&str>) -> ApiResult<Option<NaiveDate>> {
    match raw {
        None => Ok(None),
        Some(raw) => kernel::form::parse_date(raw).map(Some).ok_or_else(|| {
            ApiError::field(
                name,
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            )
        }),
    }
}

fn today() -> NaiveDate {
    kernel::time::now().date_naive()
}

/// Attendance rows in the caller's reach (`attendance:read[:own|:children|:class]`;
/// filters `student`, `date`, `from`, `to`, `status`, `class_name`, `section`).
#[utoipa::path(get, path = "/api/v1/erp/attendance/", tag = "erp",
    description = "Permission: `attendance:read` (or `:own`, `:children`, `:class`: only those students' rows).",
    params(("student" = Option<i64>, Query), ("date" = Option<String>, Query), ("from" = Option<String>, Query),
        ("to" = Option<String>, Query), ("status" = Option<AttendanceStatus>, Query),
        ("class_name" = Option<String>, Query), ("section" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AttendanceOut>))),
    security(("jwt" = [])))]
pub async fn list_attendance(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AttendanceOut>>> {
    let reach = me.reach("attendance", "read")?;
    let mut query = attendance::Entity::find();
    query = list.filter(
        query,
        "student",
        attendance::Column::StudentId,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "status",
        attendance::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "class_name",
        attendance::Column::ClassName,
        FilterKind::Text,
    )?;
    query = list.filter(
        query,
        "section",
        attendance::Column::Section,
        FilterKind::Text,
    )?;
    if let Some(d) = date_param("date", list.get("date"))? {
        query = query.filter(attendance::Column::Date.eq(d));
    }
    if let Some(d) = date_param("from", list.get("from"))? {
        query = query.filter(attendance::Column::Date.gte(d));
    }
    if let Some(d) = date_param("to", list.get("to"))? {
        query = query.filter(attendance::Column::Date.lte(d));
    }
    if let Some(ids) = crate::erp::student_ids(&db, &me, reach).await? {
        query = query.filter(attendance::Column::StudentId.is_in(ids));
    }
    let query = list.order(
        query,
        &[
            ("date", attendance::Column::Date.into_simple_expr()),
            ("student", attendance::Column::StudentId.into_simple_expr()),
            ("status", attendance::Column::Status.into_simple_expr()),
            (
                "class_name",
                attendance::Column::ClassName.into_simple_expr(),
            ),
            ("section", attendance::Column::Section.into_simple_expr()),
        ],
        &[("date", sea_orm::Order::Desc)],
        attendance::Column::Id,
    );
    let page = list
        .page(
            &db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?;
    let rows: Vec<attendance::Model> = page.data.clone();
    let names = names_of(&db, rows.iter().map(|r| r.student_id)).await?;
    Ok(Json(page.map(|a| AttendanceOut {
        id: a.id,
        student: a.student_id,
        student_name: names.get(&a.student_id).cloned().unwrap_or_default(),
        date: a.date,
        status: a.status,
        class_name: a.class_name,
        section: a.section,
        marked_by: a.marked_by,
        remarks: a.remarks,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })))
}

/// One day of one student.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AttendanceIn {
    /// The student's id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub student: Field<i64>,
    /// `YYYY-MM-DD`, not in the future.
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub date: Field<String>,
    #[serde(default)]
    #[schema(value_type = AttendanceStatus, required = true)]
    pub status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<1000>)]
    pub remarks: Field<String>,
}

fn check_date(c: &mut Checker, name: &str, field: Field<String>) -> Option<NaiveDate> {
    let raw = c.value(name, field)?;
    match kernel::form::parse_date(&raw) {
        Some(d) if d > today() => {
            c.error(name, "Attendance cannot be marked for a future date.");
            None
        }
        Some(d) => Some(d),
        None => {
            c.error(
                name,
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            );
            None
        }
    }
}

/// Marks one student's day (`attendance:mark`, or `attendance:mark:class`
/// for a student of the caller's classes); a second row for the same
/// student and date is a 400.
#[utoipa::path(post, path = "/api/v1/erp/attendance/", tag = "erp",
    description = "Permission: `attendance:mark` (every student) or `attendance:mark:class` (students of the teacher's classes).",
    request_body = AttendanceIn,
    responses((status = 201, body = inline(Data<AttendanceOut>))),
    security(("jwt" = [])))]
pub async fn create_attendance(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AttendanceIn>,
) -> ApiResult<(StatusCode, Data<AttendanceOut>)> {
    require_mark(&me)?;
    let mut c = Checker::new();
    let student_id = c.value("student", body.student);
    let date = check_date(&mut c, "date", body.date);
    let status = c.choice("status", body.status, STATUSES);
    let remarks = c.blank_text("remarks", body.remarks, 1000);
    c.finish()?;
    let (Some(student_id), Some(date), Some(status)) = (student_id, date, status) else {
        return Err(ApiError::non_field("Invalid input."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    let pupil = student::Entity::find_by_id(student_id)
        .one(&*txn)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "student",
                format!("Invalid pk \"{student_id}\" - object does not exist."),
            )
        })?;
    may_mark(&*txn, &me, &pupil).await?;
    let exists = attendance::Entity::find()
        .filter(attendance::Column::StudentId.eq(student_id))
        .filter(attendance::Column::Date.eq(date))
        .one(&*txn)
        .await?
        .is_some();
    if exists {
        return Err(ApiError::non_field(
            "Attendance for this student on this date already exists.",
        ));
    }
    let now = kernel::time::now();
    let row = attendance::ActiveModel {
        student_id: Set(student_id),
        date: Set(date),
        status: Set(status),
        class_name: Set(pupil.class_name.clone()),
        section: Set(pupil.section.clone()),
        marked_by: Set(Some(me.id())),
        remarks: Set(remarks.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "student_id") {
            ApiError::non_field("Attendance for this student on this date already exists.")
        } else {
            e.into()
        }
    })?;
    Event::new(Some(me.id()), CREATE, "Attendance", row.id)
        .created(&snapshot(&row))
        .write(&*txn, &trail)
        .await?;
    let mut queued = Vec::new();
    if row.status == "absent" {
        let names = names_of(&*txn, [pupil.id]).await?;
        let name = names.get(&pupil.id).cloned().unwrap_or_default();
        queued = notify_parents(&*txn, &pupil, date, &name).await?;
    }
    let answer = out(&*txn, row).await?;
    txn.commit().await?;
    if !queued.is_empty() {
        notify::wake(&state, queued);
    }
    Ok(created(answer))
}

/// One record of a class marking (the shape `records` is read as).
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the shape of `records`")]
pub struct AttendanceMarkRecord {
    pub student_id: i64,
    #[schema(value_type = AttendanceStatus)]
    pub status: String,
    pub remarks: Option<String>,
}

/// A whole class's day.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AttendanceMarkIn {
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub date: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub class_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10>)]
    pub section: Field<String>,
    #[serde(default)]
    #[schema(value_type = Vec<AttendanceMarkRecord>, required = true)]
    pub records: Field<Vec<Value>>,
}

/// What a class marking did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceMarkOut {
    pub date: NaiveDate,
    pub class_name: String,
    pub section: String,
    pub created: usize,
    pub updated: usize,
    /// Parents notified of an absence (each by email and in-app).
    pub notified: usize,
    pub records: Vec<AttendanceOut>,
}

/// Marks a class's day, all or nothing (`attendance:mark`, or
/// `attendance:mark:class` for the teacher's own classes): one row per
/// student and date (re-marking updates it). Students outside the
/// class/section or a future date are a 400.
#[utoipa::path(post, path = "/api/v1/erp/attendance/mark/", tag = "erp",
    description = "Permission: `attendance:mark`, or `attendance:mark:class` for a class the teacher teaches.",
    request_body = AttendanceMarkIn,
    responses((status = 200, body = inline(Data<AttendanceMarkOut>))),
    security(("jwt" = [])))]
pub async fn mark_attendance(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AttendanceMarkIn>,
) -> ApiResult<Data<AttendanceMarkOut>> {
    require_mark(&me)?;
    let mut c = Checker::new();
    let date = check_date(&mut c, "date", body.date);
    let class_name = c.text("class_name", body.class_name, 20);
    let section = c.blank_text("section", body.section, 10);
    let raw = c.value("records", body.records);
    let mut records: Vec<(i64, String, String)> = Vec::new();
    if let Some(raw) = raw {
        if raw.is_empty() {
            c.error("records", "At least one record is required.");
        } else if raw.len() > 1000 {
            c.error(
                "records",
                "Ensure this field has no more than 1000 elements.",
            );
        }
        let mut seen = HashSet::new();
        for (i, r) in raw.iter().enumerate() {
            let key = format!("records[{i}]");
            let Some(id) = r.get("student_id").and_then(Value::as_i64) else {
                c.error(&key, "student_id: a student id is required.");
                continue;
            };
            let status = r.get("status").and_then(Value::as_str).unwrap_or_default();
            if !STATUSES.contains(&status) {
                c.error(&key, format!("status: \"{status}\" is not a valid choice."));
                continue;
            }
            let remarks = match r.get("remarks") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) if s.chars().count() <= 1000 && !s.contains('\0') => {
                    s.trim().to_owned()
                }
                Some(_) => {
                    c.error(&key, "remarks: a string of at most 1000 characters.");
                    continue;
                }
            };
            if !seen.insert(id) {
                c.error(&key, format!("student_id: student {id} is listed twice."));
                continue;
            }
            records.push((id, status.to_owned(), remarks));
        }
    }
    c.finish()?;
    let (Some(date), Some(class_name), Some(section)) = (date, class_name, section) else {
        return Err(ApiError::non_field("Invalid input."));
    };
    let txn = kernel::db::begin_write(&db).await?;
    if !me.can("attendance:mark") {
        let teaches = match crate::erp::teacher_of(&*txn, me.id()).await? {
            Some(t) => crate::erp::classes_of(&*txn, t.id)
                .await?
                .iter()
                .any(|(cl, sec)| *cl == class_name && *sec == section),
            None => false,
        };
        if !teaches {
            return Err(ApiError::forbidden(
                "You may mark attendance only for the classes you teach.",
            ));
        }
    }
    let ids: Vec<i64> = records.iter().map(|r| r.0).collect();
    let students = student::Entity::find()
        .filter(student::Column::Id.is_in(ids.clone()))
        .all(&*txn)
        .await?;
    let mut errors = FieldErrors::new();
    for id in &ids {
        match students.iter().find(|s| s.id == *id) {
            None => errors.add("records", format!("Student {id} does not exist.")),
            Some(s) if s.class_name != class_name || s.section != section => errors.add(
                "records",
                format!("Student {id} is not in class {class_name} section {section}."),
            ),
            Some(_) => {}
        }
    }
    errors.into_result()?;
    let existing = attendance::Entity::find()
        .filter(attendance::Column::StudentId.is_in(ids.clone()))
        .filter(attendance::Column::Date.eq(date))
        .all(&*txn)
        .await?;
    let names = names_of(&*txn, ids.iter().copied()).await?;
    let now = kernel::time::now();
    let (mut made, mut changed) = (0, 0);
    let mut notified: Vec<i64> = Vec::new();
    let mut rows = Vec::new();
    for (id, status, remarks) in records {
        let pupil = students
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(ApiError::not_found)?;
        let before = existing.iter().find(|a| a.student_id == id);
        let was_absent = before.is_some_and(|b| b.status == "absent");
        let row = match before {
            Some(b) => {
                if b.status == status && b.remarks == remarks {
                    rows.push(b.clone());
                    continue;
                }
                let mut row: attendance::ActiveModel = b.clone().into();
                row.status = Set(status.clone());
                row.remarks = Set(remarks);
                row.marked_by = Set(Some(me.id()));
                row.updated_at = Set(now);
                let after = row.update(&*txn).await?;
                Event::new(Some(me.id()), UPDATE, "Attendance", after.id)
                    .diff(&snapshot(b), &snapshot(&after))
                    .write(&*txn, &trail)
                    .await?;
                changed += 1;
                after
            }
            None => {
                let after = attendance::ActiveModel {
                    student_id: Set(id),
                    date: Set(date),
                    status: Set(status.clone()),
                    class_name: Set(class_name.clone()),
                    section: Set(section.clone()),
                    marked_by: Set(Some(me.id())),
                    remarks: Set(remarks),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&*txn)
                .await
                .map_err(|e| {
                    if kernel::error::is_unique_violation(&e, "student_id") {
                        ApiError::Conflict(
                            "This class was being marked at the same time; try again.".into(),
                        )
                    } else {
                        e.into()
                    }
                })?;
                Event::new(Some(me.id()), CREATE, "Attendance", after.id)
                    .created(&snapshot(&after))
                    .write(&*txn, &trail)
                    .await?;
                made += 1;
                after
            }
        };
        if status == "absent" && !was_absent {
            let name = names.get(&id).cloned().unwrap_or_default();
            notified.extend(notify_parents(&*txn, pupil, date, &name).await?);
        }
        rows.push(row);
    }
    let records = outs(&*txn, rows).await?;
    txn.commit().await?;
    let told = notified.len();
    if !notified.is_empty() {
        notify::wake(&state, notified);
    }
    Ok(ok(AttendanceMarkOut {
        date,
        class_name,
        section,
        created: made,
        updated: changed,
        notified: told,
        records,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AttendanceByClassQuery {
    /// Required.
    pub class_name: Option<String>,
    pub section: Option<String>,
    /// `YYYY-MM-DD`; today when absent.
    pub date: Option<String>,
}

/// A student of the class with their day.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceClassRow {
    pub student_id: i64,
    pub student_name: String,
    pub enrollment_no: String,
    pub roll_number: Option<i32>,
    pub section: String,
    /// `null` when not marked.
    pub status: Option<String>,
    pub attendance_id: Option<i64>,
    pub remarks: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceClassOut {
    pub date: NaiveDate,
    pub class_name: String,
    pub section: Option<String>,
    pub students: Vec<AttendanceClassRow>,
}

/// Every student of a class (in the caller's reach) with their status
/// on `date`, or null (`attendance:read[:class|…]`).
#[utoipa::path(get, path = "/api/v1/erp/attendance/by_class/", tag = "erp",
    description = "Permission: `attendance:read` (scoped reads list only the students in reach).",
    params(AttendanceByClassQuery),
    responses((status = 200, body = inline(Data<AttendanceClassOut>))),
    security(("jwt" = [])))]
pub async fn attendance_by_class(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::extract::Query(q): kernel::extract::Query<AttendanceByClassQuery>,
) -> ApiResult<Data<AttendanceClassOut>> {
    let reach = me.reach("attendance", "read")?;
    let class_name = q
        .class_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("class_name", kernel::form::REQUIRED))?;
    let date = date_param("date", q.date.as_deref())?.unwrap_or_else(today);
    let section = q.section.map(|s| s.trim().to_owned());
    let mut query =
        student::Entity::find().filter(student::Column::ClassName.eq(class_name.clone()));
    if let Some(sec) = &section {
        query = query.filter(student::Column::Section.eq(sec.clone()));
    }
    if let Some(cond) = crate::erp::students_in_reach(&db, &me, reach).await? {
        query = query.filter(cond);
    }
    let students = query
        .order_by_asc(student::Column::Section)
        .order_by_asc(student::Column::RollNumber)
        .order_by_asc(student::Column::Id)
        .all(&db)
        .await?;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    let marks = if ids.is_empty() {
        Vec::new()
    } else {
        attendance::Entity::find()
            .filter(attendance::Column::StudentId.is_in(ids.clone()))
            .filter(attendance::Column::Date.eq(date))
            .all(&db)
            .await?
    };
    let names = names_of(&db, ids).await?;
    Ok(ok(AttendanceClassOut {
        date,
        class_name,
        section,
        students: students
            .into_iter()
            .map(|s| {
                let mark = marks.iter().find(|m| m.student_id == s.id);
                AttendanceClassRow {
                    student_id: s.id,
                    student_name: names.get(&s.id).cloned().unwrap_or_default(),
                    enrollment_no: s.enrollment_no,
                    roll_number: s.roll_number,
                    section: s.section,
                    status: mark.map(|m| m.status.clone()),
                    attendance_id: mark.map(|m| m.id),
                    remarks: mark.map(|m| m.remarks.clone()),
                }
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AttendanceSummaryQuery {
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// A student's attendance counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceSummaryOut {
    pub student: i64,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub present: i64,
    pub absent: i64,
    pub late: i64,
    pub excused: i64,
    /// (present + late) / (present + late + absent), rounded to 4 places;
    /// null without such days.
    pub rate: Option<f64>,
}

/// A student's counts over a period (`attendance:read[:own|:children|:class]`;
/// a student out of reach is a 404).
#[utoipa::path(get, path = "/api/v1/erp/attendance/students/{id}/summary/", tag = "erp",
    description = "Permission: `attendance:read` (or a scope reaching the student; else 404).",
    params(("id" = i64, Path), AttendanceSummaryQuery),
    responses((status = 200, body = inline(Data<AttendanceSummaryOut>))),
    security(("jwt" = [])))]
pub async fn attendance_summary(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    kernel::extract::Query(q): kernel::extract::Query<AttendanceSummaryQuery>,
) -> ApiResult<Data<AttendanceSummaryOut>> {
    let reach = me.reach("attendance", "read")?;
    let from = date_param("from", q.from.as_deref())?;
    let to = date_param("to", q.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::field("to", "Must not be before `from`."));
    }
    if student::Entity::find_by_id(id).one(&db).await?.is_none()
        || !in_reach(&db, &me, reach, id).await?
    {
        return Err(ApiError::not_found());
    }
    let mut query = attendance::Entity::find()
        .select_only()
        .column(attendance::Column::Status)
        .column_as(attendance::Column::Id.count(), "n")
        .filter(attendance::Column::StudentId.eq(id))
        .group_by(attendance::Column::Status);
    if let Some(f) = from {
        query = query.filter(attendance::Column::Date.gte(f));
    }
    if let Some(t) = to {
        query = query.filter(attendance::Column::Date.lte(t));
    }
    let counts: Vec<(String, i64)> = query.into_tuple().all(&db).await?;
    let n = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (present, absent, late, excused) = (n("present"), n("absent"), n("late"), n("excused"));
    let days = present + late + absent;
    #[allow(clippy::cast_precision_loss, reason = "day counts are small")]
    let rate = (days > 0).then(|| {
        let r = (present + late) as f64 / days as f64;
        (r * 10_000.0).round() / 10_000.0
    });
    Ok(ok(AttendanceSummaryOut {
        student: id,
        from,
        to,
        present,
        absent,
        late,
        excused,
        rate,
    }))
}

/// The row `id` if the caller's read reach covers its student, else 404.
async fn visible(db: &impl ConnectionTrait, me: &Me, id: i64) -> ApiResult<attendance::Model> {
    let reach = me.reach("attendance", "read")?;
    let row = attendance::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !in_reach(db, me, reach, row.student_id).await? {
        return Err(ApiError::not_found());
    }
    Ok(row)
}

/// One row (`attendance:read[:own|:children|:class]`; out of reach: 404).
#[utoipa::path(get, path = "/api/v1/erp/attendance/{id}/", tag = "erp",
    description = "Permission: `attendance:read` (or a scope reaching the student; else 404).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AttendanceOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_attendance(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AttendanceOut>> {
    let row = visible(&db, &me, id).await?;
    Ok(ok(out(&db, row).await?))
}

/// A change of status or remarks.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AttendancePatch {
    #[serde(default)]
    #[schema(value_type = Option<AttendanceStatus>)]
    pub status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<1000>)]
    pub remarks: Field<String>,
}

/// Changes a row's status or remarks (`attendance:mark`, or
/// `attendance:mark:class` for the teacher's students; read-only: 403).
#[utoipa::path(patch, path = "/api/v1/erp/attendance/{id}/", tag = "erp",
    description = "Permission: `attendance:mark`, or `attendance:mark:class` for a student of the teacher's classes.",
    params(("id" = i64, Path)), request_body = AttendancePatch,
    responses((status = 200, body = inline(Data<AttendanceOut>))),
    security(("jwt" = [])))]
pub async fn update_attendance(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AttendancePatch>,
) -> ApiResult<Data<AttendanceOut>> {
    let mut c = Checker::partial(true);
    let status = c.choice("status", body.status, STATUSES);
    let remarks = c.blank_text("remarks", body.remarks, 1000);
    let txn = kernel::db::begin_write(&db).await?;
    let before = visible(&*txn, &me, id).await?;
    require_mark(&me)?;
    let pupil = student::Entity::find_by_id(before.student_id)
        .one(&*txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    may_mark(&*txn, &me, &pupil).await?;
    c.finish()?;
    let mut row: attendance::ActiveModel = before.clone().into();
    if let Some(s) = &status {
        row.status = Set(s.clone());
    }
    if let Some(r) = remarks {
        row.remarks = Set(r);
    }
    row.marked_by = Set(Some(me.id()));
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Attendance", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, &trail)
        .await?;
    let mut queued = Vec::new();
    if after.status == "absent" && before.status != "absent" {
        let names = names_of(&*txn, [pupil.id]).await?;
        let name = names.get(&pupil.id).cloned().unwrap_or_default();
        queued = notify_parents(&*txn, &pupil, after.date, &name).await?;
    }
    let answer = out(&*txn, after).await?;
    txn.commit().await?;
    if !queued.is_empty() {
        notify::wake(&state, queued);
    }
    Ok(ok(answer))
}

/// Deletes a row (`attendance:delete`).
#[utoipa::path(delete, path = "/api/v1/erp/attendance/{id}/", tag = "erp",
    description = "Permission: `attendance:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_attendance(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = visible(&*txn, &me, id).await?;
    me.require("attendance:delete")?;
    attendance::Entity::delete_by_id(id).exec(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Attendance", id)
        .deleted(&snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
