use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A subscription package (`"WhatsappApiPackage"`, §3.2); the gateway reads `max_session`.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsappApiPackage, check_for_backend(diesel::pg::Pg))]
pub struct WhatsappApiPackage {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    #[diesel(column_name = priceMonth)]
    pub price_month: Option<i32>,
    #[diesel(column_name = priceYear)]
    pub price_year: Option<i32>,
    #[diesel(column_name = maxSession)]
    pub max_session: i32,
    #[diesel(column_name = createdAt)]
    pub created_at: DateTime<Utc>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
}

/// A new `WhatsappApiPackage` row; the database fills the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsappApiPackage, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsappApiPackage {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    #[diesel(column_name = priceMonth)]
    pub price_month: Option<i32>,
    #[diesel(column_name = priceYear)]
    pub price_year: Option<i32>,
    #[diesel(column_name = maxSession)]
    pub max_session: i32,
}
