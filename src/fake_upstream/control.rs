//! Control API under `/__fake/` (no auth), mirroring the Rust API for scripts and benchmarks.
//!
//! | Method | Path | Body / answer |
//! |---|---|---|
//! | GET | `/__fake/health` | `{"ok":true}` |
//! | GET/POST | `/__fake/users` | list / add a `FakeUser` (JSON; missing fields take defaults) |
//! | GET/DELETE | `/__fake/journal` | `SentMessage` list / clear |
//! | GET | `/__fake/sends_to?phone=628…` | `{"count":n}` |
//! | GET/POST/DELETE | `/__fake/faults` | list / add a `FaultRule` (or an array) / clear |
//! | POST/DELETE | `/__fake/latency` | add a `LatencyRule` / clear |
//! | POST | `/__fake/receipts` | `{"phone":"628…" or null,"plan":"never"}` |
//! | POST | `/__fake/on_whatsapp` | `{"phone":"628…","on":false}` |
//! | POST | `/__fake/session` | `{"token","connected","logged_in"}` |
//! | POST | `/__fake/events` | `{"token","event":{…}}`; waits for delivery; 502 on failure |
//! | POST | `/__fake/incoming` | `{"token","from","text"}` or `{"token","from","caption","base64"?}` (image) |
//! | GET/DELETE | `/__fake/webhooks` | `WebhookDelivery` list / clear |
//! | POST | `/__fake/config` | `{"webhook_format":"json"|"form","sign_webhooks":bool,"emit_webhooks":bool}` (all optional) |
//! | POST | `/__fake/reset` | see `FakeUpstream::reset` |
//!
//! Errors answer `400 {"error":"…"}`.

use std::sync::atomic::Ordering;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::routes::query_param;
use super::state::{lock, Inner};
use super::webhooks::{incoming_image_event, incoming_text_event};
use super::{FakeUser, FaultRule, LatencyRule, ReceiptPlan, WebhookFormat};

fn reply(code: u16, v: Value) -> HttpResponse {
    super::routes::json_response(code, "application/json", &v)
}

fn done() -> HttpResponse {
    reply(200, json!({"ok": true}))
}

fn bad(msg: impl std::fmt::Display) -> HttpResponse {
    reply(400, json!({"error": msg.to_string()}))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<HttpResponse>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad(format!("invalid JSON body: {e}"))))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[derive(Deserialize)]
struct SessionBody {
    token: String,
    connected: bool,
    logged_in: bool,
}

#[derive(Deserialize)]
struct ReceiptsBody {
    #[serde(default)]
    phone: Option<String>,
    plan: ReceiptPlan,
}

#[derive(Deserialize)]
struct OnWhatsappBody {
    phone: String,
    on: bool,
}

#[derive(Deserialize)]
struct EventBody {
    token: String,
    event: Value,
}

#[derive(Deserialize)]
struct IncomingBody {
    token: String,
    from: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    base64: Option<String>,
}

#[derive(Deserialize)]
struct ConfigBody {
    #[serde(default)]
    webhook_format: Option<WebhookFormat>,
    #[serde(default)]
    sign_webhooks: Option<bool>,
    #[serde(default)]
    emit_webhooks: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

async fn emit(inner: &Inner, token: &str, event: Value) -> HttpResponse {
    match inner.emit_event(token, event).await {
        Ok(()) => done(),
        Err(e) => reply(502, json!({"error": e})),
    }
}

pub(crate) async fn handle(inner: &Inner, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let path = req
        .path()
        .trim_start_matches("/__fake")
        .trim_end_matches('/');
    let m = req.method();
    let get = m == Method::GET;
    let post = m == Method::POST;
    let delete = m == Method::DELETE;
    let result: Result<HttpResponse, Box<HttpResponse>> = async {
        Ok(match path {
            "/health" if get => done(),
            "/users" if get => {
                let users: Vec<FakeUser> = lock(&inner.users)
                    .values()
                    .map(|r| r.user.clone())
                    .collect();
                reply(200, to_json(&users))
            }
            "/users" if post => {
                let user: FakeUser = parse(body)?;
                inner.add_user(user.clone(), true);
                reply(201, to_json(&user))
            }
            "/journal" if get => reply(200, to_json(&*lock(&inner.journal))),
            "/journal" if delete => {
                lock(&inner.journal).clear();
                done()
            }
            "/sends_to" if get => {
                let phone = query_param(req, "phone").unwrap_or_default();
                reply(200, json!({"count": inner.sends_to(&phone)}))
            }
            "/faults" if get => reply(200, to_json(&inner.faults.rules())),
            "/faults" if post => {
                match parse::<OneOrMany<FaultRule>>(body)? {
                    OneOrMany::One(r) => inner.faults.add(r),
                    OneOrMany::Many(rs) => rs.into_iter().for_each(|r| inner.faults.add(r)),
                }
                done()
            }
            "/faults" if delete => {
                inner.faults.clear();
                done()
            }
            "/latency" if get => reply(200, to_json(&inner.faults.latency_rules())),
            "/latency" if post => {
                let rule: LatencyRule = parse(body)?;
                inner.faults.set_latency(rule);
                done()
            }
            "/latency" if delete => {
                inner.faults.clear_latency();
                done()
            }
            "/receipts" if post => {
                let b: ReceiptsBody = parse(body)?;
                inner.set_receipts(b.phone.as_deref(), b.plan);
                done()
            }
            "/on_whatsapp" if post => {
                let b: OnWhatsappBody = parse(body)?;
                inner.set_on_whatsapp(&b.phone, b.on);
                done()
            }
            "/session" if post => {
                let b: SessionBody = parse(body)?;
                if !inner.set_session(&b.token, b.connected, b.logged_in) {
                    return Err(Box::new(bad("unknown user token")));
                }
                done()
            }
            "/events" if post => {
                let b: EventBody = parse(body)?;
                emit(inner, &b.token, b.event).await
            }
            "/incoming" if post => {
                let b: IncomingBody = parse(body)?;
                let event = match (&b.text, &b.caption, &b.base64) {
                    (Some(t), _, _) => incoming_text_event(&b.from, t),
                    (None, caption, b64) => incoming_image_event(
                        &b.from,
                        caption.as_deref().unwrap_or(""),
                        b64.as_deref(),
                    ),
                };
                emit(inner, &b.token, event).await
            }
            "/webhooks" if get => reply(200, to_json(&*lock(&inner.deliveries))),
            "/webhooks" if delete => {
                lock(&inner.deliveries).clear();
                done()
            }
            "/config" if post => {
                let b: ConfigBody = parse(body)?;
                if let Some(f) = b.webhook_format {
                    inner.set_format(f);
                }
                if let Some(s) = b.sign_webhooks {
                    inner.sign.store(s, Ordering::Relaxed);
                }
                if let Some(e) = b.emit_webhooks {
                    inner.emit.store(e, Ordering::Relaxed);
                }
                done()
            }
            "/reset" if post => {
                inner.reset();
                done()
            }
            _ => super::routes::not_found(),
        })
    }
    .await;
    match result {
        Ok(r) => r,
        Err(r) => *r,
    }
}
