//! The whole relational schema: later features add behaviour, not tables.
//!
//! Money is `NUMERIC(10,2)` on PostgreSQL and integer cents on SQLite, where a `NUMERIC` column
//! would silently store binary floating point; both compare and sum exactly.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_create_schema"
    }
}

/// A money column in the representation of the connected backend.
fn money(backend: DbBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::Postgres => col.decimal_len(10, 2),
        _ => col.big_integer(),
    };
    col.not_null().to_owned()
}

fn uuid_pk(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn uuid(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().to_owned()
}

fn timestamp(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn timestamp_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for table in tables(backend) {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        // Partial indexes: sea-query renders `WHERE` for both backends.
        for index in partial_indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for table in tables(backend).into_iter().rev() {
            let name = table.get_table_name().cloned().expect("tables are named");
            manager
                .drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn tables(backend: DbBackend) -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Users::Table)
            .if_not_exists()
            .col(uuid_pk(Users::Id))
            .col(
                ColumnDef::new(Users::Email)
                    .string_len(254)
                    .not_null()
                    .unique_key(),
            )
            .col(ColumnDef::new(Users::PasswordHash).string().not_null())
            .col(ColumnDef::new(Users::Name).string_len(100).null())
            .col(ColumnDef::new(Users::Avatar).string_len(2048).null())
            .col(
                ColumnDef::new(Users::Role)
                    .string_len(16)
                    .not_null()
                    .default("USER")
                    .check(Expr::col(Users::Role).is_in(["USER", "MODERATOR", "ADMIN"])),
            )
            .col(timestamp_null(Users::DeletedAt))
            .col(timestamp(Users::CreatedAt))
            .col(timestamp(Users::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(UserProfiles::Table)
            .if_not_exists()
            .col(uuid_pk(UserProfiles::UserId))
            .col(ColumnDef::new(UserProfiles::Bio).text().null())
            .col(
                ColumnDef::new(UserProfiles::Website)
                    .string_len(2048)
                    .null(),
            )
            .col(
                ColumnDef::new(UserProfiles::Location)
                    .string_len(200)
                    .null(),
            )
            .col(ColumnDef::new(UserProfiles::DateOfBirth).date().null())
            .foreign_key(&mut fk(
                (UserProfiles::Table, UserProfiles::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(RefreshTokens::Table)
            .if_not_exists()
            .col(uuid_pk(RefreshTokens::Id))
            .col(uuid(RefreshTokens::UserId))
            .col(uuid(RefreshTokens::FamilyId))
            .col(
                ColumnDef::new(RefreshTokens::TokenHash)
                    .string_len(64)
                    .not_null()
                    .unique_key(),
            )
            .col(timestamp(RefreshTokens::ExpiresAt))
            .col(timestamp_null(RefreshTokens::RotatedAt))
            .col(timestamp_null(RefreshTokens::RevokedAt))
            .col(timestamp(RefreshTokens::CreatedAt))
            .foreign_key(&mut fk(
                (RefreshTokens::Table, RefreshTokens::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(LoginFailures::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(LoginFailures::Email)
                    .string_len(254)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(LoginFailures::Failures).integer().not_null())
            .col(timestamp(LoginFailures::WindowStartedAt))
            .to_owned(),
        Table::create()
            .table(Categories::Table)
            .if_not_exists()
            .col(uuid_pk(Categories::Id))
            .col(
                ColumnDef::new(Categories::Name)
                    .string_len(100)
                    .not_null()
                    .unique_key(),
            )
            .col(
                ColumnDef::new(Categories::Slug)
                    .string_len(120)
                    .not_null()
                    .unique_key(),
            )
            .col(timestamp(Categories::CreatedAt))
            .col(timestamp(Categories::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(Products::Table)
            .if_not_exists()
            .col(uuid_pk(Products::Id))
            .col(ColumnDef::new(Products::Name).string_len(200).not_null())
            .col(ColumnDef::new(Products::Description).text().null())
            .col(money(backend, Products::Price).check(Expr::col(Products::Price).gte(0)))
            .col(
                ColumnDef::new(Products::InStock)
                    .integer()
                    .not_null()
                    .default(0)
                    .check(Expr::col(Products::InStock).gte(0)),
            )
            .col(
                ColumnDef::new(Products::Archived)
                    .boolean()
                    .not_null()
                    .default(false),
            )
            .col(ColumnDef::new(Products::CategoryId).uuid().null())
            .col(timestamp(Products::CreatedAt))
            .col(timestamp(Products::UpdatedAt))
            .foreign_key(&mut fk(
                (Products::Table, Products::CategoryId),
                (Categories::Table, Categories::Id),
                ForeignKeyAction::SetNull,
            ))
            .to_owned(),
        Table::create()
            .table(Reviews::Table)
            .if_not_exists()
            .col(uuid_pk(Reviews::Id))
            .col(uuid(Reviews::ProductId))
            .col(uuid(Reviews::UserId))
            .col(
                ColumnDef::new(Reviews::Rating)
                    .small_integer()
                    .not_null()
                    .check(Expr::col(Reviews::Rating).between(1, 5)),
            )
            .col(ColumnDef::new(Reviews::Comment).text().null())
            .col(timestamp(Reviews::CreatedAt))
            .foreign_key(&mut fk(
                (Reviews::Table, Reviews::ProductId),
                (Products::Table, Products::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (Reviews::Table, Reviews::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .index(
                Index::create()
                    .name("uq_reviews_product_user")
                    .col(Reviews::ProductId)
                    .col(Reviews::UserId)
                    .unique(),
            )
            .to_owned(),
        Table::create()
            .table(Orders::Table)
            .if_not_exists()
            .col(uuid_pk(Orders::Id))
            .col(uuid(Orders::CustomerId))
            .col(
                ColumnDef::new(Orders::Status)
                    .string_len(16)
                    .not_null()
                    .check(Expr::col(Orders::Status).is_in([
                        "PENDING",
                        "CONFIRMED",
                        "SHIPPED",
                        "DELIVERED",
                        "CANCELLED",
                    ])),
            )
            .col(money(backend, Orders::Total).check(Expr::col(Orders::Total).gte(0)))
            .col(timestamp(Orders::CreatedAt))
            .col(timestamp(Orders::UpdatedAt))
            // Orders outlive their customer's account: deleting such a user anonymises it.
            .foreign_key(&mut fk(
                (Orders::Table, Orders::CustomerId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table(OrderItems::Table)
            .if_not_exists()
            .col(uuid_pk(OrderItems::Id))
            .col(uuid(OrderItems::OrderId))
            .col(uuid(OrderItems::ProductId))
            .col(
                ColumnDef::new(OrderItems::ProductName)
                    .string_len(200)
                    .not_null(),
            )
            .col(
                ColumnDef::new(OrderItems::Quantity)
                    .integer()
                    .not_null()
                    .check(Expr::col(OrderItems::Quantity).gt(0)),
            )
            .col(money(backend, OrderItems::Price))
            .foreign_key(&mut fk(
                (OrderItems::Table, OrderItems::OrderId),
                (Orders::Table, Orders::Id),
                ForeignKeyAction::Cascade,
            ))
            // A product that was ever ordered is archived, never deleted.
            .foreign_key(&mut fk(
                (OrderItems::Table, OrderItems::ProductId),
                (Products::Table, Products::Id),
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table(OrderEvents::Table)
            .if_not_exists()
            .col(uuid_pk(OrderEvents::Id))
            .col(uuid(OrderEvents::OrderId))
            .col(ColumnDef::new(OrderEvents::Kind).string_len(32).not_null())
            .col(
                ColumnDef::new(OrderEvents::FromStatus)
                    .string_len(16)
                    .null(),
            )
            .col(
                ColumnDef::new(OrderEvents::ToStatus)
                    .string_len(16)
                    .not_null(),
            )
            .col(ColumnDef::new(OrderEvents::ActorId).uuid().null())
            .col(timestamp(OrderEvents::CreatedAt))
            .foreign_key(&mut fk(
                (OrderEvents::Table, OrderEvents::OrderId),
                (Orders::Table, Orders::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (OrderEvents::Table, OrderEvents::ActorId),
                (Users::Table, Users::Id),
                ForeignKeyAction::SetNull,
            ))
            .to_owned(),
        Table::create()
            .table(IdempotencyKeys::Table)
            .if_not_exists()
            .col(uuid(IdempotencyKeys::UserId))
            .col(
                ColumnDef::new(IdempotencyKeys::Key)
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(IdempotencyKeys::RequestHash)
                    .string_len(64)
                    .not_null(),
            )
            .col(
                ColumnDef::new(IdempotencyKeys::ResponseStatus)
                    .small_integer()
                    .null(),
            )
            .col(ColumnDef::new(IdempotencyKeys::ResponseBody).text().null())
            .col(timestamp(IdempotencyKeys::CreatedAt))
            .primary_key(
                Index::create()
                    .col(IdempotencyKeys::UserId)
                    .col(IdempotencyKeys::Key),
            )
            .foreign_key(&mut fk(
                (IdempotencyKeys::Table, IdempotencyKeys::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Posts::Table)
            .if_not_exists()
            .col(uuid_pk(Posts::Id))
            .col(
                ColumnDef::new(Posts::Slug)
                    .string_len(220)
                    .not_null()
                    .unique_key(),
            )
            .col(ColumnDef::new(Posts::Title).string_len(200).not_null())
            .col(ColumnDef::new(Posts::Content).text().not_null())
            .col(
                ColumnDef::new(Posts::Published)
                    .boolean()
                    .not_null()
                    .default(false),
            )
            .col(timestamp_null(Posts::PublishedAt))
            .col(uuid(Posts::AuthorId))
            .col(timestamp(Posts::CreatedAt))
            .col(timestamp(Posts::UpdatedAt))
            .foreign_key(&mut fk(
                (Posts::Table, Posts::AuthorId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Tags::Table)
            .if_not_exists()
            .col(uuid_pk(Tags::Id))
            .col(
                ColumnDef::new(Tags::Name)
                    .string_len(50)
                    .not_null()
                    .unique_key(),
            )
            .to_owned(),
        Table::create()
            .table(PostTags::Table)
            .if_not_exists()
            .col(uuid(PostTags::PostId))
            .col(uuid(PostTags::TagId))
            .primary_key(Index::create().col(PostTags::PostId).col(PostTags::TagId))
            .foreign_key(&mut fk(
                (PostTags::Table, PostTags::PostId),
                (Posts::Table, Posts::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (PostTags::Table, PostTags::TagId),
                (Tags::Table, Tags::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Comments::Table)
            .if_not_exists()
            .col(uuid_pk(Comments::Id))
            .col(uuid(Comments::PostId))
            .col(uuid(Comments::AuthorId))
            .col(ColumnDef::new(Comments::Content).text().not_null())
            .col(timestamp(Comments::CreatedAt))
            .col(timestamp(Comments::UpdatedAt))
            .foreign_key(&mut fk(
                (Comments::Table, Comments::PostId),
                (Posts::Table, Posts::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (Comments::Table, Comments::AuthorId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Outbox::Table)
            .if_not_exists()
            .col(uuid_pk(Outbox::Id))
            .col(ColumnDef::new(Outbox::EventType).string_len(64).not_null())
            .col(ColumnDef::new(Outbox::Payload).json().not_null())
            .col(
                ColumnDef::new(Outbox::Attempts)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(timestamp(Outbox::CreatedAt))
            .col(timestamp_null(Outbox::DeliveredAt))
            .to_owned(),
        Table::create()
            .table(Jobs::Table)
            .if_not_exists()
            .col(uuid_pk(Jobs::Id))
            .col(ColumnDef::new(Jobs::Kind).string_len(64).not_null())
            .col(ColumnDef::new(Jobs::Payload).json().not_null())
            .col(
                ColumnDef::new(Jobs::Status)
                    .string_len(16)
                    .not_null()
                    .check(Expr::col(Jobs::Status).is_in(["PENDING", "RUNNING", "DONE", "FAILED"])),
            )
            .col(
                ColumnDef::new(Jobs::Attempts)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(ColumnDef::new(Jobs::MaxAttempts).integer().not_null())
            .col(timestamp(Jobs::RunAt))
            .col(timestamp_null(Jobs::LockedUntil))
            .col(ColumnDef::new(Jobs::LastError).text().null())
            .col(timestamp(Jobs::CreatedAt))
            .col(timestamp(Jobs::UpdatedAt))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_users_role")
            .table(Users::Table)
            .col(Users::Role)
            .to_owned(),
        Index::create()
            .name("idx_users_created_at")
            .table(Users::Table)
            .col((Users::CreatedAt, IndexOrder::Desc))
            .to_owned(),
        Index::create()
            .name("idx_refresh_tokens_family")
            .table(RefreshTokens::Table)
            .col(RefreshTokens::FamilyId)
            .to_owned(),
        Index::create()
            .name("idx_refresh_tokens_user")
            .table(RefreshTokens::Table)
            .col(RefreshTokens::UserId)
            .to_owned(),
        // Keyset pagination walks (created_at, id) newest first.
        Index::create()
            .name("idx_products_created_at_id")
            .table(Products::Table)
            .col((Products::CreatedAt, IndexOrder::Desc))
            .col((Products::Id, IndexOrder::Desc))
            .to_owned(),
        Index::create()
            .name("idx_products_category_price")
            .table(Products::Table)
            .col(Products::CategoryId)
            .col(Products::Price)
            .to_owned(),
        Index::create()
            .name("idx_reviews_user")
            .table(Reviews::Table)
            .col(Reviews::UserId)
            .to_owned(),
        Index::create()
            .name("idx_orders_customer_status")
            .table(Orders::Table)
            .col(Orders::CustomerId)
            .col(Orders::Status)
            .to_owned(),
        Index::create()
            .name("idx_orders_created_at")
            .table(Orders::Table)
            .col((Orders::CreatedAt, IndexOrder::Desc))
            .to_owned(),
        Index::create()
            .name("idx_order_items_order")
            .table(OrderItems::Table)
            .col(OrderItems::OrderId)
            .to_owned(),
        Index::create()
            .name("idx_order_items_product")
            .table(OrderItems::Table)
            .col(OrderItems::ProductId)
            .to_owned(),
        Index::create()
            .name("idx_order_events_order")
            .table(OrderEvents::Table)
            .col(OrderEvents::OrderId)
            .col(OrderEvents::CreatedAt)
            .to_owned(),
        Index::create()
            .name("idx_idempotency_keys_created_at")
            .table(IdempotencyKeys::Table)
            .col(IdempotencyKeys::CreatedAt)
            .to_owned(),
        Index::create()
            .name("idx_post_tags_tag")
            .table(PostTags::Table)
            .col(PostTags::TagId)
            .to_owned(),
        Index::create()
            .name("idx_comments_post_created_at")
            .table(Comments::Table)
            .col(Comments::PostId)
            .col(Comments::CreatedAt)
            .to_owned(),
        Index::create()
            .name("idx_comments_author")
            .table(Comments::Table)
            .col(Comments::AuthorId)
            .to_owned(),
    ]
}

fn partial_indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_products_in_stock")
            .table(Products::Table)
            .col(Products::InStock)
            .and_where(Expr::col(Products::InStock).gt(0))
            .to_owned(),
        Index::create()
            .name("idx_orders_pending")
            .table(Orders::Table)
            .col((Orders::CreatedAt, IndexOrder::Desc))
            .and_where(Expr::col(Orders::Status).eq("PENDING"))
            .to_owned(),
        Index::create()
            .name("idx_posts_published")
            .table(Posts::Table)
            .col((Posts::PublishedAt, IndexOrder::Desc))
            .and_where(Expr::col(Posts::Published).eq(true))
            .to_owned(),
        Index::create()
            .name("idx_posts_author_published")
            .table(Posts::Table)
            .col(Posts::AuthorId)
            .col((Posts::PublishedAt, IndexOrder::Desc))
            .and_where(Expr::col(Posts::Published).eq(true))
            .to_owned(),
        Index::create()
            .name("idx_outbox_undelivered")
            .table(Outbox::Table)
            .col(Outbox::CreatedAt)
            .and_where(Expr::col(Outbox::DeliveredAt).is_null())
            .to_owned(),
        Index::create()
            .name("idx_jobs_due")
            .table(Jobs::Table)
            .col(Jobs::RunAt)
            .and_where(Expr::col(Jobs::Status).eq("PENDING"))
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Name,
    Avatar,
    Role,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserProfiles {
    Table,
    UserId,
    Bio,
    Website,
    Location,
    DateOfBirth,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Email,
    Failures,
    WindowStartedAt,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    Name,
    Slug,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Products {
    Table,
    Id,
    Name,
    Description,
    Price,
    InStock,
    Archived,
    CategoryId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    ProductId,
    UserId,
    Rating,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    CustomerId,
    Status,
    Total,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    Id,
    OrderId,
    ProductId,
    ProductName,
    Quantity,
    Price,
}

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Id,
    OrderId,
    Kind,
    FromStatus,
    ToStatus,
    ActorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Slug,
    Title,
    Content,
    Published,
    PublishedAt,
    AuthorId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum PostTags {
    Table,
    PostId,
    TagId,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    PostId,
    AuthorId,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventType,
    Payload,
    Attempts,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}
