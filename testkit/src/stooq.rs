//! A fake Stooq: answers the bot's quote URL from the recorded bodies in
//! `testkit/fixtures/stooq/`, and can be switched to the ways the real one fails.
//!
//! `GET /q/l/?s=<code>&f=sd2t2ohlcv&h&e=csv` answers, in [`Mode::Quotes`],
//! `aapl.us` with `quote-aapl.csv`, `msft.us` with `quote-msft-lf.csv` (LF line
//! ends) and any other code with `unknown-symbol.csv`, its symbol replaced by
//! the code upper-cased, as Stooq echoes it. Any other path or query is a 404,
//! so a test notices when the bot asks the wrong URL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Apple, CRLF line ends.
pub const QUOTE_AAPL: &str = include_str!("../fixtures/stooq/quote-aapl.csv");
/// Microsoft, LF line ends.
pub const QUOTE_MSFT_LF: &str = include_str!("../fixtures/stooq/quote-msft-lf.csv");
/// An unknown symbol (`XXXX.US`): every field after the symbol is `N/D`.
pub const UNKNOWN_SYMBOL: &str = include_str!("../fixtures/stooq/unknown-symbol.csv");
/// The daily quota is used up: plain text, no CSV.
pub const QUOTA_EXCEEDED: &str = include_str!("../fixtures/stooq/quota-exceeded.txt");
/// A JavaScript challenge page served instead of the CSV.
pub const CHALLENGE_HTML: &str = include_str!("../fixtures/stooq/challenge.html");

/// What the fake answers to a well-formed quote request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The recorded quote bodies (the default).
    Quotes,
    /// `quota-exceeded.txt`, with status 200 as the real one.
    Quota,
    /// `challenge.html`, with status 200 as the real one.
    Challenge,
    /// Never answer; the connection stays open.
    Hang,
}

/// How a request chosen by [`FakeStooq::fail_next`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Answer 500 Internal Server Error.
    ServerError,
    /// Close the connection without answering.
    DropConnection,
}

/// The switches, shared by every connection.
#[derive(Debug)]
struct State {
    /// What well-formed requests get, once the failures are used up.
    mode: Mutex<Mode>,
    /// How many of the next requests fail, and how.
    failures: Mutex<(usize, Failure)>,
    /// Every request received, whatever its answer.
    requests: AtomicUsize,
    /// The query string of the latest request.
    last_query: Mutex<Option<String>>,
}

/// A running fake Stooq on `127.0.0.1:<random port>`; stops when dropped.
#[derive(Debug)]
pub struct FakeStooq {
    /// Where it listens.
    addr: SocketAddr,
    /// The switches the test flips.
    state: Arc<State>,
    /// The accept loop; it owns every connection task, so aborting it stops all.
    server: JoinHandle<()>,
}

impl FakeStooq {
    /// Binds a port and starts serving in [`Mode::Quotes`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Stooq");
        let addr = listener.local_addr().expect("fake Stooq address");
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Quotes),
            failures: Mutex::new((0, Failure::ServerError)),
            requests: AtomicUsize::new(0),
            last_query: Mutex::new(None),
        });
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self { addr, state, server }
    }

    /// The base URL, for `STOOQ_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches what well-formed requests get from now on.
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.state.mode) = mode;
    }

    /// Makes the next `count` requests fail with `failure`, then answers again.
    pub fn fail_next(&self, count: usize, failure: Failure) {
        *lock(&self.state.failures) = (count, failure);
    }

    /// How many requests arrived so far, failed ones included.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The query string of the latest request, e.g. `s=aapl.us&f=sd2t2ohlcv&h&e=csv`.
    pub fn last_query(&self) -> Option<String> {
        lock(&self.state.last_query).clone()
    }
}

impl Drop for FakeStooq {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts connections until aborted; dropping the `JoinSet` aborts them all.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _peer)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&state), request));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// An error that makes hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

/// Answers one request according to the switches.
async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let query = request.uri().query().unwrap_or_default().to_owned();
    *lock(&state.last_query) = Some(query.clone());

    let failure = {
        let mut failures = lock(&state.failures);
        (failures.0 > 0).then(|| {
            failures.0 -= 1;
            failures.1
        })
    };
    match failure {
        Some(Failure::ServerError) => return Ok(reply(StatusCode::INTERNAL_SERVER_ERROR, "oops")),
        Some(Failure::DropConnection) => return Err(Dropped),
        None => {}
    }

    let Some(code) = quote_code(request.uri().path(), &query) else {
        return Ok(reply(StatusCode::NOT_FOUND, "Not Found"));
    };
    let mode = *lock(&state.mode);
    let body = match mode {
        Mode::Quotes => quote_body(&code),
        Mode::Quota => QUOTA_EXCEEDED.to_owned(),
        Mode::Challenge => CHALLENGE_HTML.to_owned(),
        Mode::Hang => std::future::pending().await,
    };
    Ok(reply(StatusCode::OK, body))
}

/// The code asked for, when the path and query are exactly the bot's quote request.
fn quote_code(path: &str, query: &str) -> Option<String> {
    if path != "/q/l/" {
        return None;
    }
    let mut code = None;
    let (mut fields, mut header, mut csv) = (false, false, false);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("s", value)) if !value.is_empty() => code = Some(value.to_owned()),
            Some(("f", "sd2t2ohlcv")) => fields = true,
            Some(("e", "csv")) => csv = true,
            Some(("apikey", _)) => {}
            None if pair == "h" => header = true,
            _ => return None,
        }
    }
    code.filter(|_| fields && header && csv)
}

/// The recorded body for `code`, or the `N/D` body naming it.
fn quote_body(code: &str) -> String {
    match code {
        "aapl.us" => QUOTE_AAPL.to_owned(),
        "msft.us" => QUOTE_MSFT_LF.to_owned(),
        other => UNKNOWN_SYMBOL.replace("XXXX.US", &other.to_ascii_uppercase()),
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_the_bot_quote_request() {
        let query = "s=aapl.us&f=sd2t2ohlcv&h&e=csv";
        assert_eq!(quote_code("/q/l/", query).as_deref(), Some("aapl.us"));
        let keyed = "s=aapl.us&f=sd2t2ohlcv&h&e=csv&apikey=k";
        assert_eq!(quote_code("/q/l/", keyed).as_deref(), Some("aapl.us"));
        assert_eq!(quote_code("/q/l", query), None);
        assert_eq!(quote_code("/q/l/", "s=aapl.us&f=sd2t2ohlcv&e=csv"), None);
        assert_eq!(quote_code("/q/l/", "s=&f=sd2t2ohlcv&h&e=csv"), None);
        assert_eq!(quote_code("/q/l/", "s=aapl.us&f=sd2t2ohlcv&h&e=json"), None);
    }

    #[test]
    fn echoes_unknown_symbols_upper_cased() {
        assert_eq!(quote_body("aapl.us"), QUOTE_AAPL);
        assert!(quote_body("zzz.us").contains("ZZZ.US,N/D"));
        assert!(QUOTE_AAPL.ends_with("\r\n") && !QUOTE_MSFT_LF.contains('\r'));
    }
}
