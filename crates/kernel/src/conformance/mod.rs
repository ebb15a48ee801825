//! Checks every endpoint of a system must pass, generated from its route
//! table (the OpenAPI document), so that no endpoint is forgotten and a new
//! one is covered the day it is added:
//!
//! - [`check`]: every operation that declares bearer security answers 401
//!   with `WWW-Authenticate` to an anonymous caller and to a forged token, in
//!   the system's envelope, before anything else is looked at; every path
//!   with a parameter answers a malformed id with 404 (or, for a caller the
//!   operation's role gate refuses, 403) — never a 400 for the body, never a
//!   500;
//! - [`check_bad_bodies`]: every operation that takes a JSON body refuses a
//!   malformed one, one of the wrong shape and one whose every field has the
//!   wrong type with a 4xx in the system's envelope, and writes nothing;
//! - [`Table`]: a system's own table of calls (one per write operation, plus
//!   reads), each answering its status, leaving exactly one audit row per
//!   write and no secret in the audit table, its success body matching a
//!   committed snapshot; every write operation of the document must be in it
//!   or exempted with a reason.
//!
//! Row-level checks (other users' rows, page envelopes) need data and live
//! in each system's tests.

mod bodies;
mod snapshot;
mod table;

use axum::http::Method;
use serde_json::{Value, json};

use crate::error::ErrorReport;
use crate::system::System;
use crate::testing::TestApp;

pub use bodies::check_bad_bodies;
pub use snapshot::normalise;
pub use table::{Call, Table};

/// One operation of the document.
struct Operation {
    method: Method,
    /// The path as documented, `{name}` for each parameter.
    template: String,
    /// The path parameters: name and JSON Schema type.
    params: Vec<(String, String)>,
    secured: bool,
    /// The operation object of the document.
    spec: Value,
}

impl Operation {
    /// The path with every parameter filled by `value(name, type)`.
    fn fill(&self, value: impl Fn(&str, &str) -> String) -> String {
        self.params
            .iter()
            .fold(self.template.clone(), |path, (name, kind)| {
                path.replace(&format!("{{{name}}}"), &value(name, kind))
            })
    }

    /// `GET /api/things/{id}/`, for messages.
    fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// Whether the method changes something.
    fn writes(&self) -> bool {
        is_write(&self.method)
    }
}

fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

/// The system's document as JSON.
fn document<S: System>() -> Value {
    serde_json::to_value(crate::system::openapi::<S>()).expect("a JSON document")
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    let Some(paths) = document["paths"].as_object() else {
        return found;
    };
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let params = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| {
                    let name = p["name"].as_str()?;
                    let kind = p["schema"]["type"].as_str().unwrap_or("string");
                    Some((name.to_owned(), kind.to_owned()))
                })
                .collect();
            found.push(Operation {
                secured: operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty()),
                template: template.clone(),
                params,
                spec: operation.clone(),
                method,
            });
        }
    }
    found
}

/// Whether the concrete `path` is an instance of `template` (`{name}`
/// matches one segment).
fn instance_of(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The operation `method path` reaches: of the templates `path` is an
/// instance of, the one with the most literal segments (`/users/me/` before
/// `/users/{id}/`), as the router picks.
fn operation_of<'a>(ops: &'a [Operation], method: &Method, path: &str) -> Option<&'a Operation> {
    ops.iter()
        .filter(|op| op.method == *method && instance_of(&op.template, path))
        .max_by_key(|op| {
            op.template
                .split('/')
                .filter(|s| !s.starts_with('{'))
                .count()
        })
}

/// Whether `body` is an error body the system renders: its envelope's shape
/// (the members its envelope gives every error, or for an envelope keyed by
/// field, an object of messages), or the shape the operation documents
/// itself for that status when that is not one of the kernel's error schemas
/// (a payment provider's callback answers in the provider's shape).
fn is_error_body<S: System>(document: &Value, op: &Operation, status: u16, body: &Value) -> bool {
    let Some(members) = body.as_object() else {
        return false;
    };
    let documented =
        &op.spec["responses"][status.to_string()]["content"]["application/json"]["schema"]["$ref"];
    if let Some(name) = documented
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        && !["ErrorBody", "ValidationError"].contains(&name)
    {
        let schema = &document["components"]["schemas"][name];
        return schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .all(|field| members.contains_key(field));
    }
    let envelope = S::envelope().unwrap_or(crate::error::drf_envelope);
    let probe = |fields: Option<crate::FieldErrors>| {
        envelope(&ErrorReport {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: "probe".into(),
            message: "probe".into(),
            fields,
            extra: serde_json::Map::new(),
        })
    };
    let has_all = |shape: &Value| {
        shape
            .as_object()
            .is_some_and(|keys| keys.keys().all(|k| members.contains_key(k)))
    };
    let field_probe = probe(Some(crate::FieldErrors::single("probe_field", "probe")));
    let keyed_by_field = field_probe.get("probe_field").is_some();
    let messages = |v: &Value| match v {
        Value::Array(items) => items.iter().all(Value::is_string),
        Value::Object(_) => true,
        _ => false,
    };
    has_all(&probe(None))
        || (!keyed_by_field && has_all(&field_probe))
        || (keyed_by_field && !members.is_empty() && members.values().all(messages))
}

/// Runs the checks against `app`, as `token`'s holder (an administrator
/// who passes most role gates). Panics listing every endpoint that fails.
pub async fn check<S: System>(app: &TestApp<S>, token: &str) {
    let document = document::<S>();
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in operations(&document) {
        let body = || json!({});
        let path = op.fill(|_, kind| match kind {
            "integer" => "1".to_owned(),
            _ => "00000000-0000-4000-8000-000000000001".to_owned(),
        });
        if op.secured {
            for bearer in [None, Some("forged.token.value")] {
                let mut request = app.request(op.method.clone(), &path).json(&body());
                if let Some(bearer) = bearer {
                    request = request.bearer(bearer);
                }
                let r = request.send().await;
                checked += 1;
                if r.status != 401 || r.header("www-authenticate").is_none() {
                    failures.push(format!(
                        "{} {path} ({}): {} instead of 401",
                        op.method,
                        if bearer.is_some() {
                            "forged token"
                        } else {
                            "anonymous"
                        },
                        r.status
                    ));
                } else if !is_error_body::<S>(&document, &op, 401, &r.json) {
                    failures.push(format!(
                        "{} {path}: a 401 outside the system's envelope: {}",
                        op.method,
                        String::from_utf8_lossy(&r.body)
                    ));
                }
            }
        }
        if !op.params.is_empty() {
            let path = op.fill(|_, _| "not-an-id".to_owned());
            let mut request = app.request(op.method.clone(), &path).json(&body());
            if op.secured {
                request = request.bearer(token);
            }
            let r = request.send().await;
            checked += 1;
            if !matches!(r.status.as_u16(), 404 | 403) {
                failures.push(format!(
                    "{} {path}: {} instead of 404 for a malformed id",
                    op.method, r.status
                ));
            }
        }
    }
    report(checked, &failures, "conformance checks");
}

/// Panics listing every failure, if any.
#[track_caller]
fn report(checked: usize, failures: &[String], what: &str) {
    assert!(checked > 0, "nothing to check: no operations or calls");
    assert!(
        failures.is_empty(),
        "{} of {checked} {what} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reach_the_most_literal_template() {
        let document = json!({"paths": {
            "/api/users/{id}/": {"get": {"parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}}]}},
            "/api/users/me/": {"get": {}},
            "/api/users/{id}/profile/": {"patch": {}},
        }});
        let ops = operations(&document);
        let of = |method: Method, path: &str| {
            operation_of(&ops, &method, path).map(|o| o.template.as_str())
        };
        assert_eq!(of(Method::GET, "/api/users/me/"), Some("/api/users/me/"));
        assert_eq!(of(Method::GET, "/api/users/7/"), Some("/api/users/{id}/"));
        assert_eq!(
            of(Method::GET, "/api/users/7/?x=1"),
            Some("/api/users/{id}/")
        );
        assert_eq!(
            of(Method::PATCH, "/api/users/7/profile/"),
            Some("/api/users/{id}/profile/")
        );
        assert_eq!(of(Method::GET, "/api/users/7/profile/"), None);
        assert_eq!(of(Method::GET, "/api/users//"), None);
    }
}
