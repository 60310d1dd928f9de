//! The `/wa/*` gateway (contract §4.1, §4.2, §5): entitlement checks, then a streaming proxy to
//! the upstream over the one shared reqwest client.
//!
//! - Path and query are forwarded raw (as received, not decoded) and joined to the upstream base
//!   URL without doubling slashes.
//! - Hop-by-hop headers, `Host`, `Expect` and cookies are not forwarded; `X-Forwarded-For`
//!   (appended) and `X-Forwarded-Proto` are added; the resolved session token always goes
//!   upstream in the `token` header.
//! - Request bodies: a body with a known length up to [`SMALL_BODY`] is read then sent (cheaper
//!   for the typical JSON send); anything else is streamed. Either way more than
//!   `PROXY_MAX_BODY_BYTES` answers 413. Only `POST /chat/send/image` is read whole (the image
//!   rewrite of §5.3 needs it).
//! - Responses: status, every header value (repeated headers kept) except hop-by-hop ones, and
//!   the body streamed. Upstream redirects are relayed, not followed.
//! - Failures: connect error → 502 `Failed to reach WhatsApp server`; no answer within
//!   `PROXY_TIMEOUT_SECS` → 504 (the outcome is unknown).

pub mod entitlement;
pub mod stats;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::{ApiError, Envelope};
use crate::startup::AppState;

pub use entitlement::{Entitlement, Entitlements};
pub use stats::StatsRecorder;

/// The HTTP client of one actix worker for `/wa/*` (see `startup`); `AppState.http` serves
/// everything else.
pub struct ProxyHttp(pub reqwest::Client);

/// An HTTP client for the upstream: connect timeout, no redirects followed (they are relayed),
/// a large idle pool.
pub fn upstream_http_client(
    settings: &crate::config::Settings,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(settings.proxy_connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
}

/// Bodies with a known length up to this size are read before sending.
const SMALL_BODY: usize = 64 * 1024;

/// The token-checked groups (§6.1).
pub const GROUPS: [&str; 8] = [
    "session",
    "webhook",
    "chat",
    "user",
    "group",
    "newsletter",
    "status",
    "call",
];

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Admin,
    Open,
    Checked,
}

fn classify(tail: &str) -> Option<Route> {
    let rest = tail.strip_prefix('/')?;
    let group = rest.split('/').next().unwrap_or_default();
    if group == "admin" {
        return Some(Route::Admin);
    }
    if tail == "/webhook/events" || tail.starts_with("/webhook/events/") {
        return Some(Route::Open);
    }
    GROUPS.contains(&group).then_some(Route::Checked)
}

fn gw(status: StatusCode, code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(status, code, message).envelope(Envelope::Gateway)
}

/// §4.1 step 3 with defect 17 fixed: `token` header, then `Authorization` (with or without
/// `Bearer `), then `?token=`.
pub fn token_of(req: &HttpRequest) -> Option<String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(t) = header("token") {
        return Some(t.to_string());
    }
    if let Some(a) = header("authorization") {
        let t = a.strip_prefix("Bearer ").unwrap_or(a).trim();
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    let q = req.uri().query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, v)| k == "token" && !v.is_empty())
        .map(|(_, v)| v)
}

/// Whether `ip` is in the allow-list (entries are addresses or CIDR blocks).
pub fn ip_allowed(list: &[String], ip: IpAddr) -> bool {
    list.iter().any(|entry| match entry.split_once('/') {
        None => entry.parse::<IpAddr>().is_ok_and(|a| a == ip),
        Some((net, bits)) => {
            let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
                return false;
            };
            match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    u32::from(n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    u128::from(n) & mask == u128::from(a) & mask
                }
                _ => false,
            }
        }
    })
}

/// Every method of `/wa` and `/wa/*`.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match serve(&req, payload, &state).await {
        Ok(r) => r,
        Err(e) => e.error_response(),
    }
}

async fn serve(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let tail = req.uri().path().strip_prefix("/wa").unwrap_or_default();
    let Some(route) = classify(tail) else {
        return Ok(crate::http::not_found().await);
    };
    match route {
        Route::Admin => {
            let peer = req.peer_addr().map(|a| a.ip());
            let allowed = state.settings.admin_allowed_ips.is_empty()
                || peer.is_some_and(|ip| ip_allowed(&state.settings.admin_allowed_ips, ip));
            tracing::info!(
                target: "audit",
                method = %req.method(),
                path = %tail,
                peer = ?peer,
                allowed,
                "admin pass-through"
            );
            if !allowed {
                return Err(gw(
                    StatusCode::FORBIDDEN,
                    "admin_forbidden",
                    "admin access not allowed from this address",
                ));
            }
            let resp = send(state, req, tail, None, body_of(req, payload, state).await?).await?;
            tracing::info!(target: "audit", status = resp.status().as_u16(), "admin pass-through answered");
            Ok(relay(resp))
        }
        Route::Open => {
            let resp = send(state, req, tail, None, body_of(req, payload, state).await?).await?;
            Ok(relay(resp))
        }
        Route::Checked => checked(req, payload, state, tail).await,
    }
}

async fn checked(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    tail: &str,
) -> Result<HttpResponse, ApiError> {
    let token = token_of(req)
        .ok_or_else(|| gw(StatusCode::UNAUTHORIZED, "token_required", "Token required"))?;
    let ent = state
        .entitlements
        .check(&state.db.transactional, &token)
        .await?;
    let method = req.method();
    let counted = stats::counted_kind(method, tail);
    let started = Instant::now();
    let resp = if method == actix_web::http::Method::POST && tail == "/chat/send/image" {
        let body = read_all(payload, state.settings.proxy_max_body_bytes).await?;
        let body = inline_image(state, body).await?;
        send(state, req, tail, Some(&token), Body::Full(body)).await?
    } else if method == actix_web::http::Method::POST && tail == "/session/connect" {
        let body = body_of(req, payload, state).await?;
        let db = state.db.transactional.clone();
        let token2 = token.clone();
        let prepared = prepare(state, req, tail, Some(&token2), body);
        entitlement::connect_with_limit(&db, &ent, move || dispatch(prepared)).await?
    } else {
        send(
            state,
            req,
            tail,
            Some(&token),
            body_of(req, payload, state).await?,
        )
        .await?
    };
    if let Some(kind) = counted {
        state.stats.record(stats::Hit {
            user_id: ent.user_id.clone(),
            session_key: ent.session_key.clone(),
            kind,
            success: resp.status().is_success(),
        });
    }
    tracing::debug!(
        method = %method,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "proxied"
    );
    Ok(relay(resp))
}

/// A request body on its way upstream.
enum Body {
    Empty,
    Full(Bytes),
    Stream {
        body: reqwest::Body,
        over_cap: Arc<AtomicBool>,
    },
}

fn too_large() -> ApiError {
    gw(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "Request body too large",
    )
}

async fn read_all(mut payload: web::Payload, cap: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            gw(
                StatusCode::BAD_REQUEST,
                "body_read_failed",
                "Failed to read request body",
            )
        })?;
        if buf.len() + chunk.len() > cap {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

async fn body_of(
    req: &HttpRequest,
    mut payload: web::Payload,
    state: &AppState,
) -> Result<Body, ApiError> {
    let cap = state.settings.proxy_max_body_bytes;
    let len = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = req.headers().contains_key("transfer-encoding");
    match len {
        Some(n) if n > cap => return Err(too_large()),
        Some(0) => return Ok(Body::Empty),
        None if !chunked => return Ok(Body::Empty),
        Some(n) if n <= SMALL_BODY && !chunked => {
            return Ok(Body::Full(read_all(payload, cap).await?))
        }
        _ => {}
    }
    // Stream: the actix payload is not Send, so a local task feeds a channel.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let over_cap = Arc::new(AtomicBool::new(false));
    let flag = over_cap.clone();
    actix_web::rt::spawn(async move {
        let mut total = 0usize;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(b) => {
                    total += b.len();
                    if total > cap {
                        flag.store(true, Ordering::SeqCst);
                        let _ = tx
                            .send(Err(std::io::Error::other("request body too large")))
                            .await;
                        return;
                    }
                    Ok(b)
                }
                Err(_) => Err(std::io::Error::other("request body read failed")),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    Ok(Body::Stream {
        body: reqwest::Body::wrap_stream(stream),
        over_cap,
    })
}

/// A request ready to be sent, plus what is needed to classify its failure.
struct Prepared {
    builder: Result<reqwest::RequestBuilder, ApiError>,
    over_cap: Option<Arc<AtomicBool>>,
    /// The metrics label of the upstream path.
    endpoint: &'static str,
}

fn prepare(
    state: &AppState,
    req: &HttpRequest,
    tail: &str,
    token: Option<&str>,
    body: Body,
) -> Prepared {
    let mut path_and_query = tail.to_string();
    if let Some(q) = req.uri().query() {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    let url = crate::upstream::join_url(state.client.base(), &path_and_query);
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return Prepared {
            builder: Err(gw(
                StatusCode::INTERNAL_SERVER_ERROR,
                "request_build_failed",
                "Failed to create request",
            )),
            over_cap: None,
            endpoint: crate::metrics::upstream_endpoint(tail),
        };
    };
    let mut headers = reqwest::header::HeaderMap::with_capacity(req.headers().len() + 3);
    let connection_named: Vec<String> = req
        .headers()
        .get_all("connection")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let full_body = matches!(body, Body::Full(_));
    for (name, value) in req.headers().iter() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || matches!(n, "host" | "cookie" | "expect" | "x-forwarded-proto")
            || (n == "token" && token.is_some())
            || (n == "content-length" && full_body)
            || connection_named.iter().any(|c| c == n)
        {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(n.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(k, v);
        }
    }
    if let Some(t) = token {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(t) {
            headers.insert("token", v);
        }
    }
    if let Some(peer) = req.peer_addr() {
        let ip = peer.ip().to_string();
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => format!("{prev}, {ip}"),
            None => ip,
        };
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&xff) {
            headers.insert("x-forwarded-for", v);
        }
    }
    let proto = req.connection_info().scheme().to_string();
    if let Ok(v) = reqwest::header::HeaderValue::from_str(&proto) {
        headers.insert("x-forwarded-proto", v);
    }
    let http = req
        .app_data::<web::Data<ProxyHttp>>()
        .map_or(&state.http, |p| &p.0);
    let mut builder = http
        .request(method, url)
        .headers(headers)
        .timeout(state.settings.proxy_timeout);
    let mut over_cap = None;
    match body {
        Body::Empty => {}
        Body::Full(b) => builder = builder.body(b),
        Body::Stream { body, over_cap: f } => {
            builder = builder.body(body);
            over_cap = Some(f);
        }
    }
    Prepared {
        builder: Ok(builder),
        over_cap,
        endpoint: crate::metrics::upstream_endpoint(tail),
    }
}

async fn dispatch(p: Prepared) -> Result<reqwest::Response, ApiError> {
    let builder = p.builder?;
    let started = Instant::now();
    let result = builder.send().await;
    crate::metrics::proxied(p.endpoint, started, &result);
    result.map_err(|e| {
        if p.over_cap
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            too_large()
        } else if e.is_timeout() {
            gw(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "WhatsApp server did not answer in time; the outcome is unknown",
            )
        } else {
            tracing::warn!(connect = e.is_connect(), "upstream request failed");
            gw(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                "Failed to reach WhatsApp server",
            )
        }
    })
}

async fn send(
    state: &AppState,
    req: &HttpRequest,
    tail: &str,
    token: Option<&str>,
    body: Body,
) -> Result<reqwest::Response, ApiError> {
    dispatch(prepare(state, req, tail, token, body)).await
}

/// Relays the upstream's answer: status, headers (every value), body streamed.
fn relay(resp: reqwest::Response) -> HttpResponse {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut b = HttpResponse::build(status);
    for (name, value) in resp.headers() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n == "content-length" {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            b.append_header((k, v));
        }
    }
    if let Some(len) = resp.content_length() {
        b.no_chunking(len);
    }
    b.streaming(resp.bytes_stream())
}

/// §5.3 with defects 9 and 10 fixed: only the `Image` value (key matched case-insensitively)
/// is replaced by a data URI; every other key is kept. Bodies that are not a JSON object, or
/// whose `Image` is empty, a `data:` URI or not an http(s) URL, are forwarded unchanged.
async fn inline_image(state: &AppState, body: Bytes) -> Result<Bytes, ApiError> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&body) else {
        return Ok(body);
    };
    let Some(key) = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case("image"))
        .cloned()
    else {
        return Ok(body);
    };
    let url = match map.get(&key) {
        Some(Value::String(s))
            if !s.is_empty()
                && !s.starts_with("data:")
                && (s.starts_with("http://") || s.starts_with("https://"))
                && url::Url::parse(s).is_ok() =>
        {
            s.clone()
        }
        _ => return Ok(body),
    };
    let data = crate::http::image::fetch_as_data_uri(state, &url)
        .await
        .map_err(|e| {
            ApiError::bad_request(
                "image_processing_failed",
                format!("Failed to process image: {e}"),
            )
            .envelope(Envelope::Gateway)
        })?;
    map.insert(key, Value::String(data));
    serde_json::to_vec(&Value::Object(map))
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e).envelope(Envelope::Gateway))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified() {
        assert_eq!(classify("/admin"), Some(Route::Admin));
        assert_eq!(classify("/admin/users"), Some(Route::Admin));
        assert_eq!(classify("/webhook/events"), Some(Route::Open));
        assert_eq!(classify("/webhook/events/x"), Some(Route::Open));
        assert_eq!(classify("/webhook"), Some(Route::Checked));
        assert_eq!(classify("/chat/send/text"), Some(Route::Checked));
        assert_eq!(classify("/call/reject"), Some(Route::Checked));
        assert_eq!(classify("/chats"), None);
        assert_eq!(classify(""), None);
        assert_eq!(classify("/"), None);
        assert_eq!(classify("/adminx"), None);
    }

    #[test]
    fn allow_list_matches_addresses_and_blocks() {
        let l = vec![
            "10.0.0.0/8".to_string(),
            "127.0.0.1".to_string(),
            "::1/128".to_string(),
        ];
        assert!(ip_allowed(&l, "10.2.3.4".parse().unwrap()));
        assert!(ip_allowed(&l, "127.0.0.1".parse().unwrap()));
        assert!(ip_allowed(&l, "::1".parse().unwrap()));
        assert!(!ip_allowed(&l, "11.0.0.1".parse().unwrap()));
        assert!(!ip_allowed(&l, "127.0.0.2".parse().unwrap()));
    }
}
