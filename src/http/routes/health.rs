//! `GET /` and `GET|HEAD /health` (contract §6.2), with a database check on `/health`.

use actix_web::{web, HttpResponse};
use chrono::Local;
use serde_json::json;

use crate::startup::AppState;

const SERVICE: &str = "genfity-wa-support";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /`
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

/// `GET /health` and `HEAD /health`: 503 while the database does not answer.
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
