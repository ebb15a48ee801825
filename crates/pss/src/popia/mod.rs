//! `/api/popia/`: what South Africa's Protection of Personal Information Act
//! asks of a system holding medical data. Privacy-policy versions, consents
//! per type (granted and withdrawn with when, from where and to which policy
//! version), an export of everything held about the caller, and deletion
//! requests that an administrator reviews and executes: execution erases the
//! person's journal, intake, notes, profile, consents, sessions and sign-in
//! secrets and anonymises the account in one transaction, keeping a proof
//! record that holds no personal data.
//!
//! Refusals the original answered as `{"error": …}` carry `error` beside the
//! DRF `detail`, so clients written against either read them.

mod consents;
mod deletion_requests;
mod erasure;
mod export;
mod policies;

use axum::http::StatusCode;
use kernel::ApiError;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) use erasure::complete_erasure;
pub use erasure::sweep_erased;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policies::privacy_policy))
        .routes(routes!(
            policies::list_privacy_policies,
            policies::create_privacy_policy
        ))
        .routes(routes!(policies::activate_privacy_policy))
        .routes(routes!(consents::list_consents))
        .routes(routes!(consents::grant_consent))
        .routes(routes!(consents::withdraw_consent))
        .routes(routes!(export::data_export))
        .routes(routes!(deletion_requests::list_deletion_requests))
        .routes(routes!(deletion_requests::create_deletion_request))
        .routes(routes!(deletion_requests::review_deletion_request))
        .routes(routes!(deletion_requests::execute_deletion_request))
        .routes(routes!(deletion_requests::cancel_deletion_request))
}

/// A refusal in the DRF shape, with the original's `error` member beside it.
fn refuse(status: StatusCode, message: &'static str, extra: Value) -> ApiError {
    let mut fields = match extra {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    fields.insert("error".into(), Value::from(message));
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::FORBIDDEN => "permission_denied",
        _ => "invalid",
    };
    ApiError::detailed(status, message, code, Value::Object(fields))
}
