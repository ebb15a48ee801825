//! Audit rows in the kernel's audit log, always with the transaction of the
//! change. PSS records who, what, when and from where, and which fields
//! changed, but never a personal or medical value (only `role` and
//! `is_active` changes show their values).

use std::net::IpAddr;

use kernel::ApiResult;
use sea_orm::ConnectionTrait;
use serde_json::Value;

/// Fields whose old and new values an audit row may show.
pub const REVEALED: &[&str] = &["role", "is_active", "has_completed_intake"];

/// Who did it and from where.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: i64,
    pub ip: Option<IpAddr>,
}

impl Actor {
    pub fn new(user_id: i64, ip: Option<IpAddr>) -> Self {
        Self { user_id, ip }
    }
}

/// Records `action` (`create`, `update`, `delete` or `read`) on an object.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: Actor,
    action: &str,
    object_type: &str,
    object_id: i64,
    changes: Option<Value>,
) -> ApiResult<()> {
    record_by(db, Some(actor), action, object_type, object_id, changes).await
}

/// As [`record`]; no actor means the system itself (a scheduled policy).
pub async fn record_by<C: ConnectionTrait>(
    db: &C,
    actor: Option<Actor>,
    action: &str,
    object_type: &str,
    object_id: i64,
    changes: Option<Value>,
) -> ApiResult<()> {
    kernel::audit_log::record(
        db,
        kernel::audit_log::Event {
            system: crate::NAME,
            actor_id: actor.map(|a| a.user_id.to_string()),
            ip: actor.and_then(|a| a.ip),
            action,
            object_type,
            object_id: object_id.to_string(),
            changes,
        },
    )
    .await
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
