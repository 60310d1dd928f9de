//! Which migrations run where (single- or two-database mode).

use crate::config::Settings;

/// Tables and columns of the other system's database that the gateway reads or writes.
pub const OWNER_REQUIREMENTS: &[(&str, &[&str])] = &[
    ("User", &["id", "isActive"]),
    (
        "UserSession",
        &["id", "userId", "token", "isActive", "expiresAt"],
    ),
    (
        "WhatsAppSession",
        &[
            "id",
            "sessionId",
            "token",
            "userId",
            "connected",
            "loggedIn",
            "updatedAt",
        ],
    ),
    ("WhatsappApiPackage", &["id", "maxSession"]),
    (
        "ServicesWhatsappCustomers",
        &[
            "id",
            "customerId",
            "packageId",
            "status",
            "expiredAt",
            "updatedAt",
        ],
    ),
    (
        "WhatsAppMessageStats",
        &[
            "id",
            "userId",
            "sessionId",
            "totalMessagesSent",
            "totalMessagesFailed",
            "lastMessageSentAt",
            "lastMessageFailedAt",
            "createdAt",
            "updatedAt",
        ],
    ),
];

/// Runs the migrations the mode calls for; in two-database mode also checks the owner's tables.
pub async fn prepare(settings: &Settings) -> Result<Vec<String>, anyhow::Error> {
    use super::{OWNER_MIGRATIONS, PRIMARY_MIGRATIONS, TRANSACTIONAL_MIGRATIONS};
    match &settings.transactional_database {
        None => {
            super::pool::run_migrations(
                &settings.database,
                vec![
                    OWNER_MIGRATIONS,
                    TRANSACTIONAL_MIGRATIONS,
                    PRIMARY_MIGRATIONS,
                ],
            )
            .await
        }
        Some(tx) => {
            super::pool::check_owner_tables(tx, OWNER_REQUIREMENTS).await?;
            let mut applied =
                super::pool::run_migrations(tx, vec![TRANSACTIONAL_MIGRATIONS]).await?;
            applied.extend(
                super::pool::run_migrations(&settings.database, vec![PRIMARY_MIGRATIONS]).await?,
            );
            Ok(applied)
        }
    }
}
