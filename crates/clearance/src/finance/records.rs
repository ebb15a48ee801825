//! Finance records: one per student, the graduation fee and its status.

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
    ModelTrait, Order, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::user::{self};
use crate::entities::{finance_record, student};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;

use super::{own_student, student_names};
use kernel::{Scoped, Visible};

pub const FEE_STATUSES: &[&str] = &["pending", "paid", "verified"];

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

pub(super) fn record_not_found() -> ApiError {
    ApiError::not_found_msg("No FinanceRecord matches the given query.")
}

/// List finance records (administrators and the finance office's staff;
/// students: their own). Filters: `graduation_fee_status`, `student`; search:
/// student name, email, registration number.
#[utoipa::path(get, path = "/api/finance/records/", tag = "finance", security(("jwt" = [])),
    params(("graduation_fee_status" = inline(Option<FeeStatus>), Query), ("student" = Option<Uuid>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<FinanceRecordOut>), (status = 401)))]
pub async fn list_records(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<FinanceRecordOut>>> {
    let mut query = finance_record::Entity::visible(&me);
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
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let results = records_out(&db, page.results).await?;
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

fn money_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(<Money as utoipa::PartialSchema>::schema())
}

fn fee() -> utoipa::openapi::schema::Schema {
    Money::non_negative_schema()
}

fn fee_or_null() -> utoipa::openapi::schema::Schema {
    kernel::form::schema::or_null(Money::non_negative_schema())
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
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(input): Json<FinanceRecordIn>,
) -> ApiResult<(StatusCode, Json<FinanceRecordOut>)> {
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
        if student::Entity::find_by_id(id).one(&db).await?.is_none() {
            c.error(
                "student",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        } else if finance_record::Entity::find()
            .filter(finance_record::Column::StudentId.eq(id))
            .one(&db)
            .await?
            .is_some()
        {
            c.error("student", "This student already has a finance record.");
        }
    }
    c.finish()?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
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
        Action::CREATE,
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
    Db(db): Db,
    crate::principal::Student(me): crate::principal::Student,
) -> ApiResult<Json<FinanceRecordOut>> {
    let record = own_student(&db, &me).await?;
    let row = finance_record::Entity::find()
        .filter(finance_record::Column::StudentId.eq(record.id))
        .one(&db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("No finance record found."))?;
    Ok(Json(record_out(&db, row).await?))
}

/// One finance record (administrators and the finance office's staff; students: their own).
#[utoipa::path(get, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = FinanceRecordOut), (status = 401), (status = 404)))]
pub async fn retrieve_record(
    Db(db): Db,
    Visible(row): Visible<finance_record::Entity>,
) -> ApiResult<Json<FinanceRecordOut>> {
    Ok(Json(record_out(&db, row).await?))
}

async fn write_record(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<FinanceRecordUpdateIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<FinanceRecordOut>> {
    let txn = kernel::db::begin_write(db).await?;
    // DRF's order: the object (404), then the body (400).
    let existing = finance_record::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(record_not_found)?;
    let Json(input) = body?;
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
            model.last_verified_date = Set(Some(kernel::time::now()));
            model.verified_by = Set(Some(me.full_name.clone()));
        }
    }
    if let Some(v) = notes {
        model.notes = Set(v);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await?;
    let action =
        if status.as_deref() == Some("verified") && existing.graduation_fee_status != "verified" {
            audit::VERIFY
        } else {
            Action::UPDATE
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
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<FinanceRecordUpdateIn>, ApiError>,
) -> ApiResult<Json<FinanceRecordOut>> {
    write_record(&db, me, ip, id, body, false).await
}

/// Change some of a finance record's fields (admin).
#[utoipa::path(patch, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = FinanceRecordUpdateIn,
    responses((status = 200, body = FinanceRecordOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_record(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<FinanceRecordUpdateIn>, ApiError>,
) -> ApiResult<Json<FinanceRecordOut>> {
    write_record(&db, me, ip, id, body, true).await
}

/// Delete a finance record (admin).
#[utoipa::path(delete, path = "/api/finance/records/{id}/", tag = "finance", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_record(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let existing = finance_record::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(record_not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
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
