//! oryne's envelope (contract §0): every success is `{"success": true,
//! "data": …, "meta": {…}, "error": null}` and every error
//! `{"success": false, "data": null, "error": {"code": "ERR_…", "message",
//! "details"}}`, with the contract's code table.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kernel::ApiError;
use kernel::error::{ErrorReport, VALIDATION_MESSAGE};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

pub const TENANT_NOT_FOUND: &str = "ERR_TENANT_01";
pub const OTHER_TENANT: &str = "ERR_TENANT_02";
pub const PLAN_LIMIT: &str = "ERR_TENANT_03";
pub const MODULE_DISABLED: &str = "ERR_TENANT_04";
pub const TENANT_MISMATCH: &str = "ERR_TENANT_05";
pub const BAD_CREDENTIALS: &str = "ERR_AUTH_01";

/// The error body of `report`.
pub fn render(report: &ErrorReport) -> Value {
    let status = report.status.as_u16();
    let code = code_of(report);
    let (message, details) = match &report.fields {
        Some(fields) => (VALIDATION_MESSAGE.to_owned(), fields.to_json()),
        None if status >= 500 && status != 502 && status != 503 => (
            "An unexpected error occurred. Please try again later.".to_owned(),
            json!({}),
        ),
        None => (report.message.clone(), Value::Object(report.extra.clone())),
    };
    json!({
        "success": false,
        "data": null,
        "error": {"code": code, "message": message, "details": details},
    })
}

fn code_of(report: &ErrorReport) -> &str {
    if report.code.starts_with("ERR_") {
        return &report.code;
    }
    if report.fields.is_some() {
        return "ERR_VALIDATION_01";
    }
    match report.status.as_u16() {
        400 => "ERR_REQUEST_01",
        401 if report.code == kernel::jwt::OTHER_TENANT_CODE => OTHER_TENANT,
        401 if report.code == "not_authenticated" => "ERR_AUTH_02",
        401 => "ERR_AUTH_03",
        403 => "ERR_PERM_01",
        404 => "ERR_NOT_FOUND_01",
        405 => "ERR_REQUEST_04",
        409 => "ERR_CONFLICT_01",
        413 => "ERR_REQUEST_02",
        415 => "ERR_REQUEST_03",
        429 if report.code == "account_locked" => "ERR_AUTH_04",
        429 => "ERR_THROTTLE_01",
        502 => "ERR_PAYMENT_01",
        503 => "ERR_UNAVAILABLE_01",
        _ => "ERR_SERVER_01",
    }
}

/// An error with one of the contract's codes.
pub fn error(status: StatusCode, code: &'static str, message: &'static str) -> ApiError {
    ApiError::detailed(status, message, code, json!({}))
}

pub fn tenant_not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, TENANT_NOT_FOUND, "Tenant not found.")
}

pub fn other_tenant() -> ApiError {
    ApiError::auth_failed(
        "This token or route belongs to another tenant.",
        OTHER_TENANT,
    )
}

pub fn plan_limit(message: &'static str) -> ApiError {
    error(StatusCode::FORBIDDEN, PLAN_LIMIT, message)
}

/// Every error: `{"success": false, "data": null, "error": {code, message, details}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    #[schema(value_type = Option<String>)]
    pub data: (),
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `ERR_…`, from the contract's table.
    pub code: String,
    pub message: String,
    /// Field-keyed messages of a validation error; other details otherwise.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// A success: `{"success": true, "data": …, "meta": {}, "error": null}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    pub meta: Meta,
    #[schema(value_type = Option<String>)]
    pub error: (),
}

/// Empty on single objects; lists carry `pagination`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Meta {}

impl<T: Serialize> Data<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
            meta: Meta {},
            error: (),
        }
    }
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// `200` with `data`.
pub fn ok<T: Serialize>(data: T) -> Data<T> {
    Data::new(data)
}

/// `201` with `data`.
pub fn created<T: Serialize>(data: T) -> (StatusCode, Data<T>) {
    (StatusCode::CREATED, Data::new(data))
}

/// `202` with `data`.
pub fn accepted<T: Serialize>(data: T) -> (StatusCode, Data<T>) {
    (StatusCode::ACCEPTED, Data::new(data))
}

/// What an action without a row answers: `{"message": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

pub fn message(text: impl Into<String>) -> Data<Message> {
    Data::new(Message {
        message: text.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_table() {
        let report = |e: ApiError| render(&e.report());
        assert_eq!(
            report(ApiError::not_found())["error"]["code"],
            "ERR_NOT_FOUND_01"
        );
        assert_eq!(
            report(ApiError::NotAuthenticated)["error"]["code"],
            "ERR_AUTH_02"
        );
        assert_eq!(report(tenant_not_found())["error"]["code"], "ERR_TENANT_01");
        assert_eq!(report(other_tenant())["error"]["code"], "ERR_TENANT_02");
        let v = report(ApiError::field("email", "Enter a valid email address."));
        assert_eq!(v["error"]["code"], "ERR_VALIDATION_01");
        assert_eq!(
            v["error"]["details"]["email"][0],
            "Enter a valid email address."
        );
        assert_eq!(v["success"], false);
        assert_eq!(v["data"], Value::Null);
        let internal = report(ApiError::internal(std::io::Error::other("secret path /x")));
        assert_eq!(internal["error"]["code"], "ERR_SERVER_01");
        assert!(!internal.to_string().contains("secret"));
    }
}
