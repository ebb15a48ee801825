//! Notifications (contract §6), written in the transaction of the change
//! they tell about.
//!
//! [`send`] is the one entry point. For each recipient it reads their
//! preferences: the in-app row is written unless they turned in-app off for
//! the type (`system` and `account` always show in the app); email (on by
//! default) and push (off by default) are left to the
//! [`DELIVER_JOB`] job, enqueued in the same transaction — after the end of
//! the recipient's do-not-disturb window (school time) unless the priority
//! is `high`. A recipient who turned in-app off but wants email or push still
//! gets a row, stored as deleted (never listed): it is what the job sends
//! and where it records what it sent.
//!
//! `channels` on a row lists the channels it went out on: `in_app` when
//! written, then `email` and `push` as the job delivers them. The job claims
//! a channel by a conditional update of `channels` before sending, so a
//! retried job never sends the same notification twice; push attempts are
//! kept in `roster_push_attempts`, one per device.
//!
//! Live streams poll every two seconds; callers that want them woken at once
//! call [`wake`] after their transaction committed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Timelike, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::{
    notification, notification_device, notification_preference, push_attempt, user,
};
use crate::state::AppState;

/// The contract's notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Attendance,
    Session,
    Timetable,
    Report,
    Account,
    System,
}

/// Every notification type, in the contract's order.
pub const CHOICES: [&str; 6] = [
    "attendance",
    "session",
    "timetable",
    "report",
    "account",
    "system",
];

/// The priorities, lowest first.
pub const PRIORITIES: [&str; 3] = ["low", "medium", "high"];

kernel::choices!(
    /// A notification type.
    pub NotificationTypeChoice = &CHOICES
);

kernel::choices!(
    /// A notification's priority.
    pub PriorityChoice = &PRIORITIES
);

impl Kind {
    pub const ALL: [Kind; 6] = [
        Self::Attendance,
        Self::Session,
        Self::Timetable,
        Self::Report,
        Self::Account,
        Self::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attendance => "attendance",
            Self::Session => "session",
            Self::Timetable => "timetable",
            Self::Report => "report",
            Self::Account => "account",
            Self::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// `system` and `account` notices always show in the app.
    pub fn in_app_mandatory(self) -> bool {
        matches!(self, Self::System | Self::Account)
    }
}

/// One message to tell some users.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    pub kind: Kind,
    /// `low`, `medium` or `high`.
    pub priority: &'static str,
    pub title: &'a str,
    pub message: &'a str,
    /// What it is about: (`timetable_entry`, its id), for example.
    pub related: Option<(&'static str, String)>,
    pub action_url: Option<String>,
    /// Whether email and push may carry it (per the user's preferences);
    /// false when another email already says the same.
    pub outside_the_app: bool,
}

impl<'a> Note<'a> {
    pub fn new(kind: Kind, title: &'a str, message: &'a str) -> Self {
        Self {
            kind,
            priority: "medium",
            title,
            message,
            related: None,
            action_url: None,
            outside_the_app: true,
        }
    }

    /// In the app only, whatever the preferences say about email and push:
    /// for events whose own email already went out (an invitation link, a
    /// scheduled report with its files).
    pub fn in_app_only(mut self) -> Self {
        self.outside_the_app = false;
        self
    }

    pub fn about(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.related = Some((kind, id.to_string()));
        self
    }

    /// `low`, `medium` (the default) or `high`; high skips do-not-disturb.
    pub fn priority(mut self, priority: &'static str) -> Self {
        self.priority = priority;
        self
    }

    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action_url = Some(url.into());
        self
    }
}

// ---------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------

/// The channels of one notification type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
    pub push: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Self {
            in_app: true,
            email: true,
            push: false,
        }
    }
}

/// One user's preferences; a user who never saved any has the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub channels: BTreeMap<Kind, Channels>,
    pub dnd_enabled: bool,
    /// Minutes after midnight, school time.
    pub dnd_start: i32,
    pub dnd_end: i32,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            channels: Kind::ALL
                .into_iter()
                .map(|k| (k, Channels::default()))
                .collect(),
            dnd_enabled: false,
            dnd_start: 22 * 60,
            dnd_end: 6 * 60,
        }
    }
}

impl Preferences {
    pub fn of(row: &notification_preference::Model) -> Self {
        let mut prefs = Self {
            dnd_enabled: row.dnd_enabled,
            dnd_start: row.dnd_start_minute,
            dnd_end: row.dnd_end_minute,
            ..Self::default()
        };
        let stored: BTreeMap<String, Channels> =
            serde_json::from_str(&row.channels).unwrap_or_default();
        for (name, channels) in stored {
            if let Some(kind) = Kind::parse(&name) {
                prefs.channels.insert(kind, channels);
            }
        }
        prefs
    }

    /// The channels of `kind`, in-app forced on where it is mandatory.
    pub fn channels(&self, kind: Kind) -> Channels {
        let mut channels = self.channels.get(&kind).copied().unwrap_or_default();
        if kind.in_app_mandatory() {
            channels.in_app = true;
        }
        channels
    }

    /// `channels` as stored and shown: `{type: {in_app, email, push}}`.
    pub fn channels_json(&self) -> Value {
        Value::Object(
            Kind::ALL
                .into_iter()
                .map(|k| {
                    (
                        k.as_str().to_owned(),
                        serde_json::to_value(self.channels(k)).unwrap_or(Value::Null),
                    )
                })
                .collect(),
        )
    }

    /// When the do-not-disturb window around `now` ends (`None`: not in
    /// one), in the school's time zone `tz`.
    pub fn quiet_until<Z: TimeZone>(&self, tz: &Z, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.dnd_enabled || self.dnd_start == self.dnd_end {
            return None;
        }
        let local = now.with_timezone(tz);
        let minute = i32::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
        let (start, end) = (self.dnd_start, self.dnd_end);
        let ends_today = if start < end {
            if !(start..end).contains(&minute) {
                return None;
            }
            true
        } else if minute >= start {
            false
        } else if minute < end {
            true
        } else {
            return None;
        };
        let mut date = local.date_naive();
        if !ends_today {
            date = date.succ_opt()?;
        }
        let end_time = chrono::NaiveTime::from_hms_opt(
            u32::try_from(end / 60).ok()?,
            u32::try_from(end % 60).ok()?,
            0,
        )?;
        let naive = date.and_time(end_time);
        let at = tz
            .from_local_datetime(&naive)
            .earliest()
            // A wall-clock time skipped by a DST change: an hour later exists.
            .or_else(|| {
                tz.from_local_datetime(&(naive + chrono::TimeDelta::hours(1)))
                    .earliest()
            })?;
        Some(at.with_timezone(&Utc))
    }
}

/// The preferences of each of `users` (defaults for those with none saved).
pub async fn preferences_of(
    db: &impl ConnectionTrait,
    users: &[Uuid],
) -> Result<HashMap<Uuid, Preferences>, DbErr> {
    let mut found = HashMap::new();
    for chunk in users.chunks(500) {
        let rows = notification_preference::Entity::find()
            .filter(notification_preference::Column::UserId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for row in rows {
            found.insert(row.user_id, Preferences::of(&row));
        }
    }
    Ok(users
        .iter()
        .map(|id| (*id, found.remove(id).unwrap_or_default()))
        .collect())
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// `roster.notify.deliver`: email and push of stored notifications (payload
/// `{"email": [ids], "push": [ids]}`), or a broadcast
/// (`{"broadcast": id}`).
pub const DELIVER_JOB: &str = "roster.notify.deliver";

/// The most notifications one delivery job carries.
const BATCH: usize = 500;

fn channels_text(list: &[&str]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// Notifies each of `users` (duplicates once) in `db`'s transaction, per
/// their preferences; answers how many were notified. Call [`wake`] after
/// the commit for live streams to see it at once.
pub async fn send(
    db: &impl ConnectionTrait,
    users: impl IntoIterator<Item = Uuid>,
    note: &Note<'_>,
) -> Result<usize, DbErr> {
    let mut seen = BTreeSet::new();
    let users: Vec<Uuid> = users.into_iter().filter(|id| seen.insert(*id)).collect();
    if users.is_empty() {
        return Ok(0);
    }
    let prefs = preferences_of(db, &users).await?;
    let now = kernel::time::now();
    let high = note.priority == "high";
    let zone = if !high && prefs.values().any(|p| p.dnd_enabled) {
        Some(crate::timetable::engine::school_timezone(db).await?)
    } else {
        None
    };
    let mut rows = Vec::new();
    // Delivery time → (email ids, push ids).
    let mut jobs: BTreeMap<DateTime<Utc>, (Vec<Uuid>, Vec<Uuid>)> = BTreeMap::new();
    let mut notified = 0;
    for user_id in users {
        let p = prefs.get(&user_id).cloned().unwrap_or_default();
        let mut channels = p.channels(note.kind);
        if !note.outside_the_app {
            channels.email = false;
            channels.push = false;
        }
        if !channels.in_app && !channels.email && !channels.push {
            continue;
        }
        notified += 1;
        let id = Uuid::new_v4();
        rows.push(notification::ActiveModel {
            id: Set(id),
            user_id: Set(user_id),
            notification_type: Set(note.kind.as_str().to_owned()),
            priority: Set(note.priority.to_owned()),
            title: Set(note.title.chars().take(200).collect()),
            message: Set(note.message.to_owned()),
            is_read: Set(false),
            read_at: Set(None),
            related_object_type: Set(note.related.as_ref().map(|(kind, _)| (*kind).to_owned())),
            related_object_id: Set(note.related.as_ref().map(|(_, id)| id.clone())),
            action_url: Set(note.action_url.clone()),
            channels: Set(channels_text(if channels.in_app {
                &["in_app"]
            } else {
                &[]
            })),
            is_deleted: Set(!channels.in_app),
            created_at: Set(now),
        });
        if channels.email || channels.push {
            let at = zone
                .as_ref()
                .and_then(|tz| p.quiet_until(tz, now))
                .unwrap_or(now);
            let (email, push) = jobs.entry(at).or_default();
            if channels.email {
                email.push(id);
            }
            if channels.push {
                push.push(id);
            }
        }
    }
    for chunk in rows.chunks(BATCH) {
        notification::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for (at, (email, push)) in jobs {
        let longest = email.len().max(push.len());
        for start in (0..longest).step_by(BATCH) {
            let part = |list: &[Uuid]| -> Vec<Uuid> {
                list.iter().skip(start).take(BATCH).copied().collect()
            };
            let payload = json!({"email": part(&email), "push": part(&push)});
            kernel::jobs::enqueue_at(db, DELIVER_JOB, payload, at).await?;
        }
    }
    Ok(notified)
}

/// Wakes the live streams of `users` and the job worker; call after the
/// transaction that notified them committed.
pub fn wake(state: &AppState, users: impl IntoIterator<Item = Uuid>) {
    for user in users {
        state.hub.notify(user);
    }
    state.jobs_wake.notify_one();
}

// ---------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------

/// Where push notifications go (a platform gateway, say).
#[async_trait::async_trait]
pub trait PushSender: Send + Sync {
    /// Sends `note` to `device`; answers the outcome to record (at most 20
    /// characters: `sent`, `recorded`, ...). An `Err` is recorded as `failed`.
    async fn send(
        &self,
        device: &notification_device::Model,
        note: &notification::Model,
    ) -> Result<&'static str, String>;
}

/// The default sender: no gateway; the attempt is only recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordOnly;

#[async_trait::async_trait]
impl PushSender for RecordOnly {
    async fn send(
        &self,
        _device: &notification_device::Model,
        _note: &notification::Model,
    ) -> Result<&'static str, String> {
        Ok("recorded")
    }
}

static PUSH: OnceLock<Arc<dyn PushSender>> = OnceLock::new();

/// Installs the process's push sender (once, before serving); answers
/// whether it was installed.
#[allow(dead_code, reason = "the hook a push gateway plugs into")]
pub fn set_push_sender(sender: Arc<dyn PushSender>) -> bool {
    PUSH.set(sender).is_ok()
}

fn push_sender() -> Arc<dyn PushSender> {
    PUSH.get().cloned().unwrap_or_else(|| Arc::new(RecordOnly))
}

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

fn ids_of(payload: &Value, key: &str) -> Vec<Uuid> {
    payload[key]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// Marks `channel` used on notification `id` if it was not yet (compared to
/// `current`, the stored `channels`); answers the new value when this call
/// claimed it.
async fn claim(
    db: &impl ConnectionTrait,
    id: Uuid,
    current: &str,
    channel: &str,
) -> Result<Option<String>, DbErr> {
    let mut list: Vec<String> = serde_json::from_str(current).unwrap_or_default();
    if list.iter().any(|c| c == channel) {
        return Ok(None);
    }
    list.push(channel.to_owned());
    let next = serde_json::to_string(&list).unwrap_or_else(|_| current.to_owned());
    let done = notification::Entity::update_many()
        .col_expr(notification::Column::Channels, Expr::value(next.clone()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Channels.eq(current))
        .exec(db)
        .await?;
    Ok((done.rows_affected == 1).then_some(next))
}

/// Gives a claim back (the send failed; a retry sends it).
async fn release(
    db: &impl ConnectionTrait,
    id: Uuid,
    claimed: &str,
    before: &str,
) -> Result<(), DbErr> {
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Channels,
            Expr::value(before.to_owned()),
        )
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Channels.eq(claimed))
        .exec(db)
        .await
        .map(drop)
}

/// The job: a broadcast's delivery, or the email and push of notifications.
pub async fn deliver(state: AppState, payload: Value) -> Result<(), String> {
    if let Some(id) = payload["broadcast"].as_str() {
        let id = Uuid::parse_str(id).map_err(|_| "bad payload")?;
        return crate::broadcasts::deliver(&state, id).await;
    }
    let email = ids_of(&payload, "email");
    let push = ids_of(&payload, "push");
    let mut failures = Vec::new();
    if let Err(e) = deliver_email(&state, &email).await {
        failures.push(e);
    }
    if let Err(e) = deliver_push(&state, &push).await {
        failures.push(e);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The rows of `ids` and their recipients (active ones only).
async fn load(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(notification::Model, user::Model)>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = notification::Entity::find()
        .filter(notification::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let user_ids: BTreeSet<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let users: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .filter(user::Column::IsActive.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| users.get(&r.user_id).cloned().map(|u| (r, u)))
        .collect())
}

async fn deliver_email(state: &AppState, ids: &[Uuid]) -> Result<(), String> {
    let Some(mailer) = &state.mailer else {
        return Ok(()); // no mail transport configured
    };
    let db = &state.db;
    let mut failed = 0usize;
    for (row, recipient) in load(db, ids).await.map_err(|e| e.to_string())? {
        let Some(claimed) = claim(db, row.id, &row.channels, "email")
            .await
            .map_err(|e| e.to_string())?
        else {
            continue; // sent by an earlier run
        };
        let mut body = format!("Dear {},\n\n{}", recipient.full_name(), row.message);
        if let Some(url) = &row.action_url {
            body.push_str(&format!("\n\n{url}"));
        }
        body.push_str("\n\n— Smart Roster");
        if let Err(error) = mailer.send(&recipient.email, &row.title, &body).await {
            tracing::warn!(notification.id = %row.id, %error, "notification email failed");
            release(db, row.id, &claimed, &row.channels)
                .await
                .map_err(|e| e.to_string())?;
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} notification emails failed"));
    }
    Ok(())
}

async fn deliver_push(state: &AppState, ids: &[Uuid]) -> Result<(), String> {
    let db = &state.db;
    let sender = push_sender();
    for (row, recipient) in load(db, ids).await.map_err(|e| e.to_string())? {
        let devices = notification_device::Entity::find()
            .filter(notification_device::Column::UserId.eq(recipient.id))
            .all(db)
            .await
            .map_err(|e| e.to_string())?;
        if devices.is_empty() {
            continue;
        }
        // Re-read: the email step may have changed `channels`.
        let Some(current) = notification::Entity::find_by_id(row.id)
            .one(db)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        if claim(db, row.id, &current.channels, "push")
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            continue;
        }
        for device in devices {
            let outcome = match sender.send(&device, &current).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(device.id = %device.id, %error, "push failed");
                    "failed"
                }
            };
            let attempt = push_attempt::ActiveModel {
                id: Set(Uuid::new_v4()),
                device_id: Set(device.id),
                notification_id: Set(row.id),
                outcome: Set(outcome.chars().take(20).collect()),
                created_at: Set(kernel::time::now()),
            };
            push_attempt::Entity::insert(attempt)
                .exec_without_returning(db)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_cross_midnight() {
        let prefs = Preferences {
            dnd_enabled: true,
            ..Preferences::default()
        };
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap();
        assert_eq!(prefs.quiet_until(&Utc, at(12, 0)), None);
        assert_eq!(
            prefs.quiet_until(&Utc, at(23, 0)),
            Some(Utc.with_ymd_and_hms(2026, 3, 3, 6, 0, 0).unwrap())
        );
        assert_eq!(prefs.quiet_until(&Utc, at(5, 59)), Some(at(6, 0)));
        assert_eq!(prefs.quiet_until(&Utc, at(6, 0)), None);
        let day = Preferences {
            dnd_start: 9 * 60,
            dnd_end: 17 * 60,
            ..prefs
        };
        assert_eq!(day.quiet_until(&Utc, at(10, 0)), Some(at(17, 0)));
        assert_eq!(day.quiet_until(&Utc, at(8, 0)), None);
    }
}
