//! Outgoing webhooks: event builders, body formats, signing, the subscription filter and the
//! asynchronous dispatcher with retries.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use super::state::{lock, normalize_phone, Inner};
use super::{ReceiptPlan, WebhookFormat};

/// Event names the upstream accepts in `Subscribe`/`events` (§6.4).
pub(crate) const SUPPORTED_EVENTS: &[&str] = &[
    "Message",
    "MessageSent",
    "UndecryptableMessage",
    "Receipt",
    "MediaRetry",
    "ReadReceipt",
    "GroupInfo",
    "JoinedGroup",
    "Picture",
    "BlocklistChange",
    "Blocklist",
    "Connected",
    "Disconnected",
    "ConnectFailure",
    "KeepAliveRestored",
    "KeepAliveTimeout",
    "QRTimeout",
    "LoggedOut",
    "ClientOutdated",
    "TemporaryBan",
    "StreamError",
    "StreamReplaced",
    "PairSuccess",
    "PairError",
    "QR",
    "QRScannedWithoutMultidevice",
    "PrivacySettings",
    "PushNameSetting",
    "UserAbout",
    "AppState",
    "AppStateSyncComplete",
    "HistorySync",
    "OfflineSyncCompleted",
    "OfflineSyncPreview",
    "CallOffer",
    "CallAccept",
    "CallTerminate",
    "CallOfferNotice",
    "CallRelayLatency",
    "Presence",
    "ChatPresence",
    "IdentityChange",
    "CATRefreshError",
    "NewsletterJoin",
    "NewsletterLeave",
    "NewsletterMuteChange",
    "NewsletterLiveUpdate",
    "FBMessage",
    "All",
];

/// The upstream's "active" list applied at delivery time (§6.4).
pub(crate) const ACTIVE_EVENTS: &[&str] = &[
    "Message",
    "MessageSent",
    "Receipt",
    "Connected",
    "Disconnected",
    "ConnectFailure",
    "LoggedOut",
    "StreamReplaced",
    "PairSuccess",
    "QR",
    "PushNameSetting",
    "AppState",
    "AppStateSyncComplete",
    "HistorySync",
    "CallOffer",
    "CallAccept",
    "CallTerminate",
    "CallOfferNotice",
    "CallRelayLatency",
    "Presence",
    "ChatPresence",
    "All",
];

/// Event names of `SUPPORTED_EVENTS` not in the active list.
pub(crate) fn not_implemented_events() -> Vec<&'static str> {
    SUPPORTED_EVENTS
        .iter()
        .copied()
        .filter(|e| !ACTIVE_EVENTS.contains(e))
        .collect()
}

/// Keeps only known event names, in order, without duplicates.
pub(crate) fn filter_known_events<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim();
        if SUPPORTED_EVENTS.contains(&n) && !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// The §6.4 delivery filter: subscribed names outside the active list are ignored; deliver when
/// the type is subscribed or `All` is.
pub(crate) fn subscription_allows(events: &[String], event_type: &str) -> bool {
    events
        .iter()
        .filter(|e| ACTIVE_EVENTS.contains(&e.as_str()))
        .any(|e| e == "All" || e == event_type)
}

/// Lowercase hex HMAC-SHA256 of `body` with `key` (the `x-hmac-signature` header value).
pub fn sign_body(key: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Compact JSON as Go's encoder writes it: sorted keys (serde_json's map is ordered), and
/// `<`, `>`, `&`, U+2028, U+2029 escaped.
pub(crate) fn go_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The exact request body for an event object (without `userID`/`instanceName`).
pub(crate) fn build_body(
    format: WebhookFormat,
    event: &Value,
    user_id: &str,
    instance_name: &str,
) -> (Bytes, &'static str) {
    match format {
        WebhookFormat::Json => {
            let mut obj = match event {
                Value::Object(m) => m.clone(),
                other => {
                    let mut m = Map::new();
                    m.insert("event".to_string(), other.clone());
                    m
                }
            };
            obj.insert("userID".to_string(), Value::String(user_id.to_string()));
            obj.insert(
                "instanceName".to_string(),
                Value::String(instance_name.to_string()),
            );
            (
                Bytes::from(go_json(&Value::Object(obj))),
                "application/json",
            )
        }
        WebhookFormat::Form => {
            let json_data = go_json(event);
            let body = serde_urlencoded::to_string([
                ("instanceName", instance_name),
                ("jsonData", json_data.as_str()),
                ("userID", user_id),
            ])
            .unwrap_or_default();
            (Bytes::from(body), "application/x-www-form-urlencoded")
        }
    }
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub at: DateTime<Utc>,
    pub user_id: String,
    pub url: String,
    /// `true` for the global webhook.
    pub global: bool,
    /// The event's `type`.
    pub event_type: String,
    /// Top-level `state` of the event (receipts), if any.
    pub state: Option<String>,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// HTTP status answered, if any.
    pub status: Option<u16>,
    /// Transport error, if no status.
    pub error: Option<String>,
    /// The `x-hmac-signature` sent, if signed.
    pub signature: Option<String>,
    pub format: WebhookFormat,
    /// The exact body sent.
    pub body: String,
}

impl WebhookDelivery {
    /// Whether this attempt got a 2xx answer.
    pub fn ok(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

pub(crate) struct Job {
    pub token: String,
    pub event: Value,
    pub delay: Duration,
    pub generation: u64,
    pub reply: Option<oneshot::Sender<Result<(), String>>>,
}

/// Spawns the dispatcher on the current runtime: all webhook HTTP traffic runs there, with one
/// shared client.
pub(crate) fn spawn_dispatcher(
    inner: Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) -> std::io::Result<()> {
    let handle = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .user_agent("go-resty/2.16.5 (https://github.com/go-resty/resty)")
        .pool_max_idle_per_host(64)
        .build()
        .map_err(std::io::Error::other)?;
    handle.spawn(async move {
        while let Some(mut job) = rx.recv().await {
            let Some(inner) = inner.upgrade() else { break };
            let client = client.clone();
            tokio::spawn(async move {
                let reply = job.reply.take();
                let res = run_job(&inner, &client, job).await;
                if let Some(reply) = reply {
                    let _ = reply.send(res);
                }
            });
        }
    });
    Ok(())
}

struct Target {
    url: String,
    key: Option<String>,
    global: bool,
}

async fn run_job(inner: &Arc<Inner>, client: &reqwest::Client, job: Job) -> Result<(), String> {
    if !job.delay.is_zero() {
        tokio::time::sleep(job.delay).await;
    }
    if inner.generation.load(Ordering::Relaxed) != job.generation {
        return Ok(());
    }
    let (user_id, name, url, events, key) = {
        let users = lock(&inner.users);
        let rec = users
            .get(&job.token)
            .ok_or_else(|| "unknown user token".to_string())?;
        (
            rec.user.id.clone(),
            rec.user.name.clone(),
            rec.user.webhook.clone(),
            rec.user.events.clone(),
            rec.user.hmac_key.clone(),
        )
    };
    let mut event = job.event;
    if let Value::Object(m) = &mut event {
        m.remove("userID");
        m.remove("instanceName");
    }
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !subscription_allows(&events, &event_type) {
        return Ok(());
    }
    let state = event
        .get("state")
        .and_then(Value::as_str)
        .map(str::to_string);
    let sign = inner.sign.load(Ordering::Relaxed);
    let mut targets = Vec::new();
    if !url.is_empty() {
        targets.push(Target {
            url,
            key: if sign { key } else { None },
            global: false,
        });
    }
    if let Some(g) = inner
        .config
        .global_webhook_url
        .as_ref()
        .filter(|g| !g.is_empty())
    {
        targets.push(Target {
            url: g.clone(),
            key: if sign {
                inner.config.global_hmac_key.clone()
            } else {
                None
            },
            global: true,
        });
    }
    if targets.is_empty() {
        return Ok(());
    }
    let format = inner.format();
    let (body, content_type) = build_body(format, &event, &user_id, &name);
    let meta = Meta {
        user_id: &user_id,
        event_type: &event_type,
        state: state.as_deref(),
        format,
        content_type,
        generation: job.generation,
    };
    let results = futures_util::future::join_all(
        targets
            .iter()
            .map(|t| deliver(inner, client, t, body.clone(), &meta)),
    )
    .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

struct Meta<'a> {
    user_id: &'a str,
    event_type: &'a str,
    state: Option<&'a str>,
    format: WebhookFormat,
    content_type: &'static str,
    generation: u64,
}

async fn deliver(
    inner: &Inner,
    client: &reqwest::Client,
    target: &Target,
    body: Bytes,
    meta: &Meta<'_>,
) -> Result<(), String> {
    let signature = target.key.as_deref().map(|k| sign_body(k, &body));
    let attempts = inner.config.webhook_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            let factor = 1u32 << (attempt - 2).min(16);
            tokio::time::sleep(inner.config.webhook_retry_delay * factor).await;
            if inner.generation.load(Ordering::Relaxed) != meta.generation {
                return Ok(());
            }
        }
        let mut req = client
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, meta.content_type)
            .timeout(inner.config.webhook_timeout)
            .body(body.clone());
        if let Some(sig) = &signature {
            req = req.header("x-hmac-signature", sig.as_str());
        }
        let (status, error) = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let _ = resp.bytes().await;
                (Some(status), None)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        let delivery = WebhookDelivery {
            at: Utc::now(),
            user_id: meta.user_id.to_string(),
            url: target.url.clone(),
            global: target.global,
            event_type: meta.event_type.to_string(),
            state: meta.state.map(str::to_string),
            attempt,
            status,
            error: error.clone(),
            signature: signature.clone(),
            format: meta.format,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let ok = delivery.ok();
        lock(&inner.deliveries).push(delivery);
        if ok {
            return Ok(());
        }
        last = match (status, error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e,
            (None, None) => String::new(),
        };
        tracing::debug!(url = %target.url, attempt, event_type = meta.event_type, "fake upstream webhook attempt failed: {last}");
    }
    Err(format!("{}: {last}", target.url))
}

// ---------------------------------------------------------------------------------------------
// Event builders

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `<digits>@s.whatsapp.net` for a number (one leading `+` stripped), a JID unchanged.
pub(crate) fn to_jid(phone: &str) -> String {
    if phone.contains('@') {
        phone.to_string()
    } else {
        let p = phone.strip_prefix('+').unwrap_or(phone);
        format!("{p}@s.whatsapp.net")
    }
}

/// `{"event":{},"type":"Connected"}`
pub fn connected_event() -> Value {
    json!({"event": {}, "type": "Connected"})
}

/// `{"event":{},"type":"Disconnected"}`
pub fn disconnected_event() -> Value {
    json!({"event": {}, "type": "Disconnected"})
}

/// `LoggedOut` with `OnConnect` and `Reason` (e.g. `false`, 401).
pub fn logged_out_event(on_connect: bool, reason: i64) -> Value {
    json!({"event": {"OnConnect": on_connect, "Reason": reason}, "type": "LoggedOut"})
}

/// The placeholder QR PNG of `qr.json`.
pub(crate) const QR_PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAE0lEQVR4nGP4zwCBDAz/0SBJIgB8BB/hqRvM5AAAAABJRU5ErkJggg==";

pub(crate) fn qr_event() -> Value {
    json!({"event": "code", "qrCodeBase64": QR_PNG, "type": "QR"})
}

/// A `ReadReceipt` for messages sent to `chat` (number or JID): `Delivered` (`Type` "") or
/// `Read` (`Type` "read").
pub fn read_receipt_event(chat: &str, message_ids: &[&str], read: bool) -> Value {
    receipt_event(&to_jid(chat), &to_jid(chat), message_ids, read, Utc::now())
}

fn receipt_event(chat: &str, sender: &str, ids: &[&str], read: bool, at: DateTime<Utc>) -> Value {
    json!({
        "event": {
            "AddressingMode": "",
            "BroadcastListOwner": "",
            "BroadcastRecipients": null,
            "Chat": chat,
            "IsFromMe": false,
            "IsGroup": chat.ends_with("@g.us"),
            "MessageIDs": ids,
            "MessageSender": "",
            "RecipientAlt": "",
            "Sender": sender,
            "SenderAlt": "",
            "Timestamp": rfc3339(at),
            "Type": if read { "read" } else { "" },
        },
        "state": if read { "Read" } else { "Delivered" },
        "type": "ReadReceipt",
    })
}

fn incoming_id() -> String {
    let bytes: [u8; 9] = rand::thread_rng().gen();
    format!("3A{}", hex::encode_upper(bytes))
}

fn message_event(
    from: &str,
    push_name: &str,
    kind: &str,
    media_type: &str,
    message: Value,
) -> Value {
    let jid = to_jid(from);
    json!({
        "event": {
            "Info": {
                "AddressingMode": "",
                "BroadcastListOwner": "",
                "BroadcastRecipients": null,
                "Category": "",
                "Chat": jid,
                "DeviceSentMeta": null,
                "Edit": "",
                "ID": incoming_id(),
                "IsFromMe": false,
                "IsGroup": false,
                "MediaType": media_type,
                "MsgBotInfo": {"EditSenderTimestampMS": "0001-01-01T00:00:00Z", "EditTargetID": "", "EditType": ""},
                "MsgMetaInfo": {"DeprecatedLIDSession": null, "TargetChat": "", "TargetID": "", "TargetSender": "", "ThreadMessageID": "", "ThreadMessageSenderJID": ""},
                "Multicast": false,
                "PushName": push_name,
                "RecipientAlt": "",
                "Sender": jid,
                "SenderAlt": "",
                "ServerID": 0,
                "Timestamp": rfc3339(Utc::now()),
                "Type": kind,
                "VerifiedName": null,
            },
            "IsBotInvoke": false,
            "IsDocumentWithCaption": false,
            "IsEdit": false,
            "IsEphemeral": false,
            "IsLottieSticker": false,
            "IsViewOnce": false,
            "IsViewOnceV2": false,
            "IsViewOnceV2Extension": false,
            "Message": message.clone(),
            "NewsletterMeta": null,
            "RawMessage": message,
            "RetryCount": 0,
            "SourceWebMsg": null,
            "UnavailableRequestID": "",
        },
        "type": "Message",
    })
}

/// An incoming plain-text `Message` (`conversation`) from `from` (number or JID), with a fresh id.
pub fn incoming_text_event(from: &str, text: &str) -> Value {
    message_event(from, "", "text", "", json!({"conversation": text}))
}

/// An incoming image `Message` from `from`. With `jpeg_base64` the media is "delivered as
/// base64" (top-level `base64`, `mimeType`, `fileName`).
pub fn incoming_image_event(from: &str, caption: &str, jpeg_base64: Option<&str>) -> Value {
    let image = json!({
        "URL": "https://mmg.whatsapp.net/o1/v/t62.7118-24/f2/m231/fake?ccb=9-4&mms3=true",
        "caption": caption,
        "directPath": "/o1/v/t62.7118-24/f2/m231/fake?ccb=9-4",
        "fileEncSHA256": "erQIamzKTvdkMRwHn9j68IbsiBzDutW29p/CI2WdTfI=",
        "fileLength": 159,
        "fileSHA256": "8d9f/dwfCJH2o02iThP0PIANwC+/E3gVvzJ/OpRNktI=",
        "height": 16,
        "mediaKey": "LKgu50MN5dfYzualxw/rVCgZtCbITR0G4Wy3xOMAUwI=",
        "mediaKeyTimestamp": Utc::now().timestamp(),
        "mimetype": "image/jpeg",
        "width": 16,
    });
    let mut ev = message_event(from, "", "media", "image", json!({"imageMessage": image}));
    if let (Some(b64), Value::Object(m)) = (jpeg_base64, &mut ev) {
        let id = ev_id(m);
        m.insert("base64".into(), Value::String(b64.to_string()));
        m.insert("mimeType".into(), Value::String("image/jpeg".into()));
        m.insert("fileName".into(), Value::String(format!("{id}.jpeg")));
    }
    ev
}

fn ev_id(m: &Map<String, Value>) -> String {
    m.get("event")
        .and_then(|e| e.get("Info"))
        .and_then(|i| i.get("ID"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn message_sent_event(
    chat: &str,
    id: &str,
    message_type: &str,
    message: Value,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "event": {
            "Info": {
                "Chat": chat,
                "ID": id,
                "IsFromMe": true,
                "MessageType": message_type,
                "Timestamp": rfc3339(at),
            },
            "Message": message,
        },
        "type": "MessageSent",
    })
}

/// After an accepted send: `MessageSent` now, then receipts per the recipient's plan.
pub(crate) fn schedule_after_send(
    inner: &Inner,
    token: &str,
    chat: &str,
    id: &str,
    message_sent: Value,
    receipts: bool,
) {
    if !inner.emitting() {
        return;
    }
    inner.enqueue(token, message_sent, Duration::ZERO);
    if !receipts || !inner.on_whatsapp(chat) {
        return;
    }
    let d1 = inner.config.delivered_after;
    let d2 = inner.config.read_after;
    let sender = if chat.ends_with("@g.us") {
        "6281234567890@s.whatsapp.net".to_string()
    } else {
        chat.to_string()
    };
    let now = Utc::now();
    let unknown = super::state::random_message_id();
    let plan = inner.receipt_plan(&normalize_phone(chat));
    let ids_one = [id];
    let ids_multi = [id, unknown.as_str()];
    let rec = |read: bool, delay: Duration, ids: &[&str]| {
        let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
        inner.enqueue(token, receipt_event(chat, &sender, ids, read, at), delay);
    };
    let dup = Duration::from_millis(5);
    match plan {
        ReceiptPlan::Never => {}
        ReceiptPlan::Normal => {
            rec(false, d1, &ids_one);
            rec(true, d2, &ids_one);
        }
        ReceiptPlan::DeliveredOnly => rec(false, d1, &ids_one),
        ReceiptPlan::ReadBeforeDelivered => {
            rec(true, d1, &ids_one);
            rec(false, d2.max(d1 + dup), &ids_one);
        }
        ReceiptPlan::Duplicated => {
            rec(false, d1, &ids_one);
            rec(false, d1 + dup, &ids_one);
            rec(true, d2, &ids_one);
            rec(true, d2 + dup, &ids_one);
        }
        ReceiptPlan::MultiId => {
            rec(false, d1, &ids_multi);
            rec(true, d2, &ids_multi);
        }
    }
}
