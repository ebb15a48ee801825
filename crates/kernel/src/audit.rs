//! Audit: who changed what, recorded in the same transaction as the change.
//!
//! One API for every system: the handler knows the [`Actor`] (from the
//! [`Caller`] extractor, or [`Actor::of`] an account and the client
//! address) and describes the change as an [`Entry`] — an [`Action`] on an
//! object, with what changed (`{field: [old, new]}` from [`diff`],
//! [`created`], [`deleted`], secrets never) — and hands it to the system's
//! [`AuditSink`] with the transaction of the change. Systems choose the sink:
//! the kernel's table ([`KernelLog`], `campus_audit_log`), or a table their
//! spec defines (clearance's `audit_logs`), or per-field rows.

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::identity::Account;
use crate::system::HasKernel;

/// Who did it and from where: an account (its id as text) or the system
/// itself (scheduled work), and the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// `account`, from `ip`.
    pub fn of<A: Account>(account: &A, ip: Option<IpAddr>) -> Self {
        Self {
            id: Some(account.account_id().to_string()),
            ip,
        }
    }

    /// The account with id `id`, from `ip`.
    pub fn user(id: impl std::fmt::Display, ip: Option<IpAddr>) -> Self {
        Self {
            id: Some(id.to_string()),
            ip,
        }
    }

    /// The system itself (a scheduled policy, a payment callback).
    pub fn system() -> Self {
        Self::default()
    }
}

/// What an entry records: the four the kernel knows, and any a system's
/// spec adds (clearance's `approve`, `reject`, `verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action(pub &'static str);

impl Action {
    pub const CREATE: Self = Self("create");
    pub const UPDATE: Self = Self("update");
    pub const DELETE: Self = Self("delete");
    pub const READ: Self = Self("read");

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// One audited change.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a Actor,
    pub action: Action,
    /// The kind of object (`"User"`, `"ClearanceRequest"`).
    pub object_type: &'a str,
    pub object_id: String,
    /// A human label of the object, for sinks that keep one.
    pub label: Cow<'a, str>,
    /// What the system reveals of the change (never secrets).
    pub changes: Option<Value>,
}

impl<'a> Entry<'a> {
    /// `actor` did `action` to the `object_type` with id `object_id`.
    pub fn new(
        actor: &'a Actor,
        action: Action,
        object_type: &'a str,
        object_id: impl std::fmt::Display,
    ) -> Self {
        Self {
            actor,
            action,
            object_type,
            object_id: object_id.to_string(),
            label: Cow::Borrowed(""),
            changes: None,
        }
    }

    /// What changed (`{field: [old, new]}`).
    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }

    /// A human label of the object.
    pub fn label(mut self, label: impl Into<Cow<'a, str>>) -> Self {
        self.label = label.into();
        self
    }
}

/// Where a system's audit rows go. `write` runs on the connection of the
/// change (its transaction), so the row commits or rolls back with it.
pub trait AuditSink: Send + Sync {
    /// The table rows land in (for tests that count them).
    const TABLE: &'static str;

    fn write<C: ConnectionTrait>(
        db: &C,
        entry: Entry<'_>,
    ) -> impl Future<Output = ApiResult<()>> + Send;
}

/// The caller of a request as audit rows see it: what the extractor `G`
/// yields (the current account, or a role gate around it) and the
/// [`Actor`] (that account, from the trusted-proxy-aware client address).
///
/// ```ignore
/// async fn create(Caller(Admin(me), actor): Caller<Admin>, ...)
/// ```
#[derive(Debug, Clone)]
pub struct Caller<G>(pub G, pub Actor);

/// An extractor that yields an account: [`crate::Current`], and every role
/// gate [`crate::gate!`] declares.
pub trait Acting {
    /// The account's id, as audit rows keep it.
    fn actor_id(&self) -> String;
}

impl<A: Account> Acting for crate::Current<A> {
    fn actor_id(&self) -> String {
        self.0.account_id().to_string()
    }
}

impl<S, G> FromRequestParts<S> for Caller<G>
where
    S: HasKernel + Sync,
    G: FromRequestParts<S, Rejection = ApiError> + Acting + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let who = G::from_request_parts(parts, state).await?;
        let ip = crate::extract::client_ip(parts, state.kernel().settings.trusted_proxies);
        let actor = Actor {
            id: Some(who.actor_id()),
            ip,
        };
        Ok(Self(who, actor))
    }
}

/// The kernel's audit table, `campus_audit_log`, as the sink of system `S`
/// (rows tagged with its name): for systems whose spec defines no audit
/// table of its own.
pub struct KernelLog<S>(std::marker::PhantomData<S>);

impl<S: crate::System> AuditSink for KernelLog<S> {
    const TABLE: &'static str = crate::audit_log::TABLE;

    async fn write<C: ConnectionTrait>(db: &C, entry: Entry<'_>) -> ApiResult<()> {
        write_kernel_log(db, S::NAME, entry).await
    }
}

async fn write_kernel_log<C: ConnectionTrait>(
    db: &C,
    system: &'static str,
    entry: Entry<'_>,
) -> ApiResult<()> {
    crate::audit_log::record(
        db,
        crate::audit_log::Event {
            system,
            actor_id: entry.actor.id.clone(),
            ip: entry.actor.ip,
            action: entry.action.as_str(),
            object_type: entry.object_type,
            object_id: entry.object_id,
            changes: entry.changes,
        },
    )
    .await
}

/// Keys whose values never reach an audit row or a log.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "token",
        "secret",
        "authorization",
        "passkey",
        "pwd",
    ]
    .iter()
    .any(|s| key.contains(s))
}

/// A JSON snapshot of `value` with secret fields dropped.
pub fn snapshot<T: Serialize>(value: &T) -> Value {
    let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.retain(|k, _| !is_secret(k));
    }
    value
}

/// `{field: [old, new]}` for every field whose value differs.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    for (key, new) in after {
        if is_secret(key) || key == "updated_at" {
            continue;
        }
        let old = before.get(key).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(key.clone(), json!([old, new]));
        }
    }
    for (key, old) in before {
        if !after.contains_key(key) && !is_secret(key) && !old.is_null() {
            changes.insert(key.clone(), json!([old, Value::Null]));
        }
    }
    Value::Object(changes)
}

/// The fields that differ between two snapshots: `[old, new]` for the fields
/// in `reveal`, the string `"changed"` for every other one, so an audit row of
/// sensitive data says what changed without holding the values.
pub fn redacted_diff(before: &Value, after: &Value, reveal: &[&str]) -> Value {
    let Value::Object(changes) = diff(before, after) else {
        return Value::Object(Map::new());
    };
    Value::Object(
        changes
            .into_iter()
            .map(|(key, change)| {
                let shown = if reveal.contains(&key.as_str()) {
                    change
                } else {
                    json!("changed")
                };
                (key, shown)
            })
            .collect(),
    )
}

/// `{field: [null, value]}` for a created object.
pub fn created(after: &Value) -> Value {
    diff(&Value::Object(Map::new()), after)
}

/// `{field: [value, null]}` for a deleted object.
pub fn deleted(before: &Value) -> Value {
    diff(before, &Value::Object(Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_only_what_changed_and_never_secrets() {
        let before = json!({"name": "A", "code": "X", "password": "p1", "updated_at": 1});
        let after =
            json!({"name": "B", "code": "X", "password": "p2", "updated_at": 2, "new": true});
        assert_eq!(
            diff(&before, &after),
            json!({"name": ["A", "B"], "new": [null, true]})
        );
        assert_eq!(
            created(&json!({"a": 1, "token": "t"})),
            json!({"a": [null, 1]})
        );
        assert_eq!(deleted(&json!({"a": 1})), json!({"a": [1, null]}));
        assert_eq!(
            redacted_diff(
                &json!({"role": "a", "diagnosis": "x", "same": 1}),
                &json!({"role": "b", "diagnosis": "y", "same": 1}),
                &["role"]
            ),
            json!({"role": ["a", "b"], "diagnosis": "changed"})
        );
        assert_eq!(
            snapshot(&json!({"a": 1, "refresh_token": "t"})),
            json!({"a": 1})
        );
    }
}
