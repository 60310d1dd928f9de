//! Every route in one place.

pub mod auth;
pub mod cors;
pub mod extractors;
pub mod image;
pub mod routes;

use actix_web::{web, HttpResponse};

/// Registers all routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::{campaigns, chats, contacts, sessions, templates};
    // Every method of /wa and /wa/* (the gateway decides what is a group and what is 404).
    cfg.route("/wa", web::to(crate::gateway::handle))
        .route("/wa/{tail:.*}", web::to(crate::gateway::handle))
        .route("/", web::get().to(routes::health::index))
        .route("/health", web::get().to(routes::health::health))
        .route("/health", web::head().to(routes::health::health))
        .route("/metrics", web::get().to(routes::metrics::render))
        .route("/webhook/wa", web::get().to(routes::webhooks::verify))
        .route("/webhook/wa", web::post().to(routes::webhooks::receive))
        .service(
            web::scope("/bulk")
                .app_data(extractors::bulk_json_config(8 * 1024 * 1024))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    crate::error::ApiError::bad_request(
                        "invalid_query",
                        format!("Invalid request: {e}"),
                    )
                    .into()
                }))
                .route("/cron/process", web::get().to(campaigns::cron))
                .route("/campaign/execute", web::post().to(campaigns::execute))
                .route("/campaign", web::post().to(templates::create))
                .route("/campaign", web::get().to(templates::list))
                .route("/campaign/{id}", web::get().to(templates::get))
                .route("/campaign/{id}", web::put().to(templates::update))
                .route("/campaign/{id}", web::delete().to(templates::delete))
                .route("/contact/sync", web::post().to(contacts::sync))
                .route("/contact", web::get().to(contacts::list))
                .route("/contact/add", web::post().to(contacts::add))
                .route("/contact/delete", web::delete().to(contacts::delete))
                .route("/campaigns", web::get().to(campaigns::list))
                .route("/campaigns/{id}", web::get().to(campaigns::detail))
                .route("/campaigns/{id}", web::delete().to(campaigns::delete))
                .route("/campaigns/{id}/items", web::get().to(campaigns::items))
                .route("/campaigns/{id}/events", web::get().to(campaigns::events))
                .route("/campaigns/{id}/pause", web::post().to(campaigns::pause))
                .route("/campaigns/{id}/resume", web::post().to(campaigns::resume))
                .route("/campaigns/{id}/cancel", web::post().to(campaigns::cancel))
                .route("/campaigns/{id}/retry", web::post().to(campaigns::retry))
                .route("/sessions/{session_id}/chats", web::get().to(chats::chats))
                .route(
                    "/sessions/{session_id}/chats/{chat_id}/messages",
                    web::get().to(chats::messages),
                )
                .route(
                    "/sessions/{session_id}/state",
                    web::get().to(chats::session_state),
                )
                .route(
                    "/sessions/{session_id}/settings",
                    web::get().to(sessions::get),
                )
                .route(
                    "/sessions/{session_id}/settings",
                    web::put().to(sessions::put),
                )
                .route("/settings/chat-log", web::put().to(chats::set_chat_log)),
        );
}

/// The reference's answer for unknown paths and methods.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("404 page not found")
}
