//! The Stooq client: one pooled HTTPS client (hyper-rustls over hyper-util's
//! legacy client, so connections are reused), timeouts and retries inside the
//! answer budget, and a circuit breaker shared by every lookup.
//!
//! - [`retry`]: attempts, per-attempt timeouts and backoff within a deadline.
//! - [`breaker`]: stops asking a Stooq that keeps failing, for a cool-down.

mod breaker;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::header::USER_AGENT;
use hyper::{Request, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use service::backoff::Backoff;
use tokio::time::Instant;

use self::breaker::Breaker;
use self::retry::{Attempt, Policy};
use crate::answer::{Answer, Unavailable};
use crate::parse::{MAX_BODY_BYTES, classify};
use crate::quotes::QuoteSource;

/// How hard a lookup tries: three attempts of at most 1.5 s each, 100 ms
/// then 200 ms apart (halved at random), all within the deadline.
const POLICY: Policy = Policy {
    max_attempts: 3,
    attempt_timeout: Duration::from_millis(1500),
    min_attempt: Duration::from_millis(100),
    backoff: Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) },
};
/// Consecutive failed attempts that open the circuit.
const BREAKER_THRESHOLD: u32 = 5;
/// How long an open circuit answers "unavailable" without asking Stooq.
const BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);
/// Idle connections kept per host: about the number of concurrent commands.
const MAX_IDLE_PER_HOST: usize = 32;
/// How long an idle connection is kept for reuse.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How the bot introduces itself.
const USER_AGENT_VALUE: &str = concat!("chat-stock-bot/", env!("CARGO_PKG_VERSION"));

/// Asks Stooq for quotes. Cheap to share: every lookup uses the same pool and breaker.
#[derive(Debug)]
pub struct Stooq {
    /// The pooled HTTP(S) client.
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// `STOOQ_API_URL` without a trailing slash.
    base_url: String,
    /// `STOOQ_API_KEY`, URL-safe.
    api_key: Option<String>,
    /// Shared by every lookup of the process.
    breaker: Breaker,
}

impl Stooq {
    /// Builds the client; `base_url` and `api_key` come from a validated [`crate::Config`].
    pub fn new(base_url: &str, api_key: Option<&str>) -> Result<Arc<Self>, crate::Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(POLICY.attempt_timeout));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .build(https);
        Ok(Arc::new(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.map(str::to_owned),
            breaker: Breaker::new(BREAKER_THRESHOLD, BREAKER_COOL_DOWN),
        }))
    }

    /// Looks `code` up (a valid stock code), answering no later than `deadline`.
    async fn lookup(&self, code: &str, deadline: Instant) -> Answer {
        let Ok(uri) = self.quote_uri(code).parse::<Uri>() else {
            return Answer::Unavailable(Unavailable::Malformed);
        };
        retry::run(&POLICY, &self.breaker, deadline, || self.attempt(uri.clone())).await
    }

    /// `GET {base}/q/l/?s=<code, lower-case>&f=sd2t2ohlcv&h&e=csv[&apikey=KEY]`.
    fn quote_uri(&self, code: &str) -> String {
        let code = code.to_ascii_lowercase();
        let mut uri = format!("{}/q/l/?s={code}&f=sd2t2ohlcv&h&e=csv", self.base_url);
        if let Some(key) = &self.api_key {
            uri.push_str("&apikey=");
            uri.push_str(key);
        }
        uri
    }

    /// One request; the caller bounds it in time.
    async fn attempt(&self, uri: Uri) -> Attempt {
        let request = Request::get(uri).header(USER_AGENT, USER_AGENT_VALUE).body(Empty::new());
        let Ok(request) = request else {
            return Attempt::Done(Answer::Unavailable(Unavailable::Malformed));
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%error, "Stooq request failed");
                return Attempt::Retry(Unavailable::Transport);
            }
        };
        let status = response.status();
        if status.is_server_error() {
            return Attempt::Retry(Unavailable::Status(status.as_u16()));
        }
        if !status.is_success() {
            return Attempt::Done(Answer::Unavailable(Unavailable::Status(status.as_u16())));
        }
        match Limited::new(response.into_body(), MAX_BODY_BYTES).collect().await {
            Ok(body) => Attempt::Done(classify(&body.to_bytes())),
            Err(error) if error.is::<LengthLimitError>() => {
                Attempt::Done(Answer::Unavailable(Unavailable::Oversized))
            }
            Err(error) => {
                tracing::debug!(%error, "Stooq body failed");
                Attempt::Retry(Unavailable::Transport)
            }
        }
    }
}

impl QuoteSource for Stooq {
    fn lookup<'a>(&'a self, code: &'a str, deadline: Instant) -> BoxFuture<'a, Answer> {
        Box::pin(Stooq::lookup(self, code, deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_the_documented_url() {
        let stooq = Stooq::new("https://stooq.com/", None).expect("client");
        assert_eq!(
            stooq.quote_uri("AAPL.US"),
            "https://stooq.com/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv"
        );
        let keyed = Stooq::new("http://127.0.0.1:9", Some("k3y")).expect("client");
        assert_eq!(
            keyed.quote_uri("msft.us"),
            "http://127.0.0.1:9/q/l/?s=msft.us&f=sd2t2ohlcv&h&e=csv&apikey=k3y"
        );
    }
}
