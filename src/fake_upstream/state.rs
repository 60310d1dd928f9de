//! Shared state of a fake upstream instance.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::faults::Faults;
use super::webhooks::{Job, WebhookDelivery};
use super::{FakeUpstreamConfig, FakeUser, ReceiptPlan, SentMessage, WebhookFormat};

/// Locks a mutex, ignoring poisoning (the data stays usable for a test double).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn random_user_id() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// A plausible Indonesian mobile number, `628110` + 7 digits.
pub(crate) fn random_phone() -> String {
    let n: u32 = rand::thread_rng().gen_range(0..10_000_000);
    format!("628110{n:07}")
}

/// `3EB0` followed by 18 uppercase hex digits.
pub(crate) fn random_message_id() -> String {
    let bytes: [u8; 9] = rand::thread_rng().gen();
    format!("3EB0{}", hex::encode_upper(bytes))
}

/// Key used to compare recipients: strip one leading `+`, a `@s.whatsapp.net` suffix and a
/// device suffix (`:3`); other JIDs (groups, lids) compare verbatim.
pub(crate) fn normalize_phone(p: &str) -> String {
    let p = p.trim();
    let p = p.strip_prefix('+').unwrap_or(p);
    let p = p.strip_suffix("@s.whatsapp.net").unwrap_or(p);
    if p.contains('@') {
        return p.to_string();
    }
    let p = p.split(':').next().unwrap_or(p);
    p.to_string()
}

/// A user plus the extra upstream-side fields only the admin API exposes.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub user: FakeUser,
    pub expiration: i64,
    pub history: i64,
    pub proxy_enabled: bool,
    pub proxy_url: String,
}

impl UserRec {
    pub fn new(user: FakeUser) -> Self {
        UserRec {
            user,
            expiration: 0,
            history: 0,
            proxy_enabled: false,
            proxy_url: String::new(),
        }
    }

    /// Paired device JID (`<phone>:12@s.whatsapp.net`), empty when not logged in.
    pub fn jid(&self) -> String {
        if self.user.logged_in && !self.user.phone.is_empty() {
            format!("{}:12@s.whatsapp.net", self.user.phone)
        } else {
            String::new()
        }
    }
}

/// The few user fields a request handler needs (cloned out of the lock).
#[derive(Debug, Clone)]
pub(crate) struct UserView {
    pub id: String,
    pub token: String,
    pub connected: bool,
    pub logged_in: bool,
}

#[derive(Debug, Default)]
pub(crate) struct ReceiptPlans {
    pub default: ReceiptPlan,
    pub per_phone: HashMap<String, ReceiptPlan>,
}

pub(crate) struct Inner {
    pub config: FakeUpstreamConfig,
    /// Users keyed by token.
    pub users: Mutex<HashMap<String, UserRec>>,
    /// Users as added with `add_user`, restored by `reset`.
    pub seeds: Mutex<Vec<FakeUser>>,
    pub journal: Mutex<Vec<SentMessage>>,
    pub faults: Faults,
    pub receipts: Mutex<ReceiptPlans>,
    pub deliveries: Mutex<Vec<WebhookDelivery>>,
    pub not_on_whatsapp: Mutex<HashSet<String>>,
    format: AtomicU8,
    pub sign: AtomicBool,
    pub emit: AtomicBool,
    /// Bumped by `reset`; scheduled webhooks of an older generation are dropped.
    pub generation: AtomicU64,
    jobs: mpsc::UnboundedSender<Job>,
    pub started: Instant,
}

impl Inner {
    pub fn new(config: FakeUpstreamConfig) -> (Inner, mpsc::UnboundedReceiver<Job>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Inner {
            faults: Faults::new(config.fault_seed),
            format: AtomicU8::new(format_to_u8(config.webhook_format)),
            sign: AtomicBool::new(true),
            emit: AtomicBool::new(config.emit_webhooks),
            config,
            users: Mutex::new(HashMap::new()),
            seeds: Mutex::new(Vec::new()),
            journal: Mutex::new(Vec::new()),
            receipts: Mutex::new(ReceiptPlans::default()),
            deliveries: Mutex::new(Vec::new()),
            not_on_whatsapp: Mutex::new(HashSet::new()),
            generation: AtomicU64::new(0),
            jobs: tx,
            started: Instant::now(),
        };
        (inner, rx)
    }

    pub fn add_user(&self, user: FakeUser, seed: bool) {
        if seed {
            let mut seeds = lock(&self.seeds);
            seeds.retain(|u| u.token != user.token);
            seeds.push(user.clone());
        }
        lock(&self.users).insert(user.token.clone(), UserRec::new(user));
    }

    pub fn view(&self, token: &str) -> Option<UserView> {
        lock(&self.users).get(token).map(|r| UserView {
            id: r.user.id.clone(),
            token: r.user.token.clone(),
            connected: r.user.connected,
            logged_in: r.user.logged_in,
        })
    }

    pub fn format(&self) -> WebhookFormat {
        if self.format.load(Ordering::Relaxed) == 1 {
            WebhookFormat::Form
        } else {
            WebhookFormat::Json
        }
    }

    pub fn set_format(&self, f: WebhookFormat) {
        self.format.store(format_to_u8(f), Ordering::Relaxed);
    }

    pub fn emitting(&self) -> bool {
        self.emit.load(Ordering::Relaxed)
    }

    /// Queues an event for the user's webhooks after `delay` (fire and forget).
    pub fn enqueue(&self, token: &str, event: serde_json::Value, delay: Duration) {
        if !self.emitting() {
            return;
        }
        let _ = self.jobs.send(Job {
            token: token.to_string(),
            event,
            delay,
            generation: self.generation.load(Ordering::Relaxed),
            reply: None,
        });
    }

    /// Queues an event and reports the delivery outcome on `reply` (ignores `emit_webhooks`).
    pub fn enqueue_with_reply(
        &self,
        token: &str,
        event: serde_json::Value,
        delay: Duration,
        reply: oneshot::Sender<Result<(), String>>,
    ) -> Result<(), ()> {
        self.jobs
            .send(Job {
                token: token.to_string(),
                event,
                delay,
                generation: self.generation.load(Ordering::Relaxed),
                reply: Some(reply),
            })
            .map_err(|_| ())
    }

    pub fn receipt_plan(&self, chat: &str) -> ReceiptPlan {
        let plans = lock(&self.receipts);
        plans
            .per_phone
            .get(&normalize_phone(chat))
            .copied()
            .unwrap_or(plans.default)
    }

    pub fn on_whatsapp(&self, phone: &str) -> bool {
        !lock(&self.not_on_whatsapp).contains(&normalize_phone(phone))
    }

    pub fn set_session(&self, token: &str, connected: bool, logged_in: bool) -> bool {
        match lock(&self.users).get_mut(token) {
            Some(rec) => {
                rec.user.connected = connected;
                rec.user.logged_in = logged_in;
                true
            }
            None => false,
        }
    }

    pub fn set_receipts(&self, phone: Option<&str>, plan: ReceiptPlan) {
        let mut plans = lock(&self.receipts);
        match phone {
            Some(p) => {
                plans.per_phone.insert(normalize_phone(p), plan);
            }
            None => plans.default = plan,
        }
    }

    pub fn set_on_whatsapp(&self, phone: &str, on: bool) {
        let p = normalize_phone(phone);
        let mut set = lock(&self.not_on_whatsapp);
        if on {
            set.remove(&p);
        } else {
            set.insert(p);
        }
    }

    pub fn sends_to(&self, phone: &str) -> usize {
        let want = normalize_phone(phone);
        lock(&self.journal)
            .iter()
            .filter(|m| normalize_phone(&m.phone) == want)
            .count()
    }

    /// Delivers an event now (through the dispatcher) and waits for the outcome.
    pub async fn emit_event(&self, token: &str, event: serde_json::Value) -> Result<(), String> {
        if !lock(&self.users).contains_key(token) {
            return Err("unknown user token".to_string());
        }
        let (tx, rx) = oneshot::channel();
        self.enqueue_with_reply(token, event, Duration::ZERO, tx)
            .map_err(|()| "webhook dispatcher stopped".to_string())?;
        rx.await
            .map_err(|_| "webhook dispatcher stopped".to_string())?
    }

    pub fn reset(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        lock(&self.journal).clear();
        lock(&self.deliveries).clear();
        self.faults.clear();
        self.faults.clear_latency();
        *lock(&self.receipts) = ReceiptPlans::default();
        lock(&self.not_on_whatsapp).clear();
        self.set_format(self.config.webhook_format);
        self.sign.store(true, Ordering::Relaxed);
        self.emit
            .store(self.config.emit_webhooks, Ordering::Relaxed);
        let seeds = lock(&self.seeds).clone();
        let mut users = lock(&self.users);
        users.clear();
        for u in seeds {
            users.insert(u.token.clone(), UserRec::new(u));
        }
    }
}

fn format_to_u8(f: WebhookFormat) -> u8 {
    match f {
        WebhookFormat::Json => 0,
        WebhookFormat::Form => 1,
    }
}
