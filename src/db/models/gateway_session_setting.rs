use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// Per-session send rate overrides (NULL: the configured default).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::gateway_session_settings, primary_key(session_id))]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct GatewaySessionSetting {
    pub session_id: String,
    pub rate_per_sec: Option<f64>,
    pub daily_cap: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Never serialised: a secret.
    #[serde(skip)]
    pub webhook_hmac_key: Option<String>,
}

/// A new `gateway_session_settings` row; the database fills the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::gateway_session_settings, check_for_backend(diesel::pg::Pg))]
pub struct NewGatewaySessionSetting {
    pub session_id: String,
    pub rate_per_sec: Option<f64>,
    pub daily_cap: Option<i32>,
    pub webhook_hmac_key: Option<String>,
}
