//! Full-text search over product names and descriptions: one plan, two backends.
//!
//! PostgreSQL matches `plainto_tsquery('english', …)` against the GIN-indexed `search_vector`
//! and ranks by `ts_rank` (name weighted above description). SQLite matches the FTS5 table
//! (porter stemmer) and ranks by `bm25` with the same weighting. Both take the user's words as
//! plain terms that must all match, so quotes, operators and SQL-looking text are only words.
//! Both rank a bounded set of candidates, so a common word costs what a rare one does.

use sea_orm::DbBackend;

use crate::db::Params;

/// At most this many words of a query count; the rest are ignored.
const MAX_TERMS: usize = 16;
/// Longer words are cut: no product word is this long, and FTS cost grows with length.
const MAX_TERM_CHARS: usize = 64;

/// Products ranked per search, at most: this many matching by name, and as many more
/// matching anywhere. Ranking every match of a common word (a tenth of a catalogue of millions)
/// would cost a hundred thousand rank computations per request; the name matches are the best
/// matches, so they are fetched first and the page is ranked among these candidates. At a
/// million products on PostgreSQL, 200 rank a common word in about 2 ms and 500 in 4.
pub const CANDIDATES: usize = 200;

/// The columns of products as `p` and categories as `c`, and the filter conditions on `p`.
pub struct Select<'a> {
    pub columns: &'a str,
    pub conditions: &'a [String],
    pub limit: u64,
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

/// The statement for a search of `text`, best match first, or `None` when the text has no
/// words (such a search matches nothing).
///
/// PostgreSQL takes up to [`CANDIDATES`] products whose name matches (the words with the
/// name's weight, through the one GIN index) and as many whose name or description matches,
/// and ranks them with `ts_rank`.
/// SQLite does the same with two FTS5 queries (the name column, then all columns), ranking
/// name matches first and each group by `bm25`.
pub fn statement(
    backend: DbBackend,
    text: &str,
    select: &Select<'_>,
    params: &mut Params,
) -> Option<String> {
    let terms = terms(text);
    if terms.is_empty() {
        return None;
    }
    let Select {
        columns,
        conditions,
        limit,
    } = select;
    let filters: String = conditions
        .iter()
        .map(|condition| format!(" AND {condition}"))
        .collect();
    let limit = params.push(i64::try_from(*limit).unwrap_or(i64::MAX));
    Some(match backend {
        DbBackend::Postgres => {
            let query = format!(
                "plainto_tsquery('english', {})",
                params.push(terms.join(" "))
            );
            // The same words, each only as a name word: names carry weight A in the vector.
            // Terms are letters and digits only, so they are never tsquery syntax.
            let in_name = format!(
                "to_tsquery('english', {})",
                params.push(
                    terms
                        .iter()
                        .map(|term| format!("{term}:A"))
                        .collect::<Vec<_>>()
                        .join(" & ")
                )
            );
            // Each group is ranked as it is read, and only the page's rows are joined.
            let branch = |matching: &str| {
                format!(
                    "(SELECT p.id, ts_rank(p.search_vector, {query}) AS rank FROM products p \
                     WHERE p.search_vector @@ {matching}{filters} LIMIT {CANDIDATES})"
                )
            };
            format!(
                "WITH candidates AS ({} UNION {}), \
                 best AS (SELECT id, rank FROM candidates ORDER BY rank DESC, id LIMIT {limit}) \
                 SELECT {columns} FROM best k JOIN products p ON p.id = k.id \
                 LEFT JOIN categories c ON c.id = p.category_id \
                 ORDER BY k.rank DESC, p.id",
                branch(&in_name),
                branch(&query),
            )
        }
        _ => {
            // Each term quoted is an FTS5 string, never syntax; the tokenizer still stems it.
            let quoted: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
            let anywhere = params.push(quoted.join(" "));
            let in_name = params.push(
                quoted
                    .iter()
                    .map(|term| format!("name : {term}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            let branch = |tier: u8, query: &str| {
                format!(
                    "SELECT * FROM (SELECT f.product_id, {tier}, \
                       bm25(products_fts, 0.0, 2.5, 1.0) \
                     FROM products_fts f JOIN products p ON p.id = f.product_id \
                     WHERE products_fts MATCH {query}{filters} LIMIT {CANDIDATES})"
                )
            };
            // A product in both groups keeps its name-match score: SQLite takes a bare
            // column from the row that gave the MIN.
            format!(
                "WITH candidates(id, tier, score) AS ({} UNION ALL {}), \
                 best AS (SELECT id, MIN(tier) AS tier, score FROM candidates GROUP BY id) \
                 SELECT {columns} FROM best k JOIN products p ON p.id = k.id \
                 LEFT JOIN categories c ON c.id = p.category_id \
                 ORDER BY k.tier, k.score, p.id LIMIT {limit}",
                branch(0, &in_name),
                branch(1, &anywhere),
            )
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
