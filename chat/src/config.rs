//! Configuration from flags and environment variables (see `chat --help`),
//! fully validated before any port is bound.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
pub use service::cli::Configuration;

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

/// Parses a limit: `off`, or `N/<seconds>s`.
fn parse_limit(text: &str) -> Result<Off<RateLimit>, &'static str> {
    if text.trim().eq_ignore_ascii_case("off") {
        Ok(Off(None))
    } else {
        text.parse().map(Some).map(Off)
    }
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
    /// File uploads per user.
    pub uploads: Option<RateLimit>,
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
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Most bytes of files one user may have stored.
    pub max_user_storage_bytes: u64,
    /// Uploads in progress at once on this instance.
    pub max_concurrent_uploads: usize,
    /// How long one upload's body may take to arrive, in all.
    pub upload_timeout: Duration,
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

/// What `--help` says after the options: the note every binary has, and the
/// one variable read by the allocator rather than by chat.
fn after_help() -> String {
    format!(
        "{}\n\nThe memory allocator reads [env: MIMALLOC_ARENA_EAGER_COMMIT] at start: 0 (as \
         ./run and the container image set it) commits only the memory in use.",
        service::cli::ENVIRONMENT_NOTE
    )
}

/// `chat`'s command line; each option is also the environment variable in
/// capitals (`--chat-addr`, `CHAT_ADDR`).
#[derive(Debug, Parser)]
#[command(
    name = "chat",
    version,
    about = "The chat server: HTTP API, WebSockets and the browser page.",
    after_help = after_help()
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env, default_value = "127.0.0.1:8080")]
    chat_addr: SocketAddr,
    /// Serve GET /metrics (and /health) on this address only, not on
    /// CHAT_ADDR. Unset: /metrics is served on CHAT_ADDR.
    #[arg(long, env)]
    metrics_addr: Option<SocketAddr>,
    /// PostgreSQL URL; the database is created if missing and migrated at
    /// start. sslmode=disable|prefer|require|verify-ca|verify-full and
    /// sslrootcert=FILE as in libpq (roots from the system's store unless
    /// sslrootcert names a PEM file).
    #[arg(long, env, default_value = "postgres://postgres@127.0.0.1:5432/chat")]
    database_url: String,
    /// RabbitMQ URL, amqp:// or amqps:// (TLS; ?cacertfile=FILE adds a PEM
    /// file of trusted CAs to the public roots).
    #[arg(long, env, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    rabbitmq_url: String,
    /// Comma-separated origins allowed to open WebSockets and send writes.
    /// Unset: only the server's own origin.
    #[arg(long, env, value_parser = parse_origins)]
    allowed_origins: Option<Origins>,
    /// Mark the session cookie Secure (true or false).
    #[arg(long, env, default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set)]
    cookie_secure: bool,
    /// Logins per client address: N/<seconds>s, or off.
    #[arg(long, env, default_value = "5/300s", value_parser = parse_limit)]
    rate_limit_login: Off<RateLimit>,
    /// Registrations per client address.
    #[arg(long, env, default_value = "5/3600s", value_parser = parse_limit)]
    rate_limit_register: Off<RateLimit>,
    /// Chat messages (and reactions) per user.
    #[arg(long, env, default_value = "60/60s", value_parser = parse_limit)]
    rate_limit_messages: Off<RateLimit>,
    /// Stock commands per user.
    #[arg(long, env, default_value = "10/60s", value_parser = parse_limit)]
    rate_limit_stock: Off<RateLimit>,
    /// Rooms created per user.
    #[arg(long, env, default_value = "10/3600s", value_parser = parse_limit)]
    rate_limit_rooms: Off<RateLimit>,
    /// WebSocket handshakes per client address.
    #[arg(long, env, default_value = "30/10s", value_parser = parse_limit)]
    rate_limit_handshakes: Off<RateLimit>,
    /// File uploads per user.
    #[arg(long, env, default_value = "10/60s", value_parser = parse_limit)]
    rate_limit_uploads: Off<RateLimit>,
    /// Largest file a user may upload, in bytes (at most 1 GiB).
    #[arg(long, env, default_value = "10485760", value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_upload_bytes: u64,
    /// Most bytes of files one user may have stored.
    #[arg(long, env, default_value = "104857600", value_parser = clap::value_parser!(u64).range(1..))]
    max_user_storage_bytes: u64,
    /// Uploads in progress at once on this instance (1 to 8, half the
    /// connection pool); each holds a PostgreSQL connection while its body
    /// arrives, and one more is refused with 503.
    #[arg(long, env, default_value = "4", value_parser = clap::value_parser!(u64).range(1..=8))]
    max_concurrent_uploads: u64,
    /// How long an upload's body may take in all: 120s, or plain seconds
    /// (1 to 3600). A slower upload is answered 408 and nothing is stored.
    #[arg(long, env, default_value = "120s", value_parser = parse_seconds)]
    upload_timeout: Duration,
    /// Open HTTP and WebSocket connections at most.
    #[arg(long, env, default_value = "50000", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open connections from one address, or off. Connections from
    /// TRUSTED_PROXIES are not counted; their clients' WebSockets are.
    #[arg(long, env, default_value = "256", value_parser = parse_cap)]
    max_connections_per_ip: Off<NonZeroUsize>,
    /// Open WebSockets of one user, or off.
    #[arg(long, env, default_value = "32", value_parser = parse_cap)]
    max_sockets_per_user: Off<NonZeroUsize>,
    /// Comma-separated addresses or CIDRs of proxies whose X-Forwarded-For
    /// is believed. Unset: the client is the socket's peer.
    #[arg(long, env, value_parser = parse_proxies)]
    trusted_proxies: Option<Proxies>,
    /// Group-commit writers, each with its own PostgreSQL connection and its
    /// share of the rooms (1 to 64).
    #[arg(long, env, default_value = "1", value_parser = clap::value_parser!(u64).range(1..=64))]
    room_writers: u64,
    /// Seconds between SIGTERM and closing the listener, while /health/ready
    /// answers 503 so that load balancers move away (at most 3600).
    #[arg(long, env, default_value = "5", value_parser = clap::value_parser!(u64).range(..=3600))]
    shutdown_grace: u64,
    /// Seconds a WebSocket may stay silent before it is closed; pings are
    /// sent at a third of it.
    #[arg(long, env, default_value = "90", value_parser = clap::value_parser!(u64).range(1..))]
    ws_idle_timeout: u64,
    /// How log lines are written.
    #[arg(long, env, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Log filter, e.g. info or chat=debug,lapin=warn.
    #[arg(long, env, default_value = "info", value_parser = service::cli::log_filter)]
    rust_log: String,
}

/// A setting that can be `off`.
#[derive(Debug, Clone, Copy)]
struct Off<T>(Option<T>);

/// `ALLOWED_ORIGINS`, parsed.
#[derive(Debug, Clone)]
struct Origins(Vec<String>);

/// `TRUSTED_PROXIES`, parsed.
#[derive(Debug, Clone)]
struct Proxies(Vec<ipnet::IpNet>);

impl Configuration for Config {
    const PROGRAM: &'static str = "chat";

    fn from_args(
        args: impl IntoIterator<Item = OsString>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, clap::Error> {
        let args: Args = service::cli::parse(args, lookup)?;
        // URLs are checked here rather than by clap, whose refusal would
        // print them, passwords included.
        let database_flag = "--database-url <DATABASE_URL>";
        let parsed = crate::store::parse_database_url(&args.database_url)
            .map_err(|e| service::cli::refuse_url::<Args>(database_flag, &args.database_url, &e))?;
        if parsed.config.get_dbname().is_none() {
            return Err(service::cli::refuse_url::<Args>(
                database_flag,
                &args.database_url,
                &"names no database",
            ));
        }
        if let Err(reason) = service::amqp::check_url(&args.rabbitmq_url) {
            return Err(service::cli::refuse_url::<Args>(
                "--rabbitmq-url <RABBITMQ_URL>",
                &args.rabbitmq_url,
                &reason,
            ));
        }
        let whole = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            addr: args.chat_addr,
            metrics_addr: args.metrics_addr,
            database_url: args.database_url,
            rabbitmq_url: args.rabbitmq_url,
            allowed_origins: args.allowed_origins.map(|origins| origins.0),
            cookie_secure: args.cookie_secure,
            log_format: args.log_format,
            log_filter: args.rust_log,
            rate_limits: RateLimits {
                login: args.rate_limit_login.0,
                messages: args.rate_limit_messages.0,
                stock: args.rate_limit_stock.0,
                register: args.rate_limit_register.0,
                rooms: args.rate_limit_rooms.0,
                handshakes: args.rate_limit_handshakes.0,
                uploads: args.rate_limit_uploads.0,
            },
            max_upload_bytes: args.max_upload_bytes,
            max_user_storage_bytes: args.max_user_storage_bytes,
            max_concurrent_uploads: whole(args.max_concurrent_uploads),
            upload_timeout: args.upload_timeout,
            max_connections: whole(args.max_connections),
            max_connections_per_ip: args.max_connections_per_ip.0,
            max_sockets_per_user: args.max_sockets_per_user.0,
            trusted_proxies: args.trusted_proxies.map(|proxies| proxies.0).unwrap_or_default(),
            ws_idle_timeout: Duration::from_secs(args.ws_idle_timeout),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            room_writers: NonZeroUsize::new(whole(args.room_writers)).unwrap_or(NonZeroUsize::MIN),
        })
    }
}

fn parse_cap(text: &str) -> Result<Off<NonZeroUsize>, &'static str> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(Off(None));
    }
    text.trim().parse().map(|cap| Off(Some(cap))).map_err(|_| "expected a positive integer or off")
}

/// `120s` or `120`: whole seconds, 1 to 3600.
fn parse_seconds(text: &str) -> Result<Duration, &'static str> {
    let text = text.trim();
    let digits = text.strip_suffix('s').unwrap_or(text);
    match digits.parse::<u64>() {
        Ok(seconds @ 1..=3600) => Ok(Duration::from_secs(seconds)),
        _ => Err("expected whole seconds from 1 to 3600, as 120s"),
    }
}

fn parse_bool(text: &str) -> Result<bool, &'static str> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false"),
    }
}

/// Parses `10.0.0.0/8, 192.168.1.7` (a bare address is one host) into networks.
fn parse_proxies(text: &str) -> Result<Proxies, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{p} is not an address or a CIDR"))
        })
        .collect::<Result<_, _>>()
        .map(Proxies)
}

/// Parses `https://a.example, http://localhost:3000` into exact origins.
fn parse_origins(text: &str) -> Result<Origins, String> {
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
    Ok(Origins(origins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, clap::Error> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn limits_parse() {
        assert_eq!(parse_limit("off").map(|off| off.0), Ok(None));
        let limit = parse_limit("5/300s").unwrap().0.unwrap();
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
        assert_eq!(config.room_writers.get(), 1);
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
        assert_eq!(config.upload_timeout, Duration::from_secs(120));
    }

    #[test]
    fn upload_timeout_takes_seconds_with_or_without_s() {
        assert_eq!(parse_seconds("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_seconds("30"), Ok(Duration::from_secs(30)));
        for bad in ["", "s", "0s", "3601s", "2m", "-1s", "1.5s"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_flag_wins_over_its_variable() {
        let args =
            ["chat", "--chat-addr", "0.0.0.0:9000", "--cookie-secure=false"].map(OsString::from);
        let lookup = |name: &str| (name == "CHAT_ADDR").then(|| "127.0.0.1:1".to_owned());
        let config = Config::from_args(args, lookup).unwrap();
        assert_eq!(config.addr.to_string(), "0.0.0.0:9000");
        assert!(!config.cookie_secure);
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
            ("RUST_LOG", "chat=loud"),
            ("RATE_LIMIT_LOGIN", "5 per minute"),
            ("RATE_LIMIT_MESSAGES", "0/60s"),
            ("RATE_LIMIT_STOCK", "10/0s"),
            ("MAX_CONNECTIONS", "0"),
            ("ROOM_WRITERS", "0"),
            ("ROOM_WRITERS", "65"),
            ("WS_IDLE_TIMEOUT", "soon"),
            ("SHUTDOWN_GRACE", "3601"),
            ("MAX_CONCURRENT_UPLOADS", "9"),
            ("MAX_UPLOAD_BYTES", "0"),
            ("UPLOAD_TIMEOUT", "forever"),
        ] {
            let error = config(&[(var, value)]).expect_err(value);
            assert_eq!(error.exit_code(), 2);
            let text = error.to_string();
            assert!(text.starts_with("error: ") && text.contains(var), "{text}");
        }
    }

    #[test]
    fn passwords_in_refused_urls_are_not_printed() {
        for (var, url) in [
            ("DATABASE_URL", "postgres://chat:hunter2@db:5432"),
            ("DATABASE_URL", "postgres://chat:hunter2@db/chat?sslmode=sometimes"),
            ("RABBITMQ_URL", "amqp://guest:hunter2@rabbit:notaport/%2f"),
        ] {
            let text = config(&[(var, url)]).unwrap_err().to_string();
            assert!(text.contains(var) && !text.contains("hunter2"), "{text}");
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
            assert!(config(&[(variable, bad)]).unwrap_err().to_string().contains(variable));
        }
    }
}
