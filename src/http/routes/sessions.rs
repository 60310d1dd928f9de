//! `GET|PUT /bulk/sessions/{session_id}/settings`: a session's campaign send rate, its daily
//! send cap and its webhook signing key (upstream.md §6.3). Only the session's owner may read or
//! change them; the key is write-only.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::actors::sender_pool::SessionSettingsChanged;
use crate::db::models::GatewaySessionSetting;
use crate::db::queries::session_settings::{self as q, SettingsChange};
use crate::error::{ApiError, BulkErrorBody, ErrorBody};
use crate::http::extractors::AuthUser;
use crate::http::routes::invalid_request;
use crate::startup::AppState;

/// The largest daily cap accepted.
const DAILY_CAP_MAX: i64 = 10_000_000;
/// Webhook keys: the upstream's minimum length, and a sane maximum.
const HMAC_KEY_LEN: std::ops::RangeInclusive<usize> = 32..=512;

async fn owned_session(
    conn: &mut diesel_async::AsyncPgConnection,
    auth: &AuthUser,
    session: &str,
) -> Result<String, ApiError> {
    crate::db::queries::chats::owned_session(conn, &auth.user_id.0, session)
        .await?
        .map(|s| s.id)
        .ok_or_else(|| ApiError::not_found("session_not_found", "Session not found"))
}

async fn answer(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    session_id: &str,
    row: Option<GatewaySessionSetting>,
) -> Result<HttpResponse, ApiError> {
    let s = &state.settings;
    let rate = row.as_ref().and_then(|r| r.rate_per_sec);
    let cap = row.as_ref().and_then(|r| r.daily_cap);
    let effective_cap = cap.map(i64::from).or(s.send_daily_cap.map(i64::from));
    let zone = crate::domain::schedule::parse_zone(&s.default_timezone)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("DEFAULT_TIMEZONE does not parse")))?;
    let (day_start, day_end) = zone.day_bounds(Utc::now());
    let sent_today = q::sent_between(conn, session_id, day_start, day_end).await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": 200,
        "success": true,
        "data": {
            "session_id": session_id,
            "rate_per_sec": rate,
            "effective_rate_per_sec": rate.unwrap_or(s.send_rate_per_sec),
            "daily_cap": cap,
            "effective_daily_cap": effective_cap,
            "sent_today": sent_today,
            "day_started_at": day_start,
            "day_ends_at": day_end,
            "webhook_hmac_key_set": row.as_ref().is_some_and(|r| r.webhook_hmac_key.is_some()),
        }
    })))
}

/// A session's send settings (documentation of the answer).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SessionSettings {
    /// `"WhatsAppSession".id`
    session_id: String,
    /// The session's own rate (messages per second), `null` for the default.
    rate_per_sec: Option<f64>,
    /// The rate in force: its own or `SEND_RATE_PER_SEC` (0 = unlimited).
    effective_rate_per_sec: f64,
    /// The session's own daily cap, `null` for the default.
    daily_cap: Option<i32>,
    /// The cap in force: its own or `SEND_DAILY_CAP`; `null` = no cap.
    effective_daily_cap: Option<i64>,
    /// Campaign messages sent since `day_started_at`.
    sent_today: i64,
    day_started_at: chrono::DateTime<Utc>,
    day_ends_at: chrono::DateTime<Utc>,
    /// Whether a webhook signing key is set (the key itself is never shown).
    webhook_hmac_key_set: bool,
}

/// `{"code":200,"success":true,"data":{…}}`
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SessionSettingsResponse {
    code: u16,
    success: bool,
    data: SessionSettings,
}

/// A change of settings: each key optional; `null` returns to the default.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SessionSettingsChange {
    /// Messages per second, above 0 and at most `SESSION_RATE_MAX_PER_SEC`.
    rate_per_sec: Option<f64>,
    /// Campaign messages per local day (`DEFAULT_TIMEZONE`), 1 to 10,000,000.
    daily_cap: Option<i32>,
    /// The key the upstream signs this session's webhooks with (32 to 512 characters).
    webhook_hmac_key: Option<String>,
}

/// `GET /bulk/sessions/{session_id}/settings`
#[utoipa::path(
    get,
    path = "/bulk/sessions/{session_id}/settings",
    operation_id = "get_session_settings",
    tag = "sessions",
    params(("session_id" = String, Path, description = "The session's id or `sessionId`; must be one of the user's sessions")),
    responses(
        (status = 200, description = "The session's send settings", body = SessionSettingsResponse),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.db.transactional.get().await?;
    let id = owned_session(&mut conn, &auth, &path).await?;
    let row = q::get(&mut conn, &id).await?;
    answer(&state, &mut conn, &id, row).await
}

/// Reads the change: each key may be absent (kept), `null` (back to the default) or a value.
fn parse_change(body: Value, rate_max: f64) -> Result<SettingsChange, ApiError> {
    let Value::Object(map) = body else {
        return Err(invalid_request("the body must be a JSON object"));
    };
    let mut change = SettingsChange::default();
    let field = |m: &Map<String, Value>, k: &str| m.get(k).cloned();
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "rate_per_sec" | "daily_cap" | "webhook_hmac_key"
        ) {
            return Err(invalid_request(format!("unknown field `{key}`")));
        }
    }
    if let Some(v) = field(&map, "rate_per_sec") {
        change.rate_per_sec = Some(match v {
            Value::Null => None,
            Value::Number(n) => match n.as_f64() {
                Some(r) if r > 0.0 && r <= rate_max => Some(r),
                _ => {
                    return Err(invalid_request(format!(
                        "rate_per_sec must be above 0 and at most {rate_max}"
                    )))
                }
            },
            _ => return Err(invalid_request("rate_per_sec must be a number or null")),
        });
    }
    if let Some(v) = field(&map, "daily_cap") {
        change.daily_cap = Some(match v {
            Value::Null => None,
            Value::Number(n) => match n.as_i64() {
                Some(c) if (1..=DAILY_CAP_MAX).contains(&c) => Some(c as i32),
                _ => {
                    return Err(invalid_request(format!(
                        "daily_cap must be an integer from 1 to {DAILY_CAP_MAX}"
                    )))
                }
            },
            _ => return Err(invalid_request("daily_cap must be an integer or null")),
        });
    }
    if let Some(v) = field(&map, "webhook_hmac_key") {
        change.webhook_hmac_key = Some(match v {
            Value::Null => None,
            Value::String(k) if HMAC_KEY_LEN.contains(&k.len()) => Some(k),
            _ => {
                return Err(invalid_request(
                    "webhook_hmac_key must be a string of 32 to 512 characters or null",
                ))
            }
        });
    }
    Ok(change)
}

/// `PUT /bulk/sessions/{session_id}/settings`
/// `{"rate_per_sec": 2.5, "daily_cap": 1000, "webhook_hmac_key": "…"}` (each key optional;
/// `null` returns to the default).
#[utoipa::path(
    put,
    path = "/bulk/sessions/{session_id}/settings",
    operation_id = "update_session_settings",
    tag = "sessions",
    params(("session_id" = String, Path, description = "The session's id or `sessionId`; must be one of the user's sessions")),
    request_body(content = SessionSettingsChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The settings after the change", body = SessionSettingsResponse),
        (status = 400, description = "A bad value or an unknown key", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn put(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let change = parse_change(body.into_inner(), state.settings.session_rate_max_per_sec)?;
    let mut conn = state.db.transactional.get().await?;
    let id = owned_session(&mut conn, &auth, &path).await?;
    let key_changed = change.webhook_hmac_key.is_some();
    let row = q::update(&mut conn, &id, change).await?;
    if key_changed {
        // Other instances see the new key within ENTITLEMENT_CACHE_TTL_SECS.
        state.webhook_sessions.invalidate_all();
    }
    state
        .actors
        .senders
        .do_send(SessionSettingsChanged(id.clone()));
    answer(&state, &mut conn, &id, Some(row)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    #[test]
    fn changes_are_validated() {
        let c = parse_change(json!({"rate_per_sec": 2.5}), 20.0).unwrap();
        assert_eq!(c.rate_per_sec, Some(Some(2.5)));
        assert!(c.daily_cap.is_none() && c.webhook_hmac_key.is_none());
        let c = parse_change(json!({"rate_per_sec": null, "daily_cap": 10}), 20.0).unwrap();
        assert_eq!(c.rate_per_sec, Some(None));
        assert_eq!(c.daily_cap, Some(Some(10)));
        for bad in [
            json!({"rate_per_sec": 0}),
            json!({"rate_per_sec": 21}),
            json!({"rate_per_sec": "5"}),
            json!({"daily_cap": 0}),
            json!({"daily_cap": 1.5}),
            json!({"daily_cap": 1e12}),
            json!({"webhook_hmac_key": "short"}),
            json!({"webhook_hmac_key": 5}),
            json!({"rate": 5}),
            json!([1]),
        ] {
            let e = parse_change(bad.clone(), 20.0).unwrap_err();
            assert_eq!(e.status_code().as_u16(), 400, "{bad}");
        }
    }
}
