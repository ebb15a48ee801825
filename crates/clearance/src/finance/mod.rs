//! `/api/finance/…`: finance records, payments and their verification, and
//! M-PESA (STK push and Daraja's callback) (spec §2.6, §2.7, §3.6).

mod payments;
mod records;
mod review;
mod stk;

use kernel::{ApiError, ApiResult};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::entities::user::{self, Role};
use crate::entities::{department, student};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(records::list_records, records::create_record))
        .routes(routes!(records::my_record))
        .routes(routes!(
            records::retrieve_record,
            records::update_record,
            records::partial_update_record,
            records::destroy_record
        ))
        .routes(routes!(payments::list_payments, payments::create_payment))
        .routes(routes!(review::unverified_payments))
        .routes(routes!(review::payment_statistics))
        .routes(routes!(payments::my_payment))
        .routes(routes!(
            payments::retrieve_payment,
            payments::update_payment,
            payments::partial_update_payment,
            payments::destroy_payment
        ))
        .routes(routes!(payments::payment_receipt))
        .routes(routes!(payments::payment_fee_statement))
        .routes(routes!(review::verify_payment))
        .routes(routes!(stk::stk_push))
        .routes(routes!(stk::mpesa_callback))
}

/// The original's paths.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/finance/my_payment/", get(payments::my_payment))
        .route("/api/finance/payments/mpesa_stk_push/", post(stk::stk_push))
        .route("/api/finance/mpesa_stk_push/", post(stk::stk_push))
}

kernel::gate! {
    /// A student paying their own fee; anyone else gets 403.
    pub Payer(user::Model) for AppState = |me| {
        if me.role == Role::Student {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only students can initiate M-PESA payments"))
        }
    }
}

/// Whose finance records and payments `me` may read, as a condition on a
/// `student_id` column: administrators and the finance office's staff every
/// student's, a student their own, anyone else none (lists come back empty,
/// details 404). Every finance query goes through it.
fn readable(me: &user::Model, student_id: impl ColumnTrait) -> Condition {
    match (me.role, me.department_id) {
        (Role::Admin, _) => Condition::all(),
        (Role::DepartmentStaff, Some(office)) => Condition::all().add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(department::Entity)
                .and_where(department::Column::Id.eq(office))
                .and_where(department::Column::DepartmentType.eq(FINANCE_OFFICE))
                .to_owned(),
        )),
        (Role::DepartmentStaff, None) => kernel::scope::none(),
        (Role::Student, _) => crate::students::own_rows(me.id, student_id),
    }
}

impl kernel::Scoped for crate::entities::finance_record::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        readable(me, crate::entities::finance_record::Column::StudentId)
    }

    fn not_found() -> ApiError {
        records::record_not_found()
    }
}

impl kernel::Scoped for crate::entities::payment::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        readable(me, crate::entities::payment::Column::StudentId)
    }

    fn not_found() -> ApiError {
        payments::payment_not_found()
    }
}

/// A Safaricom number as [`normalize_phone`](crate::mpesa::normalize_phone)
/// reads it: `07XXXXXXXX`, `01XXXXXXXX`, `7XXXXXXXX` or `2547XXXXXXXX`,
/// spaces, dashes, brackets and `+` anywhere.
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

/// The office type whose staff keep the books.
const FINANCE_OFFICE: &str = "finance";

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

/// The student record of `me`, a student (the `Student` or `Payer` gate
/// has let them in).
async fn own_student(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
) -> ApiResult<student::Model> {
    student::Entity::find()
        .filter(student::Column::UserId.eq(me.id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found_msg("Student record not found"))
}
