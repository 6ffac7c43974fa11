//! One person's browser on the chat page, driven through the page's
//! `data-testid` hooks the way a person would: typing, clicking, pressing
//! Enter. Every wait polls a condition until a generous deadline; nothing is
//! timed.

use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chrome::{Cdp, Chromedriver};

/// How long a page may take to get somewhere before the test fails (not a
/// performance bound: only a stop for a broken test).
pub(crate) const PAGE_PATIENCE: Duration = Duration::from_secs(60);

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(100);

/// The password every browser user registers with.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A message as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Shown {
    /// The stored id, `None` while the message is pending.
    pub(crate) id: Option<String>,
    /// The author's name as shown.
    pub(crate) author: String,
    /// The text as shown.
    pub(crate) content: String,
    /// `data-bot="true"`.
    pub(crate) bot: bool,
    /// `data-status`: `pending`, `sent` or `failed`.
    pub(crate) status: String,
}

/// Reads every message of the list, in the order shown.
const READ_MESSAGES: &str = r#"
    const list = document.querySelector('[data-testid="messages"]');
    if (!list) return [];
    return Array.from(list.querySelectorAll('[data-testid="message"]'), (li) => ({
        id: li.dataset.id || null,
        author: (li.querySelector('[data-testid="message-author"]') || {}).textContent || '',
        content: (li.querySelector('[data-testid="message-content"]') || {}).textContent || '',
        bot: li.dataset.bot === 'true',
        status: li.dataset.status || '',
    }));
"#;

/// One person's browser.
pub(crate) struct Page {
    /// The WebDriver session.
    pub(crate) client: Client,
    /// Who this is (their username).
    pub(crate) who: String,
}

impl Page {
    /// Opens a browser of its own for `who` on the page at `url`.
    pub(crate) async fn open(driver: &Chromedriver, who: &str, url: &str) -> Self {
        let client = driver.browser(who, url).await;
        Self { client, who: who.to_owned() }
    }

    /// Alice and Bob, each in a browser of their own on the page at `url`,
    /// registered, and both in the room `room` that alice made.
    pub(crate) async fn two_in_a_room(
        driver: &Chromedriver,
        url: &str,
        room: &str,
    ) -> (Self, Self) {
        let alice = Self::open(driver, "alice", url).await;
        let bob = Self::open(driver, "bob", url).await;
        alice.register().await;
        alice.create_room(room).await;
        bob.register().await;
        bob.join_room(room).await;
        (alice, bob)
    }

    /// Runs `script` (a function body) in the page and returns its result.
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("[{}] script failed: {error}\n{script}", self.who))
    }

    /// Runs `script` (an async function body; its last argument is the
    /// callback that returns its result) and returns what it passed back.
    pub(crate) async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|error| panic!("[{}] script failed: {error}\n{script}", self.who))
    }

    /// Polls `script` until it returns something other than `null`, `false`
    /// or `undefined`, and returns that; fails after [`PAGE_PATIENCE`].
    pub(crate) async fn wait_for(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = tokio::time::Instant::now() + PAGE_PATIENCE;
        loop {
            let value = self.js(script, args.clone()).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                self.fail(&format!("waited in vain for {what}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Panics with `why` and what the page shows, for a readable failure.
    pub(crate) async fn fail(&self, why: &str) -> ! {
        let state = self
            .client
            .execute(
                "return {
                    connection: (document.querySelector('[data-testid=\"connection-state\"]') || {}).textContent,
                    errors: Array.from(document.querySelectorAll('[role=alert]'), (e) => e.textContent).filter(Boolean),
                    text: document.body.innerText.slice(0, 4000),
                }",
                vec![],
            )
            .await;
        let shown = match state {
            Ok(state) => serde_json::to_string_pretty(&state).unwrap_or_default(),
            Err(error) => format!("(could not read the page: {error})"),
        };
        panic!("[{}] {why}\nthe page:\n{shown}", self.who);
    }

    /// The element with `data-testid="<id>"`, waiting for it to exist.
    pub(crate) async fn testid(&self, id: &str) -> Element {
        let css = format!("[data-testid=\"{id}\"]");
        self.client
            .wait()
            .at_most(PAGE_PATIENCE)
            .for_element(Locator::Css(&css))
            .await
            .unwrap_or_else(|error| panic!("[{}] no element {css}: {error}", self.who))
    }

    /// Waits until the element `data-testid="<id>"` is displayed.
    async fn visible(&self, id: &str) -> Element {
        let script = "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);
                      return !!e && e.getClientRects().length > 0 && !e.disabled;";
        self.wait_for(&format!("{id} to be shown"), script, vec![json!(id)]).await;
        self.testid(id).await
    }

    /// Types `text` into the field `data-testid="<id>"` (after clearing it).
    pub(crate) async fn type_into(&self, id: &str, text: &str) {
        let field = self.visible(id).await;
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks the element `data-testid="<id>"` once it is shown.
    pub(crate) async fn click(&self, id: &str) {
        self.visible(id).await.click().await.expect("click");
    }

    /// Registers through the page (which then logs in) as [`Page::who`].
    pub(crate) async fn register(&self) {
        self.type_into("username", &self.who).await;
        self.type_into("password", PASSWORD).await;
        self.click("register").await;
        let script = "const me = document.getElementById('current-user');
                      const app = document.getElementById('app-view');
                      return !!me && !app.hidden && me.textContent === arguments[0];";
        self.wait_for("the chat view after registering", script, vec![json!(self.who)]).await;
    }

    /// Signs in through the page as [`Page::who`], registered before.
    pub(crate) async fn login(&self) {
        self.type_into("username", &self.who).await;
        self.type_into("password", PASSWORD).await;
        self.click("login").await;
        let script = "const me = document.getElementById('current-user');
                      const app = document.getElementById('app-view');
                      return !!me && !app.hidden && me.textContent === arguments[0];";
        self.wait_for("the chat view after signing in", script, vec![json!(self.who)]).await;
    }

    /// Creates a room through the page; the page opens it.
    pub(crate) async fn create_room(&self, name: &str) {
        self.type_into("new-room-name", name).await;
        self.click("create-room").await;
        self.wait_in_room(name).await;
    }

    /// Opens (joins) the room `name` from the room list, refreshing the list
    /// until the room shows up in it.
    pub(crate) async fn join_room(&self, name: &str) {
        let script =
            "const rooms = Array.from(document.querySelectorAll('[data-testid=\"room\"]'));
                      const room = rooms.find((r) =>
                          r.querySelector('.room-name').textContent === arguments[0]);
                      if (room) return room.dataset.roomId;
                      document.getElementById('refresh-rooms').click();
                      return false;";
        let deadline = tokio::time::Instant::now() + PAGE_PATIENCE;
        loop {
            let what = format!("room {name} in the list");
            let id = self.wait_for(&what, script, vec![json!(name)]).await;
            let id = id.as_str().unwrap_or_default();
            let css = format!("[data-testid=\"room\"][data-room-id=\"{id}\"]");
            // A refresh re-renders the list, so an entry found a moment ago
            // may be gone (stale): then look it up again.
            if let Ok(room) = self.client.find(Locator::Css(&css)).await
                && room.click().await.is_ok()
            {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                self.fail(&format!("could not click room {name}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
        self.wait_in_room(name).await;
    }

    /// Waits until the room `name` is open and its socket connected.
    pub(crate) async fn wait_in_room(&self, name: &str) {
        let script = "const title = document.getElementById('chat-title');
                      const room = document.getElementById('chat-room');
                      const state = document.querySelector('[data-testid=\"connection-state\"]');
                      return !room.hidden && title.textContent === arguments[0]
                          && state.dataset.state === 'connected';";
        self.wait_for(&format!("room {name} open and connected"), script, vec![json!(name)]).await;
    }

    /// The connection-state indicator's `data-state`.
    pub(crate) async fn connection_state(&self) -> String {
        let script =
            "return document.querySelector('[data-testid=\"connection-state\"]').dataset.state;";
        self.js(script, vec![]).await.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the connection-state indicator shows `state`.
    pub(crate) async fn wait_connection(&self, state: &str) {
        let script = "return document.querySelector('[data-testid=\"connection-state\"]')
                          .dataset.state === arguments[0];";
        self.wait_for(&format!("connection state {state}"), script, vec![json!(state)]).await;
    }

    /// Presses `key` in whatever has the focus.
    pub(crate) async fn press(&self, key: Key) {
        let focused = self.client.active_element().await.expect("a focused element");
        focused.send_keys(&String::from(char::from(key))).await.expect("press the key");
    }

    /// Types `text` into the message box and presses Enter.
    pub(crate) async fn say(&self, text: &str) {
        let input = self.visible("message-input").await;
        input.send_keys(text).await.expect("type the message");
        input.send_keys(&String::from(char::from(Key::Enter))).await.expect("press Enter");
        let script =
            "return document.querySelector('[data-testid=\"message-input\"]').value === '';";
        self.wait_for("the message box to empty after Enter", script, vec![]).await;
    }

    /// The messages the page shows, in order.
    pub(crate) async fn messages(&self) -> Vec<Shown> {
        let value = self.js(READ_MESSAGES, vec![]).await;
        serde_json::from_value(value).expect("messages as read")
    }

    /// Polls the messages until `done` holds, and returns them.
    pub(crate) async fn wait_messages(
        &self,
        what: &str,
        done: impl Fn(&[Shown]) -> bool,
    ) -> Vec<Shown> {
        let deadline = tokio::time::Instant::now() + PAGE_PATIENCE;
        loop {
            let shown = self.messages().await;
            if done(&shown) {
                return shown;
            }
            if tokio::time::Instant::now() > deadline {
                let list: Vec<String> = shown
                    .iter()
                    .map(|m| format!("{}: {} ({})", m.author, m.content, m.status))
                    .collect();
                self.fail(&format!(
                    "waited in vain for {what}; messages shown:\n{}",
                    list.join("\n")
                ))
                .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until a stored (confirmed) message with `content` is shown, and returns the list.
    pub(crate) async fn wait_message(&self, content: &str) -> Vec<Shown> {
        self.wait_messages(&format!("message {content:?}"), |shown| {
            shown.iter().any(|m| m.content == content && m.id.is_some())
        })
        .await
    }

    /// Cuts this browser off the network (or gives it back), through the
    /// DevTools Protocol's network emulation.
    pub(crate) async fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        let conditions = json!({
            "offline": offline,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        });
        self.cdp("Network.emulateNetworkConditions", conditions).await;
    }

    /// Sends one DevTools Protocol command to the page.
    pub(crate) async fn cdp(&self, method: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { method, params })
            .await
            .unwrap_or_else(|error| panic!("[{}] {method}: {error}", self.who))
    }

    /// A PNG of the window.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }

    /// Ends the WebDriver session (the browser closes).
    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Only the contents, for comparing orders.
pub(crate) fn contents(shown: &[Shown]) -> Vec<&str> {
    shown.iter().map(|m| m.content.as_str()).collect()
}
