//! Writing audit rows (spec §2.10), always with the transaction of the change.

use kernel::ApiResult;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::audit_log;

/// Who did it and from where.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub ip: Option<std::net::IpAddr>,
}

impl Actor {
    /// A signed-in user at `ip`.
    pub fn user(user_id: Uuid, ip: Option<std::net::IpAddr>) -> Self {
        Self {
            user_id: Some(user_id),
            ip,
        }
    }
}

/// Records `action` on an object; `changes` is `{field: [old, new]}`.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: Actor,
    action: &str,
    content_type: &str,
    object_id: Uuid,
    object_str: &str,
    changes: Value,
) -> ApiResult<()> {
    let object_str: String = object_str.chars().take(500).collect();
    audit_log::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(actor.user_id),
        action: Set(action.to_owned()),
        content_type: Set(content_type.to_owned()),
        object_id: Set(object_id),
        object_str: Set(object_str),
        changes: Set(Some(changes)),
        ip_address: Set(actor.ip.map(|ip| ip.to_string())),
        created_at: Set(kernel::time::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}
