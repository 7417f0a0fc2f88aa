//! GraphiQL, compiled into the binary (`assets/graphiql/`): the page, its scripts and styles,
//! under a content security policy that lets it run and nothing more.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Scripts and connections only to this server; GraphiQL's fonts are inlined as `data:` URIs
/// and it sets inline styles.
const CSP: &str = "default-src 'self'; base-uri 'self'; connect-src 'self'; \
    font-src 'self' data:; img-src 'self' data:; object-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; form-action 'self'";

const PAGE: &str = "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<title>ecommerce-api · GraphiQL</title>
<link rel=\"stylesheet\" href=\"/graphql/assets/graphiql.min.css\">
</head>
<body style=\"margin: 0\">
<div id=\"graphiql\" style=\"height: 100vh\"></div>
<script src=\"/graphql/assets/react.production.min.js\"></script>
<script src=\"/graphql/assets/react-dom.production.min.js\"></script>
<script src=\"/graphql/assets/graphiql.min.js\"></script>
<script src=\"/graphql/assets/page.js\"></script>
</body>
</html>
";

pub fn page() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
        .into_response()
}

/// The vendored files, by name; anything else is a 404.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &'static str) = match file.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../../assets/graphiql/graphiql.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "graphiql.min.css" => (
            include_bytes!("../../assets/graphiql/graphiql.min.css"),
            "text/css; charset=utf-8",
        ),
        "react.production.min.js" => (
            include_bytes!("../../assets/graphiql/react.production.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "page.js" => (
            include_bytes!("../../assets/graphiql/page.js"),
            "text/javascript; charset=utf-8",
        ),
        "introspection.graphql" => (
            include_bytes!("../../assets/graphiql/introspection.graphql"),
            "application/graphql; charset=utf-8",
        ),
        _ => return AppError::NotFound("Asset").into_response(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Versioned by the binary: a day in caches is plenty and never stale for long.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response()
}
