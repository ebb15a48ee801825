//! `/api/students/`: student records (spec §3.2). Administrators manage them;
//! office staff read them; a student sees only their own.

use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use sea_orm::Condition;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Page, PageSize};
use regex::Regex;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    Order, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::entities::{academic_department, course, finance_record, school, student};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;
use crate::users::{
    ADMISSION_TAKEN, EMAIL_TAKEN, UserOut, admission_taken, email_taken, user_conflict,
};

/// ASCII digits only: the admission year is read from the last four.
const REGISTRATION_PATTERN: &str = "^[A-Z]{2,10}/[A-Z]{2,10}/[0-9]{4}/[0-9]{4}$";
static REGISTRATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(REGISTRATION_PATTERN).expect("a valid pattern"));
const REGISTRATION_FORMAT: &str =
    "Registration number must follow format SCHOOL/DEPT/NNNN/YYYY (e.g., SCE/CS/0001/2024)";
/// Whether `number` is a registration number campus accepts.
pub(crate) fn valid_registration(number: &str) -> bool {
    REGISTRATION.is_match(number)
}

const REGISTRATION_TAKEN: &str = "Student with this registration number already exists.";

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentOut {
    pub id: Uuid,
    pub user: UserOut,
    pub registration_number: String,
    /// Taken from the registration number's last part.
    pub admission_year: i32,
    pub school: Option<Uuid>,
    pub department: Option<Uuid>,
    pub course: Option<Uuid>,
    pub faculty: String,
    pub program: String,
    pub graduation_year: i32,
    /// eligible, ineligible or pending.
    pub eligibility_status: String,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl StudentOut {
    pub fn new(s: student::Model, user: &user::Model) -> Self {
        Self {
            id: s.id,
            user: UserOut::new(user, None),
            registration_number: s.registration_number,
            admission_year: s.admission_year,
            school: s.school_id,
            department: s.department_id,
            course: s.course_id,
            faculty: s.faculty,
            program: s.program,
            graduation_year: s.graduation_year,
            eligibility_status: s.eligibility_status,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// What an audit row shows of a student record.
fn audit_snapshot(s: &student::Model) -> serde_json::Value {
    kernel::audit::snapshot(&serde_json::json!({
        "registration_number": s.registration_number,
        "admission_year": s.admission_year,
        "school": s.school_id,
        "department": s.department_id,
        "course": s.course_id,
        "faculty": s.faculty,
        "program": s.program,
        "graduation_year": s.graduation_year,
        "eligibility_status": s.eligibility_status,
    }))
}

/// How a student record is named in audit rows.
fn audit_name(s: &student::Model, account: &user::Model) -> String {
    format!("{} ({})", account.full_name, s.registration_number)
}

/// Ids of the students whose registration number, name or email matches
/// `?search=`, as a sub-select for lists of things that belong to students.
pub fn matching(list: &ListQuery) -> Option<sea_orm::sea_query::SelectStatement> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let fields = [
        student::Column::RegistrationNumber.into_simple_expr(),
        user::Column::FullName.into_simple_expr(),
        user::Column::Email.into_simple_expr(),
    ];
    let condition = list.search_condition(&fields)?;
    Some(
        Query::select()
            .column((student::Entity, student::Column::Id))
            .from(student::Entity)
            .inner_join(
                user::Entity,
                Expr::col((user::Entity, user::Column::Id))
                    .equals((student::Entity, student::Column::UserId)),
            )
            .cond_where(condition)
            .to_owned(),
    )
}

/// Rows whose `student_id` column names a student record of the account
/// `user_id`: a student's own requests, gowns, finance records, payments.
pub fn own_rows(user_id: Uuid, student_id: impl sea_orm::ColumnTrait) -> Condition {
    Condition::all().add(
        student_id.in_subquery(
            sea_orm::sea_query::Query::select()
                .column(student::Column::Id)
                .from(student::Entity)
                .and_where(student::Column::UserId.eq(user_id))
                .to_owned(),
        ),
    )
}

/// The student records `me` may see: all for administrators and office
/// staff, their own for a student.
impl kernel::Scoped for student::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        match me.role {
            Role::Admin | Role::DepartmentStaff => Condition::all(),
            Role::Student => Condition::all().add(student::Column::UserId.eq(me.id)),
        }
    }

    fn not_found() -> ApiError {
        not_found()
    }
}

/// A new student: the account and its student record, created together.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StudentIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::password::<8>, required = true)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<50>)]
    pub admission_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = registration_number, required = true)]
    pub registration_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub faculty: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub program: Field<String>,
    #[serde(default)]
    #[schema(schema_with = graduation_year, required = true)]
    pub graduation_year: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub school: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub course: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Eligibility, required = false)]
    pub eligibility_status: Field<String>,
}

impl StudentIn {
    /// The student record's fields.
    fn record(&mut self) -> StudentRecordIn {
        StudentRecordIn {
            registration_number: std::mem::take(&mut self.registration_number),
            faculty: std::mem::take(&mut self.faculty),
            program: std::mem::take(&mut self.program),
            graduation_year: std::mem::take(&mut self.graduation_year),
            school: std::mem::take(&mut self.school),
            department: std::mem::take(&mut self.department),
            course: std::mem::take(&mut self.course),
            eligibility_status: std::mem::take(&mut self.eligibility_status),
        }
    }
}

/// A student record's academic fields (PUT; PATCH takes any of them). The
/// account is changed under `/api/users/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StudentRecordIn {
    #[serde(default)]
    #[schema(schema_with = registration_number, required = true)]
    pub registration_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub faculty: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<255>, required = true)]
    pub program: Field<String>,
    #[serde(default)]
    #[schema(schema_with = graduation_year, required = true)]
    pub graduation_year: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub school: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub course: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Eligibility, required = false)]
    pub eligibility_status: Field<String>,
}

kernel::choices!(
    /// Whether a student may graduate; `pending` until decided.
    pub Eligibility = student::ELIGIBILITY
);

/// `SCHOOL/DEPT/NNNN/YYYY`, e.g. `SCE/CS/0001/2024`; `YYYY` is the admission year.
fn registration_number() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(REGISTRATION_PATTERN))
        .description(Some(
            "`SCHOOL/DEPT/NNNN/YYYY`, e.g. `SCE/CS/0001/2024`; `YYYY` is the admission year.",
        ))
        .into()
}

/// 1900 to 2200, and not before the admission year.
fn graduation_year() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::int(1900, 2200)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_students, create_student))
        .routes(routes!(my_student))
        .routes(routes!(eligible_students))
        .routes(routes!(student_clearance_status))
        .routes(routes!(
            retrieve_student,
            update_student,
            partial_update_student,
            destroy_student
        ))
}

/// List student records: everyone for administrators and office staff, only
/// their own for a student.
#[utoipa::path(get, path = "/api/students/", tag = "students", security(("jwt" = [])),
    params(("eligibility_status" = inline(Option<Eligibility>), Query), ("graduation_year" = Option<i64>, Query), ("admission_year" = Option<i64>, Query),
           ("faculty" = Option<String>, Query), ("program" = Option<String>, Query), ("school" = Option<Uuid>, Query),
           ("department" = Option<Uuid>, Query), ("course" = Option<Uuid>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<StudentOut>), (status = 401)))]
pub async fn list_students(
    Db(db): Db,
    me: CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<StudentOut>>> {
    let mut query = student::Entity::visible(&me).find_also_related(user::Entity);
    query = list.filter(
        query,
        "eligibility_status",
        student::Column::EligibilityStatus,
        FilterKind::Choice(student::ELIGIBILITY),
    )?;
    query = list.filter(
        query,
        "graduation_year",
        student::Column::GraduationYear,
        FilterKind::Int,
    )?;
    query = list.filter(
        query,
        "admission_year",
        student::Column::AdmissionYear,
        FilterKind::Int,
    )?;
    query = list.filter(query, "faculty", student::Column::Faculty, FilterKind::Text)?;
    query = list.filter(query, "program", student::Column::Program, FilterKind::Text)?;
    query = list.filter(query, "school", student::Column::SchoolId, FilterKind::Uuid)?;
    query = list.filter(
        query,
        "department",
        student::Column::DepartmentId,
        FilterKind::Uuid,
    )?;
    query = list.filter(query, "course", student::Column::CourseId, FilterKind::Uuid)?;
    query = list.search(
        query,
        &[
            student::Column::RegistrationNumber.into_simple_expr(),
            user::Column::FullName.into_simple_expr(),
            user::Column::Email.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "registration_number",
                student::Column::RegistrationNumber.into_simple_expr(),
            ),
            (
                "graduation_year",
                student::Column::GraduationYear.into_simple_expr(),
            ),
            (
                "admission_year",
                student::Column::AdmissionYear.into_simple_expr(),
            ),
            ("created_at", student::Column::CreatedAt.into_simple_expr()),
            ("full_name", user::Column::FullName.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        student::Column::Id,
    );
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    // `students.user_id` is a non-null foreign key: every row has its user.
    let results = page
        .results
        .into_iter()
        .filter_map(|(s, u)| u.map(|u| StudentOut::new(s, &u)))
        .collect();
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

struct Valid {
    registration_number: Option<String>,
    admission_year: Option<i32>,
    faculty: Option<String>,
    program: Option<String>,
    graduation_year: Option<i32>,
    school: Option<Option<Uuid>>,
    department: Option<Option<Uuid>>,
    course: Option<Option<Uuid>>,
    eligibility_status: Option<String>,
}

async fn validate_record<C: ConnectionTrait>(
    db: &C,
    c: &mut Checker,
    input: &mut StudentRecordIn,
    partial: bool,
    existing: Option<&student::Model>,
) -> ApiResult<Valid> {
    let registration_number = c.text(
        "registration_number",
        std::mem::take(&mut input.registration_number),
        50,
    );
    let registration_number = registration_number.and_then(|r| {
        if REGISTRATION.is_match(&r) {
            Some(r)
        } else {
            c.error("registration_number", REGISTRATION_FORMAT);
            None
        }
    });
    let admission_year = registration_number
        .as_deref()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|y| y.parse::<i32>().ok());
    let faculty = c.text("faculty", std::mem::take(&mut input.faculty), 255);
    let program = c.text("program", std::mem::take(&mut input.program), 255);
    let graduation_year = c
        .int(
            "graduation_year",
            std::mem::take(&mut input.graduation_year),
            1900,
            2200,
        )
        .and_then(|y| i32::try_from(y).ok());
    let school = c.nullable(std::mem::take(&mut input.school));
    let department = c.nullable(std::mem::take(&mut input.department));
    let course = c.nullable(std::mem::take(&mut input.course));
    let eligibility_status = match std::mem::take(&mut input.eligibility_status) {
        Field::Absent if !partial => Some("pending".to_owned()),
        Field::Absent => None,
        other => c.choice("eligibility_status", other, student::ELIGIBILITY),
    };
    let admission = admission_year.or(existing.map(|s| s.admission_year));
    let graduation = graduation_year.or(existing.map(|s| s.graduation_year));
    if let (Some(a), Some(g)) = (admission, graduation)
        && g < a
    {
        c.error(
            "graduation_year",
            "Graduation year cannot be before the admission year.",
        );
    }
    if let Some(number) = &registration_number {
        let mut query =
            student::Entity::find().filter(student::Column::RegistrationNumber.eq(number));
        if let Some(s) = existing {
            query = query.filter(student::Column::Id.ne(s.id));
        }
        if query.one(db).await?.is_some() {
            c.error("registration_number", REGISTRATION_TAKEN);
        }
    }
    if let Some(Some(id)) = school
        && school::Entity::find_by_id(id).one(db).await?.is_none()
    {
        c.error(
            "school",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    if let Some(Some(id)) = department
        && academic_department::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        c.error(
            "department",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    if let Some(Some(id)) = course
        && course::Entity::find_by_id(id).one(db).await?.is_none()
    {
        c.error(
            "course",
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    Ok(Valid {
        registration_number,
        admission_year,
        faculty,
        program,
        graduation_year,
        school,
        department,
        course,
        eligibility_status,
    })
}

fn record_conflict(error: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&error, "registration_number") {
        ApiError::field("registration_number", REGISTRATION_TAKEN)
    } else {
        user_conflict(error)
    }
}

/// Create a student account and its record in one transaction (admin).
#[utoipa::path(post, path = "/api/students/", tag = "students", security(("jwt" = [])), request_body = StudentIn,
    responses((status = 201, body = StudentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_student(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(mut input): Json<StudentIn>,
) -> ApiResult<(StatusCode, Json<StudentOut>)> {
    let actor = Actor::user(me.id, ip);
    let fee = state.graduation_fee;
    let mut c = Checker::new();
    let email = c.email("email", std::mem::take(&mut input.email));
    let full_name = c.text("full_name", std::mem::take(&mut input.full_name), 255);
    let password = c.value("password", std::mem::take(&mut input.password));
    let admission_number = c
        .optional_text(
            "admission_number",
            std::mem::take(&mut input.admission_number),
            50,
        )
        .flatten();
    let v = validate_record(&db, &mut c, &mut input.record(), false, None).await?;
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
    let new_user = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.unwrap_or_default()),
        admission_number: Set(admission_number),
        full_name: Set(full_name.unwrap_or_default()),
        password: Set(hash),
        role: Set(Role::Student),
        department_id: Set(None),
        is_active: Set(true),
        token_epoch: Set(0),
        last_login: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let (record, account) = state
        .db
        .transaction::<_, (student::Model, user::Model), ApiError>(|txn| {
            Box::pin(async move {
                let account = new_user.insert(txn).await.map_err(record_conflict)?;
                let record = student::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    user_id: Set(account.id),
                    registration_number: Set(v.registration_number.unwrap_or_default()),
                    admission_year: Set(v.admission_year.unwrap_or_default()),
                    school_id: Set(v.school.flatten()),
                    department_id: Set(v.department.flatten()),
                    course_id: Set(v.course.flatten()),
                    faculty: Set(v.faculty.unwrap_or_default()),
                    program: Set(v.program.unwrap_or_default()),
                    graduation_year: Set(v.graduation_year.unwrap_or_default()),
                    eligibility_status: Set(v
                        .eligibility_status
                        .unwrap_or_else(|| "pending".into())),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await
                .map_err(record_conflict)?;
                finance_record::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    student_id: Set(record.id),
                    tuition_balance: Set(0),
                    graduation_fee: Set(fee.cents()),
                    graduation_fee_status: Set("pending".into()),
                    mpesa_code: Set(None),
                    mpesa_payment_date: Set(None),
                    last_verified_date: Set(None),
                    verified_by: Set(None),
                    notes: Set(String::new()),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?;
                audit::record(
                    txn,
                    actor,
                    Action::CREATE,
                    "Student",
                    record.id,
                    &audit_name(&record, &account),
                    kernel::audit::created(&serde_json::json!({
                        "email": account.email, "full_name": account.full_name, "registration_number": record.registration_number,
                        "faculty": record.faculty, "program": record.program, "graduation_year": record.graduation_year,
                    })),
                )
                .await?;
                Ok((record, account))
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(StudentOut::new(record, &account))))
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No Student matches the given query.")
}

async fn find_visible(
    db: &sea_orm::DatabaseConnection,
    me: &CurrentUser,
    id: Uuid,
) -> ApiResult<(student::Model, user::Model)> {
    let found = student::Entity::visible(me)
        .filter(student::Column::Id.eq(id))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    match found {
        Some((s, Some(u))) => Ok((s, u)),
        _ => Err(not_found()),
    }
}

/// The caller's own student record.
#[utoipa::path(get, path = "/api/students/me/", tag = "students", security(("jwt" = [])),
    responses((status = 200, body = StudentOut), (status = 401), (status = 403), (status = 404)))]
pub async fn my_student(
    Db(db): Db,
    crate::principal::Student(me): crate::principal::Student,
) -> ApiResult<Json<StudentOut>> {
    let record = student::Entity::find()
        .filter(student::Column::UserId.eq(me.id))
        .one(&db)
        .await?
        .ok_or_else(|| {
            // The original answered `{"error": …}`; its clients read that.
            ApiError::detailed(
                StatusCode::NOT_FOUND,
                "Student record not found",
                "not_found",
                serde_json::json!({"error": "Student profile not found"}),
            )
        })?;
    Ok(Json(StudentOut::new(record, &me)))
}

/// Retrieve a student record (administrators, office staff, or its own student).
#[utoipa::path(get, path = "/api/students/{id}/", tag = "students", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = StudentOut), (status = 401), (status = 404)))]
pub async fn retrieve_student(
    Db(db): Db,
    me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<StudentOut>> {
    let (record, account) = find_visible(&db, &me, id).await?;
    Ok(Json(StudentOut::new(record, &account)))
}

async fn write(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<StudentRecordIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<StudentOut>> {
    // DRF's order: the object (404), then the body (400).
    let (existing, account) = find_visible(db, &kernel::Current(me.clone()), id).await?;
    let Json(mut input) = body?;
    let mut c = Checker::partial(partial);
    let v = validate_record(db, &mut c, &mut input, partial, Some(&existing)).await?;
    c.finish()?;
    let txn = kernel::db::begin_write(db).await?;
    // Re-read under the lock so the audit row's "before" is what is replaced.
    let current = student::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let mut model: student::ActiveModel = current.clone().into();
    if let Some(x) = v.registration_number {
        model.registration_number = Set(x);
    }
    if let Some(x) = v.admission_year {
        model.admission_year = Set(x);
    }
    if let Some(x) = v.faculty {
        model.faculty = Set(x);
    }
    if let Some(x) = v.program {
        model.program = Set(x);
    }
    if let Some(x) = v.graduation_year {
        model.graduation_year = Set(x);
    }
    if let Some(x) = v.school {
        model.school_id = Set(x);
    }
    if let Some(x) = v.department {
        model.department_id = Set(x);
    }
    if let Some(x) = v.course {
        model.course_id = Set(x);
    }
    if let Some(x) = v.eligibility_status {
        model.eligibility_status = Set(x);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(record_conflict)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        "Student",
        updated.id,
        &audit_name(&updated, &account),
        kernel::audit::diff(&audit_snapshot(&current), &audit_snapshot(&updated)),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(StudentOut::new(updated, &account)))
}

/// Replace a student record's academic fields (admin).
#[utoipa::path(put, path = "/api/students/{id}/", tag = "students", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = StudentRecordIn,
    responses((status = 200, body = StudentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_student(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<StudentRecordIn>, ApiError>,
) -> ApiResult<Json<StudentOut>> {
    write(&db, me, ip, id, body, false).await
}

/// Change some of a student record's academic fields (admin).
#[utoipa::path(patch, path = "/api/students/{id}/", tag = "students", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = StudentRecordIn,
    responses((status = 200, body = StudentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_student(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<StudentRecordIn>, ApiError>,
) -> ApiResult<Json<StudentOut>> {
    write(&db, me, ip, id, body, true).await
}

/// Delete a student record (admin). The account stays, under `/api/users/`.
#[utoipa::path(delete, path = "/api/students/{id}/", tag = "students", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_student(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (existing, account) = find_visible(&db, &kernel::Current(me.clone()), id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
        "Student",
        existing.id,
        &audit_name(&existing, &account),
        kernel::audit::deleted(&audit_snapshot(&existing)),
    )
    .await?;
    let deleted = student::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Students cleared to graduate (administrators and office staff).
#[utoipa::path(get, path = "/api/students/eligible/", tag = "students", security(("jwt" = [])),
    responses((status = 200, body = Vec<StudentOut>), (status = 401), (status = 403)))]
pub async fn eligible_students(Db(db): Db, me: CurrentUser) -> ApiResult<Json<Vec<StudentOut>>> {
    if me.is_student() {
        return Err(ApiError::no_permission());
    }
    let rows = student::Entity::find()
        .filter(student::Column::EligibilityStatus.eq("eligible"))
        .find_also_related(user::Entity)
        .order_by(student::Column::RegistrationNumber, Order::Asc)
        .limit(1000)
        .all(&db)
        .await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|(s, u)| u.map(|u| StudentOut::new(s, &u)))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceStatusStep {
    pub department: String,
    pub status: String,
    pub approval_date: Option<chrono::DateTime<Utc>>,
    pub notes: String,
}

/// A student's latest clearance at a glance (the original frontend's view).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceStatusOut {
    pub student: Uuid,
    pub clearance_id: Option<Uuid>,
    pub status: Option<String>,
    pub submission_date: Option<chrono::DateTime<Utc>>,
    pub completion_percentage: Option<f64>,
    pub approvals: Vec<ClearanceStatusStep>,
    /// Set when no request was submitted yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The latest clearance request of a student (administrators, office staff,
/// or the student).
#[utoipa::path(get, path = "/api/students/{id}/clearance_status/", tag = "students", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ClearanceStatusOut), (status = 401), (status = 404)))]
pub async fn student_clearance_status(
    Db(db): Db,
    me: CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<ClearanceStatusOut>> {
    let (record, _) = find_visible(&db, &me, id).await?;
    let latest = crate::entities::clearance::Entity::find()
        .filter(crate::entities::clearance::Column::StudentId.eq(record.id))
        .order_by(
            crate::entities::clearance::Column::SubmissionDate,
            Order::Desc,
        )
        .one(&db)
        .await?;
    let Some(latest) = latest else {
        return Ok(Json(ClearanceStatusOut {
            student: record.id,
            clearance_id: None,
            status: None,
            submission_date: None,
            completion_percentage: None,
            approvals: Vec::new(),
            message: Some("No clearance request submitted yet".into()),
        }));
    };
    let detail = crate::clearances::detail(&db, &me.0, latest).await?;
    Ok(Json(ClearanceStatusOut {
        student: record.id,
        clearance_id: Some(detail.id),
        status: Some(detail.status),
        submission_date: Some(detail.submission_date),
        completion_percentage: Some(detail.completion_percentage),
        approvals: detail
            .approvals
            .into_iter()
            .map(|a| ClearanceStatusStep {
                department: a.department,
                status: a.status,
                approval_date: a.approval_date,
                notes: a.notes,
            })
            .collect(),
        message: None,
    }))
}

/// The original frontend's spelling.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/students/{id}/clearance-status/",
        axum::routing::get(student_clearance_status),
    )
}
