use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A customer's subscription to a package (`"ServicesWhatsappCustomers"`, §3.2).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::ServicesWhatsappCustomers, check_for_backend(diesel::pg::Pg))]
pub struct ServicesWhatsappCustomer {
    pub id: String,
    #[diesel(column_name = customerId)]
    pub customer_id: String,
    #[diesel(column_name = packageId)]
    pub package_id: String,
    pub status: String,
    #[diesel(column_name = activatedAt)]
    pub activated_at: Option<DateTime<Utc>>,
    #[diesel(column_name = expiredAt)]
    pub expired_at: DateTime<Utc>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
    #[diesel(column_name = lastSubscriptionAt)]
    pub last_subscription_at: Option<DateTime<Utc>>,
}

/// A new `ServicesWhatsappCustomers` row; the database fills the timestamps and the columns not
/// listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::ServicesWhatsappCustomers, check_for_backend(diesel::pg::Pg))]
pub struct NewServicesWhatsappCustomer {
    pub id: String,
    #[diesel(column_name = customerId)]
    pub customer_id: String,
    #[diesel(column_name = packageId)]
    pub package_id: String,
    pub status: String,
    #[diesel(column_name = activatedAt)]
    pub activated_at: Option<DateTime<Utc>>,
    #[diesel(column_name = expiredAt)]
    pub expired_at: DateTime<Utc>,
    #[diesel(column_name = lastSubscriptionAt)]
    pub last_subscription_at: Option<DateTime<Utc>>,
}
