//! A Stooq that hangs or fails: the reply still comes, in time, retried when
//! a retry can help, and at once while the circuit is open.

use testkit::stooq::{Failure, Mode};

use crate::is_unavailable_reply;
use crate::support::Harness;

#[tokio::test]
async fn a_hanging_stooq_gets_an_unavailable_reply_within_the_budget() {
    let mut harness = Harness::start().await;
    harness.stooq.set_mode(Mode::Hang);
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL.US").await;
    // `reply_to` waits 20 s at most; without timeouts no reply would ever come.
    let content = harness.reply_to(&command).await;
    assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    assert!(harness.stooq.requests() >= 2, "a timed-out attempt is retried");
    bot.stop().await;
}

/// Stooq fails twice with `failure`, then answers: the third attempt's quote is the reply.
async fn answers_after_two_failures(failure: Failure) {
    let mut harness = Harness::start().await;
    harness.stooq.fail_next(2, failure);
    let bot = harness.spawn_bot();
    let command = harness.ask("AAPL.US").await;
    assert_eq!(harness.reply_to(&command).await, "AAPL.US quote is $181.18 per share");
    assert_eq!(harness.stooq.requests(), 3);
    bot.stop().await;
}

#[tokio::test]
async fn retries_server_errors() {
    answers_after_two_failures(Failure::ServerError).await;
}

#[tokio::test]
async fn retries_dropped_connections() {
    answers_after_two_failures(Failure::DropConnection).await;
}

#[tokio::test]
async fn an_open_circuit_answers_without_asking_stooq() {
    let mut harness = Harness::start().await;
    harness.stooq.fail_next(usize::MAX, Failure::ServerError);
    let bot = harness.spawn_bot();
    for _ in 0..2 {
        let command = harness.ask("AAPL.US").await;
        let content = harness.reply_to(&command).await;
        assert!(is_unavailable_reply(&content, "AAPL.US"), "{content}");
    }
    let asked = harness.stooq.requests();
    let command = harness.ask("MSFT.US").await;
    let content = harness.reply_to(&command).await;
    assert!(is_unavailable_reply(&content, "MSFT.US"), "{content}");
    assert_eq!(harness.stooq.requests(), asked, "the open circuit kept Stooq out of it");
    bot.stop().await;
}
