use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A message of a chat room (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::chat_messages, check_for_backend(diesel::pg::Pg))]
pub struct ChatMessage {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_id: String,
    pub chat_room_id: i64,
    pub chat_id: String,
    pub user_token: String,
    pub sender_j_id: String,
    pub sender_type: String,
    pub message_type: String,
    pub content: Option<String>,
    pub caption: Option<String>,
    pub media_data: Option<serde_json::Value>,
    pub quoted_message_id: Option<String>,
    pub status: String,
    pub message_timestamp: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A new `chat_messages` row; the database fills the id, the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::chat_messages, check_for_backend(diesel::pg::Pg))]
pub struct NewChatMessage {
    pub message_id: String,
    pub chat_room_id: i64,
    pub chat_id: String,
    pub user_token: String,
    pub sender_j_id: String,
    pub sender_type: String,
    pub message_type: String,
    pub content: Option<String>,
    pub caption: Option<String>,
    pub media_data: Option<serde_json::Value>,
    pub quoted_message_id: Option<String>,
    pub status: String,
    pub message_timestamp: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}
