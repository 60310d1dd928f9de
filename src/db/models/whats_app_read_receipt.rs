use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A read receipt event (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_read_receipts, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppReadReceipt {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_ids: Option<serde_json::Value>,
    pub from: String,
    pub to: String,
    pub receipt_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}

/// A new `whats_app_read_receipts` row; the database fills the id, the timestamps and the columns
/// not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_read_receipts, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppReadReceipt {
    pub message_ids: Option<serde_json::Value>,
    pub from: String,
    pub to: String,
    pub receipt_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}
