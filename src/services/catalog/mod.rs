//! The catalog: categories, products (with search and batch price changes) and reviews.

pub mod categories;
pub mod products;
pub mod reviews;

pub use categories::Category;
pub use products::Product;
pub use reviews::Review;
