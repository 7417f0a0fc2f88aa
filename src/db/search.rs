//! Full-text search over product names and descriptions: one plan, two backends.
//!
//! PostgreSQL matches `plainto_tsquery('english', …)` against the GIN-indexed `search_vector`
//! and ranks by `ts_rank` (name weighted above description). SQLite matches the FTS5 table
//! (porter stemmer) and ranks by `bm25` with the same weighting. Both take the user's words as
//! plain terms that must all match, so quotes, operators and SQL-looking text are only words.

use sea_orm::DbBackend;

use crate::db::Params;

/// At most this many words of a query count; the rest are ignored.
const MAX_TERMS: usize = 16;
/// Longer words are cut: no product word is this long, and FTS cost grows with length.
const MAX_TERM_CHARS: usize = 64;

/// SQL fragments for a search, around `p` (products) and `c` (categories).
pub struct SearchPlan {
    /// `FROM …` with products as `p` left-joined to categories as `c`.
    pub from: &'static str,
    /// The match condition, to be combined with filters by `AND`.
    pub condition: String,
    /// `ORDER BY` terms, best match first, ties broken by id.
    pub order: String,
}

/// The words of a query: letters and digits, lower-cased; everything else separates words.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_TERMS)
        .map(|word| {
            word.chars()
                .take(MAX_TERM_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .collect()
}

/// The plan for `text`, or `None` when it has no words (such a search matches nothing).
pub fn plan(backend: DbBackend, text: &str, params: &mut Params) -> Option<SearchPlan> {
    let terms = terms(text);
    if terms.is_empty() {
        return None;
    }
    Some(match backend {
        DbBackend::Postgres => {
            let query = params.push(terms.join(" "));
            SearchPlan {
                from: "FROM products p LEFT JOIN categories c ON c.id = p.category_id",
                condition: format!("p.search_vector @@ plainto_tsquery('english', {query})"),
                order: format!(
                    "ts_rank(p.search_vector, plainto_tsquery('english', {query})) DESC, p.id"
                ),
            }
        }
        _ => {
            // Each term quoted is an FTS5 string, never syntax; the tokenizer still stems it.
            let quoted: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
            let query = params.push(quoted.join(" "));
            SearchPlan {
                from: "FROM products_fts f JOIN products p ON p.id = f.product_id \
                       LEFT JOIN categories c ON c.id = p.category_id",
                condition: format!("products_fts MATCH {query}"),
                order: "bm25(products_fts, 0.0, 2.5, 1.0), p.id".to_owned(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_words_survive() {
        assert_eq!(terms("Running  SHOES"), ["running", "shoes"]);
        assert_eq!(
            terms("\"'; DROP TABLE products; --"),
            ["drop", "table", "products"]
        );
        assert_eq!(terms("NEAR(a b) OR c*"), ["near", "a", "b", "or", "c"]);
        assert!(terms("!!! ''' ---").is_empty());
        assert_eq!(terms(&"w ".repeat(50)).len(), MAX_TERMS);
    }
}
