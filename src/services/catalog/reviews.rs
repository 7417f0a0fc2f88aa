//! Reviews: one per user and product, on products that are not archived.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, Db, Params};
use crate::domain::{
    Actor, CatalogChange, Input, Invalid, Lines, PageRequest, Pagination, ProductId, ReviewId,
    Validation, optional,
};
use crate::error::AppError;
use crate::services::users::Author;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: ReviewId,
    pub product_id: ProductId,
    /// 1 to 5.
    pub rating: i16,
    pub comment: Option<String>,
    pub author: Author,
    pub created_at: DateTime<Utc>,
}

const COMMENT_MAX_CHARS: usize = 2000;

/// `POST /products/{id}/reviews`, checked.
#[derive(Debug)]
pub struct NewReview {
    pub rating: i16,
    pub comment: Option<String>,
}

impl NewReview {
    pub fn parse(rating: Input<i64>, comment: Input<&str>) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let rating = v.required("rating", rating, |rating| {
            i16::try_from(rating)
                .ok()
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| Invalid::new("must be a whole number from 1 to 5"))
        });
        let comment = v.optional("comment", comment, |text| {
            optional(Some(text), COMMENT_MAX_CHARS, Lines::Multi)
        });
        let parsed = match (rating, comment) {
            (Some(rating), Some(comment)) => Some(NewReview {
                rating,
                comment: comment.flatten(),
            }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

const SELECT: &str = "SELECT r.id, r.product_id, r.rating, r.comment, r.created_at, \
    r.user_id, u.name AS author_name \
    FROM reviews r JOIN users u ON u.id = r.user_id";

fn from_row(row: &QueryResult) -> Result<Review, DbErr> {
    Ok(Review {
        id: row.try_get("", "id")?,
        product_id: row.try_get("", "product_id")?,
        rating: row.try_get("", "rating")?,
        comment: row.try_get("", "comment")?,
        author: Author::from_row(row, "user_id")?,
        created_at: row.try_get("", "created_at")?,
    })
}

/// A product's reviews, newest first; 404 for an unknown product.
pub async fn list(
    db: &Db,
    product: ProductId,
    page: PageRequest,
) -> Result<(Vec<Review>, Pagination), AppError> {
    let total: i64 = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            "SELECT (SELECT COUNT(*) FROM reviews WHERE product_id = $1) \
             FROM products WHERE id = $1",
            [product.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("Product"))?
        .try_get_by_index(0)?;
    let mut params = Params::default();
    let sql = format!(
        "{SELECT} WHERE r.product_id = {} ORDER BY r.created_at DESC, r.id DESC {}",
        params.push(product),
        params.page(page)
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, params.into_values()))
        .await?;
    let reviews = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((
        reviews,
        Pagination::new(page, u64::try_from(total).unwrap_or(0)),
    ))
}

/// Adds the actor's review. The unique index on (product, user) decides a race between two
/// reviews of the same user: one is created, the other is a 409.
pub async fn create(
    db: &Db,
    actor: &Actor,
    product: ProductId,
    review: NewReview,
) -> Result<Review, AppError> {
    let id = ReviewId::generate();
    let inserted = db
        .write()
        .execute_raw(db::sql(
            db.read(),
            "INSERT INTO reviews (id, product_id, user_id, rating, comment, created_at) \
             SELECT $1, p.id, $3, $4, $5, $6 FROM products p WHERE p.id = $2 AND NOT p.archived",
            [
                id.into(),
                product.into(),
                actor.id.into(),
                review.rating.into(),
                review.comment.into(),
                Value::from(db::now()),
            ],
        ))
        .await;
    match inserted {
        Ok(result) if result.rows_affected() == 0 => Err(AppError::NotFound("Product")),
        Ok(_) => {
            // The product's rating and review count changed.
            db.wake().catalog(CatalogChange::product(product)).await;
            let row = db
                .read()
                .query_one_raw(db::sql(
                    db.read(),
                    &format!("{SELECT} WHERE r.id = $1"),
                    [id.into()],
                ))
                .await?
                .ok_or_else(|| anyhow::anyhow!("the review just written is missing"))?;
            Ok(from_row(&row)?)
        }
        Err(error) if db::is_unique_violation(&error) => Err(AppError::Conflict(
            "You have already reviewed this product".into(),
        )),
        Err(error) => Err(error.into()),
    }
}

/// The newest `per_product` reviews of each of these products, in one statement whatever their
/// number (for batched readers such as GraphQL's).
pub async fn latest_for(
    db: &Db,
    products: &[ProductId],
    per_product: u64,
) -> Result<std::collections::HashMap<ProductId, Vec<Review>>, AppError> {
    let mut by_product = std::collections::HashMap::new();
    if products.is_empty() {
        return Ok(by_product);
    }
    let mut params = Params::default();
    let ids: Vec<String> = products.iter().map(|id| params.push(*id)).collect();
    let sql = format!(
        "SELECT * FROM (SELECT r.id, r.product_id, r.rating, r.comment, r.created_at, \
           r.user_id, u.name AS author_name, ROW_NUMBER() OVER \
           (PARTITION BY r.product_id ORDER BY r.created_at DESC, r.id DESC) AS position \
         FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.product_id IN ({})) ranked \
         WHERE position <= {} ORDER BY product_id, position",
        ids.join(", "),
        params.push(i64::try_from(per_product).unwrap_or(i64::MAX)),
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, params.into_values()))
        .await?;
    for row in &rows {
        let review = from_row(row)?;
        by_product
            .entry(review.product_id)
            .or_insert_with(Vec::new)
            .push(review);
    }
    Ok(by_product)
}
