//! `/api/v1/categories`: read by anyone, written by admins.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cache::Entry;
use crate::domain::{CategoryId, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Created, Data, Message, Serialized};
use crate::http::extract::{Admin, Json, Path, RequireRole};
use crate::http::field::Field;
use crate::services::catalog::categories::{self, Category, CategoryName};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, rename, delete))
}

/// Every category, by name, with the number of visible products in each.
#[utoipa::path(get, operation_id = "listCategories", path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, description = "The categories", body = Data<Vec<Category>>)))]
pub async fn list(State(state): State<AppState>) -> Result<Serialized, AppError> {
    let body = state
        .cache
        .get_or_load(Entry::Categories, || async {
            Ok(Serialized::of(&Data::new(categories::list(&state.db).await?))?.0)
        })
        .await?;
    Ok(Serialized(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CategoryPath {
    #[param(value_type = String, format = Uuid)]
    pub id: CategoryId,
}

/// One category.
#[utoipa::path(get, operation_id = "getCategory", path = "/api/v1/categories/{id}", tag = "catalog",
    params(CategoryPath),
    responses(
        (status = 200, description = "The category", body = Data<Category>),
        (status = 404, description = "No such category", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Path(path): Path<CategoryPath>,
) -> Result<Serialized, AppError> {
    let body = state
        .cache
        .get_or_load(Entry::Category(path.id), || async {
            Ok(Serialized::of(&Data::new(categories::get(&state.db, path.id).await?))?.0)
        })
        .await?;
    Ok(Serialized(body))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryRequest {
    /// 1 to 100 characters with a letter or digit, unique; the slug is made from it.
    #[schema(value_type = String, example = "Running Shoes", min_length = 1, max_length = 100)]
    pub name: Field<String>,
}

fn parse_name(body: &CategoryRequest) -> Result<CategoryName, AppError> {
    let mut v = Validation::default();
    let name = v.required("name", body.name.as_deref().input(), CategoryName::parse);
    Ok(v.finish(name)?)
}

/// Create a category (admins only).
#[utoipa::path(post, operation_id = "createCategory", path = "/api/v1/categories", tag = "catalog",
    security(("bearerAuth" = [])),
    request_body = CategoryRequest,
    responses(
        (status = 201, description = "Created", body = Data<Category>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 409, description = "The name (or its slug) is taken", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Json(body): Json<CategoryRequest>,
) -> Result<Created<Category>, AppError> {
    let category = categories::create(&state.db, &admin, parse_name(&body)?).await?;
    Ok(Data::new(category).created())
}

/// Rename a category (admins only); the slug follows the name.
#[utoipa::path(patch, operation_id = "updateCategory", path = "/api/v1/categories/{id}", tag = "catalog",
    security(("bearerAuth" = [])),
    params(CategoryPath),
    request_body = CategoryRequest,
    responses(
        (status = 200, description = "Renamed", body = Data<Category>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such category", body = ErrorEnvelope),
        (status = 409, description = "The name (or its slug) is taken", body = ErrorEnvelope),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<CategoryPath>,
    Json(body): Json<CategoryRequest>,
) -> Result<Data<Category>, AppError> {
    let category = categories::rename(&state.db, &admin, path.id, parse_name(&body)?).await?;
    Ok(Data::new(category))
}

/// Delete a category (admins only); its products stay, without a category.
#[utoipa::path(delete, operation_id = "deleteCategory", path = "/api/v1/categories/{id}", tag = "catalog",
    security(("bearerAuth" = [])),
    params(CategoryPath),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such category", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<CategoryPath>,
) -> Result<Message, AppError> {
    categories::delete(&state.db, &admin, path.id).await?;
    Ok(Message::new("Category deleted"))
}
