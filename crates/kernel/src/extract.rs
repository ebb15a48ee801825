//! Request extractors whose rejections are DRF-shaped [`ApiError`]s.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ApiError, FieldErrors};

/// A JSON body: 415 for another media type, 413 over the body limit, 400 with
/// `detail` for malformed JSON, 400 with a field map for a value of the wrong type.
///
/// An empty body with no content type reads as `{}`, as DRF treats it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        match content_type {
            Some(ct) if is_json(&ct) => {}
            None if bytes.is_empty() => {}
            Some(ct) => {
                return Err(ApiError::UnsupportedMediaType {
                    content_type: media_type(&ct),
                });
            }
            None => {
                return Err(ApiError::UnsupportedMediaType {
                    content_type: String::new(),
                });
            }
        }
        parse_json(if bytes.is_empty() { b"{}" } else { &bytes }).map(Json)
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(content_type: &str) -> bool {
    let media = media_type(content_type);
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Maps a body-reading failure: over the limit is 413, a body that did not
/// arrive in time 408, anything else 400.
pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else if crate::serve::is_body_timeout(&rejection) {
        crate::serve::timed_out()
    } else {
        ApiError::bad_request("The request body could not be read.")
    }
}

/// Parses JSON into `T`, mapping syntax errors to a `detail` and type errors to
/// the offending field. serde_json's recursion limit refuses absurd nesting.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
            detail: format!("JSON parse error - {e}").into(),
            code: "parse_error",
        })?;
    if !value.is_object() {
        return Err(ApiError::non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            json_kind(&value)
        )));
    }
    let mut value = value;
    integral_floats_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." || field.is_empty() {
            FieldErrors::NON_FIELD.to_owned()
        } else {
            field
        };
        ApiError::Validation(FieldErrors::single(
            field,
            type_message(&error.inner().to_string()),
        ))
    })
}

/// `2.0` is an integer to JSON Schema and to DRF's `IntegerField`; serde
/// would refuse it for an integer field, so whole floats become integers
/// before the value is read. Only up to 2^53, where every whole float is
/// exact: a larger one may be an out-of-range integer rounded.
pub fn integral_floats_as_integers(value: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        serde_json::Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                // In range and whole, so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *number = whole.into();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::String(_) => {}
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

/// DRF's wording for a value of the wrong type, from serde's description.
fn type_message(serde_message: &str) -> String {
    let lower = serde_message.to_ascii_lowercase();
    let expected = lower.split("expected").nth(1).unwrap_or("");
    let message = if lower.contains("uuid") {
        "Must be a valid UUID."
    } else if lower.contains("decimal") || expected.contains("f64") || expected.contains("f32") {
        "A valid number is required."
    } else if [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer",
    ]
    .iter()
    .any(|t| expected.contains(t))
    {
        "A valid integer is required."
    } else if expected.contains("bool") {
        "Must be a valid boolean."
    } else if expected.contains("string") || expected.contains("str") {
        "Not a valid string."
    } else if expected.contains("sequence") || expected.contains("vec") {
        "Expected a list of items."
    } else if expected.contains("datetime")
        || expected.contains("date")
        || [
            "premature end of input",
            "input contains invalid characters",
            "trailing input",
            "input is out of range",
            "no possible date",
        ]
        .iter()
        .any(|m| lower.contains(m))
    {
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
    } else if serde_message.starts_with("unknown variant") {
        return match serde_message.split('`').nth(1) {
            Some(value) => format!("\"{value}\" is not a valid choice."),
            None => "Not a valid choice.".to_owned(),
        };
    } else {
        "Invalid value."
    };
    message.to_owned()
}

/// The raw request body, whatever its type (for webhooks that must answer
/// even malformed requests in their own format). 413 over the body limit.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(body_rejection)
    }
}

/// A UUID path segment; anything that is not one is a 404, as if no row matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        Uuid::parse_str(&raw)
            .map(Id)
            .map_err(|_| ApiError::not_found())
    }
}

/// The value of the route's last path parameter (`{id}` of
/// `/things/{id}/action/`), percent-decoded.
pub async fn last_path_param(parts: &mut Parts) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, &())
        .await
        .ok()?;
    params.iter().last().map(|(_, value)| value.to_owned())
}

/// A positive integer path segment (an auto-increment primary key); anything
/// else is a 404, as if no row matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IntId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        parse_int_id(&raw)
            .map(IntId)
            .ok_or_else(ApiError::not_found)
    }
}

/// Reads a primary key as Django's `<int:pk>` route does: ASCII digits only,
/// positive, and within a signed 64-bit integer.
pub fn parse_int_id(raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Query parameters; a value of the wrong type is a 400 naming the parameter.
/// As with [`crate::ListQuery`], a blank value reads as absent and the last
/// of a repeated parameter wins (Django's `QueryDict.get`).
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = last_values(parts.uri.query().unwrap_or(""));
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                ApiError::field(
                    error.path().to_string(),
                    type_message(&error.inner().to_string()),
                )
            })
    }
}

/// `query` with each parameter once, at its last value (in the order of
/// first appearance), and without those whose last value is blank.
fn last_values(query: &str) -> String {
    let mut seen: std::collections::HashMap<std::borrow::Cow<'_, str>, usize> =
        std::collections::HashMap::new();
    let mut pairs: Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match seen.get(&name) {
            Some(&index) => pairs[index].1 = value,
            None => {
                seen.insert(name.clone(), pairs.len());
                pairs.push((name, value));
            }
        }
    }
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            pairs
                .into_iter()
                .filter(|(_, value)| !value.trim().is_empty()),
        )
        .finish()
}

/// The client's address as [`client_ip`] finds it, honouring the configured
/// number of trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: crate::system::HasKernel + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(
            parts,
            state.kernel().settings.trusted_proxies,
        )))
    }
}

/// The client's address: the socket peer, or the `X-Forwarded-For` entry added
/// by the outermost trusted proxy when `trusted_proxies` hops are configured.
pub fn client_ip(parts: &Parts, trusted_proxies: usize) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if trusted_proxies == 0 {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    // Each trusted proxy appended one entry; the client is the one before them.
    match forwarded.len().checked_sub(trusted_proxies) {
        Some(index) => forwarded.get(index).copied().or(peer),
        None => forwarded.first().copied().or(peer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        year: Option<i32>,
        #[allow(dead_code)]
        id: Option<Uuid>,
    }

    fn field_error(bytes: &[u8]) -> serde_json::Value {
        match parse_json::<Body>(bytes) {
            Err(ApiError::Validation(errors)) => errors.to_json(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_field_in_drf_words() {
        assert_eq!(
            field_error(br#"{"year":"x"}"#),
            serde_json::json!({"year": ["A valid integer is required."]})
        );
        assert_eq!(
            field_error(br#"{"id":"nope"}"#),
            serde_json::json!({"id": ["Must be a valid UUID."]})
        );
        assert_eq!(
            field_error(b"[1,2]"),
            serde_json::json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
    }

    #[tokio::test]
    async fn a_repeated_query_parameter_takes_its_last_value() {
        #[derive(Debug, Deserialize)]
        struct Params {
            page: Option<u32>,
            q: Option<String>,
        }
        let query = |uri: &str| {
            let (mut parts, ()) = axum::http::Request::builder()
                .uri(uri)
                .body(())
                .unwrap()
                .into_parts();
            async move { Query::<Params>::from_request_parts(&mut parts, &()).await }
        };
        let Query(p) = query("/x/?page=1&q=a%20b&page=2").await.unwrap();
        assert_eq!((p.page, p.q.as_deref()), (Some(2), Some("a b")));
        let Query(p) = query("/x/?page=x&page=3").await.unwrap();
        assert_eq!(p.page, Some(3));
        // The last value is the one checked, under the parameter's own name.
        match query("/x/?page=3&page=x").await {
            Err(ApiError::Validation(errors)) => assert_eq!(
                errors.to_json(),
                serde_json::json!({"page": ["Invalid value."]})
            ),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn whole_floats_are_integers() {
        let body: Body = parse_json(br#"{"year": 2024.0}"#).unwrap();
        assert_eq!(body.year, Some(2024));
        assert_eq!(
            field_error(br#"{"year": 2024.5}"#),
            serde_json::json!({"year": ["A valid integer is required."]})
        );
        for too_big in [
            &b"{\"year\": 1e300}"[..],
            b"{\"year\": -9223372036854775809}",
        ] {
            assert_eq!(
                field_error(too_big),
                serde_json::json!({"year": ["A valid integer is required."]})
            );
        }
    }

    #[test]
    fn query_values_read_as_drf_reads_them() {
        assert_eq!(last_values("a=1&b=&a=2&c=%20&d=x"), "a=2&d=x");
        assert_eq!(last_values(""), "");
    }

    #[test]
    fn integer_ids_are_digits_only() {
        assert_eq!(parse_int_id("42"), Some(42));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1e3",
            " 1",
            "9223372036854775808",
            "abc",
        ] {
            assert_eq!(parse_int_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_and_deeply_nested_json_are_a_parse_error() {
        assert!(matches!(
            parse_json::<Body>(b"{\"year\":"),
            Err(ApiError::BadRequest {
                code: "parse_error",
                ..
            })
        ));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_json::<Body>(deep.as_bytes()),
            Err(ApiError::BadRequest {
                code: "parse_error",
                ..
            })
        ));
    }
}
