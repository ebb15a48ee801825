//! M-PESA: the STK push that prompts a student's phone and Daraja's callback
//! that reports the outcome.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kernel::Db;
use kernel::audit::Action;
use kernel::extract::ClientIp;
use kernel::{ApiError, ApiResult, Checker, Field, Json, Money};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::{finance_record, payment};
use crate::mpesa::{DarajaError, normalize_phone};
use crate::notify::{Effects, Note};
use crate::state::AppState;

use super::payments::{mark_fee_paid, payment_snapshot, transaction_taken};
use super::{Payer, own_student, student_names};

/// M-PESA's per-transaction ceiling, KES.
const MPESA_MAX: i64 = 150_000;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StkPushIn {
    /// The Safaricom number to prompt, e.g. 0712345678.
    #[serde(default)]
    #[schema(schema_with = super::phone, required = true)]
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
    Db(db): Db,
    Payer(me): Payer,
    ClientIp(ip): ClientIp,
    body: Result<Json<StkPushIn>, ApiError>,
) -> ApiResult<Json<StkPushOut>> {
    // The payer's record (404) before the body (400).
    let record = own_student(&db, &me).await?;
    let Json(input) = body?;
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
        .one(&db)
        .await?;
    let existing = payment::Entity::find()
        .filter(payment::Column::StudentId.eq(record.id))
        .one(&db)
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
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
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
                fee_statement: Set(None),
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
        Action::UPDATE,
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
    Db(db): Db,
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
    match apply_callback(&state, &db, checkout, result_code, callback).await {
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
    db: &sea_orm::DatabaseConnection,
    checkout: &str,
    result_code: i64,
    callback: &Value,
) -> Result<(), ApiError> {
    let txn = kernel::db::begin_write(db).await?;
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
    let now = kernel::time::now();
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
            Actor::system(),
            Action::UPDATE,
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
            Actor::system(),
            Action::UPDATE,
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
