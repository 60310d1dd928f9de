//! Fault injection and artificial latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::state::lock;

/// What a matching request gets instead of (or in addition to) its normal answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FaultKindRepr", into = "FaultKindRepr")]
pub enum FaultKind {
    /// `500 {"error":"no session"}`.
    NoSession,
    /// `500 {"error":"error sending message: websocket not connected"}`.
    SendError,
    /// `401 {"error":"unauthorized"}`.
    Unauthorized,
    /// `429 {"code":429,"error":"rate limited","success":false}`.
    TooManyRequests,
    /// The connection is closed without any response byte.
    DropConnection,
    /// Sleep, then answer normally.
    Hang(Duration),
    /// Process the request normally (journal, webhooks), then drop the connection.
    SentButAnswerLost,
}

/// JSON form: `{"kind":"too_many_requests"}`, `{"kind":"hang","ms":5000}`, ...
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultKindRepr {
    NoSession,
    SendError,
    Unauthorized,
    TooManyRequests,
    DropConnection,
    Hang { ms: u64 },
    SentButAnswerLost,
}

impl From<FaultKindRepr> for FaultKind {
    fn from(r: FaultKindRepr) -> Self {
        match r {
            FaultKindRepr::NoSession => FaultKind::NoSession,
            FaultKindRepr::SendError => FaultKind::SendError,
            FaultKindRepr::Unauthorized => FaultKind::Unauthorized,
            FaultKindRepr::TooManyRequests => FaultKind::TooManyRequests,
            FaultKindRepr::DropConnection => FaultKind::DropConnection,
            FaultKindRepr::Hang { ms } => FaultKind::Hang(Duration::from_millis(ms)),
            FaultKindRepr::SentButAnswerLost => FaultKind::SentButAnswerLost,
        }
    }
}

impl From<FaultKind> for FaultKindRepr {
    fn from(k: FaultKind) -> Self {
        match k {
            FaultKind::NoSession => FaultKindRepr::NoSession,
            FaultKind::SendError => FaultKindRepr::SendError,
            FaultKind::Unauthorized => FaultKindRepr::Unauthorized,
            FaultKind::TooManyRequests => FaultKindRepr::TooManyRequests,
            FaultKind::DropConnection => FaultKindRepr::DropConnection,
            FaultKind::Hang(d) => FaultKindRepr::Hang {
                ms: d.as_millis() as u64,
            },
            FaultKind::SentButAnswerLost => FaultKindRepr::SentButAnswerLost,
        }
    }
}

/// A fault rule. JSON form (control API): `{"path_prefix":"/chat/send","token":null,
/// "kind":"hang","ms":3000,"times":2,"probability":null}` (the kind is flattened in).
///
/// - `times: Some(n)`: fires for the next `n` matching calls (those selected by `probability`,
///   if set), then is removed.
/// - `probability: Some(p)`: each matching call fires with probability `p` (seeded RNG).
/// - neither: fires on every matching call until cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub path_prefix: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub probability: Option<f64>,
}

impl FaultRule {
    /// Fires on the next `times` calls under `path_prefix` (any user).
    pub fn next(path_prefix: &str, kind: FaultKind, times: u32) -> Self {
        FaultRule {
            path_prefix: path_prefix.to_string(),
            token: None,
            kind,
            times: Some(times),
            probability: None,
        }
    }

    /// Fires with probability `p` on every call under `path_prefix` (any user).
    pub fn with_probability(path_prefix: &str, kind: FaultKind, p: f64) -> Self {
        FaultRule {
            path_prefix: path_prefix.to_string(),
            token: None,
            kind,
            times: None,
            probability: Some(p),
        }
    }
}

/// Artificial latency for requests under a path prefix (optionally one user's only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyRule {
    pub path_prefix: String,
    #[serde(default)]
    pub token: Option<String>,
    pub min_ms: u64,
    pub max_ms: u64,
}

struct FaultState {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

pub(crate) struct Faults {
    state: Mutex<FaultState>,
    any_fault: AtomicBool,
    latency: Mutex<Vec<LatencyRule>>,
    any_latency: AtomicBool,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            state: Mutex::new(FaultState {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed),
            }),
            any_fault: AtomicBool::new(false),
            latency: Mutex::new(Vec::new()),
            any_latency: AtomicBool::new(false),
        }
    }

    pub fn add(&self, rule: FaultRule) {
        let mut st = lock(&self.state);
        st.rules.push(rule);
        self.any_fault.store(true, Ordering::Relaxed);
    }

    pub fn clear(&self) {
        let mut st = lock(&self.state);
        st.rules.clear();
        self.any_fault.store(false, Ordering::Relaxed);
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        lock(&self.state).rules.clone()
    }

    /// The fault to apply to this request, consuming one use of its rule.
    pub fn take(&self, path: &str, token: Option<&str>) -> Option<FaultKind> {
        if !self.any_fault.load(Ordering::Relaxed) {
            return None;
        }
        let mut st = lock(&self.state);
        let FaultState { rules, rng } = &mut *st;
        let mut fired = None;
        for (i, rule) in rules.iter_mut().enumerate() {
            if !path.starts_with(&rule.path_prefix) {
                continue;
            }
            if let Some(t) = &rule.token {
                if token != Some(t.as_str()) {
                    continue;
                }
            }
            if let Some(p) = rule.probability {
                if !rng.gen_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            if let Some(n) = rule.times.as_mut() {
                if *n == 0 {
                    continue;
                }
                *n -= 1;
            }
            fired = Some((i, rule.kind.clone()));
            break;
        }
        let (i, kind) = fired?;
        if rules[i].times == Some(0) {
            rules.remove(i);
        }
        if rules.is_empty() {
            self.any_fault.store(false, Ordering::Relaxed);
        }
        Some(kind)
    }

    pub fn set_latency(&self, rule: LatencyRule) {
        let mut l = lock(&self.latency);
        l.retain(|r| !(r.path_prefix == rule.path_prefix && r.token == rule.token));
        l.push(rule);
        self.any_latency.store(true, Ordering::Relaxed);
    }

    pub fn clear_latency(&self) {
        lock(&self.latency).clear();
        self.any_latency.store(false, Ordering::Relaxed);
    }

    pub fn latency_rules(&self) -> Vec<LatencyRule> {
        lock(&self.latency).clone()
    }

    /// The delay for this request: the most specific (longest prefix, token-specific first)
    /// matching rule.
    pub fn latency(&self, path: &str, token: Option<&str>) -> Option<Duration> {
        if !self.any_latency.load(Ordering::Relaxed) {
            return None;
        }
        let (min, max) = {
            let l = lock(&self.latency);
            let best = l
                .iter()
                .filter(|r| path.starts_with(&r.path_prefix))
                .filter(|r| match &r.token {
                    Some(t) => token == Some(t.as_str()),
                    None => true,
                })
                .max_by_key(|r| (r.token.is_some(), r.path_prefix.len()))?;
            (best.min_ms, best.max_ms)
        };
        let ms = if max > min {
            rand::thread_rng().gen_range(min..=max)
        } else {
            min
        };
        Some(Duration::from_millis(ms))
    }
}
