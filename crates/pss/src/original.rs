//! The original's error bodies beside campus's: its clients read `detail`
//! (or `error`) and `errors` where campus answers a field map. A 400 keeps
//! the field map and gains those members.

use axum::http::StatusCode;
use kernel::ApiError;
use kernel::form::{NOT_BLANK, NOT_NULL, REQUIRED};
use serde_json::{Map, Value, json};

/// What the original says about a set of field errors: its `detail` and
/// its `errors` map.
pub(crate) struct Said {
    pub detail: String,
    pub errors: Map<String, Value>,
}

impl Said {
    /// `detail` over the field map as it is.
    pub fn plain(detail: impl Into<String>, fields: &Map<String, Value>) -> Self {
        Self {
            detail: detail.into(),
            errors: fields.clone(),
        }
    }

    /// `detail` with an `errors` map of the original's own.
    pub fn with(detail: impl Into<String>, errors: Value) -> Self {
        Self {
            detail: detail.into(),
            errors: match errors {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }
}

/// The messages of `field` in a field map.
pub(crate) fn messages<'a>(fields: &'a Map<String, Value>, field: &str) -> Vec<&'a str> {
    fields
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Whether `field` was left out, null or blank.
pub(crate) fn missing(fields: &Map<String, Value>, field: &str) -> bool {
    messages(fields, field)
        .iter()
        .any(|m| [REQUIRED, NOT_NULL, NOT_BLANK].contains(m))
}

/// The first message of a field map, for a `detail` when nothing better fits.
pub(crate) fn first_message(fields: &Map<String, Value>) -> String {
    fields
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .find_map(Value::as_str)
        .unwrap_or(kernel::error::VALIDATION_MESSAGE)
        .to_owned()
}

/// A field-map 400 as the field map plus the original's `detail` and
/// `errors` (and `error`, the same text, for views that named it so);
/// any other error as it is.
pub(crate) fn explain(
    error: ApiError,
    error_too: bool,
    decide: impl FnOnce(&Map<String, Value>) -> Said,
) -> ApiError {
    let ApiError::Validation(fields) = error else {
        return error;
    };
    let Value::Object(map) = fields.to_json() else {
        return ApiError::Validation(fields);
    };
    let said = decide(&map);
    let mut body = map;
    body.insert("errors".into(), Value::Object(said.errors));
    if error_too {
        body.insert("error".into(), json!(said.detail));
    }
    ApiError::detailed(
        StatusCode::BAD_REQUEST,
        said.detail,
        "invalid",
        Value::Object(body),
    )
}

/// `error` (made by [`explain`]) with one more member in its body.
pub(crate) fn with_member(error: ApiError, key: &str, value: Value) -> ApiError {
    match error {
        ApiError::Detailed {
            status,
            detail,
            code,
            mut fields,
        } => {
            fields.insert(key.to_owned(), value);
            ApiError::Detailed {
                status,
                detail,
                code,
                fields,
            }
        }
        other => other,
    }
}
