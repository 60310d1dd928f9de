use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A WhatsApp session registered in the owning system (`"WhatsAppSession"`, §3.2); `token` is the
/// `/wa/*` session token, `session_id` the upstream user id.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppSession, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppSession {
    pub id: String,
    #[diesel(column_name = sessionId)]
    pub session_id: String,
    #[diesel(column_name = sessionName)]
    pub session_name: Option<String>,
    #[serde(skip_serializing)]
    pub token: String,
    #[diesel(column_name = userId)]
    pub user_id: Option<String>,
    pub webhook: Option<String>,
    pub events: Option<String>,
    pub expiration: i32,
    pub connected: bool,
    #[diesel(column_name = loggedIn)]
    pub logged_in: bool,
    pub jid: Option<String>,
    pub qrcode: Option<String>,
    pub status: String,
    pub message: Option<String>,
    #[diesel(column_name = isSystemSession)]
    pub is_system_session: bool,
    #[diesel(column_name = createdAt)]
    pub created_at: DateTime<Utc>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
}

/// A new `WhatsAppSession` row; the database fills the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppSession, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppSession {
    pub id: String,
    #[diesel(column_name = sessionId)]
    pub session_id: String,
    #[diesel(column_name = sessionName)]
    pub session_name: Option<String>,
    pub token: String,
    #[diesel(column_name = userId)]
    pub user_id: Option<String>,
    pub webhook: Option<String>,
    pub events: Option<String>,
    pub expiration: i32,
    pub connected: bool,
    #[diesel(column_name = loggedIn)]
    pub logged_in: bool,
    pub jid: Option<String>,
    pub qrcode: Option<String>,
    pub status: String,
    pub message: Option<String>,
    #[diesel(column_name = isSystemSession)]
    pub is_system_session: bool,
}
