use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A history sync event (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_history_syncs, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppHistorySync {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sync_type: String,
    pub conversations: Option<serde_json::Value>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}

/// A new `whats_app_history_syncs` row; the database fills the id, the timestamps and the columns
/// not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_history_syncs, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppHistorySync {
    pub sync_type: String,
    pub conversations: Option<serde_json::Value>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}
