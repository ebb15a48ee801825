//! `erp/students/` (contract §3 People): students created with their user in
//! one transaction, their parent links, class lists, statistics, CSV import
//! and export. Plus the helpers the other people resources share.
//!
//! Reading needs `students:read` with a reach (`:own`, `:children`,
//! `:class` or every row); rows outside it are 404 or absent from lists.
//! Writing needs `students:write`, deleting `students:delete`.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::listing::{ListOf, PageOf, PageSize};
use kernel::{ApiError, ApiResult, Checker, Field, FieldErrors, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationDef,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{parent, school_class, section, student, student_parent, user};
use crate::envelope::{Data, created, ok};
use crate::erp::parents::{ParentOut, find_parent_any};
use crate::rbac::{self, Me};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;
use crate::users::{self, UserBrief};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_students, create_student))
        .routes(routes!(students_by_class))
        .routes(routes!(student_statistics))
        .routes(routes!(import_students))
        .routes(routes!(export_students))
        .routes(routes!(
            retrieve_student,
            update_student,
            partial_update_student,
            destroy_student
        ))
        .routes(routes!(student_parents))
        .routes(routes!(student_add_parent))
}

pub const GENDERS: &[&str] = &["male", "female", "other"];
pub const BLOOD_GROUPS: &[&str] = &["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];
pub const STATUSES: &[&str] = &["active", "inactive", "graduated", "transferred"];
pub const RELATIONSHIPS: &[&str] = &["father", "mother", "guardian", "other"];

// ---------------------------------------------------------------------------
// Helpers shared by the people resources (students, parents, teachers, staff).
// ---------------------------------------------------------------------------

/// `users` joined on `<table>.user_id`, for searching and ordering people by name.
pub(crate) fn user_join<E: EntityTrait>(user_id: E::Column) -> RelationDef {
    E::belongs_to(user::Entity)
        .from(user_id)
        .to(user::Column::Id)
        .into()
}

/// The users of `ids`, by id.
pub(crate) async fn users_by_id(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> ApiResult<HashMap<i64, user::Model>> {
    let ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// The user of a person row (a missing one is a broken row: 404).
pub(crate) async fn user_of(db: &impl ConnectionTrait, id: i64) -> ApiResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The nested user and full name of a person.
pub(crate) fn brief(u: Option<&user::Model>) -> (UserBrief, String) {
    match u {
        Some(u) => (UserBrief::of(u), u.full_name()),
        None => (
            UserBrief {
                id: 0,
                email: String::new(),
                first_name: String::new(),
                last_name: String::new(),
                phone: String::new(),
                is_active: false,
            },
            String::new(),
        ),
    }
}

/// A nullable `YYYY-MM-DD` date: `Some(None)` clears it, `None` leaves it.
pub(crate) fn date(c: &mut Checker, name: &str, field: Field<String>) -> Option<Option<NaiveDate>> {
    match c.nullable(field)? {
        None => Some(None),
        Some(text) if text.trim().is_empty() => Some(None),
        Some(text) => match kernel::form::parse_date(&text) {
            Some(d) if chrono::Datelike::year(&d) >= 1900 => Some(Some(d)),
            Some(_) => {
                c.error(name, "Enter a date from 1900-01-01 on.");
                None
            }
            None => {
                c.error(
                    name,
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                );
                None
            }
        },
    }
}

/// A choice that is optional on create (then `default`) and left alone
/// when absent on an update.
pub(crate) fn choice_or(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    allowed: &[&str],
    default: &str,
    create: bool,
) -> Option<String> {
    if field.is_absent() {
        return create.then(|| default.to_owned());
    }
    c.choice(name, field, allowed)
}

/// A JSON object field (`metadata`): `{}` when absent on create.
pub(crate) fn object(
    c: &mut Checker,
    name: &str,
    field: Field<Value>,
    create: bool,
) -> Option<Value> {
    match field {
        Field::Absent => create.then(|| json!({})),
        Field::Null => Some(json!({})),
        Field::Value(v) if v.is_object() && !has_nul(&v) => Some(v),
        Field::Value(v) if v.is_object() => {
            c.error(name, kernel::form::NO_NUL);
            None
        }
        Field::Value(_) => {
            c.error(name, "Expected an object.");
            None
        }
    }
}

/// Whether a NUL character hides anywhere in `v` (PostgreSQL refuses it).
pub(crate) fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A user's names and phone as an update body gives them (each optional).
pub(crate) struct NameChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<Option<String>>,
}

pub(crate) fn name_change(
    c: &mut Checker,
    first_name: Field<String>,
    last_name: Field<String>,
    phone: Field<String>,
) -> NameChange {
    NameChange {
        first_name: if first_name.is_absent() {
            None
        } else {
            c.text("first_name", first_name, 100)
        },
        last_name: if last_name.is_absent() {
            None
        } else {
            c.text("last_name", last_name, 100)
        },
        phone: if phone.is_absent() {
            None
        } else {
            c.optional_text("phone", phone, 20)
        },
    }
}

/// Applies a [`NameChange`] to the user (no-op when nothing changes).
pub(crate) async fn apply_names(
    txn: &impl ConnectionTrait,
    u: user::Model,
    change: NameChange,
) -> ApiResult<user::Model> {
    if change.first_name.is_none() && change.last_name.is_none() && change.phone.is_none() {
        return Ok(u);
    }
    let mut row: user::ActiveModel = u.into();
    if let Some(v) = change.first_name {
        row.first_name = Set(v);
    }
    if let Some(v) = change.last_name {
        row.last_name = Set(v);
    }
    if let Some(v) = change.phone {
        row.phone = Set(v.unwrap_or_default());
    }
    row.updated_at = Set(kernel::time::now());
    Ok(row.update(txn).await?)
}

/// Deactivates a person's user and ends their tokens.
pub(crate) async fn deactivate(
    txn: &impl ConnectionTrait,
    me: &Me,
    u: &user::Model,
) -> ApiResult<()> {
    if u.id == me.id() {
        return Err(ApiError::Conflict("You cannot deactivate yourself.".into()));
    }
    if u.has_role(rbac::TENANT_ADMIN) && u.is_active && !users::another_admin(txn, u.id).await? {
        return Err(ApiError::Conflict(
            "The last active TenantAdmin cannot be deactivated.".into(),
        ));
    }
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .col_expr(user::Column::TokenEpoch, Expr::value(u.token_epoch + 1))
        .col_expr(user::Column::UpdatedAt, Expr::value(kernel::time::now()))
        .filter(user::Column::Id.eq(u.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// A class and section must name existing rows once any class is defined:
/// the problems, by field.
pub(crate) async fn class_problems(
    db: &impl ConnectionTrait,
    class_name: &str,
    section_name: &str,
) -> ApiResult<Vec<(&'static str, String)>> {
    let defined = school_class::Entity::find().count(db).await?;
    if defined == 0 {
        return Ok(Vec::new());
    }
    let Some(class) = school_class::Entity::find()
        .filter(school_class::Column::Name.eq(class_name))
        .one(db)
        .await?
    else {
        return Ok(vec![(
            "class_name",
            format!("No class named \"{class_name}\" exists."),
        )]);
    };
    let sections = section::Entity::find()
        .filter(section::Column::SchoolClassId.eq(class.id))
        .all(db)
        .await?;
    if !sections.is_empty() && !sections.iter().any(|s| s.name == section_name) {
        return Ok(vec![(
            "section",
            format!("Class \"{class_name}\" has no section \"{section_name}\"."),
        )]);
    }
    Ok(Vec::new())
}

/// `problems` as one 400, or nothing.
pub(crate) fn problems_into(problems: Vec<(&'static str, String)>) -> ApiResult<()> {
    let mut errors = FieldErrors::new();
    for (field, message) in problems {
        errors.add(field, message);
    }
    errors.into_result()
}

/// Counts `keys` by value.
pub(crate) fn tally<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for k in keys {
        *map.entry(k.to_owned()).or_insert(0) += 1;
    }
    map
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// A student as the API shows one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudentOut {
    pub id: i64,
    pub user: UserBrief,
    pub full_name: String,
    pub enrollment_no: String,
    pub class_name: String,
    pub section: String,
    pub roll_number: Option<i32>,
    pub admission_date: Option<NaiveDate>,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: String,
    pub blood_group: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub parent_name: String,
    pub parent_email: String,
    pub parent_phone: String,
    pub parent_relationship: String,
    pub status: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StudentOut {
    pub fn of(s: &student::Model, u: Option<&user::Model>) -> Self {
        let (user, full_name) = brief(u);
        Self {
            id: s.id,
            user,
            full_name,
            enrollment_no: s.enrollment_no.clone(),
            class_name: s.class_name.clone(),
            section: s.section.clone(),
            roll_number: s.roll_number,
            admission_date: s.admission_date,
            date_of_birth: s.date_of_birth,
            gender: s.gender.clone(),
            blood_group: s.blood_group.clone(),
            address: s.address.clone(),
            city: s.city.clone(),
            state: s.state.clone(),
            pincode: s.pincode.clone(),
            parent_name: s.parent_name.clone(),
            parent_email: s.parent_email.clone(),
            parent_phone: s.parent_phone.clone(),
            parent_relationship: s.parent_relationship.clone(),
            status: s.status.clone(),
            metadata: s.metadata.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Students with their users, in order.
pub async fn students_out(
    db: &impl ConnectionTrait,
    rows: Vec<student::Model>,
) -> ApiResult<Vec<StudentOut>> {
    let users = users_by_id(db, rows.iter().map(|s| s.user_id)).await?;
    Ok(rows
        .iter()
        .map(|s| StudentOut::of(s, users.get(&s.user_id)))
        .collect())
}

/// What audit rows keep of a student (with the user's names).
fn snapshot(s: &student::Model, u: &user::Model) -> Value {
    json!({
        "user_id": s.user_id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "phone": u.phone, "is_active": u.is_active,
        "enrollment_no": s.enrollment_no, "class_name": s.class_name, "section": s.section,
        "roll_number": s.roll_number, "admission_date": s.admission_date, "date_of_birth": s.date_of_birth,
        "gender": s.gender, "blood_group": s.blood_group, "address": s.address, "city": s.city,
        "state": s.state, "pincode": s.pincode, "parent_name": s.parent_name,
        "parent_email": s.parent_email, "parent_phone": s.parent_phone,
        "parent_relationship": s.parent_relationship, "status": s.status, "metadata": s.metadata,
    })
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// A student to create or change: the user's fields flat beside the
/// student's (`email` and `password` only on create).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpStudentIn)]
pub struct StudentIn {
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
    /// Without one the student is invited to set it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<50>)]
    pub enrollment_no: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>)]
    pub class_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<10>)]
    pub section: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub roll_number: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub admission_date: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Field<String>,
    #[serde(default)]
    #[schema(schema_with = gender_schema)]
    pub gender: Field<String>,
    /// A+ A- B+ B- AB+ AB- O+ O- or blank.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub blood_group: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub address: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub state: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub pincode: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_email: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_relationship: Field<String>,
    #[serde(default)]
    #[schema(schema_with = status_schema)]
    pub status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Field<Value>,
}

fn gender_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(GENDERS)
}

fn status_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(STATUSES)
}

/// The student columns a body sets (`None`: left as they are).
#[derive(Debug, Default)]
struct StudentFields {
    enrollment_no: Option<String>,
    class_name: Option<String>,
    section: Option<String>,
    roll_number: Option<Option<i32>>,
    admission_date: Option<Option<NaiveDate>>,
    date_of_birth: Option<Option<NaiveDate>>,
    gender: Option<String>,
    blood_group: Option<String>,
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    pincode: Option<String>,
    parent_name: Option<String>,
    parent_email: Option<String>,
    parent_phone: Option<String>,
    parent_relationship: Option<String>,
    status: Option<String>,
    metadata: Option<Value>,
}

/// Checks the student's own fields of `body` into `c` (`create`: a new row).
fn check_student(c: &mut Checker, body: StudentIn, create: bool) -> StudentFields {
    let roll_number = match c.nullable(body.roll_number) {
        None => None,
        Some(None) => Some(None),
        Some(Some(n)) if (1..=99_999).contains(&n) => i32::try_from(n).ok().map(Some),
        Some(Some(_)) => {
            c.error("roll_number", "Ensure this value is between 1 and 99999.");
            None
        }
    };
    let blood_group = match body.blood_group {
        Field::Absent => create.then(String::new),
        Field::Null => Some(String::new()),
        Field::Value(v) => {
            let v = v.trim().to_ascii_uppercase();
            if v.is_empty() || BLOOD_GROUPS.contains(&v.as_str()) {
                Some(v)
            } else {
                c.error("blood_group", format!("\"{v}\" is not a valid choice."));
                None
            }
        }
    };
    let parent_email = match c.blank_text("parent_email", body.parent_email, 254) {
        Some(e) if !e.is_empty() => match kernel::form::normalize_email(&e) {
            Some(e) => Some(e),
            None => {
                c.error("parent_email", "Enter a valid email address.");
                None
            }
        },
        other => other,
    };
    StudentFields {
        enrollment_no: c.text("enrollment_no", body.enrollment_no, 50),
        class_name: c.text("class_name", body.class_name, 20),
        section: c.text("section", body.section, 10),
        roll_number,
        admission_date: date(c, "admission_date", body.admission_date),
        date_of_birth: date(c, "date_of_birth", body.date_of_birth),
        gender: c.choice("gender", body.gender, GENDERS),
        blood_group,
        address: c.blank_text("address", body.address, 1000),
        city: c.blank_text("city", body.city, 100),
        state: c.blank_text("state", body.state, 100),
        pincode: c.blank_text("pincode", body.pincode, 10),
        parent_name: c.blank_text("parent_name", body.parent_name, 200),
        parent_email,
        parent_phone: c.blank_text("parent_phone", body.parent_phone, 20),
        parent_relationship: c.blank_text("parent_relationship", body.parent_relationship, 50),
        status: choice_or(c, "status", body.status, STATUSES, "active", create),
        metadata: object(c, "metadata", body.metadata, create),
    }
}

impl StudentFields {
    fn apply(self, row: &mut student::ActiveModel) {
        macro_rules! set {
            ($($f:ident),*) => {$(if let Some(v) = self.$f { row.$f = Set(v); })*};
        }
        set!(
            enrollment_no,
            class_name,
            section,
            roll_number,
            admission_date,
            date_of_birth,
            gender,
            blood_group,
            address,
            city,
            state,
            pincode,
            parent_name,
            parent_email,
            parent_phone,
            parent_relationship,
            status,
            metadata
        );
    }
}

/// The rules across fields and rows of a student about to be saved: dates,
/// class and section, a unique enrollment number.
async fn student_problems(
    db: &impl ConnectionTrait,
    s: &student::ActiveModel,
    id: Option<i64>,
) -> ApiResult<Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let value = |v: &sea_orm::ActiveValue<String>| v.clone().take().unwrap_or_default();
    let dob = s.date_of_birth.clone().take().flatten();
    let admitted = s.admission_date.clone().take().flatten();
    if let Some(dob) = dob {
        if dob > kernel::time::now().date_naive() {
            problems.push((
                "date_of_birth",
                "Date of birth cannot be in the future.".to_owned(),
            ));
        } else if admitted.is_some_and(|a| dob >= a) {
            problems.push((
                "date_of_birth",
                "Date of birth must be before the admission date.".to_owned(),
            ));
        }
    }
    problems.extend(class_problems(db, &value(&s.class_name), &value(&s.section)).await?);
    let mut taken =
        student::Entity::find().filter(student::Column::EnrollmentNo.eq(value(&s.enrollment_no)));
    if let Some(id) = id {
        taken = taken.filter(student::Column::Id.ne(id));
    }
    if taken.count(db).await? > 0 {
        problems.push((
            "enrollment_no",
            "A student with this enrollment number already exists.".to_owned(),
        ));
    }
    Ok(problems)
}

fn unique_enrollment(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "enrollment_no") {
        ApiError::field(
            "enrollment_no",
            "A student with this enrollment number already exists.",
        )
    } else {
        e.into()
    }
}

fn blank_student(user_id: i64) -> student::ActiveModel {
    let now = kernel::time::now();
    student::ActiveModel {
        user_id: Set(user_id),
        enrollment_no: Set(String::new()),
        class_name: Set(String::new()),
        section: Set(String::new()),
        roll_number: Set(None),
        admission_date: Set(None),
        date_of_birth: Set(None),
        gender: Set("other".into()),
        blood_group: Set(String::new()),
        address: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        pincode: Set(String::new()),
        parent_name: Set(String::new()),
        parent_email: Set(String::new()),
        parent_phone: Set(String::new()),
        parent_relationship: Set(String::new()),
        status: Set("active".into()),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// Row scope
// ---------------------------------------------------------------------------

/// The students `me` may read (`None`: every one); 403 without any reach.
async fn read_scope(db: &impl ConnectionTrait, me: &Me) -> ApiResult<Option<Condition>> {
    let reach = me.reach("students", "read")?;
    Ok(crate::erp::students_in_reach(db, me, reach).await?)
}

/// Student `id` if `me` may read it, else 404.
pub async fn find_readable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
) -> ApiResult<student::Model> {
    let mut query = student::Entity::find_by_id(id);
    if let Some(scope) = read_scope(db, me).await? {
        query = query.filter(scope);
    }
    query.one(db).await?.ok_or_else(ApiError::not_found)
}

/// Student `id` for a write needing `code`: a row the caller cannot see is
/// 404, one they may only read 403.
async fn find_writable(
    db: &impl ConnectionTrait,
    me: &Me,
    id: i64,
    code: &str,
) -> ApiResult<student::Model> {
    if me.can(code) {
        return student::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found);
    }
    find_readable(db, me, id).await?;
    Err(ApiError::no_permission())
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// Students in the caller's reach (filters `class_name, section, status,
/// gender, blood_group`; search name, enrollment_no, parent_name; default
/// order class, section, roll number).
#[utoipa::path(get, path = "/api/v1/erp/students/", tag = "erp",
    description = "Permission: `students:read` (`:own` a student themself, `:children` a parent's linked children, `:class` a teacher's classes).",
    params(("class_name" = Option<String>, Query), ("section" = Option<String>, Query),
        ("status" = Option<String>, Query), ("gender" = Option<String>, Query),
        ("blood_group" = Option<String>, Query), ("search" = Option<String>, Query),
        ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<StudentOut>))),
    security(("jwt" = [])))]
pub async fn list_students(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, StudentOut>>> {
    let scope = read_scope(&db, &me).await?;
    let mut query = student::Entity::find().join(
        JoinType::InnerJoin,
        user_join::<student::Entity>(student::Column::UserId),
    );
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    use kernel::listing::FilterKind;
    query = list.filter(
        query,
        "class_name",
        student::Column::ClassName,
        FilterKind::Text,
    )?;
    query = list.filter(query, "section", student::Column::Section, FilterKind::Text)?;
    query = list.filter(
        query,
        "status",
        student::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    query = list.filter(
        query,
        "gender",
        student::Column::Gender,
        FilterKind::Choice(GENDERS),
    )?;
    query = list.filter(
        query,
        "blood_group",
        student::Column::BloodGroup,
        FilterKind::Choice(BLOOD_GROUPS),
    )?;
    let query = list.search(
        query,
        &[
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
            student::Column::EnrollmentNo.into_simple_expr(),
            student::Column::ParentName.into_simple_expr(),
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
            (
                "admission_date",
                student::Column::AdmissionDate.into_simple_expr(),
            ),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("created_at", student::Column::CreatedAt.into_simple_expr()),
            ("id", student::Column::Id.into_simple_expr()),
        ],
        &[
            ("class_name", sea_orm::Order::Asc),
            ("section", sea_orm::Order::Asc),
            ("roll_number", sea_orm::Order::Asc),
        ],
        student::Column::Id,
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
    let users = users_by_id(&db, page.data.iter().map(|s| s.user_id)).await?;
    Ok(Json(
        page.map(|s| StudentOut::of(&s, users.get(&s.user_id))),
    ))
}

/// Creates a student with their user (role Student) in one transaction.
#[utoipa::path(post, path = "/api/v1/erp/students/", tag = "erp",
    description = "Permission: `students:write`. Counts against the plan's `max_users`.",
    request_body = StudentIn,
    responses((status = 201, body = inline(Data<StudentOut>))),
    security(("jwt" = [])))]
pub async fn create_student(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Json(mut body): Json<StudentIn>,
) -> ApiResult<(StatusCode, Data<StudentOut>)> {
    me.require("students:write")?;
    let mut c = Checker::new();
    let mut account = users::check_account(
        &mut c,
        std::mem::take(&mut body.email),
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
        std::mem::take(&mut body.password),
    );
    let fields = check_student(&mut c, body, true);
    c.finish()?;
    let txn = kernel::db::begin_write(&db).await?;
    let mut row = blank_student(0);
    fields.apply(&mut row);
    problems_into(student_problems(&*txn, &row, None).await?)?;
    account.roles = vec![rbac::STUDENT.into()];
    let u = users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    row.user_id = Set(u.id);
    let s = row.insert(&*txn).await.map_err(unique_enrollment)?;
    Event::new(Some(me.id()), CREATE, "Student", s.id)
        .created(&snapshot(&s, &u))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(StudentOut::of(&s, Some(&u))))
}

/// One student in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/students/{id}/", tag = "erp",
    description = "Permission: `students:read` (`:own`, `:children`, `:class`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<StudentOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_student(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<StudentOut>> {
    let s = find_readable(&db, &me, id).await?;
    let u = user_of(&db, s.user_id).await?;
    Ok(ok(StudentOut::of(&s, Some(&u))))
}

async fn change_student(
    me: &Me,
    db: &sea_orm::DatabaseConnection,
    trail: &Trail,
    id: i64,
    mut body: StudentIn,
    partial: bool,
) -> ApiResult<StudentOut> {
    let mut c = Checker::partial(partial);
    let names = name_change(
        &mut c,
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
    );
    let fields = check_student(&mut c, body, false);
    let txn = kernel::db::begin_write(db).await?;
    let before = find_writable(&*txn, me, id, "students:write").await?;
    c.finish()?;
    let u_before = user_of(&*txn, before.user_id).await?;
    let mut row: student::ActiveModel = before.clone().into();
    fields.apply(&mut row);
    problems_into(student_problems(&*txn, &row, Some(id)).await?)?;
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await.map_err(unique_enrollment)?;
    let u = apply_names(&*txn, u_before.clone(), names).await?;
    Event::new(Some(me.id()), UPDATE, "Student", id)
        .diff(&snapshot(&before, &u_before), &snapshot(&after, &u))
        .write(&*txn, trail)
        .await?;
    txn.commit().await?;
    Ok(StudentOut::of(&after, Some(&u)))
}

/// Replaces a student's fields (`students:write`).
#[utoipa::path(put, path = "/api/v1/erp/students/{id}/", tag = "erp",
    description = "Permission: `students:write`.",
    params(("id" = i64, Path)), request_body = StudentIn,
    responses((status = 200, body = inline(Data<StudentOut>))),
    security(("jwt" = [])))]
pub async fn update_student(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<StudentIn>,
) -> ApiResult<Data<StudentOut>> {
    Ok(ok(change_student(&me, &db, &trail, id, body, false).await?))
}

/// Changes some of a student's fields (`students:write`).
#[utoipa::path(patch, path = "/api/v1/erp/students/{id}/", tag = "erp",
    description = "Permission: `students:write`.",
    params(("id" = i64, Path)), request_body = StudentIn,
    responses((status = 200, body = inline(Data<StudentOut>))),
    security(("jwt" = [])))]
pub async fn partial_update_student(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<StudentIn>,
) -> ApiResult<Data<StudentOut>> {
    Ok(ok(change_student(&me, &db, &trail, id, body, true).await?))
}

/// Deactivates a student: their user can no longer sign in (tokens end) and
/// the status becomes `inactive` (`students:delete`).
#[utoipa::path(delete, path = "/api/v1/erp/students/{id}/", tag = "erp",
    description = "Permission: `students:delete`.",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deactivated.")),
    security(("jwt" = [])))]
pub async fn destroy_student(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_writable(&*txn, &me, id, "students:delete").await?;
    let u = user_of(&*txn, before.user_id).await?;
    deactivate(&*txn, &me, &u).await?;
    let mut row: student::ActiveModel = before.clone().into();
    row.status = Set("inactive".into());
    row.updated_at = Set(kernel::time::now());
    row.update(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Student", id)
        .changes(json!({"status": [before.status, "inactive"], "is_active": [u.is_active, false]}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A student's link to a parent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpStudentParentLink)]
pub struct ParentLinkOut {
    pub id: i64,
    pub student_id: i64,
    pub relationship: String,
    pub is_primary: bool,
    pub is_emergency_contact: bool,
    pub created_at: DateTime<Utc>,
    pub parent: ParentOut,
}

/// The parents linked to a student in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/students/{id}/parents/", tag = "erp",
    description = "Permission: `students:read` (`:own`, `:children`, `:class`).",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<Vec<ParentLinkOut>>))),
    security(("jwt" = [])))]
pub async fn student_parents(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<Vec<ParentLinkOut>>> {
    let s = find_readable(&db, &me, id).await?;
    let links = student_parent::Entity::find()
        .filter(student_parent::Column::StudentId.eq(s.id))
        .order_by_desc(student_parent::Column::IsPrimary)
        .order_by_asc(student_parent::Column::Id)
        .all(&db)
        .await?;
    let parents: HashMap<i64, parent::Model> = parent::Entity::find()
        .filter(parent::Column::Id.is_in(links.iter().map(|l| l.parent_id)))
        .all(&db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let users = users_by_id(&db, parents.values().map(|p| p.user_id)).await?;
    let out = links
        .into_iter()
        .filter_map(|l| {
            let p = parents.get(&l.parent_id)?;
            Some(ParentLinkOut {
                id: l.id,
                student_id: l.student_id,
                relationship: l.relationship,
                is_primary: l.is_primary,
                is_emergency_contact: l.is_emergency_contact,
                created_at: l.created_at,
                parent: ParentOut::of(p, users.get(&p.user_id)),
            })
        })
        .collect();
    Ok(ok(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ErpAddParentIn)]
pub struct AddParentIn {
    #[serde(default)]
    #[schema(value_type = i64)]
    pub parent_id: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = relationship_schema)]
    pub relationship: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_primary: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_emergency_contact: Field<bool>,
}

fn relationship_schema() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::choice(RELATIONSHIPS)
}

/// Links a parent to a student (`students:write`); a second link of the
/// same pair is 400.
#[utoipa::path(post, path = "/api/v1/erp/students/{id}/add_parent/", tag = "erp",
    description = "Permission: `students:write`.",
    params(("id" = i64, Path)), request_body = AddParentIn,
    responses((status = 201, body = inline(Data<ParentLinkOut>))),
    security(("jwt" = [])))]
pub async fn student_add_parent(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AddParentIn>,
) -> ApiResult<(StatusCode, Data<ParentLinkOut>)> {
    let mut c = Checker::new();
    let parent_id = c.value("parent_id", body.parent_id);
    let relationship = c.choice("relationship", body.relationship, RELATIONSHIPS);
    let is_primary = c.boolean("is_primary", body.is_primary, false);
    let emergency = c.boolean("is_emergency_contact", body.is_emergency_contact, false);
    let txn = kernel::db::begin_write(&db).await?;
    let s = find_writable(&*txn, &me, id, "students:write").await?;
    c.finish()?;
    let (Some(parent_id), Some(relationship)) = (parent_id, relationship) else {
        return Err(ApiError::non_field("Invalid input."));
    };
    let Some(p) = find_parent_any(&*txn, parent_id).await? else {
        return Err(ApiError::field(
            "parent_id",
            format!("Invalid pk \"{parent_id}\" - object does not exist."),
        ));
    };
    let exists = student_parent::Entity::find()
        .filter(student_parent::Column::StudentId.eq(s.id))
        .filter(student_parent::Column::ParentId.eq(p.id))
        .count(&*txn)
        .await?
        > 0;
    if exists {
        return Err(ApiError::field(
            "parent_id",
            "This parent is already linked to the student.",
        ));
    }
    let is_primary = is_primary.unwrap_or(false);
    if is_primary {
        student_parent::Entity::update_many()
            .col_expr(student_parent::Column::IsPrimary, Expr::value(false))
            .filter(student_parent::Column::StudentId.eq(s.id))
            .exec(&*txn)
            .await?;
    }
    let link = student_parent::ActiveModel {
        student_id: Set(s.id),
        parent_id: Set(p.id),
        relationship: Set(relationship),
        is_primary: Set(is_primary),
        is_emergency_contact: Set(emergency.unwrap_or(false)),
        created_at: Set(kernel::time::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ) {
            ApiError::field("parent_id", "This parent is already linked to the student.")
        } else {
            e.into()
        }
    })?;
    Event::new(Some(me.id()), CREATE, "StudentParent", link.id)
        .created(
            &json!({"student_id": link.student_id, "parent_id": link.parent_id,
            "relationship": link.relationship, "is_primary": link.is_primary,
            "is_emergency_contact": link.is_emergency_contact}),
        )
        .write(&*txn, &trail)
        .await?;
    let pu = user_of(&*txn, p.user_id).await?;
    txn.commit().await?;
    Ok(created(ParentLinkOut {
        id: link.id,
        student_id: link.student_id,
        relationship: link.relationship,
        is_primary: link.is_primary,
        is_emergency_contact: link.is_emergency_contact,
        created_at: link.created_at,
        parent: ParentOut::of(&p, Some(&pu)),
    }))
}

/// The students of a class (and section) in the caller's reach, by roll number.
#[utoipa::path(get, path = "/api/v1/erp/students/by_class/", tag = "erp",
    description = "Permission: `students:read` (`:own`, `:children`, `:class`).",
    params(("class_name" = String, Query), ("section" = Option<String>, Query)),
    responses((status = 200, body = inline(Data<Vec<StudentOut>>))),
    security(("jwt" = [])))]
pub async fn students_by_class(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Data<Vec<StudentOut>>> {
    let scope = read_scope(&db, &me).await?;
    let Some(class_name) = list.get("class_name") else {
        return Err(ApiError::field("class_name", kernel::form::REQUIRED));
    };
    let mut query = student::Entity::find().filter(student::Column::ClassName.eq(class_name));
    if let Some(section) = list.get("section") {
        query = query.filter(student::Column::Section.eq(section));
    }
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    let rows = query
        .order_by_asc(student::Column::Section)
        .order_by_asc(student::Column::RollNumber)
        .order_by_asc(student::Column::Id)
        .limit(2000)
        .all(&db)
        .await?;
    Ok(ok(students_out(&db, rows).await?))
}

/// One class and section's head count.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpClassCount)]
pub struct ClassCount {
    pub class_name: String,
    pub section: String,
    pub count: u64,
}

/// Student statistics over the caller's reach.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpStudentStatistics)]
pub struct StudentStatistics {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_class: Vec<ClassCount>,
    pub by_gender: BTreeMap<String, u64>,
}

/// Counts of the students in the caller's reach.
#[utoipa::path(get, path = "/api/v1/erp/students/statistics/", tag = "erp",
    description = "Permission: `students:read` (over the caller's reach).",
    responses((status = 200, body = inline(Data<StudentStatistics>))),
    security(("jwt" = [])))]
pub async fn student_statistics(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<StudentStatistics>> {
    let scope = read_scope(&db, &me).await?;
    let mut query = student::Entity::find()
        .select_only()
        .column(student::Column::Status)
        .column(student::Column::ClassName)
        .column(student::Column::Section)
        .column(student::Column::Gender);
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    let rows: Vec<(String, String, String, String)> = query.into_tuple().all(&db).await?;
    let mut classes: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, class_name, section, _) in &rows {
        *classes
            .entry((class_name.clone(), section.clone()))
            .or_insert(0) += 1;
    }
    Ok(ok(StudentStatistics {
        total: rows.len() as u64,
        by_status: tally(rows.iter().map(|r| r.0.as_str())),
        by_class: classes
            .into_iter()
            .map(|((class_name, section), count)| ClassCount {
                class_name,
                section,
                count,
            })
            .collect(),
        by_gender: tally(rows.iter().map(|r| r.3.as_str())),
    }))
}

/// What an import created.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ErpImportOut)]
pub struct ImportOut {
    pub created: u64,
}

const IMPORT_MAX_ROWS: usize = 2000;
const IMPORT_REQUIRED: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "enrollment_no",
    "class_name",
    "section",
    "gender",
];

/// The CSV of an import body: multipart field `file`, a `text/csv` body,
/// or JSON `{"csv": …}`.
async fn csv_body(req: Request, state: &AppState) -> ApiResult<Bytes> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let form = kernel::upload::FormBody::from_request(req, state).await?;
        return form
            .files
            .get("file")
            .map(|f| f.bytes.clone())
            .ok_or_else(|| ApiError::field("file", "No file was submitted."));
    }
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        let Json(body) = Json::<ImportJson>::from_request(req, state).await?;
        return match body.csv {
            Field::Value(text) => Ok(Bytes::from(text)),
            _ => Err(ApiError::field("csv", kernel::form::REQUIRED)),
        };
    }
    if media != "text/csv" && media != "text/plain" && media != "application/csv" {
        return Err(ApiError::UnsupportedMediaType {
            content_type: media,
        });
    }
    Bytes::from_request(req, state)
        .await
        .map_err(kernel::extract::body_rejection)
}

/// A JSON import body: `{"csv": "<the file's text>"}`.
#[derive(Debug, Default, Deserialize)]
struct ImportJson {
    #[serde(default)]
    csv: Field<String>,
}

/// A checked import row.
struct ImportRow {
    account: users::NewAccount,
    student: student::ActiveModel,
}

/// Imports students from CSV (`students:write`): columns `email, first_name,
/// last_name, enrollment_no, class_name, section, gender` and optionally
/// `phone, password, roll_number, admission_date, date_of_birth,
/// blood_group, address, city, state, pincode, parent_name, parent_email,
/// parent_phone, parent_relationship, status`. Every row is checked first;
/// any bad row answers 400 with `details.rows: [{row, errors}]` (row 1 is
/// the first line after the header) and nothing is written; else all are
/// created in one transaction.
#[utoipa::path(post, path = "/api/v1/erp/students/import/", tag = "erp",
    description = "Permission: `students:write`. Multipart field `file`, a `text/csv` body, or JSON `{\"csv\": \"…\"}`. Counts against the plan's `max_users`.",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = inline(Data<ImportOut>))),
    security(("jwt" = [])))]
pub async fn import_students(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    req: Request,
) -> ApiResult<(StatusCode, Data<ImportOut>)> {
    me.require("students:write")?;
    let bytes = csv_body(req, &state).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::field("file", "The file is not UTF-8 text."))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| ApiError::field("file", "The file is not valid CSV."))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = IMPORT_REQUIRED
        .iter()
        .copied()
        .filter(|h| !headers.iter().any(|x| x == h))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::field(
            "file",
            format!("Missing columns: {}.", missing.join(", ")),
        ));
    }
    let mut rows: Vec<(usize, Result<ImportRow, Value>)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let n = i + 1;
        if n > IMPORT_MAX_ROWS {
            return Err(ApiError::field(
                "file",
                format!("At most {IMPORT_MAX_ROWS} rows may be imported at once."),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                rows.push((
                    n,
                    Err(json!({"non_field_errors": ["The row is not valid CSV."]})),
                ));
                continue;
            }
        };
        let mut map = serde_json::Map::new();
        for (h, v) in headers.iter().zip(record.iter()) {
            if v.is_empty() || h == "metadata" {
                continue;
            }
            let value = if h == "roll_number" {
                v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n))
            } else {
                json!(v)
            };
            map.insert(h.clone(), value);
        }
        let bytes = serde_json::to_vec(&Value::Object(map)).map_err(ApiError::internal)?;
        rows.push((n, check_import_row(&bytes)));
    }
    if rows.is_empty() {
        return Err(ApiError::field("file", "The file has no rows."));
    }
    // Rules across rows and against the school's data.
    let mut seen_emails = HashSet::new();
    let mut seen_enrollments = HashSet::new();
    let mut failures = Vec::new();
    for (n, row) in &rows {
        let mut errors = FieldErrors::new();
        match row {
            Err(e) => {
                failures.push(json!({"row": n, "errors": e}));
                continue;
            }
            Ok(r) => {
                if !seen_emails.insert(r.account.email.clone()) {
                    errors.add("email", "This email appears on an earlier row.");
                } else if user::Entity::find()
                    .filter(user::Column::Email.eq(r.account.email.clone()))
                    .count(&db)
                    .await?
                    > 0
                {
                    errors.add("email", "A user with this email already exists.");
                }
                let enrollment = r.student.enrollment_no.clone().take().unwrap_or_default();
                if !seen_enrollments.insert(enrollment) {
                    errors.add(
                        "enrollment_no",
                        "This enrollment number appears on an earlier row.",
                    );
                }
                for (field, message) in student_problems(&db, &r.student, None).await? {
                    errors.add(field, message);
                }
            }
        }
        if !errors.is_empty() {
            failures.push(json!({"row": n, "errors": errors.to_json()}));
        }
    }
    if !failures.is_empty() {
        return Err(ApiError::detailed(
            StatusCode::BAD_REQUEST,
            "Some rows are invalid; nothing was imported.",
            "ERR_VALIDATION_01",
            json!({"rows": failures}),
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut count = 0u64;
    for (_, row) in rows {
        let Ok(ImportRow {
            mut account,
            mut student,
        }) = row
        else {
            continue;
        };
        account.roles = vec![rbac::STUDENT.into()];
        let u = users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
        student.user_id = Set(u.id);
        let s = student.insert(&*txn).await.map_err(unique_enrollment)?;
        Event::new(Some(me.id()), CREATE, "Student", s.id)
            .created(&snapshot(&s, &u))
            .write(&*txn, &trail)
            .await?;
        count += 1;
    }
    txn.commit().await?;
    state.wake_jobs();
    Ok(created(ImportOut { created: count }))
}

/// One import row's own checks: the account and student fields.
fn check_import_row(bytes: &[u8]) -> Result<ImportRow, Value> {
    let mut body: StudentIn = match kernel::extract::parse_json(bytes) {
        Ok(b) => b,
        Err(ApiError::Validation(errors)) => return Err(errors.to_json()),
        Err(_) => return Err(json!({"non_field_errors": ["Invalid row."]})),
    };
    let mut c = Checker::new();
    let account = users::check_account(
        &mut c,
        std::mem::take(&mut body.email),
        std::mem::take(&mut body.first_name),
        std::mem::take(&mut body.last_name),
        std::mem::take(&mut body.phone),
        std::mem::take(&mut body.password),
    );
    let fields = check_student(&mut c, body, true);
    match c.finish() {
        Ok(()) => {
            let mut student = blank_student(0);
            fields.apply(&mut student);
            Ok(ImportRow { account, student })
        }
        Err(ApiError::Validation(errors)) => Err(errors.to_json()),
        Err(_) => Err(json!({"non_field_errors": ["Invalid row."]})),
    }
}

/// A CSV cell that a spreadsheet will not run as a formula.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The students in the caller's reach as CSV (filters as the list); the
/// export is audited (`EXPORT`).
#[utoipa::path(get, path = "/api/v1/erp/students/export/", tag = "erp",
    description = "Permission: `students:read` (over the caller's reach).",
    params(("class_name" = Option<String>, Query), ("section" = Option<String>, Query),
        ("status" = Option<String>, Query)),
    responses((status = 200, description = "The students as CSV (an attachment).", content_type = "text/csv", body = String)),
    security(("jwt" = [])))]
pub async fn export_students(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Response> {
    let scope = read_scope(&db, &me).await?;
    let mut query = student::Entity::find();
    if let Some(scope) = scope {
        query = query.filter(scope);
    }
    use kernel::listing::FilterKind;
    query = list.filter(
        query,
        "class_name",
        student::Column::ClassName,
        FilterKind::Text,
    )?;
    query = list.filter(query, "section", student::Column::Section, FilterKind::Text)?;
    query = list.filter(
        query,
        "status",
        student::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    let rows = query
        .order_by_asc(student::Column::ClassName)
        .order_by_asc(student::Column::Section)
        .order_by_asc(student::Column::RollNumber)
        .order_by_asc(student::Column::Id)
        .all(&db)
        .await?;
    let users = users_by_id(&db, rows.iter().map(|s| s.user_id)).await?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header = [
        "id",
        "enrollment_no",
        "email",
        "first_name",
        "last_name",
        "phone",
        "class_name",
        "section",
        "roll_number",
        "admission_date",
        "date_of_birth",
        "gender",
        "blood_group",
        "status",
        "address",
        "city",
        "state",
        "pincode",
        "parent_name",
        "parent_email",
        "parent_phone",
        "parent_relationship",
    ];
    writer.write_record(header).map_err(ApiError::internal)?;
    for s in &rows {
        let u = users.get(&s.user_id);
        let text = |f: fn(&user::Model) -> &str| u.map(f).unwrap_or_default().to_owned();
        let record = [
            s.id.to_string(),
            s.enrollment_no.clone(),
            text(|u| &u.email),
            text(|u| &u.first_name),
            text(|u| &u.last_name),
            text(|u| &u.phone),
            s.class_name.clone(),
            s.section.clone(),
            s.roll_number.map(|n| n.to_string()).unwrap_or_default(),
            s.admission_date.map(|d| d.to_string()).unwrap_or_default(),
            s.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
            s.gender.clone(),
            s.blood_group.clone(),
            s.status.clone(),
            s.address.clone(),
            s.city.clone(),
            s.state.clone(),
            s.pincode.clone(),
            s.parent_name.clone(),
            s.parent_email.clone(),
            s.parent_phone.clone(),
            s.parent_relationship.clone(),
        ];
        writer
            .write_record(record.iter().map(|c| cell(c)))
            .map_err(ApiError::internal)?;
    }
    let bytes = writer.into_inner().map_err(ApiError::internal)?;
    let txn = kernel::db::begin_write(&db).await?;
    Event::new(Some(me.id()), "EXPORT", "Student", "*")
        .changes(json!({"count": rows.len(), "format": "csv"}))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(kernel::upload::attachment_as(
        bytes,
        "text/csv; charset=utf-8",
        "students.csv",
    ))
}
