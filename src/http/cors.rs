//! CORS as the contract fixes it (§2.3): fixed headers on every answer, and any `OPTIONS`
//! answered 204 before authentication.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};

const HEADERS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    ),
    (
        "access-control-allow-headers",
        "Content-Type, Authorization, token",
    ),
];

/// The middleware function (`middleware::from_fn`).
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let mut res = if req.method() == Method::OPTIONS {
        let mut resp = HttpResponse::NoContent().finish();
        add_headers(resp.headers_mut(), true);
        req.into_response(resp)
    } else {
        let mut res = next.call(req).await?.map_into_boxed_body();
        // Headers relayed from the upstream on /wa/* take precedence.
        add_headers(res.headers_mut(), false);
        res
    };
    if let Some(id) = request_id {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

fn add_headers(headers: &mut actix_web::http::header::HeaderMap, overwrite: bool) {
    for (k, v) in HEADERS {
        let name = HeaderName::from_static(k);
        if overwrite || !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(v));
        }
    }
}
