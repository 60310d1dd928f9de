//! Message statistics (contract §5.5, defect 14).
//!
//! **Reliability choice: a batching recorder.** The proxy hands each counted send that reached
//! the upstream to [`StatsRecorder::record`] (a non-blocking channel send) as soon as the
//! upstream's status is known. One background task sums the increments per
//! (`"userId"`, `"sessionId"`) and writes them every `STATS_FLUSH_INTERVAL_MS` with **one atomic
//! statement per row**: `INSERT … ON CONFLICT ("userId","sessionId") DO UPDATE SET x = x + n`.
//! A failed write keeps its increments for the next flush. [`StatsRecorder::shutdown`] — called
//! by `Application::run_until_stopped` after the HTTP server has drained its requests — flushes
//! everything pending, so a graceful shutdown loses nothing; a crash loses at most one flush
//! interval. In two-database mode the owner's table may lack the unique key, so the write is
//! serialised with `pg_advisory_xact_lock(hashtext(userId||'/'||sessionId))` + `UPDATE`, and an
//! `INSERT` when no row exists.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::{mpsc, oneshot};

use crate::db::DbPool;

/// The typed counters, in column order.
pub const TYPES: [&str; 9] = [
    "text", "image", "document", "audio", "sticker", "video", "location", "contact", "template",
];

/// The statistics kind of a counted request (§5.5), or None when it is not counted.
/// `Some(None)` = counted in the totals only (`edit`, `poll`, `buttons`, `list`).
pub fn counted_kind(method: &actix_web::http::Method, path: &str) -> Option<Option<usize>> {
    if method != actix_web::http::Method::POST {
        return None;
    }
    let kind = match path {
        "/status/set/text" => "text",
        p => p.strip_prefix("/chat/send/")?,
    };
    match kind {
        "edit" | "poll" | "buttons" | "list" => Some(None),
        k => TYPES.iter().position(|t| *t == k).map(Some),
    }
}

/// One counted send.
#[derive(Debug, Clone)]
pub struct Hit {
    pub user_id: String,
    pub session_key: String,
    /// Index into [`TYPES`]; None for totals only.
    pub kind: Option<usize>,
    pub success: bool,
}

#[derive(Debug, Default, Clone)]
struct Delta {
    sent: i32,
    failed: i32,
    typed_sent: [i32; 9],
    typed_failed: [i32; 9],
    last_sent: Option<DateTime<Utc>>,
    last_failed: Option<DateTime<Utc>>,
}

impl Delta {
    fn add(&mut self, h: &Hit, at: DateTime<Utc>) {
        if h.success {
            self.sent += 1;
            if let Some(k) = h.kind {
                self.typed_sent[k] += 1;
            }
            self.last_sent = Some(at);
        } else {
            self.failed += 1;
            if let Some(k) = h.kind {
                self.typed_failed[k] += 1;
            }
            self.last_failed = Some(at);
        }
    }

    fn merge(&mut self, o: &Delta) {
        self.sent += o.sent;
        self.failed += o.failed;
        for i in 0..9 {
            self.typed_sent[i] += o.typed_sent[i];
            self.typed_failed[i] += o.typed_failed[i];
        }
        self.last_sent = self.last_sent.max(o.last_sent);
        self.last_failed = self.last_failed.max(o.last_failed);
    }
}

enum Msg {
    Hit(Hit),
    Flush(oneshot::Sender<()>),
}

/// Handle to the recorder task. Cheap to clone.
#[derive(Clone)]
pub struct StatsRecorder {
    tx: mpsc::UnboundedSender<Msg>,
}

impl StatsRecorder {
    /// Starts the recorder task on the current tokio runtime.
    pub fn start(db: DbPool, two_database_mode: bool, interval: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, db, two_database_mode, interval));
        StatsRecorder { tx }
    }

    /// Queues one counted send.
    pub fn record(&self, hit: Hit) {
        if self.tx.send(Msg::Hit(hit)).is_err() {
            tracing::error!("statistics recorder stopped; a send was not counted");
        }
    }

    /// Writes everything queued so far and waits for it.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The final flush of a graceful shutdown.
    pub async fn shutdown(&self) {
        self.flush().await;
    }
}

type Key = (String, String);

async fn run(mut rx: mpsc::UnboundedReceiver<Msg>, db: DbPool, two_db: bool, interval: Duration) {
    let mut pending: HashMap<Key, Delta> = HashMap::new();
    // The first write is one interval after the start (a plain `interval` ticks at once).
    let period = interval.max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Hit(h)) => {
                    pending.entry((h.user_id.clone(), h.session_key.clone())).or_default().add(&h, Utc::now());
                }
                Some(Msg::Flush(done)) => {
                    // Take everything already queued, then write it.
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            Msg::Hit(h) => pending.entry((h.user_id.clone(), h.session_key.clone())).or_default().add(&h, Utc::now()),
                            Msg::Flush(d) => { let _ = d.send(()); }
                        }
                    }
                    write_all(&db, two_db, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write_all(&db, two_db, &mut pending).await;
                    return;
                }
            },
            _ = tick.tick() => {
                if !pending.is_empty() {
                    write_all(&db, two_db, &mut pending).await;
                }
            }
        }
    }
}

async fn write_all(db: &DbPool, two_db: bool, pending: &mut HashMap<Key, Delta>) {
    if pending.is_empty() {
        return;
    }
    let batch = std::mem::take(pending);
    let mut conn = match db.get().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, rows = batch.len(), "statistics flush postponed");
            *pending = batch;
            return;
        }
    };
    for (key, delta) in batch {
        let r = if two_db {
            write_locked(&mut conn, &key, &delta).await
        } else {
            upsert(&mut conn, &key, &delta).await
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "statistics write failed; retrying at the next flush");
            pending.entry(key).or_default().merge(&delta);
        }
    }
}

fn counter_columns() -> Vec<String> {
    let mut cols = vec![
        "totalMessagesSent".to_string(),
        "totalMessagesFailed".to_string(),
    ];
    for t in TYPES {
        cols.push(format!("{t}MessagesSent"));
        cols.push(format!("{t}MessagesFailed"));
    }
    cols
}

fn upsert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = counter_columns();
        let names: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
        let params: Vec<String> = (0..cols.len()).map(|i| format!("${}", i + 4)).collect();
        let sets: Vec<String> = cols
            .iter()
            .map(|c| format!("\"{c}\" = s.\"{c}\" + EXCLUDED.\"{c}\""))
            .collect();
        let n = cols.len();
        format!(
            r#"INSERT INTO "WhatsAppMessageStats" AS s (id, "userId", "sessionId", {names},
                 "lastMessageSentAt", "lastMessageFailedAt", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, {params}, ${a}, ${b}, now(), now())
               ON CONFLICT ("userId", "sessionId") DO UPDATE SET {sets},
                 "lastMessageSentAt" = GREATEST(s."lastMessageSentAt", EXCLUDED."lastMessageSentAt"),
                 "lastMessageFailedAt" = GREATEST(s."lastMessageFailedAt", EXCLUDED."lastMessageFailedAt"),
                 "updatedAt" = now()"#,
            names = names.join(", "),
            params = params.join(", "),
            a = n + 4,
            b = n + 5,
            sets = sets.join(", "),
        )
    })
}

fn update_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = counter_columns();
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("\"{c}\" = \"{c}\" + ${}", i + 4))
            .collect();
        let n = cols.len();
        format!(
            r#"UPDATE "WhatsAppMessageStats" SET {sets},
                 "lastMessageSentAt" = GREATEST("lastMessageSentAt", ${a}),
                 "lastMessageFailedAt" = GREATEST("lastMessageFailedAt", ${b}),
                 "updatedAt" = now()
               WHERE "userId" = $2 AND "sessionId" = $3 AND $1 <> ''"#,
            sets = sets.join(", "),
            a = n + 4,
            b = n + 5,
        )
    })
}

macro_rules! bind_delta {
    ($q:expr, $id:expr, $key:expr, $d:expr) => {{
        let d = $d;
        $q.bind::<Text, _>($id)
            .bind::<Text, _>(&$key.0)
            .bind::<Text, _>(&$key.1)
            .bind::<Integer, _>(d.sent)
            .bind::<Integer, _>(d.failed)
            .bind::<Integer, _>(d.typed_sent[0])
            .bind::<Integer, _>(d.typed_failed[0])
            .bind::<Integer, _>(d.typed_sent[1])
            .bind::<Integer, _>(d.typed_failed[1])
            .bind::<Integer, _>(d.typed_sent[2])
            .bind::<Integer, _>(d.typed_failed[2])
            .bind::<Integer, _>(d.typed_sent[3])
            .bind::<Integer, _>(d.typed_failed[3])
            .bind::<Integer, _>(d.typed_sent[4])
            .bind::<Integer, _>(d.typed_failed[4])
            .bind::<Integer, _>(d.typed_sent[5])
            .bind::<Integer, _>(d.typed_failed[5])
            .bind::<Integer, _>(d.typed_sent[6])
            .bind::<Integer, _>(d.typed_failed[6])
            .bind::<Integer, _>(d.typed_sent[7])
            .bind::<Integer, _>(d.typed_failed[7])
            .bind::<Integer, _>(d.typed_sent[8])
            .bind::<Integer, _>(d.typed_failed[8])
            .bind::<Nullable<Timestamptz>, _>(d.last_sent)
            .bind::<Nullable<Timestamptz>, _>(d.last_failed)
    }};
}

async fn upsert(
    conn: &mut AsyncPgConnection,
    key: &Key,
    d: &Delta,
) -> Result<(), diesel::result::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    bind_delta!(diesel::sql_query(upsert_sql()), &id, key, d)
        .execute(conn)
        .await?;
    Ok(())
}

async fn write_locked(
    conn: &mut AsyncPgConnection,
    key: &Key,
    d: &Delta,
) -> Result<(), diesel::result::Error> {
    conn.transaction(|c| {
        Box::pin(async move {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))::text")
                .bind::<Text, _>(&key.0)
                .bind::<Text, _>(&key.1)
                .execute(c)
                .await?;
            let id = uuid::Uuid::new_v4().to_string();
            let n = bind_delta!(diesel::sql_query(update_sql()), &id, key, d)
                .execute(c)
                .await?;
            if n == 0 {
                let insert = upsert_sql()
                    .split("ON CONFLICT")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                bind_delta!(diesel::sql_query(insert), &id, key, d)
                    .execute(c)
                    .await?;
            }
            Ok(())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn counted_paths_and_kinds() {
        assert_eq!(
            counted_kind(&Method::POST, "/chat/send/text"),
            Some(Some(0))
        );
        assert_eq!(
            counted_kind(&Method::POST, "/status/set/text"),
            Some(Some(0))
        );
        assert_eq!(
            counted_kind(&Method::POST, "/chat/send/template"),
            Some(Some(8))
        );
        assert_eq!(counted_kind(&Method::POST, "/chat/send/poll"), Some(None));
        assert_eq!(counted_kind(&Method::GET, "/chat/send/text"), None);
        assert_eq!(counted_kind(&Method::POST, "/chat/send/nope"), None);
        assert_eq!(counted_kind(&Method::POST, "/chat/send/text/x"), None);
    }

    #[test]
    fn sql_has_all_binds() {
        assert!(upsert_sql().contains("$25"));
        assert!(!upsert_sql().contains("$26"));
        assert!(
            update_sql().contains("\"templateMessagesFailed\" = \"templateMessagesFailed\" + $23")
        );
    }
}
