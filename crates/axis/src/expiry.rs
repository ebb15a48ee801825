//! The daily expiry job (axis contract §13): contracts past their
//! `end_date` and documents past their `expiry_date` become Expired, and the
//! people concerned are reminded by email 30 and 7 days ahead. Each kind is
//! one write transaction holding its status changes, their audit rows (the
//! system acts: no user), the queued emails and the rows recording that
//! they were sent (`axis_expiry_reminders`), so a rerun, here or on another
//! node, changes nothing and sends nothing twice.

use chrono::{NaiveDate, TimeDelta};
use kernel::money::Money;
use kernel::{ApiError, ApiResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::access::RequestInfo;
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, contract, document, expiry_reminder, user};
use crate::state::AppState;

/// The job kind of one queued email.
pub const EMAIL_JOB: &str = "axis.email";
/// Days ahead of the end at which a reminder goes out.
pub const REMINDER_DAYS: [i64; 2] = [30, 7];

/// Contract statuses that expire once the end date has passed.
const EXPIRING_CONTRACTS: &[&str] = &["Active", "Renewed", "Suspended", "Pending"];
/// Contract statuses whose end is worth a reminder.
const RUNNING_CONTRACTS: &[&str] = &["Active", "Renewed"];
/// Document statuses that never expire (again).
const SETTLED_DOCUMENTS: &[&str] = &["Expired", "Archived"];

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub contracts_expired: u64,
    pub documents_expired: u64,
    /// Emails queued.
    pub reminders: u64,
}

/// Applies expiry and reminders as of `today` (UTC).
pub async fn run(state: &AppState, today: NaiveDate) -> Result<Report, ApiError> {
    let mut report = Report::default();
    let queued_contracts = contracts(state, today, &mut report).await?;
    wake(state, queued_contracts);
    let queued_documents = documents(state, today, &mut report).await?;
    wake(state, queued_documents);
    Ok(report)
}

fn wake(state: &AppState, queued: bool) {
    if queued {
        state.jobs_wake.notify_one();
    }
}

/// The system, as the audit trail names it.
fn system() -> RequestInfo {
    RequestInfo {
        method: "JOB".into(),
        path: "expiry".into(),
        ..RequestInfo::default()
    }
}

/// The dates `REMINDER_DAYS` ahead of `today`.
fn reminder_dates(today: NaiveDate) -> Vec<(i32, NaiveDate)> {
    REMINDER_DAYS
        .iter()
        .filter_map(|&days| {
            let date = today.checked_add_signed(TimeDelta::days(days))?;
            Some((i32::try_from(days).ok()?, date))
        })
        .collect()
}

fn contract_record(row: &contract::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["billing_amount"] = json!(Money(row.billing_amount).to_string());
    value
}

fn document_record(row: &document::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["tags"] = json!(row.tag_list());
    value
}

fn usable(email: Option<&str>) -> Option<String> {
    email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
}

/// Expires and reminds contracts; `true` when an email was queued.
async fn contracts(state: &AppState, today: NaiveDate, report: &mut Report) -> ApiResult<bool> {
    let request = system();
    let who = Who {
        user_id: None,
        email: None,
        request: &request,
    };
    let txn = kernel::db::begin_write(&state.db).await?;
    let due = contract::Entity::find()
        .filter(contract::Column::DeletedAt.is_null())
        .filter(contract::Column::Status.is_in(EXPIRING_CONTRACTS.iter().copied()))
        .filter(contract::Column::EndDate.lt(today))
        .order_by_asc(contract::Column::Id)
        .lock_exclusive()
        .all(&txn)
        .await?;
    for before in due {
        let mut row: contract::ActiveModel = before.clone().into();
        row.status = Set("Expired".into());
        row.updated_at = Set(kernel::time::now());
        let after = row.update(&txn).await?;
        let change = Change::updated(&contract_record(&before), &contract_record(&after))
            .reason(Some(format!("End date {} passed", before.end_date)));
        let event = Event::new("Update", "Contract", &after.id)
            .change(change)
            .data("job", json!("expiry"));
        audit::record(&txn, who, event).await?;
        report.contracts_expired += 1;
    }
    let mut queued = false;
    if state.mailer.is_some() {
        for (days, date) in reminder_dates(today) {
            let ending = contract::Entity::find()
                .filter(contract::Column::DeletedAt.is_null())
                .filter(contract::Column::Status.is_in(RUNNING_CONTRACTS.iter().copied()))
                .filter(contract::Column::EndDate.eq(date))
                .order_by_asc(contract::Column::Id)
                .lock_exclusive()
                .all(&txn)
                .await?;
            for row in ending {
                let Some(owner) = client::Entity::find_by_id(row.client_id.clone())
                    .filter(client::Column::DeletedAt.is_null())
                    .one(&txn)
                    .await?
                else {
                    continue;
                };
                let Some(to) = usable(owner.contact_email.as_deref())
                    .or_else(|| usable(owner.email.as_deref()))
                else {
                    continue;
                };
                let subject = format!("Contract {} ends on {}", row.contract_number, row.end_date);
                let body = format!(
                    "Hello {},\n\nYour contract {} (\"{}\")\n\
                     ends on {}, in {} days.\n\
                     Please contact us if it should be renewed.\n",
                    owner.name.trim(),
                    row.contract_number,
                    row.title,
                    row.end_date,
                    days,
                );
                let target = Reminder {
                    entity_type: "contract",
                    entity_id: &row.id,
                    due_date: row.end_date,
                    days_before: days,
                };
                if remind(&txn, target, &to, &subject, &body).await? {
                    report.reminders += 1;
                    queued = true;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(queued)
}

/// Expires and reminds documents; `true` when an email was queued.
async fn documents(state: &AppState, today: NaiveDate, report: &mut Report) -> ApiResult<bool> {
    let request = system();
    let who = Who {
        user_id: None,
        email: None,
        request: &request,
    };
    let txn = kernel::db::begin_write(&state.db).await?;
    let due = document::Entity::find()
        .filter(document::Column::DeletedAt.is_null())
        .filter(document::Column::Status.is_not_in(SETTLED_DOCUMENTS.iter().copied()))
        .filter(document::Column::ExpiryDate.lt(today))
        .order_by_asc(document::Column::Id)
        .lock_exclusive()
        .all(&txn)
        .await?;
    for before in due {
        let mut row: document::ActiveModel = before.clone().into();
        row.status = Set("Expired".into());
        row.updated_at = Set(kernel::time::now());
        let after = row.update(&txn).await?;
        let passed = before
            .expiry_date
            .map(|d| d.to_string())
            .unwrap_or_default();
        let change = Change::updated(&document_record(&before), &document_record(&after))
            .reason(Some(format!("Expiry date {passed} passed")));
        let event = Event::new("Update", "Document", &after.id)
            .change(change)
            .data("job", json!("expiry"));
        audit::record(&txn, who, event).await?;
        report.documents_expired += 1;
    }
    let mut queued = false;
    if state.mailer.is_some() {
        for (days, date) in reminder_dates(today) {
            let expiring = document::Entity::find()
                .filter(document::Column::DeletedAt.is_null())
                .filter(document::Column::IsLatest.eq(true))
                .filter(document::Column::Status.is_not_in(SETTLED_DOCUMENTS.iter().copied()))
                .filter(document::Column::ExpiryDate.eq(date))
                .order_by_asc(document::Column::Id)
                .lock_exclusive()
                .all(&txn)
                .await?;
            for row in expiring {
                let Some(uploader_id) = row.uploaded_by_id.clone() else {
                    continue;
                };
                let Some(uploader) = user::Entity::find_by_id(uploader_id)
                    .filter(user::Column::DeletedAt.is_null())
                    .one(&txn)
                    .await?
                else {
                    continue;
                };
                let Some(to) = usable(Some(&uploader.email)) else {
                    continue;
                };
                let subject = format!("Document \"{}\" expires on {date}", row.title);
                let body = format!(
                    "Hello {},\n\nThe document \"{}\" (version {}) that you uploaded\n\
                     expires on {date}, in {days} days.\n\
                     Please upload a new version if it is still needed.\n",
                    uploader.first_name.trim(),
                    row.title,
                    row.version,
                );
                let target = Reminder {
                    entity_type: "document",
                    entity_id: &row.id,
                    due_date: date,
                    days_before: days,
                };
                if remind(&txn, target, &to, &subject, &body).await? {
                    report.reminders += 1;
                    queued = true;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(queued)
}

/// What a reminder is about.
#[derive(Debug, Clone, Copy)]
struct Reminder<'a> {
    entity_type: &'static str,
    entity_id: &'a str,
    due_date: NaiveDate,
    days_before: i32,
}

/// Queues the reminder `target` to `to` and records it, unless it was sent
/// already; `true` when queued.
async fn remind(
    db: &impl ConnectionTrait,
    target: Reminder<'_>,
    to: &str,
    subject: &str,
    body: &str,
) -> ApiResult<bool> {
    let sent = expiry_reminder::Entity::find()
        .filter(expiry_reminder::Column::EntityType.eq(target.entity_type))
        .filter(expiry_reminder::Column::EntityId.eq(target.entity_id))
        .filter(expiry_reminder::Column::DueDate.eq(target.due_date))
        .filter(expiry_reminder::Column::DaysBefore.eq(target.days_before))
        .one(db)
        .await?;
    if sent.is_some() {
        return Ok(false);
    }
    expiry_reminder::ActiveModel {
        id: Set(kernel::cuid::new()),
        entity_type: Set(target.entity_type.to_owned()),
        entity_id: Set(target.entity_id.to_owned()),
        due_date: Set(target.due_date),
        days_before: Set(target.days_before),
        recipient: Set(to.to_owned()),
        sent_at: Set(kernel::time::now()),
    }
    .insert(db)
    .await?;
    kernel::jobs::enqueue(
        db,
        EMAIL_JOB,
        json!({"to": to, "subject": subject, "body": body}),
    )
    .await?;
    Ok(true)
}

/// The job that sends one queued email.
pub async fn send(state: AppState, payload: Value) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let field = |name: &str| payload[name].as_str().unwrap_or_default().to_owned();
    mailer
        .send(&field("to"), &field("subject"), &field("body"))
        .await
}
