//! Campaign templates (contract §6.3): create, list, read, update, soft delete.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bind_body, invalid_request, OkMessage, Paging};
use crate::db::queries::templates::{self as q, NewTemplate, TemplatePatch};
use crate::domain::{parse_path_id, TemplateId};
use crate::error::{ApiError, BulkErrorBody, Envelope, ErrorBody};
use crate::http::extractors::AuthUser;
use crate::startup::AppState;

const STATUSES: [&str; 3] = ["active", "inactive", "archived"];

/// `POST /bulk/campaign` body. `name` and `type` are required; a `text` template needs
/// `message_body`, an `image` template `image_url` or `image_base64`.
#[derive(Deserialize, utoipa::ToSchema)]
struct CreateBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    #[schema(example = "text", value_type = String, required = true, pattern = "^(text|image)$")]
    kind: Option<String>,
    #[serde(default)]
    message_body: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    image_base64: Option<String>,
    #[serde(default)]
    caption: Option<String>,
}

/// `PUT /bulk/campaign/{id}` body: only non-empty fields change; `status` is one of
/// `active`, `inactive`, `archived`.
#[derive(Deserialize, utoipa::ToSchema)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message_body: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    image_base64: Option<String>,
    #[serde(default)]
    caption: Option<String>,
}

/// A campaign template (contract §6.3).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    /// `text` or `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `active`, `inactive` or `archived`.
    pub status: String,
    pub message_body: String,
    pub image_url: String,
    pub image_base64: String,
    pub caption: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
    /// Always `null` for visible templates.
    pub deleted_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// One template, with a message.
#[derive(utoipa::ToSchema)]
pub struct TemplateResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: Template,
}

/// Every template of the user.
#[derive(utoipa::ToSchema)]
pub struct TemplateList {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub data: Vec<Template>,
}

fn not_found() -> ApiError {
    ApiError::not_found("campaign_not_found", "Campaign not found")
}

fn parse_id(raw: &str) -> Result<TemplateId, ApiError> {
    parse_path_id(raw)
        .map(TemplateId)
        .ok_or_else(|| ApiError::bad_request("invalid_id", "Invalid campaign ID"))
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn image_error(e: crate::http::image::ImageError) -> ApiError {
    ApiError::bad_request("invalid_image", format!("Failed to process image: {e}"))
}

/// Checks an image template's image once (defect 8): a base64 image must decode to an image;
/// otherwise the URL must be http(s) and download as an image under the SSRF rules.
async fn validate_image(
    state: &AppState,
    url: Option<&str>,
    base64: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(b64) = base64.filter(|s| !s.is_empty()) {
        crate::http::image::data_uri_from_base64(b64).map_err(image_error)?;
        return Ok(());
    }
    let url = url.filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "image_required",
            "Image URL or base64 is required for image campaigns",
        )
    })?;
    if url.starts_with("data:") {
        crate::http::image::data_uri_from_base64(url).map_err(image_error)?;
        return Ok(());
    }
    crate::http::image::fetch_as_data_uri(state, url)
        .await
        .map_err(image_error)?;
    Ok(())
}

/// `POST /bulk/campaign`
#[utoipa::path(
    post,
    path = "/bulk/campaign",
    operation_id = "create_template",
    tag = "templates",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created (status `active`)", body = TemplateResponse),
        (status = 400, description = "Binding or validation error, image not usable", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let b: CreateBody = bind_body(body.into_inner())?;
    let name = non_empty(b.name).ok_or_else(|| invalid_request("name is required"))?;
    let kind = non_empty(b.kind).ok_or_else(|| invalid_request("type is required"))?;
    let message_body = b.message_body.unwrap_or_default();
    let image_url = b.image_url.unwrap_or_default();
    let image_base64 = b.image_base64.unwrap_or_default();
    let caption = b.caption.unwrap_or_default();
    match kind.as_str() {
        "text" => {
            if message_body.is_empty() {
                return Err(ApiError::bad_request(
                    "message_body_required",
                    "Message body is required for text campaigns",
                ));
            }
        }
        "image" => validate_image(&state, Some(&image_url), Some(&image_base64)).await?,
        _ => return Err(invalid_request("type must be one of text, image")),
    }
    let mut conn = state.db.transactional.get().await?;
    let data = q::create(
        &mut conn,
        &auth.user_id,
        NewTemplate {
            name: &name,
            kind: &kind,
            message_body: &message_body,
            image_url: &image_url,
            image_base64: &image_base64,
            caption: &caption,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "code": 201, "success": true, "message": "Campaign created successfully", "data": data
    })))
}

/// `GET /bulk/campaign`: a 5xx answers `{"code":500,"success":false,"data":null}`.
#[utoipa::path(
    get,
    path = "/bulk/campaign",
    operation_id = "list_templates",
    tag = "templates",
    params(Paging),
    responses(
        (status = 200, description = "The user's templates in id order (`[]` when none)", body = TemplateList),
        (status = 400, description = "Bad pagination", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkListError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let list_err = |e: ApiError| {
        if e.status.is_server_error() {
            e.envelope(Envelope::BulkList)
        } else {
            e
        }
    };
    let mut conn = state
        .db
        .transactional
        .get()
        .await
        .map_err(|e| list_err(e.into()))?;
    let data = q::list(&mut conn, &auth.user_id, page)
        .await
        .map_err(|e| list_err(e.into()))?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": data})))
}

/// `GET /bulk/campaign/{id}`
#[utoipa::path(
    get,
    path = "/bulk/campaign/{id}",
    operation_id = "get_template",
    tag = "templates",
    params(("id" = u32, Path, description = "Template id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "The template", body = TemplateResponse),
        (status = 400, description = "`Invalid campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Campaign not found` (also another user's id)", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.transactional.get().await?;
    let data = q::get(&mut conn, &auth.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "message": "", "data": data})))
}

/// `PUT /bulk/campaign/{id}`: non-empty fields only; `status` one of active, inactive,
/// archived; a new image of an image template is validated.
#[utoipa::path(
    put,
    path = "/bulk/campaign/{id}",
    operation_id = "update_template",
    tag = "templates",
    params(("id" = u32, Path, description = "Template id, an unsigned 32-bit decimal (anything else: 400)")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated", body = TemplateResponse),
        (status = 400, description = "`Invalid campaign ID`, binding or validation error", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Campaign not found`", body = BulkErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let b: UpdateBody = bind_body(body.into_inner())?;
    let patch = TemplatePatch {
        name: non_empty(b.name),
        status: non_empty(b.status),
        message_body: non_empty(b.message_body),
        image_url: non_empty(b.image_url),
        image_base64: non_empty(b.image_base64),
        caption: non_empty(b.caption),
    };
    if let Some(s) = &patch.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(invalid_request(
                "status must be one of active, inactive, archived",
            ));
        }
    }
    let mut conn = state.db.transactional.get().await?;
    let current = q::kind(&mut conn, &auth.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    if current.kind == "image" && (patch.image_url.is_some() || patch.image_base64.is_some()) {
        drop(conn);
        // Every new image is checked, whichever of the two the template will send.
        if let Some(b64) = &patch.image_base64 {
            validate_image(&state, None, Some(b64)).await?;
        }
        if let Some(url) = &patch.image_url {
            validate_image(&state, Some(url), None).await?;
        }
        conn = state.db.transactional.get().await?;
    }
    let data = q::update(&mut conn, &auth.user_id, id, &patch)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(json!({
        "code": 200, "success": true, "message": "Campaign updated successfully", "data": data
    })))
}

/// `DELETE /bulk/campaign/{id}` (soft delete).
#[utoipa::path(
    delete,
    path = "/bulk/campaign/{id}",
    operation_id = "delete_template",
    tag = "templates",
    params(("id" = u32, Path, description = "Template id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Soft-deleted", body = OkMessage),
        (status = 400, description = "`Invalid campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Campaign not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.transactional.get().await?;
    if !q::delete(&mut conn, &auth.user_id, id).await? {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(json!({
        "code": 200, "success": true, "message": "Campaign deleted successfully"
    })))
}
