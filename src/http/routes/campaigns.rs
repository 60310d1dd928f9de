//! Bulk campaigns (contract §6.4, §7): execute, list, detail, delete, lifecycle controls,
//! item pages, progress as Server-Sent Events, and the cron trigger.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::actors::campaign::{CampaignOp, OpOutcome};
use crate::actors::campaign_registry::ForUser;
use crate::actors::scheduler::{CampaignScheduled, Sweep};
use crate::db::queries::campaigns::{self as q, CampaignRow, ItemRow, NewCampaign, NewItem};
use crate::domain::schedule::{parse_send_sync, SendAt};
use crate::domain::{parse_path_id, CampaignId, PhoneNumber, TemplateId, UserId};
use crate::error::{ApiError, BulkBareErrorBody, BulkErrorBody, Envelope, ErrorBody};
use crate::http::extractors::AuthUser;
use crate::http::routes::templates::Template;
use crate::http::routes::{invalid_request, OkMessage};
use crate::startup::AppState;

/// `POST /bulk/campaign/execute` body. Types are checked by serde (400 on a wrong type).
/// `campaign_id`, `name`, `phone` and `send_sync` are required; `timezone` when `send_sync` is
/// not `now`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ExecuteBody {
    /// The template to send, > 0.
    #[serde(default)]
    #[schema(example = 1, value_type = i64, required = true, minimum = 1)]
    campaign_id: Option<i64>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    name: Option<String>,
    /// Recipients (at most `CAMPAIGN_MAX_RECIPIENTS`); invalid numbers fail at once.
    #[serde(default)]
    #[schema(value_type = Vec<String>, required = true, min_items = 1, example = json!(["6281234567890"]))]
    phone: Option<Vec<String>>,
    /// `now` or a local date-time (contract §7.3).
    #[serde(default)]
    #[schema(example = "now", value_type = String, required = true)]
    send_sync: Option<String>,
    /// An IANA zone or offset; required when `send_sync` is not `now`.
    #[serde(default)]
    timezone: Option<String>,
    /// The sending session (default: the user's most recently updated connected session).
    #[serde(default)]
    session_id: Option<String>,
}

/// `data` of the execute answer.
#[derive(utoipa::ToSchema)]
pub struct ExecuteData {
    pub bulk_campaign_id: i64,
    pub total_recipients: i64,
    /// `pending` or `scheduled`.
    pub status: String,
    /// Only when scheduled.
    pub scheduled_at: Option<chrono::DateTime<Utc>>,
    /// Only when scheduled.
    pub timezone: Option<String>,
    /// Recipients refused at once (invalid phone numbers).
    pub failed_recipients: i64,
}

/// `POST /bulk/campaign/execute` answer.
#[derive(utoipa::ToSchema)]
pub struct ExecuteResponse {
    #[schema(example = 201)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: ExecuteData,
}

/// A bulk campaign with its template (`campaign`, only while the template exists).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BulkCampaign {
    #[serde(flatten)]
    pub row: CampaignRow,
    pub campaign: Option<Template>,
}

/// `GET /bulk/campaigns` answer.
#[derive(utoipa::ToSchema)]
pub struct BulkCampaignList {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub data: Vec<BulkCampaign>,
}

/// Live progress of a campaign.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CampaignProgress {
    pub pending: i64,
    pub sending: i64,
    pub unknown: i64,
    pub sent: i64,
    pub failed: i64,
    pub delivered: i64,
    pub read: i64,
    /// Messages per second over the last minute.
    pub rate: f64,
    pub eta_seconds: Option<i64>,
}

/// A bulk campaign with its template, items and progress.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BulkCampaignDetail {
    #[serde(flatten)]
    pub row: CampaignRow,
    pub campaign: Option<Template>,
    pub items: Vec<ItemRow>,
    pub progress: CampaignProgress,
}

#[derive(utoipa::ToSchema)]
pub struct CampaignDetailData {
    pub bulk_campaign: BulkCampaignDetail,
    pub items: Vec<ItemRow>,
}

/// `GET /bulk/campaigns/{id}` answer.
#[derive(utoipa::ToSchema)]
pub struct CampaignDetailResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub data: CampaignDetailData,
}

/// `GET /bulk/campaigns/{id}/items` answer.
#[derive(utoipa::ToSchema)]
pub struct CampaignItemPage {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub data: Vec<ItemRow>,
    pub page: i64,
    pub limit: i64,
}

/// Answer of pause, resume, cancel and retry.
#[derive(utoipa::ToSchema)]
pub struct CampaignActionResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: CampaignRow,
}

#[derive(utoipa::ToSchema)]
pub struct CronData {
    pub checked_at: chrono::DateTime<chrono::FixedOffset>,
    pub processed_count: u64,
}

/// `GET /bulk/cron/process` answer.
#[derive(utoipa::ToSchema)]
pub struct CronResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: CronData,
}

#[derive(diesel::QueryableByName)]
struct TemplateRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    message_body: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    image_url: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    image_base64: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    caption: Option<String>,
}

/// Picks the sender: the requested session if it is the user's, else the user's most recently
/// updated connected and logged-in session.
async fn choose_session(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &UserId,
    requested: Option<&str>,
) -> Result<Option<String>, ApiError> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let rows: Vec<S> = diesel::sql_query(
        r#"SELECT id FROM "WhatsAppSession" WHERE "userId" = $1 AND ($2::text IS NULL OR id = $2 OR "sessionId" = $2)
           AND ($2::text IS NOT NULL OR (connected AND "loggedIn")) ORDER BY "updatedAt" DESC LIMIT 1"#,
    )
    .bind::<diesel::sql_types::Text, _>(&user.0)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(requested)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|s| s.id))
}

/// `POST /bulk/campaign/execute`
#[utoipa::path(
    post,
    path = "/bulk/campaign/execute",
    operation_id = "execute_campaign",
    tag = "campaigns",
    request_body = ExecuteBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional (up to 200 characters): a repeat with the same key answers the campaign already created")),
    responses(
        (status = 201, description = "Created: started now (`pending`) or `scheduled`", body = ExecuteResponse),
        (status = 400, description = "Binding or validation error, bad `send_sync`/`timezone`, too many recipients, no connected session, image not usable", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Campaign not found` (template), or `Session not found`", body = BulkErrorBody),
        (status = 409, description = "A campaign with this Idempotency-Key is being created", body = BulkErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn execute(
    state: web::Data<AppState>,
    auth: AuthUser,
    req: HttpRequest,
    body: web::Json<ExecuteBody>,
) -> Result<HttpResponse, ApiError> {
    use diesel_async::RunQueryDsl;
    let body = body.into_inner();
    let template_id = body
        .campaign_id
        .filter(|v| *v > 0)
        .ok_or_else(|| invalid_request("campaign_id is required"))?;
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| invalid_request("name is required"))?;
    let phones = body
        .phone
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid_request("phone must list at least one number"))?;
    let send_sync = body
        .send_sync
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid_request("send_sync is required"))?;
    if phones.len() > state.settings.campaign_max_recipients {
        return Err(ApiError::bad_request(
            "too_many_recipients",
            format!(
                "Invalid request: at most {} recipients per campaign",
                state.settings.campaign_max_recipients
            ),
        ));
    }
    let when = parse_send_sync(
        &send_sync,
        body.timezone.as_deref(),
        &state.settings.default_timezone,
        Utc::now(),
    )
    .map_err(|r| {
        ApiError::bad_request(
            "invalid_send_sync",
            format!("Invalid send_sync or timezone: {r}"),
        )
    })?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 200);

    let mut conn = state.db.transactional.get().await?;
    if let Some(key) = &idempotency_key {
        if let Some(existing) = q::find_by_idempotency_key(&mut conn, &auth.user_id, key).await? {
            return Ok(created(&existing));
        }
    }
    let template: TemplateRow = diesel::sql_query(
        r#"SELECT name, type AS kind, message_body, image_url, image_base64, caption FROM "WhatsAppCampaigns"
           WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"#,
    )
    .bind::<diesel::sql_types::BigInt, _>(template_id)
    .bind::<diesel::sql_types::Text, _>(&auth.user_id.0)
    .get_result(&mut conn)
    .await
    .map_err(|e| match e {
        diesel::result::Error::NotFound => ApiError::not_found("campaign_not_found", "Campaign not found"),
        e => e.into(),
    })?;
    let _ = &template.name;
    let session = choose_session(&mut conn, &auth.user_id, body.session_id.as_deref())
        .await?
        .ok_or_else(|| match body.session_id {
            Some(_) => ApiError::not_found("session_not_found", "Session not found"),
            None => ApiError::bad_request(
                "no_connected_session",
                "No connected WhatsApp session for this user",
            ),
        })?;
    let image_data = match template.kind.as_str() {
        "image" => Some(resolve_image(&state, &template).await?),
        _ => None,
    };

    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(phones.len());
    for raw in phones {
        match PhoneNumber::parse(&raw) {
            Ok(p) => {
                if seen.insert(p.clone()) {
                    items.push(NewItem {
                        phone: p.into_string(),
                        failure: None,
                        message_id: q::new_message_id(),
                    });
                }
            }
            Err(e) => items.push(NewItem {
                phone: raw.chars().take(64).collect(),
                failure: Some(format!("invalid_phone: {e}")),
                message_id: String::new(),
            }),
        }
    }
    let (status, scheduled_at, timezone) = match &when {
        SendAt::Now => ("pending", None, String::new()),
        SendAt::At { instant, timezone } => ("scheduled", Some(*instant), timezone.clone()),
    };
    let row = q::create_campaign(
        &mut conn,
        NewCampaign {
            user: &auth.user_id,
            template_id,
            name: &name,
            kind: &template.kind,
            message_body: template.message_body.as_deref(),
            image_url: template.image_url.as_deref(),
            image_base64: template.image_base64.as_deref(),
            caption: template.caption.as_deref(),
            image_data: image_data.as_deref(),
            status,
            scheduled_at,
            timezone: &timezone,
            session_id: &session,
            idempotency_key: idempotency_key.as_deref(),
        },
        items,
    )
    .await
    .map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "idempotency_conflict",
            "A campaign with this Idempotency-Key is being created",
        ),
        e => e.into(),
    })?;
    drop(conn);
    tracing::info!(campaign_id = row.id, recipients = row.total_count, status = %row.status, "bulk campaign created");
    match &when {
        SendAt::Now => state.actors.campaigns.do_send(ForUser {
            user: auth.user_id.clone(),
            campaign_id: CampaignId(row.id),
            op: CampaignOp::Start,
        }),
        SendAt::At { instant, .. } => state
            .actors
            .scheduler
            .do_send(CampaignScheduled { at: *instant }),
    }
    Ok(created(&row))
}

fn created(row: &CampaignRow) -> HttpResponse {
    let mut data = json!({"bulk_campaign_id": row.id, "total_recipients": row.total_count, "status": if row.status == "scheduled" { "scheduled" } else { "pending" }});
    if let Some(at) = row.scheduled_at {
        data["scheduled_at"] = json!(at);
        data["timezone"] = json!(row.timezone.clone().unwrap_or_default());
    }
    data["failed_recipients"] = json!(row.failed_count);
    HttpResponse::Created().json(json!({"code": 201, "success": true, "message": "Bulk campaign created successfully", "data": data}))
}

/// Resolves an image template once: a data URI is checked, a URL is fetched under the SSRF rules.
async fn resolve_image(state: &AppState, t: &TemplateRow) -> Result<String, ApiError> {
    if let Some(b64) = t.image_base64.as_deref().filter(|s| !s.is_empty()) {
        return crate::http::image::data_uri_from_base64(b64)
            .map_err(|e| ApiError::bad_request("invalid_image", format!("Invalid image: {e}")));
    }
    let url = t
        .image_url
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_image",
                "Image URL or base64 is required for image campaigns",
            )
        })?;
    if url.starts_with("data:image/") {
        return Ok(url.to_string());
    }
    crate::http::image::fetch_as_data_uri(state, url)
        .await
        .map_err(|e| {
            ApiError::bad_request("invalid_image", format!("Failed to process image: {e}"))
        })
}

/// Query of `GET /bulk/campaigns/{id}/items`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, 1..=1000000 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    /// Page size, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `pending`, `sent` or `failed`.
    #[param(pattern = "^(pending|sent|failed)$")]
    status: Option<String>,
}

/// Query of `GET /bulk/campaigns`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignsQuery {
    /// Page number, 1..=1000000 (default 1 when `limit` is given); without both, every campaign.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Page size, 1..=1000 (default 50 when `page` is given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn page_of(q: &PageQuery) -> Result<Option<(i64, i64)>, ApiError> {
    super::Paging {
        page: q.page,
        limit: q.limit,
        search: None,
    }
    .page()
}

async fn template_json(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &UserId,
    id: Option<i64>,
) -> Result<Option<Value>, ApiError> {
    match id {
        Some(id) => Ok(crate::db::queries::templates::get(conn, user, TemplateId(id)).await?),
        None => Ok(None),
    }
}

fn campaign_json(row: &CampaignRow) -> Value {
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        for k in [
            "message_body",
            "image_url",
            "image_base64",
            "caption",
            "timezone",
            "error_message",
        ] {
            if o.get(k).is_some_and(Value::is_null) {
                o.insert(k.into(), json!(""));
            }
        }
    }
    v
}

/// `GET /bulk/campaigns`
#[utoipa::path(
    get,
    path = "/bulk/campaigns",
    operation_id = "list_campaigns",
    tag = "campaigns",
    params(CampaignsQuery),
    responses(
        (status = 200, description = "The user's bulk campaigns", body = BulkCampaignList),
        (status = 400, description = "Bad pagination", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkListError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<CampaignsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = super::Paging {
        page: query.page,
        limit: query.limit,
        search: None,
    }
    .page()?;
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
    let rows = q::list_campaigns(&mut conn, &auth.user_id, page)
        .await
        .map_err(|e| list_err(e.into()))?;
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut v = campaign_json(r);
        if let Some(t) = template_json(&mut conn, &auth.user_id, r.campaign_id).await? {
            v["campaign"] = t;
        }
        data.push(v);
    }
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": data})))
}

fn parse_id(raw: &str, envelope: Envelope, message: &'static str) -> Result<CampaignId, ApiError> {
    parse_path_id(raw)
        .map(CampaignId)
        .ok_or_else(|| ApiError::bad_request("invalid_id", message).envelope(envelope))
}

/// `GET /bulk/campaigns/{id}`: the campaign with live counters, progress and its items.
#[utoipa::path(
    get,
    path = "/bulk/campaigns/{id}",
    operation_id = "get_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "The campaign with progress and items (the items appear twice)", body = CampaignDetailResponse),
        (status = 400, description = "Invalid id (no `message`)", body = BulkBareErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "Not found (no `message`)", body = BulkBareErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn detail(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, Envelope::BulkBare, "Invalid bulk campaign ID")?;
    let mut conn = state.db.transactional.get().await?;
    let row = q::find_campaign(&mut conn, &auth.user_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("bulk_campaign_not_found", "Bulk campaign not found")
                .envelope(Envelope::BulkBare)
        })?;
    let items = q::list_items(&mut conn, &auth.user_id, id, None, None).await?;
    let progress = q::progress(&mut conn, &auth.user_id, id).await?;
    let mut v = campaign_json(&row);
    if let Some(t) = template_json(&mut conn, &auth.user_id, row.campaign_id).await? {
        v["campaign"] = t;
    }
    let remaining = progress.pending + progress.sending;
    let eta = if progress.rate > 0.0 && remaining > 0 {
        Some((remaining as f64 / progress.rate).ceil() as i64)
    } else {
        None
    };
    v["items"] = json!(items);
    v["progress"] = json!({
        "pending": progress.pending, "sending": progress.sending, "unknown": progress.unknown,
        "sent": progress.sent, "failed": progress.failed, "delivered": row.delivered_count, "read": row.read_count,
        "rate": progress.rate, "eta_seconds": eta,
    });
    Ok(HttpResponse::Ok()
        .json(json!({"code": 200, "success": true, "data": {"bulk_campaign": v, "items": items}})))
}

/// `GET /bulk/campaigns/{id}/items?status=&page=&limit=`
#[utoipa::path(
    get,
    path = "/bulk/campaigns/{id}/items",
    operation_id = "list_campaign_items",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)"), PageQuery),
    responses(
        (status = 200, description = "One page of items (default page 1, limit 100)", body = CampaignItemPage),
        (status = 400, description = "Invalid id, pagination or status", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn items(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, Envelope::Bulk, "Invalid bulk campaign ID")?;
    let page = page_of(&query)?.or(Some((1, 100)));
    if let Some(s) = query.status.as_deref() {
        if !["pending", "sent", "failed"].contains(&s) {
            return Err(ApiError::bad_request(
                "invalid_status",
                "status must be pending, sent or failed",
            ));
        }
    }
    let mut conn = state.db.transactional.get().await?;
    q::find_campaign(&mut conn, &auth.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("bulk_campaign_not_found", "Bulk campaign not found"))?;
    let rows = q::list_items(&mut conn, &auth.user_id, id, query.status.as_deref(), page).await?;
    let (p, l) = page.unwrap_or((1, 100));
    Ok(HttpResponse::Ok()
        .json(json!({"code": 200, "success": true, "data": rows, "page": p, "limit": l})))
}

/// `DELETE /bulk/campaigns/{id}`: soft-deletes the campaign and its items.
#[utoipa::path(
    delete,
    path = "/bulk/campaigns/{id}",
    operation_id = "delete_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Soft-deleted with its items", body = OkMessage),
        (status = 400, description = "`Invalid bulk campaign ID`, or `Cannot delete campaign that is currently processing`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, Envelope::Bulk, "Invalid bulk campaign ID")?;
    let mut conn = state.db.transactional.get().await?;
    match q::delete_campaign(&mut conn, &auth.user_id, id).await? {
        None => Err(ApiError::not_found(
            "bulk_campaign_not_found",
            "Bulk campaign not found",
        )),
        Some(s) if s == "processing" => Err(ApiError::bad_request(
            "campaign_processing",
            "Cannot delete campaign that is currently processing",
        )),
        Some(_) => Ok(HttpResponse::Ok().json(
            json!({"code": 200, "success": true, "message": "Bulk campaign deleted successfully"}),
        )),
    }
}

async fn lifecycle(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    op: CampaignOp,
    done: &'static str,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, Envelope::Bulk, "Invalid bulk campaign ID")?;
    let outcome = state
        .actors
        .campaigns
        .send(ForUser {
            user: auth.user_id.clone(),
            campaign_id: id,
            op,
        })
        .await
        .map_err(ApiError::unavailable)?
        .map_err(|e| ApiError::unavailable(std::io::Error::other(e)))?;
    match outcome {
        OpOutcome::Done(row) => Ok(HttpResponse::Ok().json(
            json!({"code": 200, "success": true, "message": done, "data": campaign_json(&row)}),
        )),
        OpOutcome::NotFound => Err(ApiError::not_found(
            "bulk_campaign_not_found",
            "Bulk campaign not found",
        )),
        OpOutcome::Conflict(why) => Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "invalid_state",
            format!("Cannot {}: {why}", done_verb(op)),
        )),
    }
}

fn done_verb(op: CampaignOp) -> &'static str {
    match op {
        CampaignOp::Pause => "pause",
        CampaignOp::Resume => "resume",
        CampaignOp::Cancel => "cancel",
        CampaignOp::Retry => "retry",
        _ => "start",
    }
}

#[utoipa::path(
    post,
    path = "/bulk/campaigns/{id}/pause",
    operation_id = "pause_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Paused; the campaign as it is now", body = CampaignActionResponse),
        (status = 400, description = "`Invalid bulk campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 409, description = "Not possible in the campaign's status (`Cannot pause: ...`)", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn pause(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lifecycle(state, auth, path, CampaignOp::Pause, "Bulk campaign paused").await
}
#[utoipa::path(
    post,
    path = "/bulk/campaigns/{id}/resume",
    operation_id = "resume_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Resumed; the campaign as it is now", body = CampaignActionResponse),
        (status = 400, description = "`Invalid bulk campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 409, description = "Not possible in the campaign's status (`Cannot resume: ...`)", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn resume(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lifecycle(
        state,
        auth,
        path,
        CampaignOp::Resume,
        "Bulk campaign resumed",
    )
    .await
}
#[utoipa::path(
    post,
    path = "/bulk/campaigns/{id}/cancel",
    operation_id = "cancel_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Cancelled; the campaign as it is now", body = CampaignActionResponse),
        (status = 400, description = "`Invalid bulk campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 409, description = "Not possible in the campaign's status (`Cannot cancel: ...`)", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn cancel(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lifecycle(
        state,
        auth,
        path,
        CampaignOp::Cancel,
        "Bulk campaign cancelled",
    )
    .await
}
#[utoipa::path(
    post,
    path = "/bulk/campaigns/{id}/retry",
    operation_id = "retry_campaign",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Failed items queued again; the campaign as it is now", body = CampaignActionResponse),
        (status = 400, description = "`Invalid bulk campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 409, description = "Not possible in the campaign's status (`Cannot retry: ...`)", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn retry(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lifecycle(
        state,
        auth,
        path,
        CampaignOp::Retry,
        "Failed items queued again",
    )
    .await
}

/// `GET /bulk/campaigns/{id}/events`: progress as Server-Sent Events, one event per second
/// while the campaign runs, ending when it reaches a final status.
#[utoipa::path(
    get,
    path = "/bulk/campaigns/{id}/events",
    operation_id = "campaign_events",
    tag = "campaigns",
    params(("id" = u32, Path, description = "Bulk campaign id, an unsigned 32-bit decimal (anything else: 400)")),
    responses(
        (status = 200, description = "Server-Sent Events: `progress` once a second while the campaign runs (data: id, status, counters, pending, sending, unknown, rate), then the stream ends; `end` when the campaign disappears", content_type = "text/event-stream", body = String),
        (status = 400, description = "`Invalid bulk campaign ID`", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Bulk campaign not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn events(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, Envelope::Bulk, "Invalid bulk campaign ID")?;
    {
        let mut conn = state.db.transactional.get().await?;
        q::find_campaign(&mut conn, &auth.user_id, id)
            .await?
            .ok_or_else(|| {
                ApiError::not_found("bulk_campaign_not_found", "Bulk campaign not found")
            })?;
    }
    let user = auth.user_id.clone();
    let stream = futures_util::stream::unfold((state, false), move |(state, done)| {
        let user = user.clone();
        async move {
            if done {
                return None;
            }
            let snapshot = async {
                let mut conn = state.db.transactional.get().await.ok()?;
                let row = q::find_campaign(&mut conn, &user, id).await.ok()??;
                let p = q::progress(&mut conn, &user, id).await.ok()?;
                Some((row, p))
            }
            .await;
            let (line, finished) = match snapshot {
                Some((row, p)) => {
                    let finished =
                        matches!(row.status.as_str(), "completed" | "failed" | "cancelled");
                    let data = json!({"id": row.id, "status": row.status, "total_count": row.total_count, "sent_count": row.sent_count,
                        "failed_count": row.failed_count, "delivered_count": row.delivered_count, "read_count": row.read_count,
                        "pending": p.pending, "sending": p.sending, "unknown": p.unknown, "rate": p.rate});
                    (format!("event: progress\ndata: {data}\n\n"), finished)
                }
                None => ("event: end\ndata: {}\n\n".to_string(), true),
            };
            if !finished {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(line)),
                (state, finished),
            ))
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header(("content-type", "text/event-stream"))
        .insert_header(("cache-control", "no-cache"))
        .streaming(stream))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CronQuery {
    /// The cron secret, when `CRON_SECRET` is set (or the `X-Cron-Secret` header).
    secret: Option<String>,
}

/// `GET /bulk/cron/process`: asks the scheduler to sweep now (idempotent).
#[utoipa::path(
    get,
    path = "/bulk/cron/process",
    operation_id = "cron_process",
    tag = "campaigns",
    params(CronQuery, ("X-Cron-Secret" = Option<String>, Header, description = "The cron secret, when `CRON_SECRET` is set (or `?secret=`)")),
    responses(
        (status = 200, description = "The scheduler swept due campaigns", body = CronResponse),
        (status = 401, description = "`Invalid cron secret` (only when `CRON_SECRET` is set)", body = ErrorBody),
        (status = 500, description = "`Failed to fetch scheduled campaigns`", body = BulkErrorBody),
        (status = 503, description = "The scheduler is not running", body = BulkErrorBody),
    )
)]
pub async fn cron(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CronQuery>,
) -> Result<HttpResponse, ApiError> {
    if let Some(secret) = &state.settings.cron_secret {
        let given = req
            .headers()
            .get("x-cron-secret")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| query.secret.clone())
            .unwrap_or_default();
        use secrecy::ExposeSecret;
        use subtle::ConstantTimeEq;
        if !bool::from(given.as_bytes().ct_eq(secret.expose_secret().as_bytes())) {
            return Err(ApiError::unauthorized(
                "invalid_cron_secret",
                "Invalid cron secret",
            ));
        }
    }
    let n = state
        .actors
        .scheduler
        .send(Sweep)
        .await
        .map_err(ApiError::unavailable)?;
    match n {
        Ok(n) => Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "message": "Bulk campaign cron job completed",
            "data": {"checked_at": chrono::Local::now().to_rfc3339(), "processed_count": n}}))),
        Err(_) => Ok(HttpResponse::InternalServerError().json(json!({"code": 500, "success": false, "message": "Failed to fetch scheduled campaigns", "error_code": "scheduler_failed"}))),
    }
}
