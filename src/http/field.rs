//! Body fields read one at a time, so that one missing or mistyped field does not hide the
//! others: a request DTO declares its fields as [`Field<T>`], deserialization never fails on
//! them, and the command's `parse` reports every failing field at once.
//!
//! Also the one place that turns serde's messages into sentences for clients: serde speaks of
//! `struct OrderLineRequest` and `u64`, a client needs "must be an object".

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::value::RawValue;

use crate::domain::{Input, Invalid, Patch};

/// One field of a JSON body as sent: absent, `null`, a value of the expected type, or a value
/// of another type (with the sentence that says what was expected).
///
/// Without `#[serde(default)]` an absent field reads as `Null`; with it, as `Missing`, which is
/// how partial updates tell "leave alone" from "clear".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Missing,
    Null,
    Value(T),
    Invalid(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The raw text, so that `T` sees exactly what was sent (numbers are not rounded
        // through a float on the way) and a `T` that fails does not fail the whole body.
        let raw: Option<Box<RawValue>> = Option::deserialize(deserializer)?;
        Ok(match raw {
            None => Field::Null,
            Some(raw) => match serde_json::from_str::<T>(raw.get()) {
                Ok(value) => Field::Value(value),
                Err(error) => Field::Invalid(describe(&error)),
            },
        })
    }
}

impl<T> Field<T> {
    /// As a command's input: absent and `null` are both "not sent".
    pub fn input(self) -> Input<T> {
        match self {
            Field::Missing | Field::Null => Ok(None),
            Field::Value(value) => Ok(Some(value)),
            Field::Invalid(message) => Err(Invalid(message)),
        }
    }

    /// As a partial update: absent keeps, `null` clears, a value sets.
    pub fn patch(self) -> Result<Patch<T>, Invalid> {
        match self {
            Field::Missing => Ok(Patch::Keep),
            Field::Null => Ok(Patch::Clear),
            Field::Value(value) => Ok(Patch::Set(value)),
            Field::Invalid(message) => Err(Invalid(message)),
        }
    }

    pub fn as_deref(&self) -> Field<&T::Target>
    where
        T: std::ops::Deref,
    {
        match self {
            Field::Missing => Field::Missing,
            Field::Null => Field::Null,
            Field::Value(value) => Field::Value(value),
            Field::Invalid(message) => Field::Invalid(message.clone()),
        }
    }
}

/// A list of fields as a command's input: each item converted with `item`; a `null` item is
/// refused where it stands.
pub fn list_of<'a, T, U>(
    field: &'a Field<Vec<Field<T>>>,
    item: impl Fn(&'a T) -> U,
) -> Input<Vec<Input<U>>> {
    match field {
        Field::Missing | Field::Null => Ok(None),
        Field::Invalid(message) => Err(Invalid(message.clone())),
        Field::Value(items) => Ok(Some(
            items
                .iter()
                .map(|field| match field {
                    Field::Value(value) => Ok(Some(item(value))),
                    Field::Missing | Field::Null => Err(Invalid::new("must not be null")),
                    Field::Invalid(message) => Err(Invalid(message.clone())),
                })
                .collect(),
        )),
    }
}

/// An amount in a request, as the OpenAPI document describes it: a string with at most two
/// places, or a JSON number with at most two places (read as written, never rounded).
pub struct MoneyInput;

impl utoipa::PartialSchema for MoneyInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(crate::domain::MONEY_INPUT_PATTERN))
                    .examples(["19.99"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(99_999_999)),
            )
            .description(Some(
                "An exact amount from 0 to 99999999.99 with at most two decimal places. Send a \
                 string; a JSON number is also read, as written (never through a float), and \
                 refused with more than two places or an exponent. Whole numbers are the only \
                 numbers listed here because a float value such as 0.57 has no exact binary \
                 form that every client prints with two places.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for MoneyInput {}

/// An amount in a query parameter: text with at most two places.
pub struct MoneyText;

impl utoipa::PartialSchema for MoneyText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(crate::domain::MONEY_INPUT_PATTERN))
            .examples(["19.99"])
            .into()
    }
}

impl utoipa::ToSchema for MoneyText {}

/// What a client must send instead, from a serde error: `"must be a string"`. Never a Rust
/// type, a position in the text, or the value sent back (it may be large).
pub fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text,
    };
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("is missing `{field}`");
    }
    if text.starts_with("unknown variant") {
        return "is not one of the allowed values".to_owned();
    }
    match text.rsplit_once(", expected ") {
        Some((_, expected)) => format!("must be {}", expected_kind(expected)),
        None => "is malformed".to_owned(),
    }
}

/// serde's "expected …" as a JSON kind.
fn expected_kind(expected: &str) -> &'static str {
    let expected = expected.trim();
    match expected {
        "a string" | "a borrowed string" | "a character" => "a string",
        "a boolean" => "true or false",
        "a sequence" | "a tuple" => "an array",
        "a map" => "an object",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "a whole number",
        "f32" | "f64" => "a number",
        _ if expected.starts_with("struct ") || expected.starts_with("a map") => "an object",
        _ if expected.starts_with("tuple") || expected.starts_with("a sequence") => "an array",
        _ => "of the documented type",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Line {
        quantity: Field<u32>,
    }

    #[derive(Debug, Deserialize)]
    struct Body {
        name: Field<String>,
        items: Field<Vec<Field<Line>>>,
        #[serde(default)]
        note: Field<String>,
    }

    fn body(json: &str) -> Body {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_body_with_wrong_fields_still_deserializes_and_each_says_why() {
        let parsed = body(r#"{"name": 5, "items": [1, {"quantity": "x"}, {}], "note": null}"#);
        assert_eq!(parsed.name, Field::Invalid("must be a string".into()));
        let Field::Value(items) = parsed.items else {
            panic!("items is an array")
        };
        assert_eq!(items[0], Field::Invalid("must be an object".into()));
        let Field::Value(line) = &items[1] else {
            panic!("an object")
        };
        assert_eq!(
            line.quantity,
            Field::Invalid("must be a whole number".into())
        );
        let Field::Value(line) = &items[2] else {
            panic!("an object")
        };
        assert_eq!(
            line.quantity,
            Field::Null,
            "absent without a default reads as null"
        );
        assert_eq!(parsed.note, Field::Null);
        assert_eq!(body(r#"{"name": "a", "items": []}"#).note, Field::Missing);
    }

    #[test]
    fn messages_never_name_rust_types() {
        for (json, message) in [
            (r#"{"name": [], "items": []}"#, "must be a string"),
            (r#"{"name": "a", "items": {}}"#, "must be an array"),
            (
                r#"{"name": "a", "items": [{"quantity": -1}]}"#,
                "must be a whole number",
            ),
            (
                r#"{"name": "a", "items": [{"quantity": 1.5}]}"#,
                "must be a whole number",
            ),
        ] {
            let parsed = body(json);
            let found = match (parsed.name, parsed.items) {
                (Field::Invalid(m), _) | (_, Field::Invalid(m)) => m,
                (_, Field::Value(items)) => match items.into_iter().next() {
                    Some(Field::Value(Line {
                        quantity: Field::Invalid(m),
                    })) => m,
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            };
            assert_eq!(found, message, "{json}");
        }
    }

    #[test]
    fn numbers_reach_the_parser_as_written() {
        let raw: Field<Box<RawValue>> = serde_json::from_str("19.999999999999999").unwrap();
        let Field::Value(raw) = raw else {
            panic!("a value")
        };
        assert_eq!(raw.get(), "19.999999999999999");
    }
}
