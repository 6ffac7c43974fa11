//! The bot's configuration: read from the environment and fully validated
//! before anything connects, so a bad value stops it with one clear line.

use std::net::SocketAddr;

use hyper::Uri;
use protocol::amqp::lapin::uri::AMQPUri;

/// The local broker, default vhost.
pub const DEFAULT_RABBITMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The real quote service.
pub const DEFAULT_STOOQ_API_URL: &str = "https://stooq.com";
/// Where `GET /metrics` and `GET /health` are served; beside chat's 8080.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9101";
/// Log everything at `info` and above.
pub const DEFAULT_RUST_LOG: &str = "info";

/// What `bot --help` prints.
pub const HELP: &str = "\
bot: answers /stock=CODE commands from RabbitMQ with quotes from Stooq.

Usage: bot [--help]

Configured by environment variables (an empty value counts as unset):
  RABBITMQ_URL      AMQP URL of the broker [default: amqp://guest:guest@127.0.0.1:5672/%2f]
  STOOQ_API_URL     base URL of the quote service [default: https://stooq.com]
  STOOQ_API_KEY     optional key, sent as &apikey= [default: unset]
  BOT_METRICS_ADDR  IP:port serving GET /metrics (Prometheus text) and GET /health,
                    or off [default: 127.0.0.1:9101]
  LOG_FORMAT        json or pretty [default: json]
  RUST_LOG          log filter, e.g. info or bot=debug [default: info]

Stops gracefully on SIGTERM or SIGINT.
";

pub use service::LogFormat;

/// Everything the bot needs to run, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The broker to consume commands from and publish replies to.
    pub rabbitmq_url: String,
    /// Base URL of Stooq, without a trailing slash; the quote path is appended.
    pub stooq_api_url: String,
    /// Sent as `&apikey=` when set; only URL-safe characters.
    pub stooq_api_key: Option<String>,
    /// Where the metrics endpoint listens; `None` when `BOT_METRICS_ADDR=off`.
    pub metrics_addr: Option<SocketAddr>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `RUST_LOG`, a valid `tracing` filter.
    pub log_filter: String,
}

/// A configuration variable with a value the bot cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, and what is expected.
    pub reason: String,
}

impl Config {
    /// Reads and validates the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads and validates variables from `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());

        let rabbitmq_url = get("RABBITMQ_URL").unwrap_or_else(|| DEFAULT_RABBITMQ_URL.to_owned());
        if let Err(reason) = rabbitmq_url.parse::<AMQPUri>() {
            return Err(invalid("RABBITMQ_URL", format!("{reason} in {rabbitmq_url:?}")));
        }

        let stooq_api_url =
            get("STOOQ_API_URL").unwrap_or_else(|| DEFAULT_STOOQ_API_URL.to_owned());
        let stooq_api_url = check_base_url(&stooq_api_url)
            .map_err(|reason| invalid("STOOQ_API_URL", format!("{reason} in {stooq_api_url:?}")))?;

        let stooq_api_key = get("STOOQ_API_KEY");
        if let Some(key) = &stooq_api_key
            && !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            let reason = "only letters, digits and -._~ are allowed".to_owned();
            return Err(invalid("STOOQ_API_KEY", reason));
        }

        let metrics_addr = match get("BOT_METRICS_ADDR").as_deref() {
            Some("off") => None,
            value => {
                let value = value.unwrap_or(DEFAULT_METRICS_ADDR);
                let addr = value.parse::<SocketAddr>().map_err(|_| {
                    invalid("BOT_METRICS_ADDR", format!("expected IP:port or off, got {value:?}"))
                })?;
                Some(addr)
            }
        };

        let log_format = match get("LOG_FORMAT") {
            None => LogFormat::Json,
            Some(text) => {
                text.parse().map_err(|e| invalid("LOG_FORMAT", format!("{e}, got {text:?}")))?
            }
        };

        let log_filter = get("RUST_LOG").unwrap_or_else(|| DEFAULT_RUST_LOG.to_owned());
        if let Err(error) = service::check_filter(&log_filter) {
            return Err(invalid("RUST_LOG", format!("{error} in {log_filter:?}")));
        }

        Ok(Self {
            rabbitmq_url,
            stooq_api_url,
            stooq_api_key,
            metrics_addr,
            log_format,
            log_filter,
        })
    }
}

/// Checks an `http(s)://host[:port][/path]` URL and drops its trailing slashes.
fn check_base_url(url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("expected an http:// or https:// URL".to_owned());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("expected a host".to_owned());
    }
    if uri.query().is_some() {
        return Err("expected no query string".to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn invalid(variable: &'static str, reason: String) -> ConfigError {
    ConfigError { variable, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_run_against_local_services() {
        let config = config(&[("STOOQ_API_KEY", "")]).expect("defaults are valid");
        assert_eq!(config.rabbitmq_url, DEFAULT_RABBITMQ_URL);
        assert_eq!(config.stooq_api_url, "https://stooq.com");
        assert_eq!(config.stooq_api_key, None);
        assert_eq!(config.metrics_addr, Some(SocketAddr::from(([127, 0, 0, 1], 9101))));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.log_filter, "info");
    }

    #[test]
    fn reads_every_variable() {
        let config = config(&[
            ("RABBITMQ_URL", "amqp://u:p@rabbit:5672/chat"),
            ("STOOQ_API_URL", "http://127.0.0.1:9000/"),
            ("STOOQ_API_KEY", "s3cr-et"),
            ("BOT_METRICS_ADDR", "[::1]:0"),
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "bot=debug,lapin=warn"),
        ])
        .expect("valid");
        assert_eq!(config.stooq_api_url, "http://127.0.0.1:9000");
        assert_eq!(config.stooq_api_key.as_deref(), Some("s3cr-et"));
        assert_eq!(config.metrics_addr, Some(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 0))));
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn metrics_can_be_turned_off() {
        let off = config(&[("BOT_METRICS_ADDR", "off")]).expect("valid");
        assert_eq!(off.metrics_addr, None);
    }

    #[test]
    fn names_the_bad_variable() {
        for (name, value) in [
            ("RABBITMQ_URL", "http://rabbit"),
            ("STOOQ_API_URL", "stooq.com"),
            ("STOOQ_API_URL", "ftp://stooq.com"),
            ("STOOQ_API_URL", "https://stooq.com/?x=1"),
            ("STOOQ_API_KEY", "a&b=c"),
            ("BOT_METRICS_ADDR", "localhost:9101"),
            ("BOT_METRICS_ADDR", "127.0.0.1"),
            ("BOT_METRICS_ADDR", "OFF "),
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "bot=loud"),
        ] {
            let error = config(&[(name, value)]).expect_err(value);
            assert_eq!(error.variable, name);
            let line = error.to_string();
            assert!(
                line.starts_with(&format!("invalid {name}: ")) && !line.contains('\n'),
                "{line}"
            );
        }
    }

    #[test]
    fn help_lists_every_variable() {
        let names =
            ["RABBITMQ_URL", "STOOQ_API_URL", "STOOQ_API_KEY", "BOT_METRICS_ADDR", "LOG_FORMAT"];
        for name in names.into_iter().chain(["RUST_LOG"]) {
            assert!(HELP.contains(name), "{name}");
        }
    }
}
