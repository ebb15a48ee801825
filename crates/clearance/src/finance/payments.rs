//! Payments: recording, listing, correcting and deleting them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Money, Page, PageSize};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    ModelTrait, Order, QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self};
use crate::entities::{finance_record, payment, student};
use crate::mpesa::normalize_phone;
use crate::notify::{Effects, Note};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;

use super::{own_student, student_names};
use kernel::{Scoped, Visible};

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
    /// Where to download the payer's receipt, if one was uploaded (payments
    /// carried over from the original system).
    pub receipt: Option<String>,
    /// Where to download the payer's fee statement, likewise.
    pub fee_statement: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

pub(super) async fn payments_out<C: ConnectionTrait>(
    db: &C,
    rows: Vec<payment::Model>,
) -> ApiResult<Vec<PaymentOut>> {
    let names = student_names(db, rows.iter().map(|p| p.student_id).collect()).await?;
    let verifiers =
        crate::users::by_id(db, rows.iter().filter_map(|p| p.verified_by_id).collect()).await?;
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
                verified_by_name: p
                    .verified_by_id
                    .and_then(|id| verifiers.get(&id).map(|u| u.full_name.clone())),
                verification_date: p.verification_date,
                notes: p.notes,
                checkout_request_id: p.checkout_request_id,
                receipt: p
                    .receipt
                    .map(|_| format!("/api/finance/payments/{}/receipt/", p.id)),
                fee_statement: p
                    .fee_statement
                    .map(|_| format!("/api/finance/payments/{}/fee_statement/", p.id)),
                created_at: p.created_at,
                updated_at: p.updated_at,
            }
        })
        .collect())
}

pub(super) async fn payment_out<C: ConnectionTrait>(
    db: &C,
    row: payment::Model,
) -> ApiResult<PaymentOut> {
    payments_out(db, vec![row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

pub(super) fn payment_not_found() -> ApiError {
    ApiError::not_found_msg("No Payment matches the given query.")
}

pub(super) fn payment_snapshot(p: &payment::Model) -> Value {
    json!({
        "amount": Money(p.amount), "payment_method": p.payment_method, "status": p.status,
        "transaction_id": p.transaction_id, "phone_number": p.phone_number, "is_verified": p.is_verified, "notes": p.notes,
    })
}

kernel::choices!(
    /// How a payment was made.
    pub PaymentMethod = payment::METHODS
);

const PAYMENT_STATUSES: &[&str] = &["pending", "paid", "failed"];

kernel::choices!(
    /// Whether a payment was received.
    pub PaymentStatus = PAYMENT_STATUSES
);

fn amount() -> utoipa::openapi::schema::Schema {
    Money::positive_schema()
}

fn phone_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(super::phone())
}

pub(super) fn filtered_payments(
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

/// List payments (administrators and the finance office's staff; students:
/// their own). Filters: `payment_method`, `status`, `is_verified`, `student`;
/// search: student name, email, registration number.
#[utoipa::path(get, path = "/api/finance/payments/", tag = "finance", security(("jwt" = [])),
    params(("payment_method" = inline(Option<PaymentMethod>), Query), ("status" = inline(Option<PaymentStatus>), Query), ("is_verified" = Option<bool>, Query),
           ("student" = Option<Uuid>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
           ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<PaymentOut>), (status = 401)))]
pub async fn list_payments(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<PaymentOut>>> {
    let query = filtered_payments(&list, payment::Entity::visible(&me))?;
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let results = payments_out(&db, page.results).await?;
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

pub(super) async fn transaction_taken<C: ConnectionTrait>(
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

pub(super) const TRANSACTION_TAKEN: &str = "Payment with this transaction id already exists.";

pub(super) fn payment_conflict(e: sea_orm::DbErr) -> ApiError {
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
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<PaymentIn>,
) -> ApiResult<(StatusCode, Json<PaymentOut>)> {
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
    // Microseconds at most, as Django stores them.
    let paid_at = c
        .nullable(input.payment_date)
        .flatten()
        .map(|at| chrono::SubsecRound::trunc_subsecs(at, 6));
    let notes = c.blank_text("notes", input.notes, 10_000);
    if amount.is_some_and(|a| a.cents() <= 0) {
        c.error("amount", "Ensure this value is greater than 0.");
    }
    if paid_at.is_some_and(|at| at > kernel::time::now() + chrono::Duration::minutes(5)) {
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
        if student::Entity::find_by_id(id).one(&db).await?.is_none() {
            c.error(
                "student",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        } else if payment::Entity::find()
            .filter(payment::Column::StudentId.eq(id))
            .one(&db)
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
        && transaction_taken(&db, code, None).await?
    {
        c.error("transaction_id", TRANSACTION_TAKEN);
    }
    c.finish()?;
    let student_id = student_id.unwrap_or_default();
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
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
        fee_statement: Set(None),
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
        Action::CREATE,
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
pub(super) async fn mark_fee_paid<C: ConnectionTrait>(
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
        model.updated_at = Set(kernel::time::now());
        model.update(db).await?;
    }
    Ok(())
}

/// The caller's own payment (student); 404 when there is none yet.
#[utoipa::path(get, path = "/api/finance/payments/my_payment/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = PaymentOut), (status = 401), (status = 403), (status = 404)))]
pub async fn my_payment(
    Db(db): Db,
    crate::principal::Student(me): crate::principal::Student,
) -> ApiResult<Json<PaymentOut>> {
    let record = own_student(&db, &me).await?;
    let row = payment::Entity::find()
        .filter(payment::Column::StudentId.eq(record.id))
        .one(&db)
        .await?
        .ok_or_else(|| {
            // The original's clients read `message`/`has_paid`, and `error`.
            ApiError::detailed(
                StatusCode::NOT_FOUND,
                "No payment record found",
                "not_found",
                json!({
                    "error": "No payment record found",
                    "message": "No payment record found",
                    "has_paid": false,
                }),
            )
        })?;
    Ok(Json(payment_out(&db, row).await?))
}

/// One payment (administrators and the finance office's staff; students: their own).
#[utoipa::path(get, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PaymentOut), (status = 401), (status = 404)))]
pub async fn retrieve_payment(
    Db(db): Db,
    Visible(row): Visible<payment::Entity>,
) -> ApiResult<Json<PaymentOut>> {
    Ok(Json(payment_out(&db, row).await?))
}

/// Download a payment's receipt (whoever sees the payment).
#[utoipa::path(get, path = "/api/finance/payments/{id}/receipt/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The file, as an attachment"), (status = 401), (status = 404)))]
pub async fn payment_receipt(
    State(state): State<AppState>,
    Visible(row): Visible<payment::Entity>,
) -> ApiResult<axum::response::Response> {
    payment_file(&state, row.receipt, &format!("receipt-{}", row.id)).await
}

/// Download a payment's fee statement (whoever sees the payment).
#[utoipa::path(get, path = "/api/finance/payments/{id}/fee_statement/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The file, as an attachment"), (status = 401), (status = 404)))]
pub async fn payment_fee_statement(
    State(state): State<AppState>,
    Visible(row): Visible<payment::Entity>,
) -> ApiResult<axum::response::Response> {
    payment_file(
        &state,
        row.fee_statement,
        &format!("fee-statement-{}", row.id),
    )
    .await
}

async fn payment_file(
    state: &AppState,
    name: Option<String>,
    download_as: &str,
) -> ApiResult<axum::response::Response> {
    let name = name.ok_or_else(ApiError::not_found)?;
    let kind = kernel::upload::FileKind::from_extension(&name).ok_or_else(ApiError::not_found)?;
    let bytes = state
        .storage
        .read(&name)
        .await
        .map_err(|_| ApiError::not_found())?;
    Ok(kernel::upload::attachment(
        bytes,
        kind,
        &format!("{download_as}.{}", kind.extension()),
    ))
}

async fn write_payment(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<PaymentUpdateIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<PaymentOut>> {
    let txn = kernel::db::begin_write(db).await?;
    // DRF's order: the object (404), then the body (400).
    let existing = payment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    let Json(input) = body?;
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
        && transaction_taken(&txn, code, Some(id)).await?
    {
        c.error("transaction_id", TRANSACTION_TAKEN);
    }
    c.finish()?;
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
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await.map_err(payment_conflict)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
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
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<PaymentUpdateIn>, ApiError>,
) -> ApiResult<Json<PaymentOut>> {
    write_payment(&db, me, ip, id, body, false).await
}

/// Correct some fields of a payment that is not verified yet (admin).
#[utoipa::path(patch, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = PaymentUpdateIn,
    responses((status = 200, body = PaymentOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_payment(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<PaymentUpdateIn>, ApiError>,
) -> ApiResult<Json<PaymentOut>> {
    write_payment(&db, me, ip, id, body, true).await
}

/// Delete a payment (admin).
#[utoipa::path(delete, path = "/api/finance/payments/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_payment(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let existing = payment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
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
