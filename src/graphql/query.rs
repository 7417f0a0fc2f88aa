//! The query root: each field parses its arguments with the services' own parse functions and
//! makes one service call, so the answers, rules and errors are those of the REST routes.

use async_graphql::{Context, ID, Object};

use super::error::OrGraphql;
use super::types::{
    Category, Order, OrderPage, OrderStatus, Post, PostPage, Product, ProductConnection, Role,
    User, UserPage, parse_id,
};
use super::{actor, checked, maybe_actor, state};
use crate::domain::{
    Cursor, DEFAULT_LIMIT, OrderId, PageRequest, ProductId, UserId, Validation, parse_limit,
};
use crate::services::blog::posts::{self, PostQuery};
use crate::services::catalog::categories;
use crate::services::catalog::products::{self, ProductFilter};
use crate::services::orders::{self, OrderQuery};
use crate::services::users::{self, UserQuery};

pub struct Query;

/// `page` and `limit` as the offset lists read them.
fn page(v: &mut Validation, page: Option<i32>, limit: Option<i32>) -> Option<PageRequest> {
    PageRequest::parse(
        v,
        page.map(|p| p.to_string()).as_deref(),
        limit.map(|l| l.to_string()).as_deref(),
        DEFAULT_LIMIT,
    )
}

/// The catalog filters of `products` and `searchProducts`, read as `GET /products` reads them.
fn product_filter(
    v: &mut Validation,
    category_id: Option<&ID>,
    min_price: Option<&str>,
    max_price: Option<&str>,
    in_stock: Option<bool>,
) -> Option<ProductFilter> {
    ProductFilter::parse(
        v,
        category_id.map(|id| id.as_str()),
        min_price,
        max_price,
        in_stock.map(|in_stock| if in_stock { "true" } else { "false" }),
    )
}

/// A list's size for the complexity budget: what it may return.
fn size(limit: Option<i32>, default: i32) -> usize {
    usize::try_from(limit.unwrap_or(default).clamp(1, 100)).unwrap_or(100)
}

#[Object]
impl Query {
    /// The caller's account.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let actor = actor(ctx)?;
        Ok(User(
            users::get(&state(ctx).db, &actor, actor.id).await.gql()?,
        ))
    }

    /// A user: admins may read anyone, users only themselves.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, UserId::parse, "User")?;
        Ok(User(users::get(&state(ctx).db, &actor, id).await.gql()?))
    }

    /// Users, newest first (admins only).
    #[graphql(complexity = "size(limit, 10) * child_complexity")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per REST query parameter"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        role: Option<Role>,
        created_after: Option<String>,
        created_before: Option<String>,
        page: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<UserPage> {
        let actor = actor(ctx)?;
        let mut v = Validation::default();
        let role = role.map(|role| crate::domain::Role::from(role).as_str());
        let filters = UserQuery::parse(
            &mut v,
            search.as_deref(),
            role,
            created_after.as_deref(),
            created_before.as_deref(),
        );
        let page = self::page(&mut v, page, limit);
        let (filters, page) = checked(v, filters.zip(page))?;
        let (found, pagination) = users::list(&state(ctx).db, &actor, filters, page)
            .await
            .gql()?;
        Ok(UserPage {
            items: found.into_iter().map(User).collect(),
            pagination: pagination.into(),
        })
    }

    /// Visible products, newest first, as a Relay connection (`first` 1 to 100, default 20).
    #[graphql(complexity = "size(first, 20) * child_complexity + 1")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per REST query parameter"
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        category_id: Option<ID>,
        min_price: Option<String>,
        max_price: Option<String>,
        in_stock: Option<bool>,
    ) -> async_graphql::Result<ProductConnection> {
        let mut v = Validation::default();
        let cursor = v.field("after", after.as_deref().map(Cursor::parse).transpose());
        let first = v.field(
            "first",
            parse_limit(first.map(|f| f.to_string()).as_deref(), 20),
        );
        let filter = product_filter(
            &mut v,
            category_id.as_ref(),
            min_price.as_deref(),
            max_price.as_deref(),
            in_stock,
        );
        let ((cursor, first), filter) = checked(v, cursor.zip(first).zip(filter))?;
        let (found, next) = products::list(&state(ctx).db, &filter, cursor, first)
            .await
            .gql()?;
        Ok(ProductConnection::new(found, next))
    }

    /// One product, archived ones included.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Product> {
        let id = parse_id(&id, ProductId::parse, "Product")?;
        Ok(Product(products::get(&state(ctx).db, id).await.gql()?))
    }

    /// Full-text search, best match first.
    #[graphql(complexity = "size(limit, 20) * child_complexity")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per REST query parameter"
    )]
    async fn search_products(
        &self,
        ctx: &Context<'_>,
        q: String,
        category_id: Option<ID>,
        min_price: Option<String>,
        max_price: Option<String>,
        in_stock: Option<bool>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<Product>> {
        let mut v = Validation::default();
        let text = v.field("q", products::search_text(Some(&q)));
        let limit = v.field(
            "limit",
            parse_limit(limit.map(|l| l.to_string()).as_deref(), 20),
        );
        let filter = product_filter(
            &mut v,
            category_id.as_ref(),
            min_price.as_deref(),
            max_price.as_deref(),
            in_stock,
        );
        let ((text, limit), filter) = checked(v, text.zip(limit).zip(filter))?;
        let found = products::search(&state(ctx).db, &text, &filter, limit)
            .await
            .gql()?;
        Ok(found.into_iter().map(Product).collect())
    }

    /// Every category, by name.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let found = categories::list(&state(ctx).db).await.gql()?;
        Ok(found.into_iter().map(Category::from).collect())
    }

    /// Published posts, newest first.
    #[graphql(complexity = "size(limit, 10) * child_complexity")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        tag: Option<String>,
        author: Option<ID>,
        page: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PostPage> {
        let mut v = Validation::default();
        let filters = PostQuery::parse(
            &mut v,
            tag.as_deref(),
            author.as_ref().map(|id| id.as_str()),
        );
        let page = self::page(&mut v, page, limit);
        let (filters, page) = checked(v, filters.zip(page))?;
        let (found, pagination) = posts::list(&state(ctx).db, &filters, page).await.gql()?;
        Ok(PostPage {
            items: found.into_iter().map(Post).collect(),
            pagination: pagination.into(),
        })
    }

    /// A post; drafts only for their author, moderators and admins.
    async fn post(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Post> {
        let actor = maybe_actor(ctx);
        Ok(Post(
            posts::get(&state(ctx).db, actor.as_ref(), &slug)
                .await
                .gql()?,
        ))
    }

    /// The caller's orders, newest first; admins see everyone's.
    #[graphql(complexity = "size(limit, 10) * child_complexity")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        status: Option<OrderStatus>,
        customer_id: Option<ID>,
        page: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<OrderPage> {
        let actor = actor(ctx)?;
        let mut v = Validation::default();
        let status = status.map(|status| crate::domain::OrderStatus::from(status).as_str());
        let filters = OrderQuery::parse(&mut v, status, customer_id.as_ref().map(|id| id.as_str()));
        let page = self::page(&mut v, page, limit);
        let (filters, page) = checked(v, filters.zip(page))?;
        let (found, pagination) = orders::list(&state(ctx).db, &actor, filters, page)
            .await
            .gql()?;
        Ok(OrderPage {
            items: found.into_iter().map(Order).collect(),
            pagination: pagination.into(),
        })
    }

    /// One order: the owner's, or for an admin anyone's; anyone else gets `NOT_FOUND`.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, OrderId::parse, "Order")?;
        Ok(Order(orders::get(&state(ctx).db, &actor, id).await.gql()?))
    }
}
