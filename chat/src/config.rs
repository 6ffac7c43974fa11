//! Configuration from the environment, fully validated before any port is bound.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::str::FromStr;
use std::time::Duration;

/// `chat --help`: every variable, its default and meaning.
pub const HELP: &str = "\
chat: the chat server (HTTP, WebSocket, the browser page).

Configured by environment variables:
  CHAT_ADDR        listen address                 [default: 127.0.0.1:8080]
  METRICS_ADDR     serve GET /metrics (and /health) here only, not on
                   CHAT_ADDR            [default: unset: /metrics on CHAT_ADDR]
  DATABASE_URL     PostgreSQL URL; the database is created if missing and
                   migrated at start   [default: postgres://postgres@127.0.0.1:5432/chat]
                   sslmode=disable|prefer|require|verify-ca|verify-full and
                   sslrootcert=FILE as in libpq (default prefer; roots from
                   the system's store unless sslrootcert names a PEM file)
  RABBITMQ_URL     RabbitMQ URL      [default: amqp://guest:guest@127.0.0.1:5672/%2f]
  ALLOWED_ORIGINS  comma-separated origins allowed to open WebSockets and
                   send writes        [default: only the server's own origin]
  COOKIE_SECURE    true|false: mark the session cookie Secure  [default: true]
  RATE_LIMIT_LOGIN     logins per client IP, N/<seconds>s or off   [default: 5/300s]
  RATE_LIMIT_REGISTER  registrations per client IP                 [default: 5/3600s]
  RATE_LIMIT_MESSAGES  messages per user                           [default: 60/60s]
  RATE_LIMIT_STOCK     stock commands per user                     [default: 10/60s]
  RATE_LIMIT_ROOMS     rooms created per user                      [default: 10/3600s]
  RATE_LIMIT_HANDSHAKES  WebSocket handshakes per client IP        [default: 30/10s]
  MAX_CONNECTIONS  open HTTP and WebSocket connections at most  [default: 50000]
  MAX_CONNECTIONS_PER_IP  open connections from one address, or off
                   (connections from TRUSTED_PROXIES are not counted; their
                   clients' WebSockets are)                   [default: 256]
  MAX_SOCKETS_PER_USER  open WebSockets of one user, or off   [default: 32]
  TRUSTED_PROXIES  comma-separated CIDRs of proxies whose X-Forwarded-For
                   is believed               [default: none: the socket's address]
  ROOM_WRITERS     group-commit writers, each with its own PostgreSQL
                   connection and its share of the rooms       [default: 1]
  SHUTDOWN_GRACE   seconds between SIGTERM and closing the listener, while
                   /health/ready answers 503 so load balancers move away
                                                           [default: 5]
  WS_IDLE_TIMEOUT  seconds a WebSocket may stay silent (pings are sent at a
                   third of it) before it is closed       [default: 90]
  LOG_FORMAT       json|pretty                    [default: json]
  RUST_LOG         log filter                     [default: info]
";

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/chat";
const DEFAULT_RABBITMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub use service::LogFormat;

/// `N/<seconds>s`: at most `N` per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Allowed per period (also the burst).
    pub count: NonZeroU32,
    /// The period.
    pub per: Duration,
}

impl FromStr for RateLimit {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const SHAPE: &str = "expected N/<seconds>s (e.g. 60/60s) or off";
        let (count, period) = text.split_once('/').ok_or(SHAPE)?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| SHAPE)?;
        let seconds: u64 =
            period.trim().strip_suffix('s').ok_or(SHAPE)?.parse().map_err(|_| SHAPE)?;
        if seconds == 0 {
            return Err("the period must be at least 1s");
        }
        Ok(Self { count, per: Duration::from_secs(seconds) })
    }
}

/// Parses a limit variable: `off`, or `N/<seconds>s`.
pub(crate) fn parse_limit(text: &str) -> Result<Option<RateLimit>, &'static str> {
    if text.trim().eq_ignore_ascii_case("off") { Ok(None) } else { text.parse().map(Some) }
}

/// The rate limits; `None` is `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts per client IP.
    pub login: Option<RateLimit>,
    /// Chat messages per user.
    pub messages: Option<RateLimit>,
    /// Stock commands per user.
    pub stock: Option<RateLimit>,
    /// Registrations per client IP.
    pub register: Option<RateLimit>,
    /// Rooms created per user.
    pub rooms: Option<RateLimit>,
    /// WebSocket handshakes per client IP.
    pub handshakes: Option<RateLimit>,
}

/// The server's whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Where `/metrics` is served instead of `addr`, when set.
    pub metrics_addr: Option<SocketAddr>,
    /// The PostgreSQL database (created when missing).
    pub database_url: String,
    /// The RabbitMQ broker.
    pub rabbitmq_url: String,
    /// Origins allowed besides none; `None` means only the server's own origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Whether the session cookie carries `Secure`.
    pub cookie_secure: bool,
    /// How logs are written.
    pub log_format: LogFormat,
    /// `RUST_LOG`: which log lines are written.
    pub log_filter: String,
    /// Abuse limits.
    pub rate_limits: RateLimits,
    /// Most connections open at once (HTTP and WebSocket).
    pub max_connections: usize,
    /// Most connections open at once from one address; `None` is `off`.
    pub max_connections_per_ip: Option<NonZeroUsize>,
    /// Most WebSockets one user has open at once; `None` is `off`.
    pub max_sockets_per_user: Option<NonZeroUsize>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A WebSocket silent this long is closed.
    pub ws_idle_timeout: Duration,
    /// Between the stop signal and closing the listener: readiness fails, and
    /// everything is still served.
    pub shutdown_grace: Duration,
    /// Group-commit writers; each room is written by one of them.
    pub room_writers: NonZeroUsize,
}

/// A variable with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a test's
    /// map). A variable set to the empty string counts as unset, as in `bot`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let get = |name: &str, default: &str| lookup(name).unwrap_or_else(|| default.to_owned());
        let invalid = |variable: &'static str, value: &str, reason: &dyn std::fmt::Display| {
            ConfigError { variable, value: value.to_owned(), reason: reason.to_string() }
        };

        let addr_text = get("CHAT_ADDR", DEFAULT_ADDR);
        let addr = addr_text.parse().map_err(|e| invalid("CHAT_ADDR", &addr_text, &e))?;
        let metrics_addr = match lookup("METRICS_ADDR") {
            None => None,
            Some(text) => Some(text.parse().map_err(|e| invalid("METRICS_ADDR", &text, &e))?),
        };

        let database_url = get("DATABASE_URL", DEFAULT_DATABASE_URL);
        let parsed = crate::store::parse_database_url(&database_url)
            .map_err(|e| invalid("DATABASE_URL", &database_url, &e))?;
        if parsed.config.get_dbname().is_none() {
            return Err(invalid("DATABASE_URL", &database_url, &"names no database"));
        }

        let rabbitmq_url = get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL);
        if !(rabbitmq_url.starts_with("amqp://") || rabbitmq_url.starts_with("amqps://")) {
            return Err(invalid(
                "RABBITMQ_URL",
                &rabbitmq_url,
                &"must start with amqp:// or amqps://",
            ));
        }

        let allowed_origins = match lookup("ALLOWED_ORIGINS") {
            None => None,
            Some(text) => {
                Some(parse_origins(&text).map_err(|e| invalid("ALLOWED_ORIGINS", &text, &e))?)
            }
        };

        let secure_text = get("COOKIE_SECURE", "true");
        let cookie_secure = parse_bool(&secure_text)
            .ok_or_else(|| invalid("COOKIE_SECURE", &secure_text, &"expected true or false"))?;

        let format_text = get("LOG_FORMAT", "json");
        let log_format =
            format_text.parse().map_err(|e| invalid("LOG_FORMAT", &format_text, &e))?;
        let log_filter = get("RUST_LOG", "info");
        service::check_filter(&log_filter).map_err(|e| invalid("RUST_LOG", &log_filter, &e))?;

        let limit = |variable: &'static str, default: &str| {
            let text = get(variable, default);
            parse_limit(&text).map_err(|e| invalid(variable, &text, &e))
        };
        let rate_limits = RateLimits {
            login: limit("RATE_LIMIT_LOGIN", "5/300s")?,
            messages: limit("RATE_LIMIT_MESSAGES", "60/60s")?,
            stock: limit("RATE_LIMIT_STOCK", "10/60s")?,
            register: limit("RATE_LIMIT_REGISTER", "5/3600s")?,
            rooms: limit("RATE_LIMIT_ROOMS", "10/3600s")?,
            handshakes: limit("RATE_LIMIT_HANDSHAKES", "30/10s")?,
        };

        let cap = |variable: &'static str, default: &str| {
            let text = get(variable, default);
            if text.trim().eq_ignore_ascii_case("off") {
                return Ok(None);
            }
            text.trim()
                .parse::<NonZeroUsize>()
                .map(Some)
                .map_err(|_| invalid(variable, &text, &"expected a positive integer or off"))
        };
        let max_connections_per_ip = cap("MAX_CONNECTIONS_PER_IP", "256")?;
        let max_sockets_per_user = cap("MAX_SOCKETS_PER_USER", "32")?;

        let proxies_text = get("TRUSTED_PROXIES", "");
        let trusted_proxies = parse_proxies(&proxies_text)
            .map_err(|e| invalid("TRUSTED_PROXIES", &proxies_text, &e))?;

        let connections_text = get("MAX_CONNECTIONS", "50000");
        let max_connections =
            connections_text.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid("MAX_CONNECTIONS", &connections_text, &"expected a positive integer")
            })?;

        let writers_text = get("ROOM_WRITERS", "1");
        let room_writers =
            writers_text.parse::<NonZeroUsize>().ok().filter(|n| n.get() <= 64).ok_or_else(
                || invalid("ROOM_WRITERS", &writers_text, &"expected an integer from 1 to 64"),
            )?;

        let idle_text = get("WS_IDLE_TIMEOUT", "90");
        let ws_idle_timeout =
            idle_text.parse::<u64>().ok().filter(|n| *n >= 1).map(Duration::from_secs).ok_or_else(
                || invalid("WS_IDLE_TIMEOUT", &idle_text, &"expected whole seconds, at least 1"),
            )?;

        let grace_text = get("SHUTDOWN_GRACE", "5");
        let shutdown_grace = grace_text
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= 3600)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                invalid("SHUTDOWN_GRACE", &grace_text, &"expected whole seconds, at most 3600")
            })?;

        Ok(Self {
            addr,
            metrics_addr,
            database_url,
            rabbitmq_url,
            allowed_origins,
            cookie_secure,
            log_format,
            log_filter,
            rate_limits,
            max_connections,
            max_connections_per_ip,
            max_sockets_per_user,
            trusted_proxies,
            ws_idle_timeout,
            shutdown_grace,
            room_writers,
        })
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Parses `10.0.0.0/8, 192.168.1.7` (a bare address is one host) into networks.
fn parse_proxies(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{p} is not an address or a CIDR"))
        })
        .collect()
}

/// Parses `https://a.example, http://localhost:3000` into exact origins.
fn parse_origins(text: &str) -> Result<Vec<String>, String> {
    let origins: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
        .collect();
    if origins.is_empty() {
        return Err("lists no origin".into());
    }
    for origin in &origins {
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(|| format!("{origin} is not an http(s) origin"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("{origin} is not scheme://host[:port]"));
        }
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn limits_parse() {
        assert_eq!(parse_limit("off"), Ok(None));
        let limit = parse_limit("5/300s").unwrap().unwrap();
        assert_eq!((limit.count.get(), limit.per), (5, Duration::from_secs(300)));
        for bad in ["", "5", "5/300", "0/10s", "5/0s", "x/10s", "5/ms", "-1/10s"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_run_against_local_services() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert!(config.cookie_secure);
        assert_eq!(config.allowed_origins, None);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("CHAT_ADDR", "nowhere"),
            ("DATABASE_URL", "postgres://127.0.0.1:5432"),
            ("RABBITMQ_URL", "http://x"),
            ("ALLOWED_ORIGINS", "ftp://x"),
            ("ALLOWED_ORIGINS", " , "),
            ("COOKIE_SECURE", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("RATE_LIMIT_LOGIN", "5 per minute"),
            ("RATE_LIMIT_MESSAGES", "0/60s"),
            ("RATE_LIMIT_STOCK", "10/0s"),
            ("MAX_CONNECTIONS", "0"),
            ("ROOM_WRITERS", "0"),
            ("ROOM_WRITERS", "65"),
            ("WS_IDLE_TIMEOUT", "soon"),
        ] {
            let err = config(&[(var, value)]).expect_err(value);
            assert_eq!(err.variable, var);
            assert!(err.to_string().starts_with(&format!("invalid {var}=")));
        }
    }

    #[test]
    fn origins_are_normalised() {
        let config = config(&[("ALLOWED_ORIGINS", "https://Chat.example/, http://localhost:3000")])
            .expect("valid origins");
        assert_eq!(
            config.allowed_origins,
            Some(vec!["https://chat.example".into(), "http://localhost:3000".into()])
        );
    }

    #[test]
    fn abuse_limits_have_defaults_and_can_be_lifted() {
        let defaults = config(&[]).unwrap();
        assert_eq!(defaults.max_connections_per_ip.map(NonZeroUsize::get), Some(256));
        assert_eq!(defaults.max_sockets_per_user.map(NonZeroUsize::get), Some(32));
        assert!(defaults.trusted_proxies.is_empty());
        let register = defaults.rate_limits.register.unwrap();
        assert_eq!((register.count.get(), register.per), (5, Duration::from_secs(3600)));
        let lifted = config(&[
            ("MAX_CONNECTIONS_PER_IP", "off"),
            ("MAX_SOCKETS_PER_USER", "off"),
            ("RATE_LIMIT_REGISTER", "off"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,::1"),
        ])
        .unwrap();
        assert_eq!(lifted.max_connections_per_ip, None);
        assert_eq!(lifted.max_sockets_per_user, None);
        assert_eq!(lifted.rate_limits.register, None);
        let proxies: Vec<String> = lifted.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
        for (variable, bad) in [
            ("MAX_CONNECTIONS_PER_IP", "0"),
            ("MAX_SOCKETS_PER_USER", "many"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.local"),
        ] {
            assert_eq!(config(&[(variable, bad)]).unwrap_err().variable, variable);
        }
    }
}
