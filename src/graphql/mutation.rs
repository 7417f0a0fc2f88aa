//! The mutation root: the same commands, parsed by the same functions, as the REST routes.

use async_graphql::{Context, ID, InputObject, Object};
use serde_json::value::RawValue;

use super::error::{OrGraphql, to_graphql};
use super::types::{
    Comment, Order, OrderStatus, Post, Product, Review, Session, Tokens, User, parse_id,
};
use super::{actor, state};
use crate::domain::{OrderId, ProductId};
use crate::error::AppError;
use crate::services::accounts::{self, Login, Register};
use crate::services::blog::{comments, posts};
use crate::services::catalog::products::{self, NewProduct, PriceChangeInput, PriceChanges};
use crate::services::catalog::reviews::{self, NewReview};
use crate::services::orders::{self, IdempotencyKey, OrderLine, PlaceOrder, Placement};

pub struct Mutation;

#[derive(InputObject)]
pub struct RegisterInput {
    email: String,
    password: String,
    name: Option<String>,
    avatar: Option<String>,
}

#[derive(InputObject)]
pub struct CreateProductInput {
    name: String,
    description: Option<String>,
    /// A decimal string such as `"19.99"`.
    price: String,
    in_stock: Option<i32>,
    category_id: Option<ID>,
}

#[derive(InputObject)]
pub struct PriceUpdateInput {
    id: ID,
    /// A decimal string such as `"19.99"`.
    price: String,
}

#[derive(InputObject)]
pub struct OrderLineInput {
    product_id: ID,
    quantity: i32,
}

#[derive(InputObject)]
pub struct CreatePostInput {
    title: String,
    content: String,
    tags: Option<Vec<String>>,
    published: Option<bool>,
}

/// A money string as the JSON text the shared parser reads.
fn money_text(price: &str) -> async_graphql::Result<Box<RawValue>> {
    serde_json::to_string(price)
        .ok()
        .and_then(|json| RawValue::from_string(json).ok())
        .ok_or_else(|| to_graphql(&AppError::Internal(anyhow::anyhow!("a string serialises"))))
}

#[Object]
impl Mutation {
    /// Register a USER; a welcome mail is queued.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<User> {
        let cmd = Register::parse(
            Ok(Some(&input.email)),
            Ok(Some(input.password)),
            Ok(input.name.as_deref()),
            Ok(input.avatar.as_deref()),
        )
        .gql()?;
        let state = state(ctx);
        Ok(User(
            accounts::register(&state.db, &state.auth, cmd)
                .await
                .gql()?,
        ))
    }

    /// Log in: the same lockout and the same answer for a wrong email as for a wrong password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<Session> {
        let cmd = Login::parse(Ok(Some(email)), Ok(Some(password.into()))).gql()?;
        let state = state(ctx);
        let session = accounts::login(&state.db, &state.auth, cmd).await.gql()?;
        Ok(Session {
            user: User(session.user),
            token: session.tokens.token,
            refresh_token: session.tokens.refresh_token,
            expires_in: session.tokens.expires_in,
        })
    }

    /// Exchange a refresh token for a new pair; the old one stops working.
    async fn refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<Tokens> {
        let token = accounts::refresh_token(Ok(Some(refresh_token))).gql()?;
        let state = state(ctx);
        let tokens = accounts::refresh(&state.db, &state.auth, &token)
            .await
            .gql()?;
        Ok(Tokens {
            token: tokens.token,
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
        })
    }

    /// Create a product (admins only).
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<Product> {
        let actor = actor(ctx)?;
        let price = money_text(&input.price)?;
        let new = NewProduct::parse(
            Ok(Some(&input.name)),
            Ok(input.description.as_deref()),
            Ok(Some(&price)),
            Ok(input.in_stock.map(i64::from)),
            Ok(input.category_id.as_ref().map(|id| id.as_str())),
        )
        .gql()?;
        Ok(Product(
            products::create(&state(ctx).db, &actor, new).await.gql()?,
        ))
    }

    /// Change many prices at once, all or nothing (admins only).
    #[graphql(complexity = "updates.len() * child_complexity")]
    async fn update_prices(
        &self,
        ctx: &Context<'_>,
        updates: Vec<PriceUpdateInput>,
    ) -> async_graphql::Result<Vec<Product>> {
        let actor = actor(ctx)?;
        let prices = updates
            .iter()
            .map(|update| money_text(&update.price))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let inputs = updates
            .iter()
            .zip(&prices)
            .map(|(update, price)| {
                Ok(Some(PriceChangeInput {
                    id: Ok(Some(update.id.as_str())),
                    price: Ok(Some(price)),
                }))
            })
            .collect();
        let changes = PriceChanges::parse(Ok(Some(inputs))).gql()?;
        let changed = products::change_prices(&state(ctx).db, &actor, changes)
            .await
            .gql()?;
        Ok(changed.into_iter().map(Product).collect())
    }

    /// Place an order; with `idempotencyKey`, repeating it (over GraphQL or REST alike) answers
    /// what the first request got, without a second order.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        items: Vec<OrderLineInput>,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<Order> {
        let actor = actor(ctx)?;
        let key = match idempotency_key {
            Some(raw) => Some(
                IdempotencyKey::parse(&raw)
                    .map_err(|invalid| {
                        AppError::Validation(vec![crate::error::FieldError::new(
                            "idempotencyKey",
                            invalid.0,
                        )])
                    })
                    .gql()?,
            ),
            None => None,
        };
        let lines = items
            .iter()
            .map(|line| {
                Ok(Some(OrderLine {
                    product_id: Ok(Some(line.product_id.as_str())),
                    quantity: Ok(Some(i64::from(line.quantity))),
                }))
            })
            .collect();
        let order = PlaceOrder::parse(Ok(Some(lines))).gql()?;
        match orders::place_order(&state(ctx).db, &actor, key.as_ref(), &order)
            .await
            .gql()?
        {
            Placement::Created(order) | Placement::Replayed(order) => Ok(Order(order)),
        }
    }

    /// Cancel an order and return its stock.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, OrderId::parse, "Order")?;
        Ok(Order(
            orders::cancel(&state(ctx).db, &actor, id).await.gql()?,
        ))
    }

    /// Move an order along its life (admins only).
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: OrderStatus,
    ) -> async_graphql::Result<Order> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, OrderId::parse, "Order")?;
        Ok(Order(
            orders::change_status(&state(ctx).db, &actor, id, status.into())
                .await
                .gql()?,
        ))
    }

    /// Write a post.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> async_graphql::Result<Post> {
        let actor = actor(ctx)?;
        let tags = input
            .tags
            .as_ref()
            .map(|tags| tags.iter().map(|tag| Ok(Some(tag.as_str()))).collect());
        let post = posts::NewPost::parse(
            Ok(Some(&input.title)),
            Ok(Some(&input.content)),
            Ok(tags),
            Ok(input.published),
        )
        .gql()?;
        Ok(Post(
            posts::create(&state(ctx).db, &actor, post).await.gql()?,
        ))
    }

    /// Comment on a post you can see.
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        slug: String,
        content: String,
    ) -> async_graphql::Result<Comment> {
        let actor = actor(ctx)?;
        let content = comments::parse(Ok(Some(&content))).gql()?;
        Ok(Comment(
            comments::create(&state(ctx).db, &actor, &slug, content)
                .await
                .gql()?,
        ))
    }

    /// Review a product: one review per user and product.
    async fn add_review(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        rating: i32,
        comment: Option<String>,
    ) -> async_graphql::Result<Review> {
        let actor = actor(ctx)?;
        let product = parse_id(&product_id, ProductId::parse, "Product")?;
        let review = NewReview::parse(Ok(Some(i64::from(rating))), Ok(comment.as_deref())).gql()?;
        Ok(Review(
            reviews::create(&state(ctx).db, &actor, product, review)
                .await
                .gql()?,
        ))
    }
}
