//! What changed, for audit rows: `{field: [old, new]}` between two snapshots,
//! with secrets removed. Systems own their audit tables (their shapes differ);
//! they write the row in the same transaction as the change it records.

use serde::Serialize;
use serde_json::{Map, Value, json};

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
