//! axis's one error envelope: `{error, message, detail, code, status_code}`
//! for every status ≥ 400, plus `errors` (field → messages) on validation
//! failures (axis contract §0, "Errors").

use kernel::error::{ErrorReport, VALIDATION_MESSAGE};
use serde_json::{Value, json};

pub fn render(report: &ErrorReport) -> Value {
    let status = report.status.as_u16();
    let (code, text) = if report.fields.is_some() {
        ("validation_error", VALIDATION_MESSAGE)
    } else {
        match status {
            413 => ("payload_too_large", "Request body too large"),
            500..=501 => (
                "server_error",
                "An unexpected error occurred. Please try again later.",
            ),
            _ => (report.code.as_str(), report.message.as_str()),
        }
    };
    let mut body = json!({
        "error": text,
        "message": text,
        "detail": text,
        "code": code,
        "status_code": status,
    });
    if let (Some(fields), Value::Object(map)) = (&report.fields, &mut body) {
        map.insert("errors".into(), fields.to_json());
    }
    if let Value::Object(map) = &mut body {
        for (key, value) in &report.extra {
            map.insert(key.clone(), value.clone());
        }
    }
    body
}
