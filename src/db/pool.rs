//! Connection pools (diesel-async + deadpool) and the migration runner.

use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;
use secrecy::ExposeSecret;

use crate::config::{DatabaseSettings, Settings};

pub type DbPool = Pool<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;
pub type DbConn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// The pools of a process: one per database, the same pool twice in single-database mode.
#[derive(Clone)]
pub struct Databases {
    /// The gateway's event store (`gen_event_webhooks`, chats, sessions state).
    pub primary: DbPool,
    /// Users, subscriptions, WhatsApp sessions, stats, contacts and campaigns.
    pub transactional: DbPool,
    pub two_database_mode: bool,
}

impl Databases {
    /// Builds the pools without connecting (connections open on first use).
    pub fn build(settings: &Settings) -> Result<Databases, anyhow::Error> {
        let primary = build_pool(&settings.database)?;
        let (transactional, two) = match &settings.transactional_database {
            Some(t) => (build_pool(t)?, true),
            None => (primary.clone(), false),
        };
        Ok(Databases {
            primary,
            transactional,
            two_database_mode: two,
        })
    }
}

/// A pool whose connections get `statement_timeout` and `application_name` when created, and
/// `jit = off`: the gateway's statements are short, and compiling one costs more than it saves.
pub fn build_pool(db: &DatabaseSettings) -> Result<DbPool, anyhow::Error> {
    let statement_ms = db.statement_timeout.as_millis();
    let app_name = db.application_name.replace('\'', "");
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        let app_name = app_name.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_ms}; SET application_name = '{app_name}'; SET jit = off"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        db.url.expose_secret(),
        config,
    );
    let pool = Pool::builder(manager)
        .max_size(db.pool_size)
        .wait_timeout(Some(db.wait_timeout))
        .create_timeout(Some(db.wait_timeout))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// Runs the given migration sets on one database, serialised across processes by an
/// advisory lock so several instances can start at once.
pub async fn run_migrations(
    db: &DatabaseSettings,
    sets: Vec<EmbeddedMigrations>,
) -> Result<Vec<String>, anyhow::Error> {
    let url = db.url.expose_secret().to_string();
    tokio::task::spawn_blocking(move || -> Result<Vec<String>, anyhow::Error> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_lock(727274001)"),
            &mut conn,
        )?;
        let mut applied = Vec::new();
        let mut result = Ok(());
        for set in sets {
            match conn.run_pending_migrations(set) {
                Ok(versions) => applied.extend(versions.iter().map(|v| v.to_string())),
                Err(e) => {
                    result = Err(anyhow::anyhow!("migration failed: {e}"));
                    break;
                }
            }
        }
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_unlock(727274001)"),
            &mut conn,
        )?;
        result.map(|_| applied)
    })
    .await?
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

/// Checks that every table and column the gateway reads in the other system's database
/// exists; the message lists what is missing.
pub async fn check_owner_tables(
    db: &DatabaseSettings,
    required: &[(&str, &[&str])],
) -> Result<(), anyhow::Error> {
    let mut conn = AsyncPgConnection::establish(db.url.expose_secret()).await?;
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name \
         FROM information_schema.columns WHERE table_schema = current_schema()",
    )
    .load(&mut conn)
    .await?;
    let mut missing = Vec::new();
    for (table, columns) in required {
        if !rows.iter().any(|r| r.table_name == *table) {
            missing.push(format!("table \"{table}\""));
            continue;
        }
        for col in *columns {
            if !rows
                .iter()
                .any(|r| r.table_name == *table && r.column_name == *col)
            {
                missing.push(format!("column \"{table}\".\"{col}\""));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "the transactional database ({}) lacks what the gateway needs: {}",
            db.source,
            missing.join(", ")
        )
    }
}

/// Whether the database answers a trivial query within the pool's wait timeout.
pub async fn ping(pool: &DbPool) -> bool {
    let Ok(mut conn) = pool.get().await else {
        return false;
    };
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .is_ok()
}
