//! Entitlement checks of contract §4.1 steps 4–8, with the fixes of §10 defects 18 and 19, and
//! a short-lived cache keyed by session token so the hot path needs no database round trip.
//!
//! A cached entitlement is used until the cache TTL (`ENTITLEMENT_CACHE_TTL_SECS`) runs out or
//! its subscription's `"expiredAt"` passes; so a revoked token, an expired or cancelled
//! subscription or a removed session stops working within the TTL. The gateway's own change
//! (the expiry flip) invalidates the entry at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use moka::future::Cache;

use crate::db::DbPool;
use crate::error::{ApiError, Envelope};

/// What a valid token entitles to.
#[derive(Debug, Clone)]
pub struct Entitlement {
    /// `"WhatsAppSession".id`.
    pub session_row: String,
    /// `"WhatsAppSession"."sessionId"` (the key of the message statistics).
    pub session_key: String,
    pub user_id: String,
    /// The active subscription with the latest `"expiredAt"`.
    pub subscription_id: String,
    pub expired_at: DateTime<Utc>,
}

/// Most entries the cache holds.
const CACHE_CAPACITY: u64 = 100_000;

/// The entitlement cache.
pub struct Entitlements {
    cache: Cache<String, Arc<Entitlement>>,
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    session_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
}

#[derive(QueryableByName)]
struct SubscriptionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    package_id: String,
    #[diesel(sql_type = Timestamptz)]
    expired_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct PackageRow {
    #[diesel(sql_type = Integer)]
    max_session: i32,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn forbidden(code: &'static str, message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::forbidden(code, message).envelope(Envelope::Gateway)
}

/// An infrastructure failure: 503 in the gateway envelope, the cause only in the logs.
pub fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    ApiError::unavailable(e).envelope(Envelope::Gateway)
}

/// Rebuilds an error shared by the cache (the source stays in the log line written when it
/// happened).
fn rebuild(e: &ApiError) -> ApiError {
    ApiError::new(e.status, e.error_code, e.message.clone()).envelope(e.envelope)
}

const ACTIVE_SUBSCRIPTION: &str = r#"SELECT id::text AS id, "packageId" AS package_id, "expiredAt" AS expired_at
    FROM "ServicesWhatsappCustomers" WHERE "customerId" = $1 AND status = 'active'
    ORDER BY "expiredAt" DESC, id LIMIT 1"#;

impl Entitlements {
    pub fn new(ttl: Duration) -> Self {
        Entitlements {
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// Steps 4–7 of §4.1 for a token; concurrent misses for one token share one load.
    pub async fn check(&self, db: &DbPool, token: &str) -> Result<Arc<Entitlement>, ApiError> {
        // No stored token holds a NUL (PostgreSQL text cannot), and the query would fail.
        if token.contains('\0') {
            return Err(forbidden("invalid_token", "invalid token"));
        }
        if let Some(e) = self.cache.get(token).await {
            if Utc::now() <= e.expired_at {
                crate::metrics::entitlement_cache(true);
                return Ok(e);
            }
            self.cache.invalidate(token).await;
        }
        crate::metrics::entitlement_cache(false);
        self.cache
            .try_get_with_by_ref(token, async { load(db, token).await.map(Arc::new) })
            .await
            .map_err(|e| rebuild(&e))
    }

    /// Drops a cached entitlement (the gateway changed a row behind it).
    pub async fn invalidate(&self, token: &str) {
        self.cache.invalidate(token).await;
    }
}

async fn load(db: &DbPool, token: &str) -> Result<Entitlement, ApiError> {
    let mut conn = db.get().await.map_err(unavailable)?;
    let session: Option<SessionRow> = diesel::sql_query(
        r#"SELECT id::text AS id, "sessionId" AS session_key, "userId" AS user_id
           FROM "WhatsAppSession" WHERE token = $1 ORDER BY id LIMIT 1"#,
    )
    .bind::<Text, _>(token)
    .get_result(&mut conn)
    .await
    .map(Some)
    .or_else(not_found_is_none)
    .map_err(unavailable)?;
    let session = session.ok_or_else(|| forbidden("invalid_token", "invalid token"))?;
    let user_id = session.user_id.ok_or_else(|| {
        forbidden(
            "session_without_user",
            "session not associated with any user",
        )
    })?;
    let sub: Option<SubscriptionRow> = diesel::sql_query(ACTIVE_SUBSCRIPTION)
        .bind::<Text, _>(&user_id)
        .get_result(&mut conn)
        .await
        .map(Some)
        .or_else(not_found_is_none)
        .map_err(unavailable)?;
    let sub = sub.ok_or_else(no_subscription)?;
    if Utc::now() > sub.expired_at {
        // The flip of §4.1 step 7, as one conditional statement (defect 18); a failure is
        // only logged, the answer is the same.
        let flipped = diesel::sql_query(
            r#"UPDATE "ServicesWhatsappCustomers" SET status = 'expired', "updatedAt" = now()
               WHERE id = $1 AND status = 'active' AND "expiredAt" < now()"#,
        )
        .bind::<Text, _>(&sub.id)
        .execute(&mut conn)
        .await;
        if let Err(e) = flipped {
            tracing::warn!(error = %e, "subscription expiry flip failed");
        }
        return Err(forbidden(
            "subscription_expired",
            format!(
                "subscription expired on {}",
                sub.expired_at.format("%Y-%m-%d")
            ),
        ));
    }
    Ok(Entitlement {
        session_row: session.id,
        session_key: session.session_key,
        user_id,
        subscription_id: sub.id,
        expired_at: sub.expired_at,
    })
}

fn no_subscription() -> ApiError {
    forbidden("no_active_subscription", "no active subscription found")
}

fn not_found_is_none<T>(e: diesel::result::Error) -> Result<Option<T>, diesel::result::Error> {
    match e {
        diesel::result::Error::NotFound => Ok(None),
        e => Err(e),
    }
}

/// §4.1 step 8 for `POST /session/connect`, serialised per user: under a transaction-scoped
/// advisory lock on the user, the active subscription and its package are read, the user's
/// *other* connected sessions are counted (defect 19), and `forward` (the upstream call) runs
/// while the lock is held. When the upstream accepts the connect, the requesting session is
/// marked `connected` before the lock is released, so a concurrent connect for the last slot
/// sees it and is refused.
pub async fn connect_with_limit<F, Fut>(
    db: &DbPool,
    ent: &Entitlement,
    forward: F,
) -> Result<reqwest::Response, ApiError>
where
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = Result<reqwest::Response, ApiError>> + Send,
{
    let mut conn = db.get().await.map_err(unavailable)?;
    let result = conn
        .transaction::<_, TxError, _>(|c| {
            Box::pin(async move { connect_tx(c, ent, forward).await })
        })
        .await;
    match result {
        Ok(r) => Ok(r),
        Err(TxError::Api(e)) => Err(e),
        Err(TxError::Db(e)) => Err(unavailable(e)),
    }
}

enum TxError {
    Api(ApiError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

async fn connect_tx<F, Fut>(
    c: &mut AsyncPgConnection,
    ent: &Entitlement,
    forward: F,
) -> Result<reqwest::Response, TxError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, ApiError>>,
{
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))::text")
        .bind::<Text, _>(format!("wa-gateway/connect/{}", ent.user_id))
        .execute(c)
        .await?;
    let sub: Option<SubscriptionRow> = diesel::sql_query(ACTIVE_SUBSCRIPTION)
        .bind::<Text, _>(&ent.user_id)
        .get_result(c)
        .await
        .map(Some)
        .or_else(not_found_is_none)?;
    let sub = match sub {
        Some(s) if Utc::now() <= s.expired_at => s,
        _ => return Err(TxError::Api(no_subscription())),
    };
    let pkg: Option<PackageRow> = diesel::sql_query(
        r#"SELECT "maxSession" AS max_session FROM "WhatsappApiPackage" WHERE id = $1"#,
    )
    .bind::<Text, _>(&sub.package_id)
    .get_result(c)
    .await
    .map(Some)
    .or_else(not_found_is_none)?;
    let max = match pkg {
        Some(p) => i64::from(p.max_session),
        None => {
            return Err(TxError::Api(forbidden(
                "package_not_found",
                "package not found",
            )))
        }
    };
    let count: CountRow = diesel::sql_query(
        r#"SELECT count(*) AS n FROM "WhatsAppSession"
           WHERE "userId" = $1 AND connected = true AND id <> $2"#,
    )
    .bind::<Text, _>(&ent.user_id)
    .bind::<Text, _>(&ent.session_row)
    .get_result(c)
    .await?;
    if count.n >= max {
        return Err(TxError::Api(forbidden(
            "session_limit_exceeded",
            format!(
                "session limit exceeded. Maximum allowed: {max}, current: {}",
                count.n
            ),
        )));
    }
    let resp = forward().await.map_err(TxError::Api)?;
    if resp.status().is_success() {
        diesel::sql_query(
            r#"UPDATE "WhatsAppSession" SET connected = true, "updatedAt" = now() WHERE id = $1"#,
        )
        .bind::<Text, _>(&ent.session_row)
        .execute(c)
        .await?;
    }
    Ok(resp)
}
