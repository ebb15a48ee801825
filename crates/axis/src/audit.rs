//! The audit trail (axis contract §11): every successful write leaves, in
//! the transaction of the change, one `AuditLog` row and, for changes to an
//! entity, one `EntityChange` with the snapshots before and after and one
//! `FieldChange` per changed field. Secrets never reach any of them.

use kernel::ApiResult;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::access::{Me, RequestInfo};
use crate::entities::{audit_log, entity_change, field_change};

/// Key fragments whose values are written as `"[REDACTED]"`.
const SECRET: &[&str] = &[
    "password",
    "token",
    "secret",
    "api_key",
    "authorization",
    "card",
    "cvv",
    "pin",
];

const REDACTED: &str = "[REDACTED]";

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET.iter().any(|s| key.contains(s))
}

/// `value` with every secret key's value replaced, at any depth.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret(&k) {
                        Value::from(REDACTED)
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// A row as the trail compares it: its API field names and JSON values.
/// Secrets are redacted when written, after the comparison, so a changed
/// password shows as a changed field without its values.
pub fn snapshot<T: Serialize>(row: &T) -> Value {
    serde_json::to_value(row).unwrap_or(Value::Null)
}

/// A field's value as written: `"[REDACTED]"` for a secret field.
fn shown(field: &str, value: Value) -> Value {
    if is_secret(field) {
        Value::from(REDACTED)
    } else {
        redact(value)
    }
}

/// What happened to one entity.
#[derive(Debug, Clone)]
pub struct Change {
    /// `Create`, `Update`, `Delete`, `Restore`, `Archive`, `Activate`, ...
    pub change_type: &'static str,
    pub reason: Option<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl Change {
    pub fn created<T: Serialize>(row: &T) -> Self {
        Self {
            change_type: "Create",
            reason: None,
            old: None,
            new: Some(snapshot(row)),
        }
    }

    pub fn updated<T: Serialize>(before: &T, after: &T) -> Self {
        Self {
            change_type: "Update",
            reason: None,
            old: Some(snapshot(before)),
            new: Some(snapshot(after)),
        }
    }

    pub fn deleted<T: Serialize>(before: &T) -> Self {
        Self {
            change_type: "Delete",
            reason: None,
            old: Some(snapshot(before)),
            new: None,
        }
    }

    /// An action: `Activate`, `Deactivate`, `Archive`, `Restore` keep their
    /// names; every other action is an `Update`.
    pub fn action<T: Serialize>(name: &'static str, before: &T, after: &T) -> Self {
        let change_type = match name {
            "Activate" | "Deactivate" | "Archive" | "Unarchive" | "Restore" => name,
            _ => "Update",
        };
        Self {
            change_type,
            ..Self::updated(before, after)
        }
    }

    pub fn reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason.filter(|r| !r.trim().is_empty());
        self
    }

    /// `{field: [old, new]}` for every field that differs (`updated_at`
    /// never); on a delete, `deleted_at` alone.
    pub fn fields(&self) -> Vec<(String, Value, Value)> {
        let empty = Map::new();
        let old = self.old.as_ref().and_then(Value::as_object);
        let new = self.new.as_ref().and_then(Value::as_object);
        if new.is_none() {
            let was = old
                .and_then(|o| o.get("deleted_at"))
                .cloned()
                .unwrap_or(Value::Null);
            return vec![(
                "deleted_at".into(),
                was,
                Value::from(kernel::time::iso(kernel::time::now())),
            )];
        }
        let old = old.unwrap_or(&empty);
        let new = new.unwrap_or(&empty);
        let mut changed = Vec::new();
        for (key, after) in new {
            if key == "updated_at" {
                continue;
            }
            let before = old.get(key).unwrap_or(&Value::Null);
            if before != after {
                changed.push((key.clone(), before.clone(), after.clone()));
            }
        }
        for (key, before) in old {
            if !new.contains_key(key) && !before.is_null() {
                changed.push((key.clone(), before.clone(), Value::Null));
            }
        }
        changed
    }
}

/// Who acted: a signed-in caller, or the account signing in or out.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub user_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub request: &'a RequestInfo,
}

impl<'a> From<&'a Me> for Who<'a> {
    fn from(me: &'a Me) -> Self {
        Self {
            user_id: Some(&me.user.id),
            email: Some(&me.user.email),
            request: &me.request,
        }
    }
}

/// One audited event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// `Create`, `Update`, `Delete`, `Login`, `Logout`, `Verify`, ...
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: &'a str,
    /// The status the response answers.
    pub status: u16,
    pub change: Option<Change>,
    /// Members of `data` beside the request's (`provider`, `email`, ...).
    pub data: Map<String, Value>,
    /// Changes the same write made to other rows (the client whose last
    /// contact an activity moved), each an entity change of its own.
    pub also: Vec<(&'static str, String, Change)>,
}

impl<'a> Event<'a> {
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: &'a str) -> Self {
        Self {
            action,
            entity_type,
            entity_id,
            status: 200,
            change: None,
            data: Map::new(),
            also: Vec::new(),
        }
    }

    /// A change the same write made to another row.
    pub fn also(mut self, entity_type: &'static str, entity_id: &str, change: Change) -> Self {
        self.also.push((entity_type, entity_id.to_owned(), change));
        self
    }

    /// A create (no `before`) or an update of the row `entity_id`, whose
    /// snapshot is now `after`; with the status its response answers (201
    /// for a create, 200 for an update).
    pub fn saved(
        entity_type: &'static str,
        entity_id: &'a str,
        before: Option<Value>,
        after: Value,
    ) -> (Self, axum::http::StatusCode) {
        use axum::http::StatusCode;
        let (action, status) = match before {
            None => ("Create", StatusCode::CREATED),
            Some(_) => ("Update", StatusCode::OK),
        };
        let change = Change {
            change_type: action,
            reason: None,
            new: Some(after),
            old: before,
        };
        let event = Self::new(action, entity_type, entity_id)
            .status(status.as_u16())
            .change(change);
        (event, status)
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn change(mut self, change: Change) -> Self {
        self.change = Some(change);
        self
    }

    pub fn data(mut self, key: &str, value: Value) -> Self {
        self.data.insert(key.into(), value);
        self
    }
}

/// Writes `event` by `who` on `db` (the change's transaction).
pub async fn record(db: &impl ConnectionTrait, who: Who<'_>, event: Event<'_>) -> ApiResult<()> {
    let now = kernel::time::now();
    let fields = event.change.as_ref().map(Change::fields);
    let changes: Map<String, Value> = fields
        .iter()
        .flatten()
        .map(|(k, old, new)| {
            let change = json!([shown(k, old.clone()), shown(k, new.clone())]);
            (k.clone(), change)
        })
        .collect();
    let mut data = Map::new();
    data.insert("method".into(), Value::from(who.request.method.as_str()));
    data.insert("path".into(), Value::from(who.request.path.as_str()));
    data.insert("client_id".into(), json!(who.request.client_id));
    data.insert("status_code".into(), Value::from(event.status));
    if event.change.is_some() {
        data.insert("changes".into(), Value::Object(changes));
    }
    data.extend(event.data);
    let log_id = kernel::cuid::new();
    audit_log::ActiveModel {
        id: Set(log_id.clone()),
        action: Set(event.action.to_owned()),
        entity_type: Set(event.entity_type.to_owned()),
        entity_id: Set(event.entity_id.to_owned()),
        user_id: Set(who.user_id.map(str::to_owned)),
        data: Set(redact(Value::Object(data))),
        ip_address: Set(who.request.ip.map(|ip| ip.to_string())),
        user_agent: Set(who.request.user_agent.clone()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let changes = event
        .change
        .map(|c| (event.entity_type, event.entity_id.to_owned(), c))
        .into_iter()
        .chain(event.also);
    for (entity_type, entity_id, change) in changes {
        entity_changed(db, who, &log_id, entity_type, &entity_id, change).await?;
    }
    Ok(())
}

/// One entity change and its field changes, tied to the audit row `log_id`.
async fn entity_changed(
    db: &impl ConnectionTrait,
    who: Who<'_>,
    log_id: &str,
    entity_type: &str,
    entity_id: &str,
    change: Change,
) -> ApiResult<()> {
    let now = kernel::time::now();
    let change_id = kernel::cuid::new();
    let fields = change.fields();
    entity_change::ActiveModel {
        id: Set(change_id.clone()),
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(entity_id.to_owned()),
        change_type: Set(change.change_type.to_owned()),
        changed_at: Set(now),
        changed_by: Set(who.user_id.map(str::to_owned)),
        changed_by_email: Set(who.email.map(str::to_owned)),
        change_reason: Set(change.reason.clone()),
        old_data: Set(change.old.clone().map(redact)),
        new_data: Set(change.new.clone().map(redact)),
        metadata: Set(json!({"audit_log_id": log_id})),
        is_active: Set(true),
    }
    .insert(db)
    .await?;
    let rows: Vec<field_change::ActiveModel> = fields
        .into_iter()
        .map(|(name, old, new)| (shown(&name, old), shown(&name, new), name))
        .map(|(old, new, name)| field_change::ActiveModel {
            id: Set(kernel::cuid::new()),
            entity_change_id: Set(change_id.clone()),
            entity_type: Set(entity_type.to_owned()),
            entity_id: Set(entity_id.to_owned()),
            field_name: Set(name),
            old_value: Set(Some(old)),
            new_value: Set(Some(new)),
            change_type: Set(change.change_type.to_owned()),
            created_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        use sea_orm::EntityTrait;
        field_change::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}
