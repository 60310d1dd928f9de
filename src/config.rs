//! Settings: defaults, then `.env` (loaded by `main`, never overriding the process
//! environment), then environment variables. Validated once; a bad value names its variable.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A configuration error naming the offending variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

fn bad(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.to_string(),
        reason: reason.into(),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// One PostgreSQL database.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// Connection URL; holds the password, so it is secret.
    pub url: SecretString,
    /// The variable(s) it came from, for error messages.
    pub source: &'static str,
    pub pool_size: usize,
    pub wait_timeout: Duration,
    pub statement_timeout: Duration,
    pub application_name: String,
}

impl DatabaseSettings {
    /// The URL with the database name replaced (tests and the template database).
    pub fn with_database(&self, name: &str) -> Result<DatabaseSettings, ConfigError> {
        let mut url =
            Url::parse(self.url.expose_secret()).map_err(|e| bad(self.source, e.to_string()))?;
        url.set_path(&format!("/{name}"));
        Ok(DatabaseSettings {
            url: SecretString::from(url.to_string()),
            ..self.clone()
        })
    }

    /// The database name in the URL.
    pub fn database_name(&self) -> String {
        Url::parse(self.url.expose_secret())
            .ok()
            .map(|u| u.path().trim_start_matches('/').to_string())
            .unwrap_or_default()
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &"[REDACTED]")
            .field("source", &self.source)
            .field("pool_size", &self.pool_size)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// Settings of the whole process.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// The primary database; in single-database mode it holds every table.
    pub database: DatabaseSettings,
    /// The other system's database in two-database mode.
    pub transactional_database: Option<DatabaseSettings>,
    /// The one upstream URL (`WA_SERVER_URL` / `WHATSAPP_SERVER_URL`).
    pub upstream_url: Option<Url>,
    pub jwt_secret: Option<SecretString>,
    pub webhook_verify_token: Option<SecretString>,
    pub webhook_hmac_key: Option<SecretString>,
    pub webhook_require_signature: bool,
    pub webhook_max_body_bytes: usize,
    /// Longest wait of the router's next batch while the intake is saturated.
    pub webhook_router_defer: Duration,
    pub server_name: String,
    pub gateway_mode: String,
    pub environment: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub proxy_timeout: Duration,
    pub proxy_connect_timeout: Duration,
    pub proxy_max_body_bytes: usize,
    pub image_fetch_timeout: Duration,
    pub image_max_bytes: usize,
    /// Allow image URLs that resolve to loopback (tests only).
    pub image_allow_loopback: bool,
    pub entitlement_cache_ttl: Duration,
    pub admin_allowed_ips: Vec<String>,
    /// How often the message statistics recorder writes its batch (`STATS_FLUSH_INTERVAL_MS`).
    pub stats_flush_interval: Duration,
    pub contact_sync_timeout: Duration,
    pub send_rate_per_sec: f64,
    pub send_jitter: f64,
    /// Campaign sends per session per local day (`DEFAULT_TIMEZONE`); None: no cap.
    pub send_daily_cap: Option<u32>,
    /// The highest `rate_per_sec` a user may set for one of their sessions.
    pub session_rate_max_per_sec: f64,
    pub send_timeout: Duration,
    pub campaign_max_recipients: usize,
    pub outcome_unknown_grace: Duration,
    pub lease_duration: Duration,
    pub scheduler_sweep_interval: Duration,
    pub default_timezone: String,
    pub cron_secret: Option<SecretString>,
    pub chat_log_default: bool,
    pub shutdown_timeout: Duration,
    /// Whether `GET /metrics` and the HTTP metrics middleware are on (`METRICS_ENABLED`).
    pub metrics_enabled: bool,
}

type Env = HashMap<String, String>;

fn get<'a>(env: &'a Env, key: &str) -> Option<&'a str> {
    env.get(key)
        .map(|s| s.as_str())
        .filter(|s| !s.trim().is_empty())
}

/// A comma list of addresses and CIDR blocks; an entry that is neither stops the start (an
/// allow-list silently missing an entry would refuse, or worse, allow the wrong peers).
fn allow_list(env: &Env, key: &str) -> Result<Vec<String>, ConfigError> {
    let entries: Vec<String> = get(env, key)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for entry in &entries {
        let ok = match entry.split_once('/') {
            None => entry.parse::<std::net::IpAddr>().is_ok(),
            Some((net, bits)) => match (net.parse::<std::net::IpAddr>(), bits.parse::<u32>()) {
                (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
                (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
                _ => false,
            },
        };
        if !ok {
            return Err(bad(
                key,
                format!("{entry:?} is not an IP address or CIDR block"),
            ));
        }
    }
    Ok(entries)
}

fn parse<T: std::str::FromStr>(env: &Env, key: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match get(env, key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .map_err(|e| bad(key, format!("invalid value {v:?}: {e}"))),
    }
}

fn parse_bool(env: &Env, key: &str, default: bool) -> Result<bool, ConfigError> {
    match get(env, key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(bad(key, format!("expected true or false, got {v:?}"))),
        },
    }
}

fn secs(env: &Env, key: &str, default: f64) -> Result<Duration, ConfigError> {
    let v: f64 = parse(env, key, default)?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad(key, "must be a non-negative number of seconds"));
    }
    Duration::try_from_secs_f64(v).map_err(|e| bad(key, e.to_string()))
}

fn millis(env: &Env, key: &str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(parse(env, key, default)?))
}

fn secret(env: &Env, key: &str) -> Option<SecretString> {
    get(env, key).map(|v| SecretString::from(v.to_string()))
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Builds a database from `<url_var>` or the `<prefix>HOST…` family.
fn database(
    env: &Env,
    url_var: &'static str,
    prefix: &'static str,
    required: bool,
) -> Result<Option<(SecretString, &'static str)>, ConfigError> {
    if let Some(url) = get(env, url_var) {
        let parsed = Url::parse(url).map_err(|e| bad(url_var, format!("not a valid URL: {e}")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(bad(url_var, "must start with postgres:// or postgresql://"));
        }
        check_sslmode(
            url_var,
            parsed
                .query_pairs()
                .find(|(k, _)| k == "sslmode")
                .map(|(_, v)| v.to_string()),
        )?;
        return Ok(Some((SecretString::from(url.to_string()), url_var)));
    }
    let host_var = format!("{prefix}HOST");
    let Some(host) = get(env, &host_var) else {
        if required {
            return Err(bad(
                url_var,
                format!("set {url_var} or {prefix}HOST, {prefix}USER and {prefix}NAME"),
            ));
        }
        return Ok(None);
    };
    let source: &'static str = if prefix == "DB_" {
        "DB_*"
    } else {
        "TRANSACTIONAL_DB_*"
    };
    let user_var = format!("{prefix}USER");
    let name_var = format!("{prefix}NAME");
    let port_var = format!("{prefix}PORT");
    let user = get(env, &user_var).ok_or_else(|| {
        bad(
            &user_var,
            "required when {prefix}HOST is set".replace("{prefix}", prefix),
        )
    })?;
    let name = get(env, &name_var)
        .ok_or_else(|| bad(&name_var, format!("required when {prefix}HOST is set")))?;
    let port: u16 = parse(env, &port_var, 5432)?;
    // Values are used as given (no trimming): a password may contain spaces.
    let password = env
        .get(&format!("{prefix}PASSWORD"))
        .cloned()
        .unwrap_or_default();
    let sslmode = get(env, &format!("{prefix}SSLMODE")).map(str::to_string);
    check_sslmode(source, sslmode.clone())?;
    let host_part = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let auth = if password.is_empty() {
        enc(user)
    } else {
        format!("{}:{}", enc(user), enc(&password))
    };
    let mut url = format!("postgres://{auth}@{host_part}:{port}/{}", enc(name));
    if let Some(mode) = sslmode {
        url.push_str(&format!("?sslmode={}", enc(&mode)));
    }
    Ok(Some((SecretString::from(url), source)))
}

fn check_sslmode(var: &str, mode: Option<String>) -> Result<(), ConfigError> {
    match mode.as_deref() {
        None | Some("disable") | Some("allow") | Some("prefer") => Ok(()),
        Some(other) => Err(bad(
            var,
            format!("sslmode={other} is not supported; use disable or prefer (terminate TLS to PostgreSQL in a local proxy)"),
        )),
    }
}

impl Settings {
    /// Loads from the process environment (call `dotenvy::dotenv()` first).
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::from_env(&std::env::vars().collect())
    }

    /// Loads from an explicit map of variables.
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let pool_size: usize = parse(env, "DB_POOL_SIZE", 16)?;
        if pool_size == 0 {
            return Err(bad("DB_POOL_SIZE", "must be at least 1"));
        }
        let wait_timeout = millis(env, "DB_POOL_TIMEOUT_MS", 5_000)?;
        let statement_timeout = millis(env, "DB_STATEMENT_TIMEOUT_MS", 30_000)?;
        let application_name = get(env, "DB_APPLICATION_NAME")
            .unwrap_or("wa-gateway")
            .to_string();
        let make = |(url, source): (SecretString, &'static str)| DatabaseSettings {
            url,
            source,
            pool_size,
            wait_timeout,
            statement_timeout,
            application_name: application_name.clone(),
        };
        let primary = make(
            database(env, "DATABASE_URL", "DB_", true)?
                .ok_or_else(|| bad("DATABASE_URL", "required"))?,
        );
        let transactional_database = database(
            env,
            "TRANSACTIONAL_DATABASE_URL",
            "TRANSACTIONAL_DB_",
            false,
        )?
        .map(make);

        let upstream_url = upstream_url(env)?;
        let port: u16 = parse(env, "PORT", 8070)?;
        let log_format = match get(env, "LOG_FORMAT").map(|s| s.to_ascii_lowercase()) {
            None => LogFormat::Json,
            Some(s) if s == "json" => LogFormat::Json,
            Some(s) if s == "pretty" => LogFormat::Pretty,
            Some(s) => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got {s:?}"),
                ))
            }
        };
        let send_rate_per_sec: f64 = parse(env, "SEND_RATE_PER_SEC", 1.0)?;
        if !send_rate_per_sec.is_finite() || send_rate_per_sec < 0.0 {
            return Err(bad(
                "SEND_RATE_PER_SEC",
                "must be >= 0 (0 turns the limit off)",
            ));
        }
        let send_jitter: f64 = parse(env, "SEND_JITTER", 0.0)?;
        if !(0.0..=1.0).contains(&send_jitter) {
            return Err(bad("SEND_JITTER", "must be between 0 and 1"));
        }
        let default_timezone = get(env, "DEFAULT_TIMEZONE").unwrap_or("UTC").to_string();
        if crate::domain::schedule::parse_zone(&default_timezone).is_none() {
            return Err(bad(
                "DEFAULT_TIMEZONE",
                format!("unknown time zone {default_timezone:?}"),
            ));
        }
        let proxy_timeout = secs(env, "PROXY_TIMEOUT_SECS", 120.0)?;
        let session_rate_max_per_sec: f64 = parse(env, "SESSION_RATE_MAX_PER_SEC", 20.0)?;
        if !(session_rate_max_per_sec.is_finite() && session_rate_max_per_sec > 0.0) {
            return Err(bad(
                "SESSION_RATE_MAX_PER_SEC",
                "must be a positive number".to_string(),
            ));
        }
        Ok(Settings {
            host: get(env, "HOST").unwrap_or("0.0.0.0").to_string(),
            port,
            database: primary,
            transactional_database,
            upstream_url,
            jwt_secret: secret(env, "JWT_SECRET"),
            webhook_verify_token: secret(env, "WEBHOOK_VERIFY_TOKEN"),
            webhook_hmac_key: secret(env, "WEBHOOK_HMAC_KEY"),
            webhook_require_signature: parse_bool(env, "WEBHOOK_REQUIRE_SIGNATURE", false)?,
            webhook_max_body_bytes: parse(env, "WEBHOOK_MAX_BODY_BYTES", 16 * 1024 * 1024)?,
            webhook_router_defer: millis(env, "WEBHOOK_ROUTER_DEFER_MS", 1000)?,
            server_name: get(env, "SERVER_NAME")
                .unwrap_or("Genfity WhatsApp Support API")
                .to_string(),
            gateway_mode: get(env, "GATEWAY_MODE").unwrap_or("").to_string(),
            environment: get(env, "GIN_MODE").unwrap_or("release").to_string(),
            log_format,
            log_level: get(env, "LOG_LEVEL").unwrap_or("info").to_string(),
            proxy_timeout,
            proxy_connect_timeout: secs(env, "PROXY_CONNECT_TIMEOUT_SECS", 5.0)?,
            proxy_max_body_bytes: parse(env, "PROXY_MAX_BODY_BYTES", 32 * 1024 * 1024)?,
            image_fetch_timeout: secs(env, "IMAGE_FETCH_TIMEOUT_SECS", 20.0)?,
            image_max_bytes: parse(env, "IMAGE_MAX_BYTES", 10 * 1024 * 1024)?,
            image_allow_loopback: parse_bool(env, "IMAGE_ALLOW_LOOPBACK", false)?,
            entitlement_cache_ttl: secs(env, "ENTITLEMENT_CACHE_TTL_SECS", 5.0)?,
            admin_allowed_ips: allow_list(env, "ADMIN_ALLOWED_IPS")?,
            stats_flush_interval: millis(env, "STATS_FLUSH_INTERVAL_MS", 200)?,
            contact_sync_timeout: secs(env, "CONTACT_SYNC_TIMEOUT_SECS", 30.0)?,
            send_rate_per_sec,
            send_jitter,
            send_daily_cap: Some(parse::<u32>(env, "SEND_DAILY_CAP", 0)?).filter(|n| *n > 0),
            session_rate_max_per_sec,
            send_timeout: secs(env, "SEND_TIMEOUT_SECS", 90.0)?,
            campaign_max_recipients: parse(env, "CAMPAIGN_MAX_RECIPIENTS", 100_000)?,
            outcome_unknown_grace: secs(env, "OUTCOME_UNKNOWN_GRACE_SECS", 600.0)?,
            lease_duration: secs(env, "LEASE_SECS", 30.0)?,
            scheduler_sweep_interval: secs(env, "SCHEDULER_SWEEP_SECS", 30.0)?,
            default_timezone,
            cron_secret: secret(env, "CRON_SECRET"),
            chat_log_default: parse_bool(env, "CHAT_LOG_DEFAULT", false)?,
            shutdown_timeout: secs(env, "SHUTDOWN_TIMEOUT_SECS", 30.0)?,
            metrics_enabled: parse_bool(env, "METRICS_ENABLED", true)?,
        })
    }

    /// The upstream URL, or an error naming the variables (needed by `serve`).
    pub fn require_upstream(&self) -> Result<&Url, ConfigError> {
        self.upstream_url.as_ref().ok_or_else(|| {
            bad(
                "WA_SERVER_URL",
                "required (the upstream WhatsApp server's base URL)",
            )
        })
    }

    /// Whether the owner's tables live in a database of another system.
    pub fn two_database_mode(&self) -> bool {
        self.transactional_database.is_some()
    }
}

fn upstream_url(env: &Env) -> Result<Option<Url>, ConfigError> {
    let a = get(env, "WA_SERVER_URL").map(|v| ("WA_SERVER_URL", v.trim()));
    let b = get(env, "WHATSAPP_SERVER_URL").map(|v| ("WHATSAPP_SERVER_URL", v.trim()));
    let parse_one = |(var, v): (&str, &str)| -> Result<Url, ConfigError> {
        let url = Url::parse(v).map_err(|e| bad(var, format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad(var, "must be an http:// or https:// URL"));
        }
        Ok(url)
    };
    match (a, b) {
        (None, None) => Ok(None),
        (Some(x), None) | (None, Some(x)) => parse_one(x).map(Some),
        (Some(x), Some(y)) => {
            let (ux, uy) = (parse_one(x)?, parse_one(y)?);
            let norm = |u: &Url| u.as_str().trim_end_matches('/').to_string();
            if norm(&ux) != norm(&uy) {
                return Err(bad(
                    "WHATSAPP_SERVER_URL",
                    "differs from WA_SERVER_URL; both name the one upstream, set one or make them equal",
                ));
            }
            Ok(Some(ux))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn password_with_spaces_is_percent_encoded() {
        let s = Settings::from_env(&env(&[
            ("DB_HOST", "127.0.0.1"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "p a@ss/word"),
            ("DB_NAME", "gw"),
        ]))
        .unwrap();
        let url = Url::parse(s.database.url.expose_secret()).unwrap();
        let decoded = percent_encoding::percent_decode_str(url.password().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, "p a@ss/word");
        assert_eq!(s.database.database_name(), "gw");
        assert!(!s.two_database_mode());
    }

    #[test]
    fn database_url_wins_over_db_vars() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u@h:1/x"),
            ("DB_HOST", "other"),
        ]))
        .unwrap();
        assert_eq!(s.database.database_name(), "x");
        assert_eq!(s.database.source, "DATABASE_URL");
    }

    #[test]
    fn conflicting_upstream_urls_fail_naming_the_variable() {
        let e = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u@h/x"),
            ("WA_SERVER_URL", "http://a:1"),
            ("WHATSAPP_SERVER_URL", "http://b:1"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "WHATSAPP_SERVER_URL");
    }

    #[test]
    fn equal_upstream_urls_are_one() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u@h/x"),
            ("WA_SERVER_URL", "http://a:1/"),
            ("WHATSAPP_SERVER_URL", "http://a:1"),
        ]))
        .unwrap();
        assert_eq!(s.upstream_url.unwrap().host_str(), Some("a"));
    }

    #[test]
    fn missing_database_names_the_variable() {
        assert_eq!(
            Settings::from_env(&env(&[])).unwrap_err().var,
            "DATABASE_URL"
        );
        let e = Settings::from_env(&env(&[("DB_HOST", "h"), ("DB_NAME", "n")])).unwrap_err();
        assert_eq!(e.var, "DB_USER");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let base = [("DATABASE_URL", "postgres://u@h/x")];
        for (k, v) in [
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("DB_POOL_SIZE", "0"),
            ("LOG_FORMAT", "xml"),
            ("SEND_RATE_PER_SEC", "-1"),
            ("WA_SERVER_URL", "ftp://x"),
            ("DEFAULT_TIMEZONE", "Mars/Base"),
            ("WEBHOOK_REQUIRE_SIGNATURE", "maybe"),
            ("PROXY_TIMEOUT_SECS", "-3"),
            ("ADMIN_ALLOWED_IPS", "10.0.0.0/8, not-an-ip"),
            ("ADMIN_ALLOWED_IPS", "10.0.0.0/33"),
            ("SEND_DAILY_CAP", "-5"),
            ("SESSION_RATE_MAX_PER_SEC", "0"),
        ] {
            let mut e = env(&base);
            e.insert(k.to_string(), v.to_string());
            assert_eq!(Settings::from_env(&e).unwrap_err().var, k, "{k}={v}");
        }
        let e = Settings::from_env(&env(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
    }

    #[test]
    fn transactional_database_enables_two_database_mode() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u@h/x"),
            ("TRANSACTIONAL_DB_HOST", "h2"),
            ("TRANSACTIONAL_DB_USER", "u2"),
            ("TRANSACTIONAL_DB_NAME", "t"),
        ]))
        .unwrap();
        assert!(s.two_database_mode());
        assert_eq!(s.transactional_database.unwrap().database_name(), "t");
    }

    #[test]
    fn defaults_and_secrets_are_redacted() {
        let s = Settings::from_env(&env(&[
            ("DATABASE_URL", "postgres://u:hunter2@h/x"),
            ("JWT_SECRET", "s3cr3t"),
        ]))
        .unwrap();
        assert_eq!(s.port, 8070);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("s3cr3t"), "{dbg}");
    }
}
