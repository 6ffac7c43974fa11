//! The outbox: a message typed while the server cannot be reached waits,
//! shown pending; it survives closing and opening the page; it is stored
//! once when the server is back.

use serde_json::json;

use super::chrome::Chromedriver;
use super::page::Page;
use super::proxy::{Network, Proxy};
use crate::support::TestServer;

const TYPED: &str = "typed while the server was away";

/// Whether the message `TYPED` is shown pending (`true`), confirmed
/// (`false`) or not at all (`null`).
const PENDING: &str = "const li = Array.from(document.querySelectorAll('[data-testid=\"message\"]'))
        .find((m) => m.querySelector('[data-testid=\"message-content\"]').textContent === arguments[0]);
    return li ? li.dataset.pending === 'true' : null;";

#[tokio::test]
async fn a_message_typed_while_away_waits_survives_a_reload_and_is_stored_once() {
    let driver = chromedriver_or_skip!(
        "a_message_typed_while_away_waits_survives_a_reload_and_is_stored_once"
    );
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let alice = Page::open(&driver, "alice", &proxy.url("/")).await;
    alice.register().await;
    alice.create_room("Away").await;
    alice.say("before").await;
    alice.wait_message("before").await;

    // The server goes away.
    proxy.set(Network::Cut);
    let away = "return document.querySelector('[data-testid=\"connection-state\"]')
                    .dataset.state !== 'connected';";
    alice.wait_for("the page to notice", away, vec![]).await;
    alice.say(TYPED).await;
    alice.wait_for("the message pending", PENDING, vec![json!(TYPED)]).await;

    // The page is closed and opened again while the server is still away
    // (it cannot even load), then once it is back: the message is there,
    // and is sent by itself.
    let _ = alice.client.refresh().await;
    proxy.set(Network::Up);
    alice.client.refresh().await.expect("reload");
    let confirmed = "const li = Array.from(document.querySelectorAll('[data-testid=\"message\"]'))
            .find((m) => m.querySelector('[data-testid=\"message-content\"]').textContent === arguments[0]);
        return !!li && !!li.dataset.id && li.dataset.pending !== 'true';";
    alice.wait_for("the message stored after the reload", confirmed, vec![json!(TYPED)]).await;
    let room = alice.js("return location.hash.slice('#room='.length);", vec![]).await;
    let stored = alice
        .js_async(
            "const done = arguments[arguments.length - 1];
             fetch(`/api/v1/chatrooms/${arguments[0]}/messages`).then((r) => r.json())
                 .then((d) => done(d.messages.filter((m) => m.content === arguments[1]).length));",
            vec![room, json!(TYPED)],
        )
        .await;
    assert_eq!(stored, json!(1), "stored exactly once");
    alice.close().await;
}
