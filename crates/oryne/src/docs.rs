//! What every oryne operation can answer besides its success, written into
//! the OpenAPI document once (contract §0): each error in the `{success:
//! false, data: null, error: {code, message, details}}` envelope.
//!
//! Any school route can answer 404 `ERR_TENANT_01` (an unknown or inactive
//! school) and 400 `ERR_TENANT_05` (host and header disagree), 401 and 403
//! (tokens, permissions, sign-in, signed callbacks), any write 409, any body 413 and 415, anything 429 when
//! throttled and 503 when the database is down.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// The `ErrorEnvelope` schema.
fn error_content() -> RefOr<utoipa::openapi::Response> {
    RefOr::T(ResponseBuilder::new().build())
}

fn answer(operation: &mut Operation, status: &str, description: &str) {
    let content = ContentBuilder::new()
        .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorEnvelope"))))
        .build();
    let response = operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(error_content);
    if let RefOr::T(response) = response {
        if response.description.is_empty() {
            response.description = description.to_owned();
        }
        response.content.clear();
        response
            .content
            .insert("application/json".to_owned(), RefOr::T(content));
    }
}

/// Writes the error answers into every operation of `openapi`.
pub fn finish(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        "ErrorEnvelope".to_owned(),
        <crate::envelope::ErrorEnvelope as utoipa::PartialSchema>::schema(),
    );
    for (path, item) in openapi.paths.paths.iter_mut() {
        let public = path.ends_with("/health/");
        for (write, operation) in [
            (false, item.get.as_mut()),
            (true, item.post.as_mut()),
            (true, item.put.as_mut()),
            (true, item.patch.as_mut()),
            (true, item.delete.as_mut()),
        ] {
            let Some(operation) = operation else { continue };
            if public {
                answer(
                    operation,
                    "503",
                    "The database is unavailable (`ERR_UNAVAILABLE_01`).",
                );
                continue;
            }
            answer(
                operation,
                "400",
                "Invalid input (`ERR_VALIDATION_01`, `details` = {field: [messages]}), a malformed request (`ERR_REQUEST_01`), or host and `X-Tenant-ID` naming different schools (`ERR_TENANT_05`).",
            );
            answer(
                operation,
                "404",
                "Not found, not visible to the caller, or a page out of range (`ERR_NOT_FOUND_01`); an unknown or inactive school (`ERR_TENANT_01`).",
            );
            answer(
                operation,
                "429",
                "Throttled (`ERR_THROTTLE_01`) or sign-in locked (`ERR_AUTH_04`); see `Retry-After`.",
            );
            answer(
                operation,
                "503",
                "A required service is unavailable (`ERR_UNAVAILABLE_01`).",
            );
            // Anonymous routes too: failed sign-ins, signed callbacks, a
            // school setting that is off.
            {
                answer(
                    operation,
                    "401",
                    "No credentials (`ERR_AUTH_02`), an invalid, expired or revoked token (`ERR_AUTH_03`), bad credentials (`ERR_AUTH_01`), or a token of another school or context (`ERR_TENANT_02`).",
                );
                answer(
                    operation,
                    "403",
                    "A permission is missing (`ERR_PERM_01`), a plan limit is reached (`ERR_TENANT_03`) or the module is disabled (`ERR_TENANT_04`).",
                );
            }
            if write {
                answer(
                    operation,
                    "409",
                    "The change conflicts with the row's state or with rows that depend on it (`ERR_CONFLICT_01`).",
                );
            }
            if operation.request_body.is_some() {
                answer(
                    operation,
                    "413",
                    "The body is too large (`ERR_REQUEST_02`).",
                );
                answer(
                    operation,
                    "415",
                    "Unsupported media type (`ERR_REQUEST_03`).",
                );
            }
        }
    }
    openapi
}
