//! Real gateway processes (the built `wa-gateway serve`) on one test database, for the
//! multi-instance and fault tests. The simulated upstream runs in-process.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use wa_gateway::db::Databases;
use wa_gateway::fake_upstream::FakeUpstream;

use crate::helpers::{
    drop_database, eventually, fresh_database, test_settings, TestUser, JWT_SECRET,
};

/// A fresh database, its pools and a simulated upstream, without any in-process gateway.
pub struct Cluster {
    pub db: Databases,
    pub db_url: String,
    pub upstream: FakeUpstream,
    pub client: reqwest::Client,
    db_name: String,
}

impl Cluster {
    pub async fn new() -> Cluster {
        let upstream = crate::helpers::start_fake_upstream().await;
        let db_name = fresh_database().await;
        let settings = test_settings(&db_name);
        let db = Databases::build(&settings).expect("pools");
        use secrecy::ExposeSecret;
        let db_url = settings.database.url.expose_secret().to_string();
        Cluster {
            db,
            db_url,
            upstream,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            db_name,
        }
    }

    /// The environment of a gateway process on this database and upstream; `extra` adds to or
    /// overrides it.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", self.db_url.as_str()),
            ("WA_SERVER_URL", &self.upstream.base_url()),
            ("JWT_SECRET", JWT_SECRET),
            ("HOST", "127.0.0.1"),
            ("DB_POOL_SIZE", "6"),
            ("DB_POOL_TIMEOUT_MS", "2000"),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
            ("LEASE_SECS", "2"),
            ("SCHEDULER_SWEEP_SECS", "1"),
            ("OUTCOME_UNKNOWN_GRACE_SECS", "1"),
            ("SHUTDOWN_TIMEOUT_SECS", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    /// A user with a 30-day subscription, a connected session known to the simulated upstream
    /// and a bearer token (the same setup as `TestApp::create_user`).
    pub async fn create_user(&self, name: &str) -> TestUser {
        crate::helpers::create_test_user(
            &self.db,
            &self.upstream,
            name,
            5,
            chrono::Duration::days(30),
        )
        .await
    }

    /// Inserts a text template for a user.
    pub async fn insert_text_template(&self, user_id: &str, body: &str) -> i64 {
        let v = self
            .query_i64(&format!(
                r#"INSERT INTO "WhatsAppCampaigns" (user_id, name, type, status, message_body, image_url, image_base64, caption, created_at, updated_at)
                   VALUES ('{}', 'promo', 'text', 'active', '{}', '', '', '', now(), now()) RETURNING id AS v"#,
                user_id.replace('\'', "''"),
                body.replace('\'', "''")
            ))
            .await;
        v.expect("template id")
    }

    /// Runs a query returning one `bigint` column named `v` (first row; `None` when no row).
    pub async fn query_i64(&self, sql: &str) -> Option<i64> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            v: i64,
        }
        let mut conn = self.db.transactional.get().await.expect("db connection");
        let rows: Vec<V> = diesel::sql_query(sql)
            .load(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().next().map(|r| r.v)
    }

    /// Runs a query returning one `text` column named `v`, all rows.
    pub async fn query_texts(&self, sql: &str) -> Vec<String> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let mut conn = self.db.transactional.get().await.expect("db connection");
        let rows: Vec<V> = diesel::sql_query(sql)
            .load(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|r| r.v).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop_database(&self.db_name);
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the child binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One `wa-gateway serve` child process. Dropping it kills the process; when the test is
/// panicking its log is printed.
pub struct GatewayProcess {
    pub name: String,
    pub port: u16,
    pub address: String,
    child: Option<Child>,
    log: PathBuf,
}

impl GatewayProcess {
    /// Starts `wa-gateway serve` with exactly `env` (plus `PORT`) and waits until `/health`
    /// answers 200.
    pub async fn start(name: &str, env: &[(String, String)]) -> GatewayProcess {
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "wa-gw-{name}-{}.log",
                uuid::Uuid::new_v4().simple()
            ));
            let file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_wa-gateway"))
                .arg("serve")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env("PORT", port.to_string())
                // no .env file is read from the temp directory
                .current_dir(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log file"))
                .stderr(file)
                .spawn()
                .expect("spawn wa-gateway serve");
            let mut p = GatewayProcess {
                name: name.to_string(),
                port,
                address: format!("http://127.0.0.1:{port}"),
                child: Some(child),
                log,
            };
            if p.wait_healthy(Duration::from_secs(30)).await {
                return p;
            }
            last_log = p.log_text();
            p.kill();
            let _ = std::fs::remove_file(&p.log);
            if !last_log.contains("in use") {
                break;
            }
        }
        panic!("gateway {name} did not start; its log:\n{last_log}");
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> bool {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false; // exited
                }
            }
            if let Ok(r) = client.get(self.url("/health")).send().await {
                if r.status() == 200 {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The JSON log lines whose message is `message`.
    pub fn log_events(&self, message: &str) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v.pointer("/fields/message").and_then(Value::as_str) == Some(message)
                    || v.get("message").and_then(Value::as_str) == Some(message)
            })
            .collect()
    }

    /// The process id (the prefix of its engine's instance id in leases).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- log of gateway process {} ({}) -----\n{}\n----- end of log {} -----",
                self.name,
                self.log.display(),
                self.log_text(),
                self.name
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Polls a campaign (through any instance) until its status is `status`.
pub async fn wait_for_campaign(
    client: &reqwest::Client,
    gw: &GatewayProcess,
    bearer: &str,
    id: i64,
    status: &str,
    timeout: Duration,
) -> Value {
    eventually(timeout, || async {
        let r = client
            .get(gw.url(&format!("/bulk/campaigns/{id}")))
            .bearer_auth(bearer)
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        let c = v["data"]["bulk_campaign"].clone();
        (c["status"] == status).then_some(c)
    })
    .await
}
