//! One error type for every handler, rendered in Django REST Framework's shapes.
//!
//! Every variant maps to exactly one status code in [`ApiError::status`]; there is
//! no catch-all arm, so a server fault can never be reported as a client error
//! (or the other way round). Internal errors are logged once and rendered as a
//! bare 500 that carries no internals.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Field-keyed validation messages, in the order they were found (DRF's
/// `{"field": ["message", ...]}`; object-level errors live under
/// `non_field_errors`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    /// The key DRF uses for errors that belong to no single field.
    pub const NON_FIELD: &'static str = "non_field_errors";

    pub fn new() -> Self {
        Self::default()
    }

    /// One error on one field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        match self.0.iter_mut().find(|(name, _)| *name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field, vec![message])),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(name, _)| name == field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else the errors as a 400.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }

    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .0
            .iter()
            .map(|(field, messages)| (field.clone(), json!(messages)))
            .collect();
        Value::Object(map)
    }
}

type Text = Cow<'static, str>;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a field map.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400 with `{"detail", "code"}`.
    #[error("bad request: {detail}")]
    BadRequest { detail: Text, code: &'static str },
    /// 401: no credentials were sent.
    #[error("not authenticated")]
    NotAuthenticated,
    /// 401: credentials were sent and are wrong, expired or revoked.
    #[error("authentication failed: {detail}")]
    AuthenticationFailed { detail: Text, code: &'static str },
    /// 403.
    #[error("permission denied: {0}")]
    PermissionDenied(Text),
    /// 404.
    #[error("not found: {0}")]
    NotFound(Text),
    /// 405, with the methods the route does allow.
    #[error("method not allowed")]
    MethodNotAllowed { method: String },
    /// 409: the change conflicts with data that depends on the object.
    #[error("conflict: {0}")]
    Conflict(Text),
    /// 413.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType { content_type: String },
    /// 429 with the number of seconds until a request will be accepted.
    #[error("throttled")]
    Throttled { wait_seconds: u64 },
    /// 429 with a message of its own (a locked-out sign-in, for example).
    #[error("too many requests: {detail}")]
    TooManyRequests {
        detail: Text,
        code: &'static str,
        wait_seconds: u64,
    },
    /// 502: an upstream service (for example a payment gateway) failed.
    #[error("bad gateway: {0}")]
    BadGateway(Text),
    /// 503: a dependency of ours is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(Text),
    /// A 4xx (or a 503 from [`ApiError::unavailable`]) with `{"detail",
    /// "code"}` and fields of the system's own, for clients written against
    /// an original that answered, say, `{"error": …}`.
    #[error("{status}: {detail}")]
    Detailed {
        status: StatusCode,
        detail: Text,
        code: &'static str,
        fields: serde_json::Map<String, Value>,
    },
    /// 500. The source is logged, never rendered.
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<Text>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            code: "invalid",
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }

    pub fn non_field(message: impl Into<String>) -> Self {
        Self::field(FieldErrors::NON_FIELD, message)
    }

    pub fn forbidden(detail: impl Into<Text>) -> Self {
        Self::PermissionDenied(detail.into())
    }

    /// DRF's default 403 message.
    pub fn no_permission() -> Self {
        Self::forbidden("You do not have permission to perform this action.")
    }

    /// DRF's default 404 message.
    pub fn not_found() -> Self {
        Self::NotFound("Not found.".into())
    }

    pub fn not_found_msg(detail: impl Into<Text>) -> Self {
        Self::NotFound(detail.into())
    }

    pub fn auth_failed(detail: impl Into<Text>, code: &'static str) -> Self {
        Self::AuthenticationFailed {
            detail: detail.into(),
            code,
        }
    }

    /// `status` (a 4xx) with `{"detail", "code"}` plus the members of `fields`
    /// (an object; `detail` and `code` win over members of the same name).
    pub fn detailed(
        status: StatusCode,
        detail: impl Into<Text>,
        code: &'static str,
        fields: Value,
    ) -> Self {
        debug_assert!(status.is_client_error());
        let fields = match fields {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        Self::Detailed {
            status,
            detail: detail.into(),
            code,
            fields,
        }
    }

    /// 503 `{"detail", "code"}`: something this operation needs is not
    /// installed or not reachable on this node (a client can tell which
    /// by the code).
    pub fn unavailable(detail: impl Into<Text>, code: &'static str) -> Self {
        Self::Detailed {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: detail.into(),
            code,
            fields: serde_json::Map::new(),
        }
    }

    /// A fault of ours (500), except a database that cannot be reached
    /// now, which is a 503 to retry.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let error = error.into();
        if let Some(db) = error.downcast_ref::<sea_orm::DbErr>()
            && (crate::db::is_unreachable(db) || crate::db::is_busy(db))
        {
            tracing::warn!(%db, "database unavailable");
            return Self::Unavailable(
                "The service is temporarily unavailable; please try again.".into(),
            );
        }
        Self::Internal(error)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotAuthenticated | Self::AuthenticationFailed { .. } => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled { .. } | Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Detailed { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine code, human message and field errors of this error, for
    /// the system's envelope to render.
    pub fn report(&self) -> ErrorReport {
        let (code, message): (&str, Cow<'_, str>) = match self {
            Self::Validation(_) => ("invalid", Cow::Borrowed(VALIDATION_MESSAGE)),
            Self::BadRequest { detail, code } => (code, Cow::Borrowed(detail.as_ref())),
            Self::NotAuthenticated => (
                "not_authenticated",
                Cow::Borrowed("Authentication credentials were not provided."),
            ),
            Self::AuthenticationFailed { detail, code } => (code, Cow::Borrowed(detail.as_ref())),
            Self::PermissionDenied(d) => ("permission_denied", Cow::Borrowed(d.as_ref())),
            Self::NotFound(d) => ("not_found", Cow::Borrowed(d.as_ref())),
            Self::MethodNotAllowed { method } => (
                "method_not_allowed",
                Cow::Owned(format!("Method \"{method}\" not allowed.")),
            ),
            Self::Conflict(d) => ("conflict", Cow::Borrowed(d.as_ref())),
            Self::PayloadTooLarge => (
                "payload_too_large",
                Cow::Borrowed("Request body is too large."),
            ),
            Self::UnsupportedMediaType { content_type } => (
                "unsupported_media_type",
                Cow::Owned(format!(
                    "Unsupported media type \"{content_type}\" in request."
                )),
            ),
            Self::Throttled { wait_seconds } => (
                "throttled",
                Cow::Owned(format!(
                    "Request was throttled. Expected available in {wait_seconds} seconds."
                )),
            ),
            Self::TooManyRequests { detail, code, .. } => (code, Cow::Borrowed(detail.as_ref())),
            Self::BadGateway(d) => ("bad_gateway", Cow::Borrowed(d.as_ref())),
            Self::Unavailable(d) => ("service_unavailable", Cow::Borrowed(d.as_ref())),
            Self::Detailed { detail, code, .. } => (code, Cow::Borrowed(detail.as_ref())),
            Self::Internal(_) => ("error", Cow::Borrowed("A server error occurred.")),
        };
        ErrorReport {
            status: self.status(),
            code: code.to_owned(),
            message: message.into_owned(),
            fields: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            extra: match self {
                Self::Detailed { fields, .. } => fields.clone(),
                _ => Map::new(),
            },
        }
    }
}

/// The message of a validation error in envelopes that carry one.
pub const VALIDATION_MESSAGE: &str = "Validation failed. Please check your input.";

/// An error as a system's envelope sees it. Every error response carries one
/// in its extensions; a system whose envelope is not DRF's re-renders the
/// body from it (see [`crate::http::wrap`]).
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub status: StatusCode,
    /// Machine-readable (`not_found`, `token_not_valid`, ...).
    pub code: String,
    /// For people; for validation errors [`VALIDATION_MESSAGE`].
    pub message: String,
    /// Field-keyed messages of a validation error.
    pub fields: Option<FieldErrors>,
    /// Members an original's clients expect beside the message.
    pub extra: Map<String, Value>,
}

/// How a system renders its error bodies.
pub type Envelope = fn(&ErrorReport) -> Value;

/// Django REST Framework's shapes: `{"field": ["msg"]}` for validation,
/// `{"detail", "code"}` (plus any extra members) for everything else.
pub fn drf_envelope(report: &ErrorReport) -> Value {
    if let Some(fields) = &report.fields {
        return fields.to_json();
    }
    let mut body = report.extra.clone();
    body.insert("detail".into(), Value::from(report.message.as_str()));
    body.insert("code".into(), Value::from(report.code.as_str()));
    Value::Object(body)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %source, "request failed with an internal error");
        }
        let report = self.report();
        let mut response = (report.status, axum::Json(drf_envelope(&report))).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::NotAuthenticated | Self::AuthenticationFailed { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            Self::Throttled { wait_seconds } | Self::TooManyRequests { wait_seconds, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*wait_seconds));
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(std::sync::Arc::new(report));
        response
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// A database too busy to answer in time (a writer's 30 s wait, a pool
    /// with no free connection in time) is a 503 to retry, not a fault; so
    /// is one that cannot be reached ([`ApiError::internal`]).
    fn from(error: sea_orm::DbErr) -> Self {
        if crate::db::is_busy(&error) {
            return Self::Unavailable("The database is busy; please try again.".into());
        }
        Self::internal(error)
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(error: sea_orm::TransactionError<ApiError>) -> Self {
        match error {
            sea_orm::TransactionError::Connection(db) => Self::from(db),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}

/// True when `error` is a unique-constraint violation whose message names
/// `column` (constraints are named `uq_<table>_<column>` so every backend's
/// message contains the column name).
pub fn is_unique_violation(error: &sea_orm::DbErr, column: &str) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) if message.contains(column)
    )
}

/// True when `error` is a foreign-key violation (a protected row is referenced).
pub fn is_foreign_key_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
    )
}

/// The shape of a `{"detail": ...}` body, for OpenAPI documents.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    pub code: String,
}

/// The schema of a 400: `{"detail", "code"}` for a request that cannot be
/// read, or messages per field (object-level ones under `non_field_errors`).
pub fn validation_error_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Type};
    AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("ErrorBody"))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(
                    ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
                )),
        )
        .description(Some(
            "`{\"detail\", \"code\"}`, or messages per field (`{\"field\": [\"message\"]}`, object-level ones under `non_field_errors`).",
        ))
        .into()
}

/// A `{"message": ...}` body, used by action endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageOut {
    pub message: String,
}

impl MessageOut {
    pub fn new(message: impl Into<String>) -> crate::Json<Self> {
        crate::Json(Self {
            message: message.into(),
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
