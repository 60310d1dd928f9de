//! `SenderActor`: the one place that sends campaign messages for a WhatsApp session. It holds
//! the session's lease (so one process drives a session), paces sends with a token bucket and
//! rotates between the session's campaigns; its queue is the items table.

pub mod rate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::db::queries::campaigns::{self as q, CampaignContent, ClaimedItem, SendResult};
use crate::db::queries::session_settings;
use crate::upstream::{SendImage, SendText, UpstreamError};

use super::Deps;
use rate::{Departures, TokenBucket};

/// Attempts allowed for an item that keeps failing with "surely not sent" errors.
const MAX_ATTEMPTS: i32 = 8;
/// Items claimed per batch when the rate limit is off.
const UNLIMITED_BATCH: usize = 256;
/// Sends in flight at once per session.
const SEND_CONCURRENCY: usize = 32;
/// How often the session's settings (rate, daily cap) and its sent-today count are re-read.
const LIMITS_REFRESH: Duration = Duration::from_secs(10);

/// The session's send limits, as last read from the database.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Messages per second (0 = unlimited).
    rate: f64,
    /// Sends allowed per local day, if capped.
    daily_cap: Option<i64>,
    /// Sends counted in the current day.
    sent_today: i64,
    /// When the current day ends (the count restarts).
    day_end: DateTime<Utc>,
}

impl Limits {
    /// Sends left today, if capped.
    fn left(&self) -> Option<i64> {
        self.daily_cap.map(|c| (c - self.sent_today).max(0))
    }
}

/// A batch may hold up to 100 ms worth of sends (at least one): high rates are not capped by
/// one database round trip per message, and the sliding window still holds the rate.
fn rate_burst(rate: f64) -> f64 {
    (rate / 10.0).floor().max(1.0)
}

/// The departure gate of a rate-limited session (none when unlimited).
fn gate_for(rate: f64) -> Option<Arc<Mutex<Departures>>> {
    (rate > 0.0).then(|| Arc::new(Mutex::new(Departures::new(rate))))
}

/// Drives one session's sends.
pub struct SenderActor {
    deps: Deps,
    session_id: String,
    bucket: TokenBucket,
    busy: bool,
    rotation: usize,
    contents: HashMap<i64, CampaignContent>,
    token: Option<String>,
    /// Backoff while the session is not connected upstream.
    paused_until: Option<Instant>,
    backoff: Duration,
    idle_ticks: u32,
    timer: Option<SpawnHandle>,
    sent_total: u64,
    /// A stop was asked for while a batch was in flight: stop once its results are recorded.
    stop_requested: bool,
    /// Rate-limited sessions: when each HTTP send may leave (spacing and the one-second window,
    /// from the instants sends actually left).
    gate: Option<Arc<Mutex<Departures>>>,
    /// Rate and daily cap; None until first read.
    limits: Option<(Limits, Instant)>,
    /// When the session lease was last renewed; it is renewed every third of its duration.
    lease_renewed: Option<Instant>,
}

impl SenderActor {
    pub fn new(deps: Deps, session_id: String) -> Self {
        let rate = deps.settings.send_rate_per_sec;
        SenderActor {
            deps,
            session_id,
            bucket: TokenBucket::new(rate, rate_burst(rate), Instant::now()),
            busy: false,
            rotation: 0,
            contents: HashMap::new(),
            token: None,
            paused_until: None,
            backoff: Duration::from_millis(500),
            idle_ticks: 0,
            timer: None,
            sent_total: 0,
            stop_requested: false,
            gate: gate_for(rate),
            limits: None,
            lease_renewed: None,
        }
    }

    /// Whether the limits must be re-read before the next batch.
    fn limits_stale(&self) -> bool {
        self.limits.map_or(true, |(l, at)| {
            at.elapsed() >= LIMITS_REFRESH || Utc::now() >= l.day_end
        })
    }

    fn apply_limits(&mut self, l: Limits) {
        if (l.rate - self.bucket.rate()).abs() > f64::EPSILON {
            tracing::info!(session = %self.session_id, rate = l.rate, "send rate changed");
            self.bucket = TokenBucket::new(l.rate, rate_burst(l.rate), Instant::now());
            self.gate = gate_for(l.rate);
        }
        self.limits = Some((l, Instant::now()));
    }

    fn schedule(&mut self, ctx: &mut Context<Self>, after: Duration) {
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        if self.stop_requested {
            ctx.stop();
            return;
        }
        self.timer = Some(ctx.run_later(after, |act, ctx| {
            act.timer = None;
            act.tick(ctx);
        }));
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                self.schedule(ctx, until - Instant::now());
                return;
            }
        }
        let now = Instant::now();
        let refresh = self.limits_stale();
        let left = if refresh {
            None
        } else {
            self.limits.and_then(|(l, _)| l.left())
        };
        if left == Some(0) {
            // Today's cap is reached: look again when the day ends or the settings may change.
            let (l, at) = self.limits.expect("limits are known when not stale");
            let until_day_end = (l.day_end - Utc::now()).to_std().unwrap_or_default();
            let until_refresh = LIMITS_REFRESH.saturating_sub(at.elapsed());
            self.schedule(
                ctx,
                until_day_end
                    .min(until_refresh)
                    .max(Duration::from_millis(10)),
            );
            return;
        }
        let want = if self.bucket.unlimited() {
            UNLIMITED_BATCH
        } else {
            16
        };
        let want = left.map_or(want, |l| want.min(l as usize));
        let n = self.bucket.take(want, now);
        if n == 0 {
            let wait = self.bucket.next_token_in(now).max(Duration::from_millis(1));
            self.schedule(ctx, wait);
            return;
        }
        self.busy = true;
        let renew_lease = self.lease_renewed.map_or(true, |t| {
            t.elapsed() >= self.deps.settings.lease_duration / 3
        });
        let work = run_batch(
            self.deps.clone(),
            self.session_id.clone(),
            BatchPlan {
                n,
                rotation: self.rotation,
                renew_lease,
                refresh_limits: refresh,
                // Idle for about two seconds with campaigns: check whether they are finished,
                // whatever their counters say.
                check_finished: self.idle_ticks % 20 == 19,
            },
            self.contents.clone(),
            self.token.clone(),
            self.gate.clone(),
        );
        let started = Instant::now();
        ctx.spawn(work.into_actor(self).map(move |out, act, ctx| {
            act.busy = false;
            if act.stop_requested {
                ctx.stop();
                return;
            }
            act.rotation = act.rotation.wrapping_add(1);
            match out {
                Ok(out) => {
                    if renew_lease && out.lease {
                        act.lease_renewed = Some(started);
                    } else if !out.lease {
                        act.lease_renewed = None;
                    }
                    if let Some(l) = out.limits {
                        act.apply_limits(l);
                    }
                    if let Some((l, _)) = act.limits.as_mut() {
                        l.sent_today += out.sent as i64;
                    }
                    act.contents.extend(out.contents);
                    if out.token.is_some() {
                        act.token = out.token;
                    }
                    act.bucket.give_back(n.saturating_sub(out.claimed));
                    act.sent_total += out.sent as u64;
                    if !out.lease {
                        // Another process drives this session: look again later.
                        act.idle_ticks += 1;
                        act.schedule(ctx, act.deps.settings.lease_duration / 3);
                    } else if out.session_down {
                        act.paused_until = Some(Instant::now() + act.backoff);
                        act.backoff = (act.backoff * 2).min(Duration::from_secs(30));
                        act.schedule(ctx, act.backoff);
                    } else if out.claimed == 0 && out.capped {
                        // The re-read count says today's cap is reached.
                        act.schedule(ctx, Duration::ZERO);
                    } else if out.claimed == 0 {
                        act.idle_ticks += 1;
                        if act.idle_ticks > 40 && !out.has_campaigns {
                            ctx.stop();
                            return;
                        }
                        act.schedule(ctx, Duration::from_millis(if out.has_campaigns { 100 } else { 500 }));
                    } else {
                        act.idle_ticks = 0;
                        act.backoff = Duration::from_millis(500);
                        act.paused_until = None;
                        let mut wait = act.bucket.next_token_in(Instant::now());
                        let jitter = act.deps.settings.send_jitter;
                        if jitter > 0.0 && !act.bucket.unlimited() {
                            // Irregular spacing looks less like a machine; the mean rate drops by jitter/2.
                            wait += Duration::from_secs_f64(rand::random::<f64>() * jitter / act.bucket.rate());
                        }
                        act.schedule(ctx, wait);
                    }
                }
                Err(e) => {
                    tracing::warn!(session = %act.session_id, error.message = %e, "sender batch failed; backing off");
                    act.lease_renewed = None;
                    act.bucket.give_back(n);
                    act.schedule(ctx, Duration::from_secs(1));
                }
            }
        }));
    }
}

impl Actor for SenderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.schedule(ctx, Duration::ZERO);
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        // Sends in flight have happened or not; their results are recorded before stopping,
        // so a graceful stop never leaves items "outcome unknown".
        if self.busy {
            self.stop_requested = true;
            return Running::Continue;
        }
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let deps = self.deps.clone();
        let session = self.session_id.clone();
        actix::spawn(async move {
            if let Ok(mut conn) = deps.db.transactional.get().await {
                let _ = q::release_session_lease(&mut conn, &session, &deps.instance_id).await;
            }
        });
    }
}

/// Work may be waiting: tick now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Handler<Wake> for SenderActor {
    type Result = ();
    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.idle_ticks = 0;
        if !self.busy {
            self.schedule(ctx, Duration::ZERO);
        }
    }
}

/// The session's connection state changed (from the webhook router).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionStateChanged {
    pub connected: bool,
}

impl Handler<SessionStateChanged> for SenderActor {
    type Result = ();
    fn handle(&mut self, msg: SessionStateChanged, ctx: &mut Context<Self>) {
        if msg.connected {
            self.paused_until = None;
            self.backoff = Duration::from_millis(500);
            self.token = None;
            self.schedule(ctx, Duration::ZERO);
        } else {
            self.paused_until = Some(Instant::now() + Duration::from_secs(30));
        }
    }
}

/// The session's settings changed: re-read the rate and daily cap before the next batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadLimits;

impl Handler<ReloadLimits> for SenderActor {
    type Result = ();
    fn handle(&mut self, _: ReloadLimits, ctx: &mut Context<Self>) {
        self.limits = None;
        self.idle_ticks = 0;
        if !self.busy {
            self.schedule(ctx, Duration::ZERO);
        }
    }
}

/// Stops the actor, giving its lease up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for SenderActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// What one batch should do.
#[derive(Clone, Copy)]
struct BatchPlan {
    /// Items wanted.
    n: usize,
    /// Round-robin position among the session's campaigns.
    rotation: usize,
    renew_lease: bool,
    refresh_limits: bool,
    check_finished: bool,
}

struct BatchOutcome {
    /// Freshly read limits (when asked for).
    limits: Option<Limits>,
    /// Nothing was claimed because today's cap is reached.
    capped: bool,
    lease: bool,
    claimed: usize,
    sent: usize,
    session_down: bool,
    has_campaigns: bool,
    contents: HashMap<i64, CampaignContent>,
    token: Option<String>,
}

/// Reads the session's rate and daily cap (its row in `gateway_session_settings`, else the
/// defaults) and, when capped, what it sent today.
async fn load_limits(
    conn: &mut diesel_async::AsyncPgConnection,
    deps: &Deps,
    session_id: &str,
) -> Result<Limits, anyhow::Error> {
    let row = session_settings::get(conn, session_id).await?;
    let rate = row
        .as_ref()
        .and_then(|r| r.rate_per_sec)
        .unwrap_or(deps.settings.send_rate_per_sec);
    let daily_cap = row
        .as_ref()
        .and_then(|r| r.daily_cap)
        .map(i64::from)
        .or(deps.settings.send_daily_cap.map(i64::from));
    let zone = crate::domain::schedule::parse_zone(&deps.settings.default_timezone)
        .ok_or_else(|| anyhow::anyhow!("DEFAULT_TIMEZONE does not parse"))?;
    let (day_start, day_end) = zone.day_bounds(Utc::now());
    let sent_today = match daily_cap {
        Some(_) => session_settings::sent_between(conn, session_id, day_start, day_end).await?,
        None => 0,
    };
    Ok(Limits {
        rate,
        daily_cap,
        sent_today,
        day_end,
    })
}

async fn run_batch(
    deps: Deps,
    session_id: String,
    plan: BatchPlan,
    mut contents: HashMap<i64, CampaignContent>,
    token: Option<String>,
    gate: Option<Arc<Mutex<Departures>>>,
) -> Result<BatchOutcome, anyhow::Error> {
    let BatchPlan {
        mut n, rotation, ..
    } = plan;
    let mut out = BatchOutcome {
        limits: None,
        capped: false,
        lease: false,
        claimed: 0,
        sent: 0,
        session_down: false,
        has_campaigns: false,
        contents: HashMap::new(),
        token: None,
    };
    let mut conn = deps.db.transactional.get().await?;
    let lease_secs = deps.settings.lease_duration.as_secs_f64();
    if plan.renew_lease
        && !q::acquire_session_lease(&mut conn, &session_id, &deps.instance_id, lease_secs).await?
    {
        return Ok(out);
    }
    out.lease = true;
    if plan.refresh_limits {
        let limits = load_limits(&mut conn, &deps, &session_id).await?;
        out.limits = Some(limits);
        if let Some(left) = limits.left() {
            n = n.min(left as usize);
            if n == 0 {
                out.capped = true;
                return Ok(out);
            }
        }
    }
    let campaigns = q::active_campaigns_of_session(&mut conn, &session_id).await?;
    out.has_campaigns = !campaigns.is_empty();
    if campaigns.is_empty() {
        return Ok(out);
    }
    let token = match token {
        Some(t) => t,
        None => match q::session_token(&mut conn, &session_id).await? {
            Some(t) => {
                out.token = Some(t.clone());
                t
            }
            None => return Ok(out),
        },
    };
    // Round-robin: start at a different campaign each batch, fill from the next ones.
    let mut items: Vec<ClaimedItem> = Vec::new();
    for k in 0..campaigns.len() {
        if items.len() >= n {
            break;
        }
        let c = campaigns[(rotation + k) % campaigns.len()];
        let got = q::claim_items(
            &mut conn,
            c,
            &session_id,
            &deps.instance_id,
            lease_secs,
            (n - items.len()) as i64,
        )
        .await?;
        if !got.is_empty() && !contents.contains_key(&c) {
            let content = q::campaign_content(&mut conn, c).await?;
            out.contents.insert(c, content.clone());
            contents.insert(c, content);
        }
        items.extend(got);
    }
    out.claimed = items.len();
    if items.is_empty() {
        if plan.check_finished {
            for c in q::complete_finished(&mut conn, &campaigns).await? {
                tracing::info!(campaign_id = c, "campaign finished");
            }
        }
        return Ok(out);
    }
    drop(conn);

    let sends = items.iter().map(|item| {
        let client = deps.client.clone();
        let content = contents.get(&item.bulk_campaign_id).cloned();
        let token = token.clone();
        let item = item.clone();
        let gate = gate.clone();
        async move {
            if let Some(gate) = gate {
                loop {
                    let r = gate
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .try_depart(Instant::now());
                    match r {
                        Ok(()) => break,
                        Err(at) => tokio::time::sleep_until(at.into()).await,
                    }
                }
            }
            let Some(content) = content else {
                return (
                    item,
                    Err(UpstreamError::Rejected {
                        status: 0,
                        reason: "campaign content missing".into(),
                    }),
                );
            };
            let r = if content.kind == "image" {
                client
                    .send_image(
                        &token,
                        &SendImage {
                            phone: &item.phone,
                            image: &content.image,
                            caption: &content.caption,
                            id: &item.message_id,
                        },
                    )
                    .await
            } else {
                client
                    .send_text(
                        &token,
                        &SendText {
                            phone: &item.phone,
                            body: &content.body,
                            id: &item.message_id,
                        },
                    )
                    .await
            };
            (item, r)
        }
    });
    let results: Vec<_> = futures_util::stream::iter(sends)
        .buffer_unordered(SEND_CONCURRENCY)
        .collect()
        .await;
    let mut records = Vec::with_capacity(results.len());
    for (item, r) in results {
        records.push(match r {
            Ok(mid) => {
                out.sent += 1;
                SendResult::Sent { id: item.id, at: Utc::now(), message_id: if mid.is_empty() { item.message_id } else { mid } }
            }
            Err(e @ (UpstreamError::NoSession | UpstreamError::NotLoggedIn)) => {
                out.session_down = true;
                tracing::info!(session = %session_id, reason = %e, "session not ready; pausing sends");
                SendResult::Retry { id: item.id, delay_secs: 1.0, counts: false }
            }
            Err(e) if e.surely_not_sent() => {
                if item.attempts >= MAX_ATTEMPTS {
                    SendResult::Failed { id: item.id, reason: e.short_reason() }
                } else {
                    let delay = 0.5 * 2f64.powi(item.attempts.min(6));
                    SendResult::Retry { id: item.id, delay_secs: delay, counts: true }
                }
            }
            Err(UpstreamError::OutcomeUnknown(_)) => SendResult::Unknown { id: item.id },
            Err(e) => SendResult::Failed { id: item.id, reason: e.short_reason() },
        });
    }
    // The sends happened: their results must be recorded, so a failing database is retried
    // here rather than letting the items turn "outcome unknown".
    let mut attempt = 0u32;
    let completed = loop {
        let res = match deps.db.transactional.get().await {
            Ok(mut conn) => q::record_results(&mut conn, records.clone())
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        match res {
            Ok(c) => break c,
            Err(e) if attempt < 40 => {
                attempt += 1;
                tracing::warn!(session = %session_id, attempt, error.message = %e, "recording send results failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
            }
            Err(e) => return Err(e),
        }
    };
    crate::metrics::campaign_results(&session_id, &records);
    for c in completed {
        tracing::info!(campaign_id = c, "campaign finished");
    }
    Ok(out)
}
