use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// One recipient of a bulk campaign, and an entry of the durable send queue
/// (`"WhatsAppBulkCampaignItems"`, §3.3).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppBulkCampaignItems, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppBulkCampaignItem {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub bulk_campaign_id: i64,
    pub phone: String,
    pub status: String,
    pub message_id: Option<String>,
    pub error_message: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub outcome_unknown_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub session_id: Option<String>,
}

/// A new `WhatsAppBulkCampaignItems` row; the database fills the id, the timestamps and the columns
/// not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppBulkCampaignItems, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppBulkCampaignItem {
    pub bulk_campaign_id: i64,
    pub phone: String,
    pub status: String,
    pub error_message: Option<String>,
    pub session_id: Option<String>,
}
