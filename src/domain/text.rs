//! Rules for free text and links that several inputs share.

use chrono::{DateTime, NaiveDate, Utc};

use super::Invalid;

/// A query parameter or optional field that was sent with something in it: blank means absent.
pub fn non_blank(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|raw| !raw.is_empty())
}

/// Trimmed text of 1..=`max` characters.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Invalid::new("must not be empty"));
    }
    if text.chars().count() > max {
        return Err(Invalid::new(format!("must be at most {max} characters")));
    }
    Ok(text.to_owned())
}

/// Like [`bounded_text`], but blank means "none" rather than an error.
pub fn optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => bounded_text(text, max).map(Some),
    }
}

/// An absolute `http` or `https` link of at most 2048 characters: anything else in an avatar
/// or website field ends up in an `href` or `src`, where `javascript:` would be an attack.
pub fn web_url(raw: &str) -> Result<String, Invalid> {
    const MAX: usize = 2048;
    let url = raw.trim();
    let invalid = || Invalid::new("must be an http or https URL");
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    if url.len() > MAX {
        return Err(Invalid::new(format!("must be at most {MAX} characters")));
    }
    Ok(url.to_owned())
}

/// A point in time from a query: RFC 3339 (`2026-11-01T12:00:00Z`) or a date (`2026-11-01`,
/// meaning its midnight UTC).
pub fn timestamp(raw: &str) -> Result<DateTime<Utc>, Invalid> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| Invalid::new("must be an RFC 3339 timestamp or a date as YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_or_dates() {
        assert_eq!(
            timestamp("2026-11-01").unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            timestamp("2026-11-01T12:00:00+02:00").unwrap().to_rfc3339(),
            "2026-11-01T10:00:00+00:00"
        );
        assert!(timestamp("yesterday").is_err());
        assert!(timestamp("2026-13-01").is_err());
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(bounded_text("  Ann  ", 10).unwrap(), "Ann");
        assert!(bounded_text("   ", 10).is_err());
        assert!(bounded_text("ééé", 2).is_err());
        assert_eq!(optional_text(Some("  "), 5).unwrap(), None);
        assert_eq!(optional_text(None, 5).unwrap(), None);
    }

    #[test]
    fn only_web_links_are_urls() {
        assert!(web_url("https://example.com/a.png").is_ok());
        assert!(web_url("http://example.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "ftp://example.com",
            "https://exa mple.com",
            "example.com",
        ] {
            assert!(web_url(bad).is_err(), "{bad}");
        }
    }
}
