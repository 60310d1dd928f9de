//! Database access: pools, embedded migrations, generated schema, query functions.

pub mod migrate;
pub mod models;
pub mod pool;
pub mod queries;
#[allow(non_snake_case, non_camel_case_types)]
pub mod schema;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub use pool::{Databases, DbConn, DbPool, PoolError};

/// The owner's tables (§3.2): single-database mode only.
pub const OWNER_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/owner");
/// The gateway's tables in the transactional database (§3.3): created if missing, additive.
pub const TRANSACTIONAL_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("migrations/transactional");
/// The event store (§3.4).
pub const PRIMARY_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/primary");
