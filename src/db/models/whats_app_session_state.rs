use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// The connection state of a session as last seen in webhook events (`whats_app_sessions`, §3.4,
/// §9.4); not the owner's `"WhatsAppSession"`.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_sessions, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppSessionState {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub user_token: String,
    pub session_name: Option<String>,
    pub session_id: Option<String>,
    pub j_id: Option<String>,
    pub session_state: String,
    pub connected: bool,
    pub logged_in: bool,
    pub qr_code: Option<String>,
    pub qr_expired_at: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub webhook: Option<String>,
    pub last_activity_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_id: Option<String>,
}

/// A new `whats_app_sessions` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_sessions, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppSessionState {
    pub user_token: String,
    pub session_name: Option<String>,
    pub session_id: Option<String>,
    pub j_id: Option<String>,
    pub session_state: String,
    pub connected: bool,
    pub logged_in: bool,
    pub qr_code: Option<String>,
    pub qr_expired_at: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub webhook: Option<String>,
    pub last_activity_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_id: Option<String>,
}
