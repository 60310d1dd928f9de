//! The operator CLI: every command prints JSON on stdout.

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{LogFormat, Settings};
use crate::db::queries::admin::{self, NewSessionSpec};
use crate::db::Databases;
use crate::domain::UserId;
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(
    name = "wa-gateway",
    version,
    about = "WhatsApp API gateway and event system"
)]
pub struct Cli {
    /// Pretty, human-readable logs instead of JSON lines (also LOG_FORMAT=pretty).
    #[arg(long, global = true)]
    pub pretty_logs: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (migrates first).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Users of the owner's tables.
    #[command(subcommand)]
    User(UserCmd),
    /// Subscriptions (package + expiry).
    #[command(subcommand)]
    Subscription(SubscriptionCmd),
    /// WhatsApp sessions.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Bearer tokens for /bulk/*.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Gateway + simulated upstream on loopback with a ready demo user.
    Sandbox(SandboxArgs),
    /// Only the simulated upstream (for benchmarks and manual tests).
    FakeUpstream(FakeArgs),
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionCmd {
    /// Grant an active subscription with a package of `max_sessions` sessions.
    Grant {
        #[arg(long)]
        user: String,
        #[arg(long, default_value_t = 1)]
        max_sessions: i32,
        /// Days until expiry.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionCmd {
    /// Register a WhatsApp session (its upstream token) for a user.
    Add {
        #[arg(long)]
        user: String,
        /// The upstream session token.
        #[arg(long)]
        token: String,
        /// The upstream user id (`userID` of its webhooks).
        #[arg(long)]
        session_id: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// Mark the session connected.
        #[arg(long)]
        connected: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Mint an HS256 JWT (JWT_SECRET) and record its "UserSession" row.
    Issue {
        #[arg(long)]
        user: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Port of the simulated upstream.
    #[arg(long, default_value_t = 8071)]
    pub upstream_port: u16,
}

#[derive(Args, Debug)]
pub struct FakeArgs {
    #[arg(long, default_value_t = 8071)]
    pub port: u16,
    /// Admin token of the simulated upstream.
    #[arg(long, default_value = "fake-admin-token")]
    pub admin_token: String,
    /// Send no webhooks (throughput benchmarks).
    #[arg(long)]
    pub no_webhooks: bool,
    /// Users as `token:userid` pairs, comma-separated.
    #[arg(long, default_value = "")]
    pub users: String,
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn load(cli: &Cli) -> Result<Settings, anyhow::Error> {
    let settings = Settings::load()?;
    let format = if cli.pretty_logs {
        LogFormat::Pretty
    } else {
        settings.log_format
    };
    crate::telemetry::init(format, &settings.log_level);
    Ok(settings)
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> Result<(), anyhow::Error> {
    if let Command::FakeUpstream(args) = &cli.command {
        crate::telemetry::init(
            if cli.pretty_logs {
                LogFormat::Pretty
            } else {
                LogFormat::Json
            },
            "info",
        );
        return fake_upstream(args).await;
    }
    let settings = load(&cli)?;
    match cli.command {
        Command::Serve => {
            settings.require_upstream()?;
            if !settings.gateway_mode.is_empty() {
                tracing::info!(gateway_mode = %settings.gateway_mode, "starting");
            }
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let applied = crate::db::migrate::prepare(&settings).await?;
            print(json!({"applied": applied}));
        }
        Command::User(UserCmd::Create { name, email }) => {
            let mut conn = conn(&settings).await?;
            let id = admin::create_user(&mut conn, &name, &email).await?;
            print(json!({"user_id": id.0, "name": name, "email": email}));
        }
        Command::Subscription(SubscriptionCmd::Grant {
            user,
            max_sessions,
            days,
        }) => {
            let mut conn = conn(&settings).await?;
            let expires = chrono::Utc::now() + chrono::Duration::days(days);
            let (sub, package) =
                admin::grant_subscription(&mut conn, &UserId(user.clone()), max_sessions, expires)
                    .await?;
            print(
                json!({"subscription_id": sub, "package_id": package, "user_id": user, "max_sessions": max_sessions, "expires_at": expires}),
            );
        }
        Command::Session(SessionCmd::Add {
            user,
            token,
            session_id,
            name,
            connected,
        }) => {
            let mut conn = conn(&settings).await?;
            let id = admin::add_session(
                &mut conn,
                &UserId(user.clone()),
                NewSessionSpec {
                    session_key: session_id.clone(),
                    name,
                    token,
                    connected,
                },
            )
            .await?;
            print(
                json!({"id": id.0, "user_id": user, "session_id": session_id, "connected": connected}),
            );
        }
        Command::Token(TokenCmd::Issue { user, hours }) => {
            let mut conn = conn(&settings).await?;
            let token = admin::issue_token(
                &mut conn,
                &UserId(user.clone()),
                settings.jwt_secret.as_ref(),
                chrono::Duration::hours(hours),
            )
            .await?;
            print(
                json!({"user_id": user, "token": token, "expires_in_hours": hours, "signed": settings.jwt_secret.is_some()}),
            );
        }
        Command::Sandbox(args) => sandbox(settings, args).await?,
        Command::FakeUpstream(_) => unreachable!("handled above"),
    }
    Ok(())
}

async fn conn(settings: &Settings) -> Result<crate::db::DbConn, anyhow::Error> {
    crate::db::migrate::prepare(settings).await?;
    let dbs = Databases::build(settings)?;
    Ok(dbs.transactional.get().await?)
}

async fn fake_upstream(args: &FakeArgs) -> Result<(), anyhow::Error> {
    use crate::fake_upstream::{FakeUpstreamConfig, FakeUser};
    let users = args
        .users
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (token, id) = pair.split_once(':').unwrap_or((pair, pair));
            let mut u = FakeUser::new(token, token);
            u.id = id.to_string();
            u
        })
        .collect();
    let config = FakeUpstreamConfig {
        bind: ([127, 0, 0, 1], args.port).into(),
        admin_token: args.admin_token.clone(),
        emit_webhooks: !args.no_webhooks,
        workers: args.workers,
        ..FakeUpstreamConfig::default()
    };
    crate::fake_upstream::run_standalone(config, users).await?;
    Ok(())
}

async fn sandbox(mut settings: Settings, args: SandboxArgs) -> Result<(), anyhow::Error> {
    use crate::fake_upstream::{FakeUpstream, FakeUpstreamConfig, FakeUser};
    let upstream = FakeUpstream::start(FakeUpstreamConfig {
        bind: ([127, 0, 0, 1], args.upstream_port).into(),
        admin_token: "sandbox-admin-token".into(),
        ..FakeUpstreamConfig::default()
    })
    .await?;
    settings.upstream_url = Some(url::Url::parse(&upstream.base_url())?);
    if settings.jwt_secret.is_none() {
        settings.jwt_secret = Some(secrecy::SecretString::from(format!(
            "sandbox-{}",
            uuid::Uuid::new_v4().simple()
        )));
    }
    let jwt_secret = settings.jwt_secret.clone();
    let port = settings.port;
    let app = Application::build(settings).await?;
    let dbs = app.databases();
    let mut conn = dbs.transactional.get().await?;
    let user = admin::create_user(
        &mut conn,
        "Demo User",
        &format!("demo+{}@example.com", uuid::Uuid::new_v4().simple()),
    )
    .await?;
    admin::grant_subscription(
        &mut conn,
        &user,
        3,
        chrono::Utc::now() + chrono::Duration::days(30),
    )
    .await?;
    let session_token = format!("demo-session-{}", uuid::Uuid::new_v4().simple());
    let mut fake = FakeUser::new("demo", &session_token);
    fake.webhook = format!("http://127.0.0.1:{}/webhook/wa", app.port());
    admin::add_session(
        &mut conn,
        &user,
        NewSessionSpec {
            session_key: fake.id.clone(),
            name: "demo".into(),
            token: session_token.clone(),
            connected: true,
        },
    )
    .await?;
    upstream.add_user(fake);
    let bearer = admin::issue_token(
        &mut conn,
        &user,
        jwt_secret.as_ref(),
        chrono::Duration::days(7),
    )
    .await?;
    drop(conn);
    let base = format!("http://localhost:{}", app.port());
    print(json!({
        "gateway": base,
        "upstream": upstream.base_url(),
        "user_id": user.0,
        "bearer_token": bearer,
        "session_token": session_token,
        "try": [
            format!("curl {base}/health"),
            format!("curl -H 'token: {session_token}' {base}/wa/session/status"),
            format!("curl -X POST -H 'Authorization: Bearer {bearer}' -H 'token: {session_token}' {base}/bulk/contact/sync"),
        ],
        "note": format!("listening on port {port}; Ctrl-C stops"),
    }));
    app.run_until_stopped().await?;
    Ok(())
}
