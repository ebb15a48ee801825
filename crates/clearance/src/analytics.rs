//! `/api/analytics/`: figures for administrators (spec §3.10). Every figure
//! comes from one aggregate query per table (COUNT/SUM/AVG with GROUP BY);
//! no fact rows are loaded. Rates are part ÷ total × 100 to two decimals, 0
//! when the total is 0.

use kernel::Db;
use kernel::db::sum_int;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use kernel::listing::ListQuery;
use kernel::{ApiResult, FilterKind, Json, Money};
use sea_orm::sea_query::{Condition, Expr, Func, IntoCondition, JoinType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Select,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::entities::{approval, clearance, department, finance_record, gown, payment, student};
use crate::principal::Admin;
use crate::state::AppState;
use crate::workflow::completion_percentage as rate;

/// Pending approvals older than this are overdue.
const OVERDUE_AFTER_DAYS: i64 = 7;
/// "Recent activity" covers this many days.
const RECENT_DAYS: i64 = 7;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(completion_rate))
        .routes(routes!(bottlenecks))
        .routes(routes!(financial_summary))
        .routes(routes!(by_cohort))
}

/// The original's names for two reports.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/analytics/clearance-completion/",
            axum::routing::get(completion_rate),
        )
        .route(
            "/api/analytics/department-bottlenecks/",
            axum::routing::get(bottlenecks),
        )
}

/// `COUNT(CASE WHEN <condition> THEN 1 END)`.
fn count_when(condition: &str) -> Expr {
    Expr::cust(format!("COUNT(CASE WHEN {condition} THEN 1 END)"))
}

/// `COUNT(CASE WHEN <condition> THEN 1 END)` for a condition with bound
/// values (dates), which raw SQL cannot carry portably.
fn count_if(condition: impl IntoCondition) -> Expr {
    Func::count(Expr::case(condition, Expr::cust("1"))).into()
}

fn n(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

// ---------------------------------------------------------------- dashboard

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentFigures {
    pub total: u64,
    pub eligible: u64,
    pub eligibility_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearanceFigures {
    pub total: u64,
    pub completed: u64,
    pub in_progress: u64,
    pub pending: u64,
    pub rejected: u64,
    pub completion_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalFigures {
    pub total: u64,
    pub pending: u64,
    pub approved: u64,
    pub rejected: u64,
    /// Decided (approved or rejected) ÷ total.
    pub processing_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FinanceFigures {
    pub total_payments: u64,
    pub verified_payments: u64,
    /// Sum of verified payments, in KES.
    pub total_revenue: Money,
    pub verification_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GownFigures {
    pub total_issued: u64,
    pub returned: u64,
    /// Not returned and past their return date.
    pub overdue: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecentActivity {
    /// Requests submitted in the last 7 days.
    pub clearances_last_7_days: u64,
    /// Payments recorded in the last 7 days.
    pub payments_last_7_days: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub students: StudentFigures,
    pub clearances: ClearanceFigures,
    pub approvals: ApprovalFigures,
    pub finance: FinanceFigures,
    pub gown_issuance: GownFigures,
    pub recent_activity: RecentActivity,
}

#[derive(Debug, Default, FromQueryResult)]
struct StudentRow {
    total: i64,
    eligible: i64,
}

#[derive(Debug, Default, FromQueryResult)]
struct StatusRow {
    total: i64,
    completed: i64,
    in_progress: i64,
    pending: i64,
    rejected: i64,
    recent: i64,
}

#[derive(Debug, Default, FromQueryResult)]
struct ApprovalRow {
    total: i64,
    pending: i64,
    approved: i64,
    rejected: i64,
}

#[derive(Debug, Default, FromQueryResult)]
struct PaymentRow {
    total: i64,
    verified: i64,
    revenue: i64,
    recent: i64,
}

#[derive(Debug, Default, FromQueryResult)]
struct GownRow {
    total: i64,
    returned: i64,
    overdue: i64,
}

/// Headline figures across students, clearances, approvals, payments and
/// gowns (admin).
#[utoipa::path(get, path = "/api/analytics/dashboard/", tag = "analytics", security(("jwt" = [])),
    responses((status = 200, body = Dashboard), (status = 401), (status = 403)))]
pub async fn dashboard(Db(db): Db, _admin: Admin) -> ApiResult<Json<Dashboard>> {
    let db = &db;
    let backend = db.get_database_backend();
    let now = kernel::time::now();
    let since = now - Duration::days(RECENT_DAYS);

    let s = student::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("eligibility_status = 'eligible'"), "eligible")
        .into_model::<StudentRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let c = clearance::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("status = 'completed'"), "completed")
        .column_as(count_when("status = 'in_progress'"), "in_progress")
        .column_as(count_when("status = 'pending'"), "pending")
        .column_as(count_when("status = 'rejected'"), "rejected")
        .column_as(
            count_if(clearance::Column::SubmissionDate.gte(since)),
            "recent",
        )
        .into_model::<StatusRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let a = approval::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("status = 'pending'"), "pending")
        .column_as(count_when("status = 'approved'"), "approved")
        .column_as(count_when("status = 'rejected'"), "rejected")
        .into_model::<ApprovalRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let p = payment::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("is_verified"), "verified")
        .column_as(
            Expr::cust(sum_int(
                backend,
                "CASE WHEN is_verified THEN amount ELSE 0 END",
            )),
            "revenue",
        )
        .column_as(count_if(payment::Column::CreatedAt.gte(since)), "recent")
        .into_model::<PaymentRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let g = gown::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("is_returned"), "returned")
        .column_as(
            count_if(
                Condition::all()
                    .add(gown::Column::IsReturned.eq(false))
                    .add(gown::Column::ReturnDate.lt(now)),
            ),
            "overdue",
        )
        .into_model::<GownRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    Ok(Json(Dashboard {
        students: StudentFigures {
            total: n(s.total),
            eligible: n(s.eligible),
            eligibility_rate: rate(n(s.eligible), n(s.total)),
        },
        clearances: ClearanceFigures {
            total: n(c.total),
            completed: n(c.completed),
            in_progress: n(c.in_progress),
            pending: n(c.pending),
            rejected: n(c.rejected),
            completion_rate: rate(n(c.completed), n(c.total)),
        },
        approvals: ApprovalFigures {
            total: n(a.total),
            pending: n(a.pending),
            approved: n(a.approved),
            rejected: n(a.rejected),
            processing_rate: rate(n(a.approved) + n(a.rejected), n(a.total)),
        },
        finance: FinanceFigures {
            total_payments: n(p.total),
            verified_payments: n(p.verified),
            total_revenue: Money(p.revenue),
            verification_rate: rate(n(p.verified), n(p.total)),
        },
        gown_issuance: GownFigures {
            total_issued: n(g.total),
            returned: n(g.returned),
            overdue: n(g.overdue),
        },
        recent_activity: RecentActivity {
            clearances_last_7_days: n(c.recent),
            payments_last_7_days: n(p.recent),
        },
    }))
}

// ---------------------------------------------------------- completion rate

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionSummary {
    pub total_clearances: u64,
    pub completed: u64,
    pub in_progress: u64,
    pub rejected: u64,
    pub pending: u64,
    pub completion_rate: f64,
    /// Mean days from submission to completion of completed requests
    /// (two decimals; null when none is completed).
    pub average_completion_days: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionByYear {
    pub graduation_year: i32,
    pub total: u64,
    pub completed: u64,
    pub in_progress: u64,
    pub rejected: u64,
    pub pending: u64,
    pub completion_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionReport {
    pub summary: CompletionSummary,
    pub by_graduation_year: Vec<CompletionByYear>,
}

#[derive(Debug, Default, FromQueryResult)]
struct CompletionRow {
    total: i64,
    completed: i64,
    in_progress: i64,
    rejected: i64,
    pending: i64,
    avg_seconds: Option<f64>,
}

#[derive(Debug, FromQueryResult)]
struct CompletionYearRow {
    graduation_year: i32,
    total: i64,
    completed: i64,
    in_progress: i64,
    rejected: i64,
    pending: i64,
}

/// Requests joined to their students, narrowed by `graduation_year` and
/// `admission_year` when given.
fn clearances_of_students(list: &ListQuery) -> ApiResult<Select<clearance::Entity>> {
    let query =
        clearance::Entity::find().join(JoinType::InnerJoin, clearance::Relation::Student.def());
    let query = list.filter(
        query,
        "graduation_year",
        student::Column::GraduationYear,
        FilterKind::Int,
    )?;
    list.filter(
        query,
        "admission_year",
        student::Column::AdmissionYear,
        FilterKind::Int,
    )
}

fn status_counts(query: Select<clearance::Entity>) -> Select<clearance::Entity> {
    query
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("clearances.status = 'completed'"), "completed")
        .column_as(
            count_when("clearances.status = 'in_progress'"),
            "in_progress",
        )
        .column_as(count_when("clearances.status = 'rejected'"), "rejected")
        .column_as(count_when("clearances.status = 'pending'"), "pending")
}

/// Clearance completion overall and per graduation year (admin). Filters:
/// `graduation_year`, `admission_year`. Also served as `clearance-completion/`.
#[utoipa::path(get, path = "/api/analytics/completion-rate/", tag = "analytics", security(("jwt" = [])),
    params(("graduation_year" = Option<i64>, Query), ("admission_year" = Option<i64>, Query)),
    responses((status = 200, body = CompletionReport), (status = 400), (status = 401), (status = 403)))]
pub async fn completion_rate(
    Db(db): Db,
    _admin: Admin,
    list: ListQuery,
) -> ApiResult<Json<CompletionReport>> {
    let db = &db;
    let backend = db.get_database_backend();
    let seconds = kernel::db::seconds_between(
        backend,
        "clearances.submission_date",
        "clearances.completion_date",
    );
    let average = kernel::db::cast_float(
        backend,
        &format!(
            "AVG(CASE WHEN clearances.status = 'completed' AND clearances.completion_date IS NOT NULL THEN {seconds} END)"
        ),
    );
    let summary = status_counts(clearances_of_students(&list)?.select_only())
        .column_as(Expr::cust(average), "avg_seconds")
        .into_model::<CompletionRow>()
        .one(db)
        .await?
        .unwrap_or_default();
    let years = status_counts(
        clearances_of_students(&list)?
            .select_only()
            .column(student::Column::GraduationYear),
    )
    .group_by(student::Column::GraduationYear)
    .order_by(student::Column::GraduationYear, Order::Asc)
    .into_model::<CompletionYearRow>()
    .all(db)
    .await?;
    Ok(Json(CompletionReport {
        summary: CompletionSummary {
            total_clearances: n(summary.total),
            completed: n(summary.completed),
            in_progress: n(summary.in_progress),
            rejected: n(summary.rejected),
            pending: n(summary.pending),
            completion_rate: rate(n(summary.completed), n(summary.total)),
            average_completion_days: summary.avg_seconds.map(|s| round2(s / 86_400.0)),
        },
        by_graduation_year: years
            .into_iter()
            .map(|y| CompletionByYear {
                graduation_year: y.graduation_year,
                total: n(y.total),
                completed: n(y.completed),
                in_progress: n(y.in_progress),
                rejected: n(y.rejected),
                pending: n(y.pending),
                completion_rate: rate(n(y.completed), n(y.total)),
            })
            .collect(),
    }))
}

// -------------------------------------------------------------- bottlenecks

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentBottleneck {
    pub department_id: Uuid,
    pub department_name: String,
    pub department_code: String,
    pub department_type: String,
    pub approval_order: i32,
    pub total_approvals: u64,
    pub pending: u64,
    pub approved: u64,
    pub rejected: u64,
    /// Pending for more than 7 days.
    pub overdue_pending: u64,
    pub approval_rate: f64,
    pub rejection_rate: f64,
    /// Mean hours from an approval's creation to its decision (two decimals;
    /// null when the office has decided nothing).
    pub average_decision_hours: Option<f64>,
    /// When the longest-waiting pending approval was created.
    pub oldest_pending: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BottleneckReport {
    /// Offices, most pending approvals first.
    pub departments: Vec<DepartmentBottleneck>,
    pub total_departments: usize,
}

#[derive(Debug, FromQueryResult)]
struct BottleneckRow {
    id: Uuid,
    name: String,
    code: String,
    department_type: String,
    approval_order: i32,
    total: i64,
    pending: i64,
    approved: i64,
    rejected: i64,
    overdue: i64,
    avg_seconds: Option<f64>,
    oldest_pending: Option<DateTime<Utc>>,
}

/// Per office: approvals waiting, decided and overdue, decision speed
/// (admin). Active offices and any office with approvals are listed. Also
/// served as `department-bottlenecks/`.
#[utoipa::path(get, path = "/api/analytics/bottlenecks/", tag = "analytics", security(("jwt" = [])),
    responses((status = 200, body = BottleneckReport), (status = 401), (status = 403)))]
pub async fn bottlenecks(Db(db): Db, _admin: Admin) -> ApiResult<Json<BottleneckReport>> {
    let db = &db;
    let backend = db.get_database_backend();
    let cutoff = kernel::time::now() - Duration::days(OVERDUE_AFTER_DAYS);
    let seconds =
        kernel::db::seconds_between(backend, "approvals.created_at", "approvals.approval_date");
    let average = kernel::db::cast_float(
        backend,
        &format!(
            "AVG(CASE WHEN approvals.status IN ('approved', 'rejected') AND approvals.approval_date IS NOT NULL THEN {seconds} END)"
        ),
    );
    let mut rows = department::Entity::find()
        .join(
            JoinType::LeftJoin,
            approval::Relation::Department.def().rev(),
        )
        .select_only()
        .column(department::Column::Id)
        .column(department::Column::Name)
        .column(department::Column::Code)
        .column(department::Column::DepartmentType)
        .column(department::Column::ApprovalOrder)
        .column_as(Expr::cust("COUNT(approvals.id)"), "total")
        .column_as(count_when("approvals.status = 'pending'"), "pending")
        .column_as(count_when("approvals.status = 'approved'"), "approved")
        .column_as(count_when("approvals.status = 'rejected'"), "rejected")
        .column_as(
            count_if(
                Condition::all()
                    .add(approval::Column::Status.eq("pending"))
                    .add(approval::Column::CreatedAt.lt(cutoff)),
            ),
            "overdue",
        )
        .column_as(Expr::cust(average), "avg_seconds")
        .column_as(
            Expr::cust("MIN(CASE WHEN approvals.status = 'pending' THEN approvals.created_at END)"),
            "oldest_pending",
        )
        .group_by(department::Column::Id)
        .group_by(department::Column::Name)
        .group_by(department::Column::Code)
        .group_by(department::Column::DepartmentType)
        .group_by(department::Column::ApprovalOrder)
        .group_by(department::Column::IsActive)
        .having(Expr::cust(
            "departments.is_active OR COUNT(approvals.id) > 0",
        ))
        .into_model::<BottleneckRow>()
        .all(db)
        .await?;
    rows.sort_by(|a, b| {
        b.pending
            .cmp(&a.pending)
            .then(b.overdue.cmp(&a.overdue))
            .then(a.approval_order.cmp(&b.approval_order))
            .then(a.name.cmp(&b.name))
    });
    let departments: Vec<DepartmentBottleneck> = rows
        .into_iter()
        .map(|r| DepartmentBottleneck {
            department_id: r.id,
            department_name: r.name,
            department_code: r.code,
            department_type: r.department_type,
            approval_order: r.approval_order,
            total_approvals: n(r.total),
            pending: n(r.pending),
            approved: n(r.approved),
            rejected: n(r.rejected),
            overdue_pending: n(r.overdue),
            approval_rate: rate(n(r.approved), n(r.total)),
            rejection_rate: rate(n(r.rejected), n(r.total)),
            average_decision_hours: r.avg_seconds.map(|s| round2(s / 3600.0)),
            oldest_pending: r.oldest_pending,
        })
        .collect();
    Ok(Json(BottleneckReport {
        total_departments: departments.len(),
        departments,
    }))
}

// -------------------------------------------------------- financial summary

#[derive(Debug, Serialize, ToSchema)]
pub struct FinancialFigures {
    pub total_students: u64,
    /// Students with a received (`paid`) payment.
    pub students_with_payments: u64,
    pub students_without_payments: u64,
    /// Every payment record, whatever its state.
    pub total_payments: u64,
    pub verified_payments: u64,
    /// Not verified yet and not failed.
    pub pending_payments: u64,
    /// Sum of received (`paid`) payments, verified or not.
    pub total_amount_paid: Money,
    /// Sum of the graduation fees due by every student.
    pub total_graduation_fees: Money,
    /// Sum of positive tuition balances.
    pub outstanding_tuition: Money,
    /// Students with payments ÷ students.
    pub payment_compliance_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodFigures {
    /// mpesa, bank or cash.
    pub payment_method: String,
    /// Received (`paid`) payments by this method.
    pub count: u64,
    pub total_amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeeStatusFigures {
    /// pending, paid or verified.
    pub graduation_fee_status: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FinancialReport {
    pub summary: FinancialFigures,
    pub by_payment_method: Vec<PaymentMethodFigures>,
    pub by_fee_status: Vec<FeeStatusFigures>,
}

#[derive(Debug, Default, FromQueryResult)]
struct PaymentSummaryRow {
    total: i64,
    verified: i64,
    pending: i64,
    paid_amount: i64,
    paying_students: i64,
}

#[derive(Debug, Default, FromQueryResult)]
struct FeeSummaryRow {
    fees: i64,
    tuition: i64,
}

/// Values every listing shows, in order, followed by any unexpected ones.
fn with_all<T>(
    known: &[&str],
    mut found: HashMap<String, T>,
    zero: impl Fn() -> T,
) -> Vec<(String, T)> {
    let mut out: Vec<(String, T)> = known
        .iter()
        .map(|k| ((*k).to_owned(), found.remove(*k).unwrap_or_else(&zero)))
        .collect();
    let mut rest: Vec<(String, T)> = found.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(rest);
    out
}

const FEE_STATUSES: &[&str] = &["pending", "paid", "verified"];

/// Payments, fees and balances (admin).
#[utoipa::path(get, path = "/api/analytics/financial-summary/", tag = "analytics", security(("jwt" = [])),
    responses((status = 200, body = FinancialReport), (status = 401), (status = 403)))]
pub async fn financial_summary(Db(db): Db, _admin: Admin) -> ApiResult<Json<FinancialReport>> {
    let db = &db;
    let backend = db.get_database_backend();
    let students: Option<i64> = student::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .into_tuple()
        .one(db)
        .await?;
    let total_students = n(students.unwrap_or(0));

    let p = payment::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_when("is_verified"), "verified")
        .column_as(
            count_when("(NOT is_verified) AND status <> 'failed'"),
            "pending",
        )
        .column_as(
            Expr::cust(sum_int(
                backend,
                "CASE WHEN status = 'paid' THEN amount ELSE 0 END",
            )),
            "paid_amount",
        )
        .column_as(
            Expr::cust("COUNT(DISTINCT CASE WHEN status = 'paid' THEN student_id END)"),
            "paying_students",
        )
        .into_model::<PaymentSummaryRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let f = finance_record::Entity::find()
        .select_only()
        .column_as(Expr::cust(sum_int(backend, "graduation_fee")), "fees")
        .column_as(
            Expr::cust(sum_int(
                backend,
                "CASE WHEN tuition_balance > 0 THEN tuition_balance ELSE 0 END",
            )),
            "tuition",
        )
        .into_model::<FeeSummaryRow>()
        .one(db)
        .await?
        .unwrap_or_default();

    let methods: Vec<(String, i64, i64)> = payment::Entity::find()
        .select_only()
        .column(payment::Column::PaymentMethod)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust(sum_int(backend, "amount")), "amount")
        .filter(payment::Column::Status.eq("paid"))
        .group_by(payment::Column::PaymentMethod)
        .into_tuple()
        .all(db)
        .await?;
    let methods: HashMap<String, (u64, i64)> = methods
        .into_iter()
        .map(|(m, c, a)| (m, (n(c), a)))
        .collect();

    let statuses: Vec<(String, i64)> = finance_record::Entity::find()
        .select_only()
        .column(finance_record::Column::GraduationFeeStatus)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(finance_record::Column::GraduationFeeStatus)
        .into_tuple()
        .all(db)
        .await?;
    let statuses: HashMap<String, u64> = statuses.into_iter().map(|(s, c)| (s, n(c))).collect();

    let paying = n(p.paying_students);
    Ok(Json(FinancialReport {
        summary: FinancialFigures {
            total_students,
            students_with_payments: paying,
            students_without_payments: total_students.saturating_sub(paying),
            total_payments: n(p.total),
            verified_payments: n(p.verified),
            pending_payments: n(p.pending),
            total_amount_paid: Money(p.paid_amount),
            total_graduation_fees: Money(f.fees),
            outstanding_tuition: Money(f.tuition),
            payment_compliance_rate: rate(paying, total_students),
        },
        by_payment_method: with_all(payment::METHODS, methods, || (0, 0))
            .into_iter()
            .map(|(payment_method, (count, amount))| PaymentMethodFigures {
                payment_method,
                count,
                total_amount: Money(amount),
            })
            .collect(),
        by_fee_status: with_all(FEE_STATUSES, statuses, || 0)
            .into_iter()
            .map(|(graduation_fee_status, count)| FeeStatusFigures {
                graduation_fee_status,
                count,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- by cohort

#[derive(Debug, Serialize, ToSchema)]
pub struct AdmissionCohort {
    pub admission_year: i32,
    pub students: u64,
    /// Clearance requests of these students (all states).
    pub clearances: u64,
    /// Students whose clearance is completed.
    pub completed: u64,
    /// Completed ÷ students.
    pub completion_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GraduationCohort {
    pub graduation_year: i32,
    pub students: u64,
    pub clearances: u64,
    pub completed: u64,
    /// Students marked eligible to graduate.
    pub eligible: u64,
    /// Completed ÷ students.
    pub completion_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CohortReport {
    pub by_admission_year: Vec<AdmissionCohort>,
    pub by_graduation_year: Vec<GraduationCohort>,
}

#[derive(Debug, FromQueryResult)]
struct CohortRow {
    year: i32,
    n_students: i64,
    n_clearances: i64,
    completed: i64,
    eligible: i64,
}

async fn cohorts<C: ConnectionTrait>(db: &C, year: student::Column) -> ApiResult<Vec<CohortRow>> {
    Ok(student::Entity::find()
        .join(JoinType::LeftJoin, clearance::Relation::Student.def().rev())
        .select_only()
        .column_as(year, "year")
        .column_as(Expr::cust("COUNT(DISTINCT students.id)"), "n_students")
        .column_as(Expr::cust("COUNT(clearances.id)"), "n_clearances")
        .column_as(
            Expr::cust(
                "COUNT(DISTINCT CASE WHEN clearances.status = 'completed' THEN students.id END)",
            ),
            "completed",
        )
        .column_as(
            Expr::cust(
                "COUNT(DISTINCT CASE WHEN students.eligibility_status = 'eligible' THEN students.id END)",
            ),
            "eligible",
        )
        .group_by(year)
        .order_by(year, Order::Asc)
        .into_model::<CohortRow>()
        .all(db)
        .await?)
}

/// Students, clearances and completions per admission and graduation year (admin).
#[utoipa::path(get, path = "/api/analytics/by-cohort/", tag = "analytics", security(("jwt" = [])),
    responses((status = 200, body = CohortReport), (status = 401), (status = 403)))]
pub async fn by_cohort(Db(db): Db, _admin: Admin) -> ApiResult<Json<CohortReport>> {
    let admitted = cohorts(&db, student::Column::AdmissionYear).await?;
    let graduating = cohorts(&db, student::Column::GraduationYear).await?;
    Ok(Json(CohortReport {
        by_admission_year: admitted
            .into_iter()
            .map(|r| AdmissionCohort {
                admission_year: r.year,
                students: n(r.n_students),
                clearances: n(r.n_clearances),
                completed: n(r.completed),
                completion_rate: rate(n(r.completed), n(r.n_students)),
            })
            .collect(),
        by_graduation_year: graduating
            .into_iter()
            .map(|r| GraduationCohort {
                graduation_year: r.year,
                students: n(r.n_students),
                clearances: n(r.n_clearances),
                completed: n(r.completed),
                eligible: n(r.eligible),
                completion_rate: rate(n(r.completed), n(r.n_students)),
            })
            .collect(),
    }))
}
