use std::fmt;

/// A URL-safe name: Unicode folded to ASCII, lower-case, words joined by single hyphens, at
/// most 100 characters, cut at a word boundary. "Crème brûlée: 2 Ways!" → `creme-brulee-2-ways`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

const MAX_LEN: usize = 100;

impl Slug {
    /// `None` when the text has nothing to make a slug of (only punctuation or symbols).
    pub fn from_text(text: &str) -> Option<Self> {
        let ascii = deunicode::deunicode(text).to_lowercase();
        let mut slug = String::with_capacity(ascii.len());
        for word in ascii
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
        {
            let extra = usize::from(!slug.is_empty()) + word.len();
            if slug.len() + extra > MAX_LEN {
                if slug.is_empty() {
                    slug.push_str(&word[..MAX_LEN]);
                }
                break;
            }
            if !slug.is_empty() {
                slug.push('-');
            }
            slug.push_str(word);
        }
        (!slug.is_empty()).then_some(Slug(slug))
    }

    /// Whether `raw` has the shape of a slug we make (lower-case ASCII letters, digits and
    /// hyphens; the title's part plus a `-n` suffix at most), so a lookup of anything else can
    /// answer "not found" without a query.
    pub fn is_well_formed(raw: &str) -> bool {
        (1..=MAX_LEN + 12).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    /// This slug with `-n` appended, for the n-th use of the same text.
    pub fn numbered(&self, n: u32) -> Slug {
        Slug(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(text: &str) -> Option<String> {
        Slug::from_text(text).map(|s| s.0)
    }

    #[test]
    fn slugs_are_folded_lower_case_and_hyphenated() {
        assert_eq!(slug("Hello, World!").as_deref(), Some("hello-world"));
        assert_eq!(
            slug("Crème brûlée: 2 Ways").as_deref(),
            Some("creme-brulee-2-ways")
        );
        assert_eq!(slug("  --Rust   & Axum--  ").as_deref(), Some("rust-axum"));
        assert_eq!(slug("Straße").as_deref(), Some("strasse"));
        assert_eq!(slug("日本").as_deref(), Some("ri-ben"));
        assert_eq!(slug("!!!"), None);
        assert_eq!(slug(""), None);
    }

    #[test]
    fn long_titles_are_cut_at_a_word() {
        let long = "word ".repeat(40);
        let cut = slug(&long).unwrap();
        assert!(cut.len() <= MAX_LEN);
        assert!(cut.ends_with("word"));
        assert_eq!(slug(&"x".repeat(150)).unwrap().len(), MAX_LEN);
    }

    #[test]
    fn only_what_we_could_have_made_is_well_formed() {
        for ok in [
            "a",
            "hello-world",
            "x-2",
            &"a".repeat(100),
            &format!("{}-4294967295", "a".repeat(100)),
        ] {
            assert!(Slug::is_well_formed(ok), "{ok}");
        }
        for bad in ["", "Hello", "a b", "a\0b", "ä", "a/b", &"a".repeat(200)] {
            assert!(!Slug::is_well_formed(bad), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_slug_made_is_well_formed_and_numbering_keeps_it(text in ".{0,300}", n in 2_u32..=u32::MAX) {
            if let Some(slug) = Slug::from_text(&text) {
                proptest::prop_assert!(Slug::is_well_formed(slug.as_str()));
                proptest::prop_assert!(Slug::is_well_formed(slug.numbered(n).as_str()));
                proptest::prop_assert_eq!(Slug::from_text(slug.as_str()), Some(slug));
            }
        }
    }

    #[test]
    fn numbered_slugs_append_the_count() {
        assert_eq!(
            Slug::from_text("A b").unwrap().numbered(2).as_str(),
            "a-b-2"
        );
    }
}
