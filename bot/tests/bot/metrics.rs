//! The metrics endpoint: `GET /metrics` counts the commands and the Stooq
//! requests, `GET /health` answers, and both stop with the bot.
//!
//! The recorder is process-wide: these tests count on nextest running each
//! test in its own process (the project's runner), and still assert deltas.

use std::net::SocketAddr;
use std::time::Duration;

use testkit::stooq::{Failure, Mode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::is_unavailable_reply;
use crate::support::{Harness, InProcessBot, REPLY_WAIT};

const QUOTES: &str = r#"stock_requests_total{outcome="quote"}"#;
const NOT_FOUND: &str = r#"stock_requests_total{outcome="not_found"}"#;
const UNAVAILABLE: &str = r#"stock_requests_total{outcome="unavailable"}"#;
const INVALID: &str = r#"stock_requests_total{outcome="invalid"}"#;
const DURATIONS: &str = "stock_request_duration_seconds_count";
const STOOQ_OK: &str = r#"stooq_requests_total{result="ok"}"#;
const STOOQ_ERROR: &str = r#"stooq_requests_total{result="error"}"#;
const STOOQ_TIMEOUT: &str = r#"stooq_requests_total{result="timeout"}"#;
const CIRCUIT_OPEN: &str = "stooq_circuit_open";

/// A bot serving its metrics on a free port.
async fn start(harness: &Harness) -> (InProcessBot, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr = listener.local_addr().expect("the bound address");
    (InProcessBot::spawn_with_metrics(harness.config(), listener), addr)
}

/// `GET path` over a fresh connection: the status code, the head, the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the metrics endpoint");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

/// The value of one series (`name` or `name{labels}`) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes until every `(series, value)` holds. A reply reaches the test as
/// soon as the broker has it, a moment before the bot hears the confirm and
/// counts it, hence the polling.
async fn scrape_until(addr: SocketAddr, expected: &[(&str, f64)]) -> String {
    let deadline = tokio::time::Instant::now() + REPLY_WAIT;
    loop {
        let (status, head, text) = get(addr, "/metrics").await;
        assert_eq!(status, 200, "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: text/plain"), "{head}");
        if expected.iter().all(|&(series, value)| sample(&text, series) == Some(value)) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected {expected:?} in:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The current value of every series in `names`, each present from the start.
async fn values(addr: SocketAddr, names: &[&str]) -> Vec<f64> {
    let (_, _, text) = get(addr, "/metrics").await;
    names
        .iter()
        .map(|name| sample(&text, name).unwrap_or_else(|| panic!("{name} missing from:\n{text}")))
        .collect()
}

#[tokio::test]
async fn counts_each_kind_of_answer_and_the_stooq_requests() {
    let mut harness = Harness::start().await;
    let (bot, addr) = start(&harness).await;
    let names = [QUOTES, NOT_FOUND, INVALID, DURATIONS, STOOQ_OK];
    let before = values(addr, &names).await;

    for code in ["AAPL.US", "nope.us", "AAPL US; DROP"] {
        let command = harness.ask(code).await;
        harness.reply_to(&command).await;
    }
    harness.publish(&serde_json::json!({"not": "a command"})).await;

    let increments = [1.0, 1.0, 2.0, 3.0, 2.0];
    let expected: Vec<_> =
        names.iter().zip(before.iter().zip(increments)).map(|(&n, (b, i))| (n, b + i)).collect();
    let text = scrape_until(addr, &expected).await;
    assert_eq!(sample(&text, CIRCUIT_OPEN), Some(0.0));
    assert!(text.contains("stock_request_duration_seconds_bucket{le=\"5\"}"), "{text}");
    assert!(text.contains("# TYPE stock_requests_total counter"), "{text}");
    assert!(text.contains("process_cpu_seconds_total"), "{text}");
    assert!(text.contains("build_info{binary=\"bot\""), "{text}");

    let (status, head, body) = get(addr, "/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#), "{head}");
    assert_eq!(get(addr, "/nothing-here").await.0, 404);
    bot.stop().await;
    assert!(TcpStream::connect(addr).await.is_err(), "the endpoint stops with the bot");
}

#[tokio::test]
async fn shows_failing_requests_and_the_open_circuit() {
    let mut harness = Harness::start().await;
    harness.stooq.fail_next(usize::MAX, Failure::ServerError);
    let (bot, addr) = start(&harness).await;
    let before = values(addr, &[UNAVAILABLE, STOOQ_ERROR]).await;
    let (unavailable, errors) = (before[0], before[1]);
    for _ in 0..2 {
        let command = harness.ask("AAPL.US").await;
        let content = harness.reply_to(&command).await;
        assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    }
    // Every request Stooq saw failed, and enough of them opened the circuit.
    let failed = harness.stooq.requests() as f64;
    let expected =
        [(UNAVAILABLE, unavailable + 2.0), (STOOQ_ERROR, errors + failed), (CIRCUIT_OPEN, 1.0)];
    scrape_until(addr, &expected).await;
    bot.stop().await;
}

#[tokio::test]
async fn counts_timeouts_of_a_hanging_stooq() {
    let mut harness = Harness::start().await;
    harness.stooq.set_mode(Mode::Hang);
    let (bot, addr) = start(&harness).await;
    let timeouts = values(addr, &[STOOQ_TIMEOUT]).await[0];
    let command = harness.ask("AAPL.US").await;
    let content = harness.reply_to(&command).await;
    assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    let asked = harness.stooq.requests() as f64;
    assert!(asked >= 1.0);
    scrape_until(addr, &[(STOOQ_TIMEOUT, timeouts + asked)]).await;
    bot.stop().await;
}

#[tokio::test]
async fn refuses_other_methods_and_paths() {
    let harness = Harness::start().await;
    let (bot, addr) = start(&harness).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(response.to_ascii_lowercase().contains("allow: get"), "{response}");
    assert_eq!(get(addr, "/metrics/extra").await.0, 404);
    bot.stop().await;
}
