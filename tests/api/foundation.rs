//! Health, CORS, unknown paths, schema against the contract, both database modes.

use std::collections::HashSet;

use serde_json::Value;

use crate::contract_schema::{
    CONTRACT_TABLES, GATEWAY_TRANSACTIONAL_TABLES, OWNER_TABLES, PRIMARY_TABLES,
};
use crate::helpers::{
    drop_database, empty_database, json, spawn_app, spawn_app_with, test_settings,
};

#[actix_web::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "genfity-wa-support");
    assert_eq!(body["database"], "ok");
    assert!(chrono::DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).is_ok());

    let head = app.client.head(app.url("/health")).send().await.unwrap();
    assert_eq!(head.status(), 200);
}

#[actix_web::test]
async fn health_is_503_while_the_database_is_unreachable() {
    let app = spawn_app_with(|s| {
        s.database.wait_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    assert_eq!(app.get("/health", None).await.status(), 200);
    // Terminate every connection and forbid new ones: the database is gone for the gateway.
    let name = app.settings.database.database_name();
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        ))
        .await
        .unwrap();
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(json(resp).await["database"], "unreachable");

    client
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
        ))
        .await
        .unwrap();
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        (app.get("/health", None).await.status() == 200).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn index_shows_the_server_name() {
    let app = spawn_app().await;
    let body = json(app.get("/", None).await).await;
    assert_eq!(body["status"], "running");
    assert_eq!(body["server"], "Genfity WhatsApp Support API");
    assert_eq!(body["message"], "Server is running successfully");
    assert!(body["timestamp"].is_i64());
}

#[actix_web::test]
async fn options_is_204_with_cors_on_any_path() {
    let app = spawn_app().await;
    for path in ["/", "/wa/chat/send/text", "/bulk/campaign", "/nowhere"] {
        let resp = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            resp.headers()["access-control-allow-headers"],
            "Content-Type, Authorization, token"
        );
        assert!(resp.text().await.unwrap().is_empty());
    }
    // The upstream was never reached.
    assert!(app.upstream.journal().is_empty());
}

#[actix_web::test]
async fn unknown_paths_are_plain_404_with_cors() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/messages", None).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()["access-control-allow-methods"],
        "GET, POST, PUT, DELETE, OPTIONS"
    );
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(resp.text().await.unwrap(), "404 page not found");
}

#[derive(Debug)]
struct Column {
    table: String,
    column: String,
}

async fn columns(url: &str) -> Vec<Column> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| Column {
            table: r.get(0),
            column: r.get(1),
        })
        .collect()
}

fn assert_has(cols: &[Column], tables: &[&str]) {
    for table in tables {
        let (_, expected) = CONTRACT_TABLES
            .iter()
            .find(|(t, _)| t == table)
            .unwrap_or_else(|| panic!("{table} not in the contract list"));
        for col in expected.iter() {
            assert!(
                cols.iter().any(|c| c.table == *table && c.column == *col),
                "missing column \"{table}\".\"{col}\""
            );
        }
    }
}

#[actix_web::test]
async fn single_database_mode_has_every_contract_table_and_column() {
    let app = spawn_app().await;
    let cols = columns(&app.database_url()).await;
    let all: Vec<&str> = CONTRACT_TABLES.iter().map(|(t, _)| *t).collect();
    assert_has(&cols, &all);
    // and the lists cover the contract's three groups
    let grouped: HashSet<&str> = OWNER_TABLES
        .iter()
        .chain(GATEWAY_TRANSACTIONAL_TABLES)
        .chain(PRIMARY_TABLES)
        .copied()
        .collect();
    assert_eq!(grouped, all.iter().copied().collect());
}

#[actix_web::test]
async fn migrations_are_idempotent() {
    let name = empty_database().await;
    let settings = test_settings(&name);
    let first = wa_gateway::db::migrate::prepare(&settings).await.unwrap();
    assert!(!first.is_empty());
    let second = wa_gateway::db::migrate::prepare(&settings).await.unwrap();
    assert!(second.is_empty());
    drop_database(&name);
}

/// The other system's DDL for its tables (a subset of columns is enough for the gateway).
const OWNER_DDL: &str = r#"
CREATE TABLE "User" ("id" text PRIMARY KEY, "name" text, "email" text, "isActive" boolean NOT NULL DEFAULT true, "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now(), "legacyColumn" text);
CREATE TABLE "UserSession" ("id" text PRIMARY KEY, "userId" text NOT NULL, "token" varchar(512) NOT NULL UNIQUE, "isActive" boolean NOT NULL DEFAULT true, "expiresAt" timestamptz NOT NULL, "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now());
CREATE TABLE "WhatsAppSession" ("id" varchar(30) PRIMARY KEY, "sessionId" text NOT NULL UNIQUE, "sessionName" text, "token" text NOT NULL UNIQUE, "userId" text, "connected" boolean NOT NULL DEFAULT false, "loggedIn" boolean NOT NULL DEFAULT false, "status" text NOT NULL DEFAULT 'disconnected', "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now());
CREATE TABLE "WhatsappApiPackage" ("id" varchar(30) PRIMARY KEY, "name" text, "maxSession" integer NOT NULL, "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now());
CREATE TABLE "ServicesWhatsappCustomers" ("id" varchar(30) PRIMARY KEY, "customerId" text NOT NULL, "packageId" text NOT NULL, "status" text NOT NULL DEFAULT 'active', "activatedAt" timestamptz, "expiredAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL DEFAULT now(), "lastSubscriptionAt" timestamptz);
CREATE TABLE "WhatsAppMessageStats" ("id" varchar(36) PRIMARY KEY, "userId" text NOT NULL, "sessionId" text NOT NULL, "totalMessagesSent" integer NOT NULL DEFAULT 0, "totalMessagesFailed" integer NOT NULL DEFAULT 0, "textMessagesSent" integer NOT NULL DEFAULT 0, "textMessagesFailed" integer NOT NULL DEFAULT 0, "imageMessagesSent" integer NOT NULL DEFAULT 0, "imageMessagesFailed" integer NOT NULL DEFAULT 0, "documentMessagesSent" integer NOT NULL DEFAULT 0, "documentMessagesFailed" integer NOT NULL DEFAULT 0, "audioMessagesSent" integer NOT NULL DEFAULT 0, "audioMessagesFailed" integer NOT NULL DEFAULT 0, "stickerMessagesSent" integer NOT NULL DEFAULT 0, "stickerMessagesFailed" integer NOT NULL DEFAULT 0, "videoMessagesSent" integer NOT NULL DEFAULT 0, "videoMessagesFailed" integer NOT NULL DEFAULT 0, "locationMessagesSent" integer NOT NULL DEFAULT 0, "locationMessagesFailed" integer NOT NULL DEFAULT 0, "contactMessagesSent" integer NOT NULL DEFAULT 0, "contactMessagesFailed" integer NOT NULL DEFAULT 0, "templateMessagesSent" integer NOT NULL DEFAULT 0, "templateMessagesFailed" integer NOT NULL DEFAULT 0, "lastMessageSentAt" timestamptz, "lastMessageFailedAt" timestamptz, "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now());
"#;

async fn owner_ddl_snapshot(url: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT c.table_name::text || '.' || c.column_name::text || ':' || c.data_type || ':' || c.is_nullable || ':' || coalesce(c.column_default,'')
             FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = ANY($1)
             UNION ALL SELECT 'index:' || indexname || ':' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1)
             ORDER BY 1",
            &[&OWNER_TABLES.iter().map(|s| s.to_string()).collect::<Vec<_>>()],
        )
        .await
        .unwrap();
    rows.into_iter().map(|r| r.get(0)).collect()
}

#[actix_web::test]
async fn two_database_mode_leaves_the_owner_tables_unaltered() {
    let primary = empty_database().await;
    let transactional = empty_database().await;
    let mut settings = test_settings(&primary);
    let tx = settings.database.with_database(&transactional).unwrap();
    let tx_url = secrecy::ExposeSecret::expose_secret(&tx.url).to_string();
    settings.transactional_database = Some(tx);

    // Without the owner's tables the start fails, naming what is missing.
    let err = wa_gateway::db::migrate::prepare(&settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"User\""), "{err}");

    let (client, conn) = tokio_postgres::connect(&tx_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(OWNER_DDL).await.unwrap();
    let before = owner_ddl_snapshot(&tx_url).await;

    wa_gateway::db::migrate::prepare(&settings).await.unwrap();
    wa_gateway::db::migrate::prepare(&settings).await.unwrap();

    assert_eq!(
        owner_ddl_snapshot(&tx_url).await,
        before,
        "owner tables were altered"
    );
    let tx_cols = columns(&tx_url).await;
    assert_has(&tx_cols, GATEWAY_TRANSACTIONAL_TABLES);
    let primary_cols = columns(secrecy::ExposeSecret::expose_secret(&settings.database.url)).await;
    assert_has(&primary_cols, PRIMARY_TABLES);
    assert!(
        !primary_cols.iter().any(|c| c.table == "User"),
        "owner tables created in the primary database"
    );
    drop_database(&primary);
    drop_database(&transactional);
}

#[actix_web::test]
async fn request_ids_are_returned() {
    let app = spawn_app().await;
    let resp = app.get("/health", None).await;
    let id = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    assert!(id.is_some_and(|v| !v.is_empty()));
    let _: Value = resp.json().await.unwrap();
}

#[derive(diesel::QueryableByName)]
struct ConnSettings {
    #[diesel(sql_type = diesel::sql_types::Text)]
    timeout: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    app: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    jit: String,
}

/// Pooled connections carry the configured `statement_timeout` and `application_name`, and run
/// without JIT compilation (with it the webhook router drained a backlog several times slower).
#[actix_web::test]
async fn pooled_connections_are_configured() {
    use diesel_async::RunQueryDsl;
    let app = spawn_app().await;
    let mut c = app.db.primary.get().await.unwrap();
    let s: ConnSettings = diesel::sql_query(
        "SELECT current_setting('statement_timeout') AS timeout,
                current_setting('application_name') AS app, current_setting('jit') AS jit",
    )
    .get_result(&mut c)
    .await
    .unwrap();
    assert_eq!(s.timeout, "30s");
    assert_eq!(s.app, "wa-gateway");
    assert_eq!(s.jit, "off");
}
