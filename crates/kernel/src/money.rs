//! Money as whole cents: exact in every database (stored as a BIGINT) and
//! rendered as DRF renders a `DecimalField(decimal_places=2)`: the string
//! `"5500.00"`. Input accepts that string or a JSON number with at most two
//! decimal places; floats never touch an amount.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_units(units: i64) -> Self {
        Money(units.saturating_mul(100))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// Whole units, rounding down (what M-PESA's `Amount` takes).
    pub fn whole_units(self) -> i64 {
        self.0.div_euclid(100)
    }

    /// Parses `"5500"`, `"5500.5"`, `"5500.50"`, `"-1.25"`; more than two
    /// decimals or more than 10 digits in all (DRF's `max_digits=10`) is refused.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
            || fraction.len() > 2
            || whole.trim_start_matches('0').len() > 8
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
        let cents = whole * 100 + fraction;
        Some(Money(if negative { -cents } else { cents }))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;
        impl Visitor<'_> for MoneyVisitor {
            type Value = Money;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decimal amount")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).ok_or_else(|| E::custom("expected a decimal amount"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                // serde_json hands over 12.5 as f64; its shortest representation is exact enough.
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(MoneyVisitor)
    }
}

/// An amount as [`Money::parse`] reads it: up to 8 digits before the point
/// and 2 after, an optional sign.
const PATTERN: &str = r"^[+-]?(0*[0-9]{1,8}(\.[0-9]{0,2})?|\.[0-9]{1,2})$";
/// The same, zero or more.
const PATTERN_NON_NEGATIVE: &str = r"^\+?(0*[0-9]{1,8}(\.[0-9]{0,2})?|\.[0-9]{1,2})$";
/// The same, more than zero.
const PATTERN_POSITIVE: &str = r"^\+?(0*[1-9][0-9]{0,7}(\.[0-9]{0,2})?|0*\.(0[1-9]|[1-9][0-9]?))$";
const MAX: f64 = 99_999_999.99;

/// A string such as `"5500.00"` or a number with at most two decimals.
fn schema(
    pattern: &str,
    minimum: Option<f64>,
    exclusive_minimum: Option<f64>,
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .format(Some(SchemaFormat::Custom("decimal".into())))
        .pattern(Some(pattern))
        .minimum(minimum)
        .exclusive_minimum(exclusive_minimum)
        .maximum(Some(MAX))
        .multiple_of(Some(0.01))
        .examples(["5500.00"])
        .into()
}

impl Money {
    /// The schema of an amount that may not be negative.
    pub fn non_negative_schema() -> utoipa::openapi::schema::Schema {
        schema(PATTERN_NON_NEGATIVE, Some(0.0), None)
    }

    /// The schema of an amount greater than zero.
    pub fn positive_schema() -> utoipa::openapi::schema::Schema {
        schema(PATTERN_POSITIVE, None, Some(0.0))
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema(PATTERN, Some(-MAX), None).into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_drf() {
        assert_eq!(Money::parse("5500"), Some(Money(550_000)));
        assert_eq!(Money::parse("5500.5"), Some(Money(550_050)));
        assert_eq!(Money::parse("0.05"), Some(Money(5)));
        assert_eq!(Money::parse("-1.25"), Some(Money(-125)));
        for bad in ["", ".", "1.234", "abc", "1e3", "123456789.00", "1,000"] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
        assert_eq!(Money(550_000).to_string(), "5500.00");
        assert_eq!(Money(-5).to_string(), "-0.05");
        assert_eq!(
            serde_json::to_value(Money(100_000)).unwrap(),
            serde_json::json!("1000.00")
        );
        let m: Money = serde_json::from_str("12.5").unwrap();
        assert_eq!(m, Money(1250));
        let m: Money = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(m, Money(1250));
        assert!(serde_json::from_str::<Money>("12.345").is_err());
        assert_eq!(Money(550_099).whole_units(), 5500);
    }

    #[test]
    fn the_documented_patterns_are_what_parse_accepts() {
        let pattern = |p: &str| regex::Regex::new(p).unwrap();
        let (any, non_negative, positive) = (
            pattern(PATTERN),
            pattern(PATTERN_NON_NEGATIVE),
            pattern(PATTERN_POSITIVE),
        );
        let alphabet: Vec<char> = "0159.+-".chars().collect();
        let mut texts = vec![String::new()];
        for _ in 0..6 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
            texts.dedup();
        }
        texts.extend(
            ["12345678.99", "123456789", "000000000123.4", "99999999.99"].map(String::from),
        );
        for text in &texts {
            let parsed = Money::parse(text);
            assert_eq!(any.is_match(text), parsed.is_some(), "{text:?}");
            // "-0" is zero, yet documented as negative: a stricter schema.
            if !text.starts_with('-') {
                assert_eq!(
                    non_negative.is_match(text),
                    parsed.is_some_and(|m| m.cents() >= 0),
                    "{text:?}"
                );
            }
            assert_eq!(
                positive.is_match(text),
                parsed.is_some_and(|m| m.cents() > 0),
                "{text:?}"
            );
        }
    }
}
