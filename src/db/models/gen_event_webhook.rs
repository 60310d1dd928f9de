use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// An accepted webhook event, also the queue the webhook router works from (§3.4, §9.3).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::gen_event_webhooks, check_for_backend(diesel::pg::Pg))]
pub struct GenEventWebhook {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub event_type: String,
    pub source: String,
    pub user_token: Option<String>,
    pub event_data: Option<serde_json::Value>,
    pub raw_data: Option<String>,
    pub processed: bool,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub dedup_key: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub unknown_session: bool,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

/// A new `gen_event_webhooks` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::gen_event_webhooks, check_for_backend(diesel::pg::Pg))]
pub struct NewGenEventWebhook {
    pub event_type: String,
    pub source: String,
    pub user_token: Option<String>,
    pub event_data: Option<serde_json::Value>,
    pub raw_data: Option<String>,
    pub processed: bool,
    pub received_at: DateTime<Utc>,
    pub dedup_key: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub unknown_session: bool,
}
