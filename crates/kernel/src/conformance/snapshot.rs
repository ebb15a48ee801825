//! Success bodies kept as committed snapshots: one pretty-printed JSON file
//! per call, volatile values (ids, timestamps, tokens) replaced by
//! placeholders so the same call answers the same file on every database
//! and every run.
//!
//! A missing snapshot is written (and the test passes) unless `CI` is set,
//! where it fails so snapshots are committed; `CAMPUS_UPDATE_SNAPSHOTS=1`
//! rewrites every snapshot that differs.

use std::path::Path;

use serde_json::{Map, Value};

/// Whether the environment variable `name` is set to something other than
/// empty, `0` or `false`.
fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `s` with every UUID inside it replaced by `<uuid>`.
fn without_uuids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
            out.push_str("<uuid>");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A JSON Web Token: three base64url parts, the header's starting `eyJ`.
pub(super) fn is_jwt(s: &str) -> bool {
    s.starts_with("eyJ")
        && s.split('.').count() == 3
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

fn is_datetime(s: &str) -> bool {
    use chrono::{DateTime, NaiveDateTime};
    DateTime::parse_from_rfc3339(s).is_ok()
        || ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .any(|f| NaiveDateTime::parse_from_str(s, f).is_ok())
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_id_key(key: &str) -> bool {
    key == "id" || key.ends_with("_id") || key == "ids" || key.ends_with("_ids")
}

fn string(s: &str) -> Value {
    let placeholder = if is_uuid(s) {
        "<uuid>"
    } else if is_jwt(s) {
        "<token>"
    } else if is_datetime(s) {
        "<datetime>"
    } else if is_date(s) {
        "<date>"
    } else {
        return Value::String(without_uuids(s));
    };
    Value::String(placeholder.into())
}

fn under_key(key: &str, value: &Value, volatile: &[&str]) -> Value {
    match value {
        Value::Null => Value::Null,
        _ if volatile.contains(&key) => Value::String("<volatile>".into()),
        Value::String(_) if crate::audit::is_secret(key) => Value::String("<token>".into()),
        Value::Number(n) if is_id_key(key) && n.is_i64() => Value::String("<id>".into()),
        Value::Array(items) if is_id_key(key) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Number(n) if n.is_i64() => Value::String("<id>".into()),
                    other => normalise(other, volatile),
                })
                .collect(),
        ),
        other => normalise(other, volatile),
    }
}

/// `value` with what changes from run to run replaced by placeholders:
/// UUIDs (`<uuid>`, also inside text), timestamps (`<datetime>`), dates
/// (`<date>`), JSON Web Tokens and strings under secret keys (`<token>`),
/// integers under keys named `id`, `*_id`, `ids` or `*_ids` (`<id>`), and
/// anything under a key in `volatile` (`<volatile>`). Nulls stay null.
pub fn normalise(value: &Value, volatile: &[&str]) -> Value {
    match value {
        Value::String(s) => string(s),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, volatile)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), under_key(k, v, volatile)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// `get_api_things_id_done` for `GET /api/things/{id}/done/`.
pub(super) fn file_stem(method: &str, template: &str) -> String {
    let slug: String = template
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let slug: Vec<&str> = slug.split('_').filter(|s| !s.is_empty()).collect();
    format!("{}_{}", method.to_ascii_lowercase(), slug.join("_"))
}

/// Where two JSON values differ, as JSON pointers with both sides.
fn differences(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let here = format!("{at}/{key}");
                match a.get(key) {
                    Some(av) => differences(ev, av, &here, out),
                    None => out.push(format!("{here}: expected {ev}, missing")),
                }
            }
            for (key, av) in a {
                if !e.contains_key(key) {
                    out.push(format!("{at}/{key}: not expected, got {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                differences(ev, av, &format!("{at}/{i}"), out);
            }
        }
        _ if expected != actual => out.push(format!(
            "{}: expected {expected}, got {actual}",
            if at.is_empty() { "/" } else { at }
        )),
        _ => {}
    }
}

fn write(file: &Path, body: &Value) -> Result<(), String> {
    let dir = file.parent().ok_or("a snapshot file has a folder")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut text = serde_json::to_string_pretty(body).map_err(|e| e.to_string())?;
    text.push('\n');
    // Another database's run of the same test may write it at the same time.
    let temp = file.with_extension(format!("json.{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temp, text).map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    std::fs::rename(&temp, file).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// Compares `body` (normalised) with the snapshot `<dir>/<stem>.json`.
pub(super) fn compare(dir: &Path, stem: &str, body: &Value) -> Result<(), String> {
    let file = dir.join(format!("{stem}.json"));
    let update = flag("CAMPUS_UPDATE_SNAPSHOTS");
    let Ok(text) = std::fs::read_to_string(&file) else {
        if flag("CI") && !update {
            return Err(format!(
                "no snapshot {} (run the test with CAMPUS_UPDATE_SNAPSHOTS=1 and commit it)",
                file.display()
            ));
        }
        return write(&file, body);
    };
    let expected: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    if expected == *body {
        return Ok(());
    }
    if update {
        return write(&file, body);
    }
    let mut found = Vec::new();
    differences(&expected, body, "", &mut found);
    Err(format!(
        "the body differs from {} (CAMPUS_UPDATE_SNAPSHOTS=1 rewrites it):\n    {}",
        file.display(),
        found.join("\n    ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_values_become_placeholders() {
        let body = json!({
            "id": 12, "user_id": "6f1c2a4e-8a2b-4c3d-9e0f-1a2b3c4d5e6f", "approval_ids": [1, 2],
            "count": 3, "name": "Library", "created_at": "2026-03-01T10:00:00.123456Z",
            "due": "2026-03-15", "access": "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln",
            "message": "Request 6f1c2a4e-8a2b-4c3d-9e0f-1a2b3c4d5e6f approved",
            "refresh_token": "opaque", "seconds": 4.2, "gone": null,
            "results": [{"id": 3, "logged": "2026-03-01 10:00:00"}],
        });
        assert_eq!(
            normalise(&body, &["seconds", "gone"]),
            json!({
                "id": "<id>", "user_id": "<uuid>", "approval_ids": ["<id>", "<id>"],
                "count": 3, "name": "Library", "created_at": "<datetime>",
                "due": "<date>", "access": "<token>",
                "message": "Request <uuid> approved",
                "refresh_token": "<token>", "seconds": "<volatile>", "gone": null,
                "results": [{"id": "<id>", "logged": "<datetime>"}],
            })
        );
    }

    #[test]
    fn snapshot_files_are_named_for_the_operation() {
        assert_eq!(
            file_stem("GET", "/api/things/{id}/done/"),
            "get_api_things_id_done"
        );
        assert_eq!(
            file_stem("POST", "/api/gown-issuances/"),
            "post_api_gown_issuances"
        );
    }

    #[test]
    fn differences_name_where() {
        let mut found = Vec::new();
        differences(
            &json!({"a": 1, "b": [1, 2], "c": true}),
            &json!({"a": 2, "b": [1, 3], "d": null}),
            "",
            &mut found,
        );
        assert_eq!(
            found,
            [
                "/a: expected 1, got 2",
                "/b/1: expected 2, got 3",
                "/c: expected true, missing",
                "/d: not expected, got null",
            ]
        );
    }
}
