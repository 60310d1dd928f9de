//! `ApiError`: every error a handler returns, rendered in the envelope its route group uses
//! (contract §4.4) plus a stable machine-readable `error_code`.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

/// The JSON shapes clients already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `/bulk/*` handlers: `{"code","success":false,"message"}`.
    Bulk,
    /// `GET /bulk/campaigns/:id`: `{"code","success":false}` with no message.
    BulkBare,
    /// List reads: `{"code","success":false,"data":null}`.
    BulkList,
    /// `/bulk/*` auth and `/webhook/wa`: `{"error": "..."}`.
    Error,
    /// Gateway-made `/wa/*` errors: `{"status","message"}`.
    Gateway,
}

/// `/bulk/*` handler failures: `{"code","success":false,"message"}` (contract §4.4).
#[derive(utoipa::ToSchema)]
pub struct BulkErrorBody {
    /// The HTTP status (contact sync: the upstream's code).
    #[schema(example = 400)]
    pub code: i64,
    #[schema(example = false)]
    pub success: bool,
    #[schema(example = "Invalid request: name is required")]
    pub message: String,
    /// Stable machine-readable cause.
    #[schema(example = "invalid_request")]
    pub error_code: String,
}

/// `GET /bulk/campaigns/{id}` failures: `{"code","success":false}` with no message.
#[derive(utoipa::ToSchema)]
pub struct BulkBareErrorBody {
    #[schema(example = 404)]
    pub code: i64,
    #[schema(example = false)]
    pub success: bool,
    #[schema(example = "bulk_campaign_not_found")]
    pub error_code: String,
}

/// List reads failing with a 5xx: `{"code","success":false,"data":null}`.
#[derive(utoipa::ToSchema)]
pub struct BulkListErrorBody {
    #[schema(example = 500)]
    pub code: i64,
    #[schema(example = false)]
    pub success: bool,
    #[schema(schema_with = null_schema)]
    pub data: Option<String>,
    #[schema(example = "internal_error")]
    pub error_code: String,
}

fn null_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

/// `/bulk/*` auth failures and `/webhook/wa`: `{"error": "..."}`.
#[derive(utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(example = "Session not found or expired")]
    pub error: String,
    #[schema(example = "session_invalid")]
    pub error_code: String,
}

/// Errors the `/wa/*` gateway makes itself: `{"status","message"}`.
#[derive(utoipa::ToSchema)]
pub struct GatewayErrorBody {
    #[schema(example = 403)]
    pub status: u16,
    #[schema(example = "invalid token")]
    pub message: String,
    #[schema(example = "invalid_token")]
    pub error_code: String,
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error answered to a client.
pub struct ApiError {
    pub status: StatusCode,
    pub envelope: Envelope,
    pub message: Cow<'static, str>,
    pub error_code: &'static str,
    /// Overrides the `code` member (contact sync relays the upstream's code).
    pub body_code: Option<i64>,
    source: Option<Source>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        error_code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            envelope: Envelope::Bulk,
            message: message.into(),
            error_code,
            body_code: None,
            source: None,
        }
    }

    pub fn bad_request(error_code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_code, message)
    }

    pub fn not_found(error_code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error_code, message)
    }

    pub fn forbidden(error_code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, error_code, message)
    }

    /// A 401 in the `{"error": …}` shape of the `/bulk/*` auth.
    pub fn unauthorized(error_code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error_code, message).envelope(Envelope::Error)
    }

    /// An unexpected failure: the body says only `Internal server error`.
    pub fn internal(source: impl Into<Source>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
        .source(source)
    }

    /// The database (or another dependency) is unreachable: retry later.
    pub fn unavailable(source: impl Into<Source>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service temporarily unavailable",
        )
        .source(source)
    }

    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    pub fn source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn body_code(mut self, code: i64) -> Self {
        self.body_code = Some(code);
        self
    }

    /// The JSON body for this error.
    pub fn body(&self) -> Value {
        let code = self.body_code.unwrap_or(i64::from(self.status.as_u16()));
        let mut m = Map::new();
        match self.envelope {
            Envelope::Bulk => {
                m.insert("code".into(), json!(code));
                m.insert("success".into(), json!(false));
                m.insert("message".into(), json!(self.message));
            }
            Envelope::BulkBare => {
                m.insert("code".into(), json!(code));
                m.insert("success".into(), json!(false));
            }
            Envelope::BulkList => {
                m.insert("code".into(), json!(code));
                m.insert("success".into(), json!(false));
                m.insert("data".into(), Value::Null);
            }
            Envelope::Error => {
                m.insert("error".into(), json!(self.message));
            }
            Envelope::Gateway => {
                m.insert("status".into(), json!(self.status.as_u16()));
                m.insert("message".into(), json!(self.message));
            }
        }
        m.insert("error_code".into(), json!(self.error_code));
        Value::Object(m)
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.error_code)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Formats an error with its whole cause chain, for logs.
pub fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(error.code = self.error_code, error.cause_chain = %cause_chain(self), "request failed");
        }
        HttpResponse::build(self.status).json(self.body())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::NotFound => ApiError::not_found("not_found", "Not found").source(e),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict").source(e)
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::unavailable(e)
            }
            // Text PostgreSQL cannot store (a NUL character, in text or in a JSON string) can only
            // come from the client.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_unstorable_text(info.message()) =>
            {
                ApiError::bad_request(
                    "invalid_text",
                    "Invalid request: text must not contain NUL characters",
                )
                .source(e)
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_unavailable(info.message()) =>
            {
                ApiError::unavailable(e)
            }
            _ => ApiError::internal(e),
        }
    }
}

/// Client text PostgreSQL cannot store (U+0000 in `text` or `jsonb`): the request is at fault.
fn is_unstorable_text(message: &str) -> bool {
    message.starts_with("invalid byte sequence for encoding")
        || message.starts_with("unsupported Unicode escape sequence")
}

fn is_unavailable(message: &str) -> bool {
    message.contains("canceling statement due to statement timeout")
        || message.contains("terminating connection")
        || message.contains("connection")
}

impl From<crate::db::PoolError> for ApiError {
    fn from(e: crate::db::PoolError) -> Self {
        ApiError::unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_have_their_shapes() {
        let e = ApiError::not_found("campaign_not_found", "Campaign not found");
        assert_eq!(
            e.body(),
            json!({"code":404,"success":false,"message":"Campaign not found","error_code":"campaign_not_found"})
        );
        let e = ApiError::unauthorized("session_not_found", "Session not found or expired");
        assert_eq!(
            e.body(),
            json!({"error":"Session not found or expired","error_code":"session_not_found"})
        );
        let e = ApiError::forbidden("invalid_token", "invalid token").envelope(Envelope::Gateway);
        assert_eq!(
            e.body(),
            json!({"status":403,"message":"invalid token","error_code":"invalid_token"})
        );
        let e = ApiError::bad_request("invalid_id", "x").envelope(Envelope::BulkBare);
        assert_eq!(
            e.body(),
            json!({"code":400,"success":false,"error_code":"invalid_id"})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::internal(std::io::Error::other("password=hunter2 leaked"));
        let body = e.body().to_string();
        assert!(!body.contains("hunter2"));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
