//! Edit, delete, replies and search in the page, two people in two browsers.

use fantoccini::key::Key;
use serde_json::json;

use super::chrome::Chromedriver;
use super::page::Page;
use crate::support::TestServer;

/// The `message` element whose text is `arguments[0]`, as a script prelude.
const FIND: &str =
    "const find = (text) => Array.from(document.querySelectorAll('[data-testid=\"message\"]'))
    .find((m) => m.querySelector('[data-testid=\"message-content\"]').textContent === text);";

/// Clicks `testid` inside the message whose text is `text`, opening its menu first.
async fn menu_action(page: &Page, text: &str, testid: &str) {
    let script = format!(
        "{FIND}
         const m = find(arguments[0]);
         if (!m || !m.dataset.id) return false;
         m.querySelector('[data-testid=\"message-menu\"]').click();
         const item = m.querySelector(`[data-testid=\"${{arguments[1]}}\"]`);
         if (!item) return false;
         item.click();
         return true;"
    );
    page.wait_for(&format!("{testid} on {text:?}"), &script, vec![json!(text), json!(testid)])
        .await;
}

#[tokio::test]
async fn a_message_is_edited_answered_and_deleted_in_the_page() {
    let driver = chromedriver_or_skip!("a_message_is_edited_answered_and_deleted_in_the_page");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Edits").await;
    alice.say("helo there").await;
    bob.wait_message("helo there").await;

    // The up arrow in the empty composer edits alice's last message.
    let input = alice.testid("message-input").await;
    input.send_keys(&String::from(char::from(Key::Up))).await.expect("press the up arrow");
    let edit = alice.testid("edit-input").await;
    edit.clear().await.expect("clear");
    edit.send_keys("hello there").await.expect("type");
    edit.send_keys(&String::from(char::from(Key::Enter))).await.expect("press Enter");
    let edited = format!(
        "{FIND} const m = find('hello there');
         return !!m && !!m.querySelector('[data-testid=\"edited\"]');"
    );
    bob.wait_for("the edit, marked (edited), on bob's page", &edited, vec![]).await;
    alice.wait_for("the edit on alice's page", &edited, vec![]).await;

    // Bob answers it; the quote shows on both pages and leads to the original.
    menu_action(&bob, "hello there", "reply").await;
    let preview = "return document.querySelector('[data-testid=\"reply-preview\"]').textContent;";
    let shown = bob.wait_for("the reply preview", preview, vec![]).await;
    assert!(shown.as_str().unwrap_or_default().contains("alice"), "{shown}");
    bob.say("hi back").await;
    let quoted = format!(
        "{FIND} const m = find('hi back');
         const q = m && m.dataset.id && m.querySelector('[data-testid=\"reply-quote\"]');
         return q ? q.textContent : false;"
    );
    for page in [&alice, &bob] {
        let quote = page.wait_for("the reply's quote", &quoted, vec![]).await;
        assert_eq!(quote, json!("alice hello there"));
    }
    let mentioned = format!("{FIND} return find('hi back').dataset.mentionsMe === 'true';");
    alice.wait_for("the reply marked as mentioning alice", &mentioned, vec![]).await;
    let jump = format!(
        "{FIND} find('hi back').querySelector('[data-testid=\"reply-quote\"]').click();
         return find('hello there').classList.contains('is-target');"
    );
    alice.wait_for("the quote leading to the original", &jump, vec![]).await;

    // Alice deletes it, after confirming; both pages show a tombstone.
    menu_action(&alice, "hello there", "delete").await;
    alice.click("confirm-delete").await;
    let tombstone = format!(
        "{FIND} const m = find('This message was deleted');
         return !!m && m.dataset.deleted === 'true'
             && !m.querySelector('[data-testid=\"message-menu\"]');"
    );
    let gone_quote = format!(
        "{FIND} const m = find('hi back');
         return m.querySelector('[data-testid=\"reply-quote\"]').textContent === 'alice deleted message';"
    );
    for page in [&alice, &bob] {
        page.wait_for("the tombstone", &tombstone, vec![]).await;
        page.wait_for("the quote of a deleted message", &gone_quote, vec![]).await;
    }
    // Bob may neither edit nor delete alice's messages: his menu offers a reply
    // (and a reaction) only.
    alice.say("mine alone").await;
    bob.wait_message("mine alone").await;
    let offered = format!(
        "{FIND} const m = find('mine alone');
         return m && m.dataset.id ? Array.from(m.querySelectorAll('.message-menu button'), (b) => b.dataset.testid) : false;"
    );
    assert_eq!(bob.wait_for("bob's menu", &offered, vec![]).await, json!(["reply", "react"]));
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_search_result_opens_its_room_at_the_message() {
    let driver = chromedriver_or_skip!("a_search_result_opens_its_room_at_the_message");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Archive").await;
    // Another member fills the room: the message sought is older than the
    // latest page.
    let dave = server.user("dave").await;
    let rooms = dave.get("/api/v1/chatrooms").await.body;
    let archive = rooms["chatrooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Archive")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dave.join(&archive).await;
    let mut ws = dave.connect(&archive, "").await;
    ws.say("the needle in the haystack", "needle").await;
    for n in 0..60 {
        ws.say(&format!("straw {n}"), &format!("straw{n}")).await;
    }
    loop {
        if ws.next_of("chat_message").await["client_id"] == "straw59" {
            break;
        }
    }
    alice.create_room("Lobby").await;

    alice.type_into("search-input", "NEEDLE").await;
    alice.click("search-button").await;
    let result = "const r = document.querySelector('[data-testid=\"search-result\"]');
                  return r ? [r.querySelector('.search-room').textContent,
                              r.querySelector('mark').textContent] : false;";
    let found = alice.wait_for("a search result", result, vec![]).await;
    assert_eq!(found, json!(["Archive", "needle"]), "the room named, the word marked");
    alice.click("search-result").await;
    alice.wait_in_room("Archive").await;
    let shown = format!(
        "{FIND} const m = find('the needle in the haystack');
         return !!m && !!document.querySelector('[data-testid=\"history-gap\"]');"
    );
    alice.wait_for("the message in its room, newer ones a click away", &shown, vec![]).await;
    alice.click("jump-to-latest").await;
    let latest = format!(
        "{FIND} return !!find('straw 59') && !document.querySelector('[data-testid=\"history-gap\"]');"
    );
    alice.wait_for("the latest messages again", &latest, vec![]).await;
    alice.close().await;
}
