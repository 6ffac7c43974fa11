//! Private rooms and direct messages in the page, two people in two browsers.

use serde_json::json;

use super::chrome::Chromedriver;
use super::page::Page;
use crate::support::TestServer;

/// Whether the room list (rooms or direct messages) shows a room named `name`.
const LISTS_ROOM: &str =
    "return Array.from(document.querySelectorAll('[data-testid=\"room\"] .room-name'),
                                 (n) => n.textContent).includes(arguments[0]);";

#[tokio::test]
async fn a_private_room_appears_for_the_person_added_and_goes_when_they_are_removed() {
    let driver = chromedriver_or_skip!(
        "a_private_room_appears_for_the_person_added_and_goes_when_they_are_removed"
    );
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    let bob = Page::open(&driver, "bob", &server.url("/")).await;
    alice.register().await;
    bob.register().await;

    alice.type_into("new-room-name", "Hideout").await;
    alice.click("new-room-private").await;
    alice.click("create-room").await;
    alice.wait_in_room("Hideout").await;
    let badge = "return !document.querySelector('[data-testid=\"chat-private\"]').hidden;";
    alice.wait_for("the private badge on the room", badge, vec![]).await;
    assert_eq!(bob.js(LISTS_ROOM, vec![json!("Hideout")]).await, json!(false), "not for bob yet");

    alice.click("members-button").await;
    alice.type_into("member-add-input", "bob").await;
    alice.click("member-add").await;
    let member = "return Array.from(document.querySelectorAll('[data-testid=\"member\"]'),
                                    (m) => m.dataset.username).includes(arguments[0]);";
    alice.wait_for("bob in the members panel", member, vec![json!("bob")]).await;
    bob.wait_for("Hideout in bob's list, live", LISTS_ROOM, vec![json!("Hideout")]).await;
    let notice = "return document.querySelector('[data-testid=\"member-notice\"]').textContent;";
    let said = alice.wait_for("the member notice", notice, vec![]).await;
    assert_eq!(said, json!("bob was added by alice."));

    // Bob leaves by himself, and alice adds him back.
    bob.join_room("Hideout").await;
    bob.click("members-button").await;
    bob.click("leave-room").await;
    bob.client.accept_alert().await.expect("accept the confirmation");
    let left = "const e = document.querySelector('[data-testid=\"chat-error\"]');
                return e.textContent === 'You left the room.';";
    bob.wait_for("bob told he left", left, vec![]).await;
    let absent =
        "return !Array.from(document.querySelectorAll('[data-testid=\"room\"] .room-name'),
                                     (n) => n.textContent).includes('Hideout');";
    bob.wait_for("Hideout gone from bob's list", absent, vec![]).await;
    let said = alice.wait_for("the member notice", "return document.querySelector('[data-testid=\"member-notice\"]').textContent === 'bob left the room.';", vec![]).await;
    assert_eq!(said, json!(true));
    alice.type_into("member-add-input", "bob").await;
    alice.click("member-add").await;
    bob.wait_for("Hideout back in bob's list", LISTS_ROOM, vec![json!("Hideout")]).await;

    bob.join_room("Hideout").await;
    alice.say("Welcome in.").await;
    bob.wait_message("Welcome in.").await;

    let remove =
        "const m = document.querySelector('[data-testid=\"member\"][data-username=\"bob\"]');
                  const b = m && m.querySelector('[data-testid=\"member-remove\"]');
                  if (b) b.click();
                  return !!b;";
    alice.wait_for("a Remove button beside bob", remove, vec![]).await;
    let gone = "const e = document.querySelector('[data-testid=\"chat-error\"]');
                return e.textContent.includes('no longer a member')
                    && !Array.from(document.querySelectorAll('[data-testid=\"room\"] .room-name'),
                                   (n) => n.textContent).includes('Hideout');";
    bob.wait_for("bob told he is out, and the room gone from his list", gone, vec![]).await;

    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_name_in_the_room_opens_a_direct_conversation() {
    let driver = chromedriver_or_skip!("a_name_in_the_room_opens_a_direct_conversation");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Lobby").await;
    bob.say("Anyone around?").await;
    alice.wait_message("Anyone around?").await;

    let name = "const b = document.querySelector('[data-testid=\"messages\"] [data-testid=\"person\"][data-username=\"bob\"]');
                if (b) b.click();
                return !!b;";
    alice.wait_for("bob's name on his message", name, vec![]).await;
    alice.click("message-person").await;
    alice.wait_in_room("bob").await;
    alice.say("Just us here.").await;

    let direct =
        "return Array.from(document.querySelectorAll('[data-testid=\"direct-list\"] .room-name'),
                                    (n) => n.textContent).includes(arguments[0]);";
    bob.wait_for("alice under direct messages, live", direct, vec![json!("alice")]).await;
    bob.join_room("alice").await;
    bob.wait_message("Just us here.").await;
    bob.say("Indeed.").await;
    alice.wait_message("Indeed.").await;

    // Notes to self, by name from the direct messages' form.
    bob.type_into("direct-start-input", "bob").await;
    bob.click("direct-start").await;
    bob.wait_in_room("bob (you)").await;

    alice.close().await;
    bob.close().await;
}
