//! The test harness: a fresh database per test (from a template migrated once per run), the
//! real application on a random port and the simulated upstream on another.

use std::sync::OnceLock;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wa_gateway::config::Settings;
use wa_gateway::db::queries::admin::{self, NewSessionSpec};
use wa_gateway::db::Databases;
use wa_gateway::fake_upstream::{FakeUpstream, FakeUpstreamConfig, FakeUser};
use wa_gateway::startup::Application;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";

/// A running gateway with its own database and simulated upstream.
#[allow(dead_code)]
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: Databases,
    pub settings: Settings,
    pub upstream: FakeUpstream,
    pub actors: wa_gateway::actors::Actors,
    pub client: reqwest::Client,
    db_name: String,
    admin_url: String,
}

/// A customer with an active subscription and a connected WhatsApp session.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct TestUser {
    pub user_id: String,
    pub bearer: String,
    pub session_id: String,
    pub session_key: String,
    pub session_token: String,
}

fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn url_with_db(base: &str, db: &str) -> String {
    let mut u = url::Url::parse(base).expect("DATABASE_URL must be a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

async fn admin_exec(sql: &str) {
    let (client, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .expect("cannot reach PostgreSQL: run scripts/ensure-postgres.sh");
    let handle = tokio::spawn(conn);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = handle.await;
}

/// Base settings for tests (the caller adjusts fields).
pub fn test_settings(db_name: &str) -> Settings {
    let env: std::collections::HashMap<String, String> = [
        (
            "DATABASE_URL".to_string(),
            url_with_db(&base_url(), db_name),
        ),
        ("JWT_SECRET".to_string(), JWT_SECRET.to_string()),
        ("DB_POOL_SIZE".to_string(), "8".to_string()),
        ("DB_POOL_TIMEOUT_MS".to_string(), "2000".to_string()),
    ]
    .into_iter()
    .collect();
    let mut s = Settings::from_env(&env).expect("test settings");
    s.host = "127.0.0.1".into();
    s.port = 0;
    s
}

static TEMPLATE: OnceLock<String> = OnceLock::new();

/// The migrated template database, created once per process (and reused across runs while
/// the migrations are unchanged).
async fn template() -> String {
    if let Some(t) = TEMPLATE.get() {
        return t.clone();
    }
    let name = format!("wa_gw_tpl_{}", migrations_fingerprint());
    // Serialise template creation across test processes.
    let (client, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let handle = tokio::spawn(conn);
    client
        .execute("SELECT pg_advisory_lock(727274999)", &[])
        .await
        .expect("lock");
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop");
        client
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        let settings = test_settings(&building);
        wa_gateway::db::migrate::prepare(&settings)
            .await
            .expect("migrate template");
        client
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .expect("rename template");
    }
    client
        .execute("SELECT pg_advisory_unlock(727274999)", &[])
        .await
        .expect("unlock");
    drop(client);
    let _ = handle.await;
    let _ = TEMPLATE.set(name.clone());
    name
}

fn migrations_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files = Vec::new();
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
    }
    walk(&root, &mut files);
    files.sort();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).unwrap_or_default());
    }
    hex::encode(&h.finalize()[..6])
}

/// Creates an empty database cloned from the migrated template.
pub async fn fresh_database() -> String {
    let tpl = template().await;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    admin_exec(&format!("CREATE DATABASE {name} TEMPLATE {tpl}")).await;
    name
}

/// Creates an empty, unmigrated database.
pub async fn empty_database() -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    admin_exec(&format!("CREATE DATABASE {name}")).await;
    name
}

/// Drops a database (used by `Drop` and by tests that make extra databases).
pub fn drop_database(name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(admin_exec(&sql));
    })
    .join();
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The simulated upstream on a free port, with fast delivery and read receipts.
pub async fn start_fake_upstream() -> FakeUpstream {
    FakeUpstream::start(FakeUpstreamConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        delivered_after: Duration::from_millis(20),
        read_after: Duration::from_millis(40),
        ..FakeUpstreamConfig::default()
    })
    .await
    .expect("fake upstream")
}

/// Starts the app after letting the caller adjust the settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let upstream = start_fake_upstream().await;
    let db_name = fresh_database().await;
    let mut settings = test_settings(&db_name);
    settings.upstream_url = Some(url::Url::parse(&upstream.base_url()).expect("url"));
    settings.image_allow_loopback = true;
    adjust(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("build app");
    let port = app.port();
    let db = app.databases();
    let actors = app.actors();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        settings,
        upstream,
        actors,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db_name,
        admin_url: base_url(),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = &self.admin_url;
        drop_database(&self.db_name);
    }
}

/// A user with a subscription, a connected session known to the simulated upstream, and a
/// bearer token (shared by the in-process apps and the multi-process cluster).
pub async fn create_test_user(
    db: &wa_gateway::db::Databases,
    upstream: &FakeUpstream,
    name: &str,
    max_sessions: i32,
    valid_for: chrono::Duration,
) -> TestUser {
    let mut conn = db.transactional.get().await.expect("db connection");
    let user = admin::create_user(&mut conn, name, &format!("{name}@example.com"))
        .await
        .expect("create user");
    admin::grant_subscription(
        &mut conn,
        &user,
        max_sessions,
        chrono::Utc::now() + valid_for,
    )
    .await
    .expect("grant");
    let session_token = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let fake = FakeUser::new(name, &session_token);
    let session = admin::add_session(
        &mut conn,
        &user,
        NewSessionSpec {
            session_key: fake.id.clone(),
            name: name.to_string(),
            token: session_token.clone(),
            connected: true,
        },
    )
    .await
    .expect("session");
    upstream.add_user(fake.clone());
    let secret = SecretString::from(JWT_SECRET.to_string());
    let bearer = admin::issue_token(&mut conn, &user, Some(&secret), chrono::Duration::hours(24))
        .await
        .expect("token");
    TestUser {
        user_id: user.0,
        bearer,
        session_id: session.0,
        session_key: fake.id,
        session_token,
    }
}

#[allow(dead_code)]
impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn conn(&self) -> wa_gateway::db::DbConn {
        self.db.transactional.get().await.expect("db connection")
    }

    /// A user with a subscription valid for 30 days, a connected session known to the
    /// simulated upstream, and a bearer token.
    pub async fn create_user(&self, name: &str) -> TestUser {
        self.create_user_with(name, 5, chrono::Duration::days(30))
            .await
    }

    pub async fn create_user_with(
        &self,
        name: &str,
        max_sessions: i32,
        valid_for: chrono::Duration,
    ) -> TestUser {
        create_test_user(&self.db, &self.upstream, name, max_sessions, valid_for).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().await.expect("request")
    }

    pub async fn post_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut r = self.client.post(self.url(path)).json(body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().await.expect("request")
    }

    pub async fn put_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut r = self.client.put(self.url(path)).json(body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().await.expect("request")
    }

    pub async fn delete_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut r = self.client.delete(self.url(path));
        if let Some(b) = body {
            r = r.json(b);
        }
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().await.expect("request")
    }

    pub fn database_url(&self) -> String {
        self.settings.database.url.expose_secret().to_string()
    }
}

/// Reads a JSON body, panicking with the raw text when it is not JSON.
pub async fn json(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Polls `check` until it returns Some or the time runs out.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("condition not met within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// A second gateway process on the same database and upstream (multi-instance tests).
    pub async fn spawn_second_instance(&self) -> (String, wa_gateway::actors::Actors) {
        let app = Application::build(self.settings.clone())
            .await
            .expect("second instance");
        let address = format!("http://127.0.0.1:{}", app.port());
        let actors = app.actors();
        actix_web::rt::spawn(app.run_until_stopped());
        (address, actors)
    }

    /// Inserts a text template for a user (templates have their own API; this is setup).
    pub async fn insert_text_template(&self, user_id: &str, body: &str) -> i64 {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let mut conn = self.conn().await;
        let row: Id = diesel::sql_query(
            r#"INSERT INTO "WhatsAppCampaigns" (user_id, name, type, status, message_body, image_url, image_base64, caption, created_at, updated_at)
               VALUES ($1, 'promo', 'text', 'active', $2, '', '', '', now(), now()) RETURNING id"#,
        )
        .bind::<diesel::sql_types::Text, _>(user_id)
        .bind::<diesel::sql_types::Text, _>(body)
        .get_result(&mut conn)
        .await
        .expect("template");
        row.id
    }

    /// Runs one SQL statement on the test database.
    pub async fn exec(&self, sql: &str) {
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The campaign detail's `bulk_campaign` object.
    pub async fn campaign(&self, bearer: &str, id: i64) -> Value {
        let resp = self
            .get(&format!("/bulk/campaigns/{id}"), Some(bearer))
            .await;
        assert_eq!(resp.status(), 200);
        json(resp).await["data"]["bulk_campaign"].clone()
    }

    /// Polls until the campaign reaches `status`.
    pub async fn wait_for_status(
        &self,
        bearer: &str,
        id: i64,
        status: &str,
        timeout: Duration,
    ) -> Value {
        eventually(timeout, || async {
            let c = self.campaign(bearer, id).await;
            (c["status"] == status).then_some(c)
        })
        .await
    }
}
