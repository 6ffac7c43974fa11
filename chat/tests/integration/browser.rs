//! The chat page in real headless Chromium, against the real server: people
//! register, meet in a room and talk; the stock bot answers; markup stays
//! text; history pages back; a page that loses the network catches up.
//!
//! Each test starts its own chromedriver and one browser (a WebDriver session
//! with a fresh profile) per person. Without Chromium and chromedriver
//! (Debian's `chromium` and `chromium-driver`) the tests say so and pass,
//! unless `REQUIRE_BROWSER=1` (as `.ci/run` sets) makes that a failure.

mod chrome;
mod page;

use std::path::Path;

use bot::{Config as BotConfig, LogFormat};
use serde_json::json;
use testkit::database::TestDatabase;
use testkit::rabbit::TestVhost;
use testkit::stooq::FakeStooq;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use self::chrome::Chromedriver;
use self::page::{Page, Shown, contents};
use crate::support::{PATIENCE, TestServer, Ws};

/// Starts chromedriver, or returns from the test (skipping it) when the
/// browser is not installed and not required.
macro_rules! chromedriver_or_skip {
    ($test:literal) => {
        match Chromedriver::start($test).await {
            Some(driver) => driver,
            None => return,
        }
    };
}

/// Asserts that `shown` holds each of `expected` exactly once, in that
/// order, confirmed (stored), and nothing else between them.
fn assert_exactly_once_in_order(who: &str, shown: &[Shown], expected: &[&str]) {
    for content in expected {
        let count = shown.iter().filter(|m| m.content == *content).count();
        assert_eq!(count, 1, "[{who}] {content:?} shown {count} times: {:?}", contents(shown));
    }
    let found: Vec<&str> =
        contents(shown).into_iter().filter(|content| expected.contains(content)).collect();
    assert_eq!(found, expected, "[{who}] order");
    assert!(
        shown.iter().all(|m| m.id.is_some() && m.status == "sent"),
        "[{who}] every message confirmed: {shown:?}"
    );
}

/// Sends `content` from a harness WebSocket and waits for its acknowledgement.
async fn say_and_wait(ws: &mut Ws, content: &str) {
    let client_id = uuid::Uuid::new_v4().to_string();
    ws.say(content, &client_id).await;
    loop {
        let frame = ws.next_of("chat_message").await;
        if frame["client_id"] == client_id.as_str() {
            return;
        }
    }
}

#[tokio::test]
async fn two_people_register_meet_in_a_room_and_talk_live() {
    let driver = chromedriver_or_skip!("two_people_register_meet_in_a_room_and_talk_live");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    let bob = Page::open(&driver, "bob", &server.url("/")).await;

    alice.register().await;
    alice.create_room("Lobby").await;
    bob.register().await;
    bob.join_room("Lobby").await;

    // Alice sees Bob come online.
    let online = "return Array.from(document.querySelectorAll('[data-testid=\"online-users\"] li'),
                                    (li) => li.textContent).includes(arguments[0]);";
    alice.wait_for("bob online", online, vec![json!("bob")]).await;

    alice.say("Hello Bob, can you read me?").await;
    bob.wait_message("Hello Bob, can you read me?").await;
    bob.say("Loud and clear, Alice.").await;
    alice.wait_message("Loud and clear, Alice.").await;
    alice.say("Great!").await;
    bob.wait_message("Great!").await;

    let expected = ["Hello Bob, can you read me?", "Loud and clear, Alice.", "Great!"];
    for page in [&alice, &bob] {
        let shown = page.wait_message("Great!").await;
        assert_exactly_once_in_order(&page.who, &shown, &expected);
        let authors: Vec<&str> = shown.iter().map(|m| m.author.as_str()).collect();
        assert_eq!(authors, ["alice", "bob", "alice"], "[{}] authors", page.who);
        assert!(shown.iter().all(|m| !m.bot), "[{}] no bot messages", page.who);
    }

    alice.close().await;
    bob.close().await;
}
