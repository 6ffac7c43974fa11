//! RabbitMQ plumbing shared by `chat` and `bot`.
//!
//! - [`connect`] opens one connection (TLS for `amqps://`, trusting also the
//!   CA file a `cacertfile` query parameter names, as in RabbitMQ's own
//!   clients); [`connect_with_retry`] keeps trying with
//!   exponential backoff and jitter, then declares the whole [topology](declare_topology).
//! - [`supervise`] keeps a process connected: it runs the process's session
//!   on each new connection and connects again whenever the session is
//!   lost, so a process survives broker restarts.
//! - [`confirm_channel`] opens a channel in publisher-confirm mode, and
//!   [`publish_json`] publishes a persistent JSON message on it and waits for
//!   the broker's confirm.
//!
//! [`lapin`] is re-exported so that every crate uses the same version.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use lapin;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionBuilder, ConnectionProperties,
    ExchangeKind,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;

use protocol::broker::{
    COMMANDS_EXCHANGE, COMMANDS_QUEUE, EVENTS_EXCHANGE, RESPONSES_EXCHANGE, RESPONSES_QUEUE,
    STOCK_ROUTING_KEY,
};

/// AMQP `delivery_mode` of a message the broker writes to disk.
const PERSISTENT: u8 = 2;
/// Content type of every message this system publishes.
const JSON: &str = "application/json";

/// The largest AMQP frame asked for when the URL names no `frame_max`:
/// lapin keeps two buffers of 32 frames per connection, which at RabbitMQ's
/// default (128 KiB) keep 8 MiB resident in an idle process; a bigger
/// message travels as several frames.
const FRAME_MAX: u32 = 16 * 1024;

/// Opens a connection to `url` (`amqp://user:pass@host:port/vhost`, or
/// `amqps://…` for TLS), named `name` in the broker's management UI. Runs on
/// the current tokio runtime.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    ConnectionBuilder::new()?
        .with_uri_str(with_frame_max(url))
        .with_properties(properties)
        .with_tls_config(tls_config(url)?)
        .connect()
        .await
}

/// `url`, asking for frames of at most [`FRAME_MAX`] unless it says otherwise.
fn with_frame_max(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.query_pairs().any(|(key, _)| key == "frame_max") => {
            parsed.query_pairs_mut().append_pair("frame_max", &FRAME_MAX.to_string());
            parsed.into()
        }
        _ => url.to_owned(),
    }
}

/// Checks `url` as [`connect`] will read it: an AMQP URL whose `cacertfile`,
/// if any, is a readable file of PEM certificates.
pub fn check_url(url: &str) -> Result<(), String> {
    url.parse::<AMQPUri>()?;
    tls_config(url).map(drop).map_err(|error| error.to_string())
}

/// The certificates `url`'s `cacertfile` query parameter names, trusted
/// besides the public roots (a private CA's broker).
fn tls_config(url: &str) -> Result<OwnedTLSConfig, std::io::Error> {
    let invalid = |reason: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason);
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("invalid AMQP URL: {e}")))?;
    let Some((_, file)) = parsed.query_pairs().find(|(key, _)| key == "cacertfile") else {
        return Ok(OwnedTLSConfig::default());
    };
    let pem =
        std::fs::read_to_string(&*file).map_err(|e| invalid(format!("cacertfile {file}: {e}")))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(format!("cacertfile {file}: no PEM certificate")));
    }
    Ok(OwnedTLSConfig { identity: None, cert_chain: Some(pem) })
}

/// Connects to `url`, retrying with `backoff` for as long as the broker is
/// unreachable or refuses us, then declares the whole topology on the new
/// connection. Fails at once only when `url` is not an AMQP URL.
///
/// Cancel-safe: drop the future to give up (e.g. on shutdown).
pub async fn connect_with_retry(
    url: &str,
    name: &str,
    backoff: Backoff,
) -> Result<Connection, lapin::Error> {
    if let Err(reason) = check_url(url) {
        let reason = format!("invalid AMQP URL: {reason}");
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason).into());
    }
    let mut attempt = 0;
    loop {
        let connected = async {
            let connection = connect(url, name).await?;
            let channel = connection.create_channel().await?;
            declare_topology(&channel).await?;
            channel.close(200, "topology declared".into()).await?;
            Ok::<_, lapin::Error>(connection)
        };
        match connected.await {
            Ok(connection) => {
                tracing::info!(attempt, "connected to RabbitMQ");
                return Ok(connection);
            }
            Err(error) => {
                let delay = backoff.delay(attempt);
                tracing::warn!(%error, attempt, ?delay, "cannot reach RabbitMQ; retrying");
                tokio::time::sleep(delay).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// How a session on a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The connection was lost: connect again.
    Lost,
    /// The process is stopping: do not connect again.
    Stopped,
}

/// A session on one connection, as [`supervise`] runs it.
pub type Session<'c, E> = Pin<Box<dyn Future<Output = Result<SessionEnd, E>> + Send + 'c>>;

/// A session that lasted this long was healthy: the pause before the next
/// connection starts its backoff from the beginning.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// Keeps the process connected to `url` (as `name`): connects with
/// [`connect_with_retry`], runs `session` on the connection, and when the
/// session is lost or fails (logged), closes the connection, pauses (with
/// [`Backoff::RECONNECT`], from the start again after a healthy session)
/// and connects again.
///
/// Returns when a session ends [`SessionEnd::Stopped`], when `shutdown` is
/// cancelled while connecting or pausing (a running session watches it
/// itself), or at once with an error when `url` is not an AMQP URL.
pub async fn supervise<E: fmt::Display>(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
    mut session: impl for<'c> FnMut(&'c Connection) -> Session<'c, E>,
) -> Result<(), lapin::Error> {
    let mut lost_in_a_row = 0;
    loop {
        let connection = tokio::select! {
            connection = connect_with_retry(url, name, Backoff::RECONNECT) => connection?,
            () = shutdown.cancelled() => return Ok(()),
        };
        let started = tokio::time::Instant::now();
        match session(&connection).await {
            Ok(SessionEnd::Stopped) => return Ok(()),
            Ok(SessionEnd::Lost) => tracing::warn!("RabbitMQ connection lost"),
            Err(error) => tracing::warn!(%error, "RabbitMQ session failed"),
        }
        let _ = connection.close(200, "reconnecting".into()).await;
        lost_in_a_row = if started.elapsed() >= HEALTHY_SESSION { 0 } else { lost_in_a_row + 1 };
        let pause = Backoff::RECONNECT.delay(lost_in_a_row);
        tracing::info!(?pause, "reconnecting to RabbitMQ");
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// Declares every exchange, queue and binding of the system, idempotently.
///
/// Both `chat` and `bot` call it on each new connection, so no message is
/// unroutable whichever process starts first:
/// durable topic `chat.commands` → durable queue `stock.commands` (key `stock`),
/// durable fanout `chat.responses` → durable queue `stock.responses`,
/// durable fanout `chat.events`.
pub async fn declare_topology(channel: &Channel) -> Result<(), lapin::Error> {
    let exchange = ExchangeDeclareOptions { durable: true, ..Default::default() };
    let queue = QueueDeclareOptions { durable: true, ..Default::default() };
    let none = FieldTable::default;

    channel
        .exchange_declare(COMMANDS_EXCHANGE.into(), ExchangeKind::Topic, exchange, none())
        .await?;
    channel.queue_declare(COMMANDS_QUEUE.into(), queue, none()).await?;
    let (commands_queue, commands_exchange) = (COMMANDS_QUEUE.into(), COMMANDS_EXCHANGE.into());
    let bind = QueueBindOptions::default();
    channel
        .queue_bind(commands_queue, commands_exchange, STOCK_ROUTING_KEY.into(), bind, none())
        .await?;

    channel
        .exchange_declare(RESPONSES_EXCHANGE.into(), ExchangeKind::Fanout, exchange, none())
        .await?;
    channel.queue_declare(RESPONSES_QUEUE.into(), queue, none()).await?;
    let (responses_queue, responses_exchange) = (RESPONSES_QUEUE.into(), RESPONSES_EXCHANGE.into());
    channel.queue_bind(responses_queue, responses_exchange, "".into(), bind, none()).await?;

    channel.exchange_declare(EVENTS_EXCHANGE.into(), ExchangeKind::Fanout, exchange, none()).await
}

/// Opens a channel in publisher-confirm mode, for [`publish_json`].
pub async fn confirm_channel(connection: &Connection) -> Result<Channel, lapin::Error> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(channel)
}

/// What the broker should do with a message no queue is bound to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unroutable {
    /// Return it: [`publish_json`] fails with [`PublishError::Returned`].
    Fail,
    /// Drop it silently (e.g. an event nobody is listening to).
    Drop,
}

/// Publishes `body` as persistent JSON to `exchange` with `routing_key` and
/// waits until the broker has confirmed it (taken responsibility for it).
///
/// `channel` must come from [`confirm_channel`].
pub async fn publish_json<T: Serialize + ?Sized>(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &T,
    unroutable: Unroutable,
) -> Result<(), PublishError> {
    let payload = serde_json::to_vec(body).map_err(PublishError::Encode)?;
    let options =
        BasicPublishOptions { mandatory: unroutable == Unroutable::Fail, ..Default::default() };
    let properties =
        BasicProperties::default().with_content_type(JSON.into()).with_delivery_mode(PERSISTENT);
    let confirmation = channel
        .basic_publish(exchange.into(), routing_key.into(), options, &payload, properties)
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(PublishError::Returned {
            reply_code: returned.reply_code,
            reply_text: returned.reply_text.to_string(),
        }),
        Confirmation::Nack(_) => Err(PublishError::Nacked),
        Confirmation::NotRequested => Err(PublishError::NotConfirmMode),
    }
}

/// Why [`publish_json`] could not hand a message to the broker.
#[derive(Debug)]
pub enum PublishError {
    /// The body could not be serialised to JSON.
    Encode(serde_json::Error),
    /// The channel or connection failed (closed, broker gone).
    Broker(lapin::Error),
    /// The broker refused to take responsibility for the message.
    Nacked,
    /// The message reached no queue and came back.
    Returned {
        /// The AMQP reply code, e.g. 312 `NO_ROUTE`.
        reply_code: u16,
        /// The broker's explanation.
        reply_text: String,
    },
    /// The channel is not in confirm mode; see [`confirm_channel`].
    NotConfirmMode,
}

impl From<lapin::Error> for PublishError {
    fn from(error: lapin::Error) -> Self {
        PublishError::Broker(error)
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Encode(error) => write!(f, "cannot encode message: {error}"),
            PublishError::Broker(error) => write!(f, "broker connection failed: {error}"),
            PublishError::Nacked => f.write_str("broker refused the message (nack)"),
            PublishError::Returned { reply_code, reply_text } => {
                write!(f, "message returned as unroutable: {reply_code} {reply_text}")
            }
            PublishError::NotConfirmMode => f.write_str("channel is not in confirm mode"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::Encode(error) => Some(error),
            PublishError::Broker(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_small_unless_the_url_asks_otherwise() {
        let uri: AMQPUri = with_frame_max("amqp://guest:guest@127.0.0.1:5672/%2f").parse().unwrap();
        assert_eq!(uri.query.frame_max, Some(FRAME_MAX));
        assert_eq!(uri.vhost, "/");
        assert_eq!(uri.authority.userinfo.username, "guest");
        let tls = "amqps://broker:5671/?cacertfile=%2Fca.pem";
        let uri: AMQPUri = with_frame_max(tls).parse().unwrap();
        assert_eq!(uri.query.frame_max, Some(FRAME_MAX));
        let own = "amqp://127.0.0.1/?frame_max=131072";
        assert_eq!(with_frame_max(own), own);
    }

    #[test]
    fn publish_errors_read_as_sentences() {
        let returned = PublishError::Returned { reply_code: 312, reply_text: "NO_ROUTE".into() };
        assert_eq!(returned.to_string(), "message returned as unroutable: 312 NO_ROUTE");
        assert_eq!(PublishError::Nacked.to_string(), "broker refused the message (nack)");
    }
}
