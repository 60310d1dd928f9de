//! Bulk campaigns and their items: the durable queue the campaign engine works from.
//! Every statement that changes an item also changes its campaign's counters, so counters are
//! exact at every moment (defect 6).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Double, Integer, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::domain::{CampaignId, UserId};

type QueryResult<T> = Result<T, diesel::result::Error>;

/// The campaign columns as the contract shows them, plus the engine's additions.
pub const CAMPAIGN_COLUMNS: &str = r#"c.id, c.user_id, c.campaign_id, c.name, c.type AS kind, c.message_body, c.image_url,
 c.image_base64, c.caption, COALESCE(c.status,'pending') AS status, COALESCE(c.total_count,0) AS total_count,
 COALESCE(c.sent_count,0) AS sent_count, COALESCE(c.failed_count,0) AS failed_count, c.scheduled_at, c.timezone,
 c.processed_at, c.completed_at, c.error_message, c.created_at, c.updated_at, c.deleted_at, c.session_id,
 COALESCE(c.delivered_count,0) AS delivered_count, COALESCE(c.read_count,0) AS read_count, c.status_reason"#;

/// A bulk campaign row.
#[derive(Debug, Clone, QueryableByName, Serialize, utoipa::ToSchema)]
#[schema(as = BulkCampaignRow)]
pub struct CampaignRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub campaign_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    #[serde(rename = "type")]
    pub kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub message_body: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub image_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub image_base64: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub caption: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub total_count: i64,
    #[diesel(sql_type = BigInt)]
    pub sent_count: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_count: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub timezone: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub processed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub completed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub error_message: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub deleted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub session_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub delivered_count: i64,
    #[diesel(sql_type = BigInt)]
    pub read_count: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub status_reason: Option<String>,
}

/// An item as the contract shows it, plus delivery times.
#[derive(Debug, Clone, QueryableByName, Serialize, utoipa::ToSchema)]
#[schema(as = BulkCampaignItem)]
pub struct ItemRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub bulk_campaign_id: i64,
    #[diesel(sql_type = Text)]
    pub phone: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub message_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub error_message: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub deleted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub read_at: Option<DateTime<Utc>>,
}

const ITEM_COLUMNS: &str = "i.id, i.bulk_campaign_id, i.phone, COALESCE(i.status,'pending') AS status, i.message_id, \
 COALESCE(i.error_message,'') AS error_message, i.sent_at, i.created_at, i.updated_at, i.deleted_at, i.delivered_at, i.read_at";

/// What the sender needs to send one campaign's items.
#[derive(Debug, Clone, QueryableByName)]
pub struct CampaignContent {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Text)]
    pub image: String,
    #[diesel(sql_type = Text)]
    pub caption: String,
}

/// A new campaign as `execute` builds it.
pub struct NewCampaign<'a> {
    pub user: &'a UserId,
    pub template_id: i64,
    pub name: &'a str,
    pub kind: &'a str,
    pub message_body: Option<&'a str>,
    pub image_url: Option<&'a str>,
    pub image_base64: Option<&'a str>,
    pub caption: Option<&'a str>,
    pub image_data: Option<&'a str>,
    pub status: &'a str,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub timezone: &'a str,
    pub session_id: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// One recipient: a usable phone (pending) or an unusable one (failed with a reason).
pub struct NewItem {
    pub phone: String,
    pub failure: Option<String>,
    pub message_id: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A fresh WhatsApp message id in the upstream's own format (`3EB0` + 18 hex digits).
pub fn new_message_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("3EB0{}", &hex[..18])
}

/// Finds a campaign created with this idempotency key.
pub async fn find_by_idempotency_key(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    key: &str,
) -> QueryResult<Option<CampaignRow>> {
    diesel::sql_query(format!(
        r#"SELECT {CAMPAIGN_COLUMNS} FROM "WhatsAppBulkCampaigns" c WHERE c.user_id = $1 AND c.idempotency_key = $2"#
    ))
    .bind::<Text, _>(&user.0)
    .bind::<Text, _>(key)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(not_found_none)
}

pub(crate) fn not_found_none<T>(e: diesel::result::Error) -> QueryResult<Option<T>> {
    match e {
        diesel::result::Error::NotFound => Ok(None),
        e => Err(e),
    }
}

/// Inserts a campaign and all its items in one transaction (one statement for the items).
pub async fn create_campaign(
    conn: &mut AsyncPgConnection,
    c: NewCampaign<'_>,
    items: Vec<NewItem>,
) -> QueryResult<CampaignRow> {
    let failed = items.iter().filter(|i| i.failure.is_some()).count() as i64;
    let total = items.len() as i64;
    conn.transaction(|conn| {
        Box::pin(async move {
            let row: CampaignRow = diesel::sql_query(format!(
                r#"INSERT INTO "WhatsAppBulkCampaigns" AS c (user_id, campaign_id, name, type, message_body, image_url, image_base64,
                    caption, image_data, status, total_count, sent_count, failed_count, scheduled_at, timezone, error_message,
                    session_id, idempotency_key, created_at, updated_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,0,$12,$13,$14,'',$15,$16,now(),now())
                   RETURNING {CAMPAIGN_COLUMNS}"#
            ))
            .bind::<Text, _>(&c.user.0)
            .bind::<BigInt, _>(c.template_id)
            .bind::<Text, _>(c.name)
            .bind::<Text, _>(c.kind)
            .bind::<Nullable<Text>, _>(c.message_body)
            .bind::<Nullable<Text>, _>(c.image_url)
            .bind::<Nullable<Text>, _>(c.image_base64)
            .bind::<Nullable<Text>, _>(c.caption)
            .bind::<Nullable<Text>, _>(c.image_data)
            .bind::<Text, _>(c.status)
            .bind::<BigInt, _>(total)
            .bind::<BigInt, _>(failed)
            .bind::<Nullable<Timestamptz>, _>(c.scheduled_at)
            .bind::<Text, _>(c.timezone)
            .bind::<Text, _>(c.session_id)
            .bind::<Nullable<Text>, _>(c.idempotency_key)
            .get_result(conn)
            .await?;
            let phones: Vec<String> = items.iter().map(|i| i.phone.clone()).collect();
            let statuses: Vec<String> = items.iter().map(|i| if i.failure.is_some() { "failed" } else { "pending" }.to_string()).collect();
            let errors: Vec<String> = items.iter().map(|i| i.failure.clone().unwrap_or_default()).collect();
            let ids: Vec<String> = items.iter().map(|i| i.message_id.clone()).collect();
            diesel::sql_query(
                r#"INSERT INTO "WhatsAppBulkCampaignItems" (bulk_campaign_id, phone, status, message_id, error_message, session_id, created_at, updated_at, next_attempt_at)
                   SELECT $1, u.phone, u.status, CASE WHEN u.status = 'pending' THEN u.mid ELSE '' END, u.err, $2, now(), now(), now()
                   FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS u(phone, status, err, mid)"#,
            )
            .bind::<BigInt, _>(row.id)
            .bind::<Text, _>(c.session_id)
            .bind::<Array<Text>, _>(phones)
            .bind::<Array<Text>, _>(statuses)
            .bind::<Array<Text>, _>(errors)
            .bind::<Array<Text>, _>(ids)
            .execute(conn)
            .await?;
            Ok(row)
        })
    })
    .await
}

/// One of the user's live campaigns.
pub async fn find_campaign(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Option<CampaignRow>> {
    diesel::sql_query(format!(
        r#"SELECT {CAMPAIGN_COLUMNS} FROM "WhatsAppBulkCampaigns" c WHERE c.id = $1 AND c.user_id = $2 AND c.deleted_at IS NULL"#
    ))
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(not_found_none)
}

/// The user's live campaigns, newest first; a page when `page` is given.
pub async fn list_campaigns(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    page: Option<(i64, i64)>,
) -> QueryResult<Vec<CampaignRow>> {
    let (limit, offset) = page.map(|(p, l)| (l, (p - 1) * l)).unwrap_or((i64::MAX, 0));
    diesel::sql_query(format!(
        r#"SELECT {CAMPAIGN_COLUMNS} FROM "WhatsAppBulkCampaigns" c WHERE c.user_id = $1 AND c.deleted_at IS NULL
           ORDER BY c.id DESC LIMIT $2 OFFSET $3"#
    ))
    .bind::<Text, _>(&user.0)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await
}

/// Items of one of the user's campaigns, optionally filtered by status, in id order.
pub async fn list_items(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
    status: Option<&str>,
    page: Option<(i64, i64)>,
) -> QueryResult<Vec<ItemRow>> {
    let (limit, offset) = page.map(|(p, l)| (l, (p - 1) * l)).unwrap_or((i64::MAX, 0));
    diesel::sql_query(format!(
        r#"SELECT {ITEM_COLUMNS} FROM "WhatsAppBulkCampaignItems" i JOIN "WhatsAppBulkCampaigns" c ON c.id = i.bulk_campaign_id
           WHERE i.bulk_campaign_id = $1 AND c.user_id = $2 AND i.deleted_at IS NULL AND ($3::text IS NULL OR i.status = $3)
           ORDER BY i.id LIMIT $4 OFFSET $5"#
    ))
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .bind::<Nullable<Text>, _>(status)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await
}

/// Live progress of a campaign.
#[derive(Debug, Clone, QueryableByName, Serialize, Default)]
pub struct Progress {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub sending: i64,
    #[diesel(sql_type = BigInt)]
    pub unknown: i64,
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    /// Messages per second over the last minute.
    #[diesel(sql_type = Double)]
    pub rate: f64,
}

/// Counts items by engine state and the recent send rate.
pub async fn progress(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Progress> {
    diesel::sql_query(
        r#"SELECT
             count(*) FILTER (WHERE i.status = 'pending' AND i.attempt_started_at IS NULL AND i.outcome_unknown_at IS NULL) AS pending,
             count(*) FILTER (WHERE i.status = 'pending' AND i.attempt_started_at IS NOT NULL AND i.outcome_unknown_at IS NULL) AS sending,
             count(*) FILTER (WHERE i.status = 'pending' AND i.outcome_unknown_at IS NOT NULL) AS unknown,
             count(*) FILTER (WHERE i.status = 'sent') AS sent,
             count(*) FILTER (WHERE i.status = 'failed') AS failed,
             (count(*) FILTER (WHERE i.status = 'sent' AND i.sent_at > now() - interval '60 seconds'))::float8
               / GREATEST(1.0, LEAST(60.0, EXTRACT(EPOCH FROM now() - min(i.sent_at) FILTER (WHERE i.sent_at > now() - interval '60 seconds'))))::float8 AS rate
           FROM "WhatsAppBulkCampaignItems" i JOIN "WhatsAppBulkCampaigns" c ON c.id = i.bulk_campaign_id
           WHERE i.bulk_campaign_id = $1 AND c.user_id = $2 AND i.deleted_at IS NULL"#,
    )
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .get_result(conn)
    .await
}

/// Soft-deletes a campaign and its items unless it is processing. Returns the previous status.
pub async fn delete_campaign(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        Box::pin(async move {
            #[derive(QueryableByName)]
            struct S {
                #[diesel(sql_type = Text)]
                status: String,
            }
            let cur: Option<S> = diesel::sql_query(
                r#"SELECT COALESCE(status,'pending') AS status FROM "WhatsAppBulkCampaigns" WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL FOR UPDATE"#,
            )
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(&user.0)
            .get_result(conn)
            .await
            .map(Some)
            .or_else(not_found_none)?;
            let Some(cur) = cur else { return Ok(None) };
            if cur.status == "processing" {
                return Ok(Some(cur.status));
            }
            diesel::sql_query(r#"UPDATE "WhatsAppBulkCampaigns" SET deleted_at = now(), updated_at = now() WHERE id = $1"#)
                .bind::<BigInt, _>(id.0)
                .execute(conn)
                .await?;
            diesel::sql_query(
                r#"UPDATE "WhatsAppBulkCampaignItems" SET deleted_at = now(), updated_at = now() WHERE bulk_campaign_id = $1 AND deleted_at IS NULL"#,
            )
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await?;
            Ok(Some(cur.status))
        })
    })
    .await
}

/// Moves a campaign between statuses when it is in one of `from`; returns the new row.
pub async fn transition(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
    from: &[&str],
    to: &str,
    reason: Option<&str>,
) -> QueryResult<Option<CampaignRow>> {
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    diesel::sql_query(format!(
        r#"UPDATE "WhatsAppBulkCampaigns" c SET status = $4, status_reason = $5, updated_at = now(),
             processed_at = CASE WHEN $4 = 'processing' THEN COALESCE(c.processed_at, now()) ELSE c.processed_at END,
             paused_at = CASE WHEN $4 = 'paused' THEN now() ELSE c.paused_at END,
             cancelled_at = CASE WHEN $4 = 'cancelled' THEN now() ELSE c.cancelled_at END,
             completed_at = CASE WHEN $4 = 'processing' THEN NULL ELSE c.completed_at END
           WHERE c.id = $1 AND c.user_id = $2 AND c.deleted_at IS NULL AND COALESCE(c.status,'pending') = ANY($3)
           RETURNING {CAMPAIGN_COLUMNS}"#
    ))
    .bind::<BigInt, _>(id.0)
    .bind::<Text, _>(&user.0)
    .bind::<Array<Text>, _>(from)
    .bind::<Text, _>(to)
    .bind::<Nullable<Text>, _>(reason)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(not_found_none)
}

/// Cancels a campaign: its not-yet-attempted items fail with reason `cancelled`.
pub async fn cancel_campaign(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Option<CampaignRow>> {
    conn.transaction(|conn| {
        Box::pin(async move {
            let Some(_) = transition(conn, user, id, &["pending", "scheduled", "processing", "paused"], "cancelled", Some("cancelled by user")).await? else {
                return Ok(None);
            };
            diesel::sql_query(
                r#"WITH f AS (UPDATE "WhatsAppBulkCampaignItems" SET status = 'failed', error_message = 'cancelled', updated_at = now(),
                                lease_owner = NULL, lease_expires_at = NULL
                              WHERE bulk_campaign_id = $1 AND status = 'pending' AND deleted_at IS NULL AND attempt_started_at IS NULL
                              RETURNING 1)
                   UPDATE "WhatsAppBulkCampaigns" SET failed_count = failed_count + (SELECT count(*) FROM f), updated_at = now() WHERE id = $1"#,
            )
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await?;
            find_campaign(conn, user, id).await
        })
    })
    .await
}

/// Puts a campaign's failed items back in the queue (keeping their message ids) and reopens it.
/// Returns the number of items requeued, or None if the campaign is unknown or not retryable.
pub async fn retry_failed(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        Box::pin(async move {
            let Some(_) = transition(conn, user, id, &["completed", "failed", "processing", "paused", "cancelled"], "processing", None).await? else {
                return Ok(None);
            };
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let n: N = diesel::sql_query(
                r#"WITH r AS (UPDATE "WhatsAppBulkCampaignItems" SET status = 'pending', error_message = '', attempts = 0,
                                attempt_started_at = NULL, outcome_unknown_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                                next_attempt_at = now(), updated_at = now(),
                                message_id = CASE WHEN COALESCE(message_id,'') = '' THEN $2 || lpad(id::text, 10, '0') ELSE message_id END
                              WHERE bulk_campaign_id = $1 AND status = 'failed' AND deleted_at IS NULL
                                AND COALESCE(error_message,'') NOT LIKE 'invalid_phone%'
                              RETURNING 1),
                        u AS (UPDATE "WhatsAppBulkCampaigns" SET failed_count = failed_count - (SELECT count(*) FROM r), updated_at = now() WHERE id = $1)
                   SELECT count(*) AS n FROM r"#,
            )
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(&new_message_id()[..12])
            .get_result(conn)
            .await?;
            Ok(Some(n.n))
        })
    })
    .await
}

/// An item claimed for sending.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedItem {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub bulk_campaign_id: i64,
    #[diesel(sql_type = Text)]
    pub phone: String,
    #[diesel(sql_type = Text)]
    pub message_id: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// The processing campaigns that send through a session, oldest first.
pub async fn active_campaigns_of_session(
    conn: &mut AsyncPgConnection,
    session_id: &str,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<IdRow> = diesel::sql_query(
        r#"SELECT id FROM "WhatsAppBulkCampaigns" WHERE session_id = $1 AND status = 'processing' AND deleted_at IS NULL ORDER BY id"#,
    )
    .bind::<Text, _>(session_id)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Claims up to `limit` due items of one campaign for this process: marks the attempt as
/// started under a lease. `SKIP LOCKED` keeps concurrent claimers apart.
pub async fn claim_items(
    conn: &mut AsyncPgConnection,
    campaign: i64,
    session_id: &str,
    owner: &str,
    lease_secs: f64,
    limit: i64,
) -> QueryResult<Vec<ClaimedItem>> {
    diesel::sql_query(
        r#"WITH picked AS (
             SELECT i.id FROM "WhatsAppBulkCampaignItems" i
             WHERE i.bulk_campaign_id = $1 AND i.session_id = $2 AND i.status = 'pending' AND i.deleted_at IS NULL
               AND i.attempt_started_at IS NULL AND i.outcome_unknown_at IS NULL AND i.next_attempt_at <= now()
             ORDER BY i.id LIMIT $5 FOR UPDATE OF i SKIP LOCKED)
           UPDATE "WhatsAppBulkCampaignItems" i SET lease_owner = $3, lease_expires_at = now() + make_interval(secs => $4),
             attempt_started_at = now(), attempts = i.attempts + 1, updated_at = now(),
             message_id = CASE WHEN COALESCE(i.message_id,'') = '' THEN 'GW' || upper(md5(i.id::text || clock_timestamp()::text)) ELSE i.message_id END
           FROM picked WHERE i.id = picked.id
           RETURNING i.id, i.bulk_campaign_id, i.phone, i.message_id, i.attempts"#,
    )
    .bind::<BigInt, _>(campaign)
    .bind::<Text, _>(session_id)
    .bind::<Text, _>(owner)
    .bind::<Double, _>(lease_secs)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Loads what to send for a campaign.
pub async fn campaign_content(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<CampaignContent> {
    diesel::sql_query(
        r#"SELECT id, type AS kind, COALESCE(message_body,'') AS body,
                  COALESCE(NULLIF(image_data,''), NULLIF(image_base64,''), image_url, '') AS image, COALESCE(caption,'') AS caption
           FROM "WhatsAppBulkCampaigns" WHERE id = $1"#,
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .await
}

/// Result of one send attempt.
#[derive(Debug, Clone)]
pub enum SendResult {
    Sent {
        id: i64,
        at: DateTime<Utc>,
        message_id: String,
    },
    Failed {
        id: i64,
        reason: String,
    },
    /// Surely not sent: back in the queue after `delay_secs`; `counts` says whether the
    /// attempt counts toward the limit.
    Retry {
        id: i64,
        delay_secs: f64,
        counts: bool,
    },
    Unknown {
        id: i64,
    },
}

/// Whether a campaign's counters say that every item has an outcome: only then is the (slower)
/// check for pending items worth making. Campaigns whose counters disagree with their items
/// (created by the reference) are completed by the sender's idle check instead.
const MAYBE_DONE: &str = "c.sent_count + c.failed_count >= c.total_count AS maybe_done";

#[derive(QueryableByName)]
struct TouchedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Bool)]
    maybe_done: bool,
}

/// Records a batch of results and the campaigns' counters in one transaction, then
/// completes campaigns that have nothing left pending. Returns the ids of completed campaigns.
pub async fn record_results(
    conn: &mut AsyncPgConnection,
    results: Vec<SendResult>,
) -> QueryResult<Vec<i64>> {
    let mut sent = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = (Vec::new(), Vec::new());
    let mut retry = (Vec::new(), Vec::new(), Vec::new());
    let mut unknown = Vec::new();
    for r in results {
        match r {
            SendResult::Sent { id, at, message_id } => {
                sent.0.push(id);
                sent.1.push(at);
                sent.2.push(message_id);
            }
            SendResult::Failed { id, reason } => {
                failed.0.push(id);
                failed.1.push(reason);
            }
            SendResult::Retry {
                id,
                delay_secs,
                counts,
            } => {
                retry.0.push(id);
                retry.1.push(delay_secs);
                retry.2.push(counts);
            }
            SendResult::Unknown { id } => unknown.push(id),
        }
    }
    conn.transaction(|conn| {
        Box::pin(async move {
            let mut touched: Vec<i64> = Vec::new();
            if !sent.0.is_empty() {
                let rows: Vec<TouchedRow> = diesel::sql_query(format!(
                    r#"WITH upd AS (
                         UPDATE "WhatsAppBulkCampaignItems" i SET status = 'sent', sent_at = u.at,
                           message_id = COALESCE(NULLIF(u.mid,''), i.message_id), error_message = '',
                           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, at, mid)
                         WHERE i.id = u.id AND i.status = 'pending'
                         RETURNING i.bulk_campaign_id)
                       UPDATE "WhatsAppBulkCampaigns" c SET sent_count = c.sent_count + s.n, updated_at = now()
                       FROM (SELECT bulk_campaign_id, count(*) AS n FROM upd GROUP BY 1) s
                       WHERE c.id = s.bulk_campaign_id RETURNING c.id, {MAYBE_DONE}"#
                ))
                .bind::<Array<BigInt>, _>(sent.0)
                .bind::<Array<Timestamptz>, _>(sent.1)
                .bind::<Array<Text>, _>(sent.2)
                .load(conn)
                .await?;
                touched.extend(rows.into_iter().filter(|r| r.maybe_done).map(|r| r.id));
            }
            if !failed.0.is_empty() {
                let rows: Vec<TouchedRow> = diesel::sql_query(format!(
                    r#"WITH upd AS (
                         UPDATE "WhatsAppBulkCampaignItems" i SET status = 'failed', error_message = u.reason,
                           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                         FROM unnest($1::bigint[], $2::text[]) AS u(id, reason)
                         WHERE i.id = u.id AND i.status = 'pending'
                         RETURNING i.bulk_campaign_id)
                       UPDATE "WhatsAppBulkCampaigns" c SET failed_count = c.failed_count + s.n, updated_at = now()
                       FROM (SELECT bulk_campaign_id, count(*) AS n FROM upd GROUP BY 1) s
                       WHERE c.id = s.bulk_campaign_id RETURNING c.id, {MAYBE_DONE}"#
                ))
                .bind::<Array<BigInt>, _>(failed.0)
                .bind::<Array<Text>, _>(failed.1)
                .load(conn)
                .await?;
                touched.extend(rows.into_iter().filter(|r| r.maybe_done).map(|r| r.id));
            }
            if !retry.0.is_empty() {
                diesel::sql_query(
                    r#"UPDATE "WhatsAppBulkCampaignItems" i SET attempt_started_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                         next_attempt_at = now() + make_interval(secs => u.delay),
                         attempts = CASE WHEN u.counts THEN i.attempts ELSE GREATEST(i.attempts - 1, 0) END, updated_at = now()
                       FROM unnest($1::bigint[], $2::float8[], $3::bool[]) AS u(id, delay, counts)
                       WHERE i.id = u.id AND i.status = 'pending'"#,
                )
                .bind::<Array<BigInt>, _>(retry.0)
                .bind::<Array<Double>, _>(retry.1)
                .bind::<Array<Bool>, _>(retry.2)
                .execute(conn)
                .await?;
            }
            if !unknown.is_empty() {
                diesel::sql_query(
                    r#"UPDATE "WhatsAppBulkCampaignItems" SET outcome_unknown_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                       WHERE id = ANY($1) AND status = 'pending'"#,
                )
                .bind::<Array<BigInt>, _>(unknown)
                .execute(conn)
                .await?;
            }
            touched.sort_unstable();
            touched.dedup();
            complete_finished(conn, &touched).await
        })
    })
    .await
}

/// Completes (or fails, when nothing was sent) processing campaigns with no pending item.
pub async fn complete_finished(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<IdRow> = diesel::sql_query(
        r#"UPDATE "WhatsAppBulkCampaigns" c SET
             status = CASE WHEN c.sent_count > 0 OR c.failed_count = 0 THEN 'completed' ELSE 'failed' END,
             error_message = CASE WHEN c.sent_count = 0 AND c.failed_count > 0 THEN 'all recipients failed' ELSE c.error_message END,
             completed_at = now(), updated_at = now()
           WHERE c.id = ANY($1) AND c.status = 'processing'
             AND NOT EXISTS (SELECT 1 FROM "WhatsAppBulkCampaignItems" i WHERE i.bulk_campaign_id = c.id AND i.status = 'pending' AND i.deleted_at IS NULL)
           RETURNING c.id"#,
    )
    .bind::<Array<BigInt>, _>(ids.to_vec())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Items whose attempt started under a lease that expired (the process died mid-send) become
/// "outcome unknown"; unknown items past the grace period fail with `outcome_unknown`.
pub async fn sweep_unknown(conn: &mut AsyncPgConnection, grace_secs: f64) -> QueryResult<Vec<i64>> {
    diesel::sql_query(
        r#"UPDATE "WhatsAppBulkCampaignItems" SET outcome_unknown_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
           WHERE status = 'pending' AND attempt_started_at IS NOT NULL AND outcome_unknown_at IS NULL AND lease_expires_at < now()"#,
    )
    .execute(conn)
    .await?;
    let rows: Vec<IdRow> = diesel::sql_query(
        r#"WITH upd AS (
             UPDATE "WhatsAppBulkCampaignItems" SET status = 'failed', error_message = 'outcome_unknown', updated_at = now()
             WHERE status = 'pending' AND outcome_unknown_at < now() - make_interval(secs => $1)
             RETURNING bulk_campaign_id)
           UPDATE "WhatsAppBulkCampaigns" c SET failed_count = c.failed_count + s.n, updated_at = now()
           FROM (SELECT bulk_campaign_id, count(*) AS n FROM upd GROUP BY 1) s WHERE c.id = s.bulk_campaign_id RETURNING c.id"#,
    )
    .bind::<Double, _>(grace_secs)
    .load(conn)
    .await?;
    let ids: Vec<i64> = rows.into_iter().map(|r| r.id).collect();
    complete_finished(conn, &ids).await
}

/// Proves sends by message id (a `MessageSent` webhook): unknown or pending items become sent.
pub async fn prove_sent(
    conn: &mut AsyncPgConnection,
    message_ids: &[String],
    at: DateTime<Utc>,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<IdRow> = diesel::sql_query(
        r#"WITH upd AS (
             UPDATE "WhatsAppBulkCampaignItems" SET status = 'sent', sent_at = COALESCE(sent_at, $2), error_message = '',
               lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
             WHERE message_id = ANY($1) AND status = 'pending' AND attempt_started_at IS NOT NULL
             RETURNING bulk_campaign_id)
           UPDATE "WhatsAppBulkCampaigns" c SET sent_count = c.sent_count + s.n, updated_at = now()
           FROM (SELECT bulk_campaign_id, count(*) AS n FROM upd GROUP BY 1) s WHERE c.id = s.bulk_campaign_id RETURNING c.id"#,
    )
    .bind::<Array<Text>, _>(message_ids.to_vec())
    .bind::<Timestamptz, _>(at)
    .load(conn)
    .await?;
    let ids: Vec<i64> = rows.into_iter().map(|r| r.id).collect();
    complete_finished(conn, &ids).await
}

/// Records a delivery receipt on campaign items (forward only) and the campaign counters.
/// `read` also implies delivered.
pub async fn mark_receipt(
    conn: &mut AsyncPgConnection,
    message_ids: &[String],
    read: bool,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    let ids = message_ids.to_vec();
    conn.transaction(|conn| {
        Box::pin(async move {
            let n = diesel::sql_query(
                r#"WITH old AS (
                     SELECT id, delivered_at IS NULL AS d_new, read_at IS NULL AS r_new FROM "WhatsAppBulkCampaignItems"
                     WHERE message_id = ANY($1) AND (delivered_at IS NULL OR ($3 AND read_at IS NULL)) FOR UPDATE),
                   upd AS (
                     UPDATE "WhatsAppBulkCampaignItems" i SET
                       delivered_at = COALESCE(i.delivered_at, $2),
                       read_at = CASE WHEN $3 THEN COALESCE(i.read_at, $2) ELSE i.read_at END,
                       updated_at = now()
                     FROM old WHERE i.id = old.id
                     -- "newly" from the values before the update (a Delivered and a Read in the
                     -- same second must not count the delivery twice)
                     RETURNING i.bulk_campaign_id, old.d_new AS newly_delivered, ($3 AND old.r_new) AS newly_read)
                   UPDATE "WhatsAppBulkCampaigns" c SET delivered_count = c.delivered_count + s.d, read_count = c.read_count + s.r, updated_at = now()
                   FROM (SELECT bulk_campaign_id, count(*) FILTER (WHERE newly_delivered) AS d, count(*) FILTER (WHERE newly_read) AS r FROM upd GROUP BY 1) s
                   WHERE c.id = s.bulk_campaign_id"#,
            )
            .bind::<Array<Text>, _>(ids)
            .bind::<Timestamptz, _>(at)
            .bind::<Bool, _>(read)
            .execute(conn)
            .await?;
            Ok(n)
        })
    })
    .await
}

/// Claims campaigns due to start across processes: scheduled ones whose time has come and
/// immediate ones left pending (their process died before starting them).
pub async fn claim_due_campaigns(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        user_id: String,
    }
    let rows: Vec<Due> = diesel::sql_query(
        r#"UPDATE "WhatsAppBulkCampaigns" c SET status = 'processing', processed_at = COALESCE(c.processed_at, now()), updated_at = now()
           FROM (SELECT id FROM "WhatsAppBulkCampaigns"
                 WHERE deleted_at IS NULL AND ((status = 'scheduled' AND scheduled_at <= now())
                    OR (status = 'pending' AND created_at < now() - interval '5 seconds'))
                 ORDER BY scheduled_at NULLS FIRST, id LIMIT $1 FOR UPDATE SKIP LOCKED) due
           WHERE c.id = due.id RETURNING c.id, c.user_id"#,
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.user_id)).collect())
}

/// The earliest due time of a scheduled campaign.
pub async fn next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        at: Option<DateTime<Utc>>,
    }
    let n: Next = diesel::sql_query(
        r#"SELECT min(scheduled_at) AS at FROM "WhatsAppBulkCampaigns" WHERE status = 'scheduled' AND deleted_at IS NULL"#,
    )
    .get_result(conn)
    .await?;
    Ok(n.at)
}

/// Sessions that have processing campaigns (for the sender pool's reconciliation).
pub async fn sessions_with_work(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = Text)]
        session_id: String,
    }
    let rows: Vec<S> = diesel::sql_query(
        r#"SELECT DISTINCT session_id FROM "WhatsAppBulkCampaigns" WHERE status = 'processing' AND deleted_at IS NULL AND session_id IS NOT NULL"#,
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.session_id).collect())
}

/// Takes or renews the lease that makes this process the one sender of a session.
pub async fn acquire_session_lease(
    conn: &mut AsyncPgConnection,
    session_key: &str,
    owner: &str,
    secs: f64,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        r#"INSERT INTO gateway_session_leases (session_key, owner, expires_at, updated_at) VALUES ($1, $2, now() + make_interval(secs => $3), now())
           ON CONFLICT (session_key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, updated_at = now()
           WHERE gateway_session_leases.owner = EXCLUDED.owner OR gateway_session_leases.expires_at < now()"#,
    )
    .bind::<Text, _>(session_key)
    .bind::<Text, _>(owner)
    .bind::<Double, _>(secs)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Gives a session lease up (graceful stop).
pub async fn release_session_lease(
    conn: &mut AsyncPgConnection,
    session_key: &str,
    owner: &str,
) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM gateway_session_leases WHERE session_key = $1 AND owner = $2")
        .bind::<Text, _>(session_key)
        .bind::<Text, _>(owner)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives up every session lease an instance holds (its graceful stop).
pub async fn release_leases_of(conn: &mut AsyncPgConnection, owner: &str) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM gateway_session_leases WHERE owner = $1")
        .bind::<Text, _>(owner)
        .execute(conn)
        .await
}

/// The session's upstream token, when the session exists.
pub async fn session_token(
    conn: &mut AsyncPgConnection,
    session_id: &str,
) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Text)]
        token: String,
    }
    diesel::sql_query(r#"SELECT token FROM "WhatsAppSession" WHERE id = $1"#)
        .bind::<Text, _>(session_id)
        .get_result::<T>(conn)
        .await
        .map(|t| Some(t.token))
        .or_else(not_found_none)
}

/// Why a user may not send right now, if so: no active subscription, or the session is not
/// theirs or not connected and logged in.
pub async fn entitlement_problem(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    session_id: &str,
) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct E {
        #[diesel(sql_type = Bool)]
        subscribed: bool,
        #[diesel(sql_type = Nullable<Bool>)]
        session_ok: Option<bool>,
    }
    let e: E = diesel::sql_query(
        r#"SELECT EXISTS (SELECT 1 FROM "ServicesWhatsappCustomers" WHERE "customerId" = $1 AND status = 'active' AND "expiredAt" > now()) AS subscribed,
                  (SELECT connected AND "loggedIn" FROM "WhatsAppSession" WHERE id = $2 AND "userId" = $1) AS session_ok"#,
    )
    .bind::<Text, _>(&user.0)
    .bind::<Text, _>(session_id)
    .get_result(conn)
    .await?;
    Ok(match (e.subscribed, e.session_ok) {
        (false, _) => Some("no active subscription".into()),
        (_, None) => Some("session not found".into()),
        (_, Some(false)) => Some("session not connected".into()),
        _ => None,
    })
}

/// Items still to be sent (pending, outcome known) of processing campaigns, per session id:
/// the campaign queue depth of the metrics.
pub async fn pending_items_by_session(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct D {
        #[diesel(sql_type = Text)]
        session_id: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<D> = diesel::sql_query(
        r#"SELECT i.session_id, count(*) AS n FROM "WhatsAppBulkCampaignItems" i
           JOIN "WhatsAppBulkCampaigns" c ON c.id = i.bulk_campaign_id
           WHERE c.status = 'processing' AND c.deleted_at IS NULL AND i.session_id IS NOT NULL
             AND i.status = 'pending' AND i.deleted_at IS NULL AND i.outcome_unknown_at IS NULL
           GROUP BY i.session_id"#,
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.session_id, r.n)).collect())
}

/// Gives a campaign that names no sender (one created by the reference service) the user's most
/// recently updated connected and logged-in session, and its items too. `None` when the user has
/// no such session or the campaign already has one.
pub async fn adopt_session(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: CampaignId,
) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = Text)]
        session_id: String,
    }
    conn.transaction(|conn| {
        Box::pin(async move {
            let rows: Vec<S> = diesel::sql_query(
                r#"UPDATE "WhatsAppBulkCampaigns" c SET session_id = s.id, updated_at = now()
                   FROM (SELECT id FROM "WhatsAppSession" WHERE "userId" = $1 AND connected AND "loggedIn"
                         ORDER BY "updatedAt" DESC LIMIT 1) s
                   WHERE c.id = $2 AND c.user_id = $1 AND c.session_id IS NULL
                   RETURNING c.session_id"#,
            )
            .bind::<Text, _>(&user.0)
            .bind::<BigInt, _>(id.0)
            .load(conn)
            .await?;
            let Some(s) = rows.into_iter().next() else {
                return Ok(None);
            };
            diesel::sql_query(
                r#"UPDATE "WhatsAppBulkCampaignItems" SET session_id = $2, updated_at = now()
                   WHERE bulk_campaign_id = $1 AND session_id IS NULL"#,
            )
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(&s.session_id)
            .execute(conn)
            .await?;
            Ok(Some(s.session_id))
        })
    })
    .await
}
