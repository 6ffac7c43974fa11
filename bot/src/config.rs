//! The bot's configuration: read from flags and environment variables (see
//! `bot --help`) and fully validated before anything connects.

use std::ffi::OsString;
use std::net::SocketAddr;

use clap::Parser;
pub use service::cli::Configuration;

use hyper::Uri;

/// The local broker, default vhost.
pub const DEFAULT_RABBITMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The real quote service.
pub const DEFAULT_STOOQ_API_URL: &str = "https://stooq.com";
/// Where `GET /metrics` and `GET /health` are served; beside chat's 8080.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9101";
/// Log everything at `info` and above.
pub const DEFAULT_RUST_LOG: &str = "info";

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

/// `bot`'s command line; each option is also the environment variable in
/// capitals (`--stooq-api-url`, `STOOQ_API_URL`).
#[derive(Debug, Parser)]
#[command(
    name = "bot",
    version,
    about = "Answers /stock=CODE commands from RabbitMQ with quotes from Stooq. \
             Stops gracefully on SIGTERM or SIGINT.",
    after_help = service::cli::ENVIRONMENT_NOTE
)]
struct Args {
    /// AMQP URL of the broker, amqp:// or amqps:// (TLS; ?cacertfile=FILE
    /// adds a PEM file of trusted CAs to the public roots).
    #[arg(long, env, default_value = DEFAULT_RABBITMQ_URL)]
    rabbitmq_url: String,
    /// Base URL of the quote service.
    #[arg(long, env, default_value = DEFAULT_STOOQ_API_URL, value_parser = check_base_url)]
    stooq_api_url: String,
    /// Optional key, sent as &apikey= (letters, digits and -._~).
    #[arg(long, env)]
    stooq_api_key: Option<String>,
    /// IP:port serving GET /metrics (Prometheus text) and GET /health, or off.
    #[arg(long, env, default_value = DEFAULT_METRICS_ADDR, value_parser = parse_metrics_addr)]
    bot_metrics_addr: MetricsAddr,
    /// How log lines are written.
    #[arg(long, env, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Log filter, e.g. info or bot=debug.
    #[arg(long, env, default_value = DEFAULT_RUST_LOG, value_parser = service::cli::log_filter)]
    rust_log: String,
}

/// `BOT_METRICS_ADDR`: an address, or `None` for `off`.
#[derive(Debug, Clone, Copy)]
struct MetricsAddr(Option<SocketAddr>);

impl Config {
    /// What `bot --help` prints.
    pub fn help() -> String {
        service::cli::help::<Args>()
    }
}

impl Configuration for Config {
    const PROGRAM: &'static str = "bot";

    fn from_args(
        args: impl IntoIterator<Item = OsString>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, clap::Error> {
        let args: Args = service::cli::parse(args, lookup)?;
        // The URL and the key are checked here rather than by clap, whose
        // refusal would print them.
        if let Err(reason) = service::amqp::check_url(&args.rabbitmq_url) {
            let flag = "--rabbitmq-url <RABBITMQ_URL>";
            return Err(service::cli::refuse_url::<Args>(flag, &args.rabbitmq_url, reason));
        }
        if let Some(key) = &args.stooq_api_key
            && !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(service::cli::refuse::<Args>(
                "invalid value for '--stooq-api-key <STOOQ_API_KEY>' (not shown): \
                 only letters, digits and -._~ are allowed",
            ));
        }
        Ok(Self {
            rabbitmq_url: args.rabbitmq_url,
            stooq_api_url: args.stooq_api_url,
            stooq_api_key: args.stooq_api_key,
            metrics_addr: args.bot_metrics_addr.0,
            log_format: args.log_format,
            log_filter: args.rust_log,
        })
    }
}

fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, &'static str> {
    if text == "off" {
        return Ok(MetricsAddr(None));
    }
    text.parse().map(|addr| MetricsAddr(Some(addr))).map_err(|_| "expected IP:port or off")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, clap::Error> {
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
            assert_eq!(error.exit_code(), 2);
            let text = error.to_string();
            assert!(text.starts_with("error: ") && text.contains(name), "{text}");
        }
    }

    #[test]
    fn secrets_in_refused_values_are_not_printed() {
        for (name, value) in
            [("RABBITMQ_URL", "amqp://bot:hunter2@rabbit:port/%2f"), ("STOOQ_API_KEY", "hunter2&")]
        {
            let text = config(&[(name, value)]).unwrap_err().to_string();
            assert!(text.contains(name) && !text.contains("hunter2"), "{text}");
        }
    }
}
