//! Builds the application: pools, migrations, actors and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Supervisor;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::actors::webhook_intake::{WebhookIntake, WorkerIntake};
use crate::actors::{Actors, Deps};
use crate::config::Settings;
use crate::db::Databases;
use crate::telemetry::RequestSpan;
use crate::upstream::WhatsAppClient;

/// What handlers share.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Databases,
    /// The one HTTP client for upstream calls.
    pub http: reqwest::Client,
    pub client: WhatsAppClient,
    pub actors: Actors,
    /// The entitlement cache of `/wa/*` (keyed by session token).
    pub entitlements: crate::gateway::Entitlements,
    /// The message statistics recorder (§5.5).
    pub stats: crate::gateway::StatsRecorder,
    /// Webhook session resolution, cached briefly (sessions change rarely; events are many).
    pub webhook_sessions: moka::future::Cache<
        (Vec<String>, Option<String>),
        Option<crate::db::queries::events::SessionRef>,
    >,
}

/// A built, not yet running, application.
pub struct Application {
    port: u16,
    db: Databases,
    actors: Actors,
    stats: crate::gateway::StatsRecorder,
    server: Server,
    shutdown_timeout: Duration,
}

impl Application {
    /// Prepares the databases, starts the actors and binds the port (0 picks a free one).
    pub async fn build(settings: Settings) -> Result<Application, anyhow::Error> {
        let upstream = settings.require_upstream()?.clone();
        let settings = Arc::new(settings);
        crate::db::migrate::prepare(&settings).await?;
        let db = Databases::build(&settings)?;
        let http = crate::gateway::upstream_http_client(&settings)?;
        let client = WhatsAppClient::new(http.clone(), upstream, settings.send_timeout);
        let deps = Deps {
            db: db.clone(),
            client: client.clone(),
            settings: settings.clone(),
            instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        };
        let actors = crate::actors::start_all(&deps);
        let stats = crate::gateway::StatsRecorder::start(
            db.transactional.clone(),
            db.two_database_mode,
            settings.stats_flush_interval,
        );
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            db: db.clone(),
            http,
            client,
            actors: actors.clone(),
            entitlements: crate::gateway::Entitlements::new(settings.entitlement_cache_ttl),
            webhook_sessions: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(settings.entitlement_cache_ttl)
                .build(),
            stats: stats.clone(),
        });
        let metrics_enabled = settings.metrics_enabled;
        if metrics_enabled {
            crate::metrics::install();
        }
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let shutdown_timeout = settings.shutdown_timeout;
        let server = HttpServer::new(move || {
            // Each worker proxies over its own client: its upstream connections live on the
            // worker's own runtime (no cross-thread wake-ups per request).
            let proxy = crate::gateway::upstream_http_client(&state.settings)
                .map(crate::gateway::ProxyHttp)
                .unwrap_or_else(|_| crate::gateway::ProxyHttp(state.http.clone()));
            // And stores webhooks through its own group-commit intake, on the worker's thread.
            let (pool, load, router) = (
                state.db.primary.clone(),
                state.actors.webhook_load.clone(),
                state.actors.webhook_router.clone(),
            );
            let intake = WorkerIntake(Supervisor::start(move |_| {
                WebhookIntake::new(pool.clone(), load.clone(), router.clone())
            }));
            App::new()
                .app_data(web::Data::new(proxy))
                .app_data(web::Data::new(intake))
                .wrap(middleware::from_fn(crate::http::cors::cors))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(state.clone())
                .configure(crate::http::configure)
                .default_service(web::to(crate::http::not_found))
                .wrap(middleware::Condition::new(
                    metrics_enabled,
                    middleware::from_fn(crate::metrics::track_http),
                ))
        })
        .shutdown_timeout(shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            db,
            actors,
            stats,
            server,
            shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pools, for the CLI and tests.
    pub fn databases(&self) -> Databases {
        self.db.clone()
    }

    /// The actors, for tests that step them.
    pub fn actors(&self) -> Actors {
        self.actors.clone()
    }

    /// Runs until SIGTERM/SIGINT (actix-web drains requests gracefully), then stops the
    /// actors so their leases are given up.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        tracing::info!(
            port = self.port,
            shutdown_timeout_secs = self.shutdown_timeout.as_secs(),
            "gateway listening"
        );
        let result = self.server.await;
        // Requests have drained: write the pending message statistics.
        let _ = tokio::time::timeout(self.shutdown_timeout, self.stats.shutdown()).await;
        let _ = tokio::time::timeout(self.shutdown_timeout, self.actors.shutdown()).await;
        result
    }
}
