//! What the finance office reviews: unverified payments, statistics, and
//! verifying a payment.

use axum::extract::State;
use kernel::Db;
use kernel::extract::ClientIp;
use kernel::{ApiError, ApiResult, Id, Json, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::entities::{finance_record, payment};
use crate::notify::{Effects, Note};
use crate::principal::Admin;
use crate::state::AppState;

use super::payments::{PaymentOut, payment_not_found, payment_out, payment_snapshot, payments_out};
use super::student_names;

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentListOut {
    pub count: usize,
    pub payments: Vec<PaymentOut>,
}

/// Payments received but not verified yet (admin).
#[utoipa::path(get, path = "/api/finance/payments/unverified/", tag = "finance", security(("jwt" = [])),
    responses((status = 200, body = PaymentListOut), (status = 401), (status = 403)))]
pub async fn unverified_payments(Db(db): Db, _admin: Admin) -> ApiResult<Json<PaymentListOut>> {
    let rows = payment::Entity::find()
        .filter(payment::Column::IsVerified.eq(false))
        .filter(payment::Column::Status.eq("paid"))
        .order_by(payment::Column::CreatedAt, Order::Asc)
        .limit(500)
        .all(&db)
        .await?;
    let payments = payments_out(&db, rows).await?;
    Ok(Json(PaymentListOut {
        count: payments.len(),
        payments,
    }))
}

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
pub async fn payment_statistics(Db(db): Db, _admin: Admin) -> ApiResult<Json<PaymentStatistics>> {
    let backend = db.get_database_backend();
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
        .one(&db)
        .await?;
    let (total, verified, pending, failed, paid_amount, verified_amount) =
        totals.unwrap_or_default();
    let by_method: Vec<(String, i64)> = payment::Entity::find()
        .select_only()
        .column(payment::Column::PaymentMethod)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(payment::Column::PaymentMethod)
        .into_tuple()
        .all(&db)
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
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<VerifyIn>, ApiError>,
) -> ApiResult<Json<VerifiedOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    // DRF's order: the object (404), then the body (400).
    let existing = payment::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(payment_not_found)?;
    let Json(input) = body?;
    if input.verify == Some(false) {
        return Err(ApiError::bad_request("Verification cancelled"));
    }
    if existing.is_verified {
        return Err(ApiError::non_field("Payment is already verified"));
    }
    if existing.status != "paid" {
        return Err(ApiError::bad_request(
            "Only a received payment can be verified.",
        ));
    }
    let now = kernel::time::now();
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
        audit::VERIFY,
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
