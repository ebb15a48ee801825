//! `/api/finance/…`: finance records, payments and their verification, and
//! M-PESA (STK push and Daraja's callback) (spec §2.6, §2.7, §3.6).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Money, Page, PageSize};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    ModelTrait, Order, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self, Role};
use crate::entities::{finance_record, payment, student};
use crate::mpesa::{DarajaError, normalize_phone};
use crate::notify::{Effects, Note};
use crate::principal::{ADMIN_ONLY, CurrentUser};
use crate::state::AppState;

pub const FEE_STATUSES: &[&str] = &["pending", "paid", "verified"];
/// M-PESA's per-transaction ceiling, KES.
const MPESA_MAX: i64 = 150_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_records, create_record))
        .routes(routes!(my_record))
        .routes(routes!(
            retrieve_record,
            update_record,
            partial_update_record,
            destroy_record
        ))
        .routes(routes!(list_payments, create_payment))
        .routes(routes!(unverified_payments))
        .routes(routes!(payment_statistics))
        .routes(routes!(my_payment))
        .routes(routes!(
            retrieve_payment,
            update_payment,
            partial_update_payment,
            destroy_payment
        ))
        .routes(routes!(verify_payment))
        .routes(routes!(stk_push))
        .routes(routes!(mpesa_callback))
}

/// The original's paths.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/finance/my_payment/", get(my_payment))
        .route("/api/finance/payments/mpesa_stk_push/", post(stk_push))
        .route("/api/finance/mpesa_stk_push/", post(stk_push))
}

fn require_admin(me: &user::Model) -> ApiResult<()> {
    if me.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(ADMIN_ONLY))
    }
}

/// Finance data is read by administrators and office staff (the finance office).
fn require_reader(me: &user::Model) -> ApiResult<()> {
    if me.role == Role::Student {
        Err(ApiError::no_permission())
    } else {
        Ok(())
    }
}

async fn student_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> ApiResult<std::collections::HashMap<Uuid, (String, String, Uuid)>> {
    let rows = student::Entity::find()
        .filter(student::Column::Id.is_in(ids))
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| u.map(|u| (s.id, (u.full_name, s.registration_number, u.id))))
        .collect())
}

// ---------------------------------------------------------------- records

#[derive(Debug, Serialize, ToSchema)]
pub struct FinanceRecordOut {
    pub id: Uuid,
    pub student: Uuid,
    pub student_name: String,
    pub registration_number: String,
    pub tuition_balance: Money,
    pub graduation_fee: Money,
    /// pending, paid or verified.
    pub graduation_fee_status: String,
    pub mpesa_code: Option<String>,
    pub mpesa_payment_date: Option<chrono::DateTime<Utc>>,
    pub last_verified_date: Option<chrono::DateTime<Utc>>,
    pub verified_by: Option<String>,
    pub notes: String,
    /// Tuition balance plus the graduation fee while it is unpaid.
    pub total_outstanding: Money,
    pub is_cleared: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

async fn records_out<C: ConnectionTrait>(
    db: &C,
    rows: Vec<finance_record::Model>,
) -> ApiResult<Vec<FinanceRecordOut>> {
    let names = student_names(db, rows.iter().map(|r| r.student_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (name, reg) = names
                .get(&r.student_id)
                .map_or((String::new(), String::new()), |(n, g, _)| {
                    (n.clone(), g.clone())
                });
            let fee_due = if r.graduation_fee_status == "pending" {
                r.graduation_fee
            } else {
                0
            };
            FinanceRecordOut {
                id: r.id,
                student: r.student_id,
                student_name: name,
                registration_number: reg,
                tuition_balance: Money(r.tuition_balance),
                graduation_fee: Money(r.graduation_fee),
                total_outstanding: Money(Ord::max(r.tuition_balance, 0) + fee_due),
                is_cleared: r.tuition_balance <= 0 && r.graduation_fee_status == "verified",
                graduation_fee_status: r.graduation_fee_status,
                mpesa_code: r.mpesa_code,
                mpesa_payment_date: r.mpesa_payment_date,
                last_verified_date: r.last_verified_date,
                verified_by: r.verified_by,
                notes: r.notes,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

async fn record_out<C: ConnectionTrait>(
    db: &C,
    row: finance_record::Model,
) -> ApiResult<FinanceRecordOut> {
    records_out(db, vec![row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

fn record_not_found() -> ApiError {
    ApiError::not_found_msg("No FinanceRecord matches the given query.")
}

/// List finance records (administrators and office staff). Filters:
/// `graduation_fee_status`, `student`; search: student name, email, registration number.
#[utoipa::path(get, path = "/api/finance/records/", tag = "finance", security(("jwt" = [])),
    params(("graduation_fee_status" = inline(Option<FeeStatus>), Query), ("student" = Option<Uuid>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<FinanceRecordOut>), (status = 401), (status = 403)))]
pub async fn list_records(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<FinanceRecordOut>>> {
    require_reader(&me)?;
    let mut query = finance_record::Entity::find();
    query = list.filter(
        query,
        "graduation_fee_status",
        finance_record::Column::GraduationFeeStatus,
        FilterKind::Choice(FEE_STATUSES),
    )?;
    query = list.filter(
        query,
        "student",
        finance_record::Column::StudentId,
        FilterKind::Uuid,
    )?;
    if let Some(matching) = crate::students::matching(&list) {
        query = query.filter(finance_record::Column::StudentId.in_subquery(matching));
    }
    let query = list.order(
        query,
        &[
            (
                "created_at",
                finance_record::Column::CreatedAt.into_simple_expr(),
            ),
            (
                "tuition_balance",
                finance_record::Column::TuitionBalance.into_simple_expr(),
            ),
            (
                "graduation_fee_status",
                finance_record::Column::GraduationFeeStatus.into_simple_expr(),
            ),
        ],
        &[("created_at", Order::Desc)],
        finance_record::Column::Id,
    );
    let page = list.page(&state.db, query, PageSize::DEFAULT).await?;
    let results = records_out(&state.db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

kernel::choices!(
    /// Where a student's graduation fee stands.
    pub FeeStatus = FEE_STATUSES
);

kernel::choices!(
    /// How a payment was made.
    pub PaymentMethod = payment::METHODS
);

const PAYMENT_STATUSES: &[&str] = &["pending", "paid", "failed"];

kernel::choices!(
    /// Whether a payment was received.
    pub PaymentStatus = PAYMENT_STATUSES
);

fn money_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(<Money as utoipa::PartialSchema>::schema())
}

fn fee() -> utoipa::openapi::schema::Schema {
    Money::non_negative_schema()
}

fn fee_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(Money::non_negative_schema())
}

fn amount() -> utoipa::openapi::schema::Schema {
    Money::positive_schema()
}

/// A Safaricom number as [`normalize_phone`] reads it: `07XXXXXXXX`,
/// `01XXXXXXXX`, `7XXXXXXXX` or `2547XXXXXXXX`, spaces, dashes, brackets and
/// `+` anywhere.
pub(crate) fn phone() -> utoipa::openapi::schema::Schema {
    const SEPARATORS: &str = "[ ()+-]*";
    let eight_digits = format!("({SEPARATORS}[0-9]){{8}}");
    let pattern = format!(
        "^{s}(0{s}[17]{d}|[17]{d}|2{s}5{s}4{s}[17]{d}){s}$",
        s = SEPARATORS,
        d = eight_digits
    );
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(20))
        .pattern(Some(pattern))
        .into()
}

fn phone_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(phone())
}

/// A new student's finance record.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FinanceRecordIn {
    /// The student record.
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub student: Field<Uuid>,
    /// Defaults to 0.
    #[serde(default)]
    #[schema(schema_with = money_or_null)]
    pub tuition_balance: Field<Money>,
    /// Defaults to the configured graduation fee.
    #[serde(default)]
    #[schema(schema_with = fee_or_null)]
    pub graduation_fee: Field<Money>,
    /// Defaults to `pending`.
    #[serde(default)]
    #[schema(value_type = FeeStatus, required = false)]
    pub graduation_fee_status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub notes: Field<String>,
}

/// A finance record's fields on PUT (and, none required, on PATCH); its
/// student cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FinanceRecordUpdateIn {
    /// Not writable: any value is refused.
    #[serde(default)]
    #[schema(ignore)]
    pub student: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = Money, required = true)]
    pub tuition_balance: Field<Money>,
    #[serde(default)]
    #[schema(schema_with = fee, required = true)]
    pub graduation_fee: Field<Money>,
    #[serde(default)]
    #[schema(value_type = FeeStatus, required = true)]
    pub graduation_fee_status: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub notes: Field<String>,
}

/// Create a finance record for a student who has none (admin).
#[utoipa::path(post, path = "/api/finance/records/", tag = "finance", security(("jwt" = [])), request_body = FinanceRecordIn,
    responses((status = 201, body = FinanceRecordOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<FinanceRecordIn>,
) -> ApiResult<(StatusCode, Json<FinanceRecordOut>)> {
    require_admin(&me)?;
    let mut c = Checker::new();
    let student_id = c.value("student", input.student);
    let tuition = c
        .nullable(input.tuition_balance)
        .flatten()
        .unwrap_or(Money::ZERO);
    let fee = c
        .nullable(input.graduation_fee)
        .flatten()
        .unwrap_or(state.graduation_fee);
    let status = match input.graduation_fee_status {
        Field::Absent => Some("pending".to_owned()),
        other => c.choice("graduation_fee_status", other, FEE_STATUSES),
    };
    let notes = c.blank_text("notes", input.notes, 10_000);
    if fee.cents() < 0 {
        c.error(
            "graduation_fee",
            "Ensure this value is greater than or equal to 0.",
        );
    }
    if let Some(id) = student_id {
        if student::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .is_none()
        {
            c.error(
                "student",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        } else if finance_record::Entity::find()
            .filter(finance_record::Column::StudentId.eq(id))
            .one(&state.db)
            .await?
            .is_some()
        {
            c.error("student", "This student already has a finance record.");
        }
    }
    c.finish()?;
    let now = Utc::now();
    let txn = kernel::db::begin_write(&state.db).await?;
    let created = finance_record::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student_id.unwrap_or_default()),
        tuition_balance: Set(tuition.cents()),
        graduation_fee: Set(fee.cents()),
        graduation_fee_status: Set(status.unwrap_or_default()),
        mpesa_code: Set(None),
        mpesa_payment_date: Set(None),
        last_verified_date: Set(None),
        verified_by: Set(None),
        notes: Set(notes.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "student_id") {
            ApiError::field("student", "This student already has a finance record.")
        } else {
            e.into()
        }
    })?;
    let out = record_out(&txn, created.clone()).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "create",
        "FinanceRecord",
        created.id,
        &format!("Finance record of {}", out.registration_number),
        kernel::audit::created(&record_snapshot(&created)),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

fn record_snapshot(r: &finance_record::Model) -> Value {
    json!({
        "tuition_balance": Money(r.tuition_balance), "graduation_fee": Money(r.graduation_fee),
        "graduation_fee_status": r.graduation_fee_status, "notes": r.notes,
    })
}

/// The caller's own finance record (student).
#[utoipa::path(get, path = "/api/finance/my_record/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = FinanceRecordOut), (status = 401), (status = 403), (status = 404)))]
pub async fn my_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> ApiResult<Json<FinanceRecordOut>> {
    let record = own_student(&state, &me).await?;
    let row = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(record.id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No finance record found."))?;
    Ok(Json(record_out(&state.db, row).await?))
}

async fn own_student(state: &AppState, me: &user::Model) -> ApiResult<student::Model> {
    if me.role != Role::Student {
        return Err(ApiError::forbidden(
            "Only students can access this endpoint",
        ));
    }
    student::Entity::find()
        .filter(student::Column::UserId.eq(me.id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("Student record not found"))
}

/// One finance record (administrators and office staff).
#[utoipa::path(get, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = FinanceRecordOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<FinanceRecordOut>> {
    require_reader(&me)?;
    let row = finance_record::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(record_not_found)?;
    Ok(Json(record_out(&state.db, row).await?))
}

async fn write_record(
    state: &AppState,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    input: FinanceRecordUpdateIn,
    partial: bool,
) -> ApiResult<Json<FinanceRecordOut>> {
    require_admin(&me)?;
    let mut c = Checker::partial(partial);
    let tuition = c.value("tuition_balance", input.tuition_balance);
    let fee = c.value("graduation_fee", input.graduation_fee);
    let status = c.choice(
        "graduation_fee_status",
        input.graduation_fee_status,
        FEE_STATUSES,
    );
    let notes = c.blank_text("notes", input.notes, 10_000);
    if fee.is_some_and(|f| f.cents() < 0) {
        c.error(
            "graduation_fee",
            "Ensure this value is greater than or equal to 0.",
        );
    }
    if !input.student.is_absent() {
        c.error(
            "student",
            "A finance record cannot be moved to another student.",
        );
    }
    c.finish()?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = finance_record::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(record_not_found)?;
    let mut model: finance_record::ActiveModel = existing.clone().into();
    if let Some(v) = tuition {
        model.tuition_balance = Set(v.cents());
    }
    if let Some(v) = fee {
        model.graduation_fee = Set(v.cents());
    }
    if let Some(v) = &status {
        model.graduation_fee_status = Set(v.clone());
        if v == "verified" && existing.graduation_fee_status != "verified" {
            model.last_verified_date = Set(Some(Utc::now()));
            model.verified_by = Set(Some(me.full_name.clone()));
        }
    }
    if let Some(v) = notes {
        model.notes = Set(v);
    }
    model.updated_at = Set(Utc::now());
    let updated = model.update(&txn).await?;
    let action =
        if status.as_deref() == Some("verified") && existing.graduation_fee_status != "verified" {
            "verify"
        } else {
            "update"
        };
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        action,
        "FinanceRecord",
        updated.id,
        &format!("Finance record {}", updated.id),
        kernel::audit::diff(&record_snapshot(&existing), &record_snapshot(&updated)),
    )
    .await?;
    let out = record_out(&txn, updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Replace a finance record's amounts, status and notes (admin).
#[utoipa::path(put, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = FinanceRecordUpdateIn,
    responses((status = 200, body = FinanceRecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    Json(input): Json<FinanceRecordUpdateIn>,
) -> ApiResult<Json<FinanceRecordOut>> {
    write_record(&state, me, ip, id, input, false).await
}

/// Change some of a finance record's fields (admin).
#[utoipa::path(patch, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = FinanceRecordUpdateIn,
    responses((status = 200, body = FinanceRecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    Json(input): Json<FinanceRecordUpdateIn>,
) -> ApiResult<Json<FinanceRecordOut>> {
    write_record(&state, me, ip, id, input, true).await
}

/// Delete a finance record (admin).
#[utoipa::path(delete, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_record(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    require_admin(&me)?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = finance_record::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(record_not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "delete",
        "FinanceRecord",
        existing.id,
        &format!("Finance record {}", existing.id),
        kernel::audit::deleted(&record_snapshot(&existing)),
    )
    .await?;
    existing.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- payments

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentOut {
    pub id: Uuid,
    pub student: Uuid,
    pub student_name: String,
    pub registration_number: String,
    pub amount: Money,
    /// mpesa, bank or cash.
    pub payment_method: String,
    /// pending (awaiting the payer), paid or failed.
    pub status: String,
    pub transaction_id: Option<String>,
    pub phone_number: Option<String>,
    pub payment_date: Option<chrono::DateTime<Utc>>,
    pub is_verified: bool,
    pub verified_by: Option<Uuid>,
    pub verified_by_name: Option<String>,
    pub verification_date: Option<chrono::DateTime<Utc>>,
    pub notes: String,
    pub checkout_request_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

async fn payments_out<C: ConnectionTrait>(
    db: &C,
    rows: Vec<payment::Model>,
) -> ApiResult<Vec<PaymentOut>> {
    let names = student_names(db, rows.iter().map(|p| p.student_id).collect()).await?;
    let verifier_ids: Vec<Uuid> = rows.iter().filter_map(|p| p.verified_by_id).collect();
    let verifiers: std::collections::HashMap<Uuid, String> = if verifier_ids.is_empty() {
        Default::default()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(verifier_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.full_name))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|p| {
            let (name, reg) = names
                .get(&p.student_id)
                .map_or((String::new(), String::new()), |(n, g, _)| {
                    (n.clone(), g.clone())
                });
            PaymentOut {
                id: p.id,
                student: p.student_id,
                student_name: name,
                registration_number: reg,
                amount: Money(p.amount),
                payment_method: p.payment_method,
                status: p.status,
                transaction_id: p.transaction_id,
                phone_number: p.phone_number,
                payment_date: p.payment_date,
                is_verified: p.is_verified,
                verified_by: p.verified_by_id,
                verified_by_name: p.verified_by_id.and_then(|id| verifiers.get(&id).cloned()),
                verification_date: p.verification_date,
                notes: p.notes,
                checkout_request_id: p.checkout_request_id,
                created_at: p.created_at,
                updated_at: p.updated_at,
            }
        })
        .collect())
}

async fn payment_out<C: ConnectionTrait>(db: &C, row: payment::Model) -> ApiResult<PaymentOut> {
    payments_out(db, vec![row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

fn payment_not_found() -> ApiError {
    ApiError::not_found_msg("No Payment matches the given query.")
}

fn payment_snapshot(p: &payment::Model) -> Value {
    json!({
        "amount": Money(p.amount), "payment_method": p.payment_method, "status": p.status,
        "transaction_id": p.transaction_id, "phone_number": p.phone_number, "is_verified": p.is_verified, "notes": p.notes,
    })
}

fn filtered_payments(
    list: &ListQuery,
    mut query: Select<payment::Entity>,
) -> ApiResult<Select<payment::Entity>> {
    query = list.filter(
        query,
        "payment_method",
        payment::Column::PaymentMethod,
        FilterKind::Choice(payment::METHODS),
    )?;
    query = list.filter(
        query,
        "status",
        payment::Column::Status,
        FilterKind::Choice(PAYMENT_STATUSES),
    )?;
    query = list.filter(
        query,
        "is_verified",
        payment::Column::IsVerified,
        FilterKind::Bool,
    )?;
    query = list.filter(
        query,
        "student",
        payment::Column::StudentId,
        FilterKind::Uuid,
    )?;
    if let Some(matching) = crate::students::matching(list) {
        query = query.filter(payment::Column::StudentId.in_subquery(matching));
    }
    Ok(list.order(
        query,
        &[
            ("created_at", payment::Column::CreatedAt.into_simple_expr()),
            (
                "payment_date",
                payment::Column::PaymentDate.into_simple_expr(),
            ),
            ("amount", payment::Column::Amount.into_simple_expr()),
        ],
        &[("created_at", Order::Desc)],
        payment::Column::Id,
    ))
}

/// List payments (administrators and office staff). Filters: `payment_method`,
/// `status`, `is_verified`, `student`; search: student name, email, registration number.
#[utoipa::path(get, path = "/api/finance/payments/", tag = "finance", security(("jwt" = [])),
    params(("payment_method" = inline(Option<PaymentMethod>), Query), ("status" = inline(Option<PaymentStatus>), Query), ("is_verified" = Option<bool>, Query),
           ("student" = Option<Uuid>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<PaymentOut>), (status = 401), (status = 403)))]
pub async fn list_payments(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<PaymentOut>>> {
    require_reader(&me)?;
    let query = filtered_payments(&list, payment::Entity::find())?;
    let page = list.page(&state.db, query, PageSize::DEFAULT).await?;
    let results = payments_out(&state.db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

/// A payment received for a student.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PaymentIn {
    /// The student record.
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub student: Field<Uuid>,
    /// The original frontend's name for `student`.
    #[serde(default)]
    #[schema(ignore)]
    pub student_id: Field<Uuid>,
    #[serde(default)]
    #[schema(schema_with = amount, required = true)]
    pub amount: Field<Money>,
    /// Defaults to `mpesa`.
    #[serde(default)]
    #[schema(value_type = PaymentMethod, required = false)]
    pub payment_method: Field<String>,
    /// Unique among payments.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub transaction_id: Field<String>,
    /// Required for an M-PESA payment.
    #[serde(default)]
    #[schema(schema_with = phone_or_null)]
    pub phone_number: Field<String>,
    /// Not in the future; defaults to now.
    #[serde(default)]
    #[schema(value_type = Option<chrono::DateTime<Utc>>)]
    pub payment_date: Field<chrono::DateTime<Utc>>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub notes: Field<String>,
}

/// A payment's fields on PUT (and, none required, on PATCH); its student
/// cannot change, nor can a verified payment.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PaymentUpdateIn {
    /// Not writable: any value is refused.
    #[serde(default)]
    #[schema(ignore)]
    pub student: Field<Uuid>,
    /// Not writable: any value is refused.
    #[serde(default)]
    #[schema(ignore)]
    pub student_id: Field<Uuid>,
    #[serde(default)]
    #[schema(schema_with = amount, required = true)]
    pub amount: Field<Money>,
    #[serde(default)]
    #[schema(value_type = PaymentMethod, required = true)]
    pub payment_method: Field<String>,
    /// Unique among payments.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
    pub transaction_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = phone_or_null)]
    pub phone_number: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<10000>)]
    pub notes: Field<String>,
}

async fn transaction_taken<C: ConnectionTrait>(
    db: &C,
    code: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = payment::Entity::find().filter(payment::Column::TransactionId.eq(code));
    if let Some(id) = except {
        query = query.filter(payment::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

const TRANSACTION_TAKEN: &str = "Payment with this transaction id already exists.";

fn payment_conflict(e: sea_orm::DbErr) -> ApiError {
    if kernel::error::is_unique_violation(&e, "transaction_id") {
        ApiError::field("transaction_id", TRANSACTION_TAKEN)
    } else if kernel::error::is_unique_violation(&e, "student_id") {
        ApiError::field(
            "student",
            "Payment record already exists for this student. Use update instead.",
        )
    } else {
        e.into()
    }
}

/// Record a payment received outside M-PESA's prompt, e.g. at the bank (admin).
/// The student's graduation fee becomes `paid`, awaiting verification.
#[utoipa::path(post, path = "/api/finance/payments/", tag = "finance", security(("jwt" = [])), request_body = PaymentIn,
    responses((status = 201, body = PaymentOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<PaymentIn>,
) -> ApiResult<(StatusCode, Json<PaymentOut>)> {
    require_admin(&me)?;
    let mut c = Checker::new();
    let student_field = if input.student.is_absent() {
        input.student_id
    } else {
        input.student
    };
    let student_id = c.value("student", student_field);
    let amount = c.value("amount", input.amount);
    let method = match input.payment_method {
        Field::Absent => Some("mpesa".to_owned()),
        other => c.choice("payment_method", other, payment::METHODS),
    };
    let transaction = c
        .optional_text("transaction_id", input.transaction_id, 100)
        .flatten();
    let phone = c
        .optional_text("phone_number", input.phone_number, 20)
        .flatten();
    let paid_at = c.nullable(input.payment_date).flatten();
    let notes = c.blank_text("notes", input.notes, 10_000);
    if amount.is_some_and(|a| a.cents() <= 0) {
        c.error("amount", "Ensure this value is greater than 0.");
    }
    if paid_at.is_some_and(|at| at > Utc::now() + chrono::Duration::minutes(5)) {
        c.error("payment_date", "Payment date cannot be in the future.");
    }
    let phone = match phone {
        Some(p) => match normalize_phone(&p) {
            Some(p) => Some(p),
            None => {
                c.error(
                    "phone_number",
                    "Enter a valid Safaricom number, e.g. 0712345678 or 254712345678.",
                );
                None
            }
        },
        None => {
            if method.as_deref() == Some("mpesa") {
                c.error(
                    "phone_number",
                    "A phone number is required for M-PESA payments.",
                );
            }
            None
        }
    };
    if let Some(id) = student_id {
        if student::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .is_none()
        {
            c.error(
                "student",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        } else if payment::Entity::find()
            .filter(payment::Column::StudentId.eq(id))
            .one(&state.db)
            .await?
            .is_some()
        {
            c.error(
                "student",
                "Payment record already exists for this student. Use update instead.",
            );
        }
    }
    if let Some(code) = &transaction
        && transaction_taken(&state.db, code, None).await?
    {
        c.error("transaction_id", TRANSACTION_TAKEN);
    }
    c.finish()?;
    let student_id = student_id.unwrap_or_default();
    let now = Utc::now();
    let txn = kernel::db::begin_write(&state.db).await?;
    let created = payment::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(student_id),
        amount: Set(amount.unwrap_or_default().cents()),
        payment_method: Set(method.unwrap_or_default()),
        status: Set("paid".into()),
        transaction_id: Set(transaction.clone()),
        phone_number: Set(phone),
        payment_date: Set(Some(paid_at.unwrap_or(now))),
        is_verified: Set(false),
        verified_by_id: Set(None),
        verification_date: Set(None),
        notes: Set(notes.unwrap_or_default()),
        receipt: Set(None),
        checkout_request_id: Set(None),
        merchant_request_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(payment_conflict)?;
    mark_fee_paid(
        &txn,
        student_id,
        transaction.as_deref(),
        created.payment_date,
    )
    .await?;
    let out = payment_out(&txn, created.clone()).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "create",
        "Payment",
        created.id,
        &format!(
            "Payment of KES {} by {}",
            out.amount, out.registration_number
        ),
        kernel::audit::created(&payment_snapshot(&created)),
    )
    .await?;
    let mut effects = Effects::new();
    if let Some((_, _, user_id)) = student_names(&txn, vec![student_id])
        .await?
        .remove(&student_id)
    {
        let note = Note {
            title: "Payment Received",
            message: format!("We received your payment of KES {}.", out.amount),
            kind: "payment",
            related: Some(("payment", created.id)),
        };
        effects.notify(&txn, &state, user_id, &note).await?;
    }
    txn.commit().await?;
    effects.publish(&state);
    Ok((StatusCode::CREATED, Json(out)))
}

/// The student's graduation fee is paid (awaiting verification).
async fn mark_fee_paid<C: ConnectionTrait>(
    db: &C,
    student_id: Uuid,
    code: Option<&str>,
    when: Option<chrono::DateTime<Utc>>,
) -> ApiResult<()> {
    if let Some(record) = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(student_id))
        .one(db)
        .await?
    {
        let mut model: finance_record::ActiveModel = record.clone().into();
        if record.graduation_fee_status == "pending" {
            model.graduation_fee_status = Set("paid".into());
        }
        if let Some(code) = code {
            model.mpesa_code = Set(Some(code.to_owned()));
        }
        model.mpesa_payment_date = Set(when);
        model.updated_at = Set(Utc::now());
        model.update(db).await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentListOut {
    pub count: usize,
    pub payments: Vec<PaymentOut>,
}

/// Payments received but not verified yet (admin).
#[utoipa::path(get, path = "/api/finance/payments/unverified/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = PaymentListOut), (status = 401), (status = 403)))]
pub async fn unverified_payments(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> ApiResult<Json<PaymentListOut>> {
    require_admin(&me)?;
    let rows = payment::Entity::find()
        .filter(payment::Column::IsVerified.eq(false))
        .filter(payment::Column::Status.eq("paid"))
        .order_by(payment::Column::CreatedAt, Order::Asc)
        .limit(500)
        .all(&state.db)
        .await?;
    let payments = payments_out(&state.db, rows).await?;
    Ok(Json(PaymentListOut {
        count: payments.len(),
        payments,
    }))
}

use sea_orm::QueryOrder;

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStatistics {
    pub total_payments: u64,
    pub verified_payments: u64,
    pub unverified_payments: u64,
    pub pending_payments: u64,
    pub failed_payments: u64,
    pub total_amount: Money,
    pub verified_amount: Money,
    pub payment_methods: std::collections::BTreeMap<String, u64>,
    pub verification_rate: f64,
}

/// Payment counts and sums (admin), computed by the database.
#[utoipa::path(get, path = "/api/finance/payments/statistics/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = PaymentStatistics), (status = 401), (status = 403)))]
pub async fn payment_statistics(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> ApiResult<Json<PaymentStatistics>> {
    require_admin(&me)?;
    let backend = state.db.get_database_backend();
    let totals: Option<(i64, i64, i64, i64, i64, i64)> = payment::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(
            Expr::cust("COUNT(CASE WHEN is_verified THEN 1 END)"),
            "verified",
        )
        .column_as(
            Expr::cust("COUNT(CASE WHEN status = 'pending' THEN 1 END)"),
            "pending",
        )
        .column_as(
            Expr::cust("COUNT(CASE WHEN status = 'failed' THEN 1 END)"),
            "failed",
        )
        .column_as(
            Expr::cust(kernel::db::sum_int(
                backend,
                "CASE WHEN status = 'paid' THEN amount ELSE 0 END",
            )),
            "paid_amount",
        )
        .column_as(
            Expr::cust(kernel::db::sum_int(
                backend,
                "CASE WHEN is_verified THEN amount ELSE 0 END",
            )),
            "verified_amount",
        )
        .into_tuple()
        .one(&state.db)
        .await?;
    let (total, verified, pending, failed, paid_amount, verified_amount) =
        totals.unwrap_or_default();
    let by_method: Vec<(String, i64)> = payment::Entity::find()
        .select_only()
        .column(payment::Column::PaymentMethod)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(payment::Column::PaymentMethod)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut methods: std::collections::BTreeMap<String, u64> = payment::METHODS
        .iter()
        .map(|m| ((*m).to_owned(), 0))
        .collect();
    for (method, n) in by_method {
        methods.insert(method, u64::try_from(n).unwrap_or(0));
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let received = count(total) - count(pending) - count(failed);
    Ok(Json(PaymentStatistics {
        total_payments: count(total),
        verified_payments: count(verified),
        unverified_payments: received.saturating_sub(count(verified)),
        pending_payments: count(pending),
        failed_payments: count(failed),
        total_amount: Money(paid_amount),
        verified_amount: Money(verified_amount),
        payment_methods: methods,
        verification_rate: crate::workflow::completion_percentage(count(verified), received),
    }))
}

/// The caller's own payment (student); 404 when there is none yet.
#[utoipa::path(get, path = "/api/finance/payments/my_payment/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = PaymentOut), (status = 401), (status = 403), (status = 404)))]
pub async fn my_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> ApiResult<Json<PaymentOut>> {
    let record = own_student(&state, &me).await?;
    let row = payment::Entity::find()
        .filter(payment::Column::StudentId.eq(record.id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No payment record found"))?;
    Ok(Json(payment_out(&state.db, row).await?))
}

/// One payment (administrators and office staff).
#[utoipa::path(get, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PaymentOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<PaymentOut>> {
    require_reader(&me)?;
    let row = payment::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(payment_not_found)?;
    Ok(Json(payment_out(&state.db, row).await?))
}

async fn write_payment(
    state: &AppState,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    input: PaymentUpdateIn,
    partial: bool,
) -> ApiResult<Json<PaymentOut>> {
    require_admin(&me)?;
    let mut c = Checker::partial(partial);
    let amount = c.value("amount", input.amount);
    let method = c.choice("payment_method", input.payment_method, payment::METHODS);
    let transaction = c.optional_text("transaction_id", input.transaction_id, 100);
    let phone = c.optional_text("phone_number", input.phone_number, 20);
    let notes = c.blank_text("notes", input.notes, 10_000);
    if amount.is_some_and(|a| a.cents() <= 0) {
        c.error("amount", "Ensure this value is greater than 0.");
    }
    let phone = match phone {
        Some(Some(p)) => match normalize_phone(&p) {
            Some(p) => Some(Some(p)),
            None => {
                c.error(
                    "phone_number",
                    "Enter a valid Safaricom number, e.g. 0712345678 or 254712345678.",
                );
                None
            }
        },
        other => other,
    };
    if !input.student.is_absent() || !input.student_id.is_absent() {
        c.error("student", "A payment cannot be moved to another student.");
    }
    if let Some(Some(code)) = &transaction
        && transaction_taken(&state.db, code, Some(id)).await?
    {
        c.error("transaction_id", TRANSACTION_TAKEN);
    }
    c.finish()?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = payment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    if existing.is_verified {
        return Err(ApiError::bad_request(
            "A verified payment cannot be changed.",
        ));
    }
    let mut model: payment::ActiveModel = existing.clone().into();
    if let Some(v) = amount {
        model.amount = Set(v.cents());
    }
    if let Some(v) = method {
        model.payment_method = Set(v);
    }
    if let Some(v) = transaction {
        model.transaction_id = Set(v);
    }
    if let Some(v) = phone {
        model.phone_number = Set(v);
    }
    if let Some(v) = notes {
        model.notes = Set(v);
    }
    model.updated_at = Set(Utc::now());
    let updated = model.update(&txn).await.map_err(payment_conflict)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "update",
        "Payment",
        updated.id,
        &format!("Payment {}", updated.id),
        kernel::audit::diff(&payment_snapshot(&existing), &payment_snapshot(&updated)),
    )
    .await?;
    let out = payment_out(&txn, updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Correct a payment that is not verified yet (admin).
#[utoipa::path(put, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = PaymentUpdateIn,
    responses((status = 200, body = PaymentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    Json(input): Json<PaymentUpdateIn>,
) -> ApiResult<Json<PaymentOut>> {
    write_payment(&state, me, ip, id, input, false).await
}

/// Correct some fields of a payment that is not verified yet (admin).
#[utoipa::path(patch, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = PaymentUpdateIn,
    responses((status = 200, body = PaymentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    Json(input): Json<PaymentUpdateIn>,
) -> ApiResult<Json<PaymentOut>> {
    write_payment(&state, me, ip, id, input, true).await
}

/// Delete a payment (admin).
#[utoipa::path(delete, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    require_admin(&me)?;
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = payment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "delete",
        "Payment",
        existing.id,
        &format!("Payment {}", existing.id),
        kernel::audit::deleted(&payment_snapshot(&existing)),
    )
    .await?;
    existing.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyIn {
    /// Defaults to true; `false` cancels (400 `Verification cancelled`).
    #[schema(schema_with = verify_flag)]
    pub verify: Option<bool>,
    pub notes: Option<String>,
}

fn verify_flag() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
        .enum_values(Some([
            serde_json::Value::Bool(true),
            serde_json::Value::Null,
        ]))
        .into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedOut {
    pub message: String,
    pub payment: PaymentOut,
}

/// Verify a received payment (admin): the graduation fee becomes `verified`.
#[utoipa::path(post, path = "/api/finance/payments/{id}/verify/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = VerifyIn,
    responses((status = 200, body = VerifiedOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn verify_payment(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    Json(input): Json<VerifyIn>,
) -> ApiResult<Json<VerifiedOut>> {
    require_admin(&me)?;
    if input.verify == Some(false) {
        return Err(ApiError::bad_request("Verification cancelled"));
    }
    let txn = kernel::db::begin_write(&state.db).await?;
    let existing = payment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    if existing.is_verified {
        return Err(ApiError::non_field("Payment is already verified"));
    }
    if existing.status != "paid" {
        return Err(ApiError::bad_request(
            "Only a received payment can be verified.",
        ));
    }
    let now = Utc::now();
    let note = input
        .notes
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .map_or_else(
            || format!("Verified by {}", me.full_name),
            |n| format!("Verified: {n}"),
        );
    let mut model: payment::ActiveModel = existing.clone().into();
    model.is_verified = Set(true);
    model.verified_by_id = Set(Some(me.id));
    model.verification_date = Set(Some(now));
    model.notes = Set(if existing.notes.is_empty() {
        note
    } else {
        format!("{}\n{note}", existing.notes)
    });
    model.updated_at = Set(now);
    let updated = model.update(&txn).await?;
    if let Some(record) = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(updated.student_id))
        .one(&txn)
        .await?
    {
        let mut r: finance_record::ActiveModel = record.into();
        r.graduation_fee_status = Set("verified".into());
        r.last_verified_date = Set(Some(now));
        r.verified_by = Set(Some(me.full_name.clone()));
        r.updated_at = Set(now);
        r.update(&txn).await?;
    }
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "verify",
        "Payment",
        updated.id,
        &format!("Payment {}", updated.id),
        kernel::audit::diff(&payment_snapshot(&existing), &payment_snapshot(&updated)),
    )
    .await?;
    let mut effects = Effects::new();
    if let Some((_, _, user_id)) = student_names(&txn, vec![updated.student_id])
        .await?
        .remove(&updated.student_id)
    {
        let note = Note {
            title: "Payment Verified",
            message: format!(
                "Your payment of KES {} has been verified.",
                Money(updated.amount)
            ),
            kind: "payment",
            related: Some(("payment", updated.id)),
        };
        effects.notify(&txn, &state, user_id, &note).await?;
    }
    let out = payment_out(&txn, updated).await?;
    txn.commit().await?;
    effects.publish(&state);
    Ok(Json(VerifiedOut {
        message: "Payment verified successfully".into(),
        payment: out,
    }))
}

// ---------------------------------------------------------------- M-PESA

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StkPushIn {
    /// The Safaricom number to prompt, e.g. 0712345678.
    #[serde(default)]
    #[schema(schema_with = phone, required = true)]
    pub phone_number: Field<String>,
    /// Whole shillings, 1 to 150 000; defaults to the outstanding graduation fee.
    #[serde(default)]
    #[schema(schema_with = mpesa_amount)]
    pub amount: Field<Money>,
}

fn mpesa_amount() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
    kernel::form::schema::or_null(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Integer]))
            .format(Some(SchemaFormat::Custom("decimal".into())))
            .pattern(Some(
                r"^\+?0*([1-9][0-9]{0,4}|1[0-4][0-9]{4}|150000)(\.0{0,2})?$",
            ))
            .minimum(Some(1))
            .maximum(Some(MPESA_MAX)),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StkPushOut {
    pub message: String,
    pub checkout_request_id: String,
    pub merchant_request_id: String,
    pub payment_id: Uuid,
}

/// Ask M-PESA to prompt the student's phone for the graduation fee (student).
/// The payment stays `pending` until Daraja's callback reports the outcome.
#[utoipa::path(post, path = "/api/finance/mpesa/stk-push/", tag = "finance", security(("jwt" = [])), request_body = StkPushIn,
    responses((status = 200, body = StkPushOut), (status = 400), (status = 401), (status = 403), (status = 502), (status = 503)))]
pub async fn stk_push(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<StkPushIn>,
) -> ApiResult<Json<StkPushOut>> {
    if me.role != Role::Student {
        return Err(ApiError::forbidden(
            "Only students can initiate M-PESA payments",
        ));
    }
    let record = own_student(&state, &me).await?;
    let mut c = Checker::new();
    let phone = c.text("phone_number", input.phone_number, 20);
    let amount = c.nullable(input.amount).flatten();
    let phone = phone.and_then(|p| {
        let normalized = normalize_phone(&p);
        if normalized.is_none() {
            c.error(
                "phone_number",
                "Enter a valid Safaricom number, e.g. 0712345678 or 254712345678.",
            );
        }
        normalized
    });
    c.finish()?;
    let finance = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(record.id))
        .one(&state.db)
        .await?;
    let existing = payment::Entity::find()
        .filter(payment::Column::StudentId.eq(record.id))
        .one(&state.db)
        .await?;
    if existing.as_ref().is_some_and(|p| p.status == "paid")
        || finance
            .as_ref()
            .is_some_and(|f| f.graduation_fee_status != "pending")
    {
        return Err(ApiError::bad_request(
            "You have already paid the graduation fee.",
        ));
    }
    let amount = amount.unwrap_or_else(|| {
        finance
            .as_ref()
            .map_or(state.graduation_fee, |f| Money(f.graduation_fee))
    });
    if amount.cents() < 100 || amount.cents() % 100 != 0 || amount.whole_units() > MPESA_MAX {
        return Err(ApiError::field(
            "amount",
            format!("M-PESA takes whole shillings from 1 to {MPESA_MAX}."),
        ));
    }
    let phone = phone.unwrap_or_default();
    // Daraja is called outside any transaction: nothing is written unless it accepts.
    let pushed = state
        .daraja
        .stk_push(
            &phone,
            amount.whole_units(),
            &record.registration_number,
            "Graduation fee",
        )
        .await
        .map_err(|e| match e {
            DarajaError::NotConfigured => {
                ApiError::Unavailable("M-PESA payments are not configured on this server.".into())
            }
            DarajaError::Unavailable => ApiError::BadGateway(
                "M-PESA could not be reached. Please try again shortly.".into(),
            ),
            DarajaError::Refused(reason) => {
                ApiError::BadGateway(format!("M-PESA refused the payment request: {reason}").into())
            }
        })?;
    let now = Utc::now();
    let txn = kernel::db::begin_write(&state.db).await?;
    let before = existing.as_ref().map(payment_snapshot);
    let saved = match existing {
        Some(p) => {
            let mut model: payment::ActiveModel = p.into();
            model.amount = Set(amount.cents());
            model.payment_method = Set("mpesa".into());
            model.status = Set("pending".into());
            model.phone_number = Set(Some(phone.clone()));
            model.checkout_request_id = Set(Some(pushed.checkout_request_id.clone()));
            model.merchant_request_id = Set(Some(pushed.merchant_request_id.clone()));
            model.notes = Set("M-PESA STK Push initiated".into());
            model.updated_at = Set(now);
            model.update(&txn).await?
        }
        None => {
            payment::ActiveModel {
                id: Set(Uuid::new_v4()),
                student_id: Set(record.id),
                amount: Set(amount.cents()),
                payment_method: Set("mpesa".into()),
                status: Set("pending".into()),
                transaction_id: Set(None),
                phone_number: Set(Some(phone.clone())),
                payment_date: Set(None),
                is_verified: Set(false),
                verified_by_id: Set(None),
                verification_date: Set(None),
                notes: Set("M-PESA STK Push initiated".into()),
                receipt: Set(None),
                checkout_request_id: Set(Some(pushed.checkout_request_id.clone())),
                merchant_request_id: Set(Some(pushed.merchant_request_id.clone())),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    let changes = match before {
        Some(before) => kernel::audit::diff(&before, &payment_snapshot(&saved)),
        None => kernel::audit::created(&payment_snapshot(&saved)),
    };
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        "update",
        "Payment",
        saved.id,
        &format!("M-PESA STK push of KES {amount}"),
        changes,
    )
    .await?;
    txn.commit().await?;
    Ok(Json(StkPushOut {
        message: "M-PESA STK Push sent successfully. Please enter your PIN on your phone.".into(),
        checkout_request_id: pushed.checkout_request_id,
        merchant_request_id: pushed.merchant_request_id,
        payment_id: saved.id,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CallbackQuery {
    /// Required when `CAMPUS_MPESA_CALLBACK_TOKEN` is set.
    pub token: Option<String>,
}

/// Daraja's STK push result, as far as it is read: a callback without a
/// `CheckoutRequestID` or an integer `ResultCode` is malformed (400).
#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DarajaCallback {
    Body: DarajaCallbackBody,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DarajaCallbackBody {
    stkCallback: StkCallback,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct StkCallback {
    /// Not read.
    MerchantRequestID: Option<serde_json::Value>,
    /// The checkout to settle; an unknown one is acknowledged and ignored.
    CheckoutRequestID: String,
    /// 0 when paid; a number or a string of digits.
    #[schema(schema_with = result_code)]
    ResultCode: i64,
    /// Why a payment failed; text is kept in the payment's notes.
    ResultDesc: Option<serde_json::Value>,
    /// `{"Item": [{"Name": "MpesaReceiptNumber", "Value": ...}, ...]}` when paid.
    CallbackMetadata: Option<serde_json::Value>,
}

/// What Daraja is answered: `ResultCode` 0 once the callback is accepted.
#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DarajaAnswer {
    ResultCode: i32,
    ResultDesc: String,
}

fn result_code() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[+-]?[0-9]{1,18}$")),
        )
        .into()
}

fn daraja_answer(status: StatusCode, code: i32, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"ResultCode": code, "ResultDesc": description})),
    )
        .into_response()
}

/// Daraja's STK push result (public). Matched on the stored
/// `CheckoutRequestID` only; idempotent; always acknowledged once accepted.
#[utoipa::path(post, path = "/api/finance/mpesa_callback/", tag = "finance", params(("token" = Option<String>, Query)),
    request_body(content = DarajaCallback, description = "Daraja's `{Body: {stkCallback: {...}}}`"),
    responses((status = 200, body = DarajaAnswer, description = "Accepted (also for a checkout that is unknown or already settled)."),
        (status = 400, body = DarajaAnswer, description = "Malformed callback."),
        (status = 403, body = DarajaAnswer, description = "A wrong `token`, or an address not allowed.")))]
pub async fn mpesa_callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    kernel::Query(query): kernel::Query<CallbackQuery>,
    kernel::extract::RawBody(body): kernel::extract::RawBody,
) -> Response {
    let settings = state.daraja.settings();
    if let Some(expected) = &settings.callback_token {
        let given = query.token.unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            tracing::warn!(client_ip = ?ip, "M-PESA callback with a wrong token refused");
            return daraja_answer(StatusCode::FORBIDDEN, 1, "Rejected");
        }
    }
    if !settings.allowed_ips.is_empty() && !ip.is_some_and(|ip| settings.allowed_ips.contains(&ip))
    {
        tracing::warn!(client_ip = ?ip, "M-PESA callback from an address not allowed");
        return daraja_answer(StatusCode::FORBIDDEN, 1, "Rejected");
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return daraja_answer(StatusCode::BAD_REQUEST, 1, "Malformed callback");
    };
    kernel::extract::integral_floats_as_integers(&mut value);
    let callback = &value["Body"]["stkCallback"];
    let (Some(checkout), Some(result_code)) = (
        callback["CheckoutRequestID"].as_str(),
        callback["ResultCode"]
            .as_i64()
            .or_else(|| callback["ResultCode"].as_str().and_then(|s| s.parse().ok())),
    ) else {
        return daraja_answer(StatusCode::BAD_REQUEST, 1, "Malformed callback");
    };
    match apply_callback(&state, checkout, result_code, callback).await {
        Ok(()) => daraja_answer(StatusCode::OK, 0, "Accepted"),
        Err(error) => {
            tracing::error!(%error, "M-PESA callback could not be applied");
            // Not acknowledged, so Daraja retries later.
            daraja_answer(StatusCode::INTERNAL_SERVER_ERROR, 1, "Temporary failure")
        }
    }
}

fn metadata<'a>(callback: &'a Value, name: &str) -> Option<&'a Value> {
    callback["CallbackMetadata"]["Item"]
        .as_array()?
        .iter()
        .find(|item| item["Name"] == name)
        .map(|item| &item["Value"])
}

async fn apply_callback(
    state: &AppState,
    checkout: &str,
    result_code: i64,
    callback: &Value,
) -> Result<(), ApiError> {
    let txn = kernel::db::begin_write(&state.db).await?;
    let Some(existing) = payment::Entity::find()
        .filter(payment::Column::CheckoutRequestId.eq(checkout))
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        tracing::warn!(checkout_request_id = %checkout, "M-PESA callback for an unknown checkout ignored");
        return Ok(());
    };
    if existing.status != "pending" {
        return Ok(()); // already applied: a replay changes nothing
    }
    let now = Utc::now();
    let mut model: payment::ActiveModel = existing.clone().into();
    model.updated_at = Set(now);
    let mut effects = Effects::new();
    let owner = student_names(&txn, vec![existing.student_id])
        .await?
        .remove(&existing.student_id)
        .map(|(_, _, u)| u);
    if result_code == 0 {
        let receipt = metadata(callback, "MpesaReceiptNumber")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(receipt) = receipt.filter(|r| !r.is_empty() && r.len() <= 100) else {
            return Err(ApiError::bad_request(
                "a successful callback without a receipt number",
            ));
        };
        if transaction_taken(&txn, &receipt, Some(existing.id)).await? {
            tracing::warn!(receipt = %receipt, "M-PESA receipt already recorded on another payment; ignored");
            return Ok(());
        }
        let amount = metadata(callback, "Amount").and_then(|v| match v {
            Value::Number(n) => Money::parse(&n.to_string()),
            Value::String(s) => Money::parse(s),
            _ => None,
        });
        model.status = Set("paid".into());
        model.transaction_id = Set(Some(receipt.clone()));
        model.payment_date = Set(Some(now));
        if let Some(amount) = amount.filter(|a| a.cents() > 0) {
            model.amount = Set(amount.cents());
        }
        model.notes = Set(format!(
            "{}\nM-PESA payment successful. Receipt: {receipt}",
            existing.notes
        )
        .trim()
        .to_owned());
        let updated = model.update(&txn).await?;
        mark_fee_paid(&txn, updated.student_id, Some(&receipt), Some(now)).await?;
        audit::record(
            &txn,
            Actor {
                user_id: None,
                ip: None,
            },
            "update",
            "Payment",
            updated.id,
            &format!("M-PESA receipt {receipt}"),
            kernel::audit::diff(&payment_snapshot(&existing), &payment_snapshot(&updated)),
        )
        .await?;
        if let Some(user_id) = owner {
            let note = Note {
                title: "Payment Received",
                message: format!(
                    "M-PESA payment of KES {} received. Receipt: {receipt}.",
                    Money(updated.amount)
                ),
                kind: "payment",
                related: Some(("payment", updated.id)),
            };
            effects.notify(&txn, state, user_id, &note).await?;
        }
    } else {
        let reason = callback["ResultDesc"]
            .as_str()
            .unwrap_or("The payment was not completed.")
            .chars()
            .take(500)
            .collect::<String>();
        model.status = Set("failed".into());
        model.notes = Set(
            format!("{}\nM-PESA payment failed: {reason}", existing.notes)
                .trim()
                .to_owned(),
        );
        let updated = model.update(&txn).await?;
        audit::record(
            &txn,
            Actor {
                user_id: None,
                ip: None,
            },
            "update",
            "Payment",
            updated.id,
            "M-PESA payment failed",
            kernel::audit::diff(&payment_snapshot(&existing), &payment_snapshot(&updated)),
        )
        .await?;
        if let Some(user_id) = owner {
            let note = Note {
                title: "Payment Failed",
                message: format!("Your M-PESA payment did not go through: {reason}"),
                kind: "payment",
                related: Some(("payment", updated.id)),
            };
            effects.notify(&txn, state, user_id, &note).await?;
        }
    }
    txn.commit().await?;
    effects.publish(state);
    Ok(())
}
