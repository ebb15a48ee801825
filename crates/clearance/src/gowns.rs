//! `/api/gown-issuances/`: academic gowns lent to graduands, their deposits
//! and returns (spec §2.8, §3.8).
//!
//! Everyone signed in may read (students: only their own gowns); only
//! administrators issue, edit, take back and refund.

use kernel::Db;
use kernel::Scoped;
use kernel::audit::Action;
use sea_orm::Condition;
use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use kernel::extract::ClientIp;
use kernel::listing::ListQuery;
use kernel::{ApiError, ApiResult, Checker, Field, FilterKind, Id, Json, Money, Page, PageSize};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoSimpleExpr, JoinType, ModelTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait, Select, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::entities::gown::{self, DEPOSIT_STATUSES, SIZES};
use crate::entities::student;
use crate::entities::user::{self, Role};
use crate::notify::{Effects, Note};
use crate::principal::{Admin, CurrentUser};
use crate::state::AppState;

/// The deposit a gown takes unless the administrator says otherwise (KES).
pub const DEFAULT_DEPOSIT: Money = Money(100_000);

const CONTENT_TYPE: &str = "GownIssuance";
const NOTES_MAX: usize = 10_000;
const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
const ALREADY_ISSUED: &str = "This student already has a gown that has not been returned.";
/// The longest loan: a gown lent for graduation comes back within a year.
/// (This also keeps due dates clear of MariaDB's 2038 limit, which sqlx's
/// TIMESTAMP-typed parameters run into and store as NULL.)
const MAX_LOAN_DAYS: i64 = 365;
/// How many times issuing retries when another issue took the same code
/// (each lost race means another issue succeeded).
const CODE_ATTEMPTS: usize = 32;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_gowns, issue_gown))
        .routes(routes!(overdue_gowns))
        .routes(routes!(gown_statistics))
        .routes(routes!(
            retrieve_gown,
            update_gown,
            partial_update_gown,
            destroy_gown
        ))
        .routes(routes!(mark_returned))
        .routes(routes!(refund_deposit))
}

/// The original's underscore action names.
pub fn aliases() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/gown-issuances/{id}/mark_returned/",
            axum::routing::post(mark_returned),
        )
        .route(
            "/api/gown-issuances/{id}/process_refund/",
            axum::routing::post(refund_deposit),
        )
}

fn not_found() -> ApiError {
    ApiError::not_found_msg("No GownIssuance matches the given query.")
}

/// The gowns `me` may see: all for administrators and office staff, their own
/// for a student.
impl kernel::Scoped for gown::Entity {
    type Caller = user::Model;

    fn scope(me: &user::Model) -> Condition {
        match me.role {
            Role::Admin | Role::DepartmentStaff => Condition::all(),
            Role::Student => crate::students::own_rows(me.id, gown::Column::StudentId),
        }
    }

    fn not_found() -> ApiError {
        not_found()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GownOut {
    pub id: Uuid,
    /// The student record's id.
    pub student: Uuid,
    pub student_name: String,
    pub registration_number: String,
    /// S, M, L, XL or XXL.
    pub gown_size: String,
    /// `GWN-<year of issue>-<5-digit sequence>`, e.g. `GWN-2026-00042`.
    pub gown_code: String,
    pub issue_date: DateTime<Utc>,
    /// When the gown is due back.
    pub return_date: Option<DateTime<Utc>>,
    pub deposit_amount: Money,
    pub deposit_paid: bool,
    pub deposit_refund_date: Option<DateTime<Utc>>,
    /// pending, retained or refunded.
    pub deposit_status: String,
    pub is_returned: bool,
    /// When the gown came back.
    pub returned_date: Option<DateTime<Utc>>,
    /// Not returned and past its `return_date`.
    pub is_overdue: bool,
    /// Whole days past `return_date` while overdue, else 0.
    pub days_overdue: i64,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether `gown` is overdue at `now`, and by how many whole days.
fn overdue(gown: &gown::Model, now: DateTime<Utc>) -> (bool, i64) {
    match gown.return_date {
        Some(due) if !gown.is_returned && due < now => (true, (now - due).num_days()),
        _ => (false, 0),
    }
}

/// Names and registration numbers of students, by student id.
async fn student_names<C: ConnectionTrait>(
    db: &C,
    mut ids: Vec<Uuid>,
) -> ApiResult<HashMap<Uuid, (String, String, Uuid)>> {
    ids.sort();
    ids.dedup();
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows = student::Entity::find()
            .filter(student::Column::Id.is_in(chunk.iter().copied()))
            .find_also_related(user::Entity)
            .all(db)
            .await?;
        for (s, u) in rows {
            let name = u.map(|u| u.full_name).unwrap_or_default();
            names.insert(s.id, (name, s.registration_number, s.user_id));
        }
    }
    Ok(names)
}

/// Renders gowns with one extra query per 500 students, whatever their count.
async fn render<C: ConnectionTrait>(db: &C, rows: Vec<gown::Model>) -> ApiResult<Vec<GownOut>> {
    let names = student_names(db, rows.iter().map(|g| g.student_id).collect()).await?;
    let now = kernel::time::now();
    Ok(rows
        .into_iter()
        .map(|g| {
            let (is_overdue, days_overdue) = overdue(&g, now);
            let (student_name, registration_number) = names
                .get(&g.student_id)
                .map(|(n, r, _)| (n.clone(), r.clone()))
                .unwrap_or_default();
            GownOut {
                id: g.id,
                student: g.student_id,
                student_name,
                registration_number,
                gown_size: g.gown_size,
                gown_code: g.gown_code,
                issue_date: g.issue_date,
                return_date: g.return_date,
                deposit_amount: Money(g.deposit_amount),
                deposit_paid: g.deposit_paid,
                deposit_refund_date: g.deposit_refund_date,
                deposit_status: g.deposit_status,
                is_returned: g.is_returned,
                returned_date: g.returned_date,
                is_overdue,
                days_overdue,
                notes: g.notes,
                created_at: g.created_at,
                updated_at: g.updated_at,
            }
        })
        .collect())
}

async fn render_one<C: ConnectionTrait>(db: &C, row: gown::Model) -> ApiResult<GownOut> {
    render(db, vec![row]).await?.pop().ok_or_else(not_found)
}

fn filtered(list: &ListQuery, query: Select<gown::Entity>) -> ApiResult<Select<gown::Entity>> {
    let mut query = list.filter(query, "student", gown::Column::StudentId, FilterKind::Uuid)?;
    query = list.filter(
        query,
        "gown_size",
        gown::Column::GownSize,
        FilterKind::Choice(SIZES),
    )?;
    query = list.filter(
        query,
        "is_returned",
        gown::Column::IsReturned,
        FilterKind::Bool,
    )?;
    query = list.filter(
        query,
        "deposit_status",
        gown::Column::DepositStatus,
        FilterKind::Choice(DEPOSIT_STATUSES),
    )?;
    query = list.filter(
        query,
        "deposit_paid",
        gown::Column::DepositPaid,
        FilterKind::Bool,
    )?;
    let fields = [
        user::Column::FullName.into_simple_expr(),
        student::Column::RegistrationNumber.into_simple_expr(),
        gown::Column::GownCode.into_simple_expr(),
    ];
    if let Some(condition) = list.search_condition(&fields) {
        query = query
            .join(JoinType::InnerJoin, gown::Relation::Student.def())
            .join(JoinType::InnerJoin, student::Relation::User.def())
            .filter(condition);
    }
    Ok(list.order(
        query,
        &[
            ("issue_date", gown::Column::IssueDate.into_simple_expr()),
            ("return_date", gown::Column::ReturnDate.into_simple_expr()),
            ("gown_code", gown::Column::GownCode.into_simple_expr()),
            ("created_at", gown::Column::CreatedAt.into_simple_expr()),
        ],
        &[("issue_date", Order::Desc)],
        gown::Column::Id,
    ))
}

/// List gown issuances (students: their own). Filters: `student`,
/// `gown_size`, `is_returned`, `deposit_status`, `deposit_paid`; search:
/// student name, registration number, gown code; ordering: `issue_date`,
/// `return_date`, `gown_code` (default `-issue_date`).
#[utoipa::path(get, path = "/api/gown-issuances/", tag = "gowns", security(("jwt" = [])),
    params(("student" = Option<Uuid>, Query), ("gown_size" = inline(Option<GownSize>), Query), ("is_returned" = Option<bool>, Query),
           ("deposit_status" = inline(Option<DepositStatus>), Query), ("deposit_paid" = Option<bool>, Query), ("search" = Option<String>, Query),
           ("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<GownOut>), (status = 400), (status = 401)))]
pub async fn list_gowns(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    list: ListQuery,
) -> ApiResult<Json<Page<GownOut>>> {
    let query = filtered(&list, gown::Entity::visible(&me))?;
    let page = list.page(&db, query, PageSize::DEFAULT).await?;
    let results = render(&db, page.results).await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

kernel::choices!(
    /// A gown's size.
    pub GownSize = SIZES
);

kernel::choices!(
    /// What became of a gown's deposit.
    pub DepositStatus = DEPOSIT_STATUSES
);

fn deposit() -> utoipa::openapi::schema::Schema {
    Money::non_negative_schema()
}

/// A gown to issue to a student.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GownIn {
    /// The student record.
    #[serde(default)]
    #[schema(value_type = Uuid, required = true)]
    pub student: Field<Uuid>,
    /// The original's name for `student`.
    #[serde(default)]
    #[schema(ignore)]
    pub student_id: Field<Uuid>,
    #[serde(default)]
    #[schema(value_type = GownSize, required = true)]
    pub gown_size: Field<String>,
    /// When the gown is due back (ISO 8601; a bare date means the end of that
    /// day, UTC), from the issue date to 365 days after it.
    #[serde(default, alias = "expected_return_date")]
    #[schema(value_type = Option<chrono::DateTime<Utc>>)]
    pub return_date: Field<String>,
    /// KES (default 1000.00).
    #[serde(default)]
    #[schema(schema_with = deposit, required = false)]
    pub deposit_amount: Field<Money>,
    /// Default false.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub deposit_paid: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<NOTES_MAX>)]
    pub notes: Field<String>,
}

impl GownIn {
    /// The fields an edit may change too.
    fn changes(&mut self) -> GownUpdateIn {
        GownUpdateIn {
            gown_size: std::mem::take(&mut self.gown_size),
            return_date: std::mem::take(&mut self.return_date),
            deposit_amount: std::mem::take(&mut self.deposit_amount),
            deposit_paid: std::mem::take(&mut self.deposit_paid),
            notes: std::mem::take(&mut self.notes),
        }
    }
}

/// A gown issuance's fields on PUT (and, none required, on PATCH); any
/// other field left out keeps its value. The student cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GownUpdateIn {
    #[serde(default)]
    #[schema(value_type = GownSize, required = true)]
    pub gown_size: Field<String>,
    /// When the gown is due back (ISO 8601; a bare date means the end of that
    /// day, UTC), from the issue date to 365 days after it; null clears it.
    #[serde(default, alias = "expected_return_date")]
    #[schema(value_type = Option<chrono::DateTime<Utc>>)]
    pub return_date: Field<String>,
    /// KES; fixed once the deposit is refunded.
    #[serde(default)]
    #[schema(schema_with = deposit, required = false)]
    pub deposit_amount: Field<Money>,
    /// Fixed once the deposit is refunded.
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub deposit_paid: Field<bool>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<NOTES_MAX>)]
    pub notes: Field<String>,
}

/// Reads a DRF-style datetime: ISO 8601 with or without an offset (none means
/// UTC); a bare date means the end of that day.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|n| n.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|n| n.and_utc())
        })?;
    // Every backend stores four-digit years (MySQL's DATETIME ends in 9999),
    // and microseconds at most (as Django does).
    (1..=9999)
        .contains(&parsed.year())
        .then(|| chrono::SubsecRound::trunc_subsecs(parsed, 6))
}

/// What an issue or an edit sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
struct Changes {
    gown_size: Option<String>,
    return_date: Option<Option<DateTime<Utc>>>,
    deposit_amount: Option<Money>,
    deposit_paid: Option<bool>,
    notes: Option<String>,
}

/// Checks the editable fields. Only `gown_size` is required (on create and
/// PUT); any other field left out keeps its value (or its default on create).
/// `issued` is the issue date the due date may not precede.
fn check_changes(
    c: &mut Checker,
    input: &mut GownUpdateIn,
    issued: DateTime<Utc>,
    existing: Option<&gown::Model>,
) -> Changes {
    let gown_size = c.choice("gown_size", std::mem::take(&mut input.gown_size), SIZES);
    let return_date = match std::mem::take(&mut input.return_date) {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(text) => match parse_datetime(&text) {
            None => {
                c.error("return_date", DATETIME_FORMAT);
                None
            }
            Some(due) if due < issued => {
                c.error(
                    "return_date",
                    "Return date cannot be before the issue date.",
                );
                None
            }
            Some(due) if due > issued + chrono::Duration::days(MAX_LOAN_DAYS) => {
                c.error(
                    "return_date",
                    format!("Return date must be within {MAX_LOAN_DAYS} days of the issue date."),
                );
                None
            }
            Some(due) => Some(Some(due)),
        },
    };
    let deposit_amount = match std::mem::take(&mut input.deposit_amount) {
        Field::Absent => None,
        Field::Null => {
            c.error("deposit_amount", kernel::form::NOT_NULL);
            None
        }
        Field::Value(amount) if amount < Money::ZERO => {
            c.error(
                "deposit_amount",
                "Ensure this value is greater than or equal to 0.",
            );
            None
        }
        Field::Value(amount) => Some(amount),
    };
    let deposit_paid = match std::mem::take(&mut input.deposit_paid) {
        Field::Absent => None,
        Field::Null => {
            c.error("deposit_paid", kernel::form::NOT_NULL);
            None
        }
        Field::Value(paid) => Some(paid),
    };
    let notes = match std::mem::take(&mut input.notes) {
        Field::Absent => None,
        Field::Null => {
            c.error("notes", kernel::form::NOT_NULL);
            None
        }
        Field::Value(text) => {
            let text = text.trim().to_owned();
            if text.chars().count() > NOTES_MAX {
                c.error(
                    "notes",
                    format!("Ensure this field has no more than {NOTES_MAX} characters."),
                );
                None
            } else {
                Some(text)
            }
        }
    };
    if let Some(existing) = existing.filter(|g| g.deposit_status == "refunded") {
        let refunded = "The deposit has already been refunded and can no longer change.";
        if deposit_amount.is_some_and(|m| m.cents() != existing.deposit_amount) {
            c.error("deposit_amount", refunded);
        }
        if deposit_paid.is_some_and(|p| p != existing.deposit_paid) {
            c.error("deposit_paid", refunded);
        }
    }
    Changes {
        gown_size,
        return_date,
        deposit_amount,
        deposit_paid,
        notes,
    }
}

/// What an audit row shows of a gown's editable state.
fn snapshot(g: &gown::Model) -> serde_json::Value {
    json!({
        "student": g.student_id,
        "gown_size": g.gown_size,
        "gown_code": g.gown_code,
        "return_date": g.return_date,
        "deposit_amount": Money(g.deposit_amount),
        "deposit_paid": g.deposit_paid,
        "deposit_refund_date": g.deposit_refund_date,
        "deposit_status": g.deposit_status,
        "is_returned": g.is_returned,
        "returned_date": g.returned_date,
        "notes": g.notes,
    })
}

fn describe(g: &gown::Model, registration_number: &str) -> String {
    format!("Gown {} issued to {registration_number}", g.gown_code)
}

/// The next free code of `year`: one past the highest issued so far.
async fn next_code<C: ConnectionTrait>(db: &C, year: i32) -> ApiResult<String> {
    let prefix = format!("GWN-{year}-");
    let last: Option<String> = gown::Entity::find()
        .select_only()
        .column(gown::Column::GownCode)
        .filter(gown::Column::GownCode.starts_with(&prefix))
        // Longest first, so GWN-2026-100000 sorts after GWN-2026-99999.
        .order_by(
            Func::char_length(Expr::col(gown::Column::GownCode)),
            Order::Desc,
        )
        .order_by(gown::Column::GownCode, Order::Desc)
        .into_tuple()
        .one(db)
        .await?;
    let last_number = last
        .as_deref()
        .and_then(|code| code.strip_prefix(&prefix))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(format!("{prefix}{:05}", last_number + 1))
}

/// Inserts `row` under the next free code of its year. Two administrators
/// issuing at once may pick the same code; the loser's insert fails on the
/// unique index, is rolled back to a savepoint and retried with a fresh code.
async fn insert_with_code(
    txn: &sea_orm::DatabaseTransaction,
    mut row: gown::ActiveModel,
    year: i32,
) -> ApiResult<gown::Model> {
    let mut last_error = None;
    for _ in 0..CODE_ATTEMPTS {
        row.gown_code = Set(next_code(txn, year).await?);
        let savepoint = txn.begin().await?;
        match row.clone().insert(&savepoint).await {
            Ok(model) => {
                savepoint.commit().await?;
                return Ok(model);
            }
            Err(error) if kernel::error::is_unique_violation(&error, "gown_code") => {
                savepoint.rollback().await?;
                last_error = Some(error);
            }
            Err(error) => return Err(error.into()),
        }
    }
    if let Some(error) = last_error {
        tracing::warn!(%error, "no free gown code after {CODE_ATTEMPTS} attempts");
    }
    Err(ApiError::Unavailable(
        "Too many gowns are being issued at once; please try again.".into(),
    ))
}

/// Issue a gown (admin). `gown_code` is generated; a student may hold one
/// unreturned gown at a time. Notifies the student.
#[utoipa::path(post, path = "/api/gown-issuances/", tag = "gowns", security(("jwt" = [])), request_body = GownIn,
    responses((status = 201, body = GownOut), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn issue_gown(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Json(mut input): Json<GownIn>,
) -> ApiResult<(StatusCode, Json<GownOut>)> {
    let now = kernel::time::now();
    let mut c = Checker::new();
    let student_field = match std::mem::take(&mut input.student) {
        Field::Absent => std::mem::take(&mut input.student_id),
        given => given,
    };
    let student_id = c.value("student", student_field);
    let changes = check_changes(&mut c, &mut input.changes(), now, None);
    let does_not_exist = |id: Uuid| format!("Invalid pk \"{id}\" - object does not exist.");
    if let Some(id) = student_id
        && student::Entity::find_by_id(id).one(&db).await?.is_none()
    {
        c.error("student", does_not_exist(id));
    }
    c.finish()?;
    let (Some(student_id), Some(gown_size)) = (student_id, changes.gown_size) else {
        return Err(ApiError::internal("validated fields are missing"));
    };

    let txn = kernel::db::begin_write(&db).await?;
    // The student row is locked so two issues to one student cannot both pass.
    let record = student::Entity::find_by_id(student_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::field("student", does_not_exist(student_id)))?;
    let unreturned = gown::Entity::find()
        .filter(gown::Column::StudentId.eq(record.id))
        .filter(gown::Column::IsReturned.eq(false))
        .one(&txn)
        .await?;
    if unreturned.is_some() {
        return Err(ApiError::field("student", ALREADY_ISSUED));
    }
    let row = gown::ActiveModel {
        id: Set(Uuid::new_v4()),
        student_id: Set(record.id),
        gown_size: Set(gown_size),
        gown_code: Set(String::new()),
        issue_date: Set(now),
        return_date: Set(changes.return_date.flatten()),
        deposit_amount: Set(changes.deposit_amount.unwrap_or(DEFAULT_DEPOSIT).cents()),
        deposit_paid: Set(changes.deposit_paid.unwrap_or(false)),
        deposit_refund_date: Set(None),
        deposit_status: Set("pending".into()),
        is_returned: Set(false),
        returned_date: Set(None),
        issued_by_id: Set(Some(me.id)),
        notes: Set(changes.notes.unwrap_or_default()),
        overdue_notified_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let issued = insert_with_code(&txn, row, now.year()).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::CREATE,
        CONTENT_TYPE,
        issued.id,
        &describe(&issued, &record.registration_number),
        kernel::audit::created(&snapshot(&issued)),
    )
    .await?;
    let due = issued.return_date.map_or_else(String::new, |d| {
        format!(" Please return it by {}.", d.format("%Y-%m-%d %H:%M UTC"))
    });
    let deposit = if issued.deposit_paid {
        format!(
            " Your deposit of KES {} has been received.",
            Money(issued.deposit_amount)
        )
    } else if issued.deposit_amount > 0 {
        format!(" A deposit of KES {} is due.", Money(issued.deposit_amount))
    } else {
        String::new()
    };
    let note = Note {
        title: "Gown Issued",
        message: format!(
            "Graduation gown {} (size {}) has been issued to you.{due}{deposit}",
            issued.gown_code, issued.gown_size
        ),
        kind: "gown",
        related: Some(("gown", issued.id)),
    };
    let mut effects = Effects::new();
    effects.notify(&txn, &state, record.user_id, &note).await?;
    let out = render_one(&txn, issued).await?;
    txn.commit().await?;
    effects.publish(&state);
    Ok((StatusCode::CREATED, Json(out)))
}

/// One gown issuance.
#[utoipa::path(get, path = "/api/gown-issuances/{id}/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = GownOut), (status = 401), (status = 404)))]
pub async fn retrieve_gown(
    Db(db): Db,
    kernel::Current(me): CurrentUser,
    Id(id): Id,
) -> ApiResult<Json<GownOut>> {
    let row = gown::Entity::visible(&me)
        .filter(gown::Column::Id.eq(id))
        .one(&db)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(render_one(&db, row).await?))
}

/// The gown, read again and locked inside the transaction that changes it.
async fn locked<C: ConnectionTrait>(txn: &C, id: Uuid) -> ApiResult<gown::Model> {
    gown::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(not_found)
}

async fn registration_number<C: ConnectionTrait>(db: &C, student_id: Uuid) -> ApiResult<String> {
    Ok(student::Entity::find_by_id(student_id)
        .one(db)
        .await?
        .map(|s| s.registration_number)
        .unwrap_or_default())
}

async fn write(
    db: &sea_orm::DatabaseConnection,
    me: user::Model,
    ip: Option<std::net::IpAddr>,
    id: Uuid,
    body: Result<Json<GownUpdateIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<GownOut>> {
    let txn = kernel::db::begin_write(db).await?;
    // DRF's order: the object (404), then the body (400).
    let existing = locked(&txn, id).await?;
    let Json(mut input) = body?;
    let mut c = Checker::partial(partial);
    let changes = check_changes(&mut c, &mut input, existing.issue_date, Some(&existing));
    c.finish()?;
    let mut model: gown::ActiveModel = existing.clone().into();
    if let Some(size) = changes.gown_size {
        model.gown_size = Set(size);
    }
    if let Some(due) = changes.return_date
        && due != existing.return_date
    {
        model.return_date = Set(due);
        // A new due date earns its own reminder.
        model.overdue_notified_at = Set(None);
    }
    if let Some(amount) = changes.deposit_amount {
        model.deposit_amount = Set(amount.cents());
    }
    if let Some(paid) = changes.deposit_paid {
        model.deposit_paid = Set(paid);
    }
    if let Some(notes) = changes.notes {
        model.notes = Set(notes);
    }
    model.updated_at = Set(kernel::time::now());
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        CONTENT_TYPE,
        updated.id,
        &describe(
            &updated,
            &registration_number(&txn, updated.student_id).await?,
        ),
        kernel::audit::diff(&snapshot(&existing), &snapshot(&updated)),
    )
    .await?;
    let out = render_one(&txn, updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Edit a gown issuance (admin): `gown_size` (required), `return_date`,
/// `deposit_amount`, `deposit_paid`, `notes`; fields left out keep their
/// value. The code, return and refund state change only through their actions.
#[utoipa::path(put, path = "/api/gown-issuances/{id}/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = GownUpdateIn,
    responses((status = 200, body = GownOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_gown(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<GownUpdateIn>, ApiError>,
) -> ApiResult<Json<GownOut>> {
    write(&db, me, ip, id, body, false).await
}

/// Partially edit a gown issuance (admin).
#[utoipa::path(patch, path = "/api/gown-issuances/{id}/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = GownUpdateIn,
    responses((status = 200, body = GownOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_gown(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<GownUpdateIn>, ApiError>,
) -> ApiResult<Json<GownOut>> {
    write(&db, me, ip, id, body, true).await
}

/// Delete a gown issuance (admin).
#[utoipa::path(delete, path = "/api/gown-issuances/{id}/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_gown(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let txn = kernel::db::begin_write(&db).await?;
    let existing = locked(&txn, id).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::DELETE,
        CONTENT_TYPE,
        existing.id,
        &describe(
            &existing,
            &registration_number(&txn, existing.student_id).await?,
        ),
        kernel::audit::deleted(&snapshot(&existing)),
    )
    .await?;
    existing.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReturnIn {
    /// The gown's condition on return, added to its notes
    /// (`condition_notes` is accepted too).
    #[serde(default, alias = "condition_notes")]
    pub notes: Option<String>,
}

/// Record that a gown came back (admin). Also `{id}/mark_returned/`.
#[utoipa::path(post, path = "/api/gown-issuances/{id}/mark-returned/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = ReturnIn,
    responses((status = 200, body = GownOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn mark_returned(
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
    body: Result<Json<ReturnIn>, ApiError>,
) -> ApiResult<Json<GownOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    // DRF's order: the object (404), then the body (400).
    let existing = locked(&txn, id).await?;
    let Json(input) = body?;
    let remark = input
        .notes
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if existing.is_returned {
        return Err(ApiError::bad_request("Gown already marked as returned."));
    }
    let notes = match remark {
        None => existing.notes.clone(),
        Some(remark) if existing.notes.is_empty() => remark,
        Some(remark) => format!("{}\n{remark}", existing.notes),
    };
    if notes.chars().count() > NOTES_MAX {
        return Err(ApiError::field(
            "notes",
            format!("Ensure this field has no more than {NOTES_MAX} characters."),
        ));
    }
    let now = kernel::time::now();
    let mut model: gown::ActiveModel = existing.clone().into();
    model.is_returned = Set(true);
    model.returned_date = Set(Some(now));
    model.notes = Set(notes);
    model.updated_at = Set(now);
    let updated = model.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        CONTENT_TYPE,
        updated.id,
        &describe(
            &updated,
            &registration_number(&txn, updated.student_id).await?,
        ),
        kernel::audit::diff(&snapshot(&existing), &snapshot(&updated)),
    )
    .await?;
    let out = render_one(&txn, updated).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Refund a returned gown's paid deposit in full, once (admin). Notifies the
/// student. Also `{id}/process_refund/`.
#[utoipa::path(post, path = "/api/gown-issuances/{id}/refund-deposit/", tag = "gowns", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = GownOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn refund_deposit(
    State(state): State<AppState>,
    Db(db): Db,
    Admin(me): Admin,
    ClientIp(ip): ClientIp,
    Id(id): Id,
) -> ApiResult<Json<GownOut>> {
    let txn = kernel::db::begin_write(&db).await?;
    let existing = locked(&txn, id).await?;
    if existing.deposit_status == "refunded" {
        return Err(ApiError::bad_request("Deposit already refunded."));
    }
    if !existing.is_returned {
        return Err(ApiError::bad_request(
            "Gown must be returned before processing refund.",
        ));
    }
    if existing.deposit_status == "retained" {
        return Err(ApiError::bad_request(
            "The deposit was retained and cannot be refunded.",
        ));
    }
    if !existing.deposit_paid {
        return Err(ApiError::bad_request(
            "No deposit was paid for this gown, so there is nothing to refund.",
        ));
    }
    let now = kernel::time::now();
    let mut model: gown::ActiveModel = existing.clone().into();
    model.deposit_status = Set("refunded".into());
    model.deposit_refund_date = Set(Some(now));
    model.updated_at = Set(now);
    let updated = model.update(&txn).await?;
    let record = student::Entity::find_by_id(updated.student_id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        &txn,
        Actor::user(me.id, ip),
        Action::UPDATE,
        CONTENT_TYPE,
        updated.id,
        &describe(&updated, &record.registration_number),
        kernel::audit::diff(&snapshot(&existing), &snapshot(&updated)),
    )
    .await?;
    let note = Note {
        title: "Gown Deposit Refunded",
        message: format!(
            "Your deposit of KES {} for gown {} has been refunded.",
            Money(updated.deposit_amount),
            updated.gown_code
        ),
        kind: "gown",
        related: Some(("gown", updated.id)),
    };
    let mut effects = Effects::new();
    effects.notify(&txn, &state, record.user_id, &note).await?;
    let out = render_one(&txn, updated).await?;
    txn.commit().await?;
    effects.publish(&state);
    Ok(Json(out))
}

/// Gowns not returned whose `return_date` has passed, at `now`.
fn overdue_at(query: Select<gown::Entity>, now: DateTime<Utc>) -> Select<gown::Entity> {
    query
        .filter(gown::Column::IsReturned.eq(false))
        .filter(gown::Column::ReturnDate.lt(now))
}

/// Overdue gowns (admin): not returned and past their `return_date`, most
/// overdue first. A plain array, not paginated, as the original serves it.
#[utoipa::path(get, path = "/api/gown-issuances/overdue/", tag = "gowns", security(("jwt" = [])),
    responses((status = 200, body = Vec<GownOut>), (status = 401), (status = 403)))]
pub async fn overdue_gowns(Db(db): Db, Admin(_me): Admin) -> ApiResult<Json<Vec<GownOut>>> {
    let rows = overdue_at(gown::Entity::find(), kernel::time::now())
        .order_by(gown::Column::ReturnDate, Order::Asc)
        .order_by(gown::Column::Id, Order::Asc)
        .all(&db)
        .await?;
    Ok(Json(render(&db, rows).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GownStatistics {
    pub total_issued: u64,
    /// Not yet returned.
    pub currently_issued: u64,
    pub returned: u64,
    /// Not returned and past their `return_date`.
    pub overdue: u64,
    /// Sum of deposits paid and not refunded (KES).
    pub deposits_held: Money,
    /// Sum of deposits refunded (KES).
    pub deposits_refunded: Money,
    /// Number of gowns whose deposit is unpaid.
    pub deposits_pending: u64,
}

/// `COUNT` of the rows meeting `condition`.
fn count_where(condition: impl sea_orm::sea_query::IntoCondition) -> Expr {
    Func::count(Expr::case(condition, Expr::val(1))).into()
}

/// The sum of deposits of the rows meeting `condition`, 0 when none.
fn deposits_where(backend: DbBackend, condition: impl sea_orm::sea_query::IntoCondition) -> Expr {
    let sum = Func::sum(
        Expr::case(condition, Expr::col(gown::Column::DepositAmount)).finally(Expr::val(0i64)),
    );
    kernel::db::as_bigint(backend, Func::coalesce([sum.into(), Expr::val(0i64)]))
}

/// Issue, return, overdue and deposit totals (admin), in one aggregate query.
#[utoipa::path(get, path = "/api/gown-issuances/statistics/", tag = "gowns", security(("jwt" = [])),
    responses((status = 200, body = GownStatistics), (status = 401), (status = 403)))]
pub async fn gown_statistics(Db(db): Db, Admin(_me): Admin) -> ApiResult<Json<GownStatistics>> {
    let backend = db.get_database_backend();
    let now = kernel::time::now();
    let row: Option<(i64, i64, i64, i64, i64, i64)> = gown::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(count_where(gown::Column::IsReturned.eq(true)), "returned")
        .column_as(
            count_where(
                gown::Column::IsReturned
                    .eq(false)
                    .and(gown::Column::ReturnDate.lt(now)),
            ),
            "overdue",
        )
        .column_as(
            deposits_where(
                backend,
                gown::Column::DepositPaid
                    .eq(true)
                    .and(gown::Column::DepositStatus.ne("refunded")),
            ),
            "held",
        )
        .column_as(
            deposits_where(backend, gown::Column::DepositStatus.eq("refunded")),
            "refunded",
        )
        .column_as(count_where(gown::Column::DepositPaid.eq(false)), "unpaid")
        .into_tuple()
        .one(&db)
        .await?;
    let (total, returned, overdue, held, refunded, unpaid) = row.unwrap_or_default();
    let count = |n: i64| Ord::max(n, 0) as u64;
    Ok(Json(GownStatistics {
        total_issued: count(total),
        currently_issued: count(total - returned),
        returned: count(returned),
        overdue: count(overdue),
        deposits_held: Money(held),
        deposits_refunded: Money(refunded),
        deposits_pending: count(unpaid),
    }))
}

/// Reminds each student whose gown is overdue, once per due date. Returns how
/// many reminders were sent. Safe to run from several processes at once: a
/// gown is claimed by a conditional update before its reminder is written.
pub async fn notify_overdue(state: &AppState) -> ApiResult<usize> {
    const BATCH: u64 = 500;
    let now = kernel::time::now();
    let mut sent = 0;
    let mut after: Option<Uuid> = None;
    loop {
        // Keyset pagination over ids, so rows skipped below are not read twice.
        let mut query = overdue_at(gown::Entity::find(), now)
            .filter(gown::Column::OverdueNotifiedAt.is_null())
            .order_by(gown::Column::Id, Order::Asc)
            .limit(BATCH);
        if let Some(last) = after {
            query = query.filter(gown::Column::Id.gt(last));
        }
        let due = query.all(&state.db).await?;
        let Some(last) = due.last().map(|g| g.id) else {
            break;
        };
        after = Some(last);
        let full = due.len() as u64 == BATCH;
        sent += remind(state, now, due).await?;
        if !full {
            break;
        }
    }
    Ok(sent)
}

/// Claims and reminds one batch of overdue gowns in one transaction.
async fn remind(state: &AppState, now: DateTime<Utc>, due: Vec<gown::Model>) -> ApiResult<usize> {
    let names = student_names(&state.db, due.iter().map(|g| g.student_id).collect()).await?;
    let mut sent = 0;
    let mut effects = Effects::new();
    let txn = kernel::db::begin_write(&state.db).await?;
    for gown in due {
        let (Some(return_date), Some((_, _, user_id))) =
            (gown.return_date, names.get(&gown.student_id))
        else {
            continue;
        };
        // Still unreturned, still overdue and not reminded by anyone else.
        let claimed = gown::Entity::update_many()
            .col_expr(gown::Column::OverdueNotifiedAt, Expr::val(now))
            .filter(gown::Column::Id.eq(gown.id))
            .filter(gown::Column::OverdueNotifiedAt.is_null())
            .filter(gown::Column::IsReturned.eq(false))
            .filter(gown::Column::ReturnDate.lt(now))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            continue;
        }
        let note = Note {
            title: "Gown Overdue",
            message: format!(
                "Graduation gown {} was due back on {}. Please return it as soon as possible.",
                gown.gown_code,
                return_date.format("%Y-%m-%d %H:%M UTC")
            ),
            kind: "gown",
            related: Some(("gown", gown.id)),
        };
        effects.notify(&txn, state, *user_id, &note).await?;
        sent += 1;
    }
    txn.commit().await?;
    effects.publish(state);
    Ok(sent)
}
