use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A contact of a user's address book (`"WhatsAppContact"`, §3.3, §8).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppContact, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppContact {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub user_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub push_name: Option<String>,
    pub short: Option<String>,
    pub notify: Option<String>,
    pub business: bool,
    pub verified: bool,
    pub source: String,
}

/// A new `WhatsAppContact` row; the database fills the id, the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppContact, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppContact {
    pub user_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub push_name: Option<String>,
    pub short: Option<String>,
    pub notify: Option<String>,
    pub business: bool,
    pub verified: bool,
    pub source: String,
}
