//! "Bad input changes nothing": every operation that takes a JSON body is
//! sent three bodies it must refuse, and every table of the database is
//! counted before and after each.

use serde_json::{Value, json};

use super::{Operation, document, instance_of, is_error_body, operations, report};
use crate::system::System;
use crate::testing::TestApp;

/// The schema `schema` points to, `$ref`s followed.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..16 {
        match schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            Some(name) => schema = &document["components"]["schemas"][name],
            None => break,
        }
    }
    schema
}

/// The JSON types `schema` admits (`null` included), through `$ref`,
/// `oneOf`/`anyOf`/`allOf` and type lists; empty when it admits anything.
fn types(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    let mut found: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    if found.is_empty() && schema.get("enum").is_some() {
        found = schema["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| json_type(v).to_owned())
            .collect();
    }
    if found.is_empty() && schema.get("properties").is_some() {
        found.push("object".to_owned());
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for variant in schema[key].as_array().into_iter().flatten() {
            found.extend(types(document, variant));
        }
    }
    found.sort();
    found.dedup();
    found
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value none of `types` admits, preferring the usual mistake for the
/// first: a list for text, text for numbers and flags, a number for objects
/// and lists.
fn wrong_value(types: &[String]) -> Option<Value> {
    let admits = |v: &Value| {
        let t = json_type(v);
        types
            .iter()
            .any(|a| a == t || (a == "number" && t == "integer"))
    };
    let preferred = match types.iter().find(|t| *t != "null").map(String::as_str) {
        Some("string") => json!([]),
        Some("integer" | "number" | "boolean") => json!("x"),
        Some("object" | "array") => json!(1),
        _ => return None,
    };
    [
        preferred,
        json!([]),
        json!("x"),
        json!(1),
        json!(true),
        json!({}),
    ]
    .into_iter()
    .find(|v| !admits(v))
}

/// The documented properties of an object schema (through `$ref`, `allOf`,
/// `oneOf`, `anyOf`).
fn properties<'a>(document: &'a Value, schema: &'a Value, into: &mut Vec<(&'a str, &'a Value)>) {
    let schema = resolve(document, schema);
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        if !into.iter().any(|(n, _)| *n == name) {
            into.push((name, property));
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for variant in schema[key].as_array().into_iter().flatten() {
            properties(document, variant, into);
        }
    }
}

/// The three bodies to send `op`, with what they are; none when it takes
/// no JSON body.
fn bad_bodies(document: &Value, op: &Operation) -> Vec<(&'static str, String)> {
    let Some(schema) = op.spec["requestBody"]["content"]
        .get("application/json")
        .map(|c| &c["schema"])
    else {
        return Vec::new();
    };
    let top = types(document, schema);
    let is_array = top.iter().any(|t| t == "array") && !top.iter().any(|t| t == "object");
    let mut bodies = vec![
        ("malformed JSON", r#"{"a":"#.to_owned()),
        if is_array {
            ("an object instead of a list", r#"{"a": 1}"#.to_owned())
        } else {
            ("a list instead of an object", "[1, 2]".to_owned())
        },
    ];
    let mut props = Vec::new();
    properties(document, schema, &mut props);
    let wrong: serde_json::Map<String, Value> = props
        .into_iter()
        .filter_map(|(name, property)| {
            Some((name.to_owned(), wrong_value(&types(document, property))?))
        })
        .collect();
    if !is_array && !wrong.is_empty() {
        bodies.push((
            "every field of the wrong type",
            Value::Object(wrong).to_string(),
        ));
    }
    bodies
}

/// A well-formed id nobody has: a random UUID, or a large random integer.
fn random_id(kind: &str) -> String {
    let random = uuid::Uuid::new_v4();
    match kind {
        "integer" => (random.as_u128() % 1_000_000_000 + 1_000_000_000).to_string(),
        _ => random.to_string(),
    }
}

/// For every operation of `S`'s document that takes a JSON body, sends, as
/// `token`'s holder (an administrator), a malformed body, a body of the
/// wrong shape (a list for an object) and an object whose every documented
/// property has the wrong type. Each must answer 400 — or 403, 404, 405, 415
/// where the role or the path refuses first — in the system's envelope,
/// never a 2xx or a 5xx, and no table may gain or lose a row.
///
/// `rows` are paths of rows that exist (`/api/things/<id>/`): an operation
/// whose path template they are an instance of is sent there, and then a
/// 404 is a failure (the path resolves); other paths get well-formed random
/// ids. Panics listing every failure.
pub async fn check_bad_bodies<S: System>(app: &TestApp<S>, token: &str, rows: &[String]) {
    let document = document::<S>();
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in operations(&document) {
        let bodies = bad_bodies(&document, &op);
        if bodies.is_empty() {
            continue;
        }
        let known = rows.iter().find(|path| instance_of(&op.template, path));
        let path = match known {
            Some(path) => path.clone(),
            None => op.fill(|_, kind| random_id(kind)),
        };
        let allowed: &[u16] = if known.is_some() || op.params.is_empty() {
            &[400, 403, 405, 415]
        } else {
            &[400, 403, 404, 405, 415]
        };
        for (kind, body) in bodies {
            let before = app.row_counts().await;
            let r = app
                .request(op.method.clone(), &path)
                .bearer(token)
                .raw("application/json", body.clone())
                .send()
                .await;
            let after = app.row_counts().await;
            checked += 1;
            let status = r.status.as_u16();
            let at = format!("{} {path} with {kind} ({body})", op.method);
            if !allowed.contains(&status) {
                failures.push(format!(
                    "{at}: {status} instead of 400: {}",
                    String::from_utf8_lossy(&r.body)
                ));
            } else if !is_error_body::<S>(&document, &op, status, &r.json) {
                failures.push(format!(
                    "{at}: a {status} outside the system's envelope: {}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
            if before != after {
                let changed: Vec<String> = after
                    .iter()
                    .filter(|(table, n)| before.get(*table) != Some(n))
                    .map(|(table, n)| {
                        format!("{table} {} -> {n}", before.get(table).copied().unwrap_or(0))
                    })
                    .collect();
                failures.push(format!("{at}: wrote rows: {}", changed.join(", ")));
            }
        }
    }
    report(checked, &failures, "bad-body checks");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_values_are_of_no_admitted_type() {
        let t = |ts: &[&str]| ts.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(wrong_value(&t(&["string"])), Some(json!([])));
        assert_eq!(wrong_value(&t(&["null", "string"])), Some(json!([])));
        assert_eq!(wrong_value(&t(&["integer"])), Some(json!("x")));
        assert_eq!(wrong_value(&t(&["boolean"])), Some(json!("x")));
        assert_eq!(wrong_value(&t(&["object"])), Some(json!(1)));
        assert_eq!(wrong_value(&t(&["array"])), Some(json!(1)));
        assert_eq!(wrong_value(&t(&["array", "string"])), Some(json!(1)));
        assert_eq!(wrong_value(&t(&["integer", "string"])), Some(json!([])));
        assert_eq!(wrong_value(&t(&[])), None);
    }

    #[test]
    fn properties_are_read_through_references() {
        let document = json!({"components": {"schemas": {
            "In": {"type": "object", "properties": {
                "name": {"type": "string"},
                "size": {"$ref": "#/components/schemas/Size"},
                "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "any": {},
            }},
            "Size": {"type": "string", "enum": ["S", "M"]},
        }}});
        let op = Operation {
            method: axum::http::Method::POST,
            template: "/x/".into(),
            params: Vec::new(),
            secured: true,
            spec: json!({"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}}}),
        };
        let bodies = bad_bodies(&document, &op);
        assert_eq!(bodies.len(), 3);
        let wrong: Value = serde_json::from_str(&bodies[2].1).unwrap_or_default();
        assert_eq!(wrong, json!({"name": [], "size": [], "count": "x"}));
    }
}
