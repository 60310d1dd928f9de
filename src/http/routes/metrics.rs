//! `GET /metrics`: the Prometheus text format. Gauges read from live state (pools, the campaign
//! queue) are refreshed here, at scrape time.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::db::queries::campaigns;
use crate::startup::AppState;

/// How long a scrape waits for the queue-depth query before answering with the last values.
const QUEUE_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics` (404 when `METRICS_ENABLED` is off).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus text format (README, Metrics)", content_type = "text/plain", body = String),
        (status = 404, description = "Metrics are off (`METRICS_ENABLED=false`)", content_type = "text/plain", body = String),
    )
)]
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    if !state.settings.metrics_enabled {
        return crate::http::not_found().await;
    }
    let Some(handle) = crate::metrics::handle() else {
        return crate::http::not_found().await;
    };
    crate::metrics::pools(&state.db);
    let depths = tokio::time::timeout(QUEUE_QUERY_TIMEOUT, async {
        let mut conn = state.db.transactional.get().await.ok()?;
        campaigns::pending_items_by_session(&mut conn).await.ok()
    })
    .await;
    match depths {
        Ok(Some(d)) => crate::metrics::campaign_queue_depths(d),
        _ => tracing::warn!("metrics: campaign queue depth not read; last values kept"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
