//! Prometheus metrics (`GET /metrics`): the metric names, the recorder (installed once per
//! process: it is global, and one test process builds many `Application`s) and one helper per
//! instrumented site, so that each site is a line.
//!
//! Label values are fixed strings (route patterns, known upstream paths, outcomes) or database
//! ids; never a token, a phone number, a query string or a raw path.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use ::metrics::{SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::queries::campaigns::SendResult;
use crate::db::{Databases, DbPool};

pub const HTTP_REQUESTS: &str = "wa_gateway_http_requests_total";
pub const HTTP_DURATION: &str = "wa_gateway_http_request_duration_seconds";
pub const UPSTREAM_REQUESTS: &str = "wa_gateway_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "wa_gateway_upstream_request_duration_seconds";
pub const ENTITLEMENT_HITS: &str = "wa_gateway_entitlement_cache_hits_total";
pub const ENTITLEMENT_MISSES: &str = "wa_gateway_entitlement_cache_misses_total";
pub const CAMPAIGN_ITEMS: &str = "wa_gateway_campaign_items_total";
pub const CAMPAIGN_QUEUE_DEPTH: &str = "wa_gateway_campaign_queue_depth";
pub const CAMPAIGN_SENDERS: &str = "wa_gateway_campaign_senders";
pub const WEBHOOK_STORED: &str = "wa_gateway_webhook_events_stored_total";
pub const WEBHOOK_DUPLICATES: &str = "wa_gateway_webhook_events_duplicate_total";
pub const WEBHOOK_STORE_FAILED: &str = "wa_gateway_webhook_events_store_failed_total";
pub const WEBHOOK_PROCESSED: &str = "wa_gateway_webhook_events_processed_total";
pub const WEBHOOK_FAILED: &str = "wa_gateway_webhook_events_failed_total";
pub const WEBHOOK_LAG: &str = "wa_gateway_webhook_processing_lag_seconds";
pub const DB_POOL_MAX: &str = "wa_gateway_db_pool_max_connections";
pub const DB_POOL_SIZE: &str = "wa_gateway_db_pool_connections";
pub const DB_POOL_AVAILABLE: &str = "wa_gateway_db_pool_available_connections";
pub const DB_POOL_WAITING: &str = "wa_gateway_db_pool_waiting_requests";

/// `source` label of the upstream metrics.
pub const VIA_PROXY: &str = "proxy";
pub const VIA_CLIENT: &str = "client";

/// Latency buckets (seconds) of request histograms: from 1 ms to the proxy timeout.
const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Webhook lag buckets (seconds): retries back off up to minutes.
const LAG_BUCKETS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process; later calls return the same handle.
/// `None` when another recorder was installed first (metrics are then not rendered here).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(WEBHOOK_LAG.into()), &LAG_BUCKETS)
                });
            let handle = match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    return None;
                }
            };
            describe();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started");
            }
            Some(handle)
        })
        .as_ref()
}

/// The installed recorder's handle, if any.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get().and_then(Option::as_ref)
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route pattern, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to the response head, by route pattern and method"
    );
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Upstream calls by source (proxy or client), endpoint and outcome"
    );
    describe_histogram!(UPSTREAM_DURATION, Unit::Seconds, "Upstream call time (proxy: to the response head; client: the whole exchange), by source, endpoint and outcome");
    describe_counter!(
        ENTITLEMENT_HITS,
        "/wa/* entitlement checks answered from the cache"
    );
    describe_counter!(
        ENTITLEMENT_MISSES,
        "/wa/* entitlement checks that went to the database"
    );
    describe_counter!(
        CAMPAIGN_ITEMS,
        "Campaign send attempts by session id and outcome (sent, failed, outcome_unknown, retried)"
    );
    describe_gauge!(
        CAMPAIGN_QUEUE_DEPTH,
        "Pending items of processing campaigns per session id (database-wide, read at scrape time)"
    );
    describe_gauge!(CAMPAIGN_SENDERS, "Campaign senders running in this process");
    describe_counter!(WEBHOOK_STORED, "Webhook events stored (new)");
    describe_counter!(
        WEBHOOK_DUPLICATES,
        "Webhook events recognised as redeliveries and not stored again"
    );
    describe_counter!(
        WEBHOOK_STORE_FAILED,
        "Webhook events that could not be stored (the upstream got an error)"
    );
    describe_counter!(WEBHOOK_PROCESSED, "Stored webhook events processed");
    describe_counter!(
        WEBHOOK_FAILED,
        "Webhook event processing attempts that failed, by gave_up"
    );
    describe_histogram!(
        WEBHOOK_LAG,
        Unit::Seconds,
        "Time from an event's receipt to its successful processing"
    );
    describe_gauge!(DB_POOL_MAX, "Largest size of the connection pool");
    describe_gauge!(DB_POOL_SIZE, "Connections open in the pool");
    describe_gauge!(DB_POOL_AVAILABLE, "Idle connections in the pool");
    describe_gauge!(DB_POOL_WAITING, "Requests waiting for a pooled connection");
}

fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// A status code as a label without allocating for the common ones.
fn status_label(code: u16) -> SharedString {
    let s = match code {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return SharedString::from(code.to_string()),
    };
    SharedString::from(s)
}

/// One answered HTTP request. `route` is the matched pattern (`None`: no route matched).
pub fn http_request(
    route: Option<String>,
    method: &actix_web::http::Method,
    status: u16,
    started: Instant,
) {
    let route = match route {
        Some(r) => SharedString::from(Arc::<str>::from(r)),
        None => SharedString::from("unmatched"),
    };
    let method = method_label(method);
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status_label(status))
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
}

/// The HTTP metrics middleware: counts and times every request by its route pattern.
pub async fn track_http(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern();
    let method = req.method().clone();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    http_request(route, &method, status, started);
    res
}

/// Outcome label of an upstream answer.
pub fn outcome_of_status(status: u16) -> &'static str {
    match status {
        500.. => "http_5xx",
        400..=499 => "http_4xx",
        _ => "ok",
    }
}

/// Outcome label of an upstream call that got no answer.
pub fn outcome_of_error(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else {
        "unreachable"
    }
}

/// One upstream call: `via` is [`VIA_PROXY`] or [`VIA_CLIENT`], `endpoint` a fixed path.
pub fn upstream_call(
    via: &'static str,
    endpoint: &'static str,
    outcome: &'static str,
    started: Instant,
) {
    counter!(UPSTREAM_REQUESTS, "source" => via, "endpoint" => endpoint, "outcome" => outcome)
        .increment(1);
    histogram!(UPSTREAM_DURATION, "source" => via, "endpoint" => endpoint, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// A proxied call's result.
pub fn proxied(
    endpoint: &'static str,
    started: Instant,
    result: &reqwest::Result<reqwest::Response>,
) {
    let outcome = match result {
        Ok(r) => outcome_of_status(r.status().as_u16()),
        Err(e) => outcome_of_error(e),
    };
    upstream_call(VIA_PROXY, endpoint, outcome, started);
}

/// The upstream endpoint label of a proxied path (`/wa` removed): the path itself when it is
/// one of the upstream's fixed routes (upstream.md §4), its pattern when a segment is variable,
/// else `other`. Never a query string or user data.
pub fn upstream_endpoint(tail: &str) -> &'static str {
    const FIXED: &[&str] = &[
        "/session/connect",
        "/session/disconnect",
        "/session/logout",
        "/session/status",
        "/session/qr",
        "/session/pairphone",
        "/session/history",
        "/session/proxy",
        "/session/s3/config",
        "/session/s3/test",
        "/session/hmac/config",
        "/webhook",
        "/webhook/events",
        "/chat/send/text",
        "/chat/send/image",
        "/chat/send/video",
        "/chat/send/audio",
        "/chat/send/document",
        "/chat/send/sticker",
        "/chat/send/location",
        "/chat/send/contact",
        "/chat/send/buttons",
        "/chat/send/list",
        "/chat/send/poll",
        "/chat/send/edit",
        "/chat/delete",
        "/chat/react",
        "/chat/markread",
        "/chat/presence",
        "/chat/downloadimage",
        "/chat/downloadvideo",
        "/chat/downloadaudio",
        "/chat/downloaddocument",
        "/chat/downloadsticker",
        "/chat/history",
        "/chat/request-unavailable-message",
        "/chat/archive",
        "/user/check",
        "/user/info",
        "/user/avatar",
        "/user/contacts",
        "/user/presence",
        "/group/create",
        "/group/list",
        "/group/info",
        "/group/invitelink",
        "/group/photo",
        "/group/photo/remove",
        "/group/leave",
        "/group/name",
        "/group/topic",
        "/group/announce",
        "/group/locked",
        "/group/ephemeral",
        "/group/join",
        "/group/inviteinfo",
        "/group/updateparticipants",
        "/newsletter/list",
        "/status/set/text",
        "/call/reject",
        "/admin/users",
    ];
    if let Some(p) = FIXED.iter().find(|p| **p == tail) {
        return p;
    }
    let one_segment = |prefix: &str| {
        tail.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    };
    if one_segment("/user/lid/") {
        "/user/lid/{jid}"
    } else if one_segment("/admin/users/") {
        "/admin/users/{id}"
    } else if tail
        .strip_prefix("/admin/users/")
        .and_then(|rest| rest.strip_suffix("/full"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    {
        "/admin/users/{id}/full"
    } else {
        "other"
    }
}

/// An `/wa/*` entitlement lookup: answered from the cache or not.
pub fn entitlement_cache(hit: bool) {
    if hit {
        counter!(ENTITLEMENT_HITS).increment(1);
    } else {
        counter!(ENTITLEMENT_MISSES).increment(1);
    }
}

/// The recorded results of a sender batch (`session` is the `"WhatsAppSession".id`).
pub fn campaign_results(session: &str, results: &[SendResult]) {
    let (mut sent, mut failed, mut unknown, mut retried) = (0u64, 0u64, 0u64, 0u64);
    for r in results {
        match r {
            SendResult::Sent { .. } => sent += 1,
            SendResult::Failed { .. } => failed += 1,
            SendResult::Unknown { .. } => unknown += 1,
            SendResult::Retry { .. } => retried += 1,
        }
    }
    for (outcome, n) in [
        ("sent", sent),
        ("failed", failed),
        ("outcome_unknown", unknown),
        ("retried", retried),
    ] {
        if n > 0 {
            counter!(CAMPAIGN_ITEMS, "session" => session.to_string(), "outcome" => outcome)
                .increment(n);
        }
    }
}

/// How many senders run in this process.
pub fn campaign_senders(n: usize) {
    gauge!(CAMPAIGN_SENDERS).set(n as f64);
}

/// Sessions whose queue depth was reported, so a drained queue reads 0 rather than its last
/// value.
static QUEUE_SESSIONS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Sets the queue depth gauges from `(session id, pending items)`.
pub fn campaign_queue_depths(depths: Vec<(String, i64)>) {
    let mut seen = QUEUE_SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    let now: HashSet<String> = depths.iter().map(|(s, _)| s.clone()).collect();
    for gone in seen.difference(&now) {
        gauge!(CAMPAIGN_QUEUE_DEPTH, "session" => gone.clone()).set(0.0);
    }
    for (session, n) in depths {
        gauge!(CAMPAIGN_QUEUE_DEPTH, "session" => session.clone()).set(n as f64);
        seen.insert(session);
    }
}

/// A webhook intake batch: `stored` new rows, `duplicates` redeliveries.
pub fn webhook_stored(stored: usize, duplicates: usize) {
    counter!(WEBHOOK_STORED).increment(stored as u64);
    if duplicates > 0 {
        counter!(WEBHOOK_DUPLICATES).increment(duplicates as u64);
    }
}

/// A webhook intake batch that could not be stored.
pub fn webhook_store_failed(n: usize) {
    counter!(WEBHOOK_STORE_FAILED).increment(n as u64);
}

/// A committed router batch: the receipt times of the processed events, and the failures.
pub fn webhook_processed(received: &[chrono::DateTime<chrono::Utc>], failed: u64, gave_up: u64) {
    counter!(WEBHOOK_PROCESSED).increment(received.len() as u64);
    let now = chrono::Utc::now();
    let lag = histogram!(WEBHOOK_LAG);
    for at in received {
        lag.record((now - *at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6);
    }
    if failed > gave_up {
        counter!(WEBHOOK_FAILED, "gave_up" => "false").increment(failed - gave_up);
    }
    if gave_up > 0 {
        counter!(WEBHOOK_FAILED, "gave_up" => "true").increment(gave_up);
    }
}

fn pool_gauges(name: &'static str, pool: &DbPool) {
    let s = pool.status();
    gauge!(DB_POOL_MAX, "pool" => name).set(s.max_size as f64);
    gauge!(DB_POOL_SIZE, "pool" => name).set(s.size as f64);
    gauge!(DB_POOL_AVAILABLE, "pool" => name).set(s.available as f64);
    gauge!(DB_POOL_WAITING, "pool" => name).set(s.waiting as f64);
}

/// Scrape-time gauges: the pools (one `primary` pool in single-database mode).
pub fn pools(db: &Databases) {
    pool_gauges("primary", &db.primary);
    if db.two_database_mode {
        pool_gauges("transactional", &db.transactional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_endpoints_never_carry_user_data() {
        assert_eq!(upstream_endpoint("/chat/send/text"), "/chat/send/text");
        assert_eq!(upstream_endpoint("/admin/users"), "/admin/users");
        assert_eq!(
            upstream_endpoint("/user/lid/6281234567890"),
            "/user/lid/{jid}"
        );
        assert_eq!(upstream_endpoint("/admin/users/abc"), "/admin/users/{id}");
        assert_eq!(
            upstream_endpoint("/admin/users/abc/full"),
            "/admin/users/{id}/full"
        );
        assert_eq!(upstream_endpoint("/admin/users/a/b"), "other");
        assert_eq!(upstream_endpoint("/chat/send/text/6281234567890"), "other");
        assert_eq!(upstream_endpoint("/user/lid/"), "other");
        assert_eq!(upstream_endpoint("/webhook/events/x"), "other");
        assert_eq!(upstream_endpoint("/chat/send/text/"), "other");
    }

    #[test]
    fn upstream_outcomes_follow_the_status() {
        assert_eq!(outcome_of_status(200), "ok");
        assert_eq!(outcome_of_status(302), "ok");
        assert_eq!(outcome_of_status(404), "http_4xx");
        assert_eq!(outcome_of_status(503), "http_5xx");
    }
}
