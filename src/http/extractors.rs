//! Extractors: `AuthUser` (the `/bulk/*` bearer check, contract §4.3 and defect 21).

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use diesel::sql_types::{Bool, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::domain::UserId;
use crate::error::ApiError;
use crate::startup::AppState;

/// The authenticated customer of a `/bulk/*` request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = Text)]
    session_user: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    user_active: Option<bool>,
}

fn header_token(req: &HttpRequest) -> Result<String, ApiError> {
    let bad_format = || {
        ApiError::unauthorized(
            "invalid_authorization_format",
            "Invalid authorization header format. Use: Bearer <token>",
        )
    };
    let raw = req
        .headers()
        .get("authorization")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("authorization_required", "Authorization header required")
        })?;
    // A value that is not visible ASCII cannot be a token of ours.
    let value = raw.to_str().map_err(|_| bad_format())?;
    let parts: Vec<&str> = value.split(' ').collect();
    if parts.len() != 2 || parts[0] != "Bearer" || parts[1].is_empty() {
        return Err(bad_format());
    }
    Ok(parts[1].to_string())
}

fn session_invalid() -> ApiError {
    ApiError::unauthorized("session_invalid", "Session not found or expired")
}

/// Longer tokens are refused before any work: stored tokens are at most 512 characters.
const MAX_TOKEN_LEN: usize = 4096;

async fn authenticate(state: web::Data<AppState>, token: String) -> Result<AuthUser, ApiError> {
    if token.len() > MAX_TOKEN_LEN || token.bytes().any(|b| b.is_ascii_control()) {
        return Err(session_invalid());
    }
    let claims = match &state.settings.jwt_secret {
        Some(secret) => {
            Some(crate::http::auth::decode_token(&token, secret).map_err(|_| session_invalid())?)
        }
        None => None,
    };
    let mut conn = state.db.transactional.get().await?;
    let row: Option<SessionRow> = diesel::sql_query(
        r#"SELECT us."userId" AS session_user, u."id" AS user_id, u."isActive" AS user_active
           FROM "UserSession" us LEFT JOIN "User" u ON u."id" = us."userId"
           WHERE us."token" = $1 AND us."isActive" AND us."expiresAt" > now()
           LIMIT 1"#,
    )
    .bind::<Text, _>(&token)
    .get_result(&mut conn)
    .await
    .map(Some)
    .or_else(|e| match e {
        diesel::result::Error::NotFound => Ok(None),
        e => Err(e),
    })?;
    let row = row.ok_or_else(session_invalid)?;
    if claims.is_some_and(|c| c.user_id != row.session_user) {
        return Err(session_invalid());
    }
    match (row.user_id, row.user_active) {
        (Some(id), Some(true)) => Ok(AuthUser {
            user_id: UserId(id),
        }),
        // An inactive user is refused with the contract's text for a missing one.
        (Some(_), _) => Err(ApiError::unauthorized("user_inactive", "User not found")),
        (None, _) => Err(ApiError::unauthorized("user_not_found", "User not found")),
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<AuthUser, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = header_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state
                .ok_or_else(|| ApiError::internal(std::io::Error::other("app state missing")))?;
            authenticate(state, token).await.map_err(|e| {
                // Infrastructure failures stay 503 but in the auth envelope.
                if e.status.is_server_error() {
                    e.envelope(crate::error::Envelope::Error)
                } else {
                    e
                }
            })
        })
    }
}

/// JSON bodies of `/bulk/*`: any `Content-Type`, and binding errors as
/// `400 Invalid request: <reason>` in the bulk envelope.
pub fn bulk_json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(false)
        .error_handler(|err, _req| {
            let reason = match &err {
                actix_web::error::JsonPayloadError::Deserialize(e)
                    if e.is_eof() && e.line() == 1 && e.column() == 0 =>
                {
                    "EOF".to_string()
                }
                actix_web::error::JsonPayloadError::Deserialize(e) => e.to_string(),
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    return ApiError::new(
                        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "Request body too large",
                    )
                    .into();
                }
                other => other.to_string(),
            };
            ApiError::bad_request("invalid_request", format!("Invalid request: {reason}")).into()
        })
}
