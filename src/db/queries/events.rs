//! `gen_event_webhooks`: the durable intake table and the router's queue (§9.3, defect 25).

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

type QueryResult<T> = Result<T, diesel::result::Error>;

/// The session an event belongs to.
#[derive(Debug, Clone, QueryableByName)]
pub struct SessionRef {
    /// `"WhatsAppSession".id`
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub session_key: String,
    #[diesel(sql_type = Text)]
    pub token: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub jid: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    /// The session's own webhook signing key (`gateway_session_settings`), if set.
    #[diesel(sql_type = Nullable<Text>)]
    pub hmac_key: Option<String>,
}

/// Resolves a session by the upstream's `userID`/`instanceName` (`"sessionId"`), else by
/// `token` (transactional database).
pub async fn resolve_session(
    conn: &mut AsyncPgConnection,
    keys: &[String],
    token: Option<&str>,
) -> QueryResult<Option<SessionRef>> {
    let rows: Vec<SessionRef> = diesel::sql_query(
        r#"SELECT w.id, w."sessionId" AS session_key, w.token, w."userId" AS user_id, w.jid,
                  w."sessionName" AS name, g.webhook_hmac_key AS hmac_key
           FROM "WhatsAppSession" w
           LEFT JOIN gateway_session_settings g ON g.session_id = w.id
           WHERE w."sessionId" = ANY($1) OR ($2::text IS NOT NULL AND w.token = $2)
           ORDER BY array_position($1, w."sessionId") NULLS LAST LIMIT 1"#,
    )
    .bind::<diesel::sql_types::Array<Text>, _>(keys.to_vec())
    .bind::<Nullable<Text>, _>(token)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// A claimed row.
#[derive(Debug, Clone, QueryableByName)]
pub struct EventRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_token: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub raw_data: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub session_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_id: Option<String>,
    #[diesel(sql_type = Bool)]
    pub unknown_session: bool,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub received_at: DateTime<Utc>,
}

/// The claim of [`claim`] (its one parameter: how many rows).
pub const CLAIM_SQL: &str = r#"SELECT e.id, e.event_type, e.user_token, e.raw_data, e.session_id, e.user_id, e.unknown_session,
                  e.attempts, e.received_at
           FROM gen_event_webhooks e
           WHERE e.processed = false AND e.next_attempt_at <= now()
             AND NOT EXISTS (SELECT 1 FROM gen_event_webhooks b
                             WHERE b.processed = false AND b.attempts > 0 AND b.id < e.id
                               AND b.next_attempt_at > now()
                               AND b.session_id IS NOT DISTINCT FROM e.session_id)
           ORDER BY e.id LIMIT $1 FOR UPDATE OF e SKIP LOCKED"#;

/// Claims due unprocessed rows in id order (call inside a transaction). A row waits while an
/// earlier row of the same session waits for a retry, so each session's events are handled in
/// order of arrival; rows locked by another instance are skipped. Served by the partial indexes
/// `gen_event_webhooks_queue_idx` (unprocessed, by id) and `gen_event_webhooks_retry_idx` (rows
/// waiting for a retry: only they have `attempts > 0` and a future `next_attempt_at`), so its
/// cost does not grow with the processed history.
pub async fn claim(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<EventRow>> {
    diesel::sql_query(CLAIM_SQL)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}

/// Marks rows processed.
pub async fn mark_processed(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE gen_event_webhooks SET processed = true, processed_at = now(), updated_at = now(),
           attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(ids.to_vec())
    .execute(conn)
    .await
}

/// Records a failed attempt: retried after `retry_in_secs`, or given up (`processed` true with
/// the error kept) when `give_up`.
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    retry_in_secs: i64,
    give_up: bool,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE gen_event_webhooks SET attempts = attempts + 1, last_error = $2, updated_at = now(),
           next_attempt_at = now() + make_interval(secs => $3),
           processed = $4, processed_at = CASE WHEN $4 THEN now() ELSE NULL END
         WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(error)
    .bind::<diesel::sql_types::Double, _>(retry_in_secs as f64)
    .bind::<Bool, _>(give_up)
    .execute(conn)
    .await
}

/// A session key (upstream `userID`) or token that events were stored under before the gateway
/// knew the session.
#[derive(Debug, Clone, QueryableByName)]
pub struct UnknownKey {
    #[diesel(sql_type = Nullable<Text>)]
    pub session_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_token: Option<String>,
}

/// Distinct keys of events of unknown sessions received in the last `days` days.
pub async fn unknown_session_keys(
    conn: &mut AsyncPgConnection,
    days: i32,
    limit: i64,
) -> QueryResult<Vec<UnknownKey>> {
    diesel::sql_query(
        r#"SELECT DISTINCT session_id, user_token FROM gen_event_webhooks
           WHERE unknown_session AND received_at > now() - make_interval(days => $1)
           LIMIT $2"#,
    )
    .bind::<Integer, _>(days)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Files the stored events of `key` under the session that now exists and queues them for
/// processing again (in their original order: the queue is ordered by id).
pub async fn adopt_unknown(
    conn: &mut AsyncPgConnection,
    key: &UnknownKey,
    session: &SessionRef,
) -> QueryResult<usize> {
    diesel::sql_query(
        r#"UPDATE gen_event_webhooks SET unknown_session = false, session_id = $3, user_token = $4,
             user_id = $5, processed = false, processed_at = NULL, attempts = 0, last_error = NULL,
             next_attempt_at = now(), updated_at = now()
           WHERE unknown_session AND session_id IS NOT DISTINCT FROM $1
             AND user_token IS NOT DISTINCT FROM $2"#,
    )
    .bind::<Nullable<Text>, _>(key.session_id.as_deref())
    .bind::<Nullable<Text>, _>(key.user_token.as_deref())
    .bind::<Text, _>(&session.id)
    .bind::<Text, _>(&session.token)
    .bind::<Nullable<Text>, _>(session.user_id.as_deref())
    .execute(conn)
    .await
}
