use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// The typing state of a chat (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_chat_presences, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppChatPresence {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub from: String,
    pub chat_jid: String,
    pub state: String,
    pub media: Option<String>,
    pub auto_stopped: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}

/// A new `whats_app_chat_presences` row; the database fills the id, the timestamps and the columns
/// not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_chat_presences, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppChatPresence {
    pub from: String,
    pub chat_jid: String,
    pub state: String,
    pub media: Option<String>,
    pub auto_stopped: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}
