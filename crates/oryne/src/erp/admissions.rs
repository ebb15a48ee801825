//! `admissions/` (contract §3 "Operations"): applications for admission,
//! their review, and enrolment, which creates the student's account and
//! student row in one transaction.
//!
//! Lifecycle: `submitted` → `under_review` → `approved` | `rejected`;
//! `approved` → `enrolled`; `withdrawn` from any open state (`submitted`,
//! `under_review`, `approved`). Approving or rejecting straight from
//! `submitted` is allowed (the review step is optional). Every status
//! change queues `admission_status` to the guardian in its transaction.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kernel::listing::{ListOf, PageOf};
use kernel::{ApiError, ApiResult, Checker, Field, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoSimpleExpr,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Oryne;
use crate::audit::{CREATE, DELETE, Event, Trail, UPDATE};
use crate::entities::{academic_year, admission, school_class, section, student};
use crate::envelope::{Data, created, ok};
use crate::notify::{self, Notice};
use crate::rbac::{self, Me};
use crate::state::AppState;
use crate::tenant_info::CurrentTenant;

pub const STATUSES: &[&str] = &[
    "submitted",
    "under_review",
    "approved",
    "rejected",
    "enrolled",
    "withdrawn",
];
pub const GENDERS: &[&str] = &["male", "female", "other"];
/// States an application can still be withdrawn from.
const OPEN: &[&str] = &["submitted", "under_review", "approved"];

kernel::choices!(
    /// An admission's status.
    pub AdmissionStatus = STATUSES
);
kernel::choices!(
    /// An applicant's gender.
    pub AdmissionGender = GENDERS
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_admissions, create_admission))
        .routes(routes!(admission_statistics))
        .routes(routes!(apply_admission))
        .routes(routes!(
            retrieve_admission,
            update_admission,
            destroy_admission
        ))
        .routes(routes!(review_admission))
        .routes(routes!(approve_admission))
        .routes(routes!(reject_admission))
        .routes(routes!(withdraw_admission))
        .routes(routes!(enroll_admission))
}

/// An application for admission as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdmissionOut {
    pub id: i64,
    pub application_no: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: String,
    pub class_applied: String,
    /// The academic year's id.
    pub academic_year: Option<i64>,
    pub guardian_name: String,
    pub guardian_email: String,
    pub guardian_phone: String,
    pub previous_school: String,
    /// File ids or references.
    #[schema(value_type = Vec<String>)]
    pub documents: Value,
    pub status: String,
    pub remarks: String,
    /// The reviewing user's id.
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The student's id, once enrolled.
    pub student: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AdmissionOut {
    pub fn of(a: &admission::Model) -> Self {
        Self {
            id: a.id,
            application_no: a.application_no.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            full_name: format!("{} {}", a.first_name, a.last_name)
                .trim()
                .to_owned(),
            date_of_birth: a.date_of_birth,
            gender: a.gender.clone(),
            class_applied: a.class_applied.clone(),
            academic_year: a.academic_year_id,
            guardian_name: a.guardian_name.clone(),
            guardian_email: a.guardian_email.clone(),
            guardian_phone: a.guardian_phone.clone(),
            previous_school: a.previous_school.clone(),
            documents: a.documents.clone(),
            status: a.status.clone(),
            remarks: a.remarks.clone(),
            reviewed_by: a.reviewed_by,
            reviewed_at: a.reviewed_at,
            student: a.student_id,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// What audit rows keep of an application.
fn snapshot(a: &admission::Model) -> Value {
    json!({
        "application_no": a.application_no, "first_name": a.first_name, "last_name": a.last_name,
        "date_of_birth": a.date_of_birth, "gender": a.gender, "class_applied": a.class_applied,
        "academic_year": a.academic_year_id, "guardian_name": a.guardian_name,
        "guardian_email": a.guardian_email, "guardian_phone": a.guardian_phone,
        "previous_school": a.previous_school, "documents": a.documents, "status": a.status,
        "remarks": a.remarks, "student": a.student_id,
    })
}

/// The applicant's fields (create, public apply and PATCH).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AdmissionIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub first_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<100>, required = true)]
    pub last_name: Field<String>,
    /// `YYYY-MM-DD`, not in the future.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Field<String>,
    #[serde(default)]
    #[schema(value_type = AdmissionGender, required = true)]
    pub gender: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<20>, required = true)]
    pub class_applied: Field<String>,
    /// An academic year's id.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub academic_year: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<200>)]
    pub guardian_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub guardian_email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub guardian_phone: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<200>)]
    pub previous_school: Field<String>,
    /// File ids or references (strings or integers), at most 20.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub documents: Field<Vec<Value>>,
}

/// The checked applicant fields (`None`: leave as it is).
struct Applicant {
    first_name: Option<String>,
    last_name: Option<String>,
    date_of_birth: Option<Option<NaiveDate>>,
    gender: Option<String>,
    class_applied: Option<String>,
    academic_year: Option<Option<i64>>,
    guardian_name: Option<String>,
    guardian_email: Option<String>,
    guardian_phone: Option<Option<String>>,
    previous_school: Option<String>,
    documents: Option<Value>,
}

fn check_applicant(c: &mut Checker, body: AdmissionIn) -> Applicant {
    let date_of_birth = match c.nullable(body.date_of_birth) {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => match kernel::form::parse_date(&raw) {
            Some(d) if d > kernel::time::now().date_naive() => {
                c.error(
                    "date_of_birth",
                    "The date of birth cannot be in the future.",
                );
                None
            }
            Some(d) => Some(Some(d)),
            None => {
                c.error(
                    "date_of_birth",
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                );
                None
            }
        },
    };
    let academic_year = if body.academic_year.is_absent() {
        None
    } else {
        c.nullable(body.academic_year)
    };
    let documents = if body.documents.is_absent() {
        None
    } else {
        match c.nullable(body.documents) {
            None => None,
            Some(None) => Some(json!([])),
            Some(Some(list)) => {
                let mut out = Vec::new();
                if list.len() > 20 {
                    c.error(
                        "documents",
                        "Ensure this field has no more than 20 elements.",
                    );
                }
                for item in list.into_iter().take(20) {
                    match item {
                        Value::String(s) if !s.trim().is_empty() && s.len() <= 255 => {
                            out.push(Value::String(s.trim().to_owned()));
                        }
                        Value::Number(n) if n.is_i64() => out.push(Value::String(n.to_string())),
                        _ => {
                            c.error(
                                "documents",
                                "Each document must be a file id or a non-blank string of at most 255 characters.",
                            );
                            break;
                        }
                    }
                }
                Some(Value::Array(out))
            }
        }
    };
    Applicant {
        first_name: c.text("first_name", body.first_name, 100),
        last_name: c.text("last_name", body.last_name, 100),
        date_of_birth,
        gender: c.choice("gender", body.gender, GENDERS),
        class_applied: c.text("class_applied", body.class_applied, 20),
        academic_year,
        guardian_name: c.blank_text("guardian_name", body.guardian_name, 200),
        guardian_email: c.email("guardian_email", body.guardian_email),
        guardian_phone: c.optional_text("guardian_phone", body.guardian_phone, 20),
        previous_school: c.blank_text("previous_school", body.previous_school, 200),
        documents,
    }
}

/// An academic year given must exist (400 `details.academic_year`).
async fn check_year(db: &impl ConnectionTrait, year: Option<Option<i64>>) -> ApiResult<()> {
    if let Some(Some(id)) = year
        && academic_year::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(ApiError::field(
            "academic_year",
            format!("Invalid pk \"{id}\" - object does not exist."),
        ));
    }
    Ok(())
}

/// Queues `admission_status` to the guardian (in `db`, the change's transaction).
async fn notify_status(db: &impl ConnectionTrait, a: &admission::Model) -> ApiResult<()> {
    let data = json!({
        "applicant_name": format!("{} {}", a.first_name, a.last_name).trim(),
        "application_no": a.application_no,
        "status": a.status,
    });
    notify::queue(
        db,
        Notice::new("admission_status", "email", a.guardian_email.clone(), data),
    )
    .await?;
    Ok(())
}

/// The next `ADM-<year>-<sequence>` of this school, read in `db`.
async fn next_number(db: &impl ConnectionTrait, year: i32) -> ApiResult<String> {
    let prefix = format!("ADM-{year}-");
    let taken: Vec<String> = admission::Entity::find()
        .select_only()
        .column(admission::Column::ApplicationNo)
        .filter(admission::Column::ApplicationNo.starts_with(&prefix))
        .into_tuple()
        .all(db)
        .await?;
    let last = taken
        .iter()
        .filter_map(|n| n.strip_prefix(&prefix)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    Ok(format!("{prefix}{:05}", last + 1))
}

/// Inserts an application (status `submitted`) with a fresh number; a
/// number taken by a concurrent writer is retried in a new transaction.
async fn insert_admission(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    actor: Option<i64>,
    trail: &Trail,
    body: AdmissionIn,
) -> ApiResult<admission::Model> {
    let mut c = Checker::new();
    let a = check_applicant(&mut c, body);
    c.finish()?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let txn = kernel::db::begin_write(db).await?;
        check_year(&*txn, a.academic_year).await?;
        let now = kernel::time::now();
        let number = next_number(&*txn, now.year()).await?;
        let inserted = admission::ActiveModel {
            application_no: Set(number),
            first_name: Set(a.first_name.clone().unwrap_or_default()),
            last_name: Set(a.last_name.clone().unwrap_or_default()),
            date_of_birth: Set(a.date_of_birth.flatten()),
            gender: Set(a.gender.clone().unwrap_or_default()),
            class_applied: Set(a.class_applied.clone().unwrap_or_default()),
            academic_year_id: Set(a.academic_year.flatten()),
            guardian_name: Set(a.guardian_name.clone().unwrap_or_default()),
            guardian_email: Set(a.guardian_email.clone().unwrap_or_default()),
            guardian_phone: Set(a.guardian_phone.clone().flatten().unwrap_or_default()),
            previous_school: Set(a.previous_school.clone().unwrap_or_default()),
            documents: Set(a.documents.clone().unwrap_or_else(|| json!([]))),
            status: Set("submitted".into()),
            remarks: Set(String::new()),
            reviewed_by: Set(None),
            reviewed_at: Set(None),
            student_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&*txn)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(e) if attempt < 5 && kernel::error::is_unique_violation(&e, "application_no") => {
                drop(txn);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        Event::new(actor, CREATE, "Admission", row.id)
            .created(&snapshot(&row))
            .write(&*txn, trail)
            .await?;
        notify_status(&*txn, &row).await?;
        txn.commit().await?;
        state.wake_jobs();
        return Ok(row);
    }
}

/// Applications (`admissions:read`; filters `status`, `class_applied`,
/// `academic_year`; search applicant names, application number, guardian email).
#[utoipa::path(get, path = "/api/v1/erp/admissions/", tag = "erp",
    description = "Permission: `admissions:read`.",
    params(("status" = Option<AdmissionStatus>, Query), ("class_applied" = Option<String>, Query),
        ("academic_year" = Option<i64>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query)),
    responses((status = 200, body = inline(kernel::listing::OrynePage<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn list_admissions(
    me: Me,
    kernel::Db(db): kernel::Db,
    list: ListOf<Oryne>,
) -> ApiResult<Json<PageOf<Oryne, AdmissionOut>>> {
    me.require("admissions:read")?;
    use kernel::listing::FilterKind;
    let query = admission::Entity::find();
    let query = list.filter(
        query,
        "status",
        admission::Column::Status,
        FilterKind::Choice(STATUSES),
    )?;
    let query = list.filter(
        query,
        "class_applied",
        admission::Column::ClassApplied,
        FilterKind::Text,
    )?;
    let query = list.filter(
        query,
        "academic_year",
        admission::Column::AcademicYearId,
        FilterKind::Int,
    )?;
    let query = list.search(
        query,
        &[
            Expr::col(admission::Column::FirstName),
            Expr::col(admission::Column::LastName),
            Expr::col(admission::Column::ApplicationNo),
            Expr::col(admission::Column::GuardianEmail),
        ],
    );
    let query = list.order(
        query,
        &[
            (
                "created_at",
                admission::Column::CreatedAt.into_simple_expr(),
            ),
            (
                "application_no",
                admission::Column::ApplicationNo.into_simple_expr(),
            ),
            (
                "first_name",
                admission::Column::FirstName.into_simple_expr(),
            ),
            ("last_name", admission::Column::LastName.into_simple_expr()),
            ("status", admission::Column::Status.into_simple_expr()),
            (
                "class_applied",
                admission::Column::ClassApplied.into_simple_expr(),
            ),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        admission::Column::Id,
    );
    Ok(Json(
        list.page(
            &db,
            query,
            kernel::listing::PageSize {
                default: 20,
                max: 100,
            },
        )
        .await?
        .map(|a| AdmissionOut::of(&a)),
    ))
}

/// Records an application (`admissions:write`): status `submitted`, a new
/// `application_no`; the guardian is notified.
#[utoipa::path(post, path = "/api/v1/erp/admissions/", tag = "erp",
    description = "Permission: `admissions:write`.",
    request_body = AdmissionIn,
    responses((status = 201, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn create_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    Json(body): Json<AdmissionIn>,
) -> ApiResult<(StatusCode, Data<AdmissionOut>)> {
    me.require("admissions:write")?;
    let row = insert_admission(&state, &db, Some(me.id()), &trail, body).await?;
    Ok(created(AdmissionOut::of(&row)))
}

/// A public application, without a token, where the school's
/// `settings.public_admissions` is on (else 403); throttled as anonymous.
#[utoipa::path(post, path = "/api/v1/erp/admissions/apply/", tag = "erp",
    description = "Public (no token) when the school's `settings.public_admissions` is true, else 403.",
    request_body = AdmissionIn,
    responses((status = 201, body = inline(Data<AdmissionOut>)), (status = 403, description = "The school does not take public applications.")))]
pub async fn apply_admission(
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    CurrentTenant(tenant): CurrentTenant,
    Json(body): Json<AdmissionIn>,
) -> ApiResult<(StatusCode, Data<AdmissionOut>)> {
    if tenant.settings["public_admissions"] != json!(true) {
        return Err(ApiError::forbidden(
            "This school does not take public applications.",
        ));
    }
    let row = insert_admission(&state, &db, None, &trail, body).await?;
    Ok(created(AdmissionOut::of(&row)))
}

/// Counts by class.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdmissionClassCount {
    pub class_applied: String,
    pub count: i64,
}

/// Application counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdmissionStatsOut {
    pub total: i64,
    /// Every status with its count.
    #[schema(value_type = Object)]
    pub by_status: Value,
    pub by_class: Vec<AdmissionClassCount>,
}

/// Counts of applications by status and class (`admissions:read`).
#[utoipa::path(get, path = "/api/v1/erp/admissions/statistics/", tag = "erp",
    description = "Permission: `admissions:read`.",
    responses((status = 200, body = inline(Data<AdmissionStatsOut>))),
    security(("jwt" = [])))]
pub async fn admission_statistics(
    me: Me,
    kernel::Db(db): kernel::Db,
) -> ApiResult<Data<AdmissionStatsOut>> {
    me.require("admissions:read")?;
    let statuses: Vec<(String, i64)> = admission::Entity::find()
        .select_only()
        .column(admission::Column::Status)
        .column_as(admission::Column::Id.count(), "n")
        .group_by(admission::Column::Status)
        .into_tuple()
        .all(&db)
        .await?;
    let classes: Vec<(String, i64)> = admission::Entity::find()
        .select_only()
        .column(admission::Column::ClassApplied)
        .column_as(admission::Column::Id.count(), "n")
        .group_by(admission::Column::ClassApplied)
        .order_by_asc(admission::Column::ClassApplied)
        .into_tuple()
        .all(&db)
        .await?;
    let mut by_status = serde_json::Map::new();
    for s in STATUSES {
        let n = statuses.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
        by_status.insert((*s).to_owned(), json!(n));
    }
    Ok(ok(AdmissionStatsOut {
        total: statuses.iter().map(|(_, n)| n).sum(),
        by_status: Value::Object(by_status),
        by_class: classes
            .into_iter()
            .map(|(class_applied, count)| AdmissionClassCount {
                class_applied,
                count,
            })
            .collect(),
    }))
}

async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<admission::Model> {
    admission::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The row `id`, locked for update on PostgreSQL.
async fn find_locked(txn: &kernel::db::WriteTxn, id: i64) -> ApiResult<admission::Model> {
    let mut query = admission::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(&**txn).await?.ok_or_else(ApiError::not_found)
}

/// One application (`admissions:read`).
#[utoipa::path(get, path = "/api/v1/erp/admissions/{id}/", tag = "erp",
    description = "Permission: `admissions:read`.",
    params(("id" = i64, Path)),
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn retrieve_admission(
    me: Me,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:read")?;
    Ok(ok(AdmissionOut::of(&find(&db, id).await?)))
}

/// Changes the applicant's fields (`admissions:write`), only while
/// `submitted` (else 409).
#[utoipa::path(patch, path = "/api/v1/erp/admissions/{id}/", tag = "erp",
    description = "Permission: `admissions:write`. Only a `submitted` application (else 409).",
    params(("id" = i64, Path)), request_body = AdmissionIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn update_admission(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:write")?;
    let mut c = Checker::partial(true);
    let a = check_applicant(&mut c, body);
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_locked(&txn, id).await?;
    c.finish()?;
    if before.status != "submitted" {
        return Err(ApiError::Conflict(
            format!("A {} application can no longer be changed.", before.status).into(),
        ));
    }
    check_year(&*txn, a.academic_year).await?;
    let mut row: admission::ActiveModel = before.clone().into();
    if let Some(v) = a.first_name {
        row.first_name = Set(v);
    }
    if let Some(v) = a.last_name {
        row.last_name = Set(v);
    }
    if let Some(v) = a.date_of_birth {
        row.date_of_birth = Set(v);
    }
    if let Some(v) = a.gender {
        row.gender = Set(v);
    }
    if let Some(v) = a.class_applied {
        row.class_applied = Set(v);
    }
    if let Some(v) = a.academic_year {
        row.academic_year_id = Set(v);
    }
    if let Some(v) = a.guardian_name {
        row.guardian_name = Set(v);
    }
    if let Some(v) = a.guardian_email {
        row.guardian_email = Set(v);
    }
    if let Some(v) = a.guardian_phone {
        row.guardian_phone = Set(v.unwrap_or_default());
    }
    if let Some(v) = a.previous_school {
        row.previous_school = Set(v);
    }
    if let Some(v) = a.documents {
        row.documents = Set(v);
    }
    row.updated_at = Set(kernel::time::now());
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Admission", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(ok(AdmissionOut::of(&after)))
}

/// Deletes an application (`admissions:delete`), only while `submitted` (else 409).
#[utoipa::path(delete, path = "/api/v1/erp/admissions/{id}/", tag = "erp",
    description = "Permission: `admissions:delete`. Only a `submitted` application (else 409).",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted.")),
    security(("jwt" = [])))]
pub async fn destroy_admission(
    me: Me,
    trail: Trail,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
) -> ApiResult<StatusCode> {
    me.require("admissions:delete")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_locked(&txn, id).await?;
    if before.status != "submitted" {
        return Err(ApiError::Conflict(
            format!("A {} application cannot be deleted.", before.status).into(),
        ));
    }
    admission::Entity::delete_by_id(id).exec(&*txn).await?;
    Event::new(Some(me.id()), DELETE, "Admission", id)
        .deleted(&snapshot(&before))
        .write(&*txn, &trail)
        .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remarks on a status change; `reason` (required to reject) is an alias.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AdmissionDecisionIn {
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<2000>)]
    pub remarks: Field<String>,
    /// Why (required by `reject/`).
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::blank_text::<2000>)]
    pub reason: Field<String>,
}

/// Moves application `id` from one of `from` to `to` in one transaction:
/// audit row, `admission_status` to the guardian; `reviewed` records the
/// caller as reviewer.
#[allow(clippy::too_many_arguments)]
async fn transition(
    state: &AppState,
    db: &sea_orm::DatabaseConnection,
    me: &Me,
    trail: &Trail,
    id: i64,
    from: &[&str],
    to: &str,
    remarks: Option<String>,
    reviewed: bool,
) -> ApiResult<admission::Model> {
    let txn = kernel::db::begin_write(db).await?;
    let before = find_locked(&txn, id).await?;
    if !from.contains(&before.status.as_str()) {
        return Err(ApiError::Conflict(
            format!("A {} application cannot become {to}.", before.status).into(),
        ));
    }
    let now = kernel::time::now();
    let mut row: admission::ActiveModel = before.clone().into();
    row.status = Set(to.to_owned());
    if let Some(r) = remarks.filter(|r| !r.is_empty()) {
        row.remarks = Set(r);
    }
    if reviewed {
        row.reviewed_by = Set(Some(me.id()));
        row.reviewed_at = Set(Some(now));
    }
    row.updated_at = Set(now);
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Admission", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, trail)
        .await?;
    notify_status(&*txn, &after).await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(after)
}

fn remarks_of(c: &mut Checker, body: AdmissionDecisionIn) -> Option<String> {
    let remarks = c.blank_text("remarks", body.remarks, 2000);
    let reason = c.blank_text("reason", body.reason, 2000);
    reason.filter(|r| !r.is_empty()).or(remarks)
}

/// Takes a submitted application under review (`admissions:review`).
#[utoipa::path(post, path = "/api/v1/erp/admissions/{id}/review/", tag = "erp",
    description = "Permission: `admissions:review`. From `submitted` only (else 409).",
    params(("id" = i64, Path)), request_body = AdmissionDecisionIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn review_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionDecisionIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:review")?;
    let mut c = Checker::partial(true);
    let remarks = remarks_of(&mut c, body);
    c.finish()?;
    let row = transition(
        &state,
        &db,
        &me,
        &trail,
        id,
        &["submitted"],
        "under_review",
        remarks,
        true,
    )
    .await?;
    Ok(ok(AdmissionOut::of(&row)))
}

/// Approves an application (`admissions:review`).
#[utoipa::path(post, path = "/api/v1/erp/admissions/{id}/approve/", tag = "erp",
    description = "Permission: `admissions:review`. From `submitted` or `under_review` (else 409).",
    params(("id" = i64, Path)), request_body = AdmissionDecisionIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn approve_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionDecisionIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:review")?;
    let mut c = Checker::partial(true);
    let remarks = remarks_of(&mut c, body);
    c.finish()?;
    let row = transition(
        &state,
        &db,
        &me,
        &trail,
        id,
        &["submitted", "under_review"],
        "approved",
        remarks,
        true,
    )
    .await?;
    Ok(ok(AdmissionOut::of(&row)))
}

/// Rejects an application (`admissions:review`); `reason` is required (400).
#[utoipa::path(post, path = "/api/v1/erp/admissions/{id}/reject/", tag = "erp",
    description = "Permission: `admissions:review`. From `submitted` or `under_review` (else 409); `reason` required.",
    params(("id" = i64, Path)), request_body = AdmissionDecisionIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn reject_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionDecisionIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:review")?;
    let mut c = Checker::new();
    let reason = c.text("reason", body.reason, 2000);
    c.finish()?;
    let row = transition(
        &state,
        &db,
        &me,
        &trail,
        id,
        &["submitted", "under_review"],
        "rejected",
        reason,
        true,
    )
    .await?;
    Ok(ok(AdmissionOut::of(&row)))
}

/// Withdraws an open application (`admissions:write`).
#[utoipa::path(post, path = "/api/v1/erp/admissions/{id}/withdraw/", tag = "erp",
    description = "Permission: `admissions:write`. From `submitted`, `under_review` or `approved` (else 409).",
    params(("id" = i64, Path)), request_body = AdmissionDecisionIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn withdraw_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionDecisionIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:write")?;
    let mut c = Checker::partial(true);
    let remarks = remarks_of(&mut c, body);
    c.finish()?;
    let row = transition(
        &state,
        &db,
        &me,
        &trail,
        id,
        OPEN,
        "withdrawn",
        remarks,
        false,
    )
    .await?;
    Ok(ok(AdmissionOut::of(&row)))
}

/// Once the school defines classes, the applied class must be one and the
/// section one of its sections (when it has any): else 400.
async fn class_fits(
    db: &impl ConnectionTrait,
    class_name: &str,
    section_name: &str,
) -> ApiResult<()> {
    if school_class::Entity::find().count(db).await? == 0 {
        return Ok(());
    }
    let Some(class) = school_class::Entity::find()
        .filter(school_class::Column::Name.eq(class_name))
        .one(db)
        .await?
    else {
        return Err(ApiError::field(
            "class_applied",
            format!("No class named \"{class_name}\" exists."),
        ));
    };
    let sections = section::Entity::find()
        .filter(section::Column::SchoolClassId.eq(class.id))
        .all(db)
        .await?;
    if !sections.is_empty() && !sections.iter().any(|s| s.name == section_name) {
        return Err(ApiError::field(
            "section",
            format!("Class \"{class_name}\" has no section \"{section_name}\"."),
        ));
    }
    Ok(())
}

/// The new student's account and enrolment.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AdmissionEnrollIn {
    /// The student's sign-in email.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::email, required = true)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::text::<50>, required = true)]
    pub enrollment_no: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<10>)]
    pub section: Field<String>,
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<20>)]
    pub phone: Field<String>,
    /// Without one the student is invited to set it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Field<String>,
}

/// Enrols an approved applicant (`admissions:review`): creates the user
/// (role Student; counts against `max_users`) and the student row
/// (`class_name` = `class_applied`) in one transaction; status `enrolled`.
#[utoipa::path(post, path = "/api/v1/erp/admissions/{id}/enroll/", tag = "erp",
    description = "Permission: `admissions:review`. Only an `approved` application (else 409). Email taken or enrollment number taken -> 400; plan full -> 403 `ERR_TENANT_03`.",
    params(("id" = i64, Path)), request_body = AdmissionEnrollIn,
    responses((status = 200, body = inline(Data<AdmissionOut>))),
    security(("jwt" = [])))]
pub async fn enroll_admission(
    me: Me,
    trail: Trail,
    State(state): State<AppState>,
    kernel::Db(db): kernel::Db,
    CurrentTenant(tenant): CurrentTenant,
    kernel::IntId(id): kernel::IntId,
    Json(body): Json<AdmissionEnrollIn>,
) -> ApiResult<Data<AdmissionOut>> {
    me.require("admissions:review")?;
    let txn = kernel::db::begin_write(&db).await?;
    let before = find_locked(&txn, id).await?;
    let mut c = Checker::new();
    let mut account = crate::users::check_account(
        &mut c,
        body.email,
        Field::Value(before.first_name.clone()),
        Field::Value(before.last_name.clone()),
        body.phone,
        body.password,
    );
    let enrollment_no = c.text("enrollment_no", body.enrollment_no, 50);
    let section = c
        .optional_text("section", body.section, 10)
        .flatten()
        .unwrap_or_default();
    c.finish()?;
    if before.status != "approved" {
        return Err(ApiError::Conflict(
            format!("A {} application cannot be enrolled.", before.status).into(),
        ));
    }
    let enrollment_no = enrollment_no.unwrap_or_default();
    let taken = student::Entity::find()
        .filter(student::Column::EnrollmentNo.eq(enrollment_no.clone()))
        .count(&*txn)
        .await?
        > 0;
    if taken {
        return Err(ApiError::field(
            "enrollment_no",
            "A student with this enrollment number already exists.",
        ));
    }
    class_fits(&*txn, &before.class_applied, &section).await?;
    account.roles = vec![rbac::STUDENT.into()];
    let user =
        crate::users::new_account(&state, &*txn, &tenant, Some(me.id()), &trail, account).await?;
    let now = kernel::time::now();
    let pupil = student::ActiveModel {
        user_id: Set(user.id),
        enrollment_no: Set(enrollment_no),
        class_name: Set(before.class_applied.clone()),
        section: Set(section),
        roll_number: Set(None),
        admission_date: Set(Some(now.date_naive())),
        date_of_birth: Set(before.date_of_birth),
        gender: Set(before.gender.clone()),
        blood_group: Set(String::new()),
        address: Set(String::new()),
        city: Set(String::new()),
        state: Set(String::new()),
        pincode: Set(String::new()),
        parent_name: Set(before.guardian_name.chars().take(200).collect()),
        parent_email: Set(before.guardian_email.clone()),
        parent_phone: Set(before.guardian_phone.clone()),
        parent_relationship: Set("guardian".into()),
        status: Set("active".into()),
        metadata: Set(json!({"admission_id": before.id, "application_no": before.application_no})),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*txn)
    .await
    .map_err(|e| {
        if kernel::error::is_unique_violation(&e, "enrollment_no") {
            ApiError::field(
                "enrollment_no",
                "A student with this enrollment number already exists.",
            )
        } else {
            e.into()
        }
    })?;
    Event::new(Some(me.id()), CREATE, "Student", pupil.id)
        .created(&json!({
            "user": user.id, "enrollment_no": pupil.enrollment_no, "class_name": pupil.class_name,
            "section": pupil.section, "admission_date": pupil.admission_date, "status": pupil.status,
        }))
        .write(&*txn, &trail)
        .await?;
    let mut row: admission::ActiveModel = before.clone().into();
    row.status = Set("enrolled".into());
    row.student_id = Set(Some(pupil.id));
    row.updated_at = Set(now);
    let after = row.update(&*txn).await?;
    Event::new(Some(me.id()), UPDATE, "Admission", id)
        .diff(&snapshot(&before), &snapshot(&after))
        .write(&*txn, &trail)
        .await?;
    notify_status(&*txn, &after).await?;
    txn.commit().await?;
    state.wake_jobs();
    Ok(ok(AdmissionOut::of(&after)))
}
