//! Audit rows in the kernel's audit log, always with the transaction of the
//! change. PSS records who, what, when and from where, and which fields
//! changed, but never a personal or medical value (only `role` and
//! `is_active` changes show their values).

use kernel::ApiResult;
use kernel::audit::{Action, AuditSink, Entry};
use std::borrow::Borrow;

use sea_orm::ConnectionTrait;
use serde_json::Value;

pub use kernel::audit::Actor;

/// Fields whose old and new values an audit row may show.
pub const REVEALED: &[&str] = &["role", "is_active", "has_completed_intake"];

/// PSS's sink: the kernel's `campus_audit_log`, rows tagged `pss`.
pub type AuditLog = kernel::audit::KernelLog<crate::Pss>;

/// Records `action` on an object by `actor` (the system itself when it is
/// [`Actor::system`]: a scheduled policy).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: impl Borrow<Actor>,
    action: Action,
    object_type: &str,
    object_id: i64,
    changes: Option<Value>,
) -> ApiResult<()> {
    let mut entry = Entry::new(actor.borrow(), action, object_type, object_id);
    entry.changes = changes;
    AuditLog::write(db, entry).await
}

/// `{field: "changed"}` (or `[old, new]` for [`REVEALED`] fields) between two
/// snapshots of plaintext values; `{}` when nothing changed.
pub fn changes(before: &Value, after: &Value) -> Value {
    kernel::audit::redacted_diff(before, after, REVEALED)
}

/// `{field: "changed"}` for every field a created object has (`[null, value]`
/// for [`REVEALED`] fields).
pub fn created(after: &Value) -> Value {
    changes(&Value::Object(serde_json::Map::new()), after)
}
