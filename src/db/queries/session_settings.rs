//! Per-session settings (`gateway_session_settings`, keyed by `"WhatsAppSession".id`): the
//! campaign send rate, the optional daily cap and the webhook HMAC key of the session.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::models::GatewaySessionSetting;
use crate::db::schema::gateway_session_settings as t;

/// A change to a session's settings: `None` keeps a value, `Some(None)` clears it.
#[derive(Debug, Default, Clone)]
pub struct SettingsChange {
    pub rate_per_sec: Option<Option<f64>>,
    pub daily_cap: Option<Option<i32>>,
    pub webhook_hmac_key: Option<Option<String>>,
}

/// The session's settings row, if it has one.
pub async fn get(
    conn: &mut AsyncPgConnection,
    session_id: &str,
) -> QueryResult<Option<GatewaySessionSetting>> {
    t::table
        .find(session_id)
        .select(GatewaySessionSetting::as_select())
        .first(conn)
        .await
        .optional()
}

/// Applies `change` (creating the row when needed) and returns the row.
pub async fn update(
    conn: &mut AsyncPgConnection,
    session_id: &str,
    change: SettingsChange,
) -> QueryResult<GatewaySessionSetting> {
    // One statement: the row is created with the given values, or only the given columns change.
    diesel::sql_query(
        r#"INSERT INTO gateway_session_settings AS s (session_id, rate_per_sec, daily_cap, webhook_hmac_key)
           VALUES ($1, $3, $5, $7)
           ON CONFLICT (session_id) DO UPDATE SET
             rate_per_sec = CASE WHEN $2 THEN $3 ELSE s.rate_per_sec END,
             daily_cap = CASE WHEN $4 THEN $5 ELSE s.daily_cap END,
             webhook_hmac_key = CASE WHEN $6 THEN $7 ELSE s.webhook_hmac_key END,
             updated_at = now()"#,
    )
    .bind::<Text, _>(session_id)
    .bind::<diesel::sql_types::Bool, _>(change.rate_per_sec.is_some())
    .bind::<Nullable<diesel::sql_types::Double>, _>(change.rate_per_sec.flatten())
    .bind::<diesel::sql_types::Bool, _>(change.daily_cap.is_some())
    .bind::<Nullable<diesel::sql_types::Integer>, _>(change.daily_cap.flatten())
    .bind::<diesel::sql_types::Bool, _>(change.webhook_hmac_key.is_some())
    .bind::<Nullable<Text>, _>(change.webhook_hmac_key.flatten())
    .execute(conn)
    .await?;
    t::table
        .find(session_id)
        .select(GatewaySessionSetting::as_select())
        .first(conn)
        .await
}

/// Campaign items the session sent in `[since, until)` (a daily cap's count). Items are found
/// through the session's campaigns that were still running at `since`, so no index on the
/// items' send time is needed (and none slows down every result write).
pub async fn sent_between(
    conn: &mut AsyncPgConnection,
    session_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: N = diesel::sql_query(
        r#"SELECT count(*) AS n
           FROM "WhatsAppBulkCampaigns" c
           JOIN "WhatsAppBulkCampaignItems" i ON i.bulk_campaign_id = c.id AND i.status = 'sent'
           WHERE c.session_id = $1 AND (c.completed_at IS NULL OR c.completed_at >= $2)
             AND (c.cancelled_at IS NULL OR c.cancelled_at >= $2)
             AND i.sent_at >= $2 AND i.sent_at < $3"#,
    )
    .bind::<Text, _>(session_id)
    .bind::<Timestamptz, _>(since)
    .bind::<Timestamptz, _>(until)
    .get_result(conn)
    .await?;
    Ok(row.n)
}
