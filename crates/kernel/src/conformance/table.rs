//! A system's conformance table: one [`Call`] per write operation of its
//! document (and the reads worth pinning), run in order against the real
//! router. Each call must answer its status; a write that succeeds must
//! leave exactly one row in the system's audit table (`System::AUDIT_TABLE`),
//! a refused one none, and no secret may reach that table; a success body
//! must match its committed snapshot. Every write operation of the document
//! must have a call or an exemption with a reason, so an endpoint added later
//! without one fails the table.
//!
//! A table is data: the fixtures the calls need are made by the test first.
//!
//! ```ignore
//! Table::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/snapshots/endpoints"))
//!     .calls([
//!         Call::post("/api/things/").by(&admin).json(json!({"name": "A"})).answers(201),
//!         Call::get(format!("/api/things/{id}/")).by(&admin),
//!         Call::post("/api/token/").json(credentials).unaudited("sign-in: a session, not a change"),
//!     ])
//!     .exempt(Method::POST, "/api/import/", "needs the registrar's SFTP server")
//!     .run(&app)
//!     .await;
//! ```

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use axum::http::Method;
use serde_json::Value;

use super::snapshot::{compare, file_stem, is_jwt, normalise};
use super::{document, is_write, operation_of, operations, report};
use crate::system::System;
use crate::testing::{TestApp, TestResponse};

/// One request of a [`Table`] and what it must answer.
#[derive(Debug, Clone)]
pub struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    token: Option<String>,
    status: u16,
    unaudited: Option<&'static str>,
    volatile: Vec<&'static str>,
    snapshot: bool,
}

impl Call {
    /// `method path`, anonymous and without a body, answering 200 (204 for
    /// a DELETE) unless told otherwise.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let status = if method == Method::DELETE { 204 } else { 200 };
        Self {
            method,
            path: path.into(),
            body: None,
            token: None,
            status,
            unaudited: None,
            volatile: Vec::new(),
            snapshot: true,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Sent with `token` as its bearer.
    #[must_use]
    pub fn by(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Sent with `body` as JSON.
    #[must_use]
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Must answer `status`.
    #[must_use]
    pub fn answers(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// A write that leaves no audit row, and why. Only session operations
    /// (sign-in, token refresh, logout) qualify: they change who is signed
    /// in, not the data; say so in `reason`.
    #[must_use]
    pub fn unaudited(mut self, reason: &'static str) -> Self {
        self.unaudited = Some(reason);
        self
    }

    /// Members of the body whose values change from run to run in ways the
    /// normaliser cannot tell (durations, random codes): snapshotted as
    /// `<volatile>`.
    #[must_use]
    pub fn volatile(mut self, keys: &[&'static str]) -> Self {
        self.volatile.extend_from_slice(keys);
        self
    }

    /// Not snapshotted (a body that is not JSON, a stream).
    #[must_use]
    pub fn unsnapshotted(mut self) -> Self {
        self.snapshot = false;
        self
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    async fn send<S: System>(&self, app: &TestApp<S>) -> TestResponse {
        let mut request = app.request(self.method.clone(), &self.path);
        if let Some(token) = &self.token {
            request = request.bearer(token);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        request.send().await
    }
}

/// A system's table of calls; see the module's documentation.
#[derive(Debug, Clone)]
pub struct Table {
    snapshots: PathBuf,
    calls: Vec<Call>,
    exempt: Vec<(Method, &'static str, &'static str)>,
}

/// Strings a response or request carries that must never reach an audit
/// row: values under secret keys (`password`, `token`, ...) and JSON Web
/// Tokens anywhere.
fn secrets(value: &Value, key: &str, into: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() >= 6 && (crate::audit::is_secret(key) || is_jwt(s)) => {
            into.push(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| secrets(v, key, into)),
        Value::Object(members) => members.iter().for_each(|(k, v)| secrets(v, k, into)),
        _ => {}
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(600) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.into_owned(),
    }
}

impl Table {
    /// A table whose snapshots live in `snapshots` (by convention
    /// `crates/<system>/tests/api/snapshots/endpoints`).
    pub fn new(snapshots: impl Into<PathBuf>) -> Self {
        Self {
            snapshots: snapshots.into(),
            calls: Vec::new(),
            exempt: Vec::new(),
        }
    }

    /// Adds `calls`, run in this order after those added before.
    #[must_use]
    pub fn calls(mut self, calls: impl IntoIterator<Item = Call>) -> Self {
        self.calls.extend(calls);
        self
    }

    /// A write operation of the document (`method` and path template as
    /// documented) the table does not call, and why.
    #[must_use]
    pub fn exempt(mut self, method: Method, template: &'static str, reason: &'static str) -> Self {
        self.exempt.push((method, template, reason));
        self
    }

    /// Runs every call against `app`, then checks that every write operation
    /// of `S`'s document was called or exempted. Panics listing every
    /// failure.
    pub async fn run<S: System>(&self, app: &TestApp<S>) {
        let document = document::<S>();
        let ops = operations(&document);
        let mut failures = Vec::new();
        let mut covered = HashSet::new();
        let mut stems: HashMap<String, usize> = HashMap::new();
        let audit_count = || async {
            match S::AUDIT_TABLE {
                Some(table) => app.row_counts().await.get(table).copied(),
                None => None,
            }
        };
        for call in &self.calls {
            let label = call.label();
            let Some(op) = operation_of(&ops, &call.method, &call.path) else {
                failures.push(format!("{label}: not an operation of the document"));
                continue;
            };
            covered.insert((op.method.clone(), op.template.clone()));
            match call.unaudited {
                Some(_) if !op.writes() => {
                    failures.push(format!("{label}: a read needs no audit exemption"));
                }
                Some(reason) if reason.trim().is_empty() => {
                    failures.push(format!("{label}: unaudited without a reason"));
                }
                _ => {}
            }
            let before = audit_count().await;
            let r = call.send(app).await;
            if r.status.as_u16() != call.status {
                failures.push(format!(
                    "{label}: {} instead of {}: {}",
                    r.status,
                    call.status,
                    excerpt(&r.body)
                ));
                continue;
            }
            if op.writes() {
                let Some(table) = S::AUDIT_TABLE else {
                    failures.push(format!("{label}: {} declares no audit table", S::NAME));
                    continue;
                };
                let after = audit_count().await;
                let added = after.unwrap_or(0) - before.unwrap_or(0);
                // A refused write (an expected 4xx) changes nothing to audit.
                let expected = i64::from(call.unaudited.is_none() && r.status.is_success());
                if added != expected {
                    failures.push(format!(
                        "{label}: {added} rows added to {table} instead of {expected}"
                    ));
                }
                let mut found = Vec::new();
                if let Some(body) = &call.body {
                    secrets(body, "", &mut found);
                }
                secrets(&r.json, "", &mut found);
                for secret in found {
                    if crate::testing::rows_containing(app.db(), table, &secret).await > 0 {
                        failures.push(format!("{label}: {table} holds a secret the call carried"));
                    }
                }
            }
            if call.snapshot && r.status.is_success() && !r.body.is_empty() {
                if r.json.is_null() {
                    failures.push(format!(
                        "{label}: the body is not JSON (mark the call unsnapshotted)"
                    ));
                    continue;
                }
                let stem = file_stem(op.method.as_str(), &op.template);
                let seen = stems.entry(stem.clone()).or_default();
                *seen += 1;
                let stem = match *seen {
                    1 => stem,
                    n => format!("{stem}_{n}"),
                };
                if let Err(problem) =
                    compare(&self.snapshots, &stem, &normalise(&r.json, &call.volatile))
                {
                    failures.push(format!("{label}: {problem}"));
                }
            }
        }
        for op in ops.iter().filter(|op| op.writes()) {
            let exempt = self
                .exempt
                .iter()
                .any(|(m, t, _)| *m == op.method && *t == op.template);
            if !exempt && !covered.contains(&(op.method.clone(), op.template.clone())) {
                failures.push(format!(
                    "{}: no call in the table (add one, or exempt it with a reason)",
                    op.label()
                ));
            }
        }
        for (method, template, reason) in &self.exempt {
            let label = format!("{method} {template}");
            if !is_write(method) {
                failures.push(format!("{label}: only writes are exempted"));
            } else if !ops
                .iter()
                .any(|op| op.method == *method && op.template == *template)
            {
                failures.push(format!("{label}: exempted but not in the document"));
            } else if covered.contains(&(method.clone(), (*template).to_owned())) {
                failures.push(format!("{label}: exempted and called"));
            }
            if reason.trim().is_empty() {
                failures.push(format!("{label}: exempted without a reason"));
            }
        }
        report(self.calls.len(), &failures, "table checks");
    }
}
