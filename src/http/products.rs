//! `/api/v1/products`: the catalog, its search, admin writes and reviews.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domain::{
    Cursor, DEFAULT_LIMIT, Money, PageRequest, Patch, ProductId, Validation, bounded_text,
    parse_limit,
};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Created, CursorPaginated, Data, Message, Paginated};
use crate::http::extract::{Admin, AuthUser, Json, Path, Query, RequireRole, nullable};
use crate::services::catalog::products::{
    self, NewProduct, PriceChangeInput, PriceChanges, Product, ProductFilter, ProductUpdate,
    Removal,
};
use crate::services::catalog::reviews::{self, NewReview, Review};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(search))
        .routes(routes!(change_prices))
        .routes(routes!(get, update, delete))
        .routes(routes!(list_reviews, add_review))
}

/// Products are listed 20 at a time unless `limit` says otherwise.
const PRODUCT_PAGE: u64 = 20;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100; default 20.
    pub limit: Option<String>,
    pub category_id: Option<String>,
    /// Inclusive.
    pub min_price: Option<String>,
    /// Inclusive.
    pub max_price: Option<String>,
    /// `true`: only products with stock; `false`: only those without.
    pub in_stock: Option<String>,
}

/// Visible products, newest first, a page at a time.
///
/// Keyset-paginated: walking every page with `nextCursor` returns every visible product
/// exactly once, even while products are added. Archived products are never listed.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog",
    params(ProductListQuery),
    responses((status = 200, description = "A page of products", body = CursorPaginated<Product>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ProductListQuery>,
) -> Result<CursorPaginated<Product>, AppError> {
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
    let (products, next) = products::list(&state.db, &filter, cursor, limit).await?;
    Ok(CursorPaginated::new(products, limit, next))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProductSearchQuery {
    /// Words to find in names and descriptions; every word must match, stemmed ("running
    /// shoes" finds "Run Shoe"). Punctuation and operators are ignored.
    pub q: Option<String>,
    /// 1 to 100; default 20.
    pub limit: Option<String>,
    pub category_id: Option<String>,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub in_stock: Option<String>,
}

/// Full-text search, best match first (a name match ranks above a description match).
#[utoipa::path(get, path = "/api/v1/products/search", tag = "catalog",
    params(ProductSearchQuery),
    responses((status = 200, description = "Matching products, best first", body = Data<Vec<Product>>)))]
pub async fn search(
    State(state): State<AppState>,
    Query(query): Query<ProductSearchQuery>,
) -> Result<Data<Vec<Product>>, AppError> {
    let mut v = Validation::default();
    let text = v.field(
        "q",
        bounded_text(query.q.as_deref().unwrap_or_default(), 200),
    );
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
    Ok(Data::new(
        products::search(&state.db, &text, &filter, limit).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProductPath {
    #[param(value_type = String, format = Uuid)]
    pub id: ProductId,
}

/// One product, archived ones included (orders link to them).
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    params(ProductPath),
    responses(
        (status = 200, description = "The product", body = Data<Product>),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Path(path): Path<ProductPath>,
) -> Result<Data<Product>, AppError> {
    Ok(Data::new(products::get(&state.db, path.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProductRequest {
    /// 1 to 200 characters.
    #[schema(example = "Trail Running Shoe")]
    pub name: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
    #[schema(value_type = Money)]
    pub price: serde_json::Value,
    /// Units in stock; default 0.
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub in_stock: Option<serde_json::Value>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub category_id: Option<String>,
}

/// Create a product (admins only).
#[utoipa::path(post, path = "/api/v1/products", tag = "catalog",
    security(("bearerAuth" = [])),
    request_body = NewProductRequest,
    responses(
        (status = 201, description = "Created", body = Data<Product>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Json(body): Json<NewProductRequest>,
) -> Result<Created<Product>, AppError> {
    let new = NewProduct::parse(
        &body.name,
        body.description.as_deref(),
        &body.price,
        body.in_stock.as_ref(),
        body.category_id.as_deref(),
    )?;
    Ok(Data::new(products::create(&state.db, new).await?).created())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUpdateRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Money>)]
    pub price: Option<serde_json::Value>,
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub in_stock: Option<serde_json::Value>,
    /// `null` removes the product from its category.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub category_id: Option<Option<String>>,
}

/// Change a product (admins only); fields left out are unchanged.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog",
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
    _admin: RequireRole<Admin>,
    Path(path): Path<ProductPath>,
    Json(body): Json<ProductUpdateRequest>,
) -> Result<Data<Product>, AppError> {
    let update = ProductUpdate::parse(
        body.name.as_deref(),
        Patch::from_wire(body.description),
        body.price.as_ref(),
        body.in_stock.as_ref(),
        Patch::from_wire(body.category_id),
    )?;
    Ok(Data::new(
        products::update(&state.db, path.id, update).await?,
    ))
}

/// Delete a product (admins only). A product that appears in an order is archived instead:
/// it leaves lists and search, and orders keep showing it.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog",
    security(("bearerAuth" = [])),
    params(ProductPath),
    responses(
        (status = 200, description = "Deleted, or archived (see `message`)", body = Message),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such product", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Path(path): Path<ProductPath>,
) -> Result<Message, AppError> {
    Ok(Message::new(
        match products::delete(&state.db, path.id).await? {
            Removal::Deleted => "Product deleted",
            Removal::Archived => "Product archived: it appears in orders",
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriceChangesRequest {
    /// 1 to 1000 changes, each product at most once.
    pub updates: Vec<PriceChangeRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriceChangeRequest {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(value_type = Money)]
    pub price: serde_json::Value,
}

/// Change many prices at once (admins only), all or nothing.
///
/// Every id and price is checked first; if one id names no (visible) product or one price is
/// invalid, nothing changes and the 400 names each failing entry (`updates[3].price`).
#[utoipa::path(patch, path = "/api/v1/products/prices", tag = "catalog",
    security(("bearerAuth" = [])),
    request_body = PriceChangesRequest,
    responses(
        (status = 200, description = "The changed products, in request order", body = Data<Vec<Product>>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn change_prices(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Json(body): Json<PriceChangesRequest>,
) -> Result<Data<Vec<Product>>, AppError> {
    let inputs: Vec<PriceChangeInput<'_>> = body
        .updates
        .iter()
        .map(|update| PriceChangeInput {
            id: &update.id,
            price: &update.price,
        })
        .collect();
    let changes = PriceChanges::parse(&inputs)?;
    Ok(Data::with_message(
        products::change_prices(&state.db, changes).await?,
        "Prices updated",
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1.
    pub page: Option<String>,
    /// 1 to 100; default 10.
    pub limit: Option<String>,
}

/// A product's reviews, newest first.
#[utoipa::path(get, path = "/api/v1/products/{id}/reviews", tag = "catalog",
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
    /// 1 to 5.
    #[schema(value_type = i32, minimum = 1, maximum = 5)]
    pub rating: serde_json::Value,
    /// At most 2000 characters.
    pub comment: Option<String>,
}

/// Review a product: one review per user and product.
#[utoipa::path(post, path = "/api/v1/products/{id}/reviews", tag = "catalog",
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
    let review = NewReview::parse(&body.rating, body.comment.as_deref())?;
    let review = reviews::create(&state.db, &actor, path.id, review).await?;
    Ok(Data::new(review).created())
}
