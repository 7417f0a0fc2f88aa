use secrecy::{ExposeSecret, SecretString};

use super::Invalid;

/// A new password that meets the length rule. Held as a secret so `Debug` never prints it.
/// Length is counted in characters, not bytes, so non-Latin passwords are not penalised.
#[derive(Debug)]
pub struct Password(SecretString);

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

impl Password {
    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
            return Err(Invalid::new(format!(
                "must be {MIN_CHARS} to {MAX_CHARS} characters"
            )));
        }
        Ok(Password(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(
            Password::parse("ééééééé".into()).is_err(),
            "7 characters, 14 bytes"
        );
        assert!(
            Password::parse("é".repeat(128)).is_ok(),
            "128 characters, 256 bytes"
        );
        assert!(Password::parse("a".repeat(129)).is_err());
    }

    #[test]
    fn debug_does_not_print_the_password() {
        let password = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
