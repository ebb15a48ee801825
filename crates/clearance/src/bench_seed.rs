//! The benchmark data set (`../shared/peers/README.md`, "Data set"), created
//! by `campus seed-bench clearance --students N`: exactly the rows the DRF
//! peer's `seed_bench` creates — same ids, texts, statuses and timestamps —
//! so the load driver, which names rows from the data set's rules, does the
//! same work on both servers.
//!
//! Every value is a function of the student index `i` and the office order
//! `o`: d(i) = i mod 9 offices (1…d(i)) have approved student `i`. Columns the
//! data set does not name get what campus stores for such rows (no rejection
//! reason, no evidence, token epoch 0; `updated_at` is the row's last change
//! in the data set's story). Rows go in as multi-row inserts as large as the
//! backend's bind-parameter limit allows, a block of students at a time, built
//! on one task while another writes them through a short queue (so memory
//! stays bounded at any N), in one transaction per
//! [`STUDENTS_PER_TRANSACTION`] students; the planner statistics are gathered
//! at the end, as a database in service has them.

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, Insert, IntoActiveModel, Iterable, QueryTrait,
    Statement,
};
use serde_json::json;
use uuid::Uuid;

use crate::entities::user::Role;
use crate::entities::{
    approval, audit_log, clearance, department, finance_record, notification, student, user,
};
use crate::state::AppState;

/// The password of every account of the data set.
pub const PASSWORD: &str = "Clearance-Bench-2026";

/// Id kinds: the first group of every id.
pub mod kind {
    pub const STAFF_USER: u64 = 1;
    pub const STUDENT_USER: u64 = 2;
    pub const STUDENT: u64 = 3;
    pub const OFFICE: u64 = 4;
    pub const FINANCE: u64 = 5;
    pub const REQUEST: u64 = 6;
    pub const APPROVAL: u64 = 7;
    pub const NOTIFICATION: u64 = 8;
    pub const AUDIT: u64 = 9;
}

/// The offices: (approval order, name, code, department type).
pub const OFFICES: [(i32, &str, &str, &str); 8] = [
    (1, "Finance Department", "FINANCE", "finance"),
    (2, "Library Services", "LIBRARY", "library"),
    (3, "Mess/Cafeteria", "MESS", "mess"),
    (4, "Hostel Office", "HOSTEL", "hostel"),
    (5, "Academic Affairs", "ACADEMIC", "faculty"),
    (6, "Workshop/Laboratories", "WORKSHOP", "workshop"),
    (7, "Sports & Games", "SPORTS", "sports"),
    (8, "Student Services", "STUDENT_SERVICES", "other"),
];

/// Students whose rows are built and inserted together (about 22 rows each).
const BLOCK: u64 = 2_000;

/// Students committed per transaction: N = 100 000 is one transaction, a
/// million four (SQLite's write-ahead log stays around a gigabyte).
pub const STUDENTS_PER_TRANSACTION: u64 = 250_000;

/// The data set's ids, `KKKKKKKK-0000-4000-8000-NNNNNNNNNNNN`: the kind in 8
/// decimal digits, the number in 12 (each decimal digit is one hex digit).
pub fn bid(kind: u64, n: u64) -> Uuid {
    assert!(
        kind < 100_000_000 && n < 1_000_000_000_000,
        "id out of range"
    );
    let digits = |mut value: u64, count: u32| {
        let mut nibbles = 0u128;
        for place in 0..count {
            nibbles |= u128::from(value % 10) << (4 * place);
            value /= 10;
        }
        nibbles
    };
    Uuid::from_u128((digits(kind, 8) << 96) | (0x0000_4000_8000_u128 << 48) | digits(n, 12))
}

/// T0 = 2026-01-05T06:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0)
        .single()
        .unwrap_or_default()
}

/// at(m) = T0 + m minutes.
pub fn at(minutes: u64) -> DateTime<Utc> {
    t0() + Duration::minutes(i64::try_from(minutes).unwrap_or(i64::MAX))
}

/// Student `i`'s registration number (and admission number):
/// `BEN/CS/{i mod 10000:04}/{2000 + i div 10000}`.
pub fn registration_number(i: u64) -> String {
    format!("BEN/CS/{:04}/{}", i % 10_000, admission_year(i))
}

fn admission_year(i: u64) -> i32 {
    2000 + i32::try_from(i / 10_000).unwrap_or(i32::MAX - 2000)
}

/// How many offices have approved student `i`.
pub fn decided(i: u64) -> u64 {
    i % 9
}

/// What the data set holds for `students` students, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub users: u64,
    pub departments: u64,
    pub students: u64,
    pub finance_records: u64,
    pub clearances: u64,
    pub approvals: u64,
    pub notifications: u64,
    pub audit_logs: u64,
}

impl Totals {
    /// The README's totals, for any N: one notification and one audit row for
    /// the submission and one of each per approval (Σ d(i)), plus the
    /// completion notification of each student with d(i) = 8.
    pub fn of(students: u64) -> Self {
        let approved: u64 = (0..students).map(decided).sum();
        let completed = (0..students).filter(|&i| decided(i) == 8).count() as u64;
        Self {
            users: students + 9,
            departments: 8,
            students,
            finance_records: students,
            clearances: students,
            approvals: 8 * students,
            notifications: students + approved + completed,
            audit_logs: students + approved,
        }
    }
}

/// The tables the data set fills, in the order they are filled.
const TABLES: [&str; 8] = [
    "departments",
    "users",
    "students",
    "finance_records",
    "clearances",
    "approvals",
    "notifications",
    "audit_logs",
];

/// `campus seed-bench clearance --students N`: the data set in a freshly
/// migrated database; refuses a database that already holds clearance rows.
pub async fn seed(state: &AppState, students: u64) -> Result<String, String> {
    if students >= 100_000_000_000 {
        return Err("--students must be below 100 000 000 000 (ids have 12 digits)".into());
    }
    let db = &state.db;
    let db_error = |e: DbErr| format!("database error: {e}");
    for table in TABLES {
        if has_rows(db, table).await.map_err(db_error)? {
            return Err(format!(
                "the database already holds clearance data ({table} has rows): \
                 seed-bench needs a freshly migrated database"
            ));
        }
    }
    let started = Instant::now();
    // Hashed once (the kernel's hasher, the system's algorithm), shared by every account.
    let password = state
        .hasher
        .make(PASSWORD)
        .await
        .map_err(|e| format!("cannot hash the password: {e:?}"))?;
    let backend = db.get_database_backend();
    let seeder = Seeder {
        backend,
        limit: bind_limit(backend),
        password,
    };

    // One task builds the rows and their SQL while this one writes them, so
    // the two halves of the work overlap; the bounded queue keeps a few
    // statements in memory at any N.
    let (steps, mut queue) = tokio::sync::mpsc::channel(8);
    let producer = tokio::spawn(seeder.produce(students, steps));
    let mut txn = None;
    while let Some(step) = queue.recv().await {
        match step {
            Step::Run(statement) => {
                let open = match txn.take() {
                    Some(open) => open,
                    None => kernel::db::begin_write(db).await.map_err(db_error)?,
                };
                open.execute_raw(statement).await.map_err(db_error)?;
                txn = Some(open);
            }
            Step::Commit => {
                if let Some(open) = txn.take() {
                    open.commit().await.map_err(db_error)?;
                }
            }
        }
    }
    // The queue also closes when the producer fails: commit nothing then.
    producer
        .await
        .map_err(|e| format!("building the rows failed: {e}"))?;
    if let Some(open) = txn {
        open.commit().await.map_err(db_error)?;
    }
    let inserted = started.elapsed();
    gather_statistics(db).await.map_err(db_error)?;

    let t = Totals::of(students);
    Ok(format!(
        "seeded {} students: {} users, {} departments, {} finance records, {} clearance requests, \
         {} approvals, {} notifications, {} audit rows (inserted in {:.1} s, statistics in {:.1} s)",
        t.students,
        t.users,
        t.departments,
        t.finance_records,
        t.clearances,
        t.approvals,
        t.notifications,
        t.audit_logs,
        inserted.as_secs_f64(),
        (started.elapsed() - inserted).as_secs_f64(),
    ))
}

async fn has_rows<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    let sql = format!("SELECT 1 FROM {table} LIMIT 1");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(row.is_some())
}

/// The most bind parameters one statement may carry.
fn bind_limit(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 32_766,
        _ => 65_535,
    }
}

/// Planner statistics, as a database in service has them. PostgreSQL's
/// `VACUUM` (which also sets the visibility map index-only counts need)
/// cannot run in a transaction; this runs on the pool, outside one.
async fn gather_statistics<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "ANALYZE".to_owned(),
        DbBackend::Postgres => "VACUUM ANALYZE".to_owned(),
        _ => format!("ANALYZE TABLE {}", TABLES.join(", ")),
    };
    db.execute_unprepared(&sql).await.map(drop)
}

/// What the producer hands the writer.
enum Step {
    /// A multi-row insert, in the open transaction (begun when needed).
    Run(Statement),
    /// The end of a transaction.
    Commit,
}

struct Seeder {
    backend: DbBackend,
    limit: usize,
    password: String,
}

impl Seeder {
    /// Sends the statements of the whole data set, with a commit every
    /// [`STUDENTS_PER_TRANSACTION`] students; stops when the writer has.
    async fn produce(self, students: u64, steps: tokio::sync::mpsc::Sender<Step>) {
        let send = async |statements: Vec<Statement>| {
            for statement in statements {
                if steps.send(Step::Run(statement)).await.is_err() {
                    return false;
                }
            }
            true
        };
        if !send(self.fixed()).await {
            return;
        }
        let mut start = 0;
        while start < students {
            let end = (start + BLOCK).min(students);
            if !send(self.block(start..end)).await {
                return;
            }
            if end.is_multiple_of(STUDENTS_PER_TRANSACTION)
                && steps.send(Step::Commit).await.is_err()
            {
                return;
            }
            start = end;
        }
    }

    /// `rows` as multi-row inserts of at most `limit` parameters each.
    fn statements<M, A>(&self, out: &mut Vec<Statement>, rows: Vec<M>)
    where
        M: IntoActiveModel<A>,
        A: sea_orm::ActiveModelTrait,
    {
        let columns = <A::Entity as EntityTrait>::Column::iter().count();
        let per_statement = (self.limit / columns).max(1);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            out.push(Insert::<A>::many(rows.by_ref().take(per_statement)).build(self.backend));
        }
    }

    /// The offices, the administrator and the office staff.
    fn fixed(&self) -> Vec<Statement> {
        let offices = OFFICES
            .iter()
            .map(|&(order, name, code, kind)| department::Model {
                id: bid(kind::OFFICE, order as u64),
                name: name.to_owned(),
                code: code.to_owned(),
                department_type: kind.to_owned(),
                head_email: format!("{}@bench.test", code.to_lowercase()),
                description: String::new(),
                is_active: true,
                approval_order: order,
                created_at: t0(),
                updated_at: t0(),
            })
            .collect();
        let admin = self.account(
            bid(kind::STAFF_USER, 0),
            "admin@bench.test".into(),
            "Bench Admin".into(),
            Role::Admin,
        );
        let staff = OFFICES.iter().map(|&(order, name, _, _)| user::Model {
            department_id: Some(bid(kind::OFFICE, order as u64)),
            ..self.account(
                bid(kind::STAFF_USER, order as u64),
                format!("staff{order}@bench.test"),
                format!("{name} Officer"),
                Role::DepartmentStaff,
            )
        });
        let mut out = Vec::new();
        self.statements(&mut out, offices);
        self.statements(&mut out, std::iter::once(admin).chain(staff).collect());
        out
    }

    fn account(&self, id: Uuid, email: String, full_name: String, role: Role) -> user::Model {
        user::Model {
            id,
            email,
            admission_number: None,
            full_name,
            password: self.password.clone(),
            role,
            department_id: None,
            is_active: true,
            token_epoch: 0,
            last_login: None,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    /// Students `range`: their accounts, records, finance records, requests,
    /// approvals, notifications and audit rows.
    fn block(&self, range: std::ops::Range<u64>) -> Vec<Statement> {
        let size = (range.end - range.start) as usize;
        let mut users = Vec::with_capacity(size);
        let mut students = Vec::with_capacity(size);
        let mut finance = Vec::with_capacity(size);
        let mut requests = Vec::with_capacity(size);
        let mut approvals = Vec::with_capacity(8 * size);
        let mut notes = Vec::with_capacity(6 * size);
        let mut audit = Vec::with_capacity(5 * size);
        for i in range {
            let d = decided(i);
            let reg = registration_number(i);
            let year = admission_year(i);
            let user_id = bid(kind::STUDENT_USER, i);
            let student_id = bid(kind::STUDENT, i);
            let request_id = bid(kind::REQUEST, i);
            let submitted = at(10 * i);
            let completed = (d == 8).then(|| at(10 * i + 8));
            let last_decision = at(10 * i + d);
            users.push(user::Model {
                admission_number: Some(reg.clone()),
                ..self.account(
                    user_id,
                    format!("student{i}@bench.test"),
                    format!("Student {i}"),
                    Role::Student,
                )
            });
            students.push(student::Model {
                id: student_id,
                user_id,
                registration_number: reg.clone(),
                admission_year: year,
                school_id: None,
                department_id: None,
                course_id: None,
                faculty: "School of Engineering and Technology".into(),
                program: "BSc Computer Science".into(),
                graduation_year: year + 4,
                eligibility_status: if d == 8 { "eligible" } else { "pending" }.into(),
                created_at: t0(),
                updated_at: completed.unwrap_or_else(t0),
            });
            finance.push(finance_record::Model {
                id: bid(kind::FINANCE, i),
                student_id,
                tuition_balance: 0,
                graduation_fee: 550_000,
                graduation_fee_status: "verified".into(),
                mpesa_code: None,
                mpesa_payment_date: None,
                last_verified_date: Some(t0()),
                verified_by: Some("Bench Admin".into()),
                notes: String::new(),
                created_at: t0(),
                updated_at: t0(),
            });
            requests.push(clearance::Model {
                id: request_id,
                student_id,
                status: match d {
                    0 => "pending",
                    8 => "completed",
                    _ => "in_progress",
                }
                .into(),
                submission_date: submitted,
                completion_date: completed,
                rejection_reason: None,
                created_at: submitted,
                updated_at: last_decision,
            });
            notes.push(notification::Model {
                id: bid(kind::NOTIFICATION, 10 * i),
                user_id,
                title: "Clearance Request Submitted".into(),
                message: "Your clearance request was submitted to 8 offices.".into(),
                notification_type: "status_update".into(),
                related_object_type: Some("clearance".into()),
                related_object_id: Some(request_id),
                is_read: false,
                read_at: None,
                created_at: submitted,
            });
            audit.push(audit_log::Model {
                id: bid(kind::AUDIT, 10 * i),
                user_id: Some(user_id),
                action: "create".into(),
                content_type: "ClearanceRequest".into(),
                object_id: request_id,
                object_str: format!("Clearance request of {reg}"),
                changes: Some(json!({"status": [null, "pending"]})),
                ip_address: Some("127.0.0.1".into()),
                created_at: submitted,
            });
            for &(order, name, _, _) in &OFFICES {
                let o = order as u64;
                let approval_id = bid(kind::APPROVAL, 10 * i + o);
                let awaiting = format!("Awaiting approval from {name}");
                let row = approval::Model {
                    id: approval_id,
                    clearance_request_id: request_id,
                    department_id: bid(kind::OFFICE, o),
                    status: "pending".into(),
                    approved_by_id: None,
                    approval_date: None,
                    rejection_reason: None,
                    notes: String::new(),
                    evidence_file: None,
                    created_at: submitted,
                    updated_at: submitted,
                };
                if o > d {
                    approvals.push(approval::Model {
                        notes: awaiting,
                        ..row
                    });
                    continue;
                }
                let when = at(10 * i + o);
                let staff = bid(kind::STAFF_USER, o);
                approvals.push(approval::Model {
                    status: "approved".into(),
                    approved_by_id: Some(staff),
                    approval_date: Some(when),
                    notes: "Approved".into(),
                    updated_at: when,
                    ..row
                });
                notes.push(notification::Model {
                    id: bid(kind::NOTIFICATION, 10 * i + o),
                    user_id,
                    title: "Department Approval: Approved".into(),
                    message: format!("The {name} has approved your clearance request."),
                    notification_type: "approval".into(),
                    related_object_type: Some("approval".into()),
                    related_object_id: Some(approval_id),
                    is_read: false,
                    read_at: None,
                    created_at: when,
                });
                audit.push(audit_log::Model {
                    id: bid(kind::AUDIT, 10 * i + o),
                    user_id: Some(staff),
                    action: "approve".into(),
                    content_type: "ClearanceApproval".into(),
                    object_id: approval_id,
                    object_str: format!("{name} approval for clearance {request_id}"),
                    changes: Some(json!({
                        "status": ["pending", "approved"],
                        "notes": [awaiting, "Approved"],
                    })),
                    ip_address: Some("127.0.0.1".into()),
                    created_at: when,
                });
            }
            if let Some(completion) = completed {
                notes.push(notification::Model {
                    id: bid(kind::NOTIFICATION, 10 * i + 9),
                    user_id,
                    title: "Clearance Request Approved".into(),
                    message: "All departments have cleared you. You are eligible to graduate."
                        .into(),
                    notification_type: "status_update".into(),
                    related_object_type: Some("clearance".into()),
                    related_object_id: Some(request_id),
                    is_read: false,
                    read_at: None,
                    created_at: completion,
                });
            }
        }
        // Parents before children: the foreign keys are checked per statement.
        let mut out = Vec::new();
        self.statements(&mut out, users);
        self.statements(&mut out, students);
        self.statements(&mut out, finance);
        self.statements(&mut out, requests);
        self.statements(&mut out, approvals);
        self.statements(&mut out, notes);
        self.statements(&mut out, audit);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_kind_and_number_in_decimal_digits() {
        assert_eq!(
            bid(kind::REQUEST, 42).to_string(),
            "00000006-0000-4000-8000-000000000042"
        );
        assert_eq!(
            bid(kind::APPROVAL, 10 * 42 + 3).to_string(),
            "00000007-0000-4000-8000-000000000423"
        );
        assert_eq!(
            bid(kind::STAFF_USER, 0).to_string(),
            "00000001-0000-4000-8000-000000000000"
        );
        assert_eq!(
            bid(kind::AUDIT, 999_999_999_999).to_string(),
            "00000009-0000-4000-8000-999999999999"
        );
        for (k, n) in [(2, 7), (8, 1_234_567_890), (5, 10_000_009)] {
            assert_eq!(
                bid(k, n).to_string(),
                format!("{k:08}-0000-4000-8000-{n:012}")
            );
        }
    }

    #[test]
    fn values_follow_the_data_set_rules() {
        assert_eq!(registration_number(42), "BEN/CS/0042/2000");
        assert_eq!(registration_number(123_456), "BEN/CS/3456/2012");
        assert_eq!(at(10 * 42 + 3).to_rfc3339(), "2026-01-05T13:03:00+00:00");
        assert_eq!(t0().to_rfc3339(), "2026-01-05T06:00:00+00:00");
    }

    #[test]
    fn totals_match_the_readme_for_ten_thousand_students() {
        let t = Totals::of(10_000);
        assert_eq!(t.users, 10_009);
        assert_eq!(t.approvals, 80_000);
        assert_eq!(t.notifications, 51_107);
        assert_eq!(t.audit_logs, 49_996);
        // 39 996 approved: the audit rows of the approvals.
        assert_eq!(t.audit_logs - t.students, 39_996);
    }
}
