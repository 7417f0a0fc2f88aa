//! `/api/v1/products`: the catalog, its search, admin writes and reviews.

use axum::extract::{DefaultBodyLimit, State};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cache::Entry;
use crate::domain::{Cursor, DEFAULT_LIMIT, PageRequest, ProductId, Validation, parse_limit};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::body_limits;
use crate::http::envelope::{Created, CursorPaginated, Data, Message, Paginated, Serialized};
use crate::http::extract::{Admin, AuthUser, Json, Path, Query, RequireRole};
use crate::http::field::{Field, MoneyInput, MoneyText, list_of};
use crate::services::catalog::products::{
    self, NewProduct, PriceChangeInput, PriceChanges, Product, ProductFilter, ProductUpdate,
    Removal,
};
use crate::services::catalog::reviews::{self, NewReview, Review};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(search))
        .routes(routes!(change_prices))
        .routes(routes!(get, update, delete))
        .routes(routes!(list_reviews, add_review))
        .layer(DefaultBodyLimit::max(body_limits::CATALOG))
}

/// Products are listed 20 at a time unless `limit` says otherwise.
const PRODUCT_PAGE: u64 = 20;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]+$", max_length = 200)]
    pub cursor: Option<String>,
    /// 1 to 100; default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub category_id: Option<String>,
    /// Inclusive.
    #[param(value_type = Option<MoneyText>)]
    pub min_price: Option<String>,
    /// Inclusive.
    #[param(value_type = Option<MoneyText>)]
    pub max_price: Option<String>,
    /// `true`: only products with stock; `false`: only those without.
    #[param(value_type = Option<bool>)]
    pub in_stock: Option<String>,
}

/// Visible products, newest first, a page at a time.
///
/// Keyset-paginated: walking every page with `nextCursor` returns every visible product
/// exactly once, even while products are added. Archived products are never listed.
#[utoipa::path(get, operation_id = "listProducts", path = "/api/v1/products", tag = "catalog",
    params(ProductListQuery),
    responses((status = 200, description = "A page of products", body = CursorPaginated<Product>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ProductListQuery>,
) -> Result<Serialized, AppError> {
    let mut v = Validation::default();
    let cursor = v.field(
        "cursor",
        query.cursor.as_deref().map(Cursor::parse).transpose(),
    );
    let limit = v.field("limit", parse_limit(query.limit.as_deref(), PRODUCT_PAGE));
    let filter = ProductFilter::parse(
        &mut v,
        query.category_id.as_deref(),
        query.min_price.as_deref(),
        query.max_price.as_deref(),
        query.in_stock.as_deref(),
    );
    let (Some(cursor), Some(limit), Some(filter)) = (cursor, limit, filter) else {
        return Err(v.into());
    };
    let entry = Entry::ProductPage(format!("{cursor:?}|{limit}|{filter:?}").into());
    let body = state
        .cache
        .get_or_load(entry, || async {
            let (products, next) = products::list(&state.db, &filter, cursor, limit).await?;
            Ok(Serialized::of(&CursorPaginated::new(products, limit, next))?.0)
        })
        .await?;
    Ok(Serialized(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProductSearchQuery {
    /// Words to find in names and descriptions; every word must match, stemmed ("running
    /// shoes" finds "Run Shoe"). Punctuation and operators are ignored.
    #[param(value_type = String, min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// 1 to 100; default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub category_id: Option<String>,
    #[param(value_type = Option<MoneyText>)]
    pub min_price: Option<String>,
    #[param(value_type = Option<MoneyText>)]
    pub max_price: Option<String>,
    #[param(value_type = Option<bool>)]
    pub in_stock: Option<String>,
}

/// Full-text search, best match first (a name match ranks above a description match).
///
/// Ranks at most 200 products matching by name and 200 more matching anywhere, so a common
/// word costs what a rare one does; when more than 200 names match, the page is drawn from
/// 200 of them.
#[utoipa::path(get, operation_id = "searchProducts", path = "/api/v1/products/search", tag = "catalog",
    params(ProductSearchQuery),
    responses((status = 200, description = "Matching products, best first", body = Data<Vec<Product>>)))]
pub async fn search(
    State(state): State<AppState>,
    Query(query): Query<ProductSearchQuery>,
) -> Result<Serialized, AppError> {
    let mut v = Validation::default();
    let text = v.field("q", products::search_text(query.q.as_deref()));
    let limit = v.field("limit", parse_limit(query.limit.as_deref(), PRODUCT_PAGE));
    let filter = ProductFilter::parse(
        &mut v,
        query.category_id.as_deref(),
        query.min_price.as_deref(),
        query.max_price.as_deref(),
        query.in_stock.as_deref(),
    );
    let (Some(text), Some(limit), Some(filter)) = (text, limit, filter) else {
        return Err(v.into());
    };
    let entry = Entry::Search(format!("{text:?}|{limit}|{filter:?}").into());
    let body = state
        .cache
        .get_or_load(entry, || async {
            let found = products::search(&state.db, &text, &filter, limit).await?;
            Ok(Serialized::of(&Data::new(found))?.0)
        })
        .await?;
    Ok(Serialized(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProductPath {
    #[param(value_type = String, format = Uuid)]
    pub id: ProductId,
}

/// One product, archived ones included (orders link to them).
#[utoipa::path(get, operation_id = "getProduct", path = "/api/v1/products/{id}", tag = "catalog",
    params(ProductPath),
    responses(
        (status = 200, description = "The product", body = Data<Product>),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Path(path): Path<ProductPath>,
) -> Result<Serialized, AppError> {
    let body = state
        .cache
        .get_or_load(Entry::Product(path.id), || async {
            let product = products::get(&state.db, path.id).await?;
            Ok(Serialized::of(&Data::new(product))?.0)
        })
        .await?;
    Ok(Serialized(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProductRequest {
    /// 1 to 200 characters.
    #[schema(value_type = String, example = "Trail Running Shoe", min_length = 1, max_length = 200)]
    pub name: Field<String>,
    /// At most 10,000 characters; may span lines; blank means none.
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Field<String>,
    #[schema(value_type = MoneyInput)]
    pub price: Field<Box<RawValue>>,
    /// Units in stock; default 0.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000000)]
    pub in_stock: Field<i64>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub category_id: Field<String>,
}

/// Create a product (admins only).
#[utoipa::path(post, operation_id = "createProduct", path = "/api/v1/products", tag = "catalog",
    security(("bearerAuth" = [])),
    request_body = NewProductRequest,
    responses(
        (status = 201, description = "Created", body = Data<Product>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Json(body): Json<NewProductRequest>,
) -> Result<Created<Product>, AppError> {
    let new = NewProduct::parse(
        body.name.as_deref().input(),
        body.description.as_deref().input(),
        body.price.as_deref().input(),
        body.in_stock.input(),
        body.category_id.as_deref().input(),
    )?;
    Ok(Data::new(products::create(&state.db, &admin, new).await?).created())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUpdateRequest {
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub name: Field<String>,
    /// At most 10,000 characters; `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<MoneyInput>)]
    pub price: Field<Box<RawValue>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000000)]
    pub in_stock: Field<i64>,
    /// `null` removes the product from its category.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub category_id: Field<String>,
}

/// Change a product (admins only); fields left out are unchanged.
#[utoipa::path(patch, operation_id = "updateProduct", path = "/api/v1/products/{id}", tag = "catalog",
    security(("bearerAuth" = [])),
    params(ProductPath),
    request_body = ProductUpdateRequest,
    responses(
        (status = 200, description = "The changed product", body = Data<Product>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<ProductPath>,
    Json(body): Json<ProductUpdateRequest>,
) -> Result<Data<Product>, AppError> {
    let update = ProductUpdate::parse(
        body.name.as_deref().input(),
        body.description.patch(),
        body.price.as_deref().input(),
        body.in_stock.input(),
        body.category_id.patch(),
    )?;
    Ok(Data::new(
        products::update(&state.db, &admin, path.id, update).await?,
    ))
}

/// Delete a product (admins only). A product that appears in an order is archived instead:
/// it leaves lists and search, and orders keep showing it.
#[utoipa::path(delete, operation_id = "deleteProduct", path = "/api/v1/products/{id}", tag = "catalog",
    security(("bearerAuth" = [])),
    params(ProductPath),
    responses(
        (status = 200, description = "Deleted, or archived (see `message`)", body = Message),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<ProductPath>,
) -> Result<Message, AppError> {
    Ok(Message::new(
        match products::delete(&state.db, &admin, path.id).await? {
            Removal::Deleted => "Product deleted",
            Removal::Archived => "Product archived: it appears in orders",
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriceChangesRequest {
    /// 1 to 1000 changes, each product at most once.
    #[schema(value_type = Vec<PriceChangeRequest>, min_items = 1, max_items = 1000)]
    pub updates: Field<Vec<Field<PriceChangeRequest>>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriceChangeRequest {
    #[schema(value_type = String, format = Uuid)]
    pub id: Field<String>,
    #[schema(value_type = MoneyInput)]
    pub price: Field<Box<RawValue>>,
}

/// Change many prices at once (admins only), all or nothing.
///
/// Every id and price is checked first; if one id names no (visible) product or one price is
/// invalid, nothing changes and the 400 names each failing entry (`updates[3].price`).
#[utoipa::path(patch, operation_id = "updatePrices", path = "/api/v1/products/prices", tag = "catalog",
    security(("bearerAuth" = [])),
    request_body = PriceChangesRequest,
    responses(
        (status = 200, description = "The changed products, in request order", body = Data<Vec<Product>>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn change_prices(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Json(body): Json<PriceChangesRequest>,
) -> Result<Data<Vec<Product>>, AppError> {
    let updates = list_of(&body.updates, |update| PriceChangeInput {
        id: update.id.as_deref().input(),
        price: update.price.as_deref().input(),
    });
    let changes = PriceChanges::parse(updates)?;
    Ok(Data::with_message(
        products::change_prices(&state.db, &admin, changes).await?,
        "Prices updated",
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    /// 1 to 100; default 10.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// A product's reviews, newest first.
#[utoipa::path(get, operation_id = "listReviews", path = "/api/v1/products/{id}/reviews", tag = "catalog",
    params(ProductPath, PageQuery),
    responses(
        (status = 200, description = "A page of reviews", body = Paginated<Review>),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn list_reviews(
    State(state): State<AppState>,
    Path(path): Path<ProductPath>,
    Query(query): Query<PageQuery>,
) -> Result<Paginated<Review>, AppError> {
    let mut v = Validation::default();
    let Some(page) = PageRequest::parse(
        &mut v,
        query.page.as_deref(),
        query.limit.as_deref(),
        DEFAULT_LIMIT,
    ) else {
        return Err(v.into());
    };
    let (reviews, pagination) = reviews::list(&state.db, path.id, page).await?;
    Ok(Paginated::new(reviews, pagination))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewReviewRequest {
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub rating: Field<i64>,
    /// At most 2000 characters; may span lines; blank means none.
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub comment: Field<String>,
}

/// Review a product: one review per user and product.
#[utoipa::path(post, operation_id = "addReview", path = "/api/v1/products/{id}/reviews", tag = "catalog",
    security(("bearerAuth" = [])),
    params(ProductPath),
    request_body = NewReviewRequest,
    responses(
        (status = 201, description = "Created", body = Data<Review>),
        (status = 404, description = "No such product, or it is archived", body = ErrorEnvelope),
        (status = 409, description = "The caller has already reviewed it", body = ErrorEnvelope),
    ))]
pub async fn add_review(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<ProductPath>,
    Json(body): Json<NewReviewRequest>,
) -> Result<Created<Review>, AppError> {
    let review = NewReview::parse(body.rating.input(), body.comment.as_deref().input())?;
    let review = reviews::create(&state.db, &actor, path.id, review).await?;
    Ok(Data::new(review).created())
}
