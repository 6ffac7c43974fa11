//! `/stock=` end to end: chat → RabbitMQ → bot → fake Stooq → bot → RabbitMQ → chat.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::stooq::Mode;

use crate::support::{Pair, TestBot, TestServer};

fn is_bot_reply(frame: &Value, content: &str) -> bool {
    frame["is_bot"] == true && frame["username"] == "StockBot" && frame["content"] == content
}

#[tokio::test]
async fn a_quote_reaches_every_socket_in_the_room_and_the_history() {
    let server = TestServer::start().await;
    let _bot = TestBot::start(&server).await;
    let Pair { ann, room, mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;

    ann_ws.say("/stock=AAPL.US", "q").await;
    let expected = "AAPL.US quote is $181.18 per share";
    let ann_sees = ann_ws.next_of("chat_message").await;
    let bob_sees = bob_ws.next_of("chat_message").await;
    assert!(is_bot_reply(&ann_sees, expected), "{ann_sees}");
    assert_eq!(ann_sees, bob_sees);

    let history = ann.history(&room, "").await;
    assert_eq!(history.len(), 1, "the reply is stored, the command is not: {history:?}");
    assert!(is_bot_reply(&history[0], expected));

    // A lower-case code gets the symbol as Stooq names it.
    bob_ws.say("/stock=msft.us", "m").await;
    let reply = ann_ws.next_of("chat_message").await;
    assert!(is_bot_reply(&reply, "MSFT.US quote is $367.75 per share"), "{reply}");
}

#[tokio::test]
async fn unknown_symbols_and_an_unavailable_service_are_answered_in_words() {
    let server = TestServer::start().await;
    let bot = TestBot::start(&server).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;

    ws.say("/stock=XXXX.US", "n").await;
    let not_found = ws.next_of("chat_message").await;
    let text = not_found["content"].as_str().unwrap();
    assert!(text.contains("XXXX.US") && !text.contains('$'), "{text}");

    bot.stooq.set_mode(Mode::Quota);
    ws.say("/stock=AAPL.US", "q").await;
    let unavailable = ws.next_of("chat_message").await;
    let text = unavailable["content"].as_str().unwrap();
    assert!(text.contains("AAPL.US") && text.contains("unavailable"), "{text}");
    assert_ne!(not_found["content"], unavailable["content"]);
}

#[tokio::test]
async fn every_command_is_answered_exactly_once() {
    let server = TestServer::start().await;
    let _bot = TestBot::start(&server).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;

    let mut round_trips = Vec::new();
    for i in 0..200 {
        let sent = Instant::now();
        ws.say("/stock=AAPL.US", &format!("q{i}")).await;
        let reply = ws.next_of("chat_message").await;
        round_trips.push(sent.elapsed());
        assert!(is_bot_reply(&reply, "AAPL.US quote is $181.18 per share"), "{reply}");
    }
    ws.assert_quiet(Duration::from_millis(500)).await;
    let stored = server.db.query_strings("SELECT count(*) FROM messages WHERE is_bot").await;
    assert_eq!(stored, vec![Some("200".to_owned())]);

    // A figure for the log (run with --no-capture), never a pass/fail bound.
    round_trips.sort();
    let at = |q: f64| round_trips[((round_trips.len() - 1) as f64 * q) as usize];
    println!(
        "stock command -> reply over {} commands: median {:?}, p99 {:?}",
        round_trips.len(),
        at(0.5),
        at(0.99)
    );
}
