//! OpenAPI schemas of oryne's input fields, for `#[schema(schema_with = ...)]`:
//! what each field accepts, stated where a JSON Schema can state it.

use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};

/// A new password: at least 8 characters (common, numeric or similar ones
/// are refused too; a schema cannot say so).
pub fn password() -> Schema {
    kernel::form::schema::password::<8>()
}

/// A new password, or null / absent for an invitation.
pub fn optional_password() -> Schema {
    kernel::form::schema::or_null(password())
}

/// A JSON object (never null).
pub fn object() -> Schema {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

/// A `YYYY-MM-DD` date, or null.
pub fn optional_date() -> Schema {
    kernel::form::schema::or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")),
    )
}

fn list_of(allowed: &[&str]) -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(allowed.iter().copied())),
        )
        .into()
}

/// Modules of the platform.
pub fn modules() -> Schema {
    list_of(crate::tenant_info::MODULES)
}

/// Permission codes of the catalogue.
pub fn permissions() -> Schema {
    let codes: Vec<String> = crate::rbac::catalogue()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes)),
        )
        .into()
}

/// Role names (each must be a role of the school).
pub fn role_names() -> Schema {
    ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(kernel::form::schema::text::<50>()))
        .into()
}

/// A subdomain: 3–63 lowercase letters, digits and hyphens, not starting
/// or ending with a hyphen, not reserved.
pub fn subdomain() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"))
        .description(Some(format!(
            "Not one of: {}.",
            crate::tenancy::RESERVED.join(", ")
        )))
        .into()
}

/// A host name.
pub fn hostname() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(253))
        .pattern(Some("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\\.?$"))
        .into()
}

/// At least 1.
pub fn positive() -> Schema {
    kernel::form::schema::int(1, 1_000_000)
}
