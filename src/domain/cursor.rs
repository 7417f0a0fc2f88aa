use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Invalid;

/// A position in a list ordered newest first by `(created_at, id)`: the last row of a page.
/// Opaque to clients (base64url), and a keyset rather than an offset, so rows inserted while
/// a client walks the list neither repeat nor skip rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("is not a cursor this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
        let created_at = micros
            .parse()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(invalid)?;
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Cursor { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(raw in any::<String>()) {
            let _ = Cursor::parse(&raw);
        }

        #[test]
        fn every_position_round_trips(micros in -8_000_000_000_000_000_i64..8_000_000_000_000_000, id in any::<u128>()) {
            if let Some(created_at) = DateTime::from_timestamp_micros(micros) {
                let cursor = Cursor { created_at, id: Uuid::from_u128(id) };
                prop_assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
            }
        }
    }

    #[test]
    fn a_cursor_round_trips_and_junk_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_796_111_922_708_693).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
        for junk in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12|nope"),
        ] {
            assert!(Cursor::parse(junk).is_err(), "{junk}");
        }
    }
}
