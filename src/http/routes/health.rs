//! `GET /` and `GET|HEAD /health` (contract §6.2), with a database check on `/health`.

use actix_web::{web, HttpResponse};
use chrono::Local;
use serde_json::json;

use crate::startup::AppState;

const SERVICE: &str = "genfity-wa-support";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /`: the service banner (contract §6.2).
#[derive(utoipa::ToSchema)]
pub struct Banner {
    #[schema(example = "release")]
    pub environment: String,
    #[schema(example = "Server is running successfully")]
    pub message: String,
    #[schema(example = "Genfity WhatsApp Support API")]
    pub server: String,
    #[schema(example = "genfity-wa-support")]
    pub service: String,
    #[schema(example = "running")]
    pub status: String,
    /// Local time, `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2025-10-08 22:30:15")]
    pub time: String,
    pub timestamp: i64,
    /// The local zone abbreviation.
    #[schema(example = "WIB")]
    pub timezone: String,
    pub version: String,
}

/// `GET /health` and `HEAD /health`.
#[derive(utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "genfity-wa-support")]
    pub service: String,
    /// `healthy`, or `unhealthy` while a database does not answer.
    #[schema(example = "healthy")]
    pub status: String,
    pub time: chrono::DateTime<chrono::FixedOffset>,
    pub version: String,
    /// `ok` or `unreachable`.
    #[schema(example = "ok")]
    pub database: String,
}

/// The service banner.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "index",
    tag = "service",
    responses((status = 200, description = "The service is running", body = Banner))
)]
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let now = Local::now();
    HttpResponse::Ok().json(json!({
        "environment": state.settings.environment,
        "message": "Server is running successfully",
        "server": state.settings.server_name,
        "service": SERVICE,
        "status": "running",
        "time": now.format("%Y-%m-%d %H:%M:%S").to_string(),
        "timestamp": now.timestamp(),
        "timezone": now.format("%Z").to_string(),
        "version": VERSION,
    }))
}

/// Liveness and database reachability: 503 while a database does not answer.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "service",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "A database does not answer", body = Health),
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let primary = crate::db::pool::ping(&state.db.primary).await;
    let transactional = if state.db.two_database_mode {
        crate::db::pool::ping(&state.db.transactional).await
    } else {
        primary
    };
    let up = primary && transactional;
    let body = json!({
        "service": SERVICE,
        "status": if up { "healthy" } else { "unhealthy" },
        "time": Local::now().to_rfc3339(),
        "version": VERSION,
        "database": if up { "ok" } else { "unreachable" },
    });
    if up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `HEAD /health`: the status of `GET /health` without a body.
#[utoipa::path(
    head,
    path = "/health",
    operation_id = "health_head",
    tag = "service",
    responses(
        (status = 200, description = "Healthy"),
        (status = 503, description = "A database does not answer"),
    )
)]
pub async fn health_head(state: web::Data<AppState>) -> HttpResponse {
    health(state).await
}
