//! `/api/schema/` (OpenAPI 3.1 JSON), `/api/docs/` (Swagger UI) and
//! `/api/redoc/` (ReDoc), with every asset served from the binary.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::PartialSchema;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, OpenApi, RefOr, Required, ResponseBuilder};

use crate::listing::{Drf, Paging};

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

/// Adds the bearer scheme every system authenticates with.
pub fn with_bearer_auth(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "jwt",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    openapi
}

/// The document as a DRF-paged system serves it (see [`finish_for`]).
pub fn finish(openapi: OpenApi) -> OpenApi {
    finish_for::<Drf>(openapi)
}

/// The document as a system paging in style `P` serves it: the bearer scheme
/// added, and what the kernel's own mechanisms answer written into every
/// operation they serve (see [`conform`]).
pub fn finish_for<P: Paging>(openapi: OpenApi) -> OpenApi {
    conform::<P>(with_bearer_auth(openapi))
}

/// Writes into each operation what the kernel's extractors and list
/// plumbing do, so no handler has to repeat it:
///
/// - an optional query parameter may be blank, which reads as absent
///   (`allowEmptyValue`), as django-filter does;
/// - a list (an operation with a `?page=` parameter) reads its page and
///   answers as paging style `P` documents ([`Paging::document`]: for DRF,
///   404 `Invalid page.` for a page out of range, `?page=` also takes `last`,
///   and a `?page_size=` that is not a positive integer is ignored), and 400
///   for a malformed filter;
/// - any other operation with a query parameter answers 400 when it is
///   malformed;
/// - an operation that requires the bearer token answers 401 without it;
/// - a multipart part's name has no control characters;
/// - a JSON body is optional when it requires nothing (an empty body reads as
///   `{}`), and a PATCH body is the same schema with nothing required
///   (`Patched<Name>`, DRF's `partial=True`);
/// - every answer has a description, and a 4xx or 5xx without a body of
///   its own has the kernel's error body;
/// - a nullable formatted value is written as `anyOf` (see
///   [`split_nullable_formats`]).
pub fn conform<P: Paging>(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Components::default);
    components
        .schemas
        .entry("ErrorBody".to_owned())
        .or_insert_with(crate::error::ErrorBody::schema);
    components
        .schemas
        .entry("ValidationError".to_owned())
        .or_insert_with(crate::error::validation_error_schema);
    let mut patched: Vec<(String, Schema)> = Vec::new();
    for item in openapi.paths.paths.values_mut() {
        for (method, operation) in [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
            (HttpMethod::Put, item.put.as_mut()),
            (HttpMethod::Patch, item.patch.as_mut()),
            (HttpMethod::Delete, item.delete.as_mut()),
        ] {
            let Some(operation) = operation else { continue };
            conform_query::<P>(operation);
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add_response(
                    operation,
                    "401",
                    "Authentication credentials were not provided or are not valid.",
                );
            }
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                conform_body(body, method, components, &mut patched);
            }
            describe_responses(operation);
        }
    }
    for (name, schema) in patched {
        components.schemas.entry(name).or_insert(schema.into());
    }
    for schema in components.schemas.values_mut() {
        split_nullable_formats(schema);
    }
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            for parameter in query_parameters(operation) {
                if let Some(schema) = parameter.schema.as_mut() {
                    split_nullable_formats(schema);
                }
            }
        }
    }
    openapi
}

/// Writes `{"type": ["string", "null"], "format": "uuid"}` as `{"anyOf":
/// [{"type": "string", "format": "uuid"}, {"type": "null"}]}`: the same
/// schema, but generators that drop the format of a multi-type schema would
/// otherwise take `""` for a valid UUID or date.
fn split_nullable_formats(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            for property in object.properties.values_mut() {
                split_nullable_formats(property);
            }
            let SchemaType::Array(types) = &object.schema_type else {
                return;
            };
            let others: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            // A file keeps its `format: binary` where multipart encoders look for it.
            let file = matches!(
                object.format,
                Some(SchemaFormat::KnownFormat(
                    KnownFormat::Binary | KnownFormat::Byte
                ))
            );
            if object.format.is_none() || file || others.len() != 1 || others.len() == types.len() {
                return;
            }
            let mut inner = object.clone();
            inner.schema_type = SchemaType::Type(others[0].clone());
            let description = inner.description.take();
            *schema = AnyOfBuilder::new()
                .item(inner)
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .description(description)
                .into();
        }
        Schema::Array(array) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                split_nullable_formats(items);
            }
        }
        Schema::AnyOf(any) => any.items.iter_mut().for_each(split_nullable_formats),
        Schema::OneOf(one) => one.items.iter_mut().for_each(split_nullable_formats),
        Schema::AllOf(all) => all.items.iter_mut().for_each(split_nullable_formats),
        _ => {}
    }
}

/// Describes every answer that has no description (OpenAPI requires one),
/// and gives every 4xx and 5xx answer without a body of its own the kernel's
/// error body (`{"detail", "code"}`, or a field map for a 400).
fn describe_responses(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if response.description.is_empty() {
            response.description = match status.as_str() {
                "400" => "Invalid input.".to_owned(),
                "401" => {
                    "Authentication credentials were not provided or are not valid.".to_owned()
                }
                "403" => "You do not have permission to perform this action.".to_owned(),
                "409" => "The change conflicts with data that depends on it.".to_owned(),
                other => other
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                    .and_then(|code| code.canonical_reason())
                    .map_or_else(|| "Answer.".to_owned(), |reason| format!("{reason}.")),
            };
        }
        if (status.starts_with('4') || status.starts_with('5')) && response.content.is_empty() {
            let schema = if status == "400" {
                "ValidationError"
            } else {
                "ErrorBody"
            };
            response.content.insert(
                "application/json".to_owned(),
                RefOr::T(
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            schema,
                        ))))
                        .build(),
                ),
            );
        }
    }
}

/// Adds answer `status` to `operation` unless it lists one already (4xx and
/// 5xx answers get the kernel's error body from [`conform`]).
pub fn add_response(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| ResponseBuilder::new().description(description).into());
}

/// The query parameters `operation` documents.
pub fn query_parameters(operation: &mut Operation) -> impl Iterator<Item = &mut Parameter> {
    operation
        .parameters
        .iter_mut()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(parameter) => Some(parameter),
            RefOr::Ref(_) => None,
        })
        .filter(|p| p.parameter_in == ParameterIn::Query)
}

fn conform_query<P: Paging>(operation: &mut Operation) {
    let paged = query_parameters(operation).any(|p| p.name == "page");
    for parameter in query_parameters(operation) {
        // A blank value reads as absent (`ListQuery::get`), as django-filter does.
        if parameter.required != Required::True {
            parameter
                .extensions
                .get_or_insert_with(Default::default)
                .insert("allowEmptyValue".to_owned(), true.into());
        }
    }
    if paged {
        P::document(operation);
    }
    // Every query is read by `ListQuery` or `Query`, which refuse NUL and
    // malformed values with a 400.
    if query_parameters(operation).next().is_some() {
        add_response(
            operation,
            "400",
            "A query parameter is malformed: `{\"name\": [\"message\"]}`.",
        );
    }
}

fn conform_body(
    body: &mut RequestBody,
    method: HttpMethod,
    components: &mut Components,
    patched: &mut Vec<(String, Schema)>,
) {
    if let Some(RefOr::T(content)) = body.content.get("multipart/form-data")
        && let Some(RefOr::Ref(reference)) = content.schema.as_ref()
        && let Some(name) = reference.ref_location.strip_prefix("#/components/schemas/")
        && let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name)
    {
        // A part's name travels in its Content-Disposition header, where
        // control characters (but tab) make the body malformed (400).
        object.property_names = Some(Box::new(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"))
                .into(),
        ));
    }
    let Some(RefOr::T(content)) = body.content.get_mut("application/json") else {
        return;
    };
    let Some(RefOr::Ref(reference)) = content.schema.as_ref() else {
        return;
    };
    let Some(name) = reference.ref_location.strip_prefix("#/components/schemas/") else {
        return;
    };
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(name) else {
        return;
    };
    if method == HttpMethod::Patch && !object.required.is_empty() {
        let partial_name = format!("Patched{name}");
        let mut partial = object.clone();
        partial.required.clear();
        patched.push((partial_name.clone(), Schema::Object(partial)));
        content.schema = Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            partial_name,
        )));
        body.required = Some(Required::False);
    } else if object.required.is_empty() {
        body.required = Some(Required::False);
    }
}

/// [`lint_for`] a DRF-paged system's document.
pub fn lint(openapi: &OpenApi) -> Vec<String> {
    lint_for::<Drf>(openapi)
}

/// What [`conform`] promises, checked on a finished document: every `$ref`
/// resolves, every answer is described and every 4xx and 5xx has a body, every
/// operation behind the token lists 401, every list lists 400 and what paging
/// style `P` answers ([`Paging::ANSWERS`]), and a PATCH body requires nothing.
/// Returns one line per problem.
pub fn lint_for<P: Paging>(openapi: &OpenApi) -> Vec<String> {
    let mut list_answers = vec!["400"];
    list_answers.extend(P::ANSWERS.iter().filter(|s| **s != "400"));
    let document = serde_json::to_value(openapi).unwrap_or_default();
    let schemas = &document["components"]["schemas"];
    let mut problems = Vec::new();
    let mut references = Vec::new();
    collect_refs(&document, &mut references);
    for reference in references {
        let found = reference
            .strip_prefix("#/components/schemas/")
            .is_some_and(|name| schemas.get(name).is_some());
        if !found {
            problems.push(format!("unresolved reference {reference}"));
        }
    }
    let empty = serde_json::Map::new();
    for (path, item) in document["paths"].as_object().unwrap_or(&empty) {
        for (method, operation) in item.as_object().unwrap_or(&empty) {
            let label = format!("{} {path}", method.to_uppercase());
            let responses = operation["responses"].as_object().unwrap_or(&empty);
            for (status, response) in responses {
                if response["description"].as_str().unwrap_or("").is_empty() {
                    problems.push(format!("{label}: {status} has no description"));
                }
                if (status.starts_with('4') || status.starts_with('5'))
                    && response.get("content").is_none()
                {
                    problems.push(format!("{label}: {status} has no body"));
                }
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured && !responses.contains_key("401") {
                problems.push(format!("{label}: requires a token but lists no 401"));
            }
            let paged = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "page" && p["in"] == "query"));
            if paged && !list_answers.iter().all(|s| responses.contains_key(*s)) {
                problems.push(format!(
                    "{label}: a list must list {}",
                    list_answers.join(" and ")
                ));
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            if method == "patch"
                && let Some(name) = body
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && schemas[name]["required"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            {
                problems.push(format!("{label}: a PATCH body requires fields"));
            }
        }
    }
    problems
}

fn collect_refs(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", serde_json::Value::String(reference)) => into.push(reference.clone()),
                    _ => collect_refs(value, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

/// Routes serving the document and its two viewers.
pub fn router(openapi: OpenApi, title: &str) -> Router {
    let redoc_page = format!(
        r#"<!DOCTYPE html>
<html>
  <head>
    <title>{title} — ReDoc</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
  </head>
  <body>
    <redoc spec-url="/api/schema/"></redoc>
    <script src="/api/redoc/redoc.standalone.js"></script>
  </body>
</html>
"#,
        title = html_escape(title)
    );
    Router::new()
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/schema/", openapi))
        .route("/api/redoc/", get(move || async move { Html(redoc_page) }))
        .route(
            "/api/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    REDOC_JS,
                )
                    .into_response()
            }),
        )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{
        OperationBuilder, ParameterBuilder, PathItemBuilder, PathsBuilder,
    };
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder};

    fn document() -> OpenApi {
        let list = OperationBuilder::new()
            .parameter(
                ParameterBuilder::new()
                    .name("page")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer))),
            )
            .parameter(
                ParameterBuilder::new()
                    .name("owner")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                    )),
            )
            .response("200", ResponseBuilder::new().description("A page."))
            .security(SecurityRequirement::new("jwt", Vec::<String>::new()));
        let patch = OperationBuilder::new()
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ThingIn")))
                            .build(),
                    )
                    .build(),
            ))
            .response("200", ResponseBuilder::new().description("Changed."))
            .response("400", ResponseBuilder::new());
        let thing = ObjectBuilder::new()
            .property("name", ObjectBuilder::new().schema_type(Type::String))
            .required("name");
        OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path(
                        "/things/",
                        PathItemBuilder::new()
                            .operation(HttpMethod::Get, list.build())
                            .build(),
                    )
                    .path(
                        "/things/{id}/",
                        PathItemBuilder::new()
                            .operation(HttpMethod::Patch, patch.build())
                            .build(),
                    ),
            )
            .components(Some(
                ComponentsBuilder::new().schema("ThingIn", thing).build(),
            ))
            .build()
    }

    #[test]
    fn the_kernel_writes_what_its_mechanisms_answer() {
        assert!(
            !lint(&document()).is_empty(),
            "a bare document breaks the rules"
        );
        let finished = finish(document());
        assert_eq!(lint(&finished), Vec::<String>::new());
        let json = serde_json::to_value(&finished).unwrap();
        let list = &json["paths"]["/things/"]["get"];
        assert_eq!(
            list["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(list["parameters"][1]["allowEmptyValue"], true);
        assert_eq!(
            list["parameters"][1]["schema"]["anyOf"][0]["format"],
            "uuid"
        );
        assert_eq!(
            list["parameters"][0]["schema"]["anyOf"][1]["enum"][0],
            "last"
        );
        let patch = &json["paths"]["/things/{id}/"]["patch"];
        assert_eq!(
            patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PatchedThingIn"
        );
        assert_eq!(patch["requestBody"]["required"], false);
        assert!(
            json["components"]["schemas"]["PatchedThingIn"]
                .get("required")
                .is_none()
        );
        assert_eq!(
            json["components"]["schemas"]["ThingIn"]["required"][0],
            "name"
        );
        assert_eq!(
            patch["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ValidationError"
        );
    }

    #[test]
    fn a_list_is_documented_in_the_systems_paging_style() {
        use crate::listing::{Axis, Oryne};
        let axis = finish_for::<Axis>(document());
        assert_eq!(lint_for::<Axis>(&axis), Vec::<String>::new());
        let json = serde_json::to_value(&axis).unwrap();
        let list = &json["paths"]["/things/"]["get"];
        assert!(
            list["responses"].get("404").is_none(),
            "axis serves the last page"
        );
        assert_eq!(list["parameters"][0]["schema"]["type"], "integer");
        assert!(
            list["responses"]["400"]["description"]
                .as_str()
                .unwrap()
                .contains("Invalid page parameter")
        );
        assert_eq!(
            lint(&axis),
            vec!["GET /things/: a list must list 400 and 404"]
        );

        let oryne = finish_for::<Oryne>(document());
        assert_eq!(lint_for::<Oryne>(&oryne), Vec::<String>::new());
        let json = serde_json::to_value(&oryne).unwrap();
        let list = &json["paths"]["/things/"]["get"];
        assert_eq!(
            list["responses"]["404"]["description"],
            "Not found, or a page out of range."
        );
        assert_eq!(
            list["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }
}
