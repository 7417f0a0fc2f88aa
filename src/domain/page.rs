use serde::Serialize;
use utoipa::ToSchema;

use super::{Invalid, Validation};

pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 100;
/// How deep an offset list reaches: the rows up to this one, whatever the page size. An
/// offset costs the database a scan of every row it skips, so a deep page is refused here
/// rather than paid for on each request; filters (a status, a date range, a customer) narrow
/// a list to reach older rows. The OpenAPI document states the same bound on `page`.
pub const MAX_OFFSET_ROWS: u64 = 10_000;

/// `?page=&limit=` of an offset list, checked: `page` ≥ 1, `limit` 1..=100, and
/// `page × limit` at most [`MAX_OFFSET_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub limit: u64,
}

impl PageRequest {
    /// Parses both parameters, recording failures under their names.
    pub fn parse(
        v: &mut Validation,
        page: Option<&str>,
        limit: Option<&str>,
        default_limit: u64,
    ) -> Option<Self> {
        let page = v.field("page", parse_number(page, 1, 1, MAX_OFFSET_ROWS));
        let limit = v.field("limit", parse_limit(limit, default_limit))?;
        let page = page?;
        let deepest = MAX_OFFSET_ROWS / limit;
        if page > deepest {
            v.field::<()>(
                "page",
                Err(Invalid::new(format!(
                    "must be at most {deepest} with limit {limit}: an offset list serves its \
                     first {MAX_OFFSET_ROWS} rows; narrow it with a filter to reach older ones"
                ))),
            );
            return None;
        }
        Some(PageRequest { page, limit })
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.limit
    }
}

/// A `limit` parameter of any list: 1..=100, `default` when absent.
pub fn parse_limit(raw: Option<&str>, default: u64) -> Result<u64, Invalid> {
    parse_number(raw, default, 1, MAX_LIMIT)
}

fn parse_number(raw: Option<&str>, default: u64, min: u64, max: u64) -> Result<u64, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Invalid::new(format!(
            "must be a whole number from {min} to {max}"
        ))),
    }
}

/// The `pagination` object of an offset list. `total` and `totalPages` count every matching
/// row, also those past the first 10,000 rows that pages reach.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u64,
    pub limit: u64,
    pub total: u64,
    pub total_pages: u64,
}

impl Pagination {
    pub fn new(request: PageRequest, total: u64) -> Self {
        Pagination {
            page: request.page,
            limit: request.limit,
            total,
            total_pages: total.div_ceil(request.limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(page: Option<&str>, limit: Option<&str>) -> Result<PageRequest, Vec<String>> {
        let mut v = Validation::default();
        match PageRequest::parse(&mut v, page, limit, DEFAULT_LIMIT) {
            Some(request) if v.is_ok() => Ok(request),
            _ => Err(v.into_errors().into_iter().map(|e| e.field).collect()),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(parse(None, None), Ok(PageRequest { page: 1, limit: 10 }));
        assert_eq!(parse(Some("3"), Some("100")).unwrap().offset(), 200);
        assert_eq!(
            parse(Some("0"), Some("101")),
            Err(vec!["page".into(), "limit".into()])
        );
        assert_eq!(
            parse(Some("x"), Some("0")),
            Err(vec!["page".into(), "limit".into()])
        );
        assert_eq!(parse(None, Some("-1")), Err(vec!["limit".into()]));
    }

    #[test]
    fn pages_reach_the_first_rows_only() {
        assert_eq!(parse(Some("100"), Some("100")).unwrap().offset(), 9_900);
        assert_eq!(parse(Some("101"), Some("100")), Err(vec!["page".into()]));
        assert_eq!(parse(Some("1000"), None).unwrap().offset(), 9_990);
        assert_eq!(parse(Some("1001"), None), Err(vec!["page".into()]));
        assert_eq!(parse(Some("3333"), Some("3")).unwrap().offset(), 9_996);
        assert_eq!(parse(Some("10001"), Some("1")), Err(vec!["page".into()]));
    }

    #[test]
    fn total_pages_round_up() {
        let request = PageRequest { page: 1, limit: 10 };
        assert_eq!(Pagination::new(request, 0).total_pages, 0);
        assert_eq!(Pagination::new(request, 10).total_pages, 1);
        assert_eq!(Pagination::new(request, 11).total_pages, 2);
    }
}
