//! `/webhook/wa` (contract §9.1–9.3, defects 24, 25): verification handshake and event intake.
//! An event is verified, stored durably (received bytes + parsed event, de-duplicated by
//! identity) and only then answered; the `WebhookRouter` processes it afterwards.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::actors::webhook_intake::{OwnedEvent, Store, WorkerIntake};
use crate::db::queries::events as q;
use crate::domain::webhook_event::{parse_for_intake, verify_signature};
use crate::error::{ApiError, Envelope, ErrorBody};
use crate::startup::AppState;

/// Above this size the parsed `event` is not stored a second time in `event_data` (the bytes
/// are in `raw_data`); history syncs can be megabytes (defect 28).
const EVENT_DATA_MAX: usize = 1024 * 1024;

/// `{"status":"success"}`
#[derive(utoipa::ToSchema)]
pub struct WebhookAccepted {
    #[schema(example = "success")]
    pub status: String,
}

/// `{"message": "..."}`
#[derive(utoipa::ToSchema)]
pub struct WebhookMessage {
    pub message: String,
}

/// `{"error": "Forbidden"}` (no `error_code`).
#[derive(utoipa::ToSchema)]
pub struct ForbiddenBody {
    #[schema(example = "Forbidden")]
    pub error: String,
}

fn err(status: StatusCode, code: &'static str, msg: &'static str) -> ApiError {
    ApiError::new(status, code, msg).envelope(Envelope::Error)
}

fn db_err(e: impl Into<ApiError>) -> ApiError {
    e.into().envelope(Envelope::Error)
}

/// The webhook verification handshake (§9.1).
#[utoipa::path(
    get,
    path = "/webhook/wa",
    operation_id = "verify_webhook",
    tag = "webhook",
    params(
        ("hub.mode" = Option<String>, Query, description = "`subscribe`"),
        ("hub.verify_token" = Option<String>, Query, description = "Must equal `WEBHOOK_VERIFY_TOKEN`"),
        ("hub.challenge" = Option<String>, Query, description = "Echoed back on success"),
    ),
    responses(
        (status = 200, description = "The challenge (text), or `{\"message\":\"Webhook verification disabled\"}` when no verify token is set",
            content((String = "text/plain"), (WebhookMessage = "application/json"))),
        (status = 403, description = "Wrong mode or token: `{\"error\":\"Forbidden\"}`", body = ForbiddenBody),
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let Some(expected) = state.settings.webhook_verify_token.as_ref() else {
        return HttpResponse::Ok().json(json!({"message": "Webhook verification disabled"}));
    };
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let token_ok = get("hub.verify_token").is_some_and(|t| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            t.as_bytes(),
            expected.expose_secret().as_bytes(),
        ))
    });
    if get("hub.mode") == Some("subscribe") && token_ok {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(get("hub.challenge").unwrap_or("").to_string())
    } else {
        HttpResponse::Forbidden().json(json!({"error": "Forbidden"}))
    }
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    cap: usize,
) -> Result<web::BytesMut, ApiError> {
    let too_large = || {
        err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(cap));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            err(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "Invalid request body",
            )
        })?;
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The signature rule once the global key did not verify the body: the session's own key
/// (if any) must verify it; any configured key makes a signature mandatory; a signature with no
/// key to check it against is accepted unless `WEBHOOK_REQUIRE_SIGNATURE` is set.
fn check_signature(
    session_key: Option<&str>,
    global_key_set: bool,
    require: bool,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), ApiError> {
    let invalid = || {
        err(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "Invalid signature",
        )
    };
    match (session_key, signature) {
        (Some(key), Some(sig)) if verify_signature(key.as_bytes(), body, sig) => Ok(()),
        (Some(_), Some(_)) => Err(invalid()),
        (None, Some(_)) if global_key_set => Err(invalid()),
        (Some(_), None) => Err(err(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "Missing signature",
        )),
        (None, None) if global_key_set => Err(err(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "Missing signature",
        )),
        (None, _) if require => {
            tracing::error!("WEBHOOK_REQUIRE_SIGNATURE is set but no key applies to this session");
            Err(err(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                "Signature cannot be verified",
            ))
        }
        (None, _) => Ok(()),
    }
}

/// Receives one upstream event (upstream.md §6.2), stored before it is answered.
#[utoipa::path(
    post,
    path = "/webhook/wa",
    operation_id = "receive_webhook",
    tag = "webhook",
    params(("x-hmac-signature" = Option<String>, Header, description = "Hex HMAC-SHA256 of the body; required when `WEBHOOK_HMAC_KEY` is set")),
    request_body(content = Object, description = "The upstream's event: JSON `{\"type\", \"event\", ...}`, or a form with `jsonData`", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or a redelivery, ignored)", body = WebhookAccepted),
        (status = 400, description = "Not a valid event", body = ErrorBody),
        (status = 401, description = "Missing or invalid signature", body = ErrorBody),
        (status = 413, description = "Body over `WEBHOOK_MAX_BODY_BYTES`", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
pub async fn receive(
    state: web::Data<AppState>,
    intake: web::Data<WorkerIntake>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings;
    let body = read_body(&req, payload, settings.webhook_max_body_bytes).await?;
    // A signature made with the global key is checked first, over the received bytes; the
    // session's own key needs the session, so the body is parsed (never stored) before that.
    let signature = req
        .headers()
        .get("x-hmac-signature")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let global_key = settings.webhook_hmac_key.as_ref();
    let global_ok = match (global_key, signature) {
        (Some(key), Some(sig)) => verify_signature(key.expose_secret().as_bytes(), &body, sig),
        _ => false,
    };
    let raw = std::str::from_utf8(&body)
        .ok()
        // A raw 0 byte is valid in neither format, and PostgreSQL text cannot store it.
        .filter(|r| !r.contains('\0'))
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "invalid_body", "Invalid JSON data"))?;
    let env = parse_for_intake(&body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, "invalid_body", e.message()))?;
    let mut keys: Vec<String> = Vec::with_capacity(2);
    keys.extend(env.user_id.iter().cloned());
    keys.extend(env.instance_name.iter().cloned());
    let cache_key = (keys.clone(), env.token.clone());
    let session = match state.webhook_sessions.get(&cache_key).await {
        Some(s) => s,
        None => {
            let mut conn = state.db.transactional.get().await.map_err(db_err)?;
            let s = q::resolve_session(&mut conn, &keys, env.token.as_deref())
                .await
                .map_err(db_err)?;
            // Only known sessions are cached: a session registered a moment later is found.
            if s.is_some() {
                state.webhook_sessions.insert(cache_key, s.clone()).await;
            }
            s
        }
    };
    if !global_ok {
        let session_key = session.as_ref().and_then(|s| s.hmac_key.as_deref());
        check_signature(
            session_key,
            global_key.is_some(),
            settings.webhook_require_signature,
            &body,
            signature,
        )?;
    }
    let scope = session
        .as_ref()
        .map(|s| s.session_key.clone())
        .or_else(|| env.user_id.clone())
        .or_else(|| env.token.clone())
        .unwrap_or_default();
    let key = env.dedup_key(&scope);
    let event_data = if body.len() > EVENT_DATA_MAX {
        json!({"omitted": true, "bytes": body.len()}).to_string()
    } else {
        env.event_json
    };
    let session_id = session
        .as_ref()
        .map(|s| s.id.as_str())
        .or(env.user_id.as_deref());
    let new = OwnedEvent {
        event_type: env.kind.clone(),
        user_token: session
            .as_ref()
            .map(|s| s.token.clone())
            .or(env.token.clone()),
        event_data,
        raw_data: raw.to_string(),
        dedup_key: key,
        session_id: session_id.map(str::to_string),
        user_id: session.as_ref().and_then(|s| s.user_id.clone()),
        unknown_session: session.is_none(),
        received_at: Utc::now(),
    };
    // Group commit: answered after the batch holding this event is committed.
    let inserted = intake
        .0
        .send(Store(new))
        .await
        .map_err(|e| db_err(ApiError::internal(e)))?
        .map_err(|e| db_err(ApiError::internal(anyhow::anyhow!(e))))?;
    match inserted {
        // The intake wakes the router once per batch.
        Some(id) => tracing::debug!(id, event_type = %env.kind, "webhook stored"),
        None => tracing::info!(event_type = %env.kind, "webhook redelivery ignored"),
    }
    Ok(HttpResponse::Ok().json(json!({"status": "success"})))
}
