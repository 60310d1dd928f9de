use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// Per-session event settings (`user_settings`, §3.4, §9.3).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::user_settings, check_for_backend(diesel::pg::Pg))]
pub struct UserSettings {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub user_token: String,
    pub chat_log_enabled: bool,
    pub auto_read_enabled: bool,
    pub webhook_url: Option<String>,
    pub display_name: Option<String>,
    pub is_active: bool,
    pub user_id: Option<String>,
}

/// A new `user_settings` row; the database fills the id, the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::user_settings, check_for_backend(diesel::pg::Pg))]
pub struct NewUserSettings {
    pub user_token: String,
    pub chat_log_enabled: bool,
    pub auto_read_enabled: bool,
    pub webhook_url: Option<String>,
    pub display_name: Option<String>,
    pub is_active: bool,
    pub user_id: Option<String>,
}
