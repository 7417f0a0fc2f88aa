use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

use super::Invalid;

/// An amount of money: exact, two decimal places, from 0 to 99,999,999.99 (what
/// `NUMERIC(10,2)` holds). On the wire it is a string with two places, `"19.99"`, so no client
/// parses it into a binary float by accident; inputs may be a string or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

const MAX_CENTS: i64 = 9_999_999_999;

fn invalid_amount() -> Invalid {
    Invalid::new("must be a decimal amount such as \"19.99\"")
}

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// From the literal text of a JSON value as sent: a string (`"19.99"`) or a number
    /// (`19.99`). The number is read as written, never through a float, so
    /// `19.999999999999999` is refused rather than rounded to `20.00`.
    pub fn parse_json(raw: &serde_json::value::RawValue) -> Result<Self, Invalid> {
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'"') => match serde_json::from_str::<String>(text) {
                Ok(string) => Self::parse(&string),
                Err(_) => Err(invalid_amount()),
            },
            Some(b'-' | b'0'..=b'9') => Self::parse(text),
            _ => Err(invalid_amount()),
        }
    }

    /// From text such as `19.99`, `19.9` or `20`: digits, then at most two decimal places; no
    /// sign, exponent, separator or white space.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.starts_with('-') {
            return Err(Invalid::new("must not be negative"));
        }
        if text.contains(['e', 'E']) {
            return Err(Invalid::new("must be written without an exponent"));
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
            return Err(invalid_amount());
        }
        if fraction.len() > 2 {
            return Err(Invalid::new("must have at most two decimal places"));
        }
        if whole.len() > 8 {
            return Err(Invalid::new("must be at most 99999999.99"));
        }
        let cents = format!("{whole}{fraction:0<2}")
            .parse::<i64>()
            .unwrap_or_default();
        Self::from_cents(cents)
    }

    /// Checks range and places; `19.9` becomes `19.90`.
    pub fn from_decimal(amount: Decimal) -> Result<Self, Invalid> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(Invalid::new("must not be negative"));
        }
        if amount.normalize().scale() > 2 {
            return Err(Invalid::new("must have at most two decimal places"));
        }
        let mut amount = amount.abs();
        amount.rescale(2);
        if amount.mantissa() > i128::from(MAX_CENTS) {
            return Err(Invalid::new("must be at most 99999999.99"));
        }
        Ok(Money(amount))
    }

    pub fn from_cents(cents: i64) -> Result<Self, Invalid> {
        if !(0..=MAX_CENTS).contains(&cents) {
            return Err(Invalid::new("must be from 0 to 99999999.99"));
        }
        Ok(Money(Decimal::new(cents, 2)))
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn cents(self) -> i64 {
        i64::try_from(self.0.mantissa()).expect("at most 9999999999 cents")
    }

    /// `self × quantity`, or `None` past the maximum amount.
    pub fn times(self, quantity: u32) -> Option<Money> {
        self.cents()
            .checked_mul(i64::from(quantity))
            .and_then(|cents| Money::from_cents(cents).ok())
    }

    /// `self + other`, or `None` past the maximum amount.
    pub fn plus(self, other: Money) -> Option<Money> {
        self.cents()
            .checked_add(other.cents())
            .and_then(|cents| Money::from_cents(cents).ok())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// From the text it serialises to (`"19.99"`), as events and stored bodies carry it.
impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Money::parse(&text).map_err(|invalid| serde::de::Error::custom(invalid.0))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// The pattern of an amount in a response: always two places.
pub const MONEY_PATTERN: &str = r"^[0-9]{1,8}\.[0-9]{2}$";
/// The pattern of an amount sent as a string: up to two places.
pub const MONEY_INPUT_PATTERN: &str = r"^[0-9]{1,8}(\.[0-9]{1,2})?$";

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(MONEY_PATTERN))
            .description(Some(
                "An exact amount with two decimal places, 0.00 to 99999999.99.",
            ))
            .examples(["19.99"])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    use super::*;

    fn parse_json(raw: &str) -> Result<Money, Invalid> {
        Money::parse_json(&RawValue::from_string(raw.to_owned()).unwrap())
    }

    #[test]
    fn strings_and_numbers_become_two_places() {
        for (input, expected) in [
            (r#""19.99""#, "19.99"),
            ("19.99", "19.99"),
            (r#""19.9""#, "19.90"),
            ("20", "20.00"),
            (r#""0""#, "0.00"),
            ("0.1", "0.10"),
            (r#""99999999.99""#, "99999999.99"),
            (r#""00000005.00""#, "5.00"),
        ] {
            let money = parse_json(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(money.to_string(), expected, "{input}");
            assert_eq!(serde_json::to_value(money).unwrap(), expected);
        }
    }

    #[test]
    fn bad_amounts_are_refused_never_rounded() {
        for input in [
            r#""19.999""#,
            "19.999",
            r#""19.990""#,
            "19.990",
            r#""19.999999999999999999999999999999""#,
            "19.999999999999999",
            r#""-1""#,
            "-0.01",
            "-0",
            r#""100000000.00""#,
            "100000000",
            r#""abc""#,
            r#""1e3""#,
            "1e3",
            "2E1",
            "1.5e0",
            r#""""#,
            r#"" 5 ""#,
            r#""5.""#,
            r#"".5""#,
            r#""1,000""#,
            "null",
            "true",
            r#"["1"]"#,
            r#""NaN""#,
        ] {
            assert!(parse_json(input).is_err(), "{input} was accepted");
        }
        assert_eq!(
            parse_json("19.999999999999999").unwrap_err().0,
            "must have at most two decimal places"
        );
    }

    #[test]
    fn cents_round_trip_and_arithmetic_is_exact() {
        let a = Money::parse("0.10").unwrap();
        let b = Money::parse("0.20").unwrap();
        assert_eq!(a.plus(b).unwrap().to_string(), "0.30");
        assert_eq!(Money::from_cents(a.cents()).unwrap(), a);
        assert_eq!(
            Money::parse("19.99").unwrap().times(3).unwrap().to_string(),
            "59.97"
        );
        assert_eq!(Money::parse("99999999.99").unwrap().times(2), None);
        assert_eq!(Money::ZERO.to_string(), "0.00");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in any::<String>()) {
            let _ = Money::parse(&text);
        }

        #[test]
        fn every_amount_round_trips_through_its_text(cents in 0_i64..=MAX_CENTS) {
            let money = Money::from_cents(cents).unwrap();
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
            prop_assert_eq!(parse_json(&format!("\"{money}\"")), Ok(money));
            prop_assert_eq!(parse_json(&money.to_string()), Ok(money));
        }

        #[test]
        fn what_parses_matches_the_documented_pattern(text in "[0-9.eE-]{0,14}") {
            let pattern = regex::Regex::new(MONEY_INPUT_PATTERN).unwrap();
            prop_assert_eq!(Money::parse(&text).is_ok(), pattern.is_match(&text), "{}", text);
        }
    }
}
