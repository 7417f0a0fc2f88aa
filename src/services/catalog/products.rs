//! Products: reads in one round trip each (category and review aggregates included), keyset
//! pagination, full-text search, admin writes, all-or-nothing batch price changes, and
//! archiving instead of deleting what orders refer to.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::db::{self, Db, Params, money, outbox, search};
use crate::domain::{
    Actor, CatalogChange, CategoryId, Cursor, DomainEvent, FieldError, Input, Invalid, Lines,
    Money, Patch, ProductId, Validation, bounded_text, non_blank, optional,
};
use crate::error::AppError;
use crate::services::admin_only;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: Option<String>,
    pub price: Money,
    /// Units in stock.
    pub in_stock: i32,
    /// Archived products are hidden from lists and search but still shown on orders.
    pub archived: bool,
    pub category: Option<CategoryRef>,
    /// Mean rating rounded to two places; `null` without reviews.
    pub average_rating: Option<f64>,
    pub review_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryRef {
    pub id: CategoryId,
    pub name: String,
}

/// The product columns with the category's name. Review aggregates are columns of the product
/// row, kept by triggers, so a page of any size is one statement with no per-row subqueries.
const COLUMNS: &str = "p.id, p.name, p.description, p.price, p.in_stock, p.archived, \
    p.category_id, c.name AS category_name, p.created_at, p.updated_at, \
    p.review_count, p.rating_total";
const FROM: &str = "FROM products p LEFT JOIN categories c ON c.id = p.category_id";

fn from_row(row: &QueryResult, backend: DbBackend) -> Result<Product, DbErr> {
    let review_count: i32 = row.try_get("", "review_count")?;
    let rating_total: i32 = row.try_get("", "rating_total")?;
    let average_rating = (review_count > 0).then(|| {
        (Decimal::from(rating_total) / Decimal::from(review_count))
            .round_dp(2)
            .to_f64()
            .unwrap_or_default()
    });
    let category = match row.try_get::<Option<CategoryId>>("", "category_id")? {
        Some(id) => Some(CategoryRef {
            id,
            name: row.try_get("", "category_name")?,
        }),
        None => None,
    };
    Ok(Product {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        description: row.try_get("", "description")?,
        price: money::read(row, "price", backend)?,
        in_stock: row.try_get("", "in_stock")?,
        archived: row.try_get("", "archived")?,
        category,
        average_rating,
        review_count: u64::try_from(review_count).unwrap_or(0),
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

async fn query(
    db: &impl ConnectionTrait,
    sql: &str,
    params: Params,
) -> Result<Vec<Product>, AppError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(db::sql(db, sql, params.into_values()))
        .await?;
    Ok(rows
        .iter()
        .map(|row| from_row(row, backend))
        .collect::<Result<_, _>>()?)
}

/// One product, archived or not (orders link to archived ones).
pub async fn get(db: &Db, id: ProductId) -> Result<Product, AppError> {
    find(db.read(), id).await
}

/// [`get`], on any connection (a transaction's, to read what it wrote).
async fn find(db: &impl ConnectionTrait, id: ProductId) -> Result<Product, AppError> {
    let mut params = Params::default();
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE p.id = {}", params.push(id));
    query(db, &sql, params)
        .await?
        .pop()
        .ok_or(AppError::NotFound("Product"))
}

/// The filters shared by the list and search.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub category: Option<CategoryId>,
    /// Inclusive.
    pub min_price: Option<Money>,
    /// Inclusive.
    pub max_price: Option<Money>,
    /// `true`: with stock; `false`: without.
    pub in_stock: Option<bool>,
}

impl ProductFilter {
    /// `None` when any filter is invalid; the reasons are in `v`.
    pub fn parse(
        v: &mut Validation,
        category: Option<&str>,
        min_price: Option<&str>,
        max_price: Option<&str>,
        in_stock: Option<&str>,
    ) -> Option<Self> {
        let category = v.field(
            "categoryId",
            non_blank(category).map(CategoryId::parse).transpose(),
        );
        let min_price = v.field(
            "minPrice",
            non_blank(min_price).map(Money::parse).transpose(),
        );
        let max_price = v.field(
            "maxPrice",
            non_blank(max_price).map(Money::parse).transpose(),
        );
        let in_stock = v.field(
            "inStock",
            non_blank(in_stock)
                .map(|raw| match raw {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(Invalid::new("must be true or false")),
                })
                .transpose(),
        );
        if let (Some(Some(min)), Some(Some(max))) = (min_price, max_price)
            && min > max
        {
            v.fail("minPrice", "must not be greater than maxPrice");
            return None;
        }
        Some(ProductFilter {
            category: category?,
            min_price: min_price?,
            max_price: max_price?,
            in_stock: in_stock?,
        })
    }

    /// The conditions for visible products matching the filters.
    fn conditions(&self, backend: DbBackend, params: &mut Params) -> Vec<String> {
        let mut conditions = vec!["NOT p.archived".to_owned()];
        if let Some(category) = self.category {
            conditions.push(format!("p.category_id = {}", params.push(category)));
        }
        // SQLite keeps no histograms, so it takes any price range or `in_stock > 0` for a
        // narrow one and reads it through the price or stock index, sorting every match for
        // the page: at a million products a category's 10-100 range is 30,000 rows (75 ms a
        // page), and the products in stock are 950,000. The unary `+` keeps those columns
        // out of its choice of index, so the (category, created_at) or (created_at) index
        // gives the order and the page stops after its rows. PostgreSQL weighs the filters
        // with its statistics and picks those indexes itself.
        let (price, stock) = match backend {
            DbBackend::Sqlite => ("+p.price", "+p.in_stock"),
            _ => ("p.price", "p.in_stock"),
        };
        if let Some(min) = self.min_price {
            conditions.push(format!(
                "{price} >= {}",
                params.push(money::to_value(backend, min))
            ));
        }
        if let Some(max) = self.max_price {
            conditions.push(format!(
                "{price} <= {}",
                params.push(money::to_value(backend, max))
            ));
        }
        match self.in_stock {
            Some(true) => conditions.push(format!("{stock} > 0")),
            Some(false) => conditions.push(format!("{stock} = 0")),
            None => {}
        }
        conditions
    }
}

/// A page of the newest visible products after `after`, and the cursor of the next page.
pub async fn list(
    db: &Db,
    filter: &ProductFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<(Vec<Product>, Option<Cursor>), AppError> {
    let mut params = Params::default();
    let mut conditions = filter.conditions(db.backend(), &mut params);
    if let Some(after) = after {
        conditions.push(format!(
            "(p.created_at, p.id) < ({}, {})",
            params.push(after.created_at),
            params.push(after.id)
        ));
    }
    // One more row than asked tells whether there is a next page.
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY p.created_at DESC, p.id DESC LIMIT {}",
        conditions.join(" AND "),
        params.push(i64::try_from(limit + 1).unwrap_or(i64::MAX)),
    );
    let mut products = query(db.read(), &sql, params).await?;
    let next = if products.len() as u64 > limit {
        products.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        products.last().map(|last| Cursor {
            created_at: last.created_at,
            id: last.id.0,
        })
    } else {
        None
    };
    Ok((products, next))
}

/// The `q` of a search: 1 to 200 characters of single-line text.
pub fn search_text(raw: Option<&str>) -> Result<String, Invalid> {
    bounded_text(raw.unwrap_or_default(), 200)
}

/// Visible products matching every word of `text`, best match first.
pub async fn search(
    db: &Db,
    text: &str,
    filter: &ProductFilter,
    limit: u64,
) -> Result<Vec<Product>, AppError> {
    let mut params = Params::default();
    let conditions = filter.conditions(db.backend(), &mut params);
    let select = search::Select {
        columns: COLUMNS,
        conditions: &conditions,
        limit,
    };
    let Some(sql) = search::statement(db.backend(), text, &select, &mut params) else {
        return Ok(Vec::new());
    };
    query(db.read(), &sql, params).await
}

const NAME_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 10_000;
/// The most stock an admin may set. Below `i32::MAX`, so that units returned by cancelled
/// orders always fit the column.
pub const MAX_STOCK: i64 = 1_000_000_000;

/// Stock as sent: a whole number from 0 to [`MAX_STOCK`].
fn stock(value: i64) -> Result<i32, Invalid> {
    i32::try_from(value)
        .ok()
        .filter(|n| (0..=MAX_STOCK).contains(&i64::from(*n)))
        .ok_or_else(|| Invalid::new(format!("must be a whole number from 0 to {MAX_STOCK}")))
}

/// `POST /products`, checked.
#[derive(Debug)]
pub struct NewProduct {
    pub name: String,
    pub description: Option<String>,
    pub price: Money,
    pub in_stock: i32,
    pub category: Option<CategoryId>,
}

impl NewProduct {
    pub fn parse(
        name: Input<&str>,
        description: Input<&str>,
        price: Input<&RawValue>,
        in_stock: Input<i64>,
        category: Input<&str>,
    ) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let name = v.required("name", name, |name| bounded_text(name, NAME_MAX_CHARS));
        let description = v.optional("description", description, |text| {
            optional(Some(text), DESCRIPTION_MAX_CHARS, Lines::Multi)
        });
        let price = v.required("price", price, Money::parse_json);
        let in_stock = v.optional("inStock", in_stock, stock);
        let category = v.optional("categoryId", category, |raw| {
            non_blank(Some(raw)).map(CategoryId::parse).transpose()
        });
        let parsed = match (name, description, price, in_stock, category) {
            (Some(name), Some(description), Some(price), Some(in_stock), Some(category)) => {
                Some(NewProduct {
                    name,
                    description: description.flatten(),
                    price,
                    in_stock: in_stock.unwrap_or(0),
                    category: category.flatten(),
                })
            }
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// A category id that names no category is the client's mistake, named like any bad field.
fn unknown_category(error: DbErr) -> AppError {
    if db::is_foreign_key_violation(&error) {
        AppError::Validation(vec![FieldError::new(
            "categoryId",
            "does not name a category",
        )])
    } else {
        error.into()
    }
}

/// Admins only.
pub async fn create(db: &Db, actor: &Actor, new: NewProduct) -> Result<Product, AppError> {
    admin_only(actor)?;
    let id = ProductId::generate();
    let now = db::now();
    let backend = db.backend();
    db.write()
        .execute_raw(db::sql(
            db.read(),
            "INSERT INTO products \
           (id, name, description, price, in_stock, archived, category_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, false, $6, $7, $7)",
            [
                id.into(),
                new.name.into(),
                new.description.into(),
                money::to_value(backend, new.price),
                new.in_stock.into(),
                new.category.into(),
                Value::from(now),
            ],
        ))
        .await
        .map_err(unknown_category)?;
    db.wake().catalog(CatalogChange::Products(Vec::new())).await;
    find(db.read(), id).await
}

/// `PATCH /products/{id}`: fields left out are unchanged; `description` and `categoryId` may
/// be `null` to clear them.
#[derive(Debug, Default)]
pub struct ProductUpdate {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub price: Option<Money>,
    pub in_stock: Option<i32>,
    pub category: Patch<CategoryId>,
}

impl ProductUpdate {
    pub fn parse(
        name: Input<&str>,
        description: Result<Patch<String>, Invalid>,
        price: Input<&RawValue>,
        in_stock: Input<i64>,
        category: Result<Patch<String>, Invalid>,
    ) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let name = v.optional("name", name, |name| bounded_text(name, NAME_MAX_CHARS));
        let description = v.field(
            "description",
            description.and_then(|description| {
                description
                    .parse_text(|text| optional(Some(text), DESCRIPTION_MAX_CHARS, Lines::Multi))
            }),
        );
        let price = v.optional("price", price, Money::parse_json);
        let in_stock = v.optional("inStock", in_stock, stock);
        let category = v.field(
            "categoryId",
            category.and_then(|category| category.try_map(|raw| CategoryId::parse(&raw))),
        );
        let parsed = match (name, description, price, in_stock, category) {
            (Some(name), Some(description), Some(price), Some(in_stock), Some(category)) => {
                Some(ProductUpdate {
                    name,
                    description,
                    price,
                    in_stock,
                    category,
                })
            }
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// Admins only.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: ProductId,
    update: ProductUpdate,
) -> Result<Product, AppError> {
    admin_only(actor)?;
    let backend = db.backend();
    let mut params = Params::default();
    let mut sets = vec![format!("updated_at = {}", params.push(db::now()))];
    if let Some(name) = update.name {
        sets.push(format!("name = {}", params.push(name)));
    }
    if let Some(description) = update.description.into_update() {
        sets.push(format!("description = {}", params.push(description)));
    }
    if let Some(price) = update.price {
        sets.push(format!(
            "price = {}",
            params.push(money::to_value(backend, price))
        ));
    }
    if let Some(in_stock) = update.in_stock {
        sets.push(format!("in_stock = {}", params.push(in_stock)));
    }
    if let Some(category) = update.category.into_update() {
        sets.push(format!("category_id = {}", params.push(category)));
    }
    let sql = format!(
        "UPDATE products SET {} WHERE id = {}",
        sets.join(", "),
        params.push(id)
    );
    // One transaction: the price read for the event is the one this update replaces.
    let txn = db.begin_write().await?;
    let old_price = match update.price {
        Some(_) => Some(
            price_for_update(&txn, id, false)
                .await?
                .ok_or(AppError::NotFound("Product"))?,
        ),
        None => None,
    };
    let updated = txn
        .execute_raw(db::sql(&txn, &sql, params.into_values()))
        .await
        .map_err(unknown_category)?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound("Product"));
    }
    let changed = price_changed(&txn, id, old_price, update.price).await?;
    let product = find(&txn, id).await?;
    txn.commit().await?;
    db.wake().catalog(CatalogChange::product(id)).await;
    if changed {
        db.wake().outbox();
    }
    Ok(product)
}

/// The product's price, its row locked until the transaction ends (on PostgreSQL; SQLite's
/// write transaction holds the whole database). `visible_only` leaves archived ones out.
async fn price_for_update(
    txn: &impl ConnectionTrait,
    id: ProductId,
    visible_only: bool,
) -> Result<Option<Money>, AppError> {
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT price FROM products WHERE id = $1{}{}",
        if visible_only {
            " AND NOT archived"
        } else {
            ""
        },
        db::for_update(backend),
    );
    let row = txn.query_one_raw(db::sql(txn, &sql, [id.into()])).await?;
    Ok(row
        .map(|row| money::read(&row, "price", backend))
        .transpose()?)
}

/// Appends `product.price_changed` when the price really changed; whether it did.
async fn price_changed(
    txn: &impl ConnectionTrait,
    id: ProductId,
    old: Option<Money>,
    new: Option<Money>,
) -> Result<bool, AppError> {
    match (old, new) {
        (Some(old_price), Some(new_price)) if old_price != new_price => {
            outbox::append(
                txn,
                DomainEvent::ProductPriceChanged {
                    product_id: id,
                    old_price,
                    new_price,
                },
            )
            .await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// What `DELETE /products/{id}` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    /// The product is in orders, which must keep showing it.
    Archived,
}

/// Deletes the product, or archives it when an order contains it; one statement each, so an
/// order placed meanwhile cannot leave a dangling item (the foreign key would refuse).
pub async fn delete(db: &Db, actor: &Actor, id: ProductId) -> Result<Removal, AppError> {
    admin_only(actor)?;
    let txn = db.begin_write().await?;
    let deleted = txn
        .execute_raw(db::sql(
            &txn,
            "DELETE FROM products WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM order_items WHERE product_id = $1)",
            [id.into()],
        ))
        .await?;
    if deleted.rows_affected() == 1 {
        txn.commit().await?;
        db.wake().catalog(CatalogChange::product(id)).await;
        return Ok(Removal::Deleted);
    }
    let archived = txn
        .execute_raw(db::sql(
            &txn,
            "UPDATE products SET archived = true, updated_at = $2 WHERE id = $1",
            [id.into(), Value::from(db::now())],
        ))
        .await?;
    if archived.rows_affected() == 0 {
        return Err(AppError::NotFound("Product"));
    }
    txn.commit().await?;
    db.wake().catalog(CatalogChange::product(id)).await;
    Ok(Removal::Archived)
}

/// At most this many prices change in one request.
pub const MAX_PRICE_UPDATES: usize = 1000;

/// `PATCH /products/prices`, checked: distinct ids, valid prices.
#[derive(Debug)]
pub struct PriceChanges(Vec<(ProductId, Money)>);

/// One entry of a price batch as sent.
#[derive(Debug)]
pub struct PriceChangeInput<'a> {
    pub id: Input<&'a str>,
    pub price: Input<&'a RawValue>,
}

impl PriceChanges {
    pub fn parse(updates: Input<Vec<Input<PriceChangeInput<'_>>>>) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let Some(updates) = v.required("updates", updates, |updates| {
            if updates.is_empty() || updates.len() > MAX_PRICE_UPDATES {
                return Err(Invalid::new(format!(
                    "must list 1 to {MAX_PRICE_UPDATES} price changes"
                )));
            }
            Ok(updates)
        }) else {
            return Err(v.into());
        };
        let mut changes = Vec::with_capacity(updates.len());
        let mut seen = std::collections::HashSet::new();
        for (i, update) in updates.into_iter().enumerate() {
            let Some(update) = v.required(&format!("updates[{i}]"), update, Ok) else {
                continue;
            };
            let id = v.required(&format!("updates[{i}].id"), update.id, ProductId::parse);
            let price = v.required(
                &format!("updates[{i}].price"),
                update.price,
                Money::parse_json,
            );
            if let Some(id) = id
                && !seen.insert(id)
            {
                v.fail(&format!("updates[{i}].id"), "appears more than once");
            }
            if let (Some(id), Some(price)) = (id, price) {
                changes.push((id, price));
            }
        }
        Ok(v.finish(Some(PriceChanges(changes)))?)
    }
}

/// Sets every price in one transaction: if any id names no visible product, nothing changes
/// and the answer names each such id.
pub async fn change_prices(
    db: &Db,
    actor: &Actor,
    changes: PriceChanges,
) -> Result<Vec<Product>, AppError> {
    admin_only(actor)?;
    let backend = db.backend();
    let now = db::now();
    let txn = db.begin_write().await?;
    let mut unknown = Vec::new();
    // Rows are locked in id order, so two overlapping batches cannot deadlock on PostgreSQL.
    let mut order: Vec<usize> = (0..changes.0.len()).collect();
    order.sort_by_key(|&i| changes.0[i].0);
    let mut changed = false;
    for i in order {
        let (id, price) = changes.0[i];
        let Some(old_price) = price_for_update(&txn, id, true).await? else {
            unknown.push((
                i,
                FieldError::new(format!("updates[{i}].id"), "does not name a product"),
            ));
            continue;
        };
        txn.execute_raw(db::sql(
            &txn,
            "UPDATE products SET price = $1, updated_at = $2 WHERE id = $3",
            [money::to_value(backend, price), Value::from(now), id.into()],
        ))
        .await?;
        changed |= price_changed(&txn, id, Some(old_price), Some(price)).await?;
    }
    if !unknown.is_empty() {
        unknown.sort_by_key(|(i, _)| *i);
        // Dropping the transaction rolls every change back.
        return Err(AppError::Validation(
            unknown.into_iter().map(|(_, error)| error).collect(),
        ));
    }
    let ids: Vec<ProductId> = changes.0.iter().map(|(id, _)| *id).collect();
    let products = get_many(&txn, &ids).await?;
    txn.commit().await?;
    db.wake().catalog(CatalogChange::Products(ids)).await;
    if changed {
        db.wake().outbox();
    }
    Ok(products)
}

/// The products with these ids, archived ones included (orders show them), in one statement
/// whatever their number; for batched readers such as GraphQL's.
pub async fn by_ids(db: &Db, ids: &[ProductId]) -> Result<Vec<Product>, AppError> {
    get_many(db.read(), ids).await
}

/// The products with these ids, in the order given (missing ones left out).
async fn get_many(db: &impl ConnectionTrait, ids: &[ProductId]) -> Result<Vec<Product>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params = Params::default();
    let placeholders: Vec<String> = ids.iter().map(|id| params.push(*id)).collect();
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE p.id IN ({})",
        placeholders.join(", ")
    );
    let mut found: std::collections::HashMap<ProductId, Product> = query(db, &sql, params)
        .await?
        .into_iter()
        .map(|product| (product.id, product))
        .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}
