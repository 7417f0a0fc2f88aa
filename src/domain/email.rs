use std::fmt;

use super::Invalid;

/// An email as we store it: trimmed, lower-cased, and plausibly deliverable. Lower-casing the
/// whole address (not just the domain) is what makes ` ANN@example.com` and `ann@example.com`
/// one account, which users expect even though RFC 5321 allows case-sensitive local parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let invalid = || Invalid::new("must be a valid email address");
        if email.len() > MAX_LEN {
            return Err(Invalid::new(format!(
                "must be at most {MAX_LEN} characters"
            )));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(invalid());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_is_an_email_or_refused_and_accepted_ones_are_stable(raw in any::<String>()) {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().len() <= MAX_LEN);
                prop_assert!(!email.as_str().chars().any(|c| c.is_control() || c.is_whitespace()));
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }

        #[test]
        fn plausible_addresses_are_accepted_lower_cased(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[a-z]{1,10}\\.[a-z]{2,5}") {
            prop_assume!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
            let email = Email::parse(&format!(" {local}@{domain} ")).unwrap();
            prop_assert_eq!(email.as_str(), format!("{}@{domain}", local.to_lowercase()));
        }
    }

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ann.Lee+shop@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ann.lee+shop@example.com");
    }

    #[test]
    fn plausible_addresses_are_accepted() {
        for ok in ["a@b.co", "x_y-z@mail.example.org", "ünï@exämple.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn implausible_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@@example.com",
            "ann@example..com",
            "ann@-example.com",
            "a nn@example.com",
            ".ann@example.com",
            "ann.@example.com",
            "ann..lee@example.com",
            "ann@example.c0m",
            "ann@example.c",
            "<script>@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
