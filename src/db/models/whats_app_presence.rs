use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A presence event (§3.4, §9.4).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::whats_app_presences, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppPresence {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub from: String,
    pub presence: String,
    pub last_seen: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}

/// A new `whats_app_presences` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::whats_app_presences, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppPresence {
    pub from: String,
    pub presence: String,
    pub last_seen: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub user_token: Option<String>,
}
