//! The GraphQL shapes of the services' read models: the same field names and values as the
//! REST objects (money as the same decimal strings, times in the same RFC 3339 form), with
//! nested lists and references resolved through the request's DataLoaders.

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, Enum, ID, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject,
    Value,
};
use chrono::Utc;

use super::error::OrGraphql;
use super::loaders::{CommentsByPost, Loaders, ProductsById, ReviewsByProduct};
use crate::domain::{self, Cursor, OrderStatus as DomainStatus, Role as DomainRole};
use crate::error::AppError;
use crate::services::blog::{Comment as CommentModel, Post as PostModel};
use crate::services::catalog::Review as ReviewModel;
use crate::services::catalog::{Category as CategoryModel, Product as ProductModel};
use crate::services::orders::{Order as OrderModel, OrderItem as OrderItemModel};
use crate::services::users::{Author as AuthorModel, User as UserModel};

/// An exact amount with two decimal places, as a string (`"19.99"`). Inputs take a string (or
/// a whole number); a float is refused, since it may already have lost what was meant.
pub struct Money(pub domain::Money);

#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(text) => text.clone(),
            Value::Number(number) if number.is_u64() => number.to_string(),
            _ => {
                return Err(InputValueError::custom(
                    "must be a decimal string such as \"19.99\"",
                ));
            }
        };
        domain::Money::parse(&text)
            .map(Money)
            .map_err(|invalid| InputValueError::custom(invalid.0))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A point in time, in the RFC 3339 form of the REST API (`2026-12-01T10:00:00.123456Z`).
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => domain::timestamp(text)
                .map(DateTime)
                .map_err(|invalid| InputValueError::custom(invalid.0)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self.0)
            .ok()
            .and_then(|json| Value::from_json(json).ok())
            .unwrap_or(Value::Null)
    }
}

fn time(at: chrono::DateTime<Utc>) -> DateTime {
    DateTime(at)
}

fn id(value: impl ToString) -> ID {
    ID(value.to_string())
}

// The domain's roles for GraphQL (`remote` derives the conversions both ways).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role", remote = "DomainRole")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

// The domain's order statuses for GraphQL (`remote` derives the conversions both ways).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrderStatus", remote = "DomainStatus")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

pub struct User(pub UserModel);

#[Object]
impl User {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        time(self.0.updated_at)
    }
    async fn profile(&self) -> Option<Profile> {
        self.0.profile.as_ref().map(|profile| Profile {
            bio: profile.bio.clone(),
            website: profile.website.clone(),
            location: profile.location.clone(),
            date_of_birth: profile.date_of_birth.map(|date| date.to_string()),
        })
    }
}

#[derive(SimpleObject)]
pub struct Profile {
    bio: Option<String>,
    website: Option<String>,
    location: Option<String>,
    /// `YYYY-MM-DD`.
    date_of_birth: Option<String>,
}

#[derive(SimpleObject)]
pub struct Author {
    id: ID,
    name: Option<String>,
}

impl From<&AuthorModel> for Author {
    fn from(author: &AuthorModel) -> Self {
        Author {
            id: id(author.id),
            name: author.name.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct CategoryRef {
    id: ID,
    name: String,
}

#[derive(SimpleObject)]
pub struct Category {
    id: ID,
    name: String,
    slug: String,
    product_count: u64,
}

impl From<CategoryModel> for Category {
    fn from(category: CategoryModel) -> Self {
        Category {
            id: id(category.id),
            name: category.name,
            slug: category.slug,
            product_count: category.product_count,
        }
    }
}

#[derive(Clone)]
pub struct Product(pub ProductModel);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn price(&self) -> Money {
        Money(self.0.price)
    }
    async fn in_stock(&self) -> i32 {
        self.0.in_stock
    }
    async fn archived(&self) -> bool {
        self.0.archived
    }
    async fn category(&self) -> Option<CategoryRef> {
        self.0.category.as_ref().map(|category| CategoryRef {
            id: id(category.id),
            name: category.name.clone(),
        })
    }
    async fn average_rating(&self) -> Option<f64> {
        self.0.average_rating
    }
    async fn review_count(&self) -> u64 {
        self.0.review_count
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        time(self.0.updated_at)
    }
    /// The newest reviews (1 to 100, default 10), loaded for every product of the response in
    /// one statement.
    #[graphql(complexity = "first.unwrap_or(10).clamp(1, 100) as usize * child_complexity")]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Review>> {
        let first = u64::try_from(first.unwrap_or(10)).unwrap_or(10);
        let loader: &DataLoader<Loaders> = ctx.data()?;
        let reviews = loader
            .load_one(ReviewsByProduct(self.0.id, first))
            .await
            .map_err(|error| super::error::to_graphql(&error))?
            .unwrap_or_default();
        Ok(reviews.into_iter().map(Review).collect())
    }
}

pub struct Review(pub ReviewModel);

#[Object]
impl Review {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn product_id(&self) -> ID {
        id(self.0.product_id)
    }
    async fn rating(&self) -> i16 {
        self.0.rating
    }
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    async fn author(&self) -> Author {
        Author::from(&self.0.author)
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
}

pub struct Order(pub OrderModel);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    async fn total(&self) -> Money {
        Money(self.0.total)
    }
    async fn customer_id(&self) -> ID {
        id(self.0.customer_id)
    }
    async fn items(&self) -> Vec<OrderItem> {
        self.0.items.iter().cloned().map(OrderItem).collect()
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        time(self.0.updated_at)
    }
}

pub struct OrderItem(pub OrderItemModel);

#[Object]
impl OrderItem {
    async fn product_id(&self) -> ID {
        id(self.0.product_id)
    }
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
    async fn price(&self) -> Money {
        Money(self.0.price)
    }
    /// The product as it is now (archived ones included), loaded for every item of the response
    /// in one statement.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let loader: &DataLoader<Loaders> = ctx.data()?;
        Ok(loader
            .load_one(ProductsById(self.0.product_id))
            .await
            .map_err(|error| super::error::to_graphql(&error))?
            .map(Product))
    }
}

pub struct Post(pub PostModel);

#[Object]
impl Post {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn published(&self) -> bool {
        self.0.published
    }
    async fn published_at(&self) -> Option<DateTime> {
        self.0.published_at.map(time)
    }
    async fn author(&self) -> Author {
        Author::from(&self.0.author)
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn comment_count(&self) -> u64 {
        self.0.comment_count
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        time(self.0.updated_at)
    }
    /// The first comments, oldest first (1 to 100, default 10), loaded for every post of the
    /// response in one statement.
    #[graphql(complexity = "first.unwrap_or(10).clamp(1, 100) as usize * child_complexity")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Comment>> {
        let first = u64::try_from(first.unwrap_or(10)).unwrap_or(10);
        let loader: &DataLoader<Loaders> = ctx.data()?;
        let comments = loader
            .load_one(CommentsByPost(self.0.id, first))
            .await
            .map_err(|error| super::error::to_graphql(&error))?
            .unwrap_or_default();
        Ok(comments.into_iter().map(Comment).collect())
    }
}

pub struct Comment(pub CommentModel);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn post_id(&self) -> ID {
        id(self.0.post_id)
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn author(&self) -> Author {
        Author::from(&self.0.author)
    }
    async fn created_at(&self) -> DateTime {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        time(self.0.updated_at)
    }
}

#[derive(SimpleObject)]
pub struct Pagination {
    page: u64,
    limit: u64,
    total: u64,
    total_pages: u64,
}

impl From<domain::Pagination> for Pagination {
    fn from(p: domain::Pagination) -> Self {
        Pagination {
            page: p.page,
            limit: p.limit,
            total: p.total,
            total_pages: p.total_pages,
        }
    }
}

/// An offset page of users.
#[derive(SimpleObject)]
pub struct UserPage {
    pub items: Vec<User>,
    pub pagination: Pagination,
}

#[derive(SimpleObject)]
pub struct PostPage {
    pub items: Vec<Post>,
    pub pagination: Pagination,
}

#[derive(SimpleObject)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub pagination: Pagination,
}

/// A Relay connection of products, newest first.
#[derive(SimpleObject)]
pub struct ProductConnection {
    pub edges: Vec<ProductEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct ProductEdge {
    /// Pass it as `after` for the products that follow this one.
    pub cursor: String,
    pub node: Product,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// The last edge's cursor; `null` on an empty page.
    pub end_cursor: Option<String>,
}

impl ProductConnection {
    pub fn new(products: Vec<ProductModel>, next: Option<Cursor>) -> Self {
        let edges: Vec<ProductEdge> = products
            .into_iter()
            .map(|product| ProductEdge {
                cursor: Cursor {
                    created_at: product.created_at,
                    id: product.id.0,
                }
                .encode(),
                node: Product(product),
            })
            .collect();
        ProductConnection {
            page_info: PageInfo {
                has_next_page: next.is_some(),
                end_cursor: edges.last().map(|edge| edge.cursor.clone()),
            },
            edges,
        }
    }
}

#[derive(SimpleObject)]
pub struct Session {
    pub user: User,
    pub token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(SimpleObject)]
pub struct Tokens {
    pub token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// An id argument as the domain's typed id, or the same 404 REST gives one that does not parse.
pub fn parse_id<T>(
    raw: &ID,
    parse: impl FnOnce(&str) -> Result<T, domain::Invalid>,
    what: &'static str,
) -> async_graphql::Result<T> {
    parse(raw.as_str())
        .map_err(|_| AppError::NotFound(what))
        .gql()
}
