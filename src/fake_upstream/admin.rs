//! Admin routes (`Authorization: <admin token>`), §4.9.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::routes::{decode, error, json_response, not_found, ok, s, s3_default, T};
use super::state::{lock, random_phone, random_user_id, Inner, UserRec};
use super::webhooks::SUPPORTED_EVENTS;
use super::FakeUser;

const CT_UTF8: &str = "application/json; charset=utf-8";

fn admin_user_json(rec: &UserRec) -> Value {
    let u = &rec.user;
    json!({
        "connected": u.connected,
        "events": u.events.join(","),
        "expiration": rec.expiration,
        "id": u.id,
        "jid": rec.jid(),
        "loggedIn": u.connected && u.logged_in,
        "name": u.name,
        "proxy_config": {"enabled": rec.proxy_enabled, "proxy_url": rec.proxy_url},
        "proxy_url": rec.proxy_url,
        "qrcode": "",
        "s3_config": s3_default(),
        "token": u.token,
        "webhook": u.webhook,
    })
}

fn hand_built(code: u16, v: Value) -> HttpResponse {
    json_response(code, CT_UTF8, &v)
}

fn hand_error(code: u16, msg: &str, details: &str) -> HttpResponse {
    hand_built(
        code,
        json!({"code": code, "details": details, "error": msg, "success": false}),
    )
}

const FIELDS: &[(&str, T)] = &[
    ("name", T::Str),
    ("token", T::Str),
    ("webhook", T::Str),
    ("expiration", T::Num),
    ("events", T::Str),
    ("proxyConfig", T::Obj),
    ("s3Config", T::Obj),
    ("hmacKey", T::Str),
    ("history", T::Num),
];

/// Parses the comma-separated `events` string; `Err` names the first unknown event.
fn parse_events(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for e in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if !SUPPORTED_EVENTS.contains(&e) {
            return Err(e.to_string());
        }
        if !out.iter().any(|o: &String| o == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

fn proxy_of(m: &Map<String, Value>) -> Option<(bool, String)> {
    let p = m.get("proxyConfig")?.as_object()?;
    let enabled = p.get("enabled").and_then(Value::as_bool).unwrap_or(false);
    let url = p
        .get("proxyURL")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((enabled, url))
}

pub(crate) fn handle(inner: &Inner, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let Some(rest) = req.path().strip_prefix("/admin/users") else {
        return not_found();
    };
    let method = req.method();
    let id = rest.strip_prefix('/');
    enum Op {
        List,
        Create,
        Get(String),
        Update(String),
        Delete(String, bool),
    }
    let op = match (method, id) {
        (m, None) if m == Method::GET => Op::List,
        (m, None) if m == Method::POST => Op::Create,
        (m, Some(id)) if !id.is_empty() && !id.contains('/') => {
            if m == Method::GET {
                Op::Get(id.to_string())
            } else if m == Method::PUT {
                Op::Update(id.to_string())
            } else if m == Method::DELETE {
                Op::Delete(id.to_string(), false)
            } else {
                return not_found();
            }
        }
        (m, Some(id)) if m == Method::DELETE && id.ends_with("/full") => {
            let id = id.trim_end_matches("/full");
            if id.is_empty() || id.contains('/') {
                return not_found();
            }
            Op::Delete(id.to_string(), true)
        }
        _ => return not_found(),
    };
    let auth = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(inner.config.admin_token.as_str()) {
        return error(401, "unauthorized");
    }
    match op {
        Op::List => {
            let users = lock(&inner.users);
            let mut list: Vec<&UserRec> = users.values().collect();
            list.sort_by(|a, b| {
                a.user
                    .name
                    .cmp(&b.user.name)
                    .then(a.user.id.cmp(&b.user.id))
            });
            ok(Value::Array(
                list.into_iter().map(admin_user_json).collect(),
            ))
        }
        Op::Get(id) => {
            let users = lock(&inner.users);
            let list: Vec<Value> = users
                .values()
                .filter(|r| r.user.id == id)
                .map(admin_user_json)
                .collect();
            ok(Value::Array(list))
        }
        Op::Create => create(inner, body),
        Op::Update(id) => update(inner, &id, body),
        Op::Delete(id, full) => {
            let mut users = lock(&inner.users);
            let Some(token) = users
                .iter()
                .find(|(_, r)| r.user.id == id)
                .map(|(t, _)| t.clone())
            else {
                return hand_error(
                    404,
                    "user not found",
                    &format!("user with id {id} not found"),
                );
            };
            let Some(rec) = users.remove(&token) else {
                return hand_error(
                    404,
                    "user not found",
                    &format!("user with id {id} not found"),
                );
            };
            if full {
                hand_built(
                    200,
                    json!({"code": 200, "data": {"id": id, "jid": rec.jid(), "name": rec.user.name}, "details": "user instance removed completely", "success": true}),
                )
            } else {
                hand_built(
                    200,
                    json!({"code": 200, "data": {"id": id}, "details": "user deleted successfully", "success": true}),
                )
            }
        }
    }
}

fn create(inner: &Inner, body: &[u8]) -> HttpResponse {
    let Ok(m) = decode(body, FIELDS) else {
        return hand_error(
            400,
            "invalid request payload",
            "could not decode request body",
        );
    };
    let events = match parse_events(s(&m, "events")) {
        Ok(e) => e,
        Err(bad) => return hand_error(400, "invalid event type", &format!("invalid event: {bad}")),
    };
    let hmac = s(&m, "hmacKey");
    if !hmac.is_empty() && hmac.chars().count() < 32 {
        return hand_error(
            400,
            "invalid HMAC key",
            "HMAC key must be at least 32 characters long",
        );
    }
    let token = s(&m, "token").to_string();
    let mut users = lock(&inner.users);
    if users.contains_key(&token) {
        return hand_error(409, "user with this token already exists", "");
    }
    let user = FakeUser {
        id: random_user_id(),
        name: s(&m, "name").to_string(),
        token: token.clone(),
        phone: random_phone(),
        connected: false,
        logged_in: false,
        webhook: s(&m, "webhook").to_string(),
        events,
        hmac_key: (!hmac.is_empty()).then(|| hmac.to_string()),
        contacts: super::default_contacts(),
    };
    let mut rec = UserRec::new(user);
    rec.expiration = m.get("expiration").and_then(Value::as_i64).unwrap_or(0);
    rec.history = m.get("history").and_then(Value::as_i64).unwrap_or(0);
    if let Some((enabled, url)) = proxy_of(&m) {
        rec.proxy_enabled = enabled;
        rec.proxy_url = url;
    }
    let data = json!({
        "events": rec.user.events.join(","),
        "expiration": rec.expiration,
        "hmac_key": rec.user.hmac_key.is_some(),
        "id": rec.user.id,
        "name": rec.user.name,
        "proxy_config": {"enabled": rec.proxy_enabled, "proxy_url": rec.proxy_url},
        "s3_config": s3_default(),
        "token": rec.user.token,
        "webhook": rec.user.webhook,
    });
    users.insert(token, rec);
    hand_built(201, json!({"code": 201, "data": data, "success": true}))
}

fn update(inner: &Inner, id: &str, body: &[u8]) -> HttpResponse {
    let Ok(m) = decode(body, FIELDS) else {
        return hand_error(
            400,
            "invalid request payload",
            "could not decode request body",
        );
    };
    let events = match m.get("events").and_then(Value::as_str) {
        Some(e) => match parse_events(e) {
            Ok(e) => Some(e),
            Err(bad) => {
                return hand_error(400, "invalid event type", &format!("invalid event: {bad}"))
            }
        },
        None => None,
    };
    let mut users = lock(&inner.users);
    let Some(old_token) = users
        .iter()
        .find(|(_, r)| r.user.id == id)
        .map(|(t, _)| t.clone())
    else {
        return hand_error(
            404,
            "user not found",
            &format!("user with id {id} not found"),
        );
    };
    let new_token = m.get("token").and_then(Value::as_str).map(str::to_string);
    if let Some(t) = &new_token {
        if *t != old_token && users.contains_key(t) {
            return hand_error(409, "user with this token already exists", "");
        }
    }
    let Some(mut rec) = users.remove(&old_token) else {
        return hand_error(
            404,
            "user not found",
            &format!("user with id {id} not found"),
        );
    };
    if let Some(n) = m.get("name").and_then(Value::as_str) {
        rec.user.name = n.to_string();
    }
    if let Some(w) = m.get("webhook").and_then(Value::as_str) {
        rec.user.webhook = w.to_string();
    }
    if let Some(e) = events {
        rec.user.events = e;
    }
    if let Some(x) = m.get("expiration").and_then(Value::as_i64) {
        rec.expiration = x;
    }
    if let Some(h) = m.get("history").and_then(Value::as_i64) {
        rec.history = h;
    }
    if let Some((enabled, url)) = proxy_of(&m) {
        rec.proxy_enabled = enabled;
        rec.proxy_url = url;
    }
    if let Some(t) = new_token {
        rec.user.token = t;
    }
    users.insert(rec.user.token.clone(), rec);
    hand_built(
        200,
        json!({"code": 200, "message": "user updated successfully", "success": true}),
    )
}
