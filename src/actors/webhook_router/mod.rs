//! `WebhookRouter`: processes stored webhook events (`gen_event_webhooks`) in order of arrival
//! per session, with retries and the error text on the row (defect 25). Unprocessed rows are
//! picked up at start and on a timer; rows are claimed with `FOR UPDATE SKIP LOCKED`, so several
//! instances share the queue. Event effects are idempotent (forward-only statuses, upserts), so a
//! crash between an effect and the row's `processed` flag only repeats harmless work.

mod handlers;
mod messages;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use diesel_async::AsyncConnection;

use crate::actors::sender_pool::{SenderPool, SessionConnection};
use crate::actors::webhook_intake::IntakeLoad;
use crate::actors::Deps;
use crate::db::queries::events as q;

/// Rows claimed per transaction.
const BATCH: i64 = 500;
/// How often a router yielding to a saturated intake looks again.
const YIELD_POLL: Duration = Duration::from_millis(10);
/// Attempts before an event is given up (kept with its error text).
pub const MAX_ATTEMPTS: i32 = 8;
/// The timer picking up retries and rows inserted by other instances.
const TICK: Duration = Duration::from_secs(1);
/// How often events stored for unknown sessions are matched again against the sessions.
const REPLAY_EVERY: Duration = Duration::from_secs(30);
/// Events of unknown sessions older than this are not replayed.
const REPLAY_DAYS: i32 = 7;

/// A new row was stored: drain soon (fire and forget).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

/// Looks for sessions that have appeared since their events were stored, files those events
/// under them and processes them (answers how many events were re-queued).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ReplayUnknown;

/// Processes everything due now and answers how many rows were handled (tests, shutdown).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct DrainNow;

pub struct WebhookRouter {
    shared: Arc<Shared>,
}

struct Shared {
    deps: Deps,
    senders: Addr<SenderPool>,
    /// One drain at a time.
    lock: tokio::sync::Mutex<()>,
    /// Set by wake-ups during a drain: drain once more.
    again: AtomicBool,
    /// This process's intake: while it is saturated, batches wait (`WEBHOOK_ROUTER_DEFER_MS`).
    intake: IntakeLoad,
}

impl WebhookRouter {
    pub fn new(deps: Deps, senders: Addr<SenderPool>, intake: IntakeLoad) -> Self {
        WebhookRouter {
            shared: Arc::new(Shared {
                deps,
                senders,
                lock: tokio::sync::Mutex::new(()),
                again: AtomicBool::new(false),
                intake,
            }),
        }
    }

    fn spawn_drain(&self, ctx: &mut Context<Self>) {
        let shared = self.shared.clone();
        shared.again.store(true, Ordering::SeqCst);
        if shared.lock.try_lock().is_err() {
            return; // the running drain sees `again`
        }
        ctx.spawn(
            async move {
                shared.drain().await;
            }
            .into_actor(self),
        );
    }
}

impl Actor for WebhookRouter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.spawn_drain(ctx);
        ctx.run_interval(TICK, |this, ctx| this.spawn_drain(ctx));
        ctx.run_interval(REPLAY_EVERY, |_, ctx| {
            ctx.notify(ReplayUnknown);
        });
    }
}

impl Handler<ReplayUnknown> for WebhookRouter {
    type Result = ResponseActFuture<Self, usize>;
    fn handle(&mut self, _: ReplayUnknown, _: &mut Context<Self>) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(
            async move {
                match shared.replay_unknown().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook router: replay of unknown sessions failed");
                        0
                    }
                }
            }
            .into_actor(self)
            .map(|n, this, ctx| {
                if n > 0 {
                    this.spawn_drain(ctx);
                }
                n
            }),
        )
    }
}

impl Supervised for WebhookRouter {}

impl Handler<Wake> for WebhookRouter {
    type Result = ();
    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.spawn_drain(ctx);
    }
}

impl Handler<DrainNow> for WebhookRouter {
    type Result = ResponseFuture<usize>;
    fn handle(&mut self, _: DrainNow, _: &mut Context<Self>) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move {
            shared.again.store(true, Ordering::SeqCst);
            shared.drain().await
        })
    }
}

/// What one batch did.
struct Processed {
    n: usize,
    done_received: Vec<chrono::DateTime<chrono::Utc>>,
    failed: u64,
    gave_up: u64,
    /// Connection changes for the senders, sent after the commit.
    notices: Vec<SessionConnection>,
}

/// An event failed in a batch tried without savepoints: the batch is rolled back and run again
/// with each event isolated.
#[derive(Debug)]
struct EventFailed;

impl std::fmt::Display for EventFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event of the batch failed")
    }
}

impl std::error::Error for EventFailed {}

/// Acknowledging comes first (upstream.md §6.5: answer quickly, work afterwards): while this
/// process's intake is saturated, the router's next batch waits, but never longer than `max`
/// (`WEBHOOK_ROUTER_DEFER_MS`), so processing goes on during a long burst.
async fn yield_to(intake: &IntakeLoad, max: Duration) {
    let started = std::time::Instant::now();
    while intake.saturated() && started.elapsed() < max {
        tokio::time::sleep(YIELD_POLL.min(max)).await;
    }
}

/// Backoff before retry `attempt` (1-based): 1, 2, 4 … s, at most 5 minutes.
fn backoff_secs(attempt: i32) -> i64 {
    (1i64 << (attempt - 1).clamp(0, 9)).min(300)
}

impl Shared {
    async fn replay_unknown(&self) -> anyhow::Result<usize> {
        let mut primary = self.deps.db.primary.get().await?;
        let keys = q::unknown_session_keys(&mut primary, REPLAY_DAYS, 100).await?;
        if keys.is_empty() {
            return Ok(0);
        }
        let mut tx = self.deps.db.transactional.get().await?;
        let mut total = 0;
        for key in keys {
            let lookup: Vec<String> = key.session_id.iter().cloned().collect();
            let Some(session) =
                q::resolve_session(&mut tx, &lookup, key.user_token.as_deref()).await?
            else {
                continue;
            };
            let n = q::adopt_unknown(&mut primary, &key, &session).await?;
            tracing::info!(session = %session.id, events = n, "events of a newly known session re-queued");
            total += n;
        }
        Ok(total)
    }

    async fn drain(&self) -> usize {
        let _guard = self.lock.lock().await;
        let mut total = 0;
        while self.again.swap(false, Ordering::SeqCst) {
            loop {
                yield_to(&self.intake, self.deps.settings.webhook_router_defer).await;
                match self.batch().await {
                    Ok(0) => break,
                    Ok(n) => total += n,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook router: batch failed");
                        break;
                    }
                }
            }
        }
        total
    }

    /// Claims and handles one batch in one transaction on the primary database. The batch is
    /// first tried whole (no savepoints: a few round trips per event); when one event fails,
    /// that try is rolled back and the batch runs again with each event in a savepoint, so the
    /// failure is recorded on its row and does not undo the others.
    async fn batch(&self) -> anyhow::Result<usize> {
        let mut conn = self.deps.db.primary.get().await?;
        let out = match self.process(&mut conn, false).await {
            Err(e) if e.is::<EventFailed>() => self.process(&mut conn, true).await?,
            other => other?,
        };
        let Processed {
            n,
            done_received,
            failed,
            gave_up,
            notices,
        } = out;
        for notice in notices {
            self.senders.do_send(notice);
        }
        crate::metrics::webhook_processed(&done_received, failed, gave_up);
        Ok(n)
    }

    async fn process(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        isolate: bool,
    ) -> anyhow::Result<Processed> {
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            Box::pin(async move {
                let batch = handlers::BatchState::default();
                let rows = q::claim(conn, BATCH).await?;
                let mut done = Vec::with_capacity(rows.len());
                let mut out = Processed {
                    n: rows.len(),
                    done_received: Vec::with_capacity(rows.len()),
                    failed: 0,
                    gave_up: 0,
                    notices: Vec::new(),
                };
                // Messages wait here to be stored a run at a time; isolated, each one alone.
                let mut messages = Vec::new();
                for row in rows {
                    let res = if isolate {
                        conn.transaction::<(), handlers::HandleError, _>(|c| {
                            Box::pin(async {
                                handlers::handle(self, c, &row, &batch, &mut messages).await?;
                                messages::store(c, &mut messages).await?;
                                Ok(())
                            })
                        })
                        .await
                    } else {
                        handlers::handle(self, conn, &row, &batch, &mut messages).await
                    };
                    match res {
                        Ok(()) => {
                            done.push(row.id);
                            out.done_received.push(row.received_at);
                        }
                        Err(_) if !isolate => return Err(EventFailed.into()),
                        Err(e) => {
                            let attempt = row.attempts + 1;
                            let give_up = attempt >= MAX_ATTEMPTS;
                            out.failed += 1;
                            out.gave_up += u64::from(give_up);
                            tracing::warn!(id = row.id, event_type = %row.event_type, attempt, give_up, error = %e, "webhook event failed");
                            let text = if give_up {
                                format!("gave up after {attempt} attempts: {e}")
                            } else {
                                e.to_string()
                            };
                            q::mark_failed(conn, row.id, &text, backoff_secs(attempt), give_up)
                                .await?;
                        }
                    }
                }
                if messages::store(conn, &mut messages).await.is_err() {
                    return Err(EventFailed.into());
                }
                if !done.is_empty() {
                    q::mark_processed(conn, &done).await?;
                }
                out.notices = batch.take_notices();
                Ok(out)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_router_yields_to_a_saturated_intake_for_at_most_its_limit() {
        let load = IntakeLoad::default();
        let max = Duration::from_millis(150);
        let t = std::time::Instant::now();
        yield_to(&load, max).await;
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "idle intake: no wait"
        );

        load.set_for_test(1);
        let t = std::time::Instant::now();
        yield_to(&load, max).await;
        let waited = t.elapsed();
        assert!(
            waited >= max && waited < max * 3,
            "saturated: waits its limit, {waited:?}"
        );

        // The wait ends as soon as the intake is no longer saturated.
        let l = load.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            l.set_for_test(0);
        });
        let t = std::time::Instant::now();
        yield_to(&load, Duration::from_secs(5)).await;
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

        load.set_for_test(3);
        let t = std::time::Instant::now();
        yield_to(&load, Duration::ZERO).await;
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "a limit of 0 turns yielding off"
        );
    }
}
