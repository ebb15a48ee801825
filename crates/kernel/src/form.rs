//! Input fields and their validation, in DRF's words.
//!
//! Input DTOs declare every writable field as a [`Field`], so a body can only
//! set what the DTO names (no mass assignment) and PATCH can tell "absent" from
//! "null". A [`Checker`] collects every field's errors before any is reported,
//! as a DRF serializer does.

use serde::{Deserialize, Deserializer};

use crate::error::{ApiError, FieldErrors};

/// One input field: absent from the body, explicitly `null`, or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|v| v.map_or(Field::Null, Field::Value))
    }
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            Field::Absent | Field::Null => None,
        }
    }

    pub fn as_ref(&self) -> Field<&T> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(v),
        }
    }
}

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_BLANK: &str = "This field may not be blank.";
pub const NO_NUL: &str = "Null characters are not allowed.";

/// Collects field errors; [`Checker::finish`] turns them into one 400.
///
/// Every method returns `Some(value)` when the field is to be set and `None`
/// when it is not (absent under PATCH, or invalid, in which case an error was
/// recorded). For a full write (create, PUT) an absent required field is an
/// error, so after `finish()?` every required field is `Some`. An absent
/// optional field is null (or its default) on a create and left as it is on
/// an update, PUT included, as DRF skips it.
#[derive(Debug, Default)]
pub struct Checker {
    errors: FieldErrors,
    partial: bool,
    update: bool,
}

impl Checker {
    /// For a create: required fields must be present; absent optional ones
    /// are null or their default.
    pub fn new() -> Self {
        Self::default()
    }

    /// For an update: a PATCH (`partial`) leaves every absent field as it
    /// is; a PUT requires the required fields and leaves absent optional
    /// ones as they are.
    pub fn partial(partial: bool) -> Self {
        Self {
            errors: FieldErrors::new(),
            partial,
            update: true,
        }
    }

    /// Whether an absent optional field is left as it is.
    fn keeps_absent(&self) -> bool {
        self.partial || self.update
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.has(field)
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }

    /// A required, non-null value of any type.
    pub fn value<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        match field {
            Field::Value(v) => Some(v),
            Field::Absent if self.partial => None,
            Field::Absent => {
                self.error(name, REQUIRED);
                None
            }
            Field::Null => {
                self.error(name, NOT_NULL);
                None
            }
        }
    }

    /// An optional, nullable value: `Some(None)` clears it.
    pub fn nullable<T>(&mut self, field: Field<T>) -> Option<Option<T>> {
        match field {
            Field::Absent if self.keeps_absent() => None,
            Field::Absent | Field::Null => Some(None),
            Field::Value(v) => Some(Some(v)),
        }
    }

    /// A required, non-blank string (trimmed) of at most `max` characters.
    pub fn text(&mut self, name: &str, field: Field<String>, max: usize) -> Option<String> {
        let value = self.value(name, field)?.trim().to_owned();
        if value.is_empty() {
            self.error(name, NOT_BLANK);
            return None;
        }
        self.max_length(name, &value, max).then_some(value)
    }

    /// An optional string: null and blank both clear it.
    pub fn optional_text(
        &mut self,
        name: &str,
        field: Field<String>,
        max: usize,
    ) -> Option<Option<String>> {
        match self.nullable(field)? {
            None => Some(None),
            Some(value) => {
                let value = value.trim().to_owned();
                if value.is_empty() {
                    return Some(None);
                }
                self.max_length(name, &value, max).then_some(Some(value))
            }
        }
    }

    /// Free text that may be blank (never null).
    pub fn blank_text(&mut self, name: &str, field: Field<String>, max: usize) -> Option<String> {
        let value = match field {
            Field::Absent if self.keeps_absent() => return None,
            Field::Absent => String::new(),
            other => self.value(name, other)?.trim().to_owned(),
        };
        self.max_length(name, &value, max).then_some(value)
    }

    /// At most `max` characters and no NUL (DRF's `ProhibitNullCharactersValidator`:
    /// PostgreSQL cannot store one in text).
    fn max_length(&mut self, name: &str, value: &str, max: usize) -> bool {
        if value.contains('\0') {
            self.error(name, NO_NUL);
            return false;
        }
        let ok = value.chars().count() <= max;
        if !ok {
            self.error(
                name,
                format!("Ensure this field has no more than {max} characters."),
            );
        }
        ok
    }

    /// A required email address, lower-cased.
    pub fn email(&mut self, name: &str, field: Field<String>) -> Option<String> {
        let value = self.text(name, field, 254)?;
        let normalized = normalize_email(&value);
        if normalized.is_none() {
            self.error(name, "Enter a valid email address.");
        }
        normalized
    }

    /// A required choice among `allowed`.
    pub fn choice(&mut self, name: &str, field: Field<String>, allowed: &[&str]) -> Option<String> {
        let value = self.value(name, field)?;
        if !allowed.contains(&value.as_str()) {
            self.error(name, format!("\"{value}\" is not a valid choice."));
            return None;
        }
        Some(value)
    }

    /// A required integer within `min..=max`.
    pub fn int(&mut self, name: &str, field: Field<i64>, min: i64, max: i64) -> Option<i64> {
        let value = self.value(name, field)?;
        if value < min {
            self.error(
                name,
                format!("Ensure this value is greater than or equal to {min}."),
            );
            None
        } else if value > max {
            self.error(
                name,
                format!("Ensure this value is less than or equal to {max}."),
            );
            None
        } else {
            Some(value)
        }
    }

    /// An integer within `min..=max` that may be absent even on a full write.
    pub fn patch_int(&mut self, name: &str, field: Field<i64>, min: i64, max: i64) -> Option<i64> {
        let partial = std::mem::replace(&mut self.partial, true);
        let value = self.int(name, field, min, max);
        self.partial = partial;
        value
    }

    /// A boolean; absent means `default` on a full write.
    pub fn boolean(&mut self, name: &str, field: Field<bool>, default: bool) -> Option<bool> {
        match field {
            Field::Absent if self.keeps_absent() => None,
            Field::Absent => Some(default),
            other => self.value(name, other),
        }
    }
}

/// What each [`Checker`] method accepts, as OpenAPI schemas for input DTO
/// fields: `#[schema(schema_with = kernel::form::schema::text::<255>)]`.
/// Whether a field is required is said on the field (`required = true`).
pub mod schema {
    use utoipa::openapi::schema::{
        AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
    };
    use utoipa::openapi::{RefOr, Schema};

    /// "Has a character that is not whitespace", whitespace as Rust's
    /// `str::trim` sees it (written out, as ECMA and Python regexes differ).
    pub const NOT_BLANK_PATTERN: &str = "[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

    /// "Nothing but whitespace" (or nothing), whitespace as for
    /// [`NOT_BLANK_PATTERN`].
    pub const BLANK_PATTERN: &str = "^[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$";

    /// A `YYYY-MM-DD` date from 1900-01-01 to 9999-12-31, the dates every
    /// database stores.
    pub fn date_from_1900() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some("^(19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"))
            .into()
    }

    /// [`date_from_1900`] as a type, for query parameters:
    /// `("date" = inline(Option<Date1900>), Query)`.
    #[derive(Debug, Clone, Copy)]
    pub struct Date1900;

    impl utoipa::PartialSchema for Date1900 {
        fn schema() -> RefOr<Schema> {
            date_from_1900().into()
        }
    }

    impl utoipa::ToSchema for Date1900 {}

    /// `schema`, or a blank string, or null: an optional value that blank
    /// and null both clear.
    pub fn blank_or_null(schema: impl Into<RefOr<Schema>>) -> Schema {
        AnyOfBuilder::new()
            .item(schema)
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(BLANK_PATTERN)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }

    fn string(max: usize) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
    }

    /// [`Checker::text`](super::Checker::text): not null, not blank.
    pub fn text<const MAX: usize>() -> Schema {
        string(MAX).pattern(Some(NOT_BLANK_PATTERN)).into()
    }

    /// Text that is not blank, of any length.
    pub fn non_blank() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(NOT_BLANK_PATTERN))
            .into()
    }

    /// [`Checker::optional_text`](super::Checker::optional_text): null or
    /// blank clears it.
    pub fn optional_text<const MAX: usize>() -> Schema {
        string(MAX)
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .into()
    }

    /// [`Checker::blank_text`](super::Checker::blank_text): may be blank,
    /// never null.
    pub fn blank_text<const MAX: usize>() -> Schema {
        string(MAX).into()
    }

    /// [`Checker::email`](super::Checker::email).
    pub fn email() -> Schema {
        string(254)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .into()
    }

    /// An address that may be null (and is then left empty).
    pub fn optional_email() -> Schema {
        string(254)
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .into()
    }

    /// A new password: at least `MIN` characters; the other rules (not too
    /// like the user's details, not a common password, not all digits) are
    /// beyond a schema.
    pub fn password<const MIN: usize>() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(MIN))
            .write_only(true)
            .into()
    }

    /// A password being checked against the stored one: any non-empty text.
    pub fn secret() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .write_only(true)
            .into()
    }

    /// [`Checker::choice`](super::Checker::choice) among `allowed`.
    pub fn choice(allowed: &[&str]) -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(allowed.iter().copied()))
            .into()
    }

    /// A choice that may be null.
    pub fn optional_choice(allowed: &[&str]) -> Schema {
        AnyOfBuilder::new()
            .item(choice(allowed))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }

    /// [`Checker::int`](super::Checker::int) within `min..=max`.
    pub fn int(min: i64, max: i64) -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
            .into()
    }

    /// Wraps `schema` so that null is also accepted.
    pub fn or_null(schema: impl Into<RefOr<Schema>>) -> Schema {
        AnyOfBuilder::new()
            .item(schema)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }
}

/// Names a list of choices for OpenAPI documents: `choices!(pub
/// DepartmentType = department::TYPES)` declares a type whose schema is a
/// string enum of the list, to use as `value_type` of a body field or as the
/// type of a query parameter, so the document lists what the server accepts.
#[macro_export]
macro_rules! choices {
    ($(#[$meta:meta])* $vis:vis $name:ident = $list:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                $crate::form::schema::choice($list).into()
            }
        }

        impl ::utoipa::ToSchema for $name {}
    };
}

/// A date written exactly `YYYY-MM-DD` (four-digit year, as RFC 3339's
/// full-date), else `None`. chrono alone also takes `+12345-01-01` and
/// single-digit months.
pub fn parse_date(value: &str) -> Option<chrono::NaiveDate> {
    let value = value.trim();
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
}

/// Validates an address the way Django's `EmailValidator` broadly does and
/// lower-cases it whole, so sign-in and uniqueness ignore case on every
/// database alike; `None` when it is not an address.
pub fn normalize_email(value: &str) -> Option<String> {
    let (local, domain) = value.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    (local_ok && domain_ok).then(|| format!("{}@{domain}", local.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Input {
        #[serde(default)]
        name: Field<String>,
    }

    #[test]
    fn absent_null_and_value_are_distinct() {
        let absent: Input = serde_json::from_str("{}").unwrap();
        let null: Input = serde_json::from_str(r#"{"name":null}"#).unwrap();
        let value: Input = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!(absent.name, Field::Absent);
        assert_eq!(null.name, Field::Null);
        assert_eq!(value.name, Field::Value("x".to_owned()));
    }

    #[test]
    fn checker_collects_every_error() {
        let mut c = Checker::new();
        assert_eq!(c.text("a", Field::Absent, 10), None);
        c.text("b", Field::Null, 10);
        c.text("c", Field::Value("  ".into()), 10);
        c.text("d", Field::Value("x".repeat(11)), 10);
        c.email("e", Field::Value("not-an-email".into()));
        c.choice("f", Field::Value("boss".into()), &["student"]);
        c.int("g", Field::Value(-1), 0, 10);
        assert_eq!(
            c.text("ok", Field::Value(" fine ".into()), 10).as_deref(),
            Some("fine")
        );
        let Err(ApiError::Validation(errors)) = c.finish() else {
            panic!("expected errors")
        };
        assert_eq!(
            errors.to_json(),
            serde_json::json!({
                "a": [REQUIRED], "b": [NOT_NULL], "c": [NOT_BLANK],
                "d": ["Ensure this field has no more than 10 characters."],
                "e": ["Enter a valid email address."],
                "f": ["\"boss\" is not a valid choice."],
                "g": ["Ensure this value is greater than or equal to 0."],
            })
        );
    }

    #[test]
    fn null_characters_are_refused() {
        let mut c = Checker::new();
        assert_eq!(c.text("a", Field::Value("x\0y".into()), 10), None);
        assert_eq!(c.optional_text("b", Field::Value("\0".into()), 10), None);
        let Err(ApiError::Validation(errors)) = c.finish() else {
            panic!("expected errors")
        };
        assert_eq!(
            errors.to_json(),
            serde_json::json!({"a": [NO_NUL], "b": [NO_NUL]})
        );
    }

    #[test]
    fn partial_checks_leave_absent_fields_alone() {
        let mut c = Checker::partial(true);
        assert_eq!(c.text("a", Field::Absent, 10), None);
        assert_eq!(c.optional_text("b", Field::Absent, 10), None);
        assert_eq!(c.optional_text("b", Field::Null, 10), Some(None));
        assert_eq!(c.boolean("c", Field::Absent, true), None);
        assert!(c.finish().is_ok());
        let mut full = Checker::new();
        assert_eq!(full.optional_text("b", Field::Absent, 10), Some(None));
        assert_eq!(full.boolean("c", Field::Absent, true), Some(true));
        // A PUT requires what is required and keeps absent optional fields.
        let mut put = Checker::partial(false);
        assert_eq!(put.optional_text("b", Field::Absent, 10), None);
        assert_eq!(put.boolean("c", Field::Absent, true), None);
        assert_eq!(put.blank_text("d", Field::Absent, 10), None);
        assert_eq!(put.text("a", Field::Absent, 10), None);
        assert!(put.has_error("a"));
    }

    #[test]
    fn the_not_blank_pattern_is_what_trim_keeps() {
        let pattern = regex::Regex::new(schema::NOT_BLANK_PATTERN).unwrap();
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            assert_eq!(
                pattern.is_match(c.encode_utf8(&mut [0; 4])),
                !c.is_whitespace(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn the_blank_pattern_is_what_trim_empties() {
        let pattern = regex::Regex::new(schema::BLANK_PATTERN).unwrap();
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            let text = format!(" {c} ");
            assert_eq!(
                pattern.is_match(&text),
                text.trim().is_empty(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            normalize_email("Jane.Doe@MKSU.ac.ke").as_deref(),
            Some("jane.doe@mksu.ac.ke")
        );
        for bad in [
            "a@b",
            "@x.org",
            "a b@x.org",
            "a@x..org",
            "a@-x.org",
            "a@x.1",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
