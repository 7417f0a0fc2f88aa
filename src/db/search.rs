//! Full-text search over product names and descriptions: one plan, two backends.
//!
//! PostgreSQL matches `plainto_tsquery('english', …)` against the GIN-indexed `search_vector`
//! and ranks by `ts_rank`; SQLite matches the FTS5 table (porter stemmer) and ranks shorter
//! texts first. On both, name matches come before description matches. Both take the user's
//! words as plain terms that must all match, so quotes, operators and SQL-looking text are
//! only words. Both rank a bounded set of candidates, so a common word costs what a rare one
//! does.

use sea_orm::DbBackend;

use crate::db::Params;

/// At most this many words of a query count; the rest are ignored.
const MAX_TERMS: usize = 16;
/// Longer words are cut: no product word is this long, and FTS cost grows with length.
const MAX_TERM_CHARS: usize = 64;

/// Products ranked per search, at most: this many matching by name, and as many more
/// matching anywhere when the name matches do not fill the page. Ranking every match of a
/// common word (a tenth of a catalogue of millions) would cost a hundred thousand rank
/// computations per request; the name matches are the best matches, so they are fetched
/// first and the page is ranked among these candidates. At a million products on PostgreSQL,
/// 200 rank a common word in about 2 ms and 500 in 4.
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
/// Both take up to [`CANDIDATES`] products whose name matches and, when those do not fill
/// the page, as many more that match anywhere; name matches come first, and each group is
/// ranked by `ts_rank` on PostgreSQL (the words with the name's weight, through the one GIN
/// index) and by the length of the text matched in on SQLite (two FTS5 queries: the name
/// column, then all columns).
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
    // Each term rewritten, joined into one parameter.
    let mut joined = |each: &dyn Fn(&str) -> String, separator: &str| {
        params.push(
            terms
                .iter()
                .map(|term| each(term))
                .collect::<Vec<_>>()
                .join(separator),
        )
    };
    // Each group is ranked as it is read; its score orders within the group, ascending.
    let (from, in_name, anywhere, name_score, any_score) = match backend {
        DbBackend::Postgres => {
            let query = format!("plainto_tsquery('english', {})", joined(&|t| t.into(), " "));
            // The same words, each only as a name word: names carry weight A in the vector.
            // Terms are letters and digits only, so they are never tsquery syntax.
            let in_name = joined(&|term| format!("{term}:A"), " & ");
            let rank = format!("-ts_rank(p.search_vector, {query})");
            (
                "products p",
                format!("p.search_vector @@ to_tsquery('english', {in_name})"),
                format!("p.search_vector @@ {query}"),
                rank.clone(),
                rank,
            )
        }
        _ => {
            // Each term quoted is an FTS5 string, never syntax; the tokenizer still stems it.
            let anywhere = joined(&|term| format!("\"{term}\""), " ");
            let in_name = joined(&|term| format!("name : \"{term}\""), " ");
            // The shorter text ranks first: its words are more of it, as bm25's length
            // normalisation has it. bm25 itself reads every match of each word for its
            // statistics, whatever the LIMIT: 60 ms per common word at a million products,
            // against 2 ms for the whole search without it.
            (
                "products_fts f JOIN products p ON p.id = f.product_id",
                format!("products_fts MATCH {in_name}"),
                format!("products_fts MATCH {anywhere}"),
                "length(p.name)".to_owned(),
                "length(p.description)".to_owned(),
            )
        }
    };
    // Name matches rank first. Other matches are read only when the name matches do not fill
    // the page: a page of brand and noun is then one index scan, not two.
    Some(format!(
        "WITH named AS MATERIALIZED (SELECT p.id, 0 AS tier, {name_score} AS score FROM {from} \
           WHERE {in_name}{filters} LIMIT {CANDIDATES}), \
         other AS (SELECT p.id, 1 AS tier, {any_score} AS score FROM {from} \
           WHERE {anywhere}{filters} AND (SELECT COUNT(*) FROM named) < {limit} \
           AND p.id NOT IN (SELECT id FROM named) LIMIT {CANDIDATES}), \
         best AS (SELECT id, tier, score \
           FROM (SELECT * FROM named UNION ALL SELECT * FROM other) AS candidates \
           ORDER BY tier, score, id LIMIT {limit}) \
         SELECT {columns} FROM best k JOIN products p ON p.id = k.id \
         LEFT JOIN categories c ON c.id = p.category_id \
         ORDER BY k.tier, k.score, p.id"
    ))
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
