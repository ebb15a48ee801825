//! Audit rows (spec §2.10) in the spec's own table, `audit_logs`: the
//! system's [`AuditSink`], always written with the transaction of the change.

use kernel::ApiResult;
use kernel::audit::{Action, AuditSink, Entry};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::audit_log;

pub use kernel::audit::Actor;

/// The actions the spec adds to create, update and delete.
pub const APPROVE: Action = Action("approve");
pub const REJECT: Action = Action("reject");
pub const VERIFY: Action = Action("verify");

/// Clearance's sink: the spec's `audit_logs` table.
pub struct AuditLogs;

impl AuditSink for AuditLogs {
    const TABLE: &'static str = "audit_logs";

    async fn write<C: ConnectionTrait>(db: &C, entry: Entry<'_>) -> ApiResult<()> {
        let object_id = Uuid::parse_str(&entry.object_id).map_err(kernel::ApiError::internal)?;
        audit_log::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(entry.actor.id.as_deref().and_then(|id| id.parse().ok())),
            action: Set(entry.action.as_str().to_owned()),
            content_type: Set(entry.object_type.to_owned()),
            object_id: Set(object_id),
            object_str: Set(entry.label.chars().take(500).collect()),
            changes: Set(Some(entry.changes.unwrap_or(Value::Null))),
            ip_address: Set(entry.actor.ip.map(|ip| ip.to_string())),
            created_at: Set(kernel::time::now()),
        }
        .insert(db)
        .await?;
        Ok(())
    }
}

/// Records `action` on an object; `changes` is `{field: [old, new]}`.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: Actor,
    action: Action,
    content_type: &str,
    object_id: Uuid,
    object_str: &str,
    changes: Value,
) -> ApiResult<()> {
    let entry = Entry::new(&actor, action, content_type, object_id)
        .label(object_str)
        .changes(changes);
    AuditLogs::write(db, entry).await
}
