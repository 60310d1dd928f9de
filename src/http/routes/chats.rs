//! Chat log and session state reads under `/bulk` (bearer auth; tenant isolation through the
//! user's own sessions), and the chat-log switch (defect 27).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::db::queries::chats as q;
use crate::error::{ApiError, BulkErrorBody, ErrorBody};
use crate::http::extractors::AuthUser;
use crate::startup::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page number, 1..=1000000 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    /// Page size, 1..=200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A list of stored rows (columns as in the primary database, without `user_token`).
#[derive(utoipa::ToSchema)]
pub struct ObjectList {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<serde_json::Value>,
}

/// One stored row.
#[derive(utoipa::ToSchema)]
pub struct ObjectResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(utoipa::ToSchema)]
pub struct ChatLogData {
    pub session_id: String,
    pub chat_log_enabled: bool,
}

/// `PUT /bulk/settings/chat-log` answer.
#[derive(utoipa::ToSchema)]
pub struct ChatLogResponse {
    #[schema(example = 200)]
    pub code: i64,
    #[schema(example = true)]
    pub success: bool,
    pub message: String,
    pub data: ChatLogData,
}

impl Page {
    fn limit_offset(&self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(50);
        // Bounded so the offset cannot overflow.
        if !(1..=1_000_000).contains(&page) || !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "Invalid request: page must be 1..1000000 and limit 1..200",
            ));
        }
        Ok((limit, (page - 1) * limit))
    }
}

async fn token_of(state: &AppState, auth: &AuthUser, session: &str) -> Result<String, ApiError> {
    if session.contains('\0') {
        // No session has such an id (and PostgreSQL text cannot hold U+0000).
        return Err(ApiError::not_found(
            "session_not_found",
            "Session not found",
        ));
    }
    let mut conn = state.db.transactional.get().await?;
    q::session_token(&mut conn, &auth.user_id.0, session)
        .await?
        .ok_or_else(|| ApiError::not_found("session_not_found", "Session not found"))
}

/// `GET /bulk/sessions/{session_id}/chats?page=&limit=`
#[utoipa::path(
    get,
    path = "/bulk/sessions/{session_id}/chats",
    operation_id = "list_chats",
    tag = "chats",
    params(("session_id" = String, Path, description = "The session's id or `sessionId`; must be one of the user's sessions"), Page),
    responses(
        (status = 200, description = "Chat rooms, most recent activity first", body = ObjectList),
        (status = 400, description = "Bad pagination", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn chats(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let token = token_of(&state, &auth, &path).await?;
    let mut conn = state.db.primary.get().await?;
    let data = q::chats(&mut conn, &token, limit, offset).await?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": data})))
}

/// `GET /bulk/sessions/{session_id}/chats/{chat_id}/messages?page=&limit=` (newest first);
/// `chat_id` is the stored chat id or the contact's JID.
#[utoipa::path(
    get,
    path = "/bulk/sessions/{session_id}/chats/{chat_id}/messages",
    operation_id = "list_chat_messages",
    tag = "chats",
    params(("session_id" = String, Path, description = "The session's id or `sessionId`; must be one of the user's sessions"), ("chat_id" = String, Path, description = "The stored chat id or the contact's JID"), Page),
    responses(
        (status = 200, description = "Messages of the chat, newest first", body = ObjectList),
        (status = 400, description = "Bad pagination", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn messages(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (session, chat) = path.into_inner();
    let token = token_of(&state, &auth, &session).await?;
    if chat.contains('\0') {
        return Err(ApiError::bad_request(
            "invalid_id",
            "Invalid request: chat_id contains a NUL character",
        ));
    }
    let prefix = format!("{token}_");
    let chat_id = if chat.starts_with(&prefix) {
        chat
    } else {
        format!("{prefix}{chat}")
    };
    let mut conn = state.db.primary.get().await?;
    let data = q::messages(&mut conn, &token, &chat_id, limit, offset).await?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": data})))
}

/// `GET /bulk/sessions/{session_id}/state`
#[utoipa::path(
    get,
    path = "/bulk/sessions/{session_id}/state",
    operation_id = "get_session_state",
    tag = "chats",
    params(("session_id" = String, Path, description = "The session's id or `sessionId`; must be one of the user's sessions")),
    responses(
        (status = 200, description = "The session's state row and its chat-log setting", body = ObjectResponse),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn session_state(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = token_of(&state, &auth, &path).await?;
    let mut conn = state.db.primary.get().await?;
    let data = q::state(&mut conn, &token, state.settings.chat_log_default).await?;
    Ok(HttpResponse::Ok().json(json!({"code": 200, "success": true, "data": data})))
}

/// Whether message content of a session is stored.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChatLogBody {
    session_id: String,
    enabled: bool,
}

/// `PUT /bulk/settings/chat-log` `{"session_id": "...", "enabled": true}`
#[utoipa::path(
    put,
    path = "/bulk/settings/chat-log",
    operation_id = "set_chat_log",
    tag = "chats",
    request_body = ChatLogBody,
    responses(
        (status = 200, description = "Updated", body = ChatLogResponse),
        (status = 400, description = "Binding error", body = BulkErrorBody),
        (status = 401, description = "Missing or invalid bearer token", body = ErrorBody),
        (status = 404, description = "`Session not found`", body = BulkErrorBody),
        (status = 413, description = "Body over 8 MiB", body = BulkErrorBody),
        (status = 503, description = "Database unavailable", body = ref("#/components/schemas/AuthOrBulkError")),
    ),
    security(("bearer_token" = []))
)]
pub async fn set_chat_log(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<ChatLogBody>,
) -> Result<HttpResponse, ApiError> {
    let token = token_of(&state, &auth, &body.session_id).await?;
    let mut conn = state.db.primary.get().await?;
    q::set_chat_log(&mut conn, &token, &auth.user_id.0, body.enabled).await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": 200, "success": true, "message": "Chat log setting updated",
        "data": {"session_id": body.session_id, "chat_log_enabled": body.enabled}
    })))
}
