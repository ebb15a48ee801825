//! The contract's conventions (§0) every resource shares: page sizes,
//! weekdays and clock times, refusals of a rule with a stable code, and
//! references to other rows in a body.

use kernel::ApiError;
use kernel::listing::PageSize;
use sea_orm::{ConnectionTrait, EntityTrait, PrimaryKeyTrait};
use uuid::Uuid;

/// `?page_size=` default 20, at most 100.
pub const PAGE: PageSize = PageSize {
    default: 20,
    max: 100,
};

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A weekday as [`weekday_schema`] documents it, for query parameters.
#[derive(Debug, Clone, Copy)]
pub struct Weekday;

impl utoipa::PartialSchema for Weekday {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        weekday_schema().into()
    }
}

impl utoipa::ToSchema for Weekday {}

/// `monday`…`sunday` (any case) as 0…6.
pub fn parse_weekday(value: &str) -> Option<i32> {
    let lower = value.trim().to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .position(|d| *d == lower)
        .and_then(|i| i32::try_from(i).ok())
}

/// 0…6 as `monday`…`sunday`.
pub fn weekday(day: i32) -> &'static str {
    usize::try_from(day)
        .ok()
        .and_then(|i| WEEKDAYS.get(i))
        .copied()
        .unwrap_or("monday")
}

/// `Monday` (for messages).
pub fn weekday_title(day: i32) -> String {
    let name = weekday(day);
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The weekday of a date, 0 = Monday.
pub fn weekday_of(date: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    i32::try_from(date.weekday().num_days_from_monday()).unwrap_or(0)
}

/// `HH:MM` or `HH:MM:SS` (24 h) as minutes after midnight; `24:00` is the
/// end of the day.
pub fn parse_clock(value: &str) -> Option<i32> {
    let mut parts = value.trim().split(':');
    let hours: i32 = parts.next()?.parse().ok()?;
    let minutes: i32 = parts.next()?.parse().ok()?;
    let seconds: i32 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || !(0..60).contains(&minutes) || seconds != 0 {
        return None;
    }
    match hours {
        0..=23 => Some(hours * 60 + minutes),
        24 if minutes == 0 => Some(24 * 60),
        _ => None,
    }
}

/// OpenAPI: a clock time [`parse_clock`] reads, `HH:MM` or `HH:MM:00`.
pub fn clock_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)(:00)?$"))
        .into()
}

/// OpenAPI: a weekday [`parse_weekday`] reads, `monday`…`sunday`, or 0…6.
pub fn weekday_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(kernel::form::schema::choice(&WEEKDAYS))
        .item(kernel::form::schema::int(0, 6))
        .into()
}

/// A clock time as [`clock_schema`] documents it, for query parameters.
#[derive(Debug, Clone, Copy)]
pub struct Clock;

impl utoipa::PartialSchema for Clock {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        clock_schema().into()
    }
}

impl utoipa::ToSchema for Clock {}

/// Minutes after midnight as `HH:MM`.
pub fn clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub const BAD_CLOCK: &str =
    "Time has wrong format. Use one of these formats instead: hh:mm, hh:mm:ss.";
pub const BAD_DATE: &str = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

/// `YYYY-MM-DD` exactly (RFC 3339's full-date: a four-digit year, so never
/// near chrono's limits, and date arithmetic on it cannot overflow).
pub use kernel::form::parse_date;

/// A refused rule: 400 `{"detail", "code"}` (contract §0).
pub fn refused(detail: impl Into<String>, code: &'static str) -> ApiError {
    ApiError::BadRequest {
        detail: detail.into().into(),
        code,
    }
}

/// DRF's message for an unknown id in a body.
pub fn invalid_pk(raw: &str) -> String {
    format!("Invalid pk \"{raw}\" - object does not exist.")
}

/// The row a body's `field` names: a malformed or unknown id is the
/// field's error.
pub async fn referenced<E>(
    db: &impl ConnectionTrait,
    field: &str,
    raw: &str,
) -> Result<E::Model, ApiError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let id = Uuid::parse_str(raw.trim()).map_err(|_| ApiError::field(field, invalid_pk(raw)))?;
    E::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::field(field, invalid_pk(raw)))
}

/// Two decimals, as the contract's rates and averages are given.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_round_trip() {
        assert_eq!(parse_clock("08:00"), Some(480));
        assert_eq!(parse_clock("17:30:00"), Some(1050));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("24:01"), None);
        assert_eq!(parse_clock("8"), None);
        assert_eq!(parse_clock("08:60"), None);
        assert_eq!(clock(1050), "17:30");
    }

    #[test]
    fn weekdays_accept_any_case() {
        assert_eq!(parse_weekday("Monday"), Some(0));
        assert_eq!(parse_weekday("sunday"), Some(6));
        assert_eq!(parse_weekday("funday"), None);
        assert_eq!(weekday(4), "friday");
        assert_eq!(weekday_title(2), "Wednesday");
    }
}
