//! Group commit for webhook intake: concurrent requests' events are inserted together, one
//! statement and one commit per batch; each request is answered only after its batch commits.
//! Each HTTP worker has its own intake on its own thread (no cross-thread hand-off per event).
//! Up to `MAX_LANES` batches are in flight at once on their own connections, so one batch's
//! insert overlaps another's commit (WAL flush); a further lane opens only for a batch of at
//! least `LANE_MIN` events, so a trickle of events is still one batch at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use tokio::sync::oneshot;

use crate::actors::webhook_router::{Wake, WebhookRouter};
use crate::db::DbPool;

/// Largest batch per statement.
const MAX_BATCH: usize = 1000;
/// Batches in flight at once.
const MAX_LANES: usize = 3;
/// Fewest events that open a further lane while a batch is in flight.
const LANE_MIN: usize = 16;

/// How busy this process's intakes (one per HTTP worker) are: the group commits in flight
/// beyond the first of each intake. Any means events arrive faster than one commit at a time
/// takes them; the router then yields.
#[derive(Clone, Default)]
pub struct IntakeLoad(Arc<AtomicUsize>);

impl IntakeLoad {
    /// Whether some intake has more than one group commit in flight.
    pub fn saturated(&self) -> bool {
        AtomicUsize::load(&self.0, Ordering::Relaxed) > 0
    }

    /// One intake's lanes in flight went from `from` to `to`.
    fn lanes(&self, from: usize, to: usize) {
        let (before, after) = (from.saturating_sub(1), to.saturating_sub(1));
        if after > before {
            self.0.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.0.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    pub(crate) fn set_for_test(&self, extra_lanes: usize) {
        self.0.store(extra_lanes, Ordering::Relaxed);
    }
}

/// The intake of the HTTP worker a request runs on (app data).
#[derive(Clone)]
pub struct WorkerIntake(pub Addr<WebhookIntake>);

/// One event to store (owned).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    pub event_type: String,
    pub user_token: Option<String>,
    /// The parsed event as JSON text (stored as `jsonb`).
    pub event_data: String,
    pub raw_data: String,
    pub dedup_key: String,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub unknown_session: bool,
    pub received_at: DateTime<Utc>,
}

/// Stores an event: `Ok(Some(id))` when new, `Ok(None)` for a redelivery.
#[derive(Message)]
#[rtype(result = "Result<Option<i64>, String>")]
pub struct Store(pub OwnedEvent);

type Reply = oneshot::Sender<Result<Option<i64>, String>>;

pub struct WebhookIntake {
    pool: DbPool,
    pending: Vec<(OwnedEvent, Reply)>,
    in_flight: usize,
    load: IntakeLoad,
    /// Woken once per batch that stored new events.
    router: Addr<WebhookRouter>,
}

impl WebhookIntake {
    fn set_in_flight(&mut self, n: usize) {
        self.load.lanes(self.in_flight, n);
        self.in_flight = n;
    }

    pub fn new(pool: DbPool, load: IntakeLoad, router: Addr<WebhookRouter>) -> Self {
        WebhookIntake {
            pool,
            load,
            router,
            pending: Vec::new(),
            in_flight: 0,
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        while !self.pending.is_empty()
            && self.in_flight < MAX_LANES
            && (self.in_flight == 0 || self.pending.len() >= LANE_MIN)
        {
            self.set_in_flight(self.in_flight + 1);
            let take = self.pending.len().min(MAX_BATCH);
            let batch: Vec<_> = self.pending.drain(..take).collect();
            let pool = self.pool.clone();
            ctx.spawn(
                async move { insert_batch(&pool, batch).await }
                    .into_actor(self)
                    .map(|stored, act, ctx| {
                        if stored > 0 {
                            act.router.do_send(Wake);
                        }
                        act.set_in_flight(act.in_flight - 1);
                        act.flush(ctx)
                    }),
            );
        }
    }
}

impl Actor for WebhookIntake {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        // Batches in flight end with the actor: their lanes no longer count.
        self.set_in_flight(0);
        Running::Stop
    }
}

impl Supervised for WebhookIntake {}

impl Handler<Store> for WebhookIntake {
    type Result = ResponseFuture<Result<Option<i64>, String>>;
    fn handle(&mut self, msg: Store, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.push((msg.0, tx));
        self.flush(ctx);
        Box::pin(async move { rx.await.map_err(|_| "intake stopped".to_string())? })
    }
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    dedup_key: String,
}

/// Inserts events in one statement: the ids of the new ones by dedup key.
async fn insert_rows(
    conn: &mut diesel_async::AsyncPgConnection,
    ev: &[&OwnedEvent],
) -> Result<HashMap<String, i64>, diesel::result::Error> {
    let rows: Vec<Inserted> = diesel::sql_query(
        r#"INSERT INTO gen_event_webhooks (event_type, source, user_token, event_data, raw_data, processed,
             received_at, dedup_key, session_id, user_id, unknown_session)
           SELECT t, 'wa', ut, ed::jsonb, rd, false, ra, dk, si, ui, us
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                       $8::text[], $9::bool[]) WITH ORDINALITY AS x(t, ut, ed, rd, ra, dk, si, ui, us, n)
           ORDER BY n
           ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key"#,
    )
    .bind::<Array<Text>, _>(ev.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(ev.iter().map(|e| e.user_token.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(ev.iter().map(|e| e.event_data.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(ev.iter().map(|e| e.raw_data.as_str()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(ev.iter().map(|e| e.received_at).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(ev.iter().map(|e| e.dedup_key.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(ev.iter().map(|e| e.session_id.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(ev.iter().map(|e| e.user_id.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(ev.iter().map(|e| e.unknown_session).collect::<Vec<_>>())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.dedup_key, r.id)).collect())
}

/// Stores a batch and answers its requests: how many new events it stored.
async fn insert_batch(pool: &DbPool, batch: Vec<(OwnedEvent, Reply)>) -> usize {
    let mut conn = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            let err = e.to_string();
            tracing::error!(error = %err, "webhook batch: no database connection");
            crate::metrics::webhook_store_failed(batch.len());
            for (_, reply) in batch {
                let _ = reply.send(Err(err.clone()));
            }
            return 0;
        }
    };
    let ev: Vec<&OwnedEvent> = batch.iter().map(|(e, _)| e).collect();
    match insert_rows(&mut conn, &ev).await {
        Ok(mut ids) => {
            let stored = ids.len();
            crate::metrics::webhook_stored(stored, batch.len() - stored);
            for (e, reply) in batch {
                // The first of equal keys gets the id; later ones are redeliveries.
                let _ = reply.send(Ok(ids.remove(&e.dedup_key)));
            }
            stored
        }
        Err(err) if batch.len() > 1 => {
            // One event the database refuses must not fail the others: each alone, then.
            tracing::warn!(error = %err, events = batch.len(), "webhook batch insert failed; storing its events one by one");
            let mut stored = 0;
            for (e, reply) in batch {
                let r = insert_rows(&mut conn, &[&e]).await;
                let answer = match r {
                    Ok(mut ids) => {
                        stored += ids.len();
                        crate::metrics::webhook_stored(ids.len(), 1 - ids.len());
                        Ok(ids.remove(&e.dedup_key))
                    }
                    Err(err) => {
                        tracing::error!(error = %err, event_type = %e.event_type, "webhook insert failed");
                        crate::metrics::webhook_store_failed(1);
                        Err(err.to_string())
                    }
                };
                let _ = reply.send(answer);
            }
            stored
        }
        Err(err) => {
            tracing::error!(error = %err, "webhook insert failed");
            crate::metrics::webhook_store_failed(batch.len());
            for (_, reply) in batch {
                let _ = reply.send(Err(err.to_string()));
            }
            0
        }
    }
}
