//! The chat page in real headless Chromium, against the real server: people
//! register, meet in a room and talk; the stock bot answers; markup stays
//! text; history pages back; a page that loses the network catches up.
//!
//! Each test starts its own chromedriver and one browser (a WebDriver session
//! with a fresh profile) per person. Without Chromium and chromedriver
//! (Debian's `chromium` and `chromium-driver`) the tests say so and pass,
//! unless `REQUIRE_BROWSER=1` (as `scripts/test` sets) makes that a failure.

mod chrome;
mod page;
mod proxy;

use std::path::Path;

use serde_json::json;

use self::chrome::Chromedriver;
use self::page::{Page, Shown, contents};
use self::proxy::{Network, Proxy};
use crate::support::{TestBot, TestServer, Ws};

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

// After the macro, which it uses.
mod accessibility;
mod composer;
mod edits;
mod encrypted;
mod members;
mod outbox;
mod phone;

/// A real 2×2 PNG (red, green, blue, white), for the tests that post an image.
const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x12\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xc0\x00\xc2\x0c\xff\x81\x00\x00\x1f\xee\x05\xfb\x0b\xd9\x68\x8b\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// Asserts that `shown` holds each of `expected` exactly once, in that
/// order, and that every message shown is confirmed (stored, not pending).
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

/// The bot's answer to `/stock=AAPL.US` from `testkit/fixtures/stooq/quote-aapl.csv`.
const AAPL_QUOTE: &str = "AAPL.US quote is $181.18 per share";

#[tokio::test]
async fn a_stock_command_gets_the_bots_quote_on_both_screens() {
    let driver = chromedriver_or_skip!("a_stock_command_gets_the_bots_quote_on_both_screens");
    let server = TestServer::start().await;
    let mut bot = TestBot::start(&server).await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Investors").await;

    alice.say("Morning Bob! How is Apple doing?").await;
    bob.wait_message("Morning Bob! How is Apple doing?").await;
    bob.say("No idea, ask the bot:").await;
    alice.wait_message("No idea, ask the bot:").await;
    bob.say("/stock=AAPL.US").await;

    for page in [&alice, &bob] {
        let shown = page
            .wait_messages("the bot's quote", |shown| {
                shown.iter().any(|m| m.content == AAPL_QUOTE && m.id.is_some())
            })
            .await;
        let quotes: Vec<&Shown> = shown.iter().filter(|m| m.content == AAPL_QUOTE).collect();
        assert_eq!(quotes.len(), 1, "[{}] one quote: {shown:?}", page.who);
        assert!(quotes[0].bot, "[{}] the quote is marked data-bot=true", page.who);
        assert_eq!(quotes[0].author, "StockBot", "[{}]", page.who);
        assert!(
            shown.iter().filter(|m| m.content != AAPL_QUOTE).all(|m| !m.bot),
            "[{}] only the quote is a bot message: {shown:?}",
            page.who
        );
        assert!(
            !shown.iter().any(|m| m.content.starts_with("/stock")),
            "[{}] the command itself is not shown as a message",
            page.who
        );
        assert_eq!(
            contents(&shown),
            ["Morning Bob! How is Apple doing?", "No idea, ask the bot:", AAPL_QUOTE],
            "[{}] order",
            page.who
        );
    }

    // The README's picture: a chat in progress, two people and a bot reply,
    // a reaction, a mention waiting in another room, and a direct conversation.
    alice.say("Thanks, bot. Lunch at noon?").await;
    bob.wait_message("Thanks, bot. Lunch at noon?").await;
    let react_to_quote = "const quote =
                              document.querySelector('[data-testid=\"message\"][data-bot=\"true\"]');
                          const add = quote && quote.querySelector('[data-testid=\"add-reaction\"]');
                          if (!add) return null;
                          add.click();
                          document.querySelector('[data-testid=\"reaction-picker\"] [data-emoji=\"👍\"]').click();
                          return true;";
    bob.wait_for("a 👍 on the quote", react_to_quote, vec![]).await;
    let reacted = "const quote =
                       document.querySelector('[data-testid=\"message\"][data-bot=\"true\"]');
                   return !!quote.querySelector('[data-testid=\"reaction\"][data-emoji=\"👍\"]');";
    alice.wait_for("bob's 👍 on the quote", reacted, vec![]).await;
    bob.create_room("Lunch").await;
    let lunch = bob.js("return location.hash.slice('#room='.length);", vec![]).await;
    alice
        .js("return fetch(`/api/v1/chatrooms/${arguments[0]}/join`, { method: 'POST' }).then((r) => r.status);",
            vec![lunch])
        .await;
    bob.say("@alice the usual place?").await;
    let direct = "return fetch('/api/v1/direct', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                  body: JSON.stringify({ username: 'alice' }) })
                      .then((r) => r.status);";
    assert_eq!(bob.js(direct, vec![]).await, 201, "bob's direct room with alice");
    let listed =
        "return Array.from(document.querySelectorAll('[data-testid=\"direct-list\"] .room-name'),
                                    (n) => n.textContent).includes('bob');";
    alice.wait_for("bob under alice's direct messages", listed, vec![]).await;
    let badge = "const badge = document.querySelector('[data-testid=\"unread-badge\"]');
                 return badge ? badge.textContent : null;";
    assert_eq!(alice.wait_for("Lunch's badge", badge, vec![]).await, "1");
    let png = alice.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // The README's copy is replaced only when asked: UPDATE_SCREENSHOT=1.
    let path = if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshot.png")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshot.png")
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();

    alice.close().await;
    bob.close().await;
    bot.stop().await;
}

#[tokio::test]
async fn markup_in_a_message_shows_as_text_and_runs_nothing() {
    let driver = chromedriver_or_skip!("markup_in_a_message_shows_as_text_and_runs_nothing");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Sandbox").await;

    let hostile = [
        "<img src=x onerror=window.__pwned=1>",
        "<script>window.__pwned=1</script>",
        "<b onmouseover=window.__pwned=1>bold?</b> & &amp; &lt;",
    ];
    for text in hostile {
        alice.say(text).await;
    }
    // A newcomer's page renders the same messages from the REST history.
    let carol = Page::open(&driver, "carol", &server.url("/")).await;
    carol.register().await;
    carol.join_room("Sandbox").await;

    let inert = "const list = document.querySelector('[data-testid=\"messages\"]');
                 return {
                     pwned: typeof window.__pwned,
                     elements: list.querySelectorAll('img, script, b').length,
                 };";
    for page in [&alice, &bob, &carol] {
        let shown = page.wait_message(hostile[2]).await;
        assert_exactly_once_in_order(&page.who, &shown, &hostile);
        assert_eq!(contents(&shown), hostile, "[{}] shown literally", page.who);
        let state = page.js(inert, vec![]).await;
        assert_eq!(state["pwned"], "undefined", "[{}] no script ran", page.who);
        assert_eq!(state["elements"], 0, "[{}] no element made from the text", page.who);
    }

    alice.close().await;
    bob.close().await;
    carol.close().await;
}

#[tokio::test]
async fn a_newcomer_sees_the_last_fifty_and_scrolls_up_to_older_ones() {
    let driver =
        chromedriver_or_skip!("a_newcomer_sees_the_last_fifty_and_scrolls_up_to_older_ones");
    let server = TestServer::start_with_env(&[("RATE_LIMIT_MESSAGES", "off")]).await;
    let alice = server.user("alice").await;
    let room = alice.create_room("History").await;
    let mut alice_ws = alice.connect(&room, "").await;
    let all: Vec<String> = (1..=60).map(|i| format!("message {i:02}")).collect();
    for content in &all {
        say_and_wait(&mut alice_ws, content).await;
    }

    let bob = Page::open(&driver, "bob", &server.url("/")).await;
    bob.register().await;
    bob.join_room("History").await;
    let shown = bob.wait_messages("the latest 50", |shown| shown.len() >= 50).await;
    assert_eq!(contents(&shown), all[10..], "exactly the last 50, oldest first");
    assert!(shown.iter().all(|m| m.id.is_some() && m.author == "alice" && !m.bot));

    // Scrolling the list to the top loads the 10 older ones above.
    let scroll_up = "const list = document.querySelector('[data-testid=\"messages\"]');
                     if (list.scrollHeight <= list.clientHeight) return 'no overflow';
                     list.scrollTop = 0;
                     return 'scrolled';";
    assert_eq!(bob.js(scroll_up, vec![]).await, "scrolled", "50 messages overflow the list");
    let shown = bob.wait_messages("all 60", |shown| shown.len() >= 60).await;
    assert_eq!(contents(&shown), all, "all 60, oldest first");
    assert_exactly_once_in_order(
        "bob",
        &shown,
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    bob.close().await;
}

/// Alice (a WebSocket client) and Bob (a browser, through `proxy`) in one
/// room, having already exchanged a few messages; returns Alice's socket and
/// what Bob was shown.
async fn alice_and_bob_behind_a_proxy(
    server: &TestServer,
    driver: &Chromedriver,
    proxy: &Proxy,
) -> (Ws, Page) {
    let alice = server.user("alice").await;
    let room = alice.create_room("Lobby").await;
    let mut alice_ws = alice.connect(&room, "").await;
    say_and_wait(&mut alice_ws, "before the outage").await;

    let bob = Page::open(driver, "bob", &proxy.url("/")).await;
    bob.register().await;
    bob.join_room("Lobby").await;
    bob.wait_message("before the outage").await;
    bob.say("bob is here").await;
    bob.wait_message("bob is here").await;
    say_and_wait(&mut alice_ws, "still before").await;
    bob.wait_message("still before").await;
    (alice_ws, bob)
}

const MISSED: [&str; 3] = ["missed one", "missed two", "missed three"];

/// Alice talks while Bob is away, then Bob's page must come back and show
/// everything once, in order, and say that it is connected.
async fn bob_catches_up(alice_ws: &mut Ws, bob: &Page) {
    bob.wait_connection("connected").await;
    say_and_wait(alice_ws, "after the outage").await;
    let shown = bob.wait_message("after the outage").await;
    let expected = [
        "before the outage",
        "bob is here",
        "still before",
        MISSED[0],
        MISSED[1],
        MISSED[2],
        "after the outage",
    ];
    assert_exactly_once_in_order("bob", &shown, &expected);
    assert_eq!(contents(&shown), expected, "nothing else shown");
    assert_eq!(bob.connection_state().await, "connected");
}

#[tokio::test]
async fn a_page_whose_connection_drops_shows_what_it_missed_once() {
    let driver = chromedriver_or_skip!("a_page_whose_connection_drops_shows_what_it_missed_once");
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (mut alice_ws, bob) = alice_and_bob_behind_a_proxy(&server, &driver, &proxy).await;

    // The network goes down: Bob's socket closes; the server sees him leave
    // and his page sees the connection go.
    proxy.set(Network::Cut);
    loop {
        let frame = alice_ws.next().await;
        if frame["type"] == "user_left" && frame["username"] == "bob" {
            break;
        }
    }
    let away = "return document.querySelector('[data-testid=\"connection-state\"]')
                    .dataset.state !== 'connected';";
    bob.wait_for("the page to notice the loss", away, vec![]).await;
    let countdown = "return /^reconnecting in \\d+ s$/.test(
                         document.querySelector('[data-testid=\"connection-state\"]').textContent);";
    bob.wait_for("the countdown to the next attempt", countdown, vec![]).await;
    for content in MISSED {
        say_and_wait(&mut alice_ws, content).await;
    }
    let shown = contents(&bob.messages().await).join("|");
    assert!(MISSED.iter().all(|m| !shown.contains(m)), "nothing got through: {shown}");

    // It comes back: the page reconnects by itself (backoff) and replays.
    proxy.set(Network::Up);
    bob_catches_up(&mut alice_ws, &bob).await;
    bob.close().await;
}

#[tokio::test]
async fn a_page_whose_network_goes_silent_shows_what_it_missed_once() {
    let driver =
        chromedriver_or_skip!("a_page_whose_network_goes_silent_shows_what_it_missed_once");
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (mut alice_ws, bob) = alice_and_bob_behind_a_proxy(&server, &driver, &proxy).await;

    // The network goes away without closing anything: the server still
    // writes to Bob's socket, into the void; the browser reports offline.
    proxy.set(Network::Silent);
    bob.set_offline(true).await;
    bob.wait_connection("offline").await;
    for content in MISSED {
        say_and_wait(&mut alice_ws, content).await;
    }
    let shown = contents(&bob.messages().await).join("|");
    assert!(MISSED.iter().all(|m| !shown.contains(m)), "nothing got through: {shown}");

    // The network is back (the old connection stays dead): the page must not
    // trust its old socket, but reconnect and replay what it missed.
    proxy.set(Network::Up);
    bob.set_offline(false).await;
    bob_catches_up(&mut alice_ws, &bob).await;
    bob.close().await;
}

#[tokio::test]
async fn the_api_reference_page_renders_every_operation_under_the_pages_csp() {
    let driver =
        chromedriver_or_skip!("the_api_reference_page_renders_every_operation_under_the_pages_csp");
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/api/docs")).await.unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{csp}");

    let document: serde_json::Value = serde_norway::from_str(
        &reqwest::get(server.url("/api/v1/openapi.yaml")).await.unwrap().text().await.unwrap(),
    )
    .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|path| path.as_object().unwrap().len())
        .sum();

    let reader = Page::open(&driver, "reader", &server.url("/api/docs")).await;
    let rendered = reader
        .wait_for(
            "every operation rendered",
            "const blocks = document.querySelectorAll('.opblock');
             return blocks.length >= arguments[0] ? blocks.length : null;",
            vec![json!(operations)],
        )
        .await;
    assert_eq!(rendered, json!(operations));
    let paths = reader
        .js(
            "return [...document.querySelectorAll('.opblock-summary-path')]
                 .map(e => e.getAttribute('data-path'));",
            vec![],
        )
        .await;
    assert!(
        paths.as_array().unwrap().contains(&json!("/api/v1/chatrooms/{id}/messages")),
        "{paths}"
    );
    reader.close().await;
}

#[tokio::test]
async fn an_attached_image_appears_on_the_other_persons_screen() {
    let driver = chromedriver_or_skip!("an_attached_image_appears_on_the_other_persons_screen");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Photos").await;

    let dir = std::env::temp_dir().join(format!("browser-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.png");
    std::fs::write(&path, PNG).unwrap();

    alice.type_into("message-input", "holiday").await;
    let input = alice.testid("file-input").await;
    input.send_keys(path.to_str().unwrap()).await.expect("file chosen");

    let loaded = "const img = document.querySelector('[data-testid=\"attachment-image\"]');
                  if (!img || !img.complete || img.naturalWidth === 0) return null;
                  const li = img.closest('[data-testid=\"message\"]');
                  return { width: img.naturalWidth,
                           caption: li.querySelector('[data-testid=\"message-content\"]').textContent };";
    for page in [&bob, &alice] {
        let shown = page.wait_for("the image, loaded", loaded, vec![]).await;
        assert_eq!(shown["width"], 2, "[{}] the PNG itself", page.who);
        assert_eq!(shown["caption"], "holiday", "[{}]", page.who);
    }
    // Shown at its own size (never blown up); a click opens it full size in
    // a dialog that Escape closes, giving the focus back.
    let size = "const r = document.querySelector('[data-testid=\"attachment-image\"]').getBoundingClientRect();
                return [r.width, r.height];";
    assert_eq!(bob.js(size, vec![]).await, json!([2, 2]));
    let open = "document.querySelector('[data-testid=\"attachment-image\"]').click();
                const box = document.querySelector('[data-testid=\"lightbox\"]');
                return !!box && box.open && document.activeElement.dataset.testid === 'lightbox-close';";
    bob.wait_for("the lightbox open, focus on its close button", open, vec![]).await;
    bob.press(fantoccini::key::Key::Escape).await;
    let closed = "return !document.querySelector('[data-testid=\"lightbox\"]').open
                      && document.activeElement.classList.contains('attachment-open');";
    bob.wait_for("the lightbox closed, focus back on the image", closed, vec![]).await;
    std::fs::remove_dir_all(&dir).unwrap();
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn reactions_unread_badges_and_a_mention_notification() {
    let driver = chromedriver_or_skip!("reactions_unread_badges_and_a_mention_notification");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    let bob = Page::open(&driver, "bob", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Side").await;
    alice.create_room("Lobby").await;
    bob.register().await;
    bob.join_room("Side").await;
    bob.join_room("Lobby").await;

    // A mention in a room bob is not looking at: a badge, a mark, the title.
    alice.join_room("Side").await;
    alice.say("hello @bob").await;
    let badge = "const room = [...document.querySelectorAll('[data-testid=\"room\"]')]
                     .find((r) => r.querySelector('.room-name').textContent === arguments[0]);
                 const badge = room && room.querySelector('[data-testid=\"unread-badge\"]');
                 return badge ? { count: badge.textContent,
                                  mention: !!room.querySelector('[data-testid=\"mention-mark\"]'),
                                  title: document.title } : null;";
    let shown = bob.wait_for("Side's unread badge", badge, vec![json!("Side")]).await;
    assert_eq!(shown["count"], "1");
    assert_eq!(shown["mention"], true);
    assert!(shown["title"].as_str().unwrap().starts_with("(1)"), "{shown}");
    // Reading it clears it.
    bob.join_room("Side").await;
    let cleared = "const room = [...document.querySelectorAll('[data-testid=\"room\"]')]
                       .find((r) => r.querySelector('.room-name').textContent === 'Side');
                   return !room.querySelector('[data-testid=\"unread-badge\"]')
                       && !document.title.startsWith('(');";
    bob.wait_for("Side read", cleared, vec![]).await;
    // The room opened at a line before the message bob had not read.
    let divider = "const line = document.querySelector('[data-testid=\"unread-divider\"]');
                   const next = line && document.querySelector('[data-testid=\"unread-divider\"] ~ li.message');
                   return line ? { text: line.textContent,
                                   next: next && (next.querySelector('[data-testid=\"message-content\"]') || {}).textContent }
                               : null;";
    let line = bob.wait_for("the new-messages line", divider, vec![]).await;
    assert_eq!(line, json!({"text": "1 new message", "next": "hello @bob"}));

    // Reactions: bob picks 🎉 from the picker; both see it; alice adds hers.
    bob.wait_message("hello @bob").await;
    bob.click("add-reaction").await;
    bob.js(
        "document.querySelector('[data-testid=\"reaction-choice\"][data-emoji=\"🎉\"]').click();",
        vec![],
    )
    .await;
    let chip = "const chip = document.querySelector('[data-testid=\"reaction\"][data-emoji=\"🎉\"]');
                return chip ? { count: chip.querySelector('[data-testid=\"reaction-count\"]').textContent,
                                who: chip.querySelector('[data-testid=\"reaction-who\"]').textContent,
                                pressed: chip.getAttribute('aria-pressed') } : null;";
    let on_alice = alice.wait_for("bob's reaction", chip, vec![]).await;
    assert_eq!(on_alice, json!({"count": "1", "who": "bob", "pressed": "false"}));
    alice
        .js(
            "document.querySelector('[data-testid=\"reaction\"][data-emoji=\"🎉\"]').click();",
            vec![],
        )
        .await;
    let both = "const chip = document.querySelector('[data-testid=\"reaction\"][data-emoji=\"🎉\"]');
                return chip && chip.querySelector('[data-testid=\"reaction-count\"]').textContent === '2'
                    ? chip.querySelector('[data-testid=\"reaction-who\"]').textContent : null;";
    assert_eq!(bob.wait_for("two reactions", both, vec![]).await, "bob, alice");
    // The chip is reachable from the keyboard and names who reacted.
    let focusable = bob
        .js("const chip = document.querySelector('[data-testid=\"reaction\"]');
             chip.focus(); return document.activeElement === chip && chip.getAttribute('aria-label');",
            vec![])
        .await;
    assert!(focusable.as_str().unwrap().contains("bob, alice reacted with 🎉"), "{focusable}");

    // The picker: one menu, on screen, searchable by name; arrows move in
    // it, Escape closes it and the focus goes back to the ☺+.
    let opened = "document.querySelector('[data-testid=\"add-reaction\"]').click();
                  const menus = document.querySelectorAll('[data-testid=\"reaction-picker\"]');
                  const r = menus[0].getBoundingClientRect();
                  return { menus: menus.length, open: !menus[0].hidden,
                           inside: r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight,
                           focus: document.activeElement.dataset.testid };";
    let picker = bob.js(opened, vec![]).await;
    assert_eq!(
        picker,
        json!({"menus": 1, "open": true, "inside": true, "focus": "reaction-search"})
    );
    let search = bob.testid("reaction-search").await;
    search.send_keys("party").await.unwrap();
    let shown = "return Array.from(document.querySelectorAll('[data-testid=\"reaction-choice\"]:not([hidden])'),
                                   (c) => c.dataset.emoji);";
    assert_eq!(bob.js(shown, vec![]).await, json!(["🎉", "🥳"]));
    search.send_keys(&String::from(char::from(fantoccini::key::Key::Down))).await.unwrap();
    let on = "return document.activeElement.dataset.emoji || null;";
    assert_eq!(bob.js(on, vec![]).await, json!("🎉"));
    bob.press(fantoccini::key::Key::Escape).await;
    let closed = "return document.querySelector('[data-testid=\"reaction-picker\"]').hidden
                      && document.activeElement.dataset.testid === 'add-reaction';";
    bob.wait_for("the picker closed, focus back on its ☺+", closed, vec![]).await;

    // A desktop notification for a mention while bob's tab is hidden, once
    // he has allowed them (the permission is granted to the test's browser).
    let origin = server.url("");
    bob.cdp(
        "Browser.grantPermissions",
        json!({"permissions": ["notifications"], "origin": origin}),
    )
    .await;
    bob.js(
        "window.__shown = [];
         const Real = window.Notification;
         window.Notification = new Proxy(Real, { construct(target, args) {
             window.__shown.push(args[0]); return new target(...args); } });",
        vec![],
    )
    .await;
    // Bob's page is told its tab is hidden for the rest of the test: the
    // mention must arrive while it is, however long delivery takes (a
    // second tab brought forward and back would race the delivery).
    bob.js(
        "Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
         Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
         document.dispatchEvent(new Event('visibilitychange'));",
        vec![],
    )
    .await;
    alice.say("@bob are you there?").await;
    let shown = bob
        .wait_for("a notification", "return window.__shown.length ? window.__shown : null;", vec![])
        .await;
    assert_eq!(shown, json!(["alice mentioned you in #Side"]));
    alice.close().await;
    bob.close().await;
}
