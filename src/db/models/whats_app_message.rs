use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A message seen in a webhook event (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_messages, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppMessage {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub from_me: bool,
    pub push_name: Option<String>,
    pub message_type: String,
    pub body: Option<String>,
    pub caption: Option<String>,
    pub media_data: Option<serde_json::Value>,
    pub location_data: Option<serde_json::Value>,
    pub contact_data: Option<serde_json::Value>,
    pub quoted_message: Option<serde_json::Value>,
    pub mentioned_jid: Option<serde_json::Value>,
    pub group_jid: Option<String>,
    pub participant: Option<String>,
    pub broadcast: bool,
    pub forwarded: bool,
    pub ephemeral_duration: i64,
    pub message_timestamp: DateTime<Utc>,
    pub webhook_received: DateTime<Utc>,
    pub status: String,
    pub processed: bool,
    pub user_token: Option<String>,
}

/// A new `whats_app_messages` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_messages, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppMessage {
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub from_me: bool,
    pub push_name: Option<String>,
    pub message_type: String,
    pub body: Option<String>,
    pub caption: Option<String>,
    pub media_data: Option<serde_json::Value>,
    pub location_data: Option<serde_json::Value>,
    pub contact_data: Option<serde_json::Value>,
    pub quoted_message: Option<serde_json::Value>,
    pub mentioned_jid: Option<serde_json::Value>,
    pub group_jid: Option<String>,
    pub participant: Option<String>,
    pub broadcast: bool,
    pub forwarded: bool,
    pub ephemeral_duration: i64,
    pub message_timestamp: DateTime<Utc>,
    pub webhook_received: DateTime<Utc>,
    pub status: String,
    pub processed: bool,
    pub user_token: Option<String>,
}
