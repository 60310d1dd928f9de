use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// Which gateway instance drives a WhatsApp session's sender, until `expires_at`.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::gateway_session_leases, primary_key(session_key))]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct GatewaySessionLease {
    pub session_key: String,
    pub owner: String,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new `gateway_session_leases` row; the database fills the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::gateway_session_leases, check_for_backend(diesel::pg::Pg))]
pub struct NewGatewaySessionLease {
    pub session_key: String,
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}
