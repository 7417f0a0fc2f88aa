use serde::Serialize;
use utoipa::ToSchema;

use super::{Invalid, Validation};

pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 100;
/// The last page an offset list serves.
pub const MAX_PAGE: u64 = 2_147_483_647;

/// `?page=&limit=` of an offset list, checked: `page` ≥ 1, `limit` 1..=100.
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
        let page = v.field("page", parse_number(page, 1, 1, MAX_PAGE));
        let limit = v.field("limit", parse_limit(limit, default_limit));
        Some(PageRequest {
            page: page?,
            limit: limit?,
        })
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

/// The `pagination` object of an offset list.
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
    fn total_pages_round_up() {
        let request = PageRequest { page: 1, limit: 10 };
        assert_eq!(Pagination::new(request, 0).total_pages, 0);
        assert_eq!(Pagination::new(request, 10).total_pages, 1);
        assert_eq!(Pagination::new(request, 11).total_pages, 2);
    }
}
