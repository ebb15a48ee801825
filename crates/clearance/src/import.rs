//! `campus import-django clearance`: the MksU original's database into campus.
//!
//! Ids are kept (every MksU table has UUID keys), so links, tokens' subjects
//! and a second run line up. What the original allowed and campus does not
//! is reported row by row: e-mails that differ only in letter case, a
//! registration number outside SCHOOL/DEPT/NNNN/YYYY, a payment of no amount,
//! a gown size campus does not issue. Rows that hang off a reported row are
//! reported too, naming it.
//!
//! Mapping of the original's shapes:
//! - nine roles → three: `admin` and superusers are administrators,
//!   `student` students, and the seven staff roles (`department_staff`,
//!   `finance_staff`, `library_staff`, …, `clearance_officer`) officers of the
//!   office their account names (none: an officer with no office, who sees
//!   nothing until given one, as in the original);
//! - department types written capitalised by the original's seeding command
//!   (`Finance`) are read case-insensitively;
//! - notification types become the spec's (`general` → `status_update`,
//!   `payment_verified` → `payment`, …), and their clearance, approval or
//!   payment link becomes the related object;
//! - a payment's state is `paid` once it has a date, a transaction or a
//!   verification, else `pending`; its receipt and fee statement are copied;
//! - a gown's `status` (issued, returned, lost, damaged) becomes the return
//!   flag and the deposit's state (refunded, retained or pending);
//! - audit rows keep their action (`login`, `logout` and `other` included),
//!   their entity as the content type and their text; ids that are not UUIDs
//!   (the original logs request paths and status codes) keep the nil UUID,
//!   and request headers, tokens and passwords inside `changes` are dropped.

use std::collections::{HashMap, HashSet};

use kernel::import::{Import, Options, Report, Row, failed};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::user::Role;
use crate::entities::{
    academic_department, approval, audit_log, clearance, course, department, finance_record, gown,
    notification, payment, school, student, user,
};
use crate::state::AppState;

const STAFF_ROLES: &[&str] = &[
    "department_staff",
    "library_staff",
    "finance_staff",
    "hostel_staff",
    "academic_staff",
    "gown_issuance_staff",
    "clearance_officer",
];

/// Imports the original's database named by `options` in one transaction.
pub async fn run(state: &AppState, options: &Options) -> Result<Report, String> {
    let mut import = Import::begin("clearance", &state.kernel, options).await?;
    let original = Original::read(&import).await?;
    let mut kept = Kept::default();
    departments(&mut import, &original, &mut kept).await?;
    academics(&mut import, &original, &mut kept).await?;
    users(&mut import, &original, &mut kept).await?;
    students(&mut import, &original, &mut kept).await?;
    requests(&mut import, &original, &mut kept).await?;
    approvals(&mut import, &original, &mut kept).await?;
    payments(&mut import, &original, &mut kept).await?;
    finance_records(&mut import, &original, &kept).await?;
    gowns(&mut import, &original, &kept).await?;
    notifications(&mut import, &original, &kept).await?;
    audit_logs(&mut import, &original, &kept).await?;
    record_import(&import).await?;
    import.finish().await
}

/// The original's rows, read before anything is written.
struct Original {
    departments: Vec<Row>,
    schools: Vec<Row>,
    academic_departments: Vec<Row>,
    courses: Vec<Row>,
    users: Vec<Row>,
    students: Vec<Row>,
    requests: Vec<Row>,
    approvals: Vec<Row>,
    payments: Vec<Row>,
    finance_records: Vec<Row>,
    gowns: Vec<Row>,
    notifications: Vec<Row>,
    audit_logs: Vec<Row>,
}

impl Original {
    async fn read(import: &Import) -> Result<Self, String> {
        let s = &import.source;
        Ok(Self {
            departments: s
                .rows(
                    "departments",
                    &[
                        "id",
                        "name",
                        "code",
                        "department_type",
                        "head_email",
                        "description",
                        "is_active",
                        "approval_order",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            schools: s
                .rows_if_any(
                    "academic_schools",
                    &[
                        "id",
                        "name",
                        "code",
                        "dean_email",
                        "description",
                        "is_active",
                        "created_at",
                    ],
                )
                .await?,
            academic_departments: s
                .rows_if_any(
                    "academic_departments",
                    &[
                        "id",
                        "school_id",
                        "name",
                        "code",
                        "head_email",
                        "is_active",
                        "created_at",
                    ],
                )
                .await?,
            courses: s
                .rows_if_any(
                    "academic_courses",
                    &[
                        "id",
                        "department_id",
                        "code",
                        "name",
                        "duration_years",
                        "is_active",
                        "created_at",
                    ],
                )
                .await?,
            users: s
                .rows(
                    "users",
                    &[
                        "id",
                        "password",
                        "last_login",
                        "is_superuser",
                        "first_name",
                        "last_name",
                        "email",
                        "is_active",
                        "date_joined",
                        "admission_number",
                        "full_name",
                        "role",
                        "department_id",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            students: s
                .rows(
                    "students",
                    &[
                        "id",
                        "user_id",
                        "registration_number",
                        "admission_year",
                        "school_id",
                        "department_id",
                        "course_id",
                        "faculty",
                        "program",
                        "graduation_year",
                        "eligibility_status",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            requests: s
                .rows(
                    "clearance_requests",
                    &[
                        "id",
                        "student_id",
                        "status",
                        "submission_date",
                        "completion_date",
                        "rejection_reason",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            approvals: s
                .rows(
                    "clearance_approvals",
                    &[
                        "id",
                        "clearance_request_id",
                        "department_id",
                        "status",
                        "approved_by_id",
                        "approval_date",
                        "rejection_reason",
                        "notes",
                        "evidence_file",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            payments: s
                .rows(
                    "payments",
                    &[
                        "id",
                        "student_id",
                        "amount",
                        "payment_method",
                        "transaction_id",
                        "phone_number",
                        "payment_date",
                        "is_verified",
                        "verified_by_id",
                        "verification_date",
                        "notes",
                        "receipt",
                        "fee_statement",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            finance_records: s
                .rows_if_any(
                    "finance_records",
                    &[
                        "id",
                        "student_id",
                        "tuition_balance",
                        "graduation_fee",
                        "graduation_fee_status",
                        "mpesa_code",
                        "mpesa_payment_date",
                        "last_verified_date",
                        "verified_by",
                        "notes",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            gowns: s
                .rows(
                    "gown_issuances",
                    &[
                        "id",
                        "student_id",
                        "gown_number",
                        "gown_size",
                        "deposit_amount",
                        "deposit_paid",
                        "deposit_receipt",
                        "issued_date",
                        "issued_by_id",
                        "expected_return_date",
                        "actual_return_date",
                        "status",
                        "condition_notes",
                        "deposit_refunded",
                        "refund_amount",
                        "refund_date",
                        "notes",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            notifications: s
                .rows(
                    "notifications",
                    &[
                        "id",
                        "recipient_id",
                        "notification_type",
                        "title",
                        "message",
                        "clearance_id",
                        "approval_id",
                        "payment_id",
                        "is_read",
                        "read_at",
                        "created_at",
                    ],
                )
                .await?,
            audit_logs: s
                .rows(
                    "audit_logs",
                    &[
                        "id",
                        "actor_id",
                        "action",
                        "entity",
                        "entity_id",
                        "description",
                        "changes",
                        "ip_address",
                        "created_at",
                    ],
                )
                .await?,
        })
    }
}

/// The ids of the rows imported so far, to link (or report) what refers to them.
#[derive(Default)]
struct Kept {
    departments: HashSet<Uuid>,
    schools: HashSet<Uuid>,
    academic_departments: HashSet<Uuid>,
    courses: HashSet<Uuid>,
    users: HashSet<Uuid>,
    students: HashSet<Uuid>,
    requests: HashSet<Uuid>,
    approvals: HashSet<Uuid>,
    payments: HashSet<Uuid>,
}

/// `id` when that row was imported, else nothing.
fn link(id: Option<Uuid>, kept: &HashSet<Uuid>) -> Option<Uuid> {
    id.filter(|id| kept.contains(id))
}

async fn departments(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    kept.departments = import
        .write::<department::ActiveModel>("departments", &o.departments, |row| {
            let kind = row.text("department_type")?.trim().to_ascii_lowercase();
            if !department::TYPES.contains(&kind.as_str()) {
                return Err(format!("department type {kind:?} is not one of campus's"));
            }
            Ok(department::Model {
                id: row.uuid("id")?,
                name: row.text("name")?.to_owned(),
                code: row.text("code")?.to_owned(),
                department_type: kind,
                head_email: row.get("head_email").unwrap_or_default().to_owned(),
                description: row.get("description").unwrap_or_default().to_owned(),
                is_active: row.flag("is_active")?,
                approval_order: row.int("approval_order")? as i32,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    Ok(())
}

async fn academics(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    kept.schools = import
        .write::<school::ActiveModel>("schools", &o.schools, |row| {
            Ok(school::Model {
                id: row.uuid("id")?,
                name: row.text("name")?.to_owned(),
                code: row.text("code")?.to_owned(),
                dean_email: row.get("dean_email").unwrap_or_default().to_owned(),
                description: row.get("description").unwrap_or_default().to_owned(),
                is_active: row.flag("is_active")?,
                created_at: row.time("created_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    // Campus keeps academic department and course codes unique across the
    // university; the original only within their school or department.
    let mut codes = HashMap::new();
    let schools = kept.schools.clone();
    kept.academic_departments = import
        .write::<academic_department::ActiveModel>(
            "academic departments",
            &o.academic_departments,
            |row| {
                let id = row.uuid("id")?;
                let school_id = row.uuid("school_id")?;
                if !schools.contains(&school_id) {
                    return Err(format!("its school {school_id} was not imported"));
                }
                let code = row.text("code")?.to_owned();
                if let Some(other) = codes.insert(code.clone(), id).filter(|other| *other != id) {
                    return Err(format!("code {code} is also academic department {other}'s"));
                }
                Ok(academic_department::Model {
                    id,
                    school_id,
                    name: row.text("name")?.to_owned(),
                    code,
                    head_email: row.get("head_email").unwrap_or_default().to_owned(),
                    description: String::new(),
                    is_active: row.flag("is_active")?,
                    created_at: row.time("created_at")?,
                })
            },
        )
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    let mut codes = HashMap::new();
    let departments = kept.academic_departments.clone();
    kept.courses = import
        .write::<course::ActiveModel>("courses", &o.courses, |row| {
            let id = row.uuid("id")?;
            let department_id = row.uuid("department_id")?;
            if !departments.contains(&department_id) {
                return Err(format!(
                    "its academic department {department_id} was not imported"
                ));
            }
            let code = row.text("code")?.to_owned();
            if let Some(other) = codes.insert(code.clone(), id).filter(|other| *other != id) {
                return Err(format!("code {code} is also course {other}'s"));
            }
            Ok(course::Model {
                id,
                department_id,
                name: row.text("name")?.to_owned(),
                code,
                duration_years: row.int("duration_years")? as i32,
                description: String::new(),
                is_active: row.flag("is_active")?,
                created_at: row.time("created_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    Ok(())
}

async fn users(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    // Of accounts whose e-mails differ only in letter case, the one with a
    // student record (else the older) is kept; campus signs in
    // case-insensitively, so the others could never be told apart.
    let with_profile: HashSet<&str> = o.students.iter().filter_map(|s| s.get("user_id")).collect();
    let mut keeper: HashMap<String, (bool, String, String)> = HashMap::new();
    for row in &o.users {
        let (Some(email), Some(id)) = (row.get("email"), row.get("id")) else {
            continue;
        };
        let rank = (
            !with_profile.contains(id),
            row.get("date_joined").unwrap_or_default().to_owned(),
            id.to_owned(),
        );
        let entry = keeper.entry(email.to_lowercase()).or_insert(rank.clone());
        if rank < *entry {
            *entry = rank;
        }
    }
    let departments = kept.departments.clone();
    // Once in campus, an account's password (re-hashed on sign-in or
    // changed), token epoch and last sign-in are campus's.
    let keep = |held: &user::Model, fresh: &mut user::Model| {
        fresh.password.clone_from(&held.password);
        fresh.token_epoch = held.token_epoch;
        fresh.last_login = held.last_login.or(fresh.last_login);
    };
    kept.users = import.write_keeping::<user::ActiveModel>("users", &o.users, |row| {
        let id = row.uuid("id")?;
        let email = row.text("email")?;
        let normalized = kernel::form::normalize_email(email)
            .ok_or_else(|| format!("{email} is not a valid e-mail address"))?;
        if let Some((_, _, kept_id)) = keeper.get(&email.to_lowercase())
            && kept_id != row.get("id").unwrap_or_default()
        {
            return Err(format!(
                "{email} differs only in letter case from user {kept_id}'s e-mail, which is imported"
            ));
        }
        let (role, office) = match row.text("role")? {
            _ if row.flag("is_superuser")? => (Role::Admin, None),
            "admin" => (Role::Admin, None),
            "student" => (Role::Student, None),
            staff if STAFF_ROLES.contains(&staff) => (
                Role::DepartmentStaff,
                link(row.opt_uuid("department_id")?, &departments),
            ),
            other => return Err(format!("role {other:?} is not one of the original's")),
        };
        let full_name = match row.opt_text("full_name") {
            Some(name) => name,
            None => format!(
                "{} {}",
                row.get("first_name").unwrap_or_default(),
                row.get("last_name").unwrap_or_default()
            )
            .trim()
            .to_owned(),
        };
        Ok(user::Model {
            id,
            email: normalized,
            admission_number: row.opt_text("admission_number"),
            full_name,
            password: row.text("password")?.to_owned(),
            role,
            department_id: office,
            is_active: row.flag("is_active")?,
            token_epoch: 0,
            last_login: row.opt_time("last_login")?,
            created_at: row.time("date_joined").or_else(|_| row.time("created_at"))?,
            updated_at: row.time("updated_at")?,
        })
    }, keep)
    .await?
    .iter()
    .map(|m| m.id)
    .collect();
    Ok(())
}

async fn students(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let (users, schools, departments, courses) = (
        kept.users.clone(),
        kept.schools.clone(),
        kept.academic_departments.clone(),
        kept.courses.clone(),
    );
    kept.students = import
        .write::<student::ActiveModel>("students", &o.students, |row| {
            let user_id = row.uuid("user_id")?;
            if !users.contains(&user_id) {
                return Err(format!("its user {user_id} was not imported"));
            }
            let registration = row.text("registration_number")?.trim().to_owned();
            if !crate::students::valid_registration(&registration) {
                return Err(format!(
                    "registration number {registration:?} is not SCHOOL/DEPT/NNNN/YYYY"
                ));
            }
            let admission_year = match row.opt_int("admission_year")? {
                Some(year) => year,
                None => registration[registration.len() - 4..]
                    .parse()
                    .map_err(|_| "no admission year".to_owned())?,
            };
            let eligibility = row.text("eligibility_status")?.to_owned();
            if !student::ELIGIBILITY.contains(&eligibility.as_str()) {
                return Err(format!(
                    "eligibility {eligibility:?} is not one of campus's"
                ));
            }
            Ok(student::Model {
                id: row.uuid("id")?,
                user_id,
                registration_number: registration,
                admission_year: admission_year as i32,
                school_id: link(row.opt_uuid("school_id")?, &schools),
                department_id: link(row.opt_uuid("department_id")?, &departments),
                course_id: link(row.opt_uuid("course_id")?, &courses),
                faculty: row.get("faculty").unwrap_or_default().to_owned(),
                program: row.get("program").unwrap_or_default().to_owned(),
                graduation_year: row.int("graduation_year")? as i32,
                eligibility_status: eligibility,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    Ok(())
}

/// "its student … was not imported" unless it was.
fn student_of(row: &Row, kept: &Kept) -> Result<Uuid, String> {
    let id = row.uuid("student_id")?;
    if kept.students.contains(&id) {
        Ok(id)
    } else {
        Err(format!("its student {id} was not imported"))
    }
}

async fn requests(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let ids = import
        .write::<clearance::ActiveModel>("clearance requests", &o.requests, |row| {
            let status = row.text("status")?.to_owned();
            if !clearance::STATUSES.contains(&status.as_str()) {
                return Err(format!("status {status:?} is not one of campus's"));
            }
            Ok(clearance::Model {
                id: row.uuid("id")?,
                student_id: student_of(row, kept)?,
                status,
                submission_date: row.time("submission_date")?,
                completion_date: row.opt_time("completion_date")?,
                rejection_reason: row.opt_text("rejection_reason"),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    kept.requests = ids;
    Ok(())
}

async fn approvals(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    // Evidence first: a row keeps its file only when the file was copied.
    let mut evidence = HashMap::new();
    for row in &o.approvals {
        if let Some(name) = import
            .files
            .copy(row.get("evidence_file"), "evidence")
            .await
        {
            evidence.insert(row.key().to_owned(), name);
        }
    }
    let ids = import
        .write::<approval::ActiveModel>("approvals", &o.approvals, |row| {
            let request = row.uuid("clearance_request_id")?;
            if !kept.requests.contains(&request) {
                return Err(format!("its clearance request {request} was not imported"));
            }
            let office = row.uuid("department_id")?;
            if !kept.departments.contains(&office) {
                return Err(format!("its department {office} was not imported"));
            }
            let status = row.text("status")?.to_owned();
            if !["pending", "approved", "rejected"].contains(&status.as_str()) {
                return Err(format!("status {status:?} is not one of campus's"));
            }
            Ok(approval::Model {
                id: row.uuid("id")?,
                clearance_request_id: request,
                department_id: office,
                status,
                approved_by_id: link(row.opt_uuid("approved_by_id")?, &kept.users),
                approval_date: row.opt_time("approval_date")?,
                rejection_reason: row.opt_text("rejection_reason"),
                notes: row.get("notes").unwrap_or_default().to_owned(),
                evidence_file: evidence.get(row.key()).cloned(),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    kept.approvals = ids;
    Ok(())
}

async fn payments(import: &mut Import, o: &Original, kept: &mut Kept) -> Result<(), String> {
    let mut files: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    for row in &o.payments {
        let receipt = import.files.copy(row.get("receipt"), "receipts").await;
        let statement = import
            .files
            .copy(row.get("fee_statement"), "fee_statements")
            .await;
        files.insert(row.key().to_owned(), (receipt, statement));
    }
    let mut transactions = HashMap::new();
    let ids = import
        .write::<payment::ActiveModel>("payments", &o.payments, |row| {
            let id = row.uuid("id")?;
            let student_id = student_of(row, kept)?;
            let amount = row.money("amount")?;
            if amount.cents() <= 0 {
                return Err(format!(
                    "amount {amount} is not positive: campus records payments of some amount"
                ));
            }
            let method = row.text("payment_method")?.to_owned();
            if !payment::METHODS.contains(&method.as_str()) {
                return Err(format!("payment method {method:?} is not one of campus's"));
            }
            let transaction = row.opt_text("transaction_id");
            if let Some(code) = &transaction
                && let Some(other) = transactions.insert(code.clone(), id).filter(|o| *o != id)
            {
                return Err(format!("transaction {code} is also payment {other}'s"));
            }
            let phone = match row.opt_text("phone_number") {
                Some(phone) => Some(crate::mpesa::normalize_phone(&phone).ok_or_else(|| {
                    format!("phone number {phone:?} is not a Kenyan mobile number")
                })?),
                None => None,
            };
            let is_verified = row.flag("is_verified")?;
            let payment_date = row.opt_time("payment_date")?;
            let status = if is_verified || payment_date.is_some() || transaction.is_some() {
                "paid"
            } else {
                "pending"
            };
            let (receipt, fee_statement) = files.get(row.key()).cloned().unwrap_or_default();
            Ok(payment::Model {
                id,
                student_id,
                amount: amount.cents(),
                payment_method: method,
                status: status.to_owned(),
                transaction_id: transaction,
                phone_number: phone,
                payment_date,
                is_verified,
                verified_by_id: link(row.opt_uuid("verified_by_id")?, &kept.users),
                verification_date: row.opt_time("verification_date")?,
                notes: row.get("notes").unwrap_or_default().to_owned(),
                receipt,
                fee_statement,
                checkout_request_id: None,
                merchant_request_id: None,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    kept.payments = ids;
    Ok(())
}

async fn finance_records(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    import
        .write::<finance_record::ActiveModel>("finance records", &o.finance_records, |row| {
            let status = row.text("graduation_fee_status")?.to_owned();
            if !["pending", "paid", "verified"].contains(&status.as_str()) {
                return Err(format!("fee status {status:?} is not one of campus's"));
            }
            Ok(finance_record::Model {
                id: row.uuid("id")?,
                student_id: student_of(row, kept)?,
                tuition_balance: row.money("tuition_balance")?.cents(),
                graduation_fee: row.money("graduation_fee")?.cents(),
                graduation_fee_status: status,
                mpesa_code: row.opt_text("mpesa_code"),
                mpesa_payment_date: row.opt_time("mpesa_payment_date")?,
                last_verified_date: row.opt_time("last_verified_date")?,
                verified_by: row.opt_text("verified_by"),
                notes: row.get("notes").unwrap_or_default().to_owned(),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await?;
    Ok(())
}

async fn gowns(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    // The overdue reminder is campus's: it may have gone out since.
    let keep = |held: &gown::Model, fresh: &mut gown::Model| {
        fresh.overdue_notified_at = held.overdue_notified_at;
    };
    import
        .write_keeping::<gown::ActiveModel>(
            "gowns",
            &o.gowns,
            |row| {
                let size = row.text("gown_size")?.to_owned();
                if !gown::SIZES.contains(&size.as_str()) {
                    return Err(format!(
                        "size {size} is not one campus issues ({})",
                        gown::SIZES.join(", ")
                    ));
                }
                let status = row.text("status")?;
                let returned_date = row.opt_time("actual_return_date")?;
                let refunded = row.flag("deposit_refunded")?;
                let deposit_status = match status {
                    _ if refunded => "refunded",
                    "lost" | "damaged" => "retained",
                    "issued" | "returned" => "pending",
                    other => return Err(format!("status {other:?} is not one of the original's")),
                };
                let deposit = row.money("deposit_amount")?;
                let mut notes: Vec<String> = row.opt_text("notes").into_iter().collect();
                if matches!(status, "lost" | "damaged") {
                    notes.push(format!("Marked {status} in the original system."));
                }
                if let Some(condition) = row.opt_text("condition_notes") {
                    notes.push(format!("Condition: {condition}"));
                }
                if let Some(receipt) = row.opt_text("deposit_receipt") {
                    notes.push(format!("Deposit receipt: {receipt}"));
                }
                if let Some(refund) = row.opt_text("refund_amount") {
                    let refund = kernel::import::parse_money(&refund)
                        .ok_or("refund_amount is not an amount")?;
                    if refund != deposit {
                        notes.push(format!("Refunded KES {refund} of {deposit}."));
                    }
                }
                let due = row.date("expected_return_date")?;
                Ok(gown::Model {
                    id: row.uuid("id")?,
                    student_id: student_of(row, kept)?,
                    gown_size: size,
                    gown_code: row.text("gown_number")?.to_owned(),
                    issue_date: row.time("issued_date")?,
                    return_date: due.and_hms_opt(0, 0, 0).map(|at| at.and_utc()),
                    deposit_amount: deposit.cents(),
                    deposit_paid: row.flag("deposit_paid")?,
                    deposit_refund_date: row.opt_time("refund_date")?,
                    deposit_status: deposit_status.to_owned(),
                    is_returned: status == "returned" || returned_date.is_some(),
                    returned_date,
                    issued_by_id: link(row.opt_uuid("issued_by_id")?, &kept.users),
                    notes: notes.join("\n"),
                    overdue_notified_at: None,
                    created_at: row.time("created_at")?,
                    updated_at: row.time("updated_at")?,
                })
            },
            keep,
        )
        .await?;
    Ok(())
}

async fn notifications(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    import
        .write::<notification::ActiveModel>("notifications", &o.notifications, |row| {
            let recipient = row.uuid("recipient_id")?;
            if !kept.users.contains(&recipient) {
                return Err(format!("its recipient {recipient} was not imported"));
            }
            let kind = notification::canonical(row.text("notification_type")?);
            if !notification::TYPES.contains(&kind) {
                return Err(format!("type {kind:?} is not one of the original's"));
            }
            let related = [
                ("approval", "approval_id", &kept.approvals),
                ("payment", "payment_id", &kept.payments),
                ("clearance", "clearance_id", &kept.requests),
            ]
            .into_iter()
            .find_map(|(kind, column, ids)| {
                link(row.opt_uuid(column).ok().flatten(), ids).map(|id| (kind, id))
            });
            Ok(notification::Model {
                id: row.uuid("id")?,
                user_id: recipient,
                title: row.text("title")?.to_owned(),
                message: row.get("message").unwrap_or_default().to_owned(),
                notification_type: kind.to_owned(),
                related_object_type: related.map(|(kind, _)| kind.to_owned()),
                related_object_id: related.map(|(_, id)| id),
                is_read: row.flag("is_read")?,
                read_at: row.opt_time("read_at")?,
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    Ok(())
}

async fn audit_logs(import: &mut Import, o: &Original, kept: &Kept) -> Result<(), String> {
    import
        .write::<audit_log::ActiveModel>("audit logs", &o.audit_logs, |row| {
            let action = row.text("action")?.to_owned();
            if !audit_log::ACTIONS.contains(&action.as_str()) {
                return Err(format!("action {action:?} is not one of the original's"));
            }
            let entity_id = row.get("entity_id").unwrap_or_default();
            let description = row
                .opt_text("description")
                .unwrap_or_else(|| entity_id.to_owned());
            Ok(audit_log::Model {
                id: row.uuid("id")?,
                user_id: link(row.opt_uuid("actor_id")?, &kept.users),
                action,
                content_type: truncate(row.get("entity").unwrap_or_default(), 50),
                object_id: Uuid::parse_str(entity_id.trim()).unwrap_or_default(),
                object_str: truncate(&description, 500),
                changes: Some(scrub(row.json("changes")?)).filter(|c| !c.is_null()),
                // PostgreSQL prints inet with its mask (`10.0.4.17/32`).
                ip_address: row
                    .opt_text("ip_address")
                    .map(|ip| ip.split('/').next().unwrap_or_default().to_owned()),
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    Ok(())
}

/// `changes` without what must not be kept: request headers (bearer
/// tokens, cookies) and any password, token or secret.
fn scrub(value: Value) -> Value {
    const SECRET: &[&str] = &["password", "token", "secret", "authorization", "cookie"];
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| {
                    let key = key.to_ascii_lowercase();
                    key != "headers" && !SECRET.iter().any(|s| key.contains(s))
                })
                .map(|(key, value)| (key, scrub(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        other => other,
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// One audit row for the import itself, when it wrote anything.
async fn record_import(import: &Import) -> Result<(), String> {
    if !import.report.changed() {
        return Ok(());
    }
    let summary = import
        .report
        .tallies
        .iter()
        .map(|t| format!("{} {}", t.created + t.updated, t.name))
        .collect::<Vec<_>>()
        .join(", ");
    let now = kernel::time::now();
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(None),
        action: Set("create".to_owned()),
        content_type: Set("import".to_owned()),
        object_id: Set(Uuid::nil()),
        object_str: Set(truncate(
            &format!("Imported from the Django original: {summary}"),
            500,
        )),
        changes: Set(None),
        ip_address: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(&*import.txn)
    .await
    .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_headers_never_leave_the_original() {
        let changes = serde_json::json!({
            "request": {"method": "POST", "headers": {"Authorization": "Bearer x"},
                        "body": {"email": "a@b.c", "password": "hunter2", "new_password2": "x"}},
            "response": {"status_code": 200, "body": {"access_token": "eyJ", "tokens": {"refresh": "r"}}},
            "data": [{"api_secret": "s", "kept": 1}],
        });
        assert_eq!(
            scrub(changes),
            serde_json::json!({
                "request": {"method": "POST", "body": {"email": "a@b.c"}},
                "response": {"status_code": 200, "body": {}},
                "data": [{"kept": 1}],
            })
        );
    }
}
