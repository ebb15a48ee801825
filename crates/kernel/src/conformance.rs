//! Checks every endpoint of a system must pass, generated from its route
//! table (the OpenAPI document), so that no endpoint is forgotten and a new
//! one is covered the day it is added:
//!
//! - every operation that declares bearer security answers 401 with
//!   `WWW-Authenticate` to an anonymous caller and to a forged token, in
//!   the system's envelope, before anything else is looked at;
//! - every path with a parameter answers a malformed id with 404 (or, for a
//!   caller the operation's role gate refuses, 403) — never a 400 for the
//!   body, never a 500.
//!
//! Row-level checks (other users' rows, audit rows per write, page
//! envelopes) need data and live in each system's tests.

use axum::http::Method;
use serde_json::{Value, json};

use crate::system::System;
use crate::testing::TestApp;

/// One operation of the document.
struct Operation {
    method: Method,
    /// The path with its parameters filled with well-formed values.
    path: String,
    /// The path with its parameters filled with a malformed id; `None`
    /// when it has no parameters.
    malformed: Option<String>,
    secured: bool,
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
            let params: Vec<(&str, &str)> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| {
                    let name = p["name"].as_str()?;
                    let kind = p["schema"]["type"].as_str().unwrap_or("string");
                    Some((name, kind))
                })
                .collect();
            let fill = |malformed: bool| {
                params.iter().fold(template.clone(), |path, (name, kind)| {
                    let value = match (malformed, *kind) {
                        (true, _) => "not-an-id",
                        (false, "integer") => "1",
                        (false, _) => "00000000-0000-4000-8000-000000000001",
                    };
                    path.replace(&format!("{{{name}}}"), value)
                })
            };
            found.push(Operation {
                secured: operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty()),
                path: fill(false),
                malformed: (!params.is_empty()).then(|| fill(true)),
                method,
            });
        }
    }
    found
}

/// Runs the checks against `app`, as `token`'s holder (an administrator
/// who passes most role gates). Panics listing every endpoint that fails.
pub async fn check<S: System>(app: &TestApp<S>, token: &str) {
    let document = serde_json::to_value(crate::system::openapi::<S>()).expect("a JSON document");
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in operations(&document) {
        let body = || json!({});
        if op.secured {
            for bearer in [None, Some("forged.token.value")] {
                let mut request = app.request(op.method.clone(), &op.path).json(&body());
                if let Some(bearer) = bearer {
                    request = request.bearer(bearer);
                }
                let r = request.send().await;
                checked += 1;
                if r.status != 401 || r.header("www-authenticate").is_none() {
                    failures.push(format!(
                        "{} {} ({}): {} instead of 401",
                        op.method,
                        op.path,
                        if bearer.is_some() {
                            "forged token"
                        } else {
                            "anonymous"
                        },
                        r.status
                    ));
                }
            }
        }
        if let Some(path) = &op.malformed {
            let mut request = app.request(op.method.clone(), path).json(&body());
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
    assert!(checked > 0, "the document lists no operations");
    assert!(
        failures.is_empty(),
        "{} of {checked} conformance checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
