use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A login session of the owning system (`"UserSession"`, §3.2); its `token` is the `/bulk/*`
/// bearer token.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::UserSession, check_for_backend(diesel::pg::Pg))]
pub struct UserSession {
    pub id: String,
    #[diesel(column_name = userId)]
    pub user_id: String,
    #[serde(skip_serializing)]
    pub token: String,
    #[diesel(column_name = deviceInfo)]
    pub device_info: Option<String>,
    #[diesel(column_name = ipAddress)]
    pub ip_address: Option<String>,
    #[diesel(column_name = userAgent)]
    pub user_agent: Option<String>,
    #[diesel(column_name = isActive)]
    pub is_active: bool,
    #[diesel(column_name = lastUsed)]
    pub last_used: Option<DateTime<Utc>>,
    #[diesel(column_name = expiresAt)]
    pub expires_at: DateTime<Utc>,
    #[diesel(column_name = createdAt)]
    pub created_at: DateTime<Utc>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
}

/// A new `UserSession` row; the database fills the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::UserSession, check_for_backend(diesel::pg::Pg))]
pub struct NewUserSession {
    pub id: String,
    #[diesel(column_name = userId)]
    pub user_id: String,
    pub token: String,
    #[diesel(column_name = deviceInfo)]
    pub device_info: Option<String>,
    #[diesel(column_name = ipAddress)]
    pub ip_address: Option<String>,
    #[diesel(column_name = userAgent)]
    pub user_agent: Option<String>,
    #[diesel(column_name = isActive)]
    pub is_active: bool,
    #[diesel(column_name = lastUsed)]
    pub last_used: Option<DateTime<Utc>>,
    #[diesel(column_name = expiresAt)]
    pub expires_at: DateTime<Utc>,
}
