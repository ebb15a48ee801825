//! What every axis operation may answer besides its success, written into
//! the OpenAPI document once instead of on each of the ~100 operations: a
//! signed-in caller may be refused (403: a role, or `X-Client-ID`), a path
//! id may name nothing the caller may see (404), a write may break a rule
//! (400), and a `days` window is 1 to 36 500 days.

use kernel::docs::add_response;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};

pub fn finish(mut openapi: OpenApi) -> OpenApi {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let reads = [item.get.as_mut()];
        let writes = [
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in reads.into_iter().flatten() {
            common(operation, has_id);
        }
        for operation in writes.into_iter().flatten() {
            common(operation, has_id);
            add_response(
                operation,
                "400",
                "The input is invalid (`errors` per field) or a rule refuses the change (`code: invalid_state`).",
            );
        }
    }
    openapi
}

fn common(operation: &mut Operation, has_id: bool) {
    let signed_in = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if signed_in {
        add_response(
            operation,
            "403",
            "The caller's role may not do this, or `X-Client-ID` names a client the caller may not use.",
        );
    }
    if has_id {
        add_response(
            operation,
            "404",
            "No such row, or one outside the caller's reach (`<Model> not found`).",
        );
    }
    for parameter in kernel::docs::query_parameters(operation) {
        if parameter.name == "days" {
            parameter.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(36_500))
                    .into(),
            );
        }
    }
}
