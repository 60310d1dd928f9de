//! A simulated WuzAPI upstream (the WhatsApp server the gateway talks to), for tests, benchmarks
//! and the sandbox.
//!
//! It implements the contract of `shared/spec/upstream.md` §10: users and auth, per-user session
//! state, the send endpoints with the upstream's validation order and error strings, contacts,
//! a journal of every accepted send, outgoing webhooks (JSON or form, HMAC-signed, with the
//! subscription filter, scripted receipts and retries), latency and fault injection, and a
//! control API under `/__fake/` on the same port.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use wa_gateway::fake_upstream::*;
//! let fake = FakeUpstream::start(FakeUpstreamConfig::default()).await?;
//! let mut user = FakeUser::new("cs-team-1", "tok-1");
//! user.webhook = "http://127.0.0.1:9999/hooks/wa".into();
//! fake.add_user(user);
//! // ... point the gateway at fake.base_url(), drive it, then:
//! assert_eq!(fake.sends_to("6281234567890"), 1);
//! # Ok(()) }
//! ```
//!
//! Differences from the real upstream, on purpose: request keys are only accepted in their
//! canonical spelling (`Phone`, `Body`, `Image`, ...), image URLs are not downloaded, and all
//! delays are short.

mod admin;
mod control;
mod faults;
mod routes;
mod state;
mod webhooks;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use faults::{FaultKind, FaultRule, LatencyRule};
pub use webhooks::{
    connected_event, disconnected_event, incoming_image_event, incoming_text_event,
    logged_out_event, read_receipt_event, sign_body, WebhookDelivery,
};

use state::{lock, Inner};

/// Wire format of outgoing webhooks (upstream `WEBHOOK_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `application/json`: the event object plus top-level `userID` and `instanceName`.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: `instanceName`, `jsonData`, `userID`.
    Form,
}

/// Configuration of a fake upstream instance.
#[derive(Debug, Clone)]
pub struct FakeUpstreamConfig {
    /// Address to bind; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Admin token expected verbatim in `Authorization` on `/admin/*`.
    pub admin_token: String,
    pub webhook_format: WebhookFormat,
    /// Optional global webhook receiving every user's (filtered) events.
    pub global_webhook_url: Option<String>,
    /// Key signing the global webhook; without one the global webhook is unsigned.
    pub global_hmac_key: Option<String>,
    /// Delay between a send and its `Delivered` receipt.
    pub delivered_after: Duration,
    /// Delay between a send and its `Read` receipt.
    pub read_after: Duration,
    /// Attempts per webhook delivery (1 = no retry).
    pub webhook_attempts: u32,
    /// actix workers.
    pub workers: usize,
    /// Emit webhooks at all (benchmarks turn this off).
    pub emit_webhooks: bool,
    /// Delay before retry k (k >= 2) is `webhook_retry_delay * 2^(k-2)`.
    pub webhook_retry_delay: Duration,
    /// Timeout per webhook attempt.
    pub webhook_timeout: Duration,
    /// Seed of the RNG deciding probabilistic faults.
    pub fault_seed: u64,
    /// Wait of `POST /session/connect` with `Immediate: false` (the real upstream waits 10 s).
    pub connect_wait: Duration,
}

impl Default for FakeUpstreamConfig {
    fn default() -> Self {
        FakeUpstreamConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: "fake-admin-token".to_string(),
            webhook_format: WebhookFormat::Json,
            global_webhook_url: None,
            global_hmac_key: None,
            delivered_after: Duration::from_millis(50),
            read_after: Duration::from_millis(100),
            webhook_attempts: 3,
            workers: 1,
            emit_webhooks: true,
            webhook_retry_delay: Duration::from_millis(50),
            webhook_timeout: Duration::from_secs(5),
            fault_seed: 42,
            connect_wait: Duration::from_millis(50),
        }
    }
}

/// One upstream user (= one WhatsApp number / session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FakeUser {
    /// Upstream user id, 32 lowercase hex characters (webhooks carry it as `userID`).
    pub id: String,
    /// Instance name (webhooks carry it as `instanceName`).
    pub name: String,
    pub token: String,
    /// The session's own number (digits).
    pub phone: String,
    /// Websocket open. `false` means "no session".
    pub connected: bool,
    /// Paired (QR scanned). Survives a disconnect; cleared by logout.
    pub logged_in: bool,
    /// Per-user webhook URL ("" = none).
    pub webhook: String,
    /// Subscribed event names (§6.4).
    pub events: Vec<String>,
    /// Per-user HMAC key (signs the per-user webhook).
    pub hmac_key: Option<String>,
    /// The `GET /user/contacts` data map (§5.3), keyed by JID.
    pub contacts: serde_json::Value,
}

impl FakeUser {
    /// A connected, logged-in user subscribed to `All`, with a random id and own number and the
    /// §5.3 example contacts (including one `@lid` entry).
    pub fn new(name: &str, token: &str) -> Self {
        FakeUser {
            id: state::random_user_id(),
            name: name.to_string(),
            token: token.to_string(),
            phone: state::random_phone(),
            connected: true,
            logged_in: true,
            webhook: String::new(),
            events: vec!["All".to_string()],
            hmac_key: None,
            contacts: default_contacts(),
        }
    }
}

impl Default for FakeUser {
    fn default() -> Self {
        FakeUser::new("", "")
    }
}

/// The §5.3 example address book.
pub fn default_contacts() -> serde_json::Value {
    serde_json::json!({
        "6281234567890@s.whatsapp.net": {"BusinessName":"","FirstName":"Budi","Found":true,"FullName":"Budi Santoso","PushName":"Budi","RedactedPhone":""},
        "6289876543210@s.whatsapp.net": {"BusinessName":"Toko Maju","FirstName":"","Found":true,"FullName":"","PushName":"Toko Maju","RedactedPhone":""},
        "123456789012345@lid": {"BusinessName":"","FirstName":"","Found":true,"FullName":"","PushName":"Sari","RedactedPhone":"+62∙∙∙∙∙∙∙∙90"}
    })
}

/// One accepted send, as recorded in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    pub user_id: String,
    pub token: String,
    /// The `Phone` value as received (`group` for polls).
    pub phone: String,
    /// The recipient JID the phone resolved to (`<digits>@s.whatsapp.net`, or the JID given).
    pub chat: String,
    /// `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`, `contact`,
    /// `buttons`, `list`, `poll` or `edit`.
    pub kind: String,
    /// The message id returned to the caller.
    pub id: String,
    /// Whether the caller supplied the `Id`.
    pub caller_id: bool,
    /// Lowercase hex SHA-256 of the text (`Body` for text/edit, `Caption` for media, `header`
    /// for polls, `Name` for contacts/locations, `Title`/`Desc` for buttons/lists); see
    /// [`body_digest`].
    pub body_digest: String,
    /// The `Image` value as received (image sends only).
    pub image: Option<String>,
    /// The media value as received for video/audio/document/sticker sends.
    pub media: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The digest stored in [`SentMessage::body_digest`]: lowercase hex SHA-256 of the text.
pub fn body_digest(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Scripted receipts for sends to a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptPlan {
    /// `Delivered` after `delivered_after`, `Read` after `read_after`.
    #[default]
    Normal,
    /// No receipts at all.
    Never,
    /// Only `Delivered`.
    DeliveredOnly,
    /// `Read` after `delivered_after`, then `Delivered` after `read_after`.
    ReadBeforeDelivered,
    /// Each receipt is delivered twice.
    Duplicated,
    /// Normal, but each receipt's `MessageIDs` also names an id the gateway does not know.
    MultiId,
}

/// Handle to a running fake upstream. Cheap to clone.
#[derive(Clone)]
pub struct FakeUpstream {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
}

impl FakeUpstream {
    /// Binds, spawns the server and the webhook dispatcher on the current tokio/actix runtime
    /// and returns once the socket is listening.
    pub async fn start(config: FakeUpstreamConfig) -> std::io::Result<FakeUpstream> {
        let listener = std::net::TcpListener::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let workers = config.workers.max(1);
        let (inner, rx) = Inner::new(config);
        let inner = Arc::new(inner);
        webhooks::spawn_dispatcher(Arc::downgrade(&inner), rx)?;
        let data = actix_web::web::Data::from(inner.clone());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .app_data(actix_web::web::PayloadConfig::new(routes::MAX_BODY))
                .default_service(actix_web::web::to(routes::handle))
        })
        .workers(workers)
        .backlog(2048)
        .max_connection_rate(4096)
        .shutdown_timeout(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(FakeUpstream {
            inner,
            addr,
            server: handle,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configured admin token.
    pub fn admin_token(&self) -> String {
        self.inner.config.admin_token.clone()
    }

    /// Adds (or replaces, by token) a user. Users added here survive [`reset`](Self::reset),
    /// which restores them to the state given here.
    pub fn add_user(&self, user: FakeUser) {
        self.inner.add_user(user, true);
    }

    /// A snapshot of a user's current state, by token.
    pub fn user(&self, token: &str) -> Option<FakeUser> {
        lock(&self.inner.users).get(token).map(|r| r.user.clone())
    }

    /// Snapshot of all users.
    pub fn users(&self) -> Vec<FakeUser> {
        lock(&self.inner.users)
            .values()
            .map(|r| r.user.clone())
            .collect()
    }

    /// `connected=false` => "no session"; `connected && !logged_in` => waiting for QR (sends
    /// fail with "the store doesn't contain a device JID"); both => can send.
    pub fn set_session(&self, token: &str, connected: bool, logged_in: bool) {
        self.inner.set_session(token, connected, logged_in);
    }

    /// Every accepted send, oldest first.
    pub fn journal(&self) -> Vec<SentMessage> {
        lock(&self.inner.journal).clone()
    }

    /// Number of journal entries for a recipient (digits compared; `+`, `@s.whatsapp.net` and a
    /// device suffix are ignored; group JIDs compare verbatim).
    pub fn sends_to(&self, phone: &str) -> usize {
        self.inner.sends_to(phone)
    }

    pub fn clear_journal(&self) {
        lock(&self.inner.journal).clear();
    }

    /// Adds a fault rule (rules are tried in insertion order; the first that fires wins).
    pub fn inject_fault(&self, fault: FaultRule) {
        self.inner.faults.add(fault);
    }

    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Delay every request whose path starts with `path_prefix` by a uniform random duration in
    /// `[min, max]`. Replaces an earlier rule with the same prefix (and no token).
    pub fn set_latency(&self, path_prefix: &str, min: Duration, max: Duration) {
        self.inner.faults.set_latency(LatencyRule {
            path_prefix: path_prefix.to_string(),
            token: None,
            min_ms: min.as_millis() as u64,
            max_ms: max.as_millis() as u64,
        });
    }

    /// Like [`set_latency`](Self::set_latency), optionally for one user's token only.
    pub fn set_latency_rule(&self, rule: LatencyRule) {
        self.inner.faults.set_latency(rule);
    }

    pub fn clear_latency(&self) {
        self.inner.faults.clear_latency();
    }

    /// Receipt plan for sends to `phone` (`None` = the default for all recipients).
    pub fn set_receipts(&self, phone: Option<&str>, plan: ReceiptPlan) {
        self.inner.set_receipts(phone, plan);
    }

    /// Mark a number as (not) on WhatsApp: affects `POST /user/check`, and sends to a number
    /// not on WhatsApp still succeed but never get receipts.
    pub fn set_on_whatsapp(&self, phone: &str, on: bool) {
        self.inner.set_on_whatsapp(phone, on);
    }

    /// Sends an event object (`{"type":..,"event":..,...}`; any `userID`/`instanceName` in it are
    /// replaced) to the user's webhook and the global webhook, in the configured format, signed
    /// when keyed, after the §6.4 subscription filter. Waits for the delivery (with retries).
    /// `Ok` when every destination answered 2xx (or nothing had to be sent).
    pub async fn emit_event(&self, token: &str, event: serde_json::Value) -> Result<(), String> {
        self.inner.emit_event(token, event).await
    }

    /// Every webhook delivery attempt, oldest first.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.inner.deliveries).clone()
    }

    pub fn clear_webhook_deliveries(&self) {
        lock(&self.inner.deliveries).clear();
    }

    pub fn set_webhook_format(&self, f: WebhookFormat) {
        self.inner.set_format(f);
    }

    /// `false` sends webhooks unsigned even when a key is configured.
    pub fn set_sign_webhooks(&self, on: bool) {
        self.inner.sign.store(on, Ordering::Relaxed);
    }

    /// Turns webhook emission on/off at run time.
    pub fn set_emit_webhooks(&self, on: bool) {
        self.inner.emit.store(on, Ordering::Relaxed);
    }

    /// Clears journal, faults, latency, receipt plans, webhook deliveries and the not-on-WhatsApp
    /// set; restores webhook format/signing/emission from the config; cancels pending scheduled
    /// webhooks; restores the users added with [`add_user`](Self::add_user) to their state as
    /// added and removes all others.
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// Stops the HTTP server.
    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

/// Starts a fake upstream with the given users and runs until Ctrl-C or SIGTERM.
pub async fn run_standalone(
    config: FakeUpstreamConfig,
    users: Vec<FakeUser>,
) -> std::io::Result<()> {
    let fake = FakeUpstream::start(config).await?;
    for u in users {
        fake.add_user(u);
    }
    tracing::info!(url = %fake.base_url(), "fake upstream listening");
    wait_for_shutdown_signal().await?;
    fake.stop().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
