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
use crate::db::queries::campaigns::{self as q, CampaignRow, NewCampaign, NewItem};
use crate::domain::schedule::{parse_send_sync, SendAt};
use crate::domain::{parse_path_id, CampaignId, PhoneNumber, TemplateId, UserId};
use crate::error::{ApiError, Envelope};
use crate::http::extractors::AuthUser;
use crate::http::routes::invalid_request;
use crate::startup::AppState;

/// `POST /bulk/campaign/execute` body. Types are checked by serde (400 on a wrong type).
#[derive(Deserialize)]
pub struct ExecuteBody {
    #[serde(default)]
    campaign_id: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<Vec<String>>,
    #[serde(default)]
    send_sync: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
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

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
    limit: Option<i64>,
    status: Option<String>,
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
pub async fn list(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_of(&query)?;
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

pub async fn pause(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    lifecycle(state, auth, path, CampaignOp::Pause, "Bulk campaign paused").await
}
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

#[derive(Deserialize)]
pub struct CronQuery {
    secret: Option<String>,
}

/// `GET /bulk/cron/process`: asks the scheduler to sweep now (idempotent).
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
