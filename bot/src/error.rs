//! The library's error type: what can stop the bot.

/// Why the bot cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TLS client for Stooq could not be set up.
    #[error("cannot set up TLS for Stooq: {0}")]
    Tls(#[from] rustls::Error),
    /// The broker refused something that retrying will not fix (an invalid URL).
    #[error("RabbitMQ: {0}")]
    Broker(#[from] service::amqp::lapin::Error),
}
