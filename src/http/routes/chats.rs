//! Chat log and session state reads under `/bulk` (bearer auth; tenant isolation through the
//! user's own sessions), and the chat-log switch (defect 27).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::db::queries::chats as q;
use crate::error::ApiError;
use crate::http::extractors::AuthUser;
use crate::startup::AppState;

#[derive(Deserialize)]
pub struct Page {
    page: Option<i64>,
    limit: Option<i64>,
}

impl Page {
    fn limit_offset(&self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(50);
        if page < 1 || !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "Invalid request: page must be >= 1 and limit 1..200",
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

#[derive(Deserialize)]
pub struct ChatLogBody {
    session_id: String,
    enabled: bool,
}

/// `PUT /bulk/settings/chat-log` `{"session_id": "...", "enabled": true}`
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
