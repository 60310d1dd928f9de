//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the `#[utoipa::path]`
//! annotations next to each handler, and a docs page (`GET /docs`) that renders it.
//!
//! The `/wa/*` gateway is one catch-all handler, so its paths are written here: one path per
//! pass-through group of contract §6.1, built from the gateway's own group list.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use serde_json::{json, Value};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{
    BulkBareErrorBody, BulkErrorBody, BulkListErrorBody, ErrorBody, GatewayErrorBody,
};
use crate::http::routes::{
    campaigns, chats, contacts, health, metrics, sessions, templates, webhooks,
};

/// The security scheme of `/bulk/*`.
pub const BEARER: &str = "bearer_token";
/// The session-token schemes of `/wa/*` (any one of them).
pub const SESSION_HEADER: &str = "session_token";
pub const SESSION_AUTHORIZATION: &str = "session_authorization";
pub const SESSION_QUERY: &str = "session_query";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wa-gateway",
        description = "Multi-tenant WhatsApp API gateway: the `/wa/*` pass-through proxy, the \
            `/bulk/*` contacts and campaigns API and the `/webhook/wa` receiver.\n\n\
            Request bodies of `/bulk/*` are JSON whatever the `Content-Type`; keys match \
            case-insensitively and unknown keys are ignored. Every error body carries a stable \
            machine-readable `error_code`."
    ),
    paths(
        health::index,
        health::health,
        health::health_head,
        metrics::render,
        spec,
        docs,
        webhooks::verify,
        webhooks::receive,
        campaigns::cron,
        campaigns::execute,
        templates::create,
        templates::list,
        templates::get,
        templates::update,
        templates::delete,
        contacts::sync,
        contacts::list,
        contacts::add,
        contacts::delete,
        campaigns::list,
        campaigns::detail,
        campaigns::delete,
        campaigns::items,
        campaigns::events,
        campaigns::pause,
        campaigns::resume,
        campaigns::cancel,
        campaigns::retry,
        chats::chats,
        chats::messages,
        chats::session_state,
        sessions::get,
        sessions::put,
        chats::set_chat_log,
    ),
    components(schemas(
        BulkErrorBody,
        BulkBareErrorBody,
        BulkListErrorBody,
        ErrorBody,
        GatewayErrorBody
    )),
    modifiers(&Security),
    tags(
        (name = "service", description = "Liveness, metrics, the API document and its docs page"),
        (name = "gateway", description = "`/wa/*`: authenticated pass-through to the WhatsApp upstream (contract §4.1, §5)"),
        (name = "templates", description = "Campaign templates (contract §6.3)"),
        (name = "campaigns", description = "Bulk campaigns (contract §6.4, §7)"),
        (name = "contacts", description = "Contacts (contract §8)"),
        (name = "chats", description = "Chat log and session state"),
        (name = "sessions", description = "Per-session send rate, daily cap and webhook key"),
        (name = "webhook", description = "The upstream's event webhooks (contract §9)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`/bulk/*`: `Authorization: Bearer <token>`, a login session token \
                         (an HS256 JWT when `JWT_SECRET` is set).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "token",
                "`/wa/*`: the WhatsApp session token in the `token` header (checked first).",
            ))),
        );
        components.add_security_scheme(
            SESSION_AUTHORIZATION,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`/wa/*`: the session token in `Authorization`, with or without `Bearer `.",
            ))),
        );
        components.add_security_scheme(
            SESSION_QUERY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "`/wa/*`: the session token as `?token=` (checked last).",
            ))),
        );
    }
}

fn gateway_error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": "#/components/schemas/GatewayErrorBody"},
            {"$ref": "#/components/schemas/UpstreamErrorBody"}
        ]}}}
    })
}

fn relayed() -> Value {
    json!({
        "description": "The upstream's answer, relayed unchanged (status, headers and body; \
            upstream.md §3–§5)",
        "content": {"*/*": {"schema": {}}}
    })
}

/// One pass-through operation; `checked` adds the session token and its failures.
fn gateway_operation(id: String, summary: String, checked: bool, body: bool) -> Value {
    let mut responses = json!({
        "200": relayed(),
        "404": {
            "description": "Not a gateway path (`404 page not found`, text), or the upstream's 404",
            "content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"schema": {}}}
        },
        "400": gateway_error(
            "`Failed to read request body`; on `POST /wa/chat/send/image` also `Failed to process \
             image: ...` (contract §5.3); or the upstream's 400",
        ),
        "413": gateway_error("Request body larger than `PROXY_MAX_BODY_BYTES`"),
        "502": gateway_error("`Failed to reach WhatsApp server` (connection error), or the upstream's 502"),
        "504": gateway_error("No answer from the upstream within `PROXY_TIMEOUT_SECS` (outcome unknown)"),
        "default": relayed(),
    });
    let mut op = json!({
        "tags": ["gateway"],
        "operationId": id,
        "summary": summary,
        "parameters": [],
        "responses": {},
    });
    if checked {
        responses["401"] = gateway_error("`Token required` (no `token` header, `Authorization` or `?token=`), or the upstream's 401");
        responses["403"] = gateway_error(
            "`invalid token`, `session not associated with any user`, `no active subscription found`, \
             `subscription expired on YYYY-MM-DD`, `package not found`, `session limit exceeded. ...` \
             (contract §4.1), or the upstream's 403",
        );
        responses["503"] = gateway_error("The gateway's database is unavailable");
        op["security"] = json!([
            {SESSION_HEADER: []},
            {SESSION_AUTHORIZATION: []},
            {SESSION_QUERY: []}
        ]);
    } else {
        responses["403"] = gateway_error(
            "`admin access not allowed from this address` (`ADMIN_ALLOWED_IPS`), or the upstream's 403",
        );
    }
    op["responses"] = responses;
    if body {
        op["requestBody"] = json!({
            "description": "Forwarded to the upstream unchanged (for `POST /wa/chat/send/image` \
                an `Image` URL is first inlined as a data URI, contract §5.3)",
            "required": false,
            "content": {"application/json": {"schema": {"type": "object"}}}
        });
    }
    op
}

fn gateway_path(prefix: &str, with_tail: bool, checked: bool, what: &str) -> (String, Value) {
    let path = if with_tail {
        format!("{prefix}/{{path}}")
    } else {
        prefix.to_string()
    };
    let slug = prefix.trim_start_matches('/').replace(['/', '-'], "_");
    let slug = if with_tail {
        format!("{slug}_any")
    } else {
        slug
    };
    let mut item = json!({});
    for (method, body) in [
        ("get", false),
        ("post", true),
        ("put", true),
        ("delete", false),
    ] {
        let mut op = gateway_operation(
            format!("{method}_{slug}"),
            format!("{} {what}", method.to_uppercase()),
            checked,
            body,
        );
        if with_tail {
            op["parameters"] = json!([{
                "name": "path",
                "in": "path",
                "required": true,
                "description": "The rest of the upstream path (it may span several segments, \
                    e.g. `send/text` under `/wa/chat`); the query string is forwarded as is",
                "schema": {"type": "string"}
            }]);
        }
        item[method] = op;
    }
    (path, item)
}

/// Adds what the annotations cannot express: the `/wa/*` paths (every token-checked group,
/// the admin pass-through and the open `webhook/events` path) and the either-or error shapes.
fn extend(doc: &mut Value) {
    let mut paths: Vec<(String, Value)> = Vec::new();
    for group in crate::gateway::GROUPS {
        for with_tail in [false, true] {
            paths.push(gateway_path(
                &format!("/wa/{group}"),
                with_tail,
                true,
                &format!("upstream `/{group}` API (session token checked, contract §4.1)"),
            ));
        }
    }
    for with_tail in [false, true] {
        paths.push(gateway_path(
            "/wa/admin",
            with_tail,
            false,
            "upstream admin API (no gateway token check; send the upstream's admin token in \
             `Authorization`, contract §4.2)",
        ));
    }
    paths.push(gateway_path(
        "/wa/webhook/events",
        false,
        false,
        "list of the upstream's webhook event types (no token check)",
    ));
    for (path, item) in paths {
        doc["paths"][path] = item;
    }
    let schemas = &mut doc["components"]["schemas"];
    schemas["UpstreamErrorBody"] = json!({
        "type": "object",
        "description": "An error answered by the upstream and relayed unchanged (upstream.md §3)",
        "properties": {
            "code": {"type": "integer"},
            "error": {"type": "string"},
            "success": {"type": "boolean"}
        }
    });
    // Auth failures use `{"error"}` while handler failures of the same status use the bulk
    // shapes: these name the either-or.
    for (name, other) in [
        ("AuthOrBulkError", "BulkErrorBody"),
        ("AuthOrBulkListError", "BulkListErrorBody"),
        ("AuthOrBulkBareError", "BulkBareErrorBody"),
    ] {
        schemas[name] = json!({"anyOf": [
            {"$ref": "#/components/schemas/ErrorBody"},
            {"$ref": format!("#/components/schemas/{other}")}
        ]});
    }
}

/// The document as served (built once): the annotations plus [`extend`].
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
        extend(&mut doc);
        doc
    })
}

/// The OpenAPI 3.1 document of this service.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn spec() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>wa-gateway API</title>
</head>
<body>
  <script id="api-reference" data-url="/openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
</body>
</html>
"#;

/// A page that renders `/openapi.json` (Scalar, loaded from a CDN by the browser).
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docs",
    tag = "service",
    responses((status = 200, description = "HTML page rendering `/openapi.json`", content_type = "text/html", body = String))
)]
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_PAGE)
}
