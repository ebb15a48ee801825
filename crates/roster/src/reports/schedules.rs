//! Scheduled reports (contract §7): `/api/reports/schedules/` CRUD
//! `{report_type, filters, frequency daily|weekly|monthly, formats[],
//! recipients[user ids], channel in_app|email|both, next_run_at (read
//! only), is_active}` for admin, deputy principal and HODs (a HOD's own
//! schedules, their filters held inside the department they head).
//!
//! Runs fall at 07:00 school time: every day, every Monday, or the first
//! of the month. The `roster.reports.scheduled` job (every 5 minutes)
//! claims each due schedule by moving its `next_run_at` on with a
//! conditional update (so of several workers exactly one runs it), builds
//! the report as the schedule's owner would see it, emails the files as
//! attachments and notifies the recipients in-app.

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kernel::audit::{Action, Actor, AuditSink, Caller, Entry};
use kernel::listing::{ListOf, Page};
use kernel::{ApiError, ApiResult, Current, Db, FieldErrors, Id, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoSimpleExpr, Order, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::build::compute;
use super::export::{Format, Letterhead, render};
use super::kinds::{Kind, Spec};
use super::stored::{check_access, describe, spec_of};
use crate::Roster;
use crate::access::{Manager, Role, forbidden, headed_department};
use crate::audit::Log;
use crate::entities::{report_schedule, user};
use crate::notify::{self, Kind as NoteKind, Note};
use crate::rest::PAGE;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(
            retrieve_schedule,
            update_schedule,
            partial_update_schedule,
            destroy_schedule
        ))
}

pub const FREQUENCIES: &[&str] = &["daily", "weekly", "monthly"];
pub const CHANNELS: &[&str] = &["in_app", "email", "both"];
/// The most people one schedule is delivered to.
const MAX_RECIPIENTS: usize = 200;

kernel::choices!(
    /// How often a schedule runs.
    pub FrequencyChoice = FREQUENCIES
);

kernel::choices!(
    /// How a scheduled report is delivered.
    pub ChannelChoice = CHANNELS
);
/// The school-time hour runs fall at.
const RUN_HOUR: u32 = 7;

/// The first run time after `after`: 07:00 school time the next day
/// (daily), the next Monday (weekly) or the first of the next month
/// (monthly) — or today's, when it is still ahead.
pub fn next_run(frequency: &str, after: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = after.with_timezone(&tz).date_naive();
    let at = |date: NaiveDate| {
        let naive = date.and_hms_opt(RUN_HOUR, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&naive)
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
    };
    let (first, step): (NaiveDate, fn(NaiveDate) -> NaiveDate) = match frequency {
        "weekly" => {
            let ahead = (7 - local.weekday().num_days_from_monday()) % 7;
            (local + Days::new(u64::from(ahead)), |d| d + Days::new(7))
        }
        "monthly" => (local.with_day(1).unwrap_or(local), |d| {
            d.checked_add_months(Months::new(1)).unwrap_or(d)
        }),
        _ => (local, |d| d + Days::new(1)),
    };
    let mut date = first;
    while at(date) <= after {
        date = step(date);
    }
    at(date)
}

/// A schedule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportScheduleOut {
    pub id: Uuid,
    pub report_type: String,
    #[schema(value_type = Object)]
    pub filters: Value,
    /// `daily`, `weekly` (Mondays) or `monthly` (the 1st), at 07:00 school time.
    pub frequency: String,
    /// Of `pdf`, `csv`, `xlsx`, `json`.
    pub formats: Vec<String>,
    /// User ids.
    pub recipients: Vec<Uuid>,
    /// `in_app`, `email` or `both`.
    pub channel: String,
    pub next_run_at: DateTime<Utc>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<report_schedule::Model> for ReportScheduleOut {
    fn from(s: report_schedule::Model) -> Self {
        Self {
            id: s.id,
            report_type: s.report_type,
            filters: serde_json::from_str(&s.filters).unwrap_or_else(|_| json!({})),
            frequency: s.frequency,
            formats: serde_json::from_str(&s.formats).unwrap_or_default(),
            recipients: serde_json::from_str(&s.recipients).unwrap_or_default(),
            channel: s.channel,
            next_run_at: s.next_run_at,
            last_run_at: s.last_run_at,
            is_active: s.is_active,
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// What a schedule body may set (`next_run_at` is computed).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ScheduleIn {
    #[serde(default)]
    #[schema(value_type = super::kinds::ReportTypeChoice, required = true)]
    pub report_type: Option<Value>,
    /// The report's filters and subject, as `POST /api/reports/` takes them.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
    #[serde(default)]
    #[schema(value_type = FrequencyChoice, required = true)]
    pub frequency: Option<Value>,
    /// Default (or null) `["pdf"]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<super::export::ReportFormat>>, min_items = 1)]
    pub formats: Option<Value>,
    /// Default (or null): the caller.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, min_items = 1)]
    pub recipients: Option<Value>,
    /// Default `both`.
    #[serde(default)]
    #[schema(value_type = Option<ChannelChoice>)]
    pub channel: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_active: Option<Value>,
}

/// A schedule as a write leaves it.
#[derive(Debug, Clone, PartialEq)]
struct Draft {
    report_type: String,
    filters: Value,
    frequency: String,
    formats: Vec<String>,
    recipients: Vec<Uuid>,
    channel: String,
    is_active: bool,
}

impl Draft {
    fn of(s: &report_schedule::Model) -> Self {
        let out = ReportScheduleOut::from(s.clone());
        Self {
            report_type: out.report_type,
            filters: out.filters,
            frequency: out.frequency,
            formats: out.formats,
            recipients: out.recipients,
            channel: out.channel,
            is_active: out.is_active,
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "report_type": self.report_type, "filters": self.filters, "frequency": self.frequency,
            "formats": self.formats, "recipients": self.recipients, "channel": self.channel,
            "is_active": self.is_active,
        })
    }
}

fn choice(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    choices: &[&str],
) -> Option<String> {
    match value {
        Value::String(s) if choices.contains(&s.trim()) => Some(s.trim().to_owned()),
        Value::String(s) => {
            errors.add(field, format!("\"{s}\" is not a valid choice."));
            None
        }
        _ => {
            errors.add(field, "Not a valid string.");
            None
        }
    }
}

/// Checks `input` over `existing` (none: a new schedule) for `me`.
async fn validate(
    db: &impl ConnectionTrait,
    me: &user::Model,
    input: ScheduleIn,
    existing: Option<&report_schedule::Model>,
) -> ApiResult<Draft> {
    let before = existing.map(Draft::of);
    let mut errors = FieldErrors::new();
    // The report: its kind and filters, held inside a HOD's department.
    let report_type = input
        .report_type
        .clone()
        .or_else(|| before.as_ref().map(|b| json!(b.report_type)));
    let filters = input
        .filters
        .clone()
        .or_else(|| before.as_ref().map(|b| b.filters.clone()));
    let mut spec: Spec = spec_of(db, report_type.as_ref(), filters.as_ref()).await?;
    if me.role() == Role::Hod {
        let Some(department) = headed_department(db, me).await? else {
            return Err(forbidden());
        };
        match spec.kind {
            Kind::School => return Err(forbidden()),
            Kind::Department => spec.subject = Some(department),
            _ => {}
        }
    }
    check_access(db, me, &spec).await?;
    let frequency = match input.frequency.as_ref() {
        Some(v) => choice(&mut errors, "frequency", v, FREQUENCIES),
        None => match &before {
            Some(b) => Some(b.frequency.clone()),
            None => {
                errors.add("frequency", kernel::form::REQUIRED);
                None
            }
        },
    };
    let channel = match input.channel.as_ref() {
        Some(v) => choice(&mut errors, "channel", v, CHANNELS),
        None => Some(
            before
                .as_ref()
                .map_or_else(|| "both".to_owned(), |b| b.channel.clone()),
        ),
    };
    let formats = match input.formats.as_ref() {
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                if let Some(f) = choice(&mut errors, "formats", item, Format::CHOICES)
                    && !out.contains(&f)
                {
                    out.push(f);
                }
            }
            out
        }
        Some(Value::Array(_)) => {
            errors.add("formats", "This list may not be empty.");
            Vec::new()
        }
        Some(_) => {
            errors.add("formats", "Expected a list of items.");
            Vec::new()
        }
        None => before
            .as_ref()
            .map_or_else(|| vec!["pdf".to_owned()], |b| b.formats.clone()),
    };
    let recipients = match input.recipients.as_ref() {
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut wanted: Vec<Uuid> = Vec::new();
            for item in items {
                let raw = item
                    .as_str()
                    .map_or_else(|| item.to_string(), str::to_owned);
                match Uuid::parse_str(raw.trim()) {
                    Ok(id) if !wanted.contains(&id) => wanted.push(id),
                    Ok(_) => {}
                    Err(_) => errors.add("recipients", crate::rest::invalid_pk(&raw)),
                }
            }
            if wanted.len() > MAX_RECIPIENTS {
                errors.add(
                    "recipients",
                    format!("Ensure this field has no more than {MAX_RECIPIENTS} elements."),
                );
                wanted.clear();
            }
            let known: Vec<Uuid> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(user::Column::Id.is_in(wanted.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
            for id in wanted.iter().filter(|id| !known.contains(id)) {
                errors.add("recipients", crate::rest::invalid_pk(&id.to_string()));
            }
            // A report goes only to its owner and people the owner may
            // send to: the same reach as sending them a notification.
            let others: Vec<Uuid> = known.iter().copied().filter(|id| *id != me.id).collect();
            if !others.is_empty() && !crate::notifications::within_reach(db, me, &others).await? {
                errors.add(
                    "recipients",
                    "You can only send reports to users you may notify.",
                );
            }
            known
        }
        Some(Value::Array(_)) => {
            errors.add("recipients", "This list may not be empty.");
            Vec::new()
        }
        Some(_) => {
            errors.add("recipients", "Expected a list of items.");
            Vec::new()
        }
        None => before
            .as_ref()
            .map_or_else(|| vec![me.id], |b| b.recipients.clone()),
    };
    let is_active = match input.is_active.as_ref() {
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("is_active", "Must be a valid boolean.");
            true
        }
        None => before.as_ref().is_none_or(|b| b.is_active),
    };
    errors.into_result()?;
    Ok(Draft {
        report_type: spec.kind.as_str().to_owned(),
        filters: spec.filters_json(),
        frequency: frequency.unwrap_or_default(),
        formats,
        recipients,
        channel: channel.unwrap_or_default(),
        is_active,
    })
}

/// The schedules a caller reaches: all for the leads, a HOD's own.
fn scope(me: &user::Model) -> Condition {
    if me.role().is_academic_lead() {
        Condition::all()
    } else {
        Condition::all().add(report_schedule::Column::CreatedBy.eq(me.id))
    }
}

async fn visible(
    db: &impl ConnectionTrait,
    me: &user::Model,
    id: Uuid,
) -> ApiResult<report_schedule::Model> {
    report_schedule::Entity::find_by_id(id)
        .filter(scope(me))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The schedules the caller reaches (admin, deputy principal: all; HOD:
/// own). Ordering `next_run_at`, `created_at`.
#[utoipa::path(get, path = "/api/reports/schedules/", tag = "reports", security(("jwt" = [])),
    params(("ordering" = Option<String>, Query), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query)),
    responses((status = 200, body = Page<ReportScheduleOut>), (status = 401), (status = 403)))]
pub async fn list_schedules(
    Db(db): Db,
    Manager(Current(me)): Manager,
    list: ListOf<Roster>,
) -> ApiResult<Json<Page<ReportScheduleOut>>> {
    let query = list.order(
        report_schedule::Entity::find().filter(scope(&me)),
        &[
            (
                "next_run_at",
                report_schedule::Column::NextRunAt.into_simple_expr(),
            ),
            (
                "created_at",
                report_schedule::Column::CreatedAt.into_simple_expr(),
            ),
        ],
        &[("next_run_at", Order::Asc)],
        report_schedule::Column::Id,
    );
    let Page {
        count,
        next,
        previous,
        results,
    } = list.page(&db, query, PAGE).await?;
    Ok(Json(Page {
        count,
        next,
        previous,
        results: results.into_iter().map(ReportScheduleOut::from).collect(),
    }))
}

/// Schedule a report (admin, deputy principal, HOD for their department).
#[utoipa::path(post, path = "/api/reports/schedules/", tag = "reports", security(("jwt" = [])),
    request_body = ScheduleIn,
    responses((status = 201, body = ReportScheduleOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create_schedule(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    body: Result<Json<ScheduleIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<ReportScheduleOut>)> {
    let Json(input) = body?;
    let draft = validate(&db, &me, input, None).await?;
    let tz = crate::timetable::engine::school_timezone(&db).await?;
    let now = kernel::time::now();
    let txn = kernel::db::begin_write(&db).await?;
    let row = report_schedule::ActiveModel {
        id: Set(Uuid::new_v4()),
        report_type: Set(draft.report_type.clone()),
        filters: Set(draft.filters.to_string()),
        frequency: Set(draft.frequency.clone()),
        formats: Set(json!(draft.formats).to_string()),
        recipients: Set(json!(draft.recipients).to_string()),
        channel: Set(draft.channel.clone()),
        next_run_at: Set(next_run(&draft.frequency, now, tz)),
        last_run_at: Set(None),
        is_active: Set(draft.is_active),
        created_by: Set(me.id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let entry = Entry::new(&actor, Action::CREATE, "report_schedule", row.id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::created(&draft.snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// One schedule (404 outside the caller's reach).
#[utoipa::path(get, path = "/api/reports/schedules/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReportScheduleOut), (status = 401), (status = 403), (status = 404)))]
pub async fn retrieve_schedule(
    Db(db): Db,
    Manager(Current(me)): Manager,
    Id(id): Id,
) -> ApiResult<Json<ReportScheduleOut>> {
    Ok(Json(visible(&db, &me, id).await?.into()))
}

async fn update(
    db: &sea_orm::DatabaseConnection,
    me: &user::Model,
    actor: &Actor,
    id: Uuid,
    body: Result<Json<ScheduleIn>, ApiError>,
    partial: bool,
) -> ApiResult<Json<ReportScheduleOut>> {
    let existing = visible(db, me, id).await?;
    let Json(input) = body?;
    if !partial {
        let mut errors = FieldErrors::new();
        if input.report_type.is_none() {
            errors.add("report_type", kernel::form::REQUIRED);
        }
        if input.frequency.is_none() {
            errors.add("frequency", kernel::form::REQUIRED);
        }
        errors.into_result()?;
    }
    let draft = validate(db, me, input, Some(&existing)).await?;
    let before = Draft::of(&existing);
    let now = kernel::time::now();
    let tz = crate::timetable::engine::school_timezone(db).await?;
    let next = if draft.frequency != before.frequency || (draft.is_active && !before.is_active) {
        next_run(&draft.frequency, now, tz)
    } else {
        existing.next_run_at
    };
    let txn = kernel::db::begin_write(db).await?;
    let mut row: report_schedule::ActiveModel = existing.into();
    row.report_type = Set(draft.report_type.clone());
    row.filters = Set(draft.filters.to_string());
    row.frequency = Set(draft.frequency.clone());
    row.formats = Set(json!(draft.formats).to_string());
    row.recipients = Set(json!(draft.recipients).to_string());
    row.channel = Set(draft.channel.clone());
    row.is_active = Set(draft.is_active);
    row.next_run_at = Set(next);
    row.updated_at = Set(now);
    let updated = row.update(&txn).await?;
    let entry = Entry::new(actor, Action::UPDATE, "report_schedule", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::diff(&before.snapshot(), &draft.snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Replace a schedule.
#[utoipa::path(put, path = "/api/reports/schedules/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = ScheduleIn,
    responses((status = 200, body = ReportScheduleOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_schedule(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    body: Result<Json<ScheduleIn>, ApiError>,
) -> ApiResult<Json<ReportScheduleOut>> {
    update(&db, &me, &actor, id, body, false).await
}

/// Change some of a schedule's fields.
#[utoipa::path(patch, path = "/api/reports/schedules/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)), request_body = ScheduleIn,
    responses((status = 200, body = ReportScheduleOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn partial_update_schedule(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
    body: Result<Json<ScheduleIn>, ApiError>,
) -> ApiResult<Json<ReportScheduleOut>> {
    update(&db, &me, &actor, id, body, true).await
}

/// Remove a schedule.
#[utoipa::path(delete, path = "/api/reports/schedules/{id}/", tag = "reports", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy_schedule(
    Db(db): Db,
    Caller(Manager(Current(me)), actor): Caller<Manager>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let existing = visible(&db, &me, id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    let deleted = report_schedule::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found());
    }
    let entry = Entry::new(&actor, Action::DELETE, "report_schedule", id);
    Log::write(
        &txn,
        entry.changes(kernel::audit::deleted(&Draft::of(&existing).snapshot())),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `roster.reports.scheduled` job: every due schedule, each claimed by
/// moving `next_run_at` on only if it still holds the value read.
pub async fn run(state: AppState, _payload: Value) -> Result<(), String> {
    let db = &state.kernel.db;
    let now = kernel::time::now();
    let due = report_schedule::Entity::find()
        .filter(report_schedule::Column::IsActive.eq(true))
        .filter(report_schedule::Column::NextRunAt.lte(now))
        .all(db)
        .await
        .map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(());
    }
    let tz = crate::timetable::engine::school_timezone(db)
        .await
        .map_err(|e| e.to_string())?;
    for schedule in due {
        let txn = kernel::db::begin_write(db)
            .await
            .map_err(|e| e.to_string())?;
        let claimed = report_schedule::Entity::update_many()
            .col_expr(
                report_schedule::Column::NextRunAt,
                Expr::value(next_run(&schedule.frequency, now, tz)),
            )
            .col_expr(report_schedule::Column::LastRunAt, Expr::value(Some(now)))
            .filter(report_schedule::Column::Id.eq(schedule.id))
            .filter(report_schedule::Column::NextRunAt.eq(schedule.next_run_at))
            .exec(&txn)
            .await
            .map_err(|e| e.to_string())?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let system = Actor::system();
        let entry = Entry::new(&system, Action("run"), "report_schedule", schedule.id);
        Log::write(
            &txn,
            entry.changes(json!({"last_run_at": [schedule.last_run_at, now]})),
        )
        .await
        .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
        if let Err(error) = deliver(&state, &schedule, tz).await {
            tracing::warn!(schedule.id = %schedule.id, %error, "scheduled report not delivered");
        }
    }
    Ok(())
}

/// Builds one schedule's report and sends it.
async fn deliver(
    state: &AppState,
    schedule: &report_schedule::Model,
    tz: Tz,
) -> Result<(), String> {
    let db = &state.kernel.db;
    let out = ReportScheduleOut::from(schedule.clone());
    let owner = user::Entity::find_by_id(schedule.created_by)
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the schedule's owner no longer exists")?;
    let spec = spec_of(db, Some(&json!(out.report_type)), Some(&out.filters))
        .await
        .map_err(|e| describe(&e))?;
    let report = compute(db, &owner, &spec).await.map_err(|e| describe(&e))?;
    let recipients: Vec<user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(out.recipients.iter().copied()))
        .filter(user::Column::IsActive.eq(true))
        .all(db)
        .await
        .map_err(|e| e.to_string())?;
    let kind = spec.kind.title();
    let date = kernel::time::now().with_timezone(&tz).date_naive();
    let subject = format!("{} ({}), {date}", kind, out.frequency);
    if matches!(out.channel.as_str(), "email" | "both")
        && let Some(mailer) = &state.kernel.mailer
    {
        let letterhead = Letterhead::of(state, db).await.map_err(|e| describe(&e))?;
        let mut files = Vec::new();
        for name in &out.formats {
            let Some(format) = Format::parse(name) else {
                continue;
            };
            let file = render(&report, format, &letterhead, tz).map_err(|e| describe(&e))?;
            files.push(kernel::mail::Attachment {
                filename: file.filename,
                content_type: file.content_type.to_owned(),
                bytes: file.bytes,
            });
        }
        let body = format!(
            "Hello,\n\nAttached is the {} {}, generated {}.\n\nSmart Roster",
            out.frequency,
            kind.to_lowercase(),
            report
                .generated_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z"),
        );
        for person in &recipients {
            if let Err(error) = mailer
                .send_with_attachments(&person.email, &subject, &body, &files)
                .await
            {
                tracing::warn!(schedule.id = %schedule.id, %error, "scheduled report email failed");
            }
        }
    }
    if matches!(out.channel.as_str(), "in_app" | "both") {
        let message = format!(
            "The {} {} has been generated.",
            out.frequency,
            kind.to_lowercase()
        );
        // The schedule's channel decides: its email (with the files) went
        // out above, so the notification stays in the app.
        let note = Note::new(NoteKind::Report, &subject, &message)
            .about("report_schedule", schedule.id)
            .in_app_only();
        let txn = kernel::db::begin_write(db)
            .await
            .map_err(|e| e.to_string())?;
        notify::send(&txn, recipients.iter().map(|u| u.id), &note)
            .await
            .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn runs_fall_at_seven_school_time() {
        let tz: Tz = "Africa/Nairobi".parse().unwrap_or(chrono_tz::UTC);
        // Monday 2026-11-30 03:00 UTC is 06:00 in Nairobi: today's run is ahead.
        let monday = utc("2026-11-30T03:00:00Z");
        assert_eq!(next_run("weekly", monday, tz), utc("2026-11-30T04:00:00Z"));
        assert_eq!(next_run("daily", monday, tz), utc("2026-11-30T04:00:00Z"));
        assert_eq!(next_run("monthly", monday, tz), utc("2026-12-01T04:00:00Z"));
        // After 07:00 the next one.
        let later = utc("2026-11-30T05:00:00Z");
        assert_eq!(next_run("weekly", later, tz), utc("2026-12-07T04:00:00Z"));
        assert_eq!(next_run("daily", later, tz), utc("2026-12-01T04:00:00Z"));
        let wednesday = utc("2026-12-02T12:00:00Z");
        assert_eq!(
            next_run("weekly", wednesday, tz),
            utc("2026-12-07T04:00:00Z")
        );
        assert_eq!(
            next_run("monthly", wednesday, tz),
            utc("2027-01-01T04:00:00Z")
        );
        assert_eq!(
            next_run("monthly", utc("2026-12-01T03:59:00Z"), tz),
            utc("2026-12-01T04:00:00Z")
        );
    }
}
