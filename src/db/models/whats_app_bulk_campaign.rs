use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A bulk campaign: one execution of a template for a list of recipients
/// (`"WhatsAppBulkCampaigns"`, §3.3, §6.4, §7).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppBulkCampaigns, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppBulkCampaign {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub user_id: String,
    pub campaign_id: Option<i64>,
    pub name: String,
    #[diesel(column_name = type_)]
    pub r#type: String,
    pub message_body: Option<String>,
    pub image_url: Option<String>,
    pub image_base64: Option<String>,
    pub caption: Option<String>,
    pub status: String,
    pub total_count: i64,
    pub sent_count: i64,
    pub failed_count: i64,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub session_id: Option<String>,
    pub delivered_count: i64,
    pub read_count: i64,
    pub idempotency_key: Option<String>,
    pub status_reason: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub image_data: Option<String>,
}

/// A new `WhatsAppBulkCampaigns` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppBulkCampaigns, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppBulkCampaign {
    pub user_id: String,
    pub campaign_id: Option<i64>,
    pub name: String,
    #[diesel(column_name = type_)]
    pub r#type: String,
    pub message_body: Option<String>,
    pub image_url: Option<String>,
    pub image_base64: Option<String>,
    pub caption: Option<String>,
    pub status: String,
    pub total_count: i64,
    pub sent_count: i64,
    pub failed_count: i64,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub error_message: Option<String>,
    pub session_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub image_data: Option<String>,
}
