//! Categories: admin-managed, unique by name (and so by slug), with a count of their visible
//! products.

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, Db};
use crate::domain::{Actor, CatalogChange, CategoryId, Invalid, Slug, bounded_text};
use crate::error::AppError;
use crate::services::admin_only;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub slug: String,
    /// Products in the category that are not archived.
    pub product_count: u64,
}

const NAME_MAX_CHARS: usize = 100;

/// A category name, and the slug made from it.
#[derive(Debug, Clone)]
pub struct CategoryName {
    name: String,
    slug: Slug,
}

impl CategoryName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = bounded_text(raw, NAME_MAX_CHARS)?;
        let slug = Slug::from_text(&name)
            .ok_or_else(|| Invalid::new("must contain a letter or a digit"))?;
        Ok(CategoryName { name, slug })
    }
}

/// `product_count` is kept by triggers (migration 8): counting a category's products took
/// seconds at a million products.
const SELECT: &str = "SELECT c.id, c.name, c.slug, c.product_count FROM categories c";

fn from_row(row: &QueryResult) -> Result<Category, DbErr> {
    Ok(Category {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        slug: row.try_get("", "slug")?,
        product_count: u64::try_from(row.try_get::<i64>("", "product_count")?).unwrap_or(0),
    })
}

/// Every category, by name.
pub async fn list(db: &Db) -> Result<Vec<Category>, AppError> {
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &format!("{SELECT} ORDER BY c.name"), []))
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

pub async fn get(db: &Db, id: CategoryId) -> Result<Category, AppError> {
    find(db.read(), id).await
}

async fn find(db: &impl ConnectionTrait, id: CategoryId) -> Result<Category, AppError> {
    let row = db
        .query_one_raw(db::sql(
            db,
            &format!("{SELECT} WHERE c.id = $1"),
            [id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("Category"))?;
    Ok(from_row(&row)?)
}

fn conflict(error: DbErr) -> AppError {
    if db::is_unique_violation(&error) {
        AppError::Conflict("A category with this name already exists".into())
    } else {
        error.into()
    }
}

/// Admins only.
pub async fn create(db: &Db, actor: &Actor, name: CategoryName) -> Result<Category, AppError> {
    admin_only(actor)?;
    let id = CategoryId::generate();
    let now = db::now();
    db.write()
        .execute_raw(db::sql(
            db.read(),
            "INSERT INTO categories (id, name, slug, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
            [
                id.into(),
                name.name.into(),
                name.slug.as_str().into(),
                Value::from(now),
            ],
        ))
        .await
        .map_err(conflict)?;
    db.wake().catalog(CatalogChange::Products(Vec::new())).await;
    find(db.read(), id).await
}

/// Admins only.
pub async fn rename(
    db: &Db,
    actor: &Actor,
    id: CategoryId,
    name: CategoryName,
) -> Result<Category, AppError> {
    admin_only(actor)?;
    let updated = db
        .write()
        .execute_raw(db::sql(
            db.read(),
            "UPDATE categories SET name = $1, slug = $2, updated_at = $3 WHERE id = $4",
            [
                name.name.into(),
                name.slug.as_str().into(),
                Value::from(db::now()),
                id.into(),
            ],
        ))
        .await
        .map_err(conflict)?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound("Category"));
    }
    db.wake().catalog(CatalogChange::Everything).await;
    find(db.read(), id).await
}

/// Deletes the category; its products stay, without a category.
pub async fn delete(db: &Db, actor: &Actor, id: CategoryId) -> Result<(), AppError> {
    admin_only(actor)?;
    let deleted = db
        .write()
        .execute_raw(db::sql(
            db.read(),
            "DELETE FROM categories WHERE id = $1",
            [id.into()],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound("Category"));
    }
    db.wake().catalog(CatalogChange::Everything).await;
    Ok(())
}
