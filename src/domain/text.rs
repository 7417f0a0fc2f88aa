//! Rules for free text and links that every input shares.
//!
//! Which characters text may hold is decided here, once, for every field of every route and of
//! every transport, so SQLite and PostgreSQL accept exactly the same inputs (PostgreSQL cannot
//! store NUL at all):
//! - **single-line** text (names, titles, tags, query parameters) holds no control character
//!   (C0, DEL, C1) and no Unicode line or paragraph separator;
//! - **multi-line** text (descriptions, post content, comments, bio) may also hold tab and line
//!   feed, and nothing else of those (a carriage return is refused: clients send `\n`);
//! - neither holds the bidirectional embedding, override and isolate controls (U+202A–U+202E,
//!   U+2066–U+2069), which make text display as something other than what it is.
//!
//! Text is trimmed and then measured in characters (Unicode scalar values), the unit of
//! JSON Schema's `maxLength` and of PostgreSQL's `VARCHAR(n)`.

use chrono::{DateTime, NaiveDate, Utc};

use super::Invalid;

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

/// Whether `c` is refused in text of this kind.
pub fn is_refused(c: char, lines: Lines) -> bool {
    match c {
        '\t' | '\n' => lines == Lines::Single,
        '\u{2028}' | '\u{2029}' => lines == Lines::Single,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

/// The characters [`is_refused`] refuses, as the bodies of regular-expression classes; kept
/// equal to it by a test over every code point.
const REFUSED_SINGLE_LINE: &str =
    r"\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069";
const REFUSED_MULTI_LINE: &str =
    r"\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069";

/// The OpenAPI `pattern` (ECMA-262) a text field of this kind obeys. `non_blank` adds "at least
/// one character that is not white space", for fields where blank text is refused.
pub fn text_pattern(lines: Lines, non_blank: bool) -> String {
    let class = match lines {
        Lines::Single => REFUSED_SINGLE_LINE,
        Lines::Multi => REFUSED_MULTI_LINE,
    };
    if non_blank {
        format!(r"^[^{class}]*[^\s{class}][^{class}]*$")
    } else {
        format!("^[^{class}]*$")
    }
}

/// Checks the characters of `text`; the message names the first refused one.
fn check_characters(text: &str, lines: Lines) -> Result<(), Invalid> {
    match text.chars().find(|&c| is_refused(c, lines)) {
        None => Ok(()),
        Some(c) => Err(Invalid::new(format!(
            "must not contain U+{:04X} ({})",
            u32::from(c),
            match lines {
                Lines::Single => "no control characters or line breaks",
                Lines::Multi => "no control characters but tab and line feed",
            }
        ))),
    }
}

/// A query parameter or optional field that was sent with something in it: blank means absent.
pub fn non_blank(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|raw| !raw.is_empty())
}

/// Trimmed single-line text of 1..=`max` characters.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, Invalid> {
    text(raw, max, Lines::Single)
}

/// Trimmed text of the given kind, 1..=`max` characters. The characters are checked before
/// trimming, so a refused one is refused wherever it stands, as the documented pattern says.
pub fn text(raw: &str, max: usize, lines: Lines) -> Result<String, Invalid> {
    check_characters(raw, lines)?;
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
    optional(raw, max, Lines::Single)
}

/// Like [`text`], but blank means "none" rather than an error.
pub fn optional(raw: Option<&str>, max: usize, lines: Lines) -> Result<Option<String>, Invalid> {
    match raw {
        Some(raw) if !raw.trim().is_empty() => text(raw, max, lines).map(Some),
        Some(raw) => check_characters(raw, lines).map(|()| None),
        None => Ok(None),
    }
}

/// An absolute `http` or `https` link of at most 2048 characters, in the normal form the `url`
/// crate gives it (lower-case scheme and host, punycode, percent-encoded path). Anything else
/// in an avatar or website field ends up in an `href` or `src`, where `javascript:` would be an
/// attack; and no quote or angle bracket survives, so the link cannot close the attribute it is
/// put into.
pub fn web_url(raw: &str) -> Result<String, Invalid> {
    const MAX: usize = 2048;
    let raw = raw.trim();
    let invalid = || Invalid::new("must be an http or https URL");
    if raw.chars().count() > MAX {
        return Err(Invalid::new(format!("must be at most {MAX} characters")));
    }
    check_characters(raw, Lines::Single)?;
    if raw.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new("must not carry a user name or password"));
    }
    // The parser percent-encodes `"`, `<` and `>`; `'` is legal in a path, so encode it too.
    let normal = url.as_str().replace('\'', "%27");
    if normal.len() > MAX {
        return Err(Invalid::new(format!("must be at most {MAX} characters")));
    }
    Ok(normal)
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
    use proptest::prelude::*;

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
    fn control_characters_are_refused_and_multi_line_text_keeps_tab_and_line_feed() {
        for bad in [
            "a\0b",
            "a\u{1b}[31m",
            "\u{7f}",
            "a\u{85}",
            "\u{202e}gnp.exe",
            "a\u{2066}",
        ] {
            assert!(text(bad, 100, Lines::Single).is_err(), "{bad:?}");
            assert!(text(bad, 100, Lines::Multi).is_err(), "{bad:?}");
        }
        for lines_only in ["a\nb", "a\tb", "a\u{2028}b"] {
            assert!(
                text(lines_only, 100, Lines::Single).is_err(),
                "{lines_only:?}"
            );
        }
        assert_eq!(text("a\n\tb", 100, Lines::Multi).unwrap(), "a\n\tb");
        assert!(text("a\r\nb", 100, Lines::Multi).is_err());
        let message = text("a\0", 9, Lines::Single).unwrap_err().0;
        assert!(message.contains("U+0000"), "{message}");
    }

    /// The documented pattern and the code refuse exactly the same characters.
    #[test]
    fn the_pattern_refuses_exactly_what_the_code_refuses() {
        for lines in [Lines::Single, Lines::Multi] {
            // `\uXXXX` is also Rust's regex syntax, so the documented pattern compiles as is.
            let pattern = regex::Regex::new(&text_pattern(lines, false)).unwrap();
            for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
                let documented = !pattern.is_match(&format!("a{c}b"));
                assert_eq!(
                    documented,
                    is_refused(c, lines),
                    "U+{:04X} {lines:?}",
                    u32::from(c)
                );
            }
        }
        let non_blank = regex::Regex::new(&text_pattern(Lines::Single, true)).unwrap();
        assert!(!non_blank.is_match("   "));
        assert!(non_blank.is_match(" a "));
    }

    #[test]
    fn only_web_links_are_urls_and_they_come_back_normalised() {
        assert_eq!(
            web_url("https://Example.COM/a.png").unwrap(),
            "https://example.com/a.png"
        );
        assert_eq!(
            web_url("http://example.com").unwrap(),
            "http://example.com/"
        );
        assert_eq!(
            web_url("https://example.com/a\"b<c>d'e").unwrap(),
            "https://example.com/a%22b%3Cc%3Ed%27e"
        );
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "ftp://example.com",
            "https://exa mple.com",
            "example.com",
            "https://user:pw@example.com/",
            "https://example.com/\u{0}",
        ] {
            assert!(web_url(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn text_never_panics_and_what_it_accepts_obeys_its_rules(raw in any::<String>(), max in 1_usize..300) {
            for lines in [Lines::Single, Lines::Multi] {
                if let Ok(text) = text(&raw, max, lines) {
                    prop_assert!(text.chars().count() <= max);
                    prop_assert!(!text.chars().any(|c| is_refused(c, lines)));
                    prop_assert_eq!(text.trim(), text.as_str());
                    prop_assert!(!text.is_empty());
                }
            }
        }

        #[test]
        fn urls_never_panic_and_accepted_ones_carry_no_markup(raw in any::<String>()) {
            if let Ok(url) = web_url(&raw) {
                prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
                prop_assert!(!url.contains(['"', '\'', '<', '>', ' ']));
                prop_assert_eq!(web_url(&url), Ok(url.clone()));
            }
        }

        #[test]
        fn generated_links_are_accepted(host in "[a-z]{1,10}\\.(com|org)", path in "[a-zA-Z0-9/._-]{0,30}") {
            let raw = format!("https://{host}/{path}");
            prop_assert!(web_url(&raw).is_ok(), "{}", raw);
        }
    }
}
