//! Field errors, collected rather than returned one at a time, so a client can fix a whole form
//! in one round trip.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One failing input field: `field` is a dotted path into the body (`items[0].quantity`) or
/// the name of a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why one value was refused, phrased to follow the field name: "must be a valid email".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}

/// One input value as a transport received it: `Ok(None)` when it was not sent, `Err` when it
/// was sent with the wrong shape (a number for a string), already phrased for the client. A
/// command's `parse` takes its inputs in this form, so that one bad field never hides the
/// others, whichever transport read them.
pub type Input<T> = Result<Option<T>, Invalid>;

/// Collects the errors of a whole input. Each `field` call yields the parsed value or records
/// why not; a caller destructures the `Option`s once every field has been seen, and turns the
/// collected errors into one 400 otherwise:
///
/// ```
/// use ecommerce_api::domain::{Email, Password, Validation};
///
/// let mut v = Validation::default();
/// let email = v.field("email", Email::parse(" Ann@Example.com"));
/// let password = v.field("password", Password::parse("short".to_owned()));
/// assert!(email.is_some() && password.is_none());
/// assert_eq!(v.into_errors()[0].field, "password");
/// ```
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn field<T>(&mut self, name: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Invalid(message)) => {
                self.errors.push(FieldError::new(name, message));
                None
            }
        }
    }

    /// An input that must be sent, checked with `parse`; "is required" when it was not sent.
    pub fn required<T, U>(
        &mut self,
        name: &str,
        input: Input<T>,
        parse: impl FnOnce(T) -> Result<U, Invalid>,
    ) -> Option<U> {
        match input {
            Ok(Some(value)) => self.field(name, parse(value)),
            Ok(None) => {
                self.fail(name, "is required");
                None
            }
            Err(Invalid(message)) => {
                self.fail(name, message);
                None
            }
        }
    }

    /// An input that may be left out, checked with `parse` when sent. `None` when it failed;
    /// `Some(None)` when it was not sent.
    pub fn optional<T, U>(
        &mut self,
        name: &str,
        input: Input<T>,
        parse: impl FnOnce(T) -> Result<U, Invalid>,
    ) -> Option<Option<U>> {
        match input {
            Ok(Some(value)) => self.field(name, parse(value)).map(Some),
            Ok(None) => Some(None),
            Err(Invalid(message)) => {
                self.fail(name, message);
                None
            }
        }
    }

    /// The parsed value if no field failed, else every failure (`?` makes it the 400).
    pub fn finish<T>(mut self, value: Option<T>) -> Result<T, Validation> {
        match value {
            Some(value) if self.is_ok() => Ok(value),
            // A parser that yields nothing has recorded why; keep the answer a 400 regardless.
            None if self.is_ok() => {
                self.fail("body", "is invalid");
                Err(self)
            }
            _ => Err(self),
        }
    }

    /// Records an error that is not the result of parsing one value.
    pub fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}
