//! Users and their role profiles (contract §1): the admin CRUD at
//! `/api/users/` (HODs read their own department's trainers and trainees),
//! the validation every way of creating or editing a user shares (the API,
//! self-edit at `me/`, bulk registration), and the profile each role shows
//! with its derived fields.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::audit::{Action, AuditSink, Caller, Entry};
use kernel::error::FieldErrors;
use kernel::listing::{FilterKind, ListOf, Page, PageOf};
use kernel::system::NewSuperuser;
use kernel::{ApiError, ApiResult, Current, Db, Id, Json};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, JoinType, Order, QueryFilter, QuerySelect,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::Roster;
use crate::access::{Admin, Me, Role};
use crate::audit::Log;
use crate::email::{self, Purpose};
use crate::entities::{
    academic_year, class_group, class_group_trainee, department, enrollment, face, profile,
    programme, term, timetable_entry, user,
};
use crate::notify::{self, Kind, Note};
use crate::rest::PAGE;
use crate::state::AppState;

/// A plain email to one user: `{"user_id", "subject", "body"}`.
pub const EMAIL_JOB: &str = "roster.email";

/// A user as every endpoint shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub role: String,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub is_active: bool,
    pub email_verified: bool,
    pub has_face: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    /// The role's profile (contract §1).
    #[schema(value_type = Object)]
    pub profile: Value,
}

impl UserOut {
    /// The user as shown, with the derived fields of their profile.
    pub async fn load(db: &impl ConnectionTrait, user: &user::Model) -> ApiResult<Self> {
        use sea_orm::{ColumnTrait, QueryFilter};
        let profile = profile::Entity::find()
            .filter(profile::Column::UserId.eq(user.id))
            .one(db)
            .await?;
        let has_face = face::Entity::find()
            .filter(face::Column::UserId.eq(user.id))
            .one(db)
            .await?
            .is_some();
        Ok(Self {
            id: user.id,
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            full_name: user.full_name(),
            role: user.role.clone(),
            gender: user.gender.clone(),
            phone: user.phone.clone(),
            id_number: user.id_number.clone(),
            address: user.address.clone(),
            date_of_birth: user.date_of_birth,
            is_active: user.is_active,
            email_verified: user.email_verified,
            has_face,
            date_joined: user.date_joined,
            last_login: user.last_login,
            profile: profile_json(db, user, profile.as_ref()).await?,
        })
    }
}

/// A new user row with its (empty) role profile.
pub async fn insert_user(
    db: &impl ConnectionTrait,
    row: user::ActiveModel,
    role: Role,
) -> Result<user::Model, sea_orm::DbErr> {
    let user = row.insert(db).await?;
    profile::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user.id),
        status: Set((role == Role::Trainee).then(|| "active".to_owned())),
        employment_type: Set((role == Role::Trainer).then(|| "full_time".to_owned())),
        max_weekly_hours: Set((role == Role::Trainer).then_some(20)),
        admission_number: Set(None),
        enrollment_date: Set(None),
        staff_number: Set(None),
        qualifications: Set(None),
        specialization: Set(None),
    }
    .insert(db)
    .await?;
    Ok(user)
}

/// `campus createsuperuser roster`: a verified `admin` with `is_superuser`.
pub async fn create_superuser(state: &AppState, new: &NewSuperuser) -> Result<(), String> {
    let hash = state
        .hasher
        .make(&new.password)
        .await
        .map_err(|e| e.to_string())?;
    let (first, last) = new
        .full_name
        .trim()
        .split_once(' ')
        .map_or((new.full_name.trim(), ""), |(f, l)| (f, l));
    let now = kernel::time::now();
    let row = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(new.email.trim().to_lowercase()),
        password: Set(hash),
        first_name: Set(first.to_owned()),
        last_name: Set(last.trim().to_owned()),
        role: Set(Role::Admin.as_str().to_owned()),
        gender: Set(None),
        phone: Set(None),
        id_number: Set(None),
        address: Set(None),
        date_of_birth: Set(None),
        is_active: Set(true),
        is_superuser: Set(true),
        email_verified: Set(true),
        token_epoch: Set(0),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    };
    insert_user(&state.db, row, Role::Admin)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Sends one queued plain email (no mail transport configured: nothing to do).
pub async fn send_email(state: AppState, payload: Value) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let id = payload["user_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or("bad payload")?;
    let Some(recipient) = user::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let subject = payload["subject"].as_str().unwrap_or("Smart Roster");
    let body = payload["body"].as_str().unwrap_or_default();
    let body = format!(
        "Dear {},\n\n{body}\n\n— Smart Roster",
        recipient.full_name()
    );
    mailer.send(&recipient.email, subject, &body).await
}

// ---------------------------------------------------------------------------
// Profiles as shown
// ---------------------------------------------------------------------------

/// The academic year marked active, if any.
async fn current_year(db: &impl ConnectionTrait) -> Result<Option<Uuid>, sea_orm::DbErr> {
    academic_year::Entity::find()
        .select_only()
        .column(academic_year::Column::Id)
        .filter(academic_year::Column::IsActive.eq(true))
        .into_tuple::<Uuid>()
        .one(db)
        .await
}

/// The trainee's class group of the current academic year, with its programme.
async fn current_class_group(
    db: &impl ConnectionTrait,
    trainee: Uuid,
) -> Result<Option<(class_group::Model, Option<programme::Model>)>, sea_orm::DbErr> {
    let Some(year) = current_year(db).await? else {
        return Ok(None);
    };
    let Some(link) = class_group_trainee::Entity::find()
        .filter(class_group_trainee::Column::TraineeId.eq(trainee))
        .filter(class_group_trainee::Column::AcademicYearId.eq(year))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(group) = class_group::Entity::find_by_id(link.class_group_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let programme = programme::Entity::find_by_id(group.programme_id)
        .one(db)
        .await?;
    Ok(Some((group, programme)))
}

/// Hours a week of the trainer's published recurring entries in the term
/// containing today.
async fn weekly_hours(db: &impl ConnectionTrait, trainer: Uuid) -> Result<f64, sea_orm::DbErr> {
    let today = Utc::now().date_naive();
    let Some(term) = term::Entity::find()
        .filter(term::Column::StartDate.lte(today))
        .filter(term::Column::EndDate.gte(today))
        .one(db)
        .await?
    else {
        return Ok(0.0);
    };
    let entries: Vec<(i32, i32)> = timetable_entry::Entity::find()
        .select_only()
        .column(timetable_entry::Column::StartMinute)
        .column(timetable_entry::Column::EndMinute)
        .filter(timetable_entry::Column::TermId.eq(term.id))
        .filter(timetable_entry::Column::IsDraft.eq(false))
        .filter(timetable_entry::Column::IsRecurring.eq(true))
        .filter(
            timetable_entry::Column::EnrollmentId.in_subquery(
                Query::select()
                    .column(enrollment::Column::Id)
                    .from(enrollment::Entity)
                    .and_where(enrollment::Column::TrainerId.eq(trainer))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    let minutes: i32 = entries.iter().map(|(s, e)| (e - s).max(0)).sum();
    Ok(crate::rest::round2(f64::from(minutes) / 60.0))
}

async fn profile_json(
    db: &impl ConnectionTrait,
    user: &user::Model,
    profile: Option<&profile::Model>,
) -> ApiResult<Value> {
    let Some(p) = profile else {
        return Ok(Value::Object(Map::new()));
    };
    Ok(match user.role() {
        Role::Trainee => {
            let current = current_class_group(db, user.id).await?;
            json!({
                "admission_number": p.admission_number,
                "class_group": current.as_ref().map(|(g, _)| g.id),
                "class_group_name": current.as_ref().map(|(g, _)| g.name.clone()),
                "programme": current.as_ref().and_then(|(_, p)| p.as_ref().map(|p| p.id)),
                "programme_name": current.as_ref().and_then(|(_, p)| p.as_ref().map(|p| p.name.clone())),
                "status": p.status,
                "enrollment_date": p.enrollment_date,
            })
        }
        Role::Trainer => json!({
            "staff_number": p.staff_number,
            "qualifications": p.qualifications,
            "specialization": p.specialization,
            "employment_type": p.employment_type,
            "max_weekly_hours": p.max_weekly_hours,
            "current_weekly_hours": weekly_hours(db, user.id).await?,
            "departments": crate::access::trainer_departments(db, user.id).await?,
        }),
        Role::Hod => json!({
            "staff_number": p.staff_number,
            "department": crate::access::headed_department(db, user).await?,
        }),
        Role::DpAcademics | Role::Admin => json!({
            "staff_number": p.staff_number,
        }),
    })
}

// ---------------------------------------------------------------------------
// Validation shared by create, update, self-edit and bulk registration
// ---------------------------------------------------------------------------

const GENDERS: &[&str] = &["male", "female", "other"];
const STATUSES: &[&str] = &["active", "suspended", "deferred", "graduated", "withdrawn"];
const EMPLOYMENT: &[&str] = &["full_time", "part_time"];
const EMAIL_TAKEN: &str = "user with this email address already exists.";
const ID_TAKEN: &str = "user with this id number already exists.";
const ADMISSION_TAKEN: &str = "A trainee with this admission number already exists.";
const STAFF_TAKEN: &str = "A staff member with this staff number already exists.";
const REQUIRED: &str = "This field is required.";

/// Who is writing: decides which fields are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// An administrator (every field).
    Admin,
    /// The user themself at `me/` (names, contact details, qualifications).
    Owner,
}

/// The validated values of a user body; `None` = not given.
#[derive(Debug, Default, Clone)]
pub(crate) struct UserChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
    pub gender: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub id_number: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub date_of_birth: Option<Option<NaiveDate>>,
    pub is_active: Option<bool>,
    pub email_verified: Option<bool>,
    pub password: Option<String>,
    pub admission_number: Option<Option<String>>,
    pub status: Option<String>,
    pub enrollment_date: Option<Option<NaiveDate>>,
    pub staff_number: Option<Option<String>>,
    pub qualifications: Option<Option<String>>,
    pub specialization: Option<Option<String>>,
    pub employment_type: Option<String>,
    pub max_weekly_hours: Option<i32>,
}

/// Reads a JSON body field by field into DRF-style errors.
struct Reader<'a> {
    top: &'a Map<String, Value>,
    profile: Option<&'a Map<String, Value>>,
    errors: FieldErrors,
}

impl<'a> Reader<'a> {
    fn get(&self, key: &str, nested: bool) -> Option<&'a Value> {
        let inner = if nested {
            self.profile.and_then(|p| p.get(key))
        } else {
            None
        };
        inner.or_else(|| self.top.get(key))
    }

    /// A string value: `Some(None)` when null or blank, `None` when absent.
    fn text(&mut self, key: &str, max: usize, nested: bool) -> Option<Option<String>> {
        let value = self.get(key, nested)?;
        match value {
            Value::Null => Some(None),
            Value::String(s) if s.trim().is_empty() => Some(None),
            Value::String(s) if s.trim().chars().count() > max => {
                self.errors.add(
                    key,
                    format!("Ensure this field has no more than {max} characters."),
                );
                None
            }
            Value::String(s) => Some(Some(s.trim().to_owned())),
            Value::Number(n) => Some(Some(n.to_string())),
            _ => {
                self.errors.add(key, "Not a valid string.");
                None
            }
        }
    }

    fn required_text(&mut self, key: &str, max: usize) -> Option<String> {
        match self.text(key, max, false)? {
            Some(v) => Some(v),
            None => {
                self.errors.add(key, "This field may not be blank.");
                None
            }
        }
    }

    fn choice(&mut self, key: &str, allowed: &[&str], nested: bool) -> Option<Option<String>> {
        let value = self.text(key, 32, nested)?;
        match value {
            Some(v) => {
                let lower = v.to_lowercase();
                if allowed.contains(&lower.as_str()) {
                    Some(Some(lower))
                } else {
                    self.errors
                        .add(key, format!("\"{v}\" is not a valid choice."));
                    None
                }
            }
            None => Some(None),
        }
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key, false)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if matches!(s.to_lowercase().as_str(), "true" | "1" | "yes") => {
                Some(true)
            }
            Value::String(s) if matches!(s.to_lowercase().as_str(), "false" | "0" | "no") => {
                Some(false)
            }
            _ => {
                self.errors.add(key, "Must be a valid boolean.");
                None
            }
        }
    }

    fn date(&mut self, key: &str, nested: bool) -> Option<Option<NaiveDate>> {
        match self.text(key, 32, nested)? {
            None => Some(None),
            Some(v) => match crate::rest::parse_date(&v) {
                Some(d) => Some(Some(d)),
                None => {
                    self.errors.add(key, crate::rest::BAD_DATE);
                    None
                }
            },
        }
    }
}

fn phone_ok(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (7..=20).contains(&phone.chars().count())
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == ' ')
}

/// Validates a user body written by `writer` (unknown and read-only fields
/// are ignored, as DRF does). `create` requires email, names and role.
pub(crate) fn read_changes(
    body: &Map<String, Value>,
    writer: Writer,
    create: bool,
) -> Result<UserChanges, FieldErrors> {
    let mut r = Reader {
        top: body,
        profile: None,
        errors: FieldErrors::new(),
    };
    match body.get("profile") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) => r.profile = Some(p),
        Some(_) => r.errors.add(
            "profile",
            "Invalid data. Expected a dictionary, but got str.",
        ),
    }
    let mut c = UserChanges::default();
    let admin = writer == Writer::Admin;
    if create {
        for key in ["email", "first_name", "last_name", "role"] {
            if r.get(key, false).is_none() {
                r.errors.add(key, REQUIRED);
            }
        }
    }
    if admin {
        if r.get("email", false).is_some()
            && let Some(raw) = r.required_text("email", 254)
        {
            match kernel::form::normalize_email(&raw) {
                Some(e) => c.email = Some(e),
                None => r.errors.add("email", "Enter a valid email address."),
            }
        }
        if r.get("role", false).is_some()
            && let Some(raw) = r.required_text("role", 32)
        {
            match Role::parse(&raw.to_lowercase()) {
                Some(role) => c.role = Some(role),
                None => r
                    .errors
                    .add("role", format!("\"{raw}\" is not a valid choice.")),
            }
        }
        c.is_active = r.boolean("is_active");
        c.email_verified = r.boolean("email_verified");
        if create {
            match r.get("password", false) {
                None | Some(Value::Null) => {}
                Some(Value::String(p)) if p.is_empty() => {}
                Some(Value::String(p)) => c.password = Some(p.clone()),
                Some(_) => r.errors.add("password", "Not a valid string."),
            }
        }
        c.id_number = r.text("id_number", 20, false);
        c.admission_number = r.text("admission_number", 30, true);
        c.status = r.choice("status", STATUSES, true).flatten();
        c.enrollment_date = r.date("enrollment_date", true);
        c.staff_number = r.text("staff_number", 30, true);
        c.employment_type = r.choice("employment_type", EMPLOYMENT, true).flatten();
        if let Some(v) = r.get("max_weekly_hours", true) {
            match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(h) if (1..=60).contains(&h) => c.max_weekly_hours = i32::try_from(h).ok(),
                Some(_) => r
                    .errors
                    .add("max_weekly_hours", "Ensure this value is between 1 and 60."),
                None => r
                    .errors
                    .add("max_weekly_hours", "A valid integer is required."),
            }
        }
    }
    if r.get("first_name", false).is_some() {
        c.first_name = r.required_text("first_name", 150);
    }
    if r.get("last_name", false).is_some() {
        c.last_name = r.required_text("last_name", 150);
    }
    c.gender = r.choice("gender", GENDERS, false);
    c.phone = r.text("phone", 20, false);
    if let Some(Some(phone)) = &c.phone
        && !phone_ok(phone)
    {
        r.errors.add(
            "phone",
            "Enter a valid phone number (7 to 20 digits, an optional leading +).",
        );
    }
    c.address = r.text("address", 1000, false);
    c.date_of_birth = r.date("date_of_birth", false);
    if let Some(Some(born)) = c.date_of_birth
        && born >= Utc::now().date_naive()
    {
        r.errors
            .add("date_of_birth", "Date of birth must be in the past.");
    }
    c.qualifications = r.text("qualifications", 2000, true);
    c.specialization = r.text("specialization", 200, true);
    if let (Some(password), Some(email)) = (&c.password, &c.email) {
        let first = c.first_name.clone().unwrap_or_default();
        let last = c.last_name.clone().unwrap_or_default();
        for message in password_problems(password, email, &first, &last) {
            r.errors.add("password", message);
        }
    }
    r.errors.into_result().map_err(|e| match e {
        ApiError::Validation(f) => f,
        _ => FieldErrors::new(),
    })?;
    Ok(c)
}

/// Django's password validators against this user's attributes.
pub(crate) fn password_problems(
    password: &str,
    email: &str,
    first: &str,
    last: &str,
) -> Vec<String> {
    kernel::password::validate(
        password,
        &[
            ("email address", email),
            ("first name", first),
            ("last name", last),
        ],
    )
}

/// Refuses values another user already holds (email case-insensitively).
async fn check_unique(
    db: &impl ConnectionTrait,
    c: &UserChanges,
    except: Option<Uuid>,
) -> Result<FieldErrors, sea_orm::DbErr> {
    let mut errors = FieldErrors::new();
    let others = |cond: Condition| match except {
        Some(id) => cond.add(user::Column::Id.ne(id)),
        None => cond,
    };
    if let Some(email) = &c.email {
        let taken = user::Entity::find()
            .filter(others(
                Condition::all().add(user::Column::Email.eq(email.to_lowercase())),
            ))
            .one(db)
            .await?;
        if taken.is_some() {
            errors.add("email", EMAIL_TAKEN);
        }
    }
    if let Some(Some(id_number)) = &c.id_number {
        let taken = user::Entity::find()
            .filter(others(
                Condition::all().add(user::Column::IdNumber.eq(id_number.clone())),
            ))
            .one(db)
            .await?;
        if taken.is_some() {
            errors.add("id_number", ID_TAKEN);
        }
    }
    for (field, column, message, value) in [
        (
            "admission_number",
            profile::Column::AdmissionNumber,
            ADMISSION_TAKEN,
            &c.admission_number,
        ),
        (
            "staff_number",
            profile::Column::StaffNumber,
            STAFF_TAKEN,
            &c.staff_number,
        ),
    ] {
        if let Some(Some(value)) = value {
            let mut query = profile::Entity::find().filter(column.eq(value.clone()));
            if let Some(id) = except {
                query = query.filter(profile::Column::UserId.ne(id));
            }
            if query.one(db).await?.is_some() {
                errors.add(field, message);
            }
        }
    }
    Ok(errors)
}

/// [`check_unique`] for a new user.
pub(crate) async fn unique_problems(
    db: &impl ConnectionTrait,
    c: &UserChanges,
) -> Result<FieldErrors, sea_orm::DbErr> {
    check_unique(db, c, None).await
}

/// A unique violation raced past [`check_unique`], as the field's error.
pub(crate) fn unique_error(error: sea_orm::DbErr) -> ApiError {
    for (column, message) in [
        ("email", EMAIL_TAKEN),
        ("id_number", ID_TAKEN),
        ("admission_number", ADMISSION_TAKEN),
        ("staff_number", STAFF_TAKEN),
    ] {
        if kernel::error::is_unique_violation(&error, column) {
            return ApiError::field(column, message);
        }
    }
    error.into()
}

/// The role's profile row from `c` (fields of other roles left empty).
fn profile_row(user: Uuid, role: Role, c: &UserChanges) -> profile::ActiveModel {
    let trainee = role == Role::Trainee;
    let trainer = role == Role::Trainer;
    profile::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user),
        admission_number: Set(c.admission_number.clone().flatten().filter(|_| trainee)),
        status: Set(trainee.then(|| c.status.clone().unwrap_or_else(|| "active".into()))),
        enrollment_date: Set(c.enrollment_date.flatten().filter(|_| trainee)),
        staff_number: Set(c.staff_number.clone().flatten().filter(|_| !trainee)),
        qualifications: Set(c.qualifications.clone().flatten().filter(|_| trainer)),
        specialization: Set(c.specialization.clone().flatten().filter(|_| trainer)),
        employment_type: Set(trainer.then(|| {
            c.employment_type
                .clone()
                .unwrap_or_else(|| "full_time".into())
        })),
        max_weekly_hours: Set(trainer.then(|| c.max_weekly_hours.unwrap_or(20))),
    }
}

/// Creates a validated user and their profile in `txn`, queues the
/// invitation (no password) or verification (unverified) email and tells
/// them in the app. Returns the new row; the caller audits.
pub(crate) async fn create_account(
    state: &AppState,
    txn: &impl ConnectionTrait,
    c: &UserChanges,
) -> ApiResult<user::Model> {
    let role = c.role.unwrap_or(Role::Trainee);
    let password = match &c.password {
        Some(p) => state.hasher.make(p).await?,
        None => kernel::password::unusable(),
    };
    let now = kernel::time::now();
    let id = Uuid::new_v4();
    let row = user::ActiveModel {
        id: Set(id),
        email: Set(c.email.clone().unwrap_or_default().to_lowercase()),
        password: Set(password),
        first_name: Set(c.first_name.clone().unwrap_or_default()),
        last_name: Set(c.last_name.clone().unwrap_or_default()),
        role: Set(role.as_str().to_owned()),
        gender: Set(c.gender.clone().flatten()),
        phone: Set(c.phone.clone().flatten()),
        id_number: Set(c.id_number.clone().flatten()),
        address: Set(c.address.clone().flatten()),
        date_of_birth: Set(c.date_of_birth.flatten()),
        is_active: Set(c.is_active.unwrap_or(true)),
        is_superuser: Set(false),
        email_verified: Set(c.email_verified.unwrap_or(false)),
        token_epoch: Set(0),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    };
    let created = row.insert(txn).await.map_err(unique_error)?;
    profile_row(id, role, c)
        .insert(txn)
        .await
        .map_err(unique_error)?;
    if c.password.is_none() {
        email::queue(txn, id, Purpose::Invite).await?;
    } else if !created.email_verified {
        email::queue(txn, id, Purpose::Verify).await?;
    }
    let message = if c.password.is_none() {
        "Your Smart Roster account was created. Check your email to choose a password."
    } else {
        "Your Smart Roster account was created."
    };
    notify::send(
        txn,
        [id],
        &Note::new(Kind::Account, "Welcome to Smart Roster", message)
            .about("user", id)
            .in_app_only(),
    )
    .await?;
    Ok(created)
}

/// What audit rows keep of a user (no secrets).
fn snapshot(u: &user::Model) -> Value {
    kernel::audit::snapshot(&json!({
        "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "role": u.role, "gender": u.gender, "phone": u.phone, "id_number": u.id_number,
        "is_active": u.is_active, "email_verified": u.email_verified,
    }))
}

// ---------------------------------------------------------------------------
// /api/users/
// ---------------------------------------------------------------------------

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, put_user, patch_user, delete_user))
}

/// Trainee ids of the class groups matching `groups`.
fn trainees_of(groups: sea_orm::sea_query::SimpleExpr) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(class_group_trainee::Column::TraineeId)
        .from(class_group_trainee::Entity)
        .and_where(
            class_group_trainee::Column::ClassGroupId.in_subquery(
                Query::select()
                    .column(class_group::Column::Id)
                    .from(class_group::Entity)
                    .and_where(groups)
                    .to_owned(),
            ),
        )
        .to_owned()
}

/// The rows `me` may read: everything for an admin, the department's
/// trainers and trainees for a HOD; others may not list users (403).
async fn readable(db: &impl ConnectionTrait, me: &user::Model) -> ApiResult<Condition> {
    match me.role() {
        Role::Admin => Ok(Condition::all()),
        Role::Hod => {
            let Some(dept) = crate::access::headed_department(db, me).await? else {
                return Ok(Condition::all().add(Expr::value(false)));
            };
            Ok(Condition::all()
                .add(user::Column::Role.is_in([Role::Trainer.as_str(), Role::Trainee.as_str()]))
                .add(crate::access::department_members(dept)))
        }
        _ => Err(crate::access::forbidden()),
    }
}

fn uuid_param(list: &ListOf<Roster>, name: &str) -> ApiResult<Option<Uuid>> {
    list.get(name)
        .map(|raw| {
            Uuid::parse_str(raw.trim()).map_err(|_| ApiError::field(name, "Enter a valid UUID."))
        })
        .transpose()
}

/// List users (admin; a HOD sees their department's trainers and trainees).
#[utoipa::path(get, path = "/api/users/", tag = "users", security(("jwt" = [])),
    params(("role" = Option<String>, Query), ("is_active" = Option<bool>, Query), ("email_verified" = Option<bool>, Query),
           ("department" = Option<Uuid>, Query), ("class_group" = Option<Uuid>, Query), ("programme" = Option<Uuid>, Query),
           ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<UserOut>), (status = 400), (status = 401), (status = 403)))]
async fn list_users(
    Db(db): Db,
    Current(me): Me,
    list: ListOf<Roster>,
) -> ApiResult<Json<PageOf<Roster, UserOut>>> {
    let scope = readable(&db, &me).await?;
    let mut query = user::Entity::find().filter(scope);
    query = list.filter(
        query,
        "role",
        user::Column::Role,
        FilterKind::Choice(Role::CHOICES),
    )?;
    query = list.filter(query, "is_active", user::Column::IsActive, FilterKind::Bool)?;
    query = list.filter(
        query,
        "email_verified",
        user::Column::EmailVerified,
        FilterKind::Bool,
    )?;
    if let Some(dept) = uuid_param(&list, "department")? {
        query = query.filter(
            Condition::any()
                .add(crate::access::department_members(dept))
                .add(
                    user::Column::Id.in_subquery(
                        Query::select()
                            .column(department::Column::HodId)
                            .from(department::Entity)
                            .and_where(department::Column::Id.eq(dept))
                            .to_owned(),
                    ),
                ),
        );
    }
    if let Some(group) = uuid_param(&list, "class_group")? {
        query = query.filter(
            user::Column::Id.in_subquery(
                Query::select()
                    .column(class_group_trainee::Column::TraineeId)
                    .from(class_group_trainee::Entity)
                    .and_where(class_group_trainee::Column::ClassGroupId.eq(group))
                    .to_owned(),
            ),
        );
    }
    if let Some(prog) = uuid_param(&list, "programme")? {
        query = query.filter(
            user::Column::Id.in_subquery(trainees_of(class_group::Column::ProgrammeId.eq(prog))),
        );
    }
    let query = query.join(
        JoinType::LeftJoin,
        sea_orm::RelationDef::from(
            profile::Entity::belongs_to(user::Entity)
                .from(profile::Column::UserId)
                .to(user::Column::Id),
        )
        .rev(),
    );
    let query = list.search(
        query,
        &[
            user::Column::Email.into_simple_expr(),
            user::Column::FirstName.into_simple_expr(),
            user::Column::LastName.into_simple_expr(),
            user::Column::IdNumber.into_simple_expr(),
            profile::Column::AdmissionNumber.into_simple_expr(),
            profile::Column::StaffNumber.into_simple_expr(),
        ],
    );
    let query = list.order(
        query,
        &[
            ("email", user::Column::Email.into_simple_expr()),
            ("first_name", user::Column::FirstName.into_simple_expr()),
            ("last_name", user::Column::LastName.into_simple_expr()),
            ("role", user::Column::Role.into_simple_expr()),
            ("date_joined", user::Column::DateJoined.into_simple_expr()),
            ("last_login", user::Column::LastLogin.into_simple_expr()),
        ],
        &[("date_joined", Order::Desc)],
        user::Column::Id,
    );
    let Page {
        count,
        next,
        previous,
        results,
    } = list.page(&db, query, PAGE).await?;
    let mut out = Vec::with_capacity(results.len());
    for u in &results {
        out.push(UserOut::load(&db, u).await?);
    }
    Ok(Json(Page {
        count,
        next,
        previous,
        results: out,
    }))
}

/// The user `id` if `me` may read it: 404 outside the scope, 403 for roles
/// that may not read users at all.
async fn readable_user(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<user::Model> {
    let scope = readable(db, me).await?;
    user::Entity::find_by_id(id)
        .filter(scope)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn body_map(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                _ => "NoneType",
            }
        ))),
    }
}

/// Create a user (admin). Without `password` an invitation is emailed.
#[utoipa::path(post, path = "/api/users/", tag = "users", security(("jwt" = [])), request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 400), (status = 401), (status = 403)))]
async fn create_user(
    State(state): State<AppState>,
    Db(db): Db,
    Caller(Admin(_admin), actor): Caller<Admin>,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let body = body_map(body)?;
    let changes = read_changes(&body, Writer::Admin, true).map_err(ApiError::Validation)?;
    check_unique(&db, &changes, None).await?.into_result()?;
    let txn = kernel::db::begin_write(&db).await?;
    let created = create_account(&state, &txn, &changes).await?;
    let entry = Entry::new(&actor, Action::CREATE, "user", created.id).label(created.email.clone());
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&snapshot(&created))),
    )
    .await?;
    txn.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(UserOut::load(&db, &created).await?),
    ))
}

/// A user (admin; a HOD for their department's trainers and trainees).
#[utoipa::path(get, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 401), (status = 403), (status = 404)))]
async fn get_user(Db(db): Db, Current(me): Me, Id(id): Id) -> ApiResult<Json<UserOut>> {
    let found = readable_user(&db, &me, id).await?;
    Ok(Json(UserOut::load(&db, &found).await?))
}

/// Applies validated changes to `existing` in `txn` (profile recreated on a
/// role change; tokens ended on a role change or deactivation).
pub(crate) async fn apply_changes(
    txn: &impl ConnectionTrait,
    existing: &user::Model,
    c: &UserChanges,
) -> ApiResult<user::Model> {
    let mut row: user::ActiveModel = existing.clone().into();
    if let Some(v) = &c.email {
        row.email = Set(v.clone());
    }
    if let Some(v) = &c.first_name {
        row.first_name = Set(v.clone());
    }
    if let Some(v) = &c.last_name {
        row.last_name = Set(v.clone());
    }
    if let Some(v) = c.role {
        row.role = Set(v.as_str().to_owned());
    }
    if let Some(v) = &c.gender {
        row.gender = Set(v.clone());
    }
    if let Some(v) = &c.phone {
        row.phone = Set(v.clone());
    }
    if let Some(v) = &c.id_number {
        row.id_number = Set(v.clone());
    }
    if let Some(v) = &c.address {
        row.address = Set(v.clone());
    }
    if let Some(v) = c.date_of_birth {
        row.date_of_birth = Set(v);
    }
    if let Some(v) = c.is_active {
        row.is_active = Set(v);
    }
    if let Some(v) = c.email_verified {
        row.email_verified = Set(v);
    }
    row.updated_at = Set(kernel::time::now());
    let updated = row.update(txn).await.map_err(unique_error)?;
    let role_changed = updated.role != existing.role;
    let old = profile::Entity::find()
        .filter(profile::Column::UserId.eq(existing.id))
        .one(txn)
        .await?;
    if role_changed || old.is_none() {
        profile::Entity::delete_many()
            .filter(profile::Column::UserId.eq(existing.id))
            .exec(txn)
            .await?;
        profile_row(existing.id, updated.role(), c)
            .insert(txn)
            .await
            .map_err(unique_error)?;
    } else if let Some(old) = old {
        let mut p: profile::ActiveModel = old.into();
        let role = updated.role();
        if role == Role::Trainee {
            if let Some(v) = &c.admission_number {
                p.admission_number = Set(v.clone());
            }
            if let Some(v) = &c.status {
                p.status = Set(Some(v.clone()));
            }
            if let Some(v) = c.enrollment_date {
                p.enrollment_date = Set(v);
            }
        } else if let Some(v) = &c.staff_number {
            p.staff_number = Set(v.clone());
        }
        if role == Role::Trainer {
            if let Some(v) = &c.qualifications {
                p.qualifications = Set(v.clone());
            }
            if let Some(v) = &c.specialization {
                p.specialization = Set(v.clone());
            }
            if let Some(v) = &c.employment_type {
                p.employment_type = Set(Some(v.clone()));
            }
            if let Some(v) = c.max_weekly_hours {
                p.max_weekly_hours = Set(Some(v));
            }
        }
        p.update(txn).await.map_err(unique_error)?;
    }
    if role_changed || (existing.is_active && !updated.is_active) {
        kernel::identity::bump_epoch::<user::Model>(txn, existing.id).await?;
    }
    if role_changed {
        let message = format!("Your role is now {}.", updated.role);
        notify::send(
            txn,
            [existing.id],
            &Note::new(Kind::Account, "Your role changed", &message).about("user", existing.id),
        )
        .await?;
    }
    Ok(updated)
}

async fn update_user(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &kernel::audit::Actor,
    id: Uuid,
    body: Value,
    partial: bool,
) -> ApiResult<Json<UserOut>> {
    let existing = user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = body_map(body)?;
    let mut changes = read_changes(&body, Writer::Admin, !partial).map_err(ApiError::Validation)?;
    changes.password = None;
    if existing.id == me.id
        && (changes.role.is_some_and(|r| r != Role::Admin) || changes.is_active == Some(false))
    {
        return Err(crate::rest::refused(
            "You cannot remove your own administrator access.",
            "cannot_demote_self",
        ));
    }
    check_unique(db, &changes, Some(existing.id))
        .await?
        .into_result()?;
    let txn = kernel::db::begin_write(db).await?;
    let updated = apply_changes(&txn, &existing, &changes).await?;
    let entry = Entry::new(actor, Action::UPDATE, "user", id).label(updated.email.clone());
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(
            &snapshot(&existing),
            &snapshot(&updated),
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(UserOut::load(db, &updated).await?))
}

/// Replace a user (admin).
#[utoipa::path(put, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = UserIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn put_user(
    Db(db): Db,
    Caller(Admin(Current(me)), actor): Caller<Admin>,
    Id(id): Id,
    Json(body): Json<Value>,
) -> ApiResult<Json<UserOut>> {
    update_user(&db, &me, &actor, id, body, false).await
}

/// A PATCH body of a user: any of the fields a PUT takes, none required
/// (others are ignored).
#[derive(Debug, utoipa::ToSchema)]
pub struct UserChangesIn {}

/// OpenAPI schemas of the user bodies [`read_changes`] reads (the handlers
/// read the JSON themselves; these only document it).
pub(crate) mod schema {
    use kernel::form::schema::{
        blank_or_null, choice, date_from_1900, email, int, optional_text, password, text,
    };
    use utoipa::openapi::Schema;
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};

    pub fn role() -> Schema {
        choice(crate::access::Role::CHOICES)
    }

    pub fn gender() -> Schema {
        blank_or_null(choice(super::GENDERS))
    }

    /// 7 to 20 characters: digits and spaces, an optional leading `+`.
    pub fn phone() -> Schema {
        blank_or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(\\+[0-9][0-9 ]{4,17}[0-9]|[0-9][0-9 ]{5,18}[0-9])$")),
        )
    }

    pub fn date() -> Schema {
        blank_or_null(date_from_1900())
    }

    /// A new password (at least 8 characters), or empty or null for none.
    pub fn optional_password() -> Schema {
        AnyOfBuilder::new()
            .item(password::<8>())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }

    pub fn new_password() -> Schema {
        password::<8>()
    }

    pub fn address() -> Schema {
        email()
    }

    pub fn name() -> Schema {
        text::<150>()
    }

    pub fn id_number() -> Schema {
        optional_text::<20>()
    }

    pub fn long_text() -> Schema {
        optional_text::<1000>()
    }

    pub fn number() -> Schema {
        optional_text::<30>()
    }

    pub fn status() -> Schema {
        blank_or_null(choice(super::STATUSES))
    }

    pub fn employment() -> Schema {
        blank_or_null(choice(super::EMPLOYMENT))
    }

    pub fn weekly_hours() -> Schema {
        int(1, 60)
    }

    pub fn qualifications() -> Schema {
        optional_text::<2000>()
    }

    pub fn specialization() -> Schema {
        optional_text::<200>()
    }

    /// [`super::UserProfileIn`], or null.
    pub fn profile() -> Schema {
        kernel::form::schema::or_null(<super::UserProfileIn as utoipa::PartialSchema>::schema())
    }
}

/// The role-specific fields of a user body (trainee: `admission_number`,
/// `status`, `enrollment_date`; trainer and HOD: the rest).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UserProfileIn {
    #[schema(schema_with = schema::number)]
    admission_number: Option<String>,
    #[schema(schema_with = schema::status)]
    status: Option<String>,
    #[schema(schema_with = schema::date)]
    enrollment_date: Option<String>,
    #[schema(schema_with = schema::number)]
    staff_number: Option<String>,
    #[schema(schema_with = schema::employment)]
    employment_type: Option<String>,
    #[schema(schema_with = schema::weekly_hours)]
    max_weekly_hours: Option<i64>,
    #[schema(schema_with = schema::qualifications)]
    qualifications: Option<String>,
    #[schema(schema_with = schema::specialization)]
    specialization: Option<String>,
}

/// A user body of a create or PUT (admin); other fields are ignored.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UserIn {
    /// Unique, case-insensitively.
    #[schema(schema_with = schema::address, required = true)]
    email: String,
    #[schema(schema_with = schema::name, required = true)]
    first_name: String,
    #[schema(schema_with = schema::name, required = true)]
    last_name: String,
    #[schema(schema_with = schema::role, required = true)]
    role: String,
    /// Create only; without one an invitation is emailed.
    #[schema(schema_with = schema::optional_password)]
    password: Option<String>,
    #[schema(required = false)]
    is_active: bool,
    #[schema(required = false)]
    email_verified: bool,
    #[schema(schema_with = schema::gender)]
    gender: Option<String>,
    #[schema(schema_with = schema::phone)]
    phone: Option<String>,
    /// Unique when set.
    #[schema(schema_with = schema::id_number)]
    id_number: Option<String>,
    #[schema(schema_with = schema::long_text)]
    address: Option<String>,
    /// In the past.
    #[schema(schema_with = schema::date)]
    date_of_birth: Option<String>,
    #[schema(schema_with = schema::profile)]
    profile: Option<UserProfileIn>,
}

/// A self-registration body (the role is always `trainee`); other fields
/// are ignored.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RegisterIn {
    #[schema(schema_with = schema::address, required = true)]
    email: String,
    #[schema(schema_with = schema::new_password, required = true)]
    password: String,
    #[schema(schema_with = schema::name, required = true)]
    first_name: String,
    #[schema(schema_with = schema::name, required = true)]
    last_name: String,
    #[schema(schema_with = schema::gender)]
    gender: Option<String>,
    #[schema(schema_with = schema::phone)]
    phone: Option<String>,
    #[schema(schema_with = schema::id_number)]
    id_number: Option<String>,
    #[schema(schema_with = schema::long_text)]
    address: Option<String>,
    #[schema(schema_with = schema::date)]
    date_of_birth: Option<String>,
    #[schema(schema_with = schema::number)]
    admission_number: Option<String>,
}

/// Edit a user (admin).
#[utoipa::path(patch, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    request_body = UserChangesIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn patch_user(
    Db(db): Db,
    Caller(Admin(Current(me)), actor): Caller<Admin>,
    Id(id): Id,
    Json(body): Json<Value>,
) -> ApiResult<Json<UserOut>> {
    update_user(&db, &me, &actor, id, body, true).await
}

/// Deactivate a user (admin): 204; history is kept, sign-in ends.
#[utoipa::path(delete, path = "/api/users/{id}/", tag = "users", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn delete_user(
    Db(db): Db,
    Caller(Admin(Current(me)), actor): Caller<Admin>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = user::Entity::find_by_id(id)
        .one(&db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if existing.id == me.id {
        return Err(crate::rest::refused(
            "You cannot deactivate your own account.",
            "cannot_deactivate_self",
        ));
    }
    let txn = kernel::db::begin_write(&db).await?;
    let mut row: user::ActiveModel = existing.clone().into();
    row.is_active = Set(false);
    row.updated_at = Set(kernel::time::now());
    row.update(&txn).await?;
    kernel::identity::bump_epoch::<user::Model>(&txn, id).await?;
    let entry = Entry::new(&actor, Action::DELETE, "user", id).label(existing.email.clone());
    Log::write(&txn, entry.changes(json!({"is_active": [true, false]}))).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
