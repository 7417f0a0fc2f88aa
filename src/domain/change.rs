//! What a committed write changed in the catalog, as the caches need to know it: which
//! products' own reads are stale. Every catalog write also changes what some list, search or
//! category count shows, so every change makes those stale too.

use serde::{Deserialize, Serialize};

use super::ProductId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CatalogChange {
    /// These products (none: a new product or category) and every list.
    Products(Vec<ProductId>),
    /// Every read: a category was renamed or deleted, and products show its name.
    Everything,
}

impl CatalogChange {
    pub fn product(id: ProductId) -> Self {
        CatalogChange::Products(vec![id])
    }
}
