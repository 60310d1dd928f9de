//! Every route in one place: [`route_table`] is the table `configure` registers and the OpenAPI
//! coverage test reads, so the two cannot drift.

pub mod auth;
pub mod cors;
pub mod extractors;
pub mod image;
pub mod openapi;
pub mod routes;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};

/// One registered route: `method` is `None` for the gateway's every-method routes.
pub struct RouteSpec {
    pub method: Option<Method>,
    /// The actix pattern, with the `/bulk` prefix included.
    pub path: &'static str,
    route: Route,
}

fn on<F, Args>(method: Method, path: &'static str, handler: F) -> RouteSpec
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    RouteSpec {
        method: Some(method.clone()),
        path,
        route: web::method(method).to(handler),
    }
}

fn any<F, Args>(path: &'static str, handler: F) -> RouteSpec
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    RouteSpec {
        method: None,
        path,
        route: web::to(handler),
    }
}

/// The route table, in registration order.
pub fn route_table() -> Vec<RouteSpec> {
    use routes::{campaigns, chats, contacts, health, metrics, sessions, templates, webhooks};
    use Method as M;
    vec![
        // Every method of /wa and /wa/* (the gateway decides what is a group and what is 404).
        any("/wa", crate::gateway::handle),
        any("/wa/{tail:.*}", crate::gateway::handle),
        on(M::GET, "/", health::index),
        on(M::GET, "/health", health::health),
        on(M::HEAD, "/health", health::health_head),
        on(M::GET, "/metrics", metrics::render),
        on(M::GET, "/openapi.json", openapi::spec),
        on(M::GET, "/docs", openapi::docs),
        on(M::GET, "/webhook/wa", webhooks::verify),
        on(M::POST, "/webhook/wa", webhooks::receive),
        on(M::GET, "/bulk/cron/process", campaigns::cron),
        on(M::POST, "/bulk/campaign/execute", campaigns::execute),
        on(M::POST, "/bulk/campaign", templates::create),
        on(M::GET, "/bulk/campaign", templates::list),
        on(M::GET, "/bulk/campaign/{id}", templates::get),
        on(M::PUT, "/bulk/campaign/{id}", templates::update),
        on(M::DELETE, "/bulk/campaign/{id}", templates::delete),
        on(M::POST, "/bulk/contact/sync", contacts::sync),
        on(M::GET, "/bulk/contact", contacts::list),
        on(M::POST, "/bulk/contact/add", contacts::add),
        on(M::DELETE, "/bulk/contact/delete", contacts::delete),
        on(M::GET, "/bulk/campaigns", campaigns::list),
        on(M::GET, "/bulk/campaigns/{id}", campaigns::detail),
        on(M::DELETE, "/bulk/campaigns/{id}", campaigns::delete),
        on(M::GET, "/bulk/campaigns/{id}/items", campaigns::items),
        on(M::GET, "/bulk/campaigns/{id}/events", campaigns::events),
        on(M::POST, "/bulk/campaigns/{id}/pause", campaigns::pause),
        on(M::POST, "/bulk/campaigns/{id}/resume", campaigns::resume),
        on(M::POST, "/bulk/campaigns/{id}/cancel", campaigns::cancel),
        on(M::POST, "/bulk/campaigns/{id}/retry", campaigns::retry),
        on(M::GET, "/bulk/sessions/{session_id}/chats", chats::chats),
        on(
            M::GET,
            "/bulk/sessions/{session_id}/chats/{chat_id}/messages",
            chats::messages,
        ),
        on(
            M::GET,
            "/bulk/sessions/{session_id}/state",
            chats::session_state,
        ),
        on(
            M::GET,
            "/bulk/sessions/{session_id}/settings",
            sessions::get,
        ),
        on(
            M::PUT,
            "/bulk/sessions/{session_id}/settings",
            sessions::put,
        ),
        on(M::PUT, "/bulk/settings/chat-log", chats::set_chat_log),
    ]
}

/// Registers all routes of [`route_table`]; those under `/bulk` share one scope and its body and
/// query error handlers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut bulk = web::scope("/bulk")
        .app_data(extractors::bulk_json_config(8 * 1024 * 1024))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            crate::error::ApiError::bad_request("invalid_query", format!("Invalid request: {e}"))
                .into()
        }));
    for spec in route_table() {
        match spec.path.strip_prefix("/bulk") {
            Some(rest) => bulk = bulk.route(rest, spec.route),
            None => {
                cfg.route(spec.path, spec.route);
            }
        }
    }
    cfg.service(bulk);
}

/// The reference's answer for unknown paths and methods.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("404 page not found")
}
