//! DataLoaders, one set per request (a loader shared between requests would hand one user's
//! rows to another): every nested reference or list of a response is loaded in one statement
//! per kind, whatever the page size, by batch functions of the services — so the rules of what
//! may be seen stay written once.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::db::Db;
use crate::domain::{PostId, ProductId};
use crate::error::AppError;
use crate::services::blog::{Comment, comments};
use crate::services::catalog::{Product, Review, products, reviews};

pub struct Loaders {
    pub db: Db,
}

/// A product by id (archived ones too: orders show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductsById(pub ProductId);

/// A product's newest reviews, at most this many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReviewsByProduct(pub ProductId, pub u64);

/// A post's first comments, at most this many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentsByPost(pub PostId, pub u64);

impl Loader<ProductsById> for Loaders {
    type Value = Product;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[ProductsById],
    ) -> Result<HashMap<ProductsById, Product>, Self::Error> {
        let ids: Vec<ProductId> = keys.iter().map(|key| key.0).collect();
        let found = products::by_ids(&self.db, &ids).await.map_err(Arc::new)?;
        Ok(found
            .into_iter()
            .map(|product| (ProductsById(product.id), product))
            .collect())
    }
}

impl Loader<ReviewsByProduct> for Loaders {
    type Value = Vec<Review>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[ReviewsByProduct],
    ) -> Result<HashMap<ReviewsByProduct, Vec<Review>>, Self::Error> {
        let ids: Vec<ProductId> = keys.iter().map(|key| key.0).collect();
        let most = keys.iter().map(|key| key.1).max().unwrap_or(0);
        let by_product = reviews::latest_for(&self.db, &ids, most)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|key| {
                let mut reviews = by_product.get(&key.0).cloned().unwrap_or_default();
                reviews.truncate(usize::try_from(key.1).unwrap_or(usize::MAX));
                (*key, reviews)
            })
            .collect())
    }
}

impl Loader<CommentsByPost> for Loaders {
    type Value = Vec<Comment>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[CommentsByPost],
    ) -> Result<HashMap<CommentsByPost, Vec<Comment>>, Self::Error> {
        let ids: Vec<PostId> = keys.iter().map(|key| key.0).collect();
        let most = keys.iter().map(|key| key.1).max().unwrap_or(0);
        let by_post = comments::first_for(&self.db, &ids, most)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|key| {
                let mut comments = by_post.get(&key.0).cloned().unwrap_or_default();
                comments.truncate(usize::try_from(key.1).unwrap_or(usize::MAX));
                (*key, comments)
            })
            .collect())
    }
}
