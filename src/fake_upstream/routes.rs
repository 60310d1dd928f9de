//! The upstream's HTTP surface: one dispatcher (so that unknown paths and wrong methods answer
//! the upstream's plain-text 404), auth, latency/fault handling and the per-route handlers.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::faults::FaultKind;
use super::state::{lock, random_message_id, Inner, UserView};
use super::webhooks::{
    self, filter_known_events, go_json, message_sent_event, rfc3339, schedule_after_send, QR_PNG,
};
use super::{admin, body_digest, control, SentMessage};

/// Request body limit (data URIs can be large).
pub(crate) const MAX_BODY: usize = 128 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Responses

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON body as the upstream writes it (Go encoding, trailing newline).
pub(crate) fn json_response(code: u16, content_type: &str, v: &Value) -> HttpResponse {
    let mut s = go_json(v);
    s.push('\n');
    HttpResponse::build(status(code))
        .content_type(content_type.to_string())
        .body(s)
}

/// `{"code":200,"data":…,"success":true}`
pub(crate) fn ok(data: Value) -> HttpResponse {
    json_response(
        200,
        "application/json",
        &json!({"code": 200, "data": data, "success": true}),
    )
}

/// `{"code":N,"error":"…","success":false}`
pub(crate) fn error(code: u16, msg: &str) -> HttpResponse {
    json_response(
        code,
        "application/json",
        &json!({"code": code, "error": msg, "success": false}),
    )
}

/// A bare object (no envelope), e.g. the HMAC config answers.
fn bare(v: Value) -> HttpResponse {
    json_response(200, "application/json", &v)
}

pub(crate) fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body("404 page not found\n")
}

/// A response whose body fails before its first byte: actix then closes the connection without
/// writing anything, so the client sees a connection closed with no answer.
fn dropped() -> HttpResponse {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fake upstream: connection dropped"))
    });
    HttpResponse::Ok().streaming(stream)
}

fn unauthorized() -> HttpResponse {
    error(401, "unauthorized")
}

fn no_session() -> HttpResponse {
    error(500, "no session")
}

// ---------------------------------------------------------------------------------------------
// Entry point

/// The user token: header `token` (any case), else query `token`.
fn request_token(req: &HttpRequest) -> String {
    if let Some(t) = req.headers().get("token").and_then(|v| v.to_str().ok()) {
        if !t.is_empty() {
            return t.to_string();
        }
    }
    let qs = req.query_string();
    if qs.is_empty() {
        return String::new();
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(qs)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "token"))
        .map(|(_, v)| v)
        .unwrap_or_default()
}

pub(crate) fn query_param(req: &HttpRequest, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == key))
        .map(|(_, v)| v)
}

pub(crate) async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let inner: &Inner = &inner;
    if req.path() == "/__fake" || req.path().starts_with("/__fake/") {
        return control::handle(inner, &req, &body).await;
    }
    let token = request_token(&req);
    let tok = (!token.is_empty()).then_some(token.as_str());
    if let Some(d) = inner.faults.latency(req.path(), tok) {
        tokio::time::sleep(d).await;
    }
    match inner.faults.take(req.path(), tok) {
        None => route(inner, &req, &token, &body).await,
        Some(FaultKind::NoSession) => no_session(),
        Some(FaultKind::SendError) => error(500, "error sending message: websocket not connected"),
        Some(FaultKind::Unauthorized) => unauthorized(),
        Some(FaultKind::TooManyRequests) => error(429, "rate limited"),
        Some(FaultKind::DropConnection) => dropped(),
        Some(FaultKind::Hang(d)) => {
            tokio::time::sleep(d).await;
            route(inner, &req, &token, &body).await
        }
        Some(FaultKind::SentButAnswerLost) => {
            let _ = route(inner, &req, &token, &body).await;
            dropped()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendKind {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contact,
    Buttons,
    List,
    Poll,
    Edit,
}

impl SendKind {
    fn from_path(s: &str) -> Option<SendKind> {
        Some(match s {
            "text" => SendKind::Text,
            "image" => SendKind::Image,
            "video" => SendKind::Video,
            "audio" => SendKind::Audio,
            "document" => SendKind::Document,
            "sticker" => SendKind::Sticker,
            "location" => SendKind::Location,
            "contact" => SendKind::Contact,
            "buttons" => SendKind::Buttons,
            "list" => SendKind::List,
            "poll" => SendKind::Poll,
            "edit" => SendKind::Edit,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SendKind::Text => "text",
            SendKind::Image => "image",
            SendKind::Video => "video",
            SendKind::Audio => "audio",
            SendKind::Document => "document",
            SendKind::Sticker => "sticker",
            SendKind::Location => "location",
            SendKind::Contact => "contact",
            SendKind::Buttons => "buttons",
            SendKind::List => "list",
            SendKind::Poll => "poll",
            SendKind::Edit => "edit",
        }
    }
}

enum UserRoute {
    Connect,
    Disconnect,
    Logout,
    Status,
    Qr,
    PairPhone,
    HistoryGet,
    HistoryPost,
    Proxy,
    S3(Method),
    S3Test,
    Hmac(Method),
    Webhook(Method),
    Send(SendKind),
    ChatDelete,
    ChatReact,
    MarkRead,
    ChatPresence,
    Download(String),
    ChatHistory,
    RequestUnavailable,
    Archive,
    UserCheck,
    UserInfo,
    UserAvatar,
    UserContacts,
    UserLid(String),
    UserPresence,
    Group(String),
    NewsletterList,
    StatusText,
    CallReject,
}

fn user_route(method: &Method, path: &str) -> Option<UserRoute> {
    let get = method == Method::GET;
    let post = method == Method::POST;
    let r = match path {
        "/session/connect" if post => UserRoute::Connect,
        "/session/disconnect" if post => UserRoute::Disconnect,
        "/session/logout" if post => UserRoute::Logout,
        "/session/status" if get => UserRoute::Status,
        "/session/qr" if get => UserRoute::Qr,
        "/session/pairphone" if post => UserRoute::PairPhone,
        "/session/history" if get => UserRoute::HistoryGet,
        "/session/history" if post => UserRoute::HistoryPost,
        "/session/proxy" if post => UserRoute::Proxy,
        "/session/s3/config" if post || get || method == Method::DELETE => {
            UserRoute::S3(method.clone())
        }
        "/session/s3/test" if post => UserRoute::S3Test,
        "/session/hmac/config" if post || get || method == Method::DELETE => {
            UserRoute::Hmac(method.clone())
        }
        "/webhook" if post || get || method == Method::PUT || method == Method::DELETE => {
            UserRoute::Webhook(method.clone())
        }
        "/chat/delete" if post => UserRoute::ChatDelete,
        "/chat/react" if post => UserRoute::ChatReact,
        "/chat/markread" if post => UserRoute::MarkRead,
        "/chat/presence" if post => UserRoute::ChatPresence,
        "/chat/history" if get => UserRoute::ChatHistory,
        "/chat/request-unavailable-message" if post => UserRoute::RequestUnavailable,
        "/chat/archive" if post => UserRoute::Archive,
        "/user/check" if post => UserRoute::UserCheck,
        "/user/info" if post => UserRoute::UserInfo,
        "/user/avatar" if post => UserRoute::UserAvatar,
        "/user/contacts" if get => UserRoute::UserContacts,
        "/user/presence" if post => UserRoute::UserPresence,
        "/newsletter/list" if get => UserRoute::NewsletterList,
        "/status/set/text" if post => UserRoute::StatusText,
        "/call/reject" if post => UserRoute::CallReject,
        _ => {
            if let Some(kind) = path.strip_prefix("/chat/send/") {
                return post
                    .then_some(())
                    .and(SendKind::from_path(kind).map(UserRoute::Send));
            }
            if let Some(kind) = path.strip_prefix("/chat/download") {
                let ok = matches!(kind, "image" | "video" | "audio" | "document" | "sticker");
                return (post && ok).then(|| UserRoute::Download(kind.to_string()));
            }
            if let Some(jid) = path.strip_prefix("/user/lid/") {
                return (get && !jid.is_empty() && !jid.contains('/'))
                    .then(|| UserRoute::UserLid(jid.to_string()));
            }
            if let Some(g) = path.strip_prefix("/group/") {
                let ok = match g {
                    "list" | "info" | "invitelink" => get,
                    "create" | "photo" | "photo/remove" | "leave" | "name" | "topic"
                    | "announce" | "locked" | "ephemeral" | "join" | "inviteinfo"
                    | "updateparticipants" => post,
                    _ => false,
                };
                return ok.then(|| UserRoute::Group(g.to_string()));
            }
            return None;
        }
    };
    Some(r)
}

async fn route(inner: &Inner, req: &HttpRequest, token: &str, body: &[u8]) -> HttpResponse {
    let method = req.method();
    let path = req.path();
    if (method == Method::GET || method == Method::HEAD) && path == "/health" {
        return health(inner);
    }
    if method == Method::GET && path == "/webhook/events" {
        return webhook_events(req);
    }
    if path == "/admin/users" || path.starts_with("/admin/users/") {
        return admin::handle(inner, req, body);
    }
    let Some(r) = user_route(method, path) else {
        return not_found();
    };
    let Some(user) = inner.view(token) else {
        return unauthorized();
    };
    match r {
        UserRoute::Connect => connect(inner, &user, body).await,
        UserRoute::Disconnect => disconnect(inner, &user),
        UserRoute::Logout => logout(inner, &user),
        UserRoute::Status => session_status(inner, &user),
        UserRoute::Qr => qr(&user),
        UserRoute::PairPhone => pair_phone(&user, body),
        UserRoute::HistoryGet => session_history_get(&user),
        UserRoute::HistoryPost => session_history_post(inner, &user, body),
        UserRoute::Proxy => proxy(inner, &user, body),
        UserRoute::S3(m) => s3_config(&m, body),
        UserRoute::S3Test => ok(json!({"Details": "S3 connection test successful"})),
        UserRoute::Hmac(m) => hmac_config(inner, &user, &m, body),
        UserRoute::Webhook(m) => webhook_config(inner, &user, &m, body),
        UserRoute::Send(kind) => send(inner, &user, kind, body),
        UserRoute::ChatDelete => chat_delete(&user, body),
        UserRoute::ChatReact => chat_react(&user, body),
        UserRoute::MarkRead => mark_read(&user, body),
        UserRoute::ChatPresence => chat_presence(&user, body),
        UserRoute::Download(kind) => download(&user, &kind, body),
        UserRoute::ChatHistory => chat_history(inner, &user),
        UserRoute::RequestUnavailable => session_ok(&user, json!({"Details": "Request sent"})),
        UserRoute::Archive => {
            session_ok(&user, json!({"message": "Chat archived", "success": true}))
        }
        UserRoute::UserCheck => user_check(inner, &user, body),
        UserRoute::UserInfo => user_info(&user, body),
        UserRoute::UserAvatar => user_avatar(&user, body),
        UserRoute::UserContacts => user_contacts(inner, &user),
        UserRoute::UserLid(jid) => user_lid(&user, &jid),
        UserRoute::UserPresence => user_presence(&user, body),
        UserRoute::Group(g) => group(&user, &g, req, body),
        UserRoute::NewsletterList => session_ok(&user, json!({"Newsletter": []})),
        UserRoute::StatusText => status_text(&user, body),
        UserRoute::CallReject => call_reject(&user, body),
    }
}

// ---------------------------------------------------------------------------------------------
// Payload decoding (canonical keys only, Go-like type checks)

#[derive(Debug, Clone, Copy)]
pub(crate) enum T {
    Str,
    Bool,
    Num,
    Obj,
    ObjArr,
    StrArr,
}

fn type_ok(v: &Value, t: T) -> bool {
    match t {
        T::Str => v.is_string(),
        T::Bool => v.is_boolean(),
        T::Num => v.is_number(),
        T::Obj => v.is_object(),
        T::ObjArr => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_object() || x.is_null())),
        T::StrArr => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_string() || x.is_null())),
    }
}

/// Decodes a JSON object and checks the types of the listed keys (null = absent). Also checks
/// the inner types of a `ContextInfo` object.
pub(crate) fn decode(body: &[u8], fields: &[(&str, T)]) -> Result<Map<String, Value>, ()> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ())?;
    let Value::Object(m) = v else { return Err(()) };
    for (k, t) in fields {
        if let Some(v) = m.get(*k) {
            if !v.is_null() && !type_ok(v, *t) {
                return Err(());
            }
        }
    }
    if let Some(Value::Object(ci)) = m.get("ContextInfo") {
        let inner_fields: &[(&str, T)] = &[
            ("StanzaID", T::Str),
            ("StanzaId", T::Str),
            ("Participant", T::Str),
            ("MentionedJID", T::StrArr),
            ("IsForwarded", T::Bool),
        ];
        for (k, t) in inner_fields {
            if let Some(v) = ci.get(*k) {
                if !v.is_null() && !type_ok(v, *t) {
                    return Err(());
                }
            }
        }
    }
    Ok(m)
}

pub(crate) fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn opt_s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn num(m: &Map<String, Value>, k: &str) -> f64 {
    m.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

fn bool_or(m: &Map<String, Value>, k: &str, default: bool) -> bool {
    m.get(k).and_then(Value::as_bool).unwrap_or(default)
}

fn str_list(m: &Map<String, Value>, k: &str) -> Option<Vec<String>> {
    m.get(k).and_then(Value::as_array).map(|a| {
        a.iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect()
    })
}

const KNOWN_SERVERS: &[&str] = &[
    "s.whatsapp.net",
    "c.us",
    "g.us",
    "lid",
    "broadcast",
    "newsletter",
    "call",
    "hosted",
    "hosted.lid",
    "bot",
    "msgr",
    "interop",
];

/// A `Phone` value to a recipient JID (§1): digits (one `+` stripped) or a valid JID.
pub(crate) fn parse_phone(p: &str) -> Result<String, ()> {
    let Some((user, server)) = p.split_once('@') else {
        let d = p.strip_prefix('+').unwrap_or(p);
        return Ok(format!("{d}@s.whatsapp.net"));
    };
    if user.is_empty() || server.contains('@') || !KNOWN_SERVERS.contains(&server) {
        return Err(());
    }
    if let Some((u, device)) = user.split_once(':') {
        if u.is_empty() || device.parse::<u16>().is_err() {
            return Err(());
        }
    }
    Ok(p.to_string())
}

/// The `ContextInfo` pair check: `(StanzaID, Participant)` if a reply reference is complete.
fn check_context(m: &Map<String, Value>) -> Result<Option<(String, String)>, &'static str> {
    let Some(Value::Object(ci)) = m.get("ContextInfo") else {
        return Ok(None);
    };
    let stanza = opt_s(ci, "StanzaID").or_else(|| opt_s(ci, "StanzaId"));
    let participant = opt_s(ci, "Participant");
    match (stanza, participant) {
        (Some(_), None) => Err("missing Participant in ContextInfo"),
        (None, Some(_)) => Err("missing StanzaID in ContextInfo"),
        (Some(st), Some(p)) => Ok(Some((st.to_string(), p.to_string()))),
        (None, None) => Ok(None),
    }
}

/// Decodes a `data:` URI: (media type, bytes). Err for a missing comma or bad base64.
fn decode_data_uri(s: &str) -> Result<(String, Vec<u8>), ()> {
    let rest = s.strip_prefix("data:").ok_or(())?;
    let (meta, data) = rest.split_once(',').ok_or(())?;
    let mime = meta.split(';').next().unwrap_or("").to_string();
    if meta.ends_with(";base64") {
        let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|_| ())?;
        Ok((mime, bytes))
    } else {
        Ok((mime, data.as_bytes().to_vec()))
    }
}

/// JPEG, PNG, GIF or WebP by magic bytes.
fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && url::Url::parse(s).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Unauthenticated

fn health(inner: &Inner) -> HttpResponse {
    let (total, connected, logged_in) = {
        let users = lock(&inner.users);
        (
            users.len(),
            users.values().filter(|r| r.user.connected).count(),
            users
                .values()
                .filter(|r| r.user.connected && r.user.logged_in)
                .count(),
        )
    };
    let up = inner.started.elapsed().as_secs();
    json_response(
        200,
        "application/json",
        &json!({
            "active_connections": connected,
            "connected_users": connected,
            "goroutines": 12 + 4 * connected,
            "logged_in_users": logged_in,
            "memory_stats": {"alloc_mb": 8, "num_gc": 3, "sys_mb": 24, "total_alloc_mb": 16},
            "status": "ok",
            "timestamp": rfc3339(Utc::now()),
            "total_users": total,
            "uptime": format!("{}h{}m{}s", up / 3600, (up / 60) % 60, up % 60),
            "version": "1.0.5",
        }),
    )
}

fn webhook_events(req: &HttpRequest) -> HttpResponse {
    if query_param(req, "active").as_deref() == Some("true") {
        return ok(json!({"events": webhooks::ACTIVE_EVENTS, "status": "active_only"}));
    }
    ok(json!({
        "active_events": webhooks::ACTIVE_EVENTS,
        "all_supported_events": webhooks::SUPPORTED_EVENTS,
        "not_implemented_events": webhooks::not_implemented_events(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Session

async fn connect(inner: &Inner, user: &UserView, body: &[u8]) -> HttpResponse {
    let m = match decode(body, &[("Subscribe", T::StrArr), ("Immediate", T::Bool)]) {
        Ok(m) => m,
        Err(()) => return error(400, "could not decode Payload"),
    };
    let subscribe = str_list(&m, "Subscribe").unwrap_or_default();
    let events = filter_known_events(subscribe.iter().map(String::as_str));
    let immediate = bool_or(&m, "Immediate", false);
    let (logged_in, jid, webhook, events_str) = {
        let mut users = lock(&inner.users);
        let Some(rec) = users.get_mut(&user.token) else {
            return unauthorized();
        };
        if rec.user.connected {
            return error(500, "already connected");
        }
        rec.user.connected = true;
        rec.user.events = events;
        (
            rec.user.logged_in,
            rec.jid(),
            rec.user.webhook.clone(),
            rec.user.events.join(","),
        )
    };
    if logged_in {
        inner.enqueue(&user.token, webhooks::connected_event(), Duration::ZERO);
    } else {
        inner.enqueue(&user.token, webhooks::qr_event(), Duration::ZERO);
    }
    if !immediate {
        tokio::time::sleep(inner.config.connect_wait).await;
    }
    ok(json!({"details": "Connected!", "events": events_str, "jid": jid, "webhook": webhook}))
}

fn disconnect(inner: &Inner, user: &UserView) -> HttpResponse {
    let mut users = lock(&inner.users);
    match users.get_mut(&user.token) {
        Some(rec) if rec.user.connected => {
            rec.user.connected = false;
            rec.user.events.clear();
            ok(json!({"Details": "Disconnected"}))
        }
        _ => no_session(),
    }
}

fn logout(inner: &Inner, user: &UserView) -> HttpResponse {
    let mut users = lock(&inner.users);
    match users.get_mut(&user.token) {
        Some(rec) if rec.user.connected && rec.user.logged_in => {
            rec.user.connected = false;
            rec.user.logged_in = false;
            rec.user.events.clear();
            ok(json!({"Details": "Logged out"}))
        }
        Some(rec) if rec.user.connected => error(500, "could not perform logout"),
        _ => no_session(),
    }
}

fn session_status(inner: &Inner, user: &UserView) -> HttpResponse {
    let users = lock(&inner.users);
    let Some(rec) = users.get(&user.token) else {
        return unauthorized();
    };
    let u = &rec.user;
    ok(json!({
        "connected": u.connected,
        "loggedIn": u.connected && u.logged_in,
        "events": u.events.join(","),
        "hmac_configured": u.hmac_key.as_deref().is_some_and(|k| !k.is_empty()),
        "history": rec.history.to_string(),
        "id": u.id,
        "jid": rec.jid(),
        "name": u.name,
        "proxy_config": {"enabled": rec.proxy_enabled, "proxy_url": rec.proxy_url},
        "proxy_url": rec.proxy_url,
        "qrcode": if u.connected && !u.logged_in { QR_PNG } else { "" },
        "s3_config": s3_default(),
        "token": u.token,
        "webhook": u.webhook,
    }))
}

pub(crate) fn s3_default() -> Value {
    json!({"access_key": "***", "bucket": "", "enabled": false, "endpoint": "", "media_delivery": "base64", "path_style": false, "public_url": "", "region": "", "retention_days": 0})
}

fn qr(user: &UserView) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    if user.logged_in {
        return error(500, "already logged in");
    }
    ok(json!({"QRCode": QR_PNG}))
}

fn pair_phone(user: &UserView, body: &[u8]) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let Ok(m) = decode(body, &[("Phone", T::Str)]) else {
        return error(400, "could not decode Payload");
    };
    if s(&m, "Phone").is_empty() {
        return error(400, "missing Phone in Payload");
    }
    if user.logged_in {
        return error(500, "already logged in");
    }
    ok(json!({"LinkingCode": "FAKE-C0DE"}))
}

fn session_history_get(user: &UserView) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    ok(json!({"Details": "History sync request sent"}))
}

fn session_history_post(inner: &Inner, user: &UserView, body: &[u8]) -> HttpResponse {
    let Ok(m) = decode(body, &[("history", T::Num)]) else {
        return error(400, "could not decode payload");
    };
    let n = num(&m, "history").max(0.0) as i64;
    if let Some(rec) = lock(&inner.users).get_mut(&user.token) {
        rec.history = n;
    }
    ok(json!({"Details": "History configured successfully", "History": n}))
}

fn proxy(inner: &Inner, user: &UserView, body: &[u8]) -> HttpResponse {
    let Ok(m) = decode(body, &[("proxy_url", T::Str), ("enable", T::Bool)]) else {
        return error(400, "could not decode payload");
    };
    if user.connected {
        return error(
            400,
            "cannot set proxy while connected. Please disconnect first",
        );
    }
    let url = s(&m, "proxy_url").to_string();
    let enable = bool_or(&m, "enable", false);
    if let Some(rec) = lock(&inner.users).get_mut(&user.token) {
        rec.proxy_enabled = enable;
        rec.proxy_url = if enable { url.clone() } else { String::new() };
    }
    ok(json!({"Details": "Proxy configured successfully", "ProxyURL": url}))
}

fn s3_config(method: &Method, body: &[u8]) -> HttpResponse {
    if method == Method::GET {
        return ok(s3_default());
    }
    if method == Method::DELETE {
        return ok(json!({"Details": "S3 configuration deleted successfully"}));
    }
    match decode(body, &[]) {
        Ok(m) => ok(
            json!({"Details": "S3 configuration saved successfully", "Enabled": bool_or(&m, "enabled", false)}),
        ),
        Err(()) => error(400, "could not decode payload"),
    }
}

fn hmac_config(inner: &Inner, user: &UserView, method: &Method, body: &[u8]) -> HttpResponse {
    let mut users = lock(&inner.users);
    let Some(rec) = users.get_mut(&user.token) else {
        return unauthorized();
    };
    if method == Method::GET {
        let set = rec.user.hmac_key.as_deref().is_some_and(|k| !k.is_empty());
        return bare(json!({"hmac_key": if set { "***" } else { "" }}));
    }
    if method == Method::DELETE {
        rec.user.hmac_key = None;
        return bare(json!({"Details": "HMAC configuration deleted successfully"}));
    }
    let Ok(m) = decode(body, &[("hmac_key", T::Str)]) else {
        return error(400, "could not decode payload");
    };
    let key = s(&m, "hmac_key");
    if key.chars().count() < 32 {
        return error(400, "HMAC key must be at least 32 characters long");
    }
    rec.user.hmac_key = Some(key.to_string());
    bare(json!({"Details": "HMAC configuration saved successfully"}))
}

fn webhook_config(inner: &Inner, user: &UserView, method: &Method, body: &[u8]) -> HttpResponse {
    let mut users = lock(&inner.users);
    let Some(rec) = users.get_mut(&user.token) else {
        return unauthorized();
    };
    let u = &mut rec.user;
    if method == Method::GET {
        let subscribe: Vec<String> = if u.events.is_empty() {
            vec![String::new()]
        } else {
            u.events.clone()
        };
        return ok(json!({"subscribe": subscribe, "webhook": u.webhook}));
    }
    if method == Method::DELETE {
        u.webhook.clear();
        u.events.clear();
        return ok(json!({"Details": "Webhook and events deleted successfully"}));
    }
    if method == Method::POST {
        let Ok(m) = decode(
            body,
            &[
                ("webhookurl", T::Str),
                ("webhookURL", T::Str),
                ("events", T::StrArr),
            ],
        ) else {
            return error(400, "could not decode payload");
        };
        u.webhook = opt_s(&m, "webhookurl")
            .or_else(|| opt_s(&m, "webhookURL"))
            .unwrap_or("")
            .to_string();
        if let Some(events) = str_list(&m, "events") {
            u.events = filter_known_events(events.iter().map(String::as_str));
        }
        return ok(json!({"webhook": u.webhook}));
    }
    // PUT
    let Ok(m) = decode(
        body,
        &[
            ("webhook", T::Str),
            ("events", T::StrArr),
            ("active", T::Bool),
        ],
    ) else {
        return error(400, "could not decode payload");
    };
    let active = bool_or(&m, "active", false);
    let events = str_list(&m, "events");
    if active {
        u.webhook = s(&m, "webhook").to_string();
        if let Some(events) = events {
            u.events = filter_known_events(events.iter().map(String::as_str));
        }
    } else {
        u.webhook.clear();
        if events.is_some() {
            u.events.clear();
        }
    }
    ok(json!({"active": active, "events": u.events, "webhook": u.webhook}))
}

// ---------------------------------------------------------------------------------------------
// Sends

struct Prepared {
    phone: String,
    chat: String,
    text: String,
    image: Option<String>,
    media: Option<String>,
    message_type: &'static str,
    message: Value,
    receipts: bool,
    not_logged_in: &'static str,
}

const DEVICE_JID_MISSING: &str = "the store doesn't contain a device JID";

fn fields(kind: SendKind) -> &'static [(&'static str, T)] {
    match kind {
        SendKind::Text => &[
            ("Phone", T::Str),
            ("Body", T::Str),
            ("LinkPreview", T::Bool),
            ("Id", T::Str),
            ("ContextInfo", T::Obj),
            ("QuotedText", T::Str),
            ("QuotedMessage", T::Obj),
        ],
        SendKind::Image => &[
            ("Phone", T::Str),
            ("Image", T::Str),
            ("Caption", T::Str),
            ("Id", T::Str),
            ("MimeType", T::Str),
            ("ContextInfo", T::Obj),
            ("QuotedMessage", T::Obj),
        ],
        SendKind::Video => &[
            ("Phone", T::Str),
            ("Video", T::Str),
            ("Caption", T::Str),
            ("Id", T::Str),
            ("JPEGThumbnail", T::Str),
            ("MimeType", T::Str),
            ("ContextInfo", T::Obj),
            ("QuotedMessage", T::Obj),
        ],
        SendKind::Audio => &[
            ("Phone", T::Str),
            ("Audio", T::Str),
            ("Caption", T::Str),
            ("Id", T::Str),
            ("ptt", T::Bool),
            ("mimetype", T::Str),
            ("Seconds", T::Num),
            ("ContextInfo", T::Obj),
        ],
        SendKind::Document => &[
            ("Phone", T::Str),
            ("Document", T::Str),
            ("FileName", T::Str),
            ("Caption", T::Str),
            ("Id", T::Str),
            ("MimeType", T::Str),
            ("ContextInfo", T::Obj),
        ],
        SendKind::Sticker => &[
            ("Phone", T::Str),
            ("Sticker", T::Str),
            ("Id", T::Str),
            ("PngThumbnail", T::Str),
            ("MimeType", T::Str),
            ("PackId", T::Str),
            ("PackName", T::Str),
            ("PackPublisher", T::Str),
            ("Emojis", T::StrArr),
            ("ContextInfo", T::Obj),
        ],
        SendKind::Location => &[
            ("Phone", T::Str),
            ("Latitude", T::Num),
            ("Longitude", T::Num),
            ("Name", T::Str),
            ("Id", T::Str),
            ("ContextInfo", T::Obj),
        ],
        SendKind::Contact => &[
            ("Phone", T::Str),
            ("Name", T::Str),
            ("Vcard", T::Str),
            ("Id", T::Str),
            ("ContextInfo", T::Obj),
        ],
        SendKind::Buttons => &[
            ("Phone", T::Str),
            ("Title", T::Str),
            ("Buttons", T::ObjArr),
            ("Id", T::Str),
        ],
        SendKind::List => &[
            ("Phone", T::Str),
            ("ButtonText", T::Str),
            ("Desc", T::Str),
            ("TopText", T::Str),
            ("Sections", T::ObjArr),
            ("List", T::ObjArr),
            ("FooterText", T::Str),
            ("Id", T::Str),
        ],
        SendKind::Poll => &[
            ("group", T::Str),
            ("header", T::Str),
            ("options", T::StrArr),
            ("Id", T::Str),
        ],
        SendKind::Edit => &[
            ("Phone", T::Str),
            ("Body", T::Str),
            ("Id", T::Str),
            ("ContextInfo", T::Obj),
        ],
    }
}

fn bad(msg: &str) -> HttpResponse {
    error(400, msg)
}

/// Decodes a `data:` URI value of a media send; `Err` is the 400 answer.
fn media_bytes(v: &str) -> Result<(String, Vec<u8>), Box<HttpResponse>> {
    decode_data_uri(v)
        .map_err(|()| Box::new(bad("could not decode base64 encoded data from payload")))
}

fn context_json(ctx: &Option<(String, String)>, quoted_text: &str) -> Option<Value> {
    ctx.as_ref().map(|(stanza, participant)| {
        json!({"participant": participant, "quotedMessage": {"conversation": quoted_text}, "stanzaID": stanza})
    })
}

fn with_context(mut message: Value, ctx: Option<Value>) -> Value {
    if let (Some(ctx), Some(obj)) = (ctx, message.as_object_mut()) {
        if let Some(Value::Object(inner)) = obj.values_mut().next() {
            inner.insert("contextInfo".to_string(), ctx);
        }
    }
    message
}

/// Validates a send in the upstream's order (after auth and session). `Err` is the answer.
fn prepare(kind: SendKind, m: &Map<String, Value>) -> Result<Prepared, Box<HttpResponse>> {
    // Poll uses its own keys.
    if kind == SendKind::Poll {
        let group = s(m, "group");
        if group.is_empty() {
            return Err(bad("missing group in payload").into());
        }
        let header = s(m, "header");
        if header.is_empty() {
            return Err(bad("missing header in payload").into());
        }
        let options = str_list(m, "options").unwrap_or_default();
        if options.len() < 2 {
            return Err(bad("at least 2 options are required").into());
        }
        let chat = match parse_phone(group) {
            Ok(c) if group.contains('@') => c,
            _ => return Err(bad("could not parse group").into()),
        };
        let opts: Vec<Value> = options.iter().map(|o| json!({"optionName": o})).collect();
        return Ok(Prepared {
            phone: group.to_string(),
            chat,
            text: header.to_string(),
            image: None,
            media: None,
            message_type: "poll",
            message: json!({"pollCreationMessage": {"name": header, "options": opts, "selectableOptionsCount": 1}}),
            receipts: true,
            not_logged_in: "error sending message: ",
        });
    }

    let phone = s(m, "Phone");
    if phone.is_empty() {
        return Err(bad("missing Phone in Payload").into());
    }
    // Required keys of the kind, in order.
    let required: &[&str] = match kind {
        SendKind::Text => &["Body"],
        SendKind::Edit => &["Body", "Id"],
        SendKind::Image => &["Image"],
        SendKind::Video => &["Video"],
        SendKind::Audio => &["Audio"],
        SendKind::Document => &["Document", "FileName"],
        SendKind::Sticker => &["Sticker"],
        SendKind::Contact => &["Name", "Vcard"],
        SendKind::Buttons => &["Title"],
        SendKind::List => &["ButtonText", "Desc", "TopText"],
        SendKind::Location | SendKind::Poll => &[],
    };
    for k in required {
        if s(m, k).is_empty() {
            return Err(bad(&format!("missing {k} in Payload")).into());
        }
    }
    match kind {
        SendKind::Location => {
            if num(m, "Latitude") == 0.0 {
                return Err(bad("missing Latitude in Payload").into());
            }
            if num(m, "Longitude") == 0.0 {
                return Err(bad("missing Longitude in Payload").into());
            }
        }
        SendKind::Buttons => {
            let n = m
                .get("Buttons")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if n == 0 {
                return Err(bad("missing Buttons in Payload").into());
            }
            if n > 3 {
                return Err(bad("buttons cant more than 3").into());
            }
        }
        SendKind::List => {
            let n = |k: &str| m.get(k).and_then(Value::as_array).map_or(0, Vec::len);
            if n("Sections") == 0 && n("List") == 0 {
                return Err(bad("no section or list provided").into());
            }
        }
        _ => {}
    }
    let chat = parse_phone(phone).map_err(|()| bad("could not parse Phone"))?;
    let ctx = check_context(m).map_err(bad)?;
    let ctx_json = context_json(&ctx, s(m, "QuotedText"));
    let caption = s(m, "Caption");
    let mime_override = s(m, "MimeType");
    let lower = "error sending message: ";

    let mut p = Prepared {
        phone: phone.to_string(),
        chat,
        text: String::new(),
        image: None,
        media: None,
        message_type: kind.name(),
        message: Value::Null,
        receipts: true,
        not_logged_in: lower,
    };
    match kind {
        SendKind::Text => {
            let body = s(m, "Body");
            p.text = body.to_string();
            p.message = with_context(
                json!({"extendedTextMessage": {"description": "", "matchedText": "", "text": body, "title": ""}}),
                ctx_json,
            );
        }
        SendKind::Edit => {
            let body = s(m, "Body");
            p.text = body.to_string();
            p.message_type = "text";
            p.receipts = false;
            p.message = json!({"protocolMessage": {
                "editedMessage": {"conversation": body},
                "key": {"ID": s(m, "Id"), "fromMe": true, "remoteJID": p.chat},
                "type": 14,
            }});
        }
        SendKind::Image => {
            let img = s(m, "Image");
            let mime = if img.starts_with("data:image") {
                let (_, bytes) = media_bytes(img)?;
                let Some(sniffed) = sniff_image(&bytes) else {
                    return Err(error(
                        500,
                        "could not decode image for thumbnail preparation: image: unknown format",
                    )
                    .into());
                };
                sniffed
            } else if is_http_url(img) {
                "image/jpeg"
            } else {
                return Err(bad(r#"Image data should start with "data:image/png;base64,""#).into());
            };
            let mime = if mime_override.is_empty() {
                mime
            } else {
                mime_override
            };
            p.text = caption.to_string();
            p.image = Some(img.to_string());
            p.not_logged_in = "Error sending message: ";
            p.message = with_context(json!({"imageMessage": fake_media(mime, caption)}), ctx_json);
        }
        SendKind::Video => {
            let v = s(m, "Video");
            let mime = if v.starts_with("data:") {
                media_bytes(v)?.0
            } else if is_http_url(v) {
                "video/mp4".to_string()
            } else {
                return Err(bad(r#"data should start with "data:mime/type;base64,""#).into());
            };
            let mime = if mime_override.is_empty() {
                mime.as_str()
            } else {
                mime_override
            };
            p.text = caption.to_string();
            p.media = Some(v.to_string());
            p.message = with_context(json!({"videoMessage": fake_media(mime, caption)}), ctx_json);
        }
        SendKind::Audio => {
            let a = s(m, "Audio");
            if !a.starts_with("data:audio/") {
                return Err(bad(r#"audio data should start with "data:audio/""#).into());
            }
            media_bytes(a)?;
            let ptt = bool_or(m, "ptt", true);
            let mime = match s(m, "mimetype") {
                "" if ptt => "audio/ogg; codecs=opus",
                "" => "audio/mpeg",
                other => other,
            };
            p.text = caption.to_string();
            p.media = Some(a.to_string());
            let mut media = fake_media(mime, "");
            media["PTT"] = Value::Bool(ptt);
            p.message = with_context(json!({"audioMessage": media}), ctx_json);
        }
        SendKind::Document => {
            let d = s(m, "Document");
            if !d.starts_with("data:application/octet-stream") {
                return Err(bad(
                    r#"document data should start with "data:application/octet-stream;base64,""#,
                )
                .into());
            }
            media_bytes(d)?;
            let mime = if mime_override.is_empty() {
                "application/octet-stream"
            } else {
                mime_override
            };
            p.text = caption.to_string();
            p.media = Some(d.to_string());
            let mut media = fake_media(mime, caption);
            media["fileName"] = Value::String(s(m, "FileName").to_string());
            p.message = with_context(json!({"documentMessage": media}), ctx_json);
        }
        SendKind::Sticker => {
            let st = s(m, "Sticker");
            if !st.starts_with("data:") {
                return Err(
                    bad(r#"sticker data should start with "data:mime/type;base64,""#).into(),
                );
            }
            media_bytes(st)?;
            p.media = Some(st.to_string());
            p.message = with_context(
                json!({"stickerMessage": fake_media("image/webp", "")}),
                ctx_json,
            );
        }
        SendKind::Location => {
            let name = s(m, "Name");
            p.text = name.to_string();
            p.message = with_context(
                json!({"locationMessage": {"degreesLatitude": num(m, "Latitude"), "degreesLongitude": num(m, "Longitude"), "name": name}}),
                ctx_json,
            );
        }
        SendKind::Contact => {
            let name = s(m, "Name");
            p.text = name.to_string();
            p.message = with_context(
                json!({"contactMessage": {"displayName": name, "vcard": s(m, "Vcard")}}),
                ctx_json,
            );
        }
        SendKind::Buttons => {
            let title = s(m, "Title");
            p.text = title.to_string();
            let buttons: Vec<Value> = m
                .get("Buttons")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|b| {
                            json!({
                                "buttonID": b.get("ButtonId").and_then(Value::as_str).unwrap_or(""),
                                "buttonText": {"displayText": b.get("ButtonText").and_then(Value::as_str).unwrap_or("")},
                                "type": 1,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            p.message = json!({"buttonsMessage": {"buttons": buttons, "contentText": title, "headerType": 1}});
        }
        SendKind::List => {
            let desc = s(m, "Desc");
            p.text = desc.to_string();
            let sections = m
                .get("Sections")
                .or_else(|| m.get("List"))
                .cloned()
                .unwrap_or(Value::Null);
            p.message = json!({"listMessage": {
                "buttonText": s(m, "ButtonText"),
                "description": desc,
                "footerText": s(m, "FooterText"),
                "listType": 1,
                "sections": sections,
                "title": s(m, "TopText"),
            }});
        }
        SendKind::Poll => {}
    }
    Ok(p)
}

fn fake_media(mime: &str, caption: &str) -> Value {
    json!({
        "URL": "https://mmg.whatsapp.net/o1/v/t62.7118-24/f2/m231/fake-upload?ccb=9-4&mms3=true",
        "caption": caption,
        "directPath": "/o1/v/t62.7118-24/f2/m231/fake-upload?ccb=9-4",
        "fileEncSHA256": "erQIamzKTvdkMRwHn9j68IbsiBzDutW29p/CI2WdTfI=",
        "fileLength": 159,
        "fileSHA256": "8d9f/dwfCJH2o02iThP0PIANwC+/E3gVvzJ/OpRNktI=",
        "mediaKey": "LKgu50MN5dfYzualxw/rVCgZtCbITR0G4Wy3xOMAUwI=",
        "mimetype": mime,
    })
}

fn send(inner: &Inner, user: &UserView, kind: SendKind, body: &[u8]) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let m = match decode(body, fields(kind)) {
        Ok(m) => m,
        Err(()) if kind == SendKind::Poll => return bad("could not decode payload"),
        Err(()) => return bad("could not decode Payload"),
    };
    let p = match prepare(kind, &m) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    if !user.logged_in {
        return error(500, &format!("{}{DEVICE_JID_MISSING}", p.not_logged_in));
    }
    let caller_id = s(&m, "Id");
    let id = if caller_id.is_empty() {
        random_message_id()
    } else {
        caller_id.to_string()
    };
    let now = Utc::now();
    lock(&inner.journal).push(SentMessage {
        user_id: user.id.clone(),
        token: user.token.clone(),
        phone: p.phone,
        chat: p.chat.clone(),
        kind: kind.name().to_string(),
        id: id.clone(),
        caller_id: !caller_id.is_empty(),
        body_digest: body_digest(&p.text),
        image: p.image,
        media: p.media,
        at: now,
    });
    if inner.emitting() {
        let sent = message_sent_event(&p.chat, &id, p.message_type, p.message, now);
        schedule_after_send(inner, &user.token, &p.chat, &id, sent, p.receipts);
    }
    match kind {
        SendKind::Poll => ok(json!({"Details": "Poll sent successfully", "Id": id})),
        SendKind::List => ok(json!({"Details": "Sent", "Id": id, "Timestamp": rfc3339(now)})),
        _ => ok(json!({"Details": "Sent", "Id": id, "Timestamp": now.timestamp()})),
    }
}

// ---------------------------------------------------------------------------------------------
// Other chat routes

/// Session check, decode, then required keys in order.
fn simple(
    user: &UserView,
    body: &[u8],
    fields: &[(&str, T)],
    required: &[&str],
) -> Result<Map<String, Value>, Box<HttpResponse>> {
    if !user.connected {
        return Err(no_session().into());
    }
    let m = decode(body, fields).map_err(|()| bad("could not decode Payload"))?;
    for k in required {
        let present = match m.get(*k) {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        };
        if !present {
            return Err(bad(&format!("missing {k} in Payload")).into());
        }
    }
    Ok(m)
}

fn session_ok(user: &UserView, data: Value) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    ok(data)
}

fn chat_delete(user: &UserView, body: &[u8]) -> HttpResponse {
    match simple(
        user,
        body,
        &[("Phone", T::Str), ("Id", T::Str)],
        &["Phone", "Id"],
    ) {
        Ok(m) => ok(
            json!({"Details": "Deleted", "Id": s(&m, "Id"), "Timestamp": Utc::now().timestamp()}),
        ),
        Err(r) => *r,
    }
}

fn chat_react(user: &UserView, body: &[u8]) -> HttpResponse {
    let f = &[
        ("Phone", T::Str),
        ("Body", T::Str),
        ("Id", T::Str),
        ("Participant", T::Str),
    ];
    match simple(user, body, f, &["Phone", "Body", "Id"]) {
        Ok(_) => ok(
            json!({"Details": "Sent", "Id": random_message_id(), "Timestamp": Utc::now().timestamp()}),
        ),
        Err(r) => *r,
    }
}

fn mark_read(user: &UserView, body: &[u8]) -> HttpResponse {
    let f = &[
        ("Id", T::StrArr),
        ("ChatPhone", T::Str),
        ("SenderPhone", T::Str),
        ("Chat", T::Str),
        ("Sender", T::Str),
    ];
    match simple(user, body, f, &["Id"]) {
        Ok(m) if s(&m, "ChatPhone").is_empty() && s(&m, "Chat").is_empty() => {
            bad("missing ChatPhone in Payload")
        }
        Ok(_) => ok(json!({"Details": "Message(s) marked as read"})),
        Err(r) => *r,
    }
}

fn chat_presence(user: &UserView, body: &[u8]) -> HttpResponse {
    let f = &[("Phone", T::Str), ("State", T::Str), ("Media", T::Str)];
    match simple(user, body, f, &["Phone", "State"]) {
        Ok(_) => ok(json!({"Details": "Chat presence set successfuly"})),
        Err(r) => *r,
    }
}

/// The 16×16 grey JPEG of `message-image.json`.
pub(crate) const FIXTURE_JPEG_B64: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAQABABAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AAP/Z";

fn download(user: &UserView, kind: &str, body: &[u8]) -> HttpResponse {
    let f = &[
        ("Url", T::Str),
        ("DirectPath", T::Str),
        ("MediaKey", T::Str),
        ("Mimetype", T::Str),
        ("FileEncSHA256", T::Str),
        ("FileSHA256", T::Str),
        ("FileLength", T::Num),
    ];
    let m = match simple(user, body, f, &[]) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let mime = match (s(&m, "Mimetype"), kind) {
        ("", "image") => "image/jpeg",
        ("", "video") => "video/mp4",
        ("", "audio") => "audio/ogg",
        ("", "sticker") => "image/webp",
        ("", _) => "application/octet-stream",
        (m, _) => m,
    };
    let data = if kind == "image" {
        FIXTURE_JPEG_B64.to_string()
    } else {
        base64::engine::general_purpose::STANDARD.encode(b"fake upstream media")
    };
    ok(json!({"Data": format!("data:{mime};base64,{data}"), "Mimetype": mime}))
}

fn chat_history(inner: &Inner, user: &UserView) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let history = lock(&inner.users).get(&user.token).map_or(0, |r| r.history);
    if history <= 0 {
        return error(501, "message history is disabled for this user");
    }
    ok(json!([]))
}

// ---------------------------------------------------------------------------------------------
// User

fn user_check(inner: &Inner, user: &UserView, body: &[u8]) -> HttpResponse {
    let m = match simple(user, body, &[("Phone", T::StrArr)], &["Phone"]) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let users: Vec<Value> = str_list(&m, "Phone")
        .unwrap_or_default()
        .iter()
        .map(|q| {
            let digits: String = q.chars().filter(char::is_ascii_digit).collect();
            let jid = if q.contains('@') {
                q.split('@').next().unwrap_or("").to_string() + "@s.whatsapp.net"
            } else {
                format!("{digits}@s.whatsapp.net")
            };
            json!({"IsInWhatsapp": inner.on_whatsapp(q), "JID": jid, "Query": q, "VerifiedName": ""})
        })
        .collect();
    ok(json!({"Users": users}))
}

/// A deterministic fake LID (15 digits) for a phone number.
fn fake_lid(phone: &str) -> String {
    if super::state::normalize_phone(phone) == "6281234567890" {
        return "123456789012345@lid".to_string();
    }
    let d = body_digest(phone);
    let digits: String = d
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(14)
        .collect();
    format!("1{digits}@lid")
}

fn user_info(user: &UserView, body: &[u8]) -> HttpResponse {
    let m = match simple(user, body, &[("Phone", T::StrArr)], &["Phone"]) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let mut out = Map::new();
    for p in str_list(&m, "Phone").unwrap_or_default() {
        let jid = webhooks::to_jid(&p);
        out.insert(
            jid.clone(),
            json!({"Devices": [jid], "LID": fake_lid(&p), "PictureID": "", "Status": "", "VerifiedName": null}),
        );
    }
    ok(json!({"Users": out}))
}

fn user_avatar(user: &UserView, body: &[u8]) -> HttpResponse {
    match simple(
        user,
        body,
        &[("Phone", T::Str), ("Preview", T::Bool)],
        &["Phone"],
    ) {
        Ok(m) => ok(json!({
            "direct_path": "/v/t61.24694-24/fake-avatar",
            "hash": "",
            "id": "1700000000",
            "type": if bool_or(&m, "Preview", false) { "preview" } else { "image" },
            "url": "https://pps.whatsapp.net/v/t61.24694-24/fake-avatar",
        })),
        Err(r) => *r,
    }
}

fn user_contacts(inner: &Inner, user: &UserView) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let contacts = lock(&inner.users)
        .get(&user.token)
        .map(|r| r.user.contacts.clone())
        .unwrap_or_else(|| json!({}));
    let contacts = if contacts.is_object() {
        contacts
    } else {
        json!({})
    };
    ok(contacts)
}

fn user_lid(user: &UserView, jid: &str) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let Ok(full) = parse_phone(jid) else {
        return bad("invalid JID");
    };
    if full.ends_with("@lid") {
        return ok(json!({"jid": full, "lid": full}));
    }
    if !full.ends_with("@s.whatsapp.net") {
        return error(404, "lid not found");
    }
    ok(json!({"jid": full, "lid": fake_lid(jid)}))
}

fn user_presence(user: &UserView, body: &[u8]) -> HttpResponse {
    match simple(user, body, &[("type", T::Str)], &["type"]) {
        Ok(m) if !matches!(s(&m, "type"), "available" | "unavailable") => {
            bad("invalid presence type")
        }
        Ok(_) => ok(json!({"Details": "Presence set successfuly"})),
        Err(r) => *r,
    }
}

fn status_text(user: &UserView, body: &[u8]) -> HttpResponse {
    match simple(user, body, &[("Body", T::Str)], &["Body"]) {
        Ok(_) => ok(json!({"Details": "Set"})),
        Err(r) => *r,
    }
}

fn call_reject(user: &UserView, body: &[u8]) -> HttpResponse {
    let f = &[("call_from", T::Str), ("call_id", T::Str)];
    match simple(user, body, f, &["call_from", "call_id"]) {
        Ok(m) => ok(json!({"CallID": s(&m, "call_id"), "Details": "Call rejected"})),
        Err(r) => *r,
    }
}

// ---------------------------------------------------------------------------------------------
// Groups (plausible answers; no group state is kept)

const FAKE_GROUP: &str = "120363012345678901@g.us";

fn group_info(jid: &str, name: &str, participants: &[String]) -> Value {
    let parts: Vec<Value> = participants
        .iter()
        .map(|p| {
            json!({"IsAdmin": false, "IsSuperAdmin": false, "JID": webhooks::to_jid(p), "LID": fake_lid(p)})
        })
        .collect();
    json!({
        "AnnounceVersionID": "",
        "GroupCreated": rfc3339(Utc::now()),
        "IsAnnounce": false,
        "IsEphemeral": false,
        "IsLocked": false,
        "JID": jid,
        "Name": name,
        "OwnerJID": "",
        "Participants": parts,
        "Topic": "",
    })
}

fn group(user: &UserView, g: &str, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if !user.connected {
        return no_session();
    }
    let m = if req.method() == Method::POST {
        match decode(body, &[]) {
            Ok(m) => m,
            Err(()) => return bad("could not decode Payload"),
        }
    } else {
        Map::new()
    };
    match g {
        "list" => ok(json!({"Groups": []})),
        "info" => {
            let jid = query_param(req, "groupJID").unwrap_or_default();
            if jid.is_empty() {
                return bad("missing groupJID parameter");
            }
            ok(group_info(&jid, "Fake group", &[]))
        }
        "invitelink" => ok(json!({"InviteLink": "https://chat.whatsapp.com/FakeInviteCode123"})),
        "create" => {
            let name = s(&m, "name");
            if name.is_empty() {
                return bad("missing name in Payload");
            }
            let participants = str_list(&m, "participants").unwrap_or_default();
            ok(group_info(FAKE_GROUP, name, &participants))
        }
        "join" => ok(json!({"Details": "Group joined successfully", "GroupJID": FAKE_GROUP})),
        "inviteinfo" => ok(group_info(FAKE_GROUP, "Fake group", &[])),
        "photo" => {
            ok(json!({"Details": "Group Photo set successfully", "PictureID": "1700000000"}))
        }
        "photo/remove" => ok(json!({"Details": "Group photo removed successfully"})),
        "leave" => ok(json!({"Details": "Left group successfully"})),
        "name" => ok(json!({"Details": "Group Name set successfully"})),
        "topic" => ok(json!({"Details": "Group Topic set successfully"})),
        "announce" => ok(json!({"Details": "Group Announce set successfully"})),
        "locked" => ok(json!({"Details": "Group Locked set successfully"})),
        "ephemeral" => ok(json!({"Details": "Group ephemeral set successfully"})),
        "updateparticipants" => ok(json!({"Details": "Group Participants updated successfully"})),
        _ => not_found(),
    }
}
