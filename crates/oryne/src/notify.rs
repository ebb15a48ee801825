//! The notifications gateway core (contract §11): [`queue`] writes a
//! notification and its delivery job in the transaction of the change
//! that causes it; the `oryne.gns.deliver` job hands it to the GNS when one
//! is configured, else sends email through the kernel's mailer; `in_app`
//! rows stay here and wake the live stream.

use chrono::Duration as Span;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use serde_json::{Value, json};
use sha2::Digest;

use crate::entities::{notification, notification_preference, password_reset};
use crate::state::AppState;

pub const DELIVER_JOB: &str = "oryne.gns.deliver";

pub const CHANNELS: &[&str] = &["email", "sms", "push", "in_app"];
pub const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// A template: name, the variables its data must carry, whether users may
/// turn it off, title and body with `{variable}` placeholders.
pub struct Template {
    pub name: &'static str,
    pub variables: &'static [&'static str],
    pub mandatory: bool,
    pub title: &'static str,
    pub body: &'static str,
}

const fn t(
    name: &'static str,
    variables: &'static [&'static str],
    mandatory: bool,
    title: &'static str,
    body: &'static str,
) -> Template {
    Template {
        name,
        variables,
        mandatory,
        title,
        body,
    }
}

/// Every template (contract §11).
pub const TEMPLATES: &[Template] = &[
    t(
        "tenant_welcome",
        &["tenant_name", "subdomain", "login_url"],
        true,
        "Welcome to Oryne, {tenant_name}",
        "Your school {tenant_name} is ready at {subdomain}. Sign in at {login_url}.",
    ),
    t(
        "welcome_email",
        &["first_name", "tenant_name", "login_url"],
        true,
        "Welcome to {tenant_name}",
        "Hello {first_name}, an account was created for you at {tenant_name}. Set your password and sign in at {login_url}.",
    ),
    t(
        "password_reset",
        &["first_name", "login_url"],
        true,
        "Reset your password",
        "Hello {first_name}, use the link sent with this message within an hour to choose a new password: {login_url}.",
    ),
    t(
        "attendance_absent",
        &["student_name", "date", "class_name"],
        false,
        "{student_name} was absent",
        "{student_name} was marked absent in class {class_name} on {date}.",
    ),
    t(
        "admission_status",
        &["applicant_name", "application_no", "status"],
        false,
        "Admission {application_no}: {status}",
        "The application {application_no} for {applicant_name} is now {status}.",
    ),
    t(
        "assignment_published",
        &["title", "course"],
        false,
        "New assignment: {title}",
        "{title} was published in {course}.",
    ),
    t(
        "assignment_due",
        &["title", "due_date"],
        false,
        "Due soon: {title}",
        "{title} is due on {due_date}.",
    ),
    t(
        "grade_published",
        &["title", "marks"],
        false,
        "Graded: {title}",
        "Your work on {title} was graded: {marks}.",
    ),
    t(
        "fee_reminder",
        &["amount", "due_date"],
        false,
        "Fee reminder",
        "An instalment of {amount} is due on {due_date}.",
    ),
    t(
        "fee_receipt",
        &["amount", "receipt_number"],
        false,
        "Payment received",
        "We received {amount} (receipt {receipt_number}).",
    ),
    t(
        "library_due",
        &["title", "due_at"],
        false,
        "Library book due",
        "{title} is due back on {due_at}.",
    ),
    t(
        "library_overdue",
        &["title", "due_at"],
        false,
        "Library book overdue",
        "{title} was due back on {due_at}.",
    ),
    t(
        "library_reservation_ready",
        &["title"],
        false,
        "Reserved book ready",
        "{title} is ready for you to collect.",
    ),
    t(
        "hostel_pass_status",
        &["student_name", "status"],
        false,
        "Hostel pass {status}",
        "The pass of {student_name} is {status}.",
    ),
    t(
        "transport_alert",
        &["route", "stop"],
        false,
        "The bus is near",
        "Route {route} is approaching {stop}.",
    ),
    t(
        "event_registration",
        &["event", "status"],
        false,
        "Event registration: {event}",
        "Your registration for {event} is {status}.",
    ),
    t(
        "event_reminder",
        &["event", "start_at"],
        false,
        "Reminder: {event}",
        "{event} starts at {start_at}.",
    ),
    t(
        "event_cancelled",
        &["event"],
        false,
        "Cancelled: {event}",
        "{event} was cancelled.",
    ),
    t(
        "order_status",
        &["order_no", "status"],
        false,
        "Order {order_no}: {status}",
        "Your order {order_no} is {status}.",
    ),
    t(
        "announcement",
        &["title", "body"],
        false,
        "{title}",
        "{body}",
    ),
    t(
        "subscription_notice",
        &["tenant_name", "ends_on"],
        true,
        "Subscription notice",
        "The subscription of {tenant_name} ends on {ends_on}.",
    ),
];

pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// `text` with each `{variable}` replaced by `data`'s value.
pub fn fill(text: &str, data: &Value) -> String {
    let mut out = text.to_owned();
    if let Value::Object(map) = data {
        for (key, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out = out.replace(&format!("{{{key}}}"), &value);
        }
    }
    out
}

/// One notification to queue.
#[derive(Debug, Clone)]
pub struct Notice {
    pub user_id: Option<i64>,
    pub recipient: String,
    pub channel: &'static str,
    pub template: &'static str,
    pub data: Value,
    pub priority: &'static str,
    /// A free title and body (`send/` without a template).
    pub text: Option<(String, String)>,
}

impl Notice {
    pub fn new(
        template: &'static str,
        channel: &'static str,
        recipient: impl Into<String>,
        data: Value,
    ) -> Self {
        Self {
            user_id: None,
            recipient: recipient.into(),
            channel,
            template,
            data,
            priority: "normal",
            text: None,
        }
    }

    pub fn to_user(mut self, id: i64) -> Self {
        self.user_id = Some(id);
        self
    }
}

/// Queues `notice` in the causing transaction `db`: its row and, for every
/// channel but `in_app`, its delivery job. A template the user turned off
/// on that channel is not queued (mandatory ones always are). Answers the
/// notification's id, if queued.
///
/// After the transaction commits, the caller calls [`wake`] with the users
/// of the `in_app` rows it queued (their live streams show them at once;
/// without it they appear within the streams' two-second poll) — `wake`
/// also wakes the job runner, so it replaces `state.wake_jobs()`.
pub async fn queue(db: &impl ConnectionTrait, notice: Notice) -> Result<Option<i64>, DbErr> {
    let template = template(notice.template);
    if let (Some(user), Some(t)) = (notice.user_id, template)
        && !t.mandatory
    {
        let off = notification_preference::Entity::find()
            .filter(notification_preference::Column::UserId.eq(user))
            .filter(notification_preference::Column::Template.eq(notice.template))
            .filter(notification_preference::Column::Channel.eq(notice.channel))
            .filter(notification_preference::Column::Enabled.eq(false))
            .one(db)
            .await?
            .is_some();
        if off {
            return Ok(None);
        }
    }
    let (title, body) = match (&notice.text, template) {
        (Some((title, body)), _) => (title.clone(), body.clone()),
        (None, Some(t)) => (fill(t.title, &notice.data), fill(t.body, &notice.data)),
        (None, None) => (notice.template.to_owned(), String::new()),
    };
    let in_app = notice.channel == "in_app";
    let now = kernel::time::now();
    let row = notification::ActiveModel {
        user_id: Set(notice.user_id),
        recipient: Set(notice.recipient.chars().take(254).collect()),
        channel: Set(notice.channel.to_owned()),
        template: Set(notice.template.to_owned()),
        title: Set(title.chars().take(255).collect()),
        body: Set(body),
        data: Set(notice.data),
        priority: Set(notice.priority.to_owned()),
        status: Set(if in_app { "delivered" } else { "queued" }.to_owned()),
        gns_id: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        read_at: Set(None),
        created_at: Set(now),
        sent_at: Set(in_app.then_some(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if !in_app {
        kernel::jobs::enqueue(db, DELIVER_JOB, json!({"notification_id": row.id})).await?;
    }
    Ok(Some(row.id))
}

/// The live-stream key of `user` in the request's school: ids repeat from
/// one school to the next, so the key names the tenant too.
pub fn stream_key(user: i64) -> String {
    format!("{}:{user}", AppState::tenant_id().unwrap_or_default())
}

/// After a commit that queued notifications in the current school: wakes
/// the live streams of `users` (their new `in_app` rows) on this node and
/// the school's job runner (the other channels' deliveries).
pub fn wake(state: &AppState, users: impl IntoIterator<Item = i64>) {
    for user in users {
        state.hub.notify(stream_key(user));
    }
    state.wake_jobs();
}

/// A new single-use token for user `user_id` valid for `valid`; only its
/// SHA-256 is stored.
pub async fn mint_token(
    db: &impl ConnectionTrait,
    user_id: i64,
    valid: Span,
) -> Result<String, DbErr> {
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let now = kernel::time::now();
    password_reset::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + valid),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a delivery attempt ended.
enum Outcome {
    Sent(Option<String>),
    Failed(String),
    Skipped(&'static str),
    Retry(String),
}

/// The `oryne.gns.deliver` job: sends one queued notification once.
pub async fn deliver(state: AppState, payload: Value) -> Result<(), String> {
    let Some(id) = payload["notification_id"].as_i64() else {
        return Ok(());
    };
    let tenant = AppState::tenant_id().ok_or("delivery outside a tenant")?;
    let db = state
        .tenants
        .open(tenant)
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = notification::Entity::find_by_id(id)
        .one(&db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if row.status != "queued" {
        return Ok(()); // sent, failed or skipped already
    }
    let mut data = row.data.clone();
    // A set-password or reset link is minted here, so no secret waits in
    // the queue or stays in the delivery log.
    if let Some(user) = data.get("set_password_for").and_then(Value::as_i64) {
        let valid = if row.template == "password_reset" {
            Span::hours(1)
        } else {
            Span::days(3)
        };
        let token = mint_token(&db, user, valid)
            .await
            .map_err(|e| e.to_string())?;
        if let Value::Object(map) = &mut data {
            map.remove("set_password_for");
            let login = map
                .get("login_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            map.insert("reset_url".into(), json!(format!("{login}?token={token}")));
        }
    }
    let outcome = match &state.config.gns {
        // Nowhere to send it: a text without a phone number, a mail
        // without an address.
        Some(_) if row.channel == "sms" && row.recipient.trim().is_empty() => {
            Outcome::Skipped("no phone number")
        }
        _ if row.channel == "email" && row.recipient.trim().is_empty() => {
            Outcome::Skipped("no email address")
        }
        Some(gns) => send_gns(&state, gns, tenant, &row, &data).await,
        None => send_locally(&state, &row, &data).await,
    };
    let now = kernel::time::now();
    let mut update = notification::Entity::update_many()
        .col_expr(
            notification::Column::Attempts,
            Expr::value(row.attempts + 1),
        )
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Status.eq("queued"));
    let retry = match outcome {
        Outcome::Sent(gns_id) => {
            update = update
                .col_expr(notification::Column::Status, Expr::value("sent"))
                .col_expr(notification::Column::SentAt, Expr::value(now))
                .col_expr(notification::Column::GnsId, Expr::value(gns_id));
            None
        }
        Outcome::Failed(error) => {
            update = update
                .col_expr(notification::Column::Status, Expr::value("failed"))
                .col_expr(notification::Column::LastError, Expr::value(error));
            None
        }
        Outcome::Skipped(reason) => {
            update = update
                .col_expr(notification::Column::Status, Expr::value("skipped"))
                .col_expr(notification::Column::LastError, Expr::value(reason));
            None
        }
        Outcome::Retry(error) => {
            let last = row.attempts + 1 >= kernel::jobs::MAX_ATTEMPTS;
            update = update.col_expr(notification::Column::LastError, Expr::value(error.clone()));
            if last {
                update = update.col_expr(notification::Column::Status, Expr::value("failed"));
            }
            (!last).then_some(error)
        }
    };
    update.exec(&db).await.map_err(|e| e.to_string())?;
    match retry {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

async fn send_gns(
    state: &AppState,
    gns: &crate::settings::Gns,
    tenant: i64,
    row: &notification::Model,
    data: &Value,
) -> Outcome {
    let key = format!("{tenant}:{}", row.id);
    let priority = match row.priority.as_str() {
        "low" => 3,
        "high" => 8,
        "urgent" => 10,
        _ => 5,
    };
    let (url, body) = if gns.legacy {
        (
            format!("{}/api/notifications/send", gns.url),
            json!({"tenant_id": tenant, "user_id": row.user_id, "channel": row.channel,
                   "template": row.template, "data": data, "priority": row.priority}),
        )
    } else {
        let recipient = match row.channel.as_str() {
            "email" => json!({"email": row.recipient}),
            "sms" => json!({"phone": row.recipient}),
            _ => json!({"user_id": row.user_id}),
        };
        (
            format!("{}/api/v1/notifications", gns.url),
            json!({"event_key": row.template, "channel": row.channel, "recipient": recipient,
                   "data": data, "locale": "en", "priority": priority,
                   "metadata": {"tenant_id": tenant, "notification_id": row.id}}),
        )
    };
    let sent = state
        .http
        .post(url)
        .bearer_auth(&gns.api_key)
        .header("Idempotency-Key", key)
        .timeout(std::time::Duration::from_secs(10))
        .json(&body)
        .send()
        .await;
    match sent {
        Err(error) => Outcome::Retry(format!("gateway unreachable: {}", error.without_url())),
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                let id = response.json::<Value>().await.ok().and_then(|v| {
                    v.get("id")
                        .or_else(|| v.pointer("/data/id"))
                        .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
                });
                Outcome::Sent(id)
            } else if status.as_u16() == 429 || status.is_server_error() {
                Outcome::Retry(format!("gateway answered {}", status.as_u16()))
            } else {
                Outcome::Failed(format!("gateway refused it ({})", status.as_u16()))
            }
        }
    }
}

async fn send_locally(state: &AppState, row: &notification::Model, data: &Value) -> Outcome {
    match row.channel.as_str() {
        "email" => {
            let Some(mailer) = &state.mailer else {
                return Outcome::Skipped("no provider");
            };
            let mut body = row.body.clone();
            if let Some(url) = data.get("reset_url").and_then(Value::as_str) {
                body.push_str(&format!("\n\n{url}\n"));
            }
            match mailer.send(&row.recipient, &row.title, &body).await {
                Ok(()) => Outcome::Sent(None),
                Err(error) => Outcome::Retry(format!("mail not sent: {error}")),
            }
        }
        _ => Outcome::Skipped("no provider"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placeholder of a template is a declared variable, and every
    /// declared variable is used.
    #[test]
    fn templates_use_exactly_their_variables() {
        let placeholder = regex::Regex::new(r"\{([a-z_]+)\}").unwrap();
        for t in TEMPLATES {
            let used: std::collections::BTreeSet<&str> = placeholder
                .captures_iter(t.title)
                .chain(placeholder.captures_iter(t.body))
                .map(|c| c.get(1).unwrap().as_str())
                .collect();
            let declared: std::collections::BTreeSet<&str> = t.variables.iter().copied().collect();
            assert_eq!(used, declared, "template {}", t.name);
        }
    }
}
