//! Campaign engine benchmarks (issue 6): `cargo bench --bench engine -- <name>` with
//! name = throughput | rate | scheduler | memory | all. Needs DATABASE_URL (scripts/ensure-postgres.sh).
//! Each run makes its own database and drops it at the end. Figures are printed as JSON lines.

/// The allocator the shipped binary uses (src/main.rs), so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use serde_json::json;
use wa_gateway::config::Settings;
use wa_gateway::db::queries::admin::{self, NewSessionSpec};
use wa_gateway::fake_upstream::{FakeUpstream, FakeUpstreamConfig, FakeUser};
use wa_gateway::startup::Application;

struct Bench {
    app_url: String,
    upstream: FakeUpstream,
    settings: Settings,
    db_name: String,
    client: reqwest::Client,
}

struct User {
    bearer: String,
    template: i64,
}

fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn admin(sql: &str) {
    let (c, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .expect("postgres");
    tokio::spawn(conn);
    c.batch_execute(sql).await.expect(sql);
}

async fn start(adjust: impl FnOnce(&mut Settings), emit_webhooks: bool) -> Bench {
    let upstream = FakeUpstream::start(FakeUpstreamConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        emit_webhooks,
        workers: 1,
        ..FakeUpstreamConfig::default()
    })
    .await
    .expect("upstream");
    let db_name = format!("wa_bench_{}", std::process::id());
    admin(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).await;
    admin(&format!("CREATE DATABASE {db_name}")).await;
    let mut u = url::Url::parse(&base_url()).unwrap();
    u.set_path(&format!("/{db_name}"));
    let env: HashMap<String, String> = [
        ("DATABASE_URL".to_string(), u.to_string()),
        (
            "JWT_SECRET".to_string(),
            "bench-secret-0123456789".to_string(),
        ),
        ("DB_POOL_SIZE".to_string(), "24".to_string()),
        ("LOG_LEVEL".to_string(), "warn".to_string()),
    ]
    .into_iter()
    .collect();
    let mut settings = Settings::from_env(&env).unwrap();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.upstream_url = Some(url::Url::parse(&upstream.base_url()).unwrap());
    adjust(&mut settings);
    let app = Application::build(settings.clone()).await.expect("app");
    let app_url = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    Bench {
        app_url,
        upstream,
        settings,
        db_name,
        client: reqwest::Client::new(),
    }
}

impl Bench {
    async fn conn(&self) -> diesel_async::AsyncPgConnection {
        use diesel_async::AsyncConnection;
        let mut u = url::Url::parse(&base_url()).unwrap();
        u.set_path(&format!("/{}", self.db_name));
        diesel_async::AsyncPgConnection::establish(u.as_str())
            .await
            .unwrap()
    }

    async fn user(&self, i: usize) -> User {
        let mut conn = self.conn().await;
        let user = admin::create_user(&mut conn, &format!("u{i}"), &format!("u{i}@bench"))
            .await
            .unwrap();
        admin::grant_subscription(
            &mut conn,
            &user,
            5,
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
        let token = format!("bench-tok-{i}");
        let fake = FakeUser::new(&format!("u{i}"), &token);
        admin::add_session(
            &mut conn,
            &user,
            NewSessionSpec {
                session_key: fake.id.clone(),
                name: format!("s{i}"),
                token,
                connected: true,
            },
        )
        .await
        .unwrap();
        self.upstream.add_user(fake);
        let secret = self.settings.jwt_secret.clone().unwrap();
        let bearer =
            admin::issue_token(&mut conn, &user, Some(&secret), chrono::Duration::hours(2))
                .await
                .unwrap();
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let t: Id = diesel::sql_query(r#"INSERT INTO "WhatsAppCampaigns"(user_id,name,type,status,message_body,created_at,updated_at) VALUES ($1,'b','text','active','Halo',now(),now()) RETURNING id"#)
            .bind::<diesel::sql_types::Text, _>(&user.0)
            .get_result(&mut conn)
            .await
            .unwrap();
        User {
            bearer,
            template: t.id,
        }
    }

    async fn execute_campaign(&self, u: &User, phones: Vec<String>, send_sync: &str) -> i64 {
        let r = self
            .client
            .post(format!("{}/bulk/campaign/execute", self.app_url))
            .bearer_auth(&u.bearer)
            .json(&json!({"campaign_id": u.template, "name": "bench", "phone": phones, "send_sync": send_sync, "timezone": "+00:00"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json::<serde_json::Value>().await.unwrap()["data"]["bulk_campaign_id"]
            .as_i64()
            .unwrap()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await;
        diesel::sql_query(sql)
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
    }

    async fn finish(self) {
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.db_name
        ))
        .await;
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.split_whitespace().collect();
    let tick = 100.0;
    (f.get(13).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(14).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
        / tick
}

async fn throughput() {
    let b = start(|s| s.send_rate_per_sec = 0.0, false).await;
    let sessions = 100;
    let per = 1_000;
    let mut users = Vec::new();
    for i in 0..sessions {
        users.push(b.user(i).await);
    }
    // All campaigns are created first, scheduled for one instant, so the figure is the send
    // phase alone: claim, send, record, for every item.
    let created0 = Instant::now();
    let start_at = chrono::Utc::now() + chrono::Duration::seconds(20 + (sessions as i64) / 2);
    let when = start_at.format("%Y-%m-%d %H:%M:%S").to_string();
    for (i, u) in users.iter().enumerate() {
        let phones = (0..per).map(|k| format!("62{:05}{:06}", i, k)).collect();
        b.execute_campaign(u, phones, &when).await;
    }
    let created = created0.elapsed();
    let wait = (start_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let total = (sessions * per) as i64;
    loop {
        // The campaigns' counters change in the same transaction as the items, and reading 100
        // counter rows costs PostgreSQL nothing next to scanning 100,000 items every 50 ms.
        let done = b.scalar(r#"SELECT COALESCE(sum(sent_count + failed_count), 0)::bigint AS n FROM "WhatsAppBulkCampaigns""#).await;
        if done >= total {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            println!(
                "{}",
                json!({"bench": "throughput", "error": "timeout", "done": done})
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let sent = b
        .scalar(r#"SELECT count(*) AS n FROM "WhatsAppBulkCampaignItems" WHERE status = 'sent'"#)
        .await;
    let journal = b.upstream.journal().len();
    println!(
        "{}",
        json!({"bench": "throughput", "recipients": total, "sessions": sessions, "sent": sent, "upstream_accepted": journal,
               "seconds": elapsed.as_secs_f64(), "create_seconds": created.as_secs_f64(),
               "messages_per_sec": sent as f64 / elapsed.as_secs_f64(), "process_cpu_seconds": cpu,
               "note": "gateway + simulated upstream in one process; PostgreSQL in its own processes"})
    );
    b.finish().await;
}

async fn rate() {
    let r = 5.0;
    let b = start(|s| s.send_rate_per_sec = r, false).await;
    let sessions = 20;
    let mut users = Vec::new();
    for i in 0..sessions {
        users.push(b.user(i).await);
    }
    let secs = 60.0;
    for (i, u) in users.iter().enumerate() {
        let phones = (0..((r * secs) as usize + 100))
            .map(|k| format!("63{:05}{:06}", i, k))
            .collect();
        b.execute_campaign(u, phones, "now").await;
    }
    tokio::time::sleep(Duration::from_secs_f64(secs + 5.0)).await;
    let journal = b.upstream.journal();
    let mut by: HashMap<String, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
    for m in journal {
        by.entry(m.token.clone()).or_default().push(m.at);
    }
    let mut worst_rel = 0.0f64;
    let mut max_window = 0usize;
    let mut rates = Vec::new();
    for (_, mut ts) in by {
        ts.sort();
        // steady state: the 60 s after the first send
        let start = ts[0];
        let in_minute = ts
            .iter()
            .filter(|t| (**t - start).num_milliseconds() < 60_000)
            .count();
        let achieved = in_minute as f64 / 60.0;
        rates.push(achieved);
        worst_rel = worst_rel.max(((achieved - r) / r).abs());
        for (i, t) in ts.iter().enumerate() {
            let n = ts[i..]
                .iter()
                .take_while(|u| (**u - *t).num_milliseconds() < 1000)
                .count();
            max_window = max_window.max(n);
        }
    }
    println!(
        "{}",
        json!({"bench": "rate", "sessions": sessions, "target_per_sec": r, "achieved_min": rates.iter().cloned().fold(f64::MAX, f64::min),
               "achieved_max": rates.iter().cloned().fold(0.0, f64::max), "worst_relative_error": worst_rel,
               "max_sends_in_any_1s_window": max_window})
    );
    b.finish().await;
}

async fn scheduler() {
    let b = start(|s| s.send_rate_per_sec = 0.0, false).await;
    let users: Vec<User> = {
        let mut v = Vec::new();
        for i in 0..10 {
            v.push(b.user(i).await);
        }
        v
    };
    // 1,000 campaigns due over the next minute (whole seconds, as send_sync has second precision)
    let base = chrono::Utc::now() + chrono::Duration::seconds(15);
    for k in 0..1000 {
        let at = base + chrono::Duration::milliseconds((k * 60_000 / 1000) as i64);
        let u = &users[k % users.len()];
        b.execute_campaign(
            u,
            vec![format!("64{:09}", k)],
            &at.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(80)).await;
    #[derive(diesel::QueryableByName)]
    struct L {
        #[diesel(sql_type = diesel::sql_types::Double)]
        ms: f64,
    }
    let mut conn = b.conn().await;
    let mut late: Vec<f64> = diesel::sql_query(r#"SELECT EXTRACT(EPOCH FROM processed_at - scheduled_at)::float8 * 1000 AS ms FROM "WhatsAppBulkCampaigns" WHERE processed_at IS NOT NULL"#)
        .load::<L>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.ms)
        .collect();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        late.get(((late.len() as f64 * p) as usize).min(late.len().saturating_sub(1)))
            .cloned()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{}",
        json!({"bench": "scheduler", "campaigns": 1000, "started": late.len(), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": late.last()})
    );
    b.finish().await;
}

async fn memory() {
    let b = start(|s| s.send_rate_per_sec = 0.001, false).await;
    let n = 10_000;
    // Sessions, campaigns and items inserted in bulk (the API path is measured elsewhere).
    let mut conn = b.conn().await;
    let user = admin::create_user(&mut conn, "mem", "mem@bench")
        .await
        .unwrap();
    admin::grant_subscription(
        &mut conn,
        &user,
        n,
        chrono::Utc::now() + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    diesel::sql_query(format!(
        r#"INSERT INTO "WhatsAppSession"(id,"sessionId","sessionName",token,"userId",connected,"loggedIn",status,"createdAt","updatedAt")
           SELECT 'ms'||g, 'mk'||g, 's'||g, 'mt'||g, '{u}', true, true, 'connected', now(), now() FROM generate_series(1,{n}) g;
           "#,
        u = user.0
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        r#"INSERT INTO "WhatsAppBulkCampaigns"(user_id,name,type,message_body,status,total_count,session_id,created_at,updated_at,processed_at)
           SELECT '{u}','m','text','Halo','processing',5,'ms'||g,now(),now(),now() FROM generate_series(1,{n}) g"#,
        u = user.0
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        r#"INSERT INTO "WhatsAppBulkCampaignItems"(bulk_campaign_id,phone,status,message_id,session_id,created_at,updated_at,next_attempt_at)
           SELECT c.id, '6280000'||lpad(k::text,5,'0'), 'pending', '3EB0'||upper(md5(c.id::text||k)), c.session_id, now(), now(), now()
           FROM "WhatsAppBulkCampaigns" c, generate_series(1,5) k"#,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let rss0 = rss_mb();
    // The pool starts a sender per session with work; wait until they run, then measure idle RSS.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let rss = rss_mb();
    println!(
        "{}",
        json!({"bench": "memory", "sessions_with_queued_work": n, "rss_mb_before": rss0, "rss_mb_idle": rss})
    );
    b.finish().await;
}

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".into());
    actix_web::rt::System::new().block_on(async move {
        match which.as_str() {
            "throughput" => throughput().await,
            "rate" => rate().await,
            "scheduler" => scheduler().await,
            "memory" => memory().await,
            "all" => {
                throughput().await;
                rate().await;
                scheduler().await;
                memory().await;
            }
            other => eprintln!("unknown bench {other}"),
        }
        // Exit here: dropping the pools after the runtime is gone would panic.
        std::process::exit(0);
    });
}
