//! Writing in the page: new lines, the length limit shown before sending,
//! links that are safe, a room name too long said so, not cut, and
//! @-mention suggestions.

use fantoccini::key::Key;
use serde_json::json;

use super::chrome::Chromedriver;
use super::page::Page;
use crate::support::TestServer;

#[tokio::test]
async fn the_composer_keeps_new_lines_shows_the_limit_and_links_urls() {
    let driver =
        chromedriver_or_skip!("the_composer_keeps_new_lines_shows_the_limit_and_links_urls");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Writing").await;

    // Shift+Enter is a new line; Enter sends.
    let input = alice.testid("message-input").await;
    let shift_enter =
        format!("{}{}{}", char::from(Key::Shift), char::from(Key::Enter), char::from(Key::Shift));
    input
        .send_keys(&format!("first line{shift_enter}see https://example.com/a?b=1."))
        .await
        .unwrap();
    input.send_keys(&String::from(char::from(Key::Enter))).await.unwrap();
    let shown = "const m = Array.from(document.querySelectorAll('[data-testid=\"message\"][data-id]')).pop();
                 if (!m) return false;
                 const c = m.querySelector('[data-testid=\"message-content\"]');
                 const a = c.querySelector('a');
                 return [c.textContent, a && a.href, a && a.rel, a && a.target, a && a.textContent];";
    let message = bob.wait_for("the two-line message with its link", shown, vec![]).await;
    assert_eq!(
        message,
        json!([
            "first line\nsee https://example.com/a?b=1.",
            "https://example.com/a?b=1",
            "noopener noreferrer",
            "_blank",
            "https://example.com/a?b=1"
        ])
    );
    // Only http(s) becomes a link.
    bob.say("javascript:alert(1) is text").await;
    let plain = "const m = Array.from(document.querySelectorAll('[data-testid=\"message\"][data-id]')).pop();
                 const c = m && m.querySelector('[data-testid=\"message-content\"]');
                 return c && c.textContent === 'javascript:alert(1) is text' ? !c.querySelector('a') : null;";
    assert_eq!(alice.wait_for("the text without a link", plain, vec![]).await, json!(true));

    // The limit is shown while typing, and an over-long message is not sent.
    let long = "x".repeat(1005);
    let fill = "const i = document.querySelector('[data-testid=\"message-input\"]');
                i.value = arguments[0]; i.dispatchEvent(new Event('input')); return true;";
    alice.js(fill, vec![json!(long)]).await;
    let count = "const c = document.querySelector('[data-testid=\"message-count\"]');
                 return !c.hidden && c.textContent;";
    let said = alice.wait_for("the count over the limit", count, vec![]).await;
    assert_eq!(said, json!("5 characters over the limit of 1000"));
    alice.click("send").await;
    let refused = "const e = document.querySelector('[data-testid=\"chat-error\"]');
                   return !e.hidden && e.textContent;";
    let error = alice.wait_for("the refusal", refused, vec![]).await;
    assert_eq!(error, json!("A message can be at most 1000 characters; this one has 1005."));
    let kept = "return document.querySelector('[data-testid=\"message-input\"]').value.length;";
    assert_eq!(alice.js(kept, vec![]).await, json!(1005), "nothing cut, nothing lost");

    // A room name over 100 characters is refused with its length, not cut.
    alice.type_into("new-room-name", &"r".repeat(150)).await;
    alice.click("create-room").await;
    let room_error = "const e = document.querySelector('[data-testid=\"room-error\"]');
                      return !e.hidden && e.textContent;";
    let said = alice.wait_for("the room name refusal", room_error, vec![]).await;
    assert_eq!(said, json!("A room name can be at most 100 characters; this one has 150."));
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn days_are_named_between_messages_and_drafts_wait_in_their_room() {
    let driver =
        chromedriver_or_skip!("days_are_named_between_messages_and_drafts_wait_in_their_room");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Days").await;
    // Two messages of earlier days, stored as the room's first (its chain
    // starts with them), then one of today through the page after a reload.
    let room = server
        .db
        .query_strings("SELECT id::text FROM chatrooms WHERE name = 'Days'")
        .await
        .remove(0)
        .unwrap();
    let sql = format!(
        "INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at, previous_at)
         SELECT gen_random_uuid(), '{room}', u.id, u.username, t.content, t.at, t.previous
         FROM users u,
              (VALUES ('three days ago', date_trunc('day', now()) - interval '3 days' + interval '12 hours',
                       '-infinity'::timestamptz),
                      ('yesterday', date_trunc('day', now()) - interval '1 day' + interval '12 hours',
                       date_trunc('day', now()) - interval '3 days' + interval '12 hours'))
              AS t (content, at, previous)
         WHERE u.username = 'alice'"
    );
    server.db.query_strings(&sql).await;
    alice.client.refresh().await.unwrap();
    alice.wait_in_room("Days").await;
    alice.say("today").await;
    alice.say("and again").await;
    let days = "const items = Array.from(document.querySelectorAll('#messages > li'));
                const shown = items.filter((li) => li.matches('.day-separator, [data-testid=\"message\"][data-id]'))
                    .map((li) => li.matches('.day-separator') ? '# ' + li.textContent
                        : li.querySelector('[data-testid=\"message-content\"]').textContent);
                return shown.length === 7 ? shown : null;";
    let shown = alice.wait_for("three days, each named once", days, vec![]).await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert!(shown[0].starts_with("# ") && shown[0] != "# Yesterday", "{shown:?}");
    assert_eq!(
        shown[1..],
        ["three days ago", "# Yesterday", "yesterday", "# Today", "today", "and again"]
    );
    // One person's messages minutes apart are one group: named once.
    let grouped =
        "return Array.from(document.querySelectorAll('[data-testid=\"message\"][data-id]'),
                                     (m) => m.classList.contains('is-continued'));";
    let grouped = alice.wait_for("the group", grouped, vec![]).await;
    assert_eq!(grouped, json!([false, false, false, true]), "a new day starts a new group");

    // A draft waits in its room while another is open.
    alice.type_into("message-input", "half a thought").await;
    alice.create_room("Elsewhere").await;
    let empty = "return document.querySelector('[data-testid=\"message-input\"]').value;";
    assert_eq!(alice.js(empty, vec![]).await, json!(""));
    alice.join_room("Days").await;
    assert_eq!(alice.js(empty, vec![]).await, json!("half a thought"));
    alice.close().await;
}

#[tokio::test]
async fn an_at_sign_suggests_the_rooms_members() {
    let driver = chromedriver_or_skip!("an_at_sign_suggests_the_rooms_members");
    let server = TestServer::start().await;
    let (alice, bob) = Page::two_in_a_room(&driver, &server.url("/"), "Mentions").await;
    let input = alice.testid("message-input").await;
    input.send_keys("lunch, @bo").await.unwrap();
    let options = "const list = document.querySelector('[data-testid=\"mention-suggestions\"]');
                   return list.hidden ? null : Array.from(list.querySelectorAll('[data-testid=\"mention-option\"]'),
                                                          (o) => o.textContent);";
    assert_eq!(alice.wait_for("the suggestions", options, vec![]).await, json!(["@bob"]));
    input.send_keys(&String::from(char::from(Key::Tab))).await.unwrap();
    let value = "return document.querySelector('[data-testid=\"message-input\"]').value;";
    assert_eq!(alice.js(value, vec![]).await, json!("lunch, @bob "));
    let closed = "return document.querySelector('[data-testid=\"mention-suggestions\"]').hidden;";
    assert_eq!(alice.js(closed, vec![]).await, json!(true));
    input.send_keys("?").await.unwrap();
    input.send_keys(&String::from(char::from(Key::Enter))).await.unwrap();
    let mentioned =
        "return !!document.querySelector('[data-testid=\"message\"][data-mentions-me=\"true\"]');";
    bob.wait_for("the mention marked on bob's screen", mentioned, vec![]).await;
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn over_the_message_limit_a_message_counts_down_and_is_sent() {
    let driver = chromedriver_or_skip!("over_the_message_limit_a_message_counts_down_and_is_sent");
    let server = TestServer::start_with_env(&[("RATE_LIMIT_MESSAGES", "2/4s")]).await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Busy").await;
    for text in ["one", "two", "three"] {
        alice.say(text).await;
    }
    let counting = "const li = Array.from(document.querySelectorAll('[data-testid=\"message\"]'))
                        .find((m) => m.querySelector('[data-testid=\"message-content\"]').textContent === 'three');
                    const status = li && li.querySelector('.message-status');
                    return status && /^too many messages: sending in \\d+ s$/.test(status.textContent)
                        && li.dataset.pending === 'true';";
    alice.wait_for("the third message counting down", counting, vec![]).await;
    let shown = alice.wait_message("three").await;
    assert_eq!(shown.iter().filter(|m| m.content == "three").count(), 1, "{shown:?}");
    alice.close().await;
}

#[tokio::test]
async fn a_file_over_the_servers_limit_is_refused_before_sending() {
    let driver = chromedriver_or_skip!("a_file_over_the_servers_limit_is_refused_before_sending");
    let server = TestServer::start_with_env(&[("MAX_UPLOAD_BYTES", "1048576")]).await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Files").await;
    let path = std::env::temp_dir().join(format!("big-{}.bin", uuid::Uuid::new_v4()));
    std::fs::write(&path, vec![7u8; 2 * 1024 * 1024]).unwrap();
    alice.testid("file-input").await.send_keys(path.to_str().unwrap()).await.unwrap();
    let said = "return document.querySelector('[data-testid=\"chat-error\"]').textContent || null;";
    let error = alice.wait_for("the refusal", said, vec![]).await;
    let name = path.file_name().unwrap().to_str().unwrap();
    assert_eq!(error, json!(format!("{name} is 2.0 MiB: files can be at most 1.0 MiB.")));
    let _ = std::fs::remove_file(&path);
    let uploading = "return document.querySelector('[data-testid=\"upload-status\"]').hidden
                        && document.querySelectorAll('[data-testid=\"message\"]').length === 0;";
    assert_eq!(alice.js(uploading, vec![]).await, json!(true), "nothing was sent");
    alice.close().await;
}

#[tokio::test]
async fn a_room_opens_at_its_first_unread_message_and_leads_back_to_it() {
    let driver =
        chromedriver_or_skip!("a_room_opens_at_its_first_unread_message_and_leads_back_to_it");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    alice.create_room("Elsewhere").await;
    alice.create_room("Busy").await;
    alice.join_room("Elsewhere").await;
    let rooms = alice.js("return fetch('/api/v1/chatrooms').then((r) => r.json());", vec![]).await;
    let busy = rooms["chatrooms"].as_array().unwrap().iter().find(|r| r["name"] == "Busy").unwrap()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob writes forty messages while alice looks at another room.
    let bob = server.user("bob").await;
    bob.join(&busy).await;
    let mut ws = bob.connect(&busy, "").await;
    for n in 0..40 {
        ws.say(&format!("news {n}"), &format!("n{n}")).await;
        ws.next_of("chat_message").await;
    }
    let badge = "const room = [...document.querySelectorAll('[data-testid=\"room\"]')]
                     .find((r) => r.querySelector('.room-name').textContent === 'Busy');
                 const badge = room && room.querySelector('[data-testid=\"unread-badge\"]');
                 return badge && badge.textContent === '40';";
    alice.wait_for("forty unread in Busy", badge, vec![]).await;
    alice.join_room("Busy").await;
    let at_first = "const line = document.querySelector('[data-testid=\"unread-divider\"]');
                    const log = document.querySelector('[data-testid=\"messages\"]').getBoundingClientRect();
                    if (!line) return null;
                    const top = line.getBoundingClientRect().top;
                    return { text: line.textContent, shown: top >= log.top - 1 && top < log.bottom };";
    assert_eq!(
        alice.wait_for("the room open at the line", at_first, vec![]).await,
        json!({"text": "40 new messages", "shown": true})
    );
    // At the bottom, a button leads back to where the unread ones start.
    alice
        .js(
            "const log = document.querySelector('[data-testid=\"messages\"]');
              log.scrollTop = log.scrollHeight; log.dispatchEvent(new Event('scroll')); return 1;",
            vec![],
        )
        .await;
    alice.click("jump-first-unread").await;
    let back = "const line = document.querySelector('[data-testid=\"unread-divider\"]').getBoundingClientRect();
                const log = document.querySelector('[data-testid=\"messages\"]').getBoundingClientRect();
                return line.top >= log.top - 1 && line.top < log.bottom;";
    alice.wait_for("the line in view again", back, vec![]).await;
    alice.close().await;
}
