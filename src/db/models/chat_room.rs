use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A conversation of a session with one contact or group (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::chat_rooms, check_for_backend(diesel::pg::Pg))]
pub struct ChatRoom {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub chat_id: String,
    pub user_token: String,
    pub contact_j_id: String,
    pub contact_name: Option<String>,
    pub chat_type: String,
    pub is_group: bool,
    pub group_name: Option<String>,
    pub last_message: Option<String>,
    pub last_sender: Option<String>,
    pub last_activity: Option<DateTime<Utc>>,
    pub unread_count: i64,
    pub user_id: Option<String>,
}

/// A new `chat_rooms` row; the database fills the id, the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::chat_rooms, check_for_backend(diesel::pg::Pg))]
pub struct NewChatRoom {
    pub chat_id: String,
    pub user_token: String,
    pub contact_j_id: String,
    pub contact_name: Option<String>,
    pub chat_type: String,
    pub is_group: bool,
    pub group_name: Option<String>,
    pub last_message: Option<String>,
    pub last_sender: Option<String>,
    pub last_activity: Option<DateTime<Utc>>,
    pub unread_count: i64,
    pub user_id: Option<String>,
}
