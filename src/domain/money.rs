use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use super::Invalid;

/// An amount of money: exact, two decimal places, from 0 to 99,999,999.99 (what
/// `NUMERIC(10,2)` holds). On the wire it is a string with two places, `"19.99"`, so no client
/// parses it into a binary float by accident; inputs may be a string or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

const MAX_CENTS: i64 = 9_999_999_999;

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// From a JSON value: a string (`"19.99"`) or a number (`19.99`).
    pub fn parse_json(value: &serde_json::Value) -> Result<Self, Invalid> {
        match value {
            serde_json::Value::String(text) => Self::parse(text),
            // serde_json prints a float in its shortest round-tripping form, which for any
            // amount with two places is exactly those digits.
            serde_json::Value::Number(number) => Self::parse(&number.to_string()),
            _ => Err(Invalid::new("must be a decimal amount such as \"19.99\"")),
        }
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        let invalid = || Invalid::new("must be a decimal amount such as \"19.99\"");
        if text.is_empty() || text.contains(['e', 'E', '_']) {
            return Err(invalid());
        }
        let amount: Decimal = text.parse().map_err(|_| invalid())?;
        Self::from_decimal(amount.normalize())
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

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{1,8}\.\d{2}$"))
            .description(Some(
                "An exact amount with two decimal places, 0.00 to 99999999.99. Requests may \
                 also send a JSON number with at most two places.",
            ))
            .examples(["19.99"])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_and_numbers_become_two_places() {
        for (input, expected) in [
            (json!("19.99"), "19.99"),
            (json!(19.99), "19.99"),
            (json!("19.9"), "19.90"),
            (json!(20), "20.00"),
            (json!("0"), "0.00"),
            (json!(0.1), "0.10"),
            (json!("99999999.99"), "99999999.99"),
            (json!("19.990"), "19.99"),
            (json!(" 5 "), "5.00"),
        ] {
            let money = Money::parse_json(&input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(money.to_string(), expected, "{input}");
            assert_eq!(serde_json::to_value(money).unwrap(), json!(expected));
        }
    }

    #[test]
    fn bad_amounts_are_refused() {
        for input in [
            json!("19.999"),
            json!(19.999),
            json!("-1"),
            json!(-0.01),
            json!("100000000.00"),
            json!("abc"),
            json!("1e3"),
            json!(""),
            json!(null),
            json!(true),
            json!(["1"]),
            json!("NaN"),
        ] {
            assert!(Money::parse_json(&input).is_err(), "{input} was accepted");
        }
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
}
