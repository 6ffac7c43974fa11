//! One command in, one reply out, for every kind of answer Stooq gives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bot::answer::{Answer, Quote};
use bot::quotes::QuoteSource;
use futures_util::future::BoxFuture;
use testkit::stooq::Mode;
use tokio::time::Instant;

use crate::is_unavailable_reply;
use crate::support::{Harness, InProcessBot};

#[tokio::test]
async fn answers_a_quote() {
    let mut harness = Harness::start().await;
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL.US").await;
    assert_eq!(harness.reply_to(&command).await, "AAPL.US quote is $181.18 per share");
    let query = harness.stooq.last_query();
    assert_eq!(query.as_deref(), Some("s=aapl.us&f=sd2t2ohlcv&h&e=csv"), "the documented URL");
    bot.stop().await;
}

#[tokio::test]
async fn answers_a_quote_with_lf_line_ends() {
    let mut harness = Harness::start().await;
    let bot = harness.spawn_bot();
    let command = harness.ask("msft.us").await;
    assert_eq!(harness.reply_to(&command).await, "MSFT.US quote is $367.75 per share");
    bot.stop().await;
}

#[tokio::test]
async fn says_when_no_quote_exists() {
    let mut harness = Harness::start().await;
    let bot = harness.spawn_bot();
    let command = harness.ask("nope.us").await;
    let content = harness.reply_to(&command).await;
    assert!(content.contains("No quote was found for NOPE.US"), "{content}");
    bot.stop().await;
}

#[tokio::test]
async fn says_unavailable_when_over_quota() {
    let mut harness = Harness::start().await;
    harness.stooq.set_mode(Mode::Quota);
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL.US").await;
    let content = harness.reply_to(&command).await;
    assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    assert_eq!(harness.stooq.requests(), 1, "a quota answer is not retried");
    bot.stop().await;
}

#[tokio::test]
async fn says_unavailable_for_an_html_challenge() {
    let mut harness = Harness::start().await;
    harness.stooq.set_mode(Mode::Challenge);
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL.US").await;
    let content = harness.reply_to(&command).await;
    assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    bot.stop().await;
}

#[tokio::test]
async fn sends_the_api_key_when_configured() {
    let mut harness = Harness::start().await;
    let config = bot::Config { stooq_api_key: Some("k3y".into()), ..harness.config() };
    let bot = InProcessBot::spawn(config);
    let command = harness.ask("AAPL.US").await;
    assert_eq!(harness.reply_to(&command).await, "AAPL.US quote is $181.18 per share");
    let query = harness.stooq.last_query().unwrap_or_default();
    assert!(query.ends_with("&apikey=k3y"), "{query}");
    bot.stop().await;
}

#[tokio::test]
async fn refuses_an_invalid_code_without_asking_stooq() {
    let mut harness = Harness::start().await;
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL US; DROP").await;
    let content = harness.reply_to(&command).await;
    assert!(content.contains("not a valid stock code"), "{content}");
    assert_eq!(harness.stooq.requests(), 0);
    bot.stop().await;
}

#[tokio::test]
async fn drops_a_malformed_command_and_carries_on() {
    let mut harness = Harness::start().await;
    let bot = harness.spawn_bot();
    harness.publish(&serde_json::json!({"code": "AAPL.US"})).await;
    harness.publish("not a command").await;
    let command = harness.ask("AAPL.US").await;
    assert_eq!(harness.reply_to(&command).await, "AAPL.US quote is $181.18 per share");
    harness.assert_no_reply_for(Duration::from_secs(1)).await;
    bot.stop().await;
    assert_eq!(harness.commands_waiting().await, 0, "the malformed commands were acked");
}

/// A quote source other than Stooq: a fixed price per code, and the codes asked.
#[derive(Debug, Default)]
struct FixedPrices {
    asked: Mutex<Vec<String>>,
}

impl QuoteSource for FixedPrices {
    fn lookup<'a>(&'a self, code: &'a str, _deadline: Instant) -> BoxFuture<'a, Answer> {
        self.asked.lock().expect("not poisoned").push(code.to_owned());
        let answer = match code {
            "ACME.US" => Answer::Quote(Quote { symbol: code.into(), close: "12.5".into() }),
            _ => Answer::NotFound,
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn another_quote_source_plugs_in_without_stooq() {
    let mut harness = Harness::start().await;
    let prices = Arc::new(FixedPrices::default());
    let bot = InProcessBot::spawn_with_source(harness.config(), prices.clone());
    let command = harness.ask("ACME.US").await;
    assert_eq!(harness.reply_to(&command).await, "ACME.US quote is $12.5 per share");
    let command = harness.ask("NOPE.US").await;
    assert!(harness.reply_to(&command).await.contains("No quote was found for NOPE.US"));
    let command = harness.ask("a/b").await;
    assert!(harness.reply_to(&command).await.contains("a/b"), "an invalid code is refused");
    let asked = prices.asked.lock().expect("not poisoned").clone();
    assert_eq!(asked, ["ACME.US", "NOPE.US"], "invalid codes never reach the source");
    assert_eq!(harness.stooq.requests(), 0, "Stooq is not asked");
    bot.stop().await;
}
