use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A campaign template (`"WhatsAppCampaigns"`, §3.3, §6.3).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppCampaigns, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppCampaign {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub user_id: String,
    pub name: String,
    #[diesel(column_name = type_)]
    pub r#type: String,
    pub status: String,
    pub message_body: Option<String>,
    pub image_url: Option<String>,
    pub image_base64: Option<String>,
    pub caption: Option<String>,
}

/// A new `WhatsAppCampaigns` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppCampaigns, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppCampaign {
    pub user_id: String,
    pub name: String,
    #[diesel(column_name = type_)]
    pub r#type: String,
    pub status: String,
    pub message_body: Option<String>,
    pub image_url: Option<String>,
    pub image_base64: Option<String>,
    pub caption: Option<String>,
}
