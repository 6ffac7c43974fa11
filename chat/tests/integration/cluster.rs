//! Several chat instances sharing one PostgreSQL database and one RabbitMQ
//! vhost act as one chat: every stored message (a user's or the bot's) reaches
//! the sockets of every instance once, in the room's database order
//! (`created_at, id`); presence, typing and logout cross instances; stock
//! replies are stored once whichever instance consumes them; a message whose
//! event was lost is read back from the database in its place; and a client
//! whose instance is SIGKILLed resumes on another with `?after=` and misses
//! nothing.
//!
//! The instances are in-process [`TestServer`]s joined by
//! [`TestServer::sibling`]; the one a test kills is a child process of the
//! `chat` binary ([`TestServer::sibling_process`]).

use std::collections::HashSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use testkit::database::TestDatabase;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, PATIENCE, TestBot, TestServer, Ws};

/// Frames that may come between the ones a test waits for.
const NOISE: [&str; 5] = ["presence", "presence_diff", "user_joined", "user_left", "typing"];

/// Two instances of one cluster and a room on it.
struct Cluster {
    a: TestServer,
    b: TestServer,
    room: String,
}

impl Cluster {
    /// Starts instance A and its sibling B; a user nobody connects as creates the room.
    async fn start() -> Self {
        let a = TestServer::start().await;
        let b = a.sibling().await;
        let room = a.user("host").await.create_room("General").await;
        Self { a, b, room }
    }

    /// Registers `name` and logs in through `base`, joins the room, and
    /// returns the session talking to `base`.
    async fn member(&self, name: &str, base: &str) -> Client {
        let mut client = self.a.client().at(base);
        client.register(name).await;
        client.login(name).await;
        client.join(&self.room).await;
        client
    }

    /// Members ann, live on A, and bob, live on B: their sockets.
    async fn ann_on_a_and_bob_on_b(&self) -> (Ws, Ws) {
        let ann = self.member("ann", &self.a.base()).await;
        let bob = self.member("bob", &self.b.base()).await;
        (live(&ann, &self.room).await, live(&bob, &self.room).await)
    }
}

/// Opens the room's socket and reads its `presence` frame: from then on the
/// socket is live.
async fn live(client: &Client, room: &str) -> Ws {
    let mut ws = client.connect(room, "").await;
    expect(&mut ws, "the presence frame on connecting", |f| f["type"] == "presence").await;
    ws
}

/// Reads past presence and typing noise to the first frame `wanted` accepts;
/// fails naming `what` when none comes within [`PATIENCE`].
async fn expect(ws: &mut Ws, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let Some(frame) = ws.next_before(deadline).await else {
            panic!("{what}: no such frame within {PATIENCE:?}");
        };
        if wanted(&frame) {
            return frame;
        }
        let kind = frame["type"].as_str().unwrap_or("");
        assert!(NOISE.contains(&kind), "{what}: unexpected frame {frame}");
    }
}

/// The next `count` chat messages, skipping noise.
async fn messages(ws: &mut Ws, what: &str, count: usize) -> Vec<Value> {
    let mut received = Vec::with_capacity(count);
    for n in 1..=count {
        let what = format!("{what} (message {n} of {count})");
        received.push(expect(ws, &what, |f| f["type"] == "chat_message").await);
    }
    received
}

fn chat_saying(content: &str) -> impl Fn(&Value) -> bool + '_ {
    move |f| f["type"] == "chat_message" && f["content"] == content
}

fn frame_of(kind: &str, username: &str) -> Value {
    json!({"type": kind, "username": username})
}

fn ids(messages: &[Value]) -> Vec<String> {
    messages.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

/// The room's message ids in the database's order.
async fn stored_order(db: &TestDatabase, room: &str) -> Vec<String> {
    let sql = format!(
        "SELECT id::text FROM messages WHERE chatroom_id = '{room}' ORDER BY created_at, id"
    );
    db.query_strings(&sql).await.into_iter().map(Option::unwrap).collect()
}

/// Sends `count` messages `<prefix>-<n>` (client ids alike, so `prefix` must
/// be unique in the room) one every `interval`, while reading the socket;
/// resolves to the acknowledgements in the order they came.
fn send_in_background(
    ws: Ws,
    prefix: &'static str,
    count: usize,
    interval: Duration,
) -> JoinHandle<Vec<Value>> {
    let (mut sink, mut stream) = ws.stream.split();
    tokio::spawn(async move {
        let sending = async {
            for n in 0..count {
                let id = format!("{prefix}-{n}");
                let frame = json!({"type": "chat_message", "content": id, "client_id": id});
                sink.send(Message::Text(frame.to_string().into())).await.unwrap();
                if !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
            }
        };
        let acknowledged = async {
            let mine: HashSet<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
            let mut acks = Vec::with_capacity(count);
            while acks.len() < count {
                let message = tokio::time::timeout(PATIENCE, stream.next())
                    .await
                    .unwrap_or_else(|_| panic!("{prefix}: an acknowledgement in time"))
                    .expect("sender's socket open")
                    .unwrap();
                let Message::Text(text) = message else { continue };
                let frame: Value = serde_json::from_str(&text).unwrap();
                let Some(client_id) = frame["client_id"].as_str() else { continue };
                if mine.contains(client_id) {
                    assert_eq!(frame["type"], "chat_message", "{prefix}: refused: {frame}");
                    acks.push(frame);
                }
            }
            acks
        };
        tokio::join!(sending, acknowledged).1
    })
}

/// Connects until the `presence` frame lists everyone in `expected`: a user
/// online on another instance may take a moment to become visible. The first
/// connection is expected to see them; a retry is reported on stdout.
async fn connect_seeing(client: &Client, room: &str, expected: &[&str]) -> Ws {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut ws = client.connect(room, "").await;
        let presence = expect(&mut ws, "presence", |f| f["type"] == "presence").await;
        let users = presence["users"].as_array().unwrap();
        if expected.iter().all(|name| users.contains(&json!(name))) {
            if attempt > 1 {
                println!("presence listed {expected:?} at connection {attempt}");
            }
            return ws;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence never listed {expected:?}; last: {presence}"
        );
        drop(ws);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The harness itself: siblings share accounts, sessions and history, and
/// stopping one leaves the shared database and vhost to the other.
#[tokio::test]
async fn siblings_share_accounts_sessions_and_history() {
    let cluster = Cluster::start().await;
    let (a, b, room) = (&cluster.a.base(), &cluster.b.base(), &cluster.room);
    let ann = cluster.member("ann", a).await;
    let me = ann.at(b).get("/api/v1/auth/me").await;
    assert_eq!(me.body["username"], "ann", "the session made on A is valid on B");

    let mut ws = live(&ann, room).await;
    ws.say("stored through A", "s").await;
    expect(&mut ws, "ann's acknowledgement", chat_saying("stored through A")).await;
    let history = ann.at(b).history(room, "").await;
    assert_eq!(history[0]["content"], "stored through A");

    let Cluster { a: server_a, b: mut server_b, .. } = cluster;
    server_b.stop().await;
    drop(server_b);
    assert_eq!(ann.history(room, "").await.len(), 1, "the database outlives the sibling");
    service::amqp::connect(&server_a.vhost.url(), "test").await.expect("the vhost outlives it");
}

#[tokio::test]
async fn messages_cross_instances_both_ways() {
    let cluster = Cluster::start().await;
    let (mut ann_ws, mut bob_ws) = cluster.ann_on_a_and_bob_on_b().await;

    ann_ws.say("hello from A", "a-1").await;
    let ack = expect(&mut ann_ws, "ann's own copy on A", chat_saying("hello from A")).await;
    let seen =
        expect(&mut bob_ws, "bob on B gets ann's message", chat_saying("hello from A")).await;
    assert_eq!(ack, seen, "the same message on both instances");
    assert_eq!(ack["client_id"], "a-1");

    bob_ws.say("hello from B", "b-1").await;
    let ack = expect(&mut bob_ws, "bob's own copy on B", chat_saying("hello from B")).await;
    let seen =
        expect(&mut ann_ws, "ann on A gets bob's message", chat_saying("hello from B")).await;
    assert_eq!(ack, seen, "the same message on both instances");

    for ws in [&mut ann_ws, &mut bob_ws] {
        ws.assert_quiet(Duration::from_millis(300)).await;
    }
}

/// Stores a message the way an instance does, straight into the database,
/// without announcing it: as if its instance died between commit and publish.
async fn store_unannounced(db: &TestDatabase, room: &str, username: &str, content: &str) {
    db.query_strings(&format!(
        "INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at)
         SELECT gen_random_uuid(), '{room}', u.id, u.username, '{content}',
                greatest(now(), (SELECT max(created_at) + interval '1 microsecond'
                                 FROM messages WHERE chatroom_id = '{room}'))
         FROM users u WHERE u.username = '{username}'"
    ))
    .await;
}

fn contents(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["content"].as_str().unwrap()).collect()
}

/// Events are the fast path, PostgreSQL the truth: a message whose event never
/// came is read back, in its place, when the next message names it as its
/// predecessor, or by the periodic check when nothing follows it.
#[tokio::test]
async fn messages_whose_events_were_lost_are_read_back_in_order() {
    let cluster = Cluster::start().await;
    let room = &cluster.room;
    let (mut ann_ws, mut bob_ws) = cluster.ann_on_a_and_bob_on_b().await;

    store_unannounced(&cluster.a.db, room, "bob", "lost before a reply").await;
    bob_ws.say("the reply", "b-1").await;
    let on_a = messages(&mut ann_ws, "ann on A", 2).await;
    let on_b = messages(&mut bob_ws, "bob on B", 2).await;
    for seen in [&on_a, &on_b] {
        assert_eq!(contents(seen), ["lost before a reply", "the reply"]);
    }

    store_unannounced(&cluster.a.db, room, "ann", "lost with nothing after it").await;
    let last_a = expect(&mut ann_ws, "ann on A", chat_saying("lost with nothing after it")).await;
    expect(&mut bob_ws, "bob on B", chat_saying("lost with nothing after it")).await;

    let seen: Vec<String> = ids(&on_a).into_iter().chain(ids(&[last_a])).collect();
    assert_eq!(seen, stored_order(&cluster.a.db, room).await);
    for ws in [&mut ann_ws, &mut bob_ws] {
        ws.assert_quiet(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn presence_and_typing_cross_instances() {
    let cluster = Cluster::start().await;
    let room = &cluster.room;
    let ann = cluster.member("ann", &cluster.a.base()).await;
    let bob = cluster.member("bob", &cluster.b.base()).await;
    let mut ann_ws = ann.connect(room, "").await;
    let presence = expect(&mut ann_ws, "ann's presence", |f| f["type"] == "presence").await;
    assert_eq!(presence["users"], json!(["ann"]));

    let mut bob_ws = connect_seeing(&bob, room, &["ann", "bob"]).await;
    let joined = frame_of("user_joined", "bob");
    expect(&mut ann_ws, "ann on A hears bob join on B", |f| *f == joined).await;

    bob_ws.send(json!({"type": "typing"})).await;
    let typing = frame_of("typing", "bob");
    expect(&mut ann_ws, "ann on A sees bob typing on B", |f| *f == typing).await;
    ann_ws.send(json!({"type": "typing"})).await;
    let typing = frame_of("typing", "ann");
    expect(&mut bob_ws, "bob on B sees ann typing on A", |f| *f == typing).await;

    drop(bob_ws);
    let left = frame_of("user_left", "bob");
    expect(&mut ann_ws, "ann on A hears bob leave B", |f| *f == left).await;
}

#[tokio::test]
async fn a_big_room_on_one_instance_is_listed_and_counted_on_the_other() {
    let cluster = Cluster::start().await;
    let (a, room) = (&cluster.a.base(), &cluster.room);
    let bob = cluster.member("bob", &cluster.b.base()).await;
    let mut bob_ws = live(&bob, room).await;
    let mut crowd = Vec::new();
    for n in 0..101 {
        let fan = cluster.member(&format!("fan{n:03}"), a).await;
        crowd.push(live(&fan, room).await);
    }
    // Bob on B was told of the first 100 arrivals on A one by one; the
    // 101st made the room big: B's clients hear a diff with the count.
    let counted = |f: &Value| f["type"] == "presence_diff" && f["online"] == 102;
    let diff = expect(&mut bob_ws, "a diff counting 102 on B", counted).await;
    assert_eq!(diff["joined"], json!([]), "fan100 sorts past the first hundred");
    // A newcomer on B is given the first hundred names and the count.
    let carl = cluster.member("carl", &cluster.b.base()).await;
    let mut carl_ws = carl.connect(room, "").await;
    let presence = expect(&mut carl_ws, "presence", |f| f["type"] == "presence").await;
    let users = presence["users"].as_array().unwrap();
    assert_eq!(users.len(), 100);
    assert_eq!((&users[0], &users[99]), (&json!("bob"), &json!("fan098")));
    assert_eq!(presence["online"], 103);
    // Given the list the others hold, carl is brought up to date with them.
    let carl_in = |f: &Value| f["type"] == "presence_diff" && f["joined"] == json!(["carl"]);
    let diff = expect(&mut carl_ws, "carl in a diff on B", carl_in).await;
    assert_eq!((&diff["left"], &diff["online"]), (&json!(["fan098"]), &json!(103)));
    // A name that sorts first, on A, reaches B's list through a diff.
    let first = cluster.member("aaron", a).await;
    let _first_ws = live(&first, room).await;
    let moved = |f: &Value| f["type"] == "presence_diff" && f["joined"] == json!(["aaron"]);
    let diff = expect(&mut carl_ws, "aaron in a diff on B", moved).await;
    assert_eq!((&diff["left"], &diff["online"]), (&json!(["fan097"]), &json!(104)));
    drop(crowd);
}

#[tokio::test]
async fn logout_through_one_instance_closes_the_sessions_sockets_on_every_instance() {
    let cluster = Cluster::start().await;
    let (a, b, room) = (&cluster.a.base(), &cluster.b.base(), &cluster.room);
    let ann = cluster.member("ann", a).await;
    let mut other_session = cluster.a.client().at(b);
    other_session.login("ann").await;
    let mut on_a = live(&ann, room).await;
    let mut on_b = live(&ann.at(b), room).await;
    let mut kept = live(&other_session, room).await;

    let reply = ann.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{}", reply.body);
    assert_eq!(on_a.closed().await.0, Some(CloseCode::Policy), "the socket on A");
    let closed_on_b = on_b.closed_within(PATIENCE).await;
    let (code, _) = closed_on_b.expect("the socket on B is closed after a logout through A");
    assert_eq!(code, Some(CloseCode::Policy), "the socket on B");
    // B served the session from memory for the socket; the logout ended it there too.
    let me_on_b = ann.at(b).get("/api/v1/auth/me").await;
    me_on_b.assert_error(reqwest::StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    kept.say("still in", "k").await;
    expect(&mut kept, "ann's other session on B still works", chat_saying("still in")).await;
}

#[tokio::test]
async fn each_quote_is_stored_once_and_reaches_both_instances_once() {
    let cluster = Cluster::start().await;
    // Two bots compete for the commands; both instances compete for the replies.
    let bots = [TestBot::start(&cluster.a).await, TestBot::start(&cluster.a).await];
    let (mut ann_ws, mut bob_ws) = cluster.ann_on_a_and_bob_on_b().await;

    // Several quotes, so that replies are consumed by each instance in turn.
    let quotes = 10;
    let quote = "AAPL.US quote is $181.18 per share";
    let is_quote = |f: &Value| f["type"] == "chat_message" && f["is_bot"] == true;
    let mut seen = Vec::new();
    for n in 0..quotes {
        ann_ws.say("/stock=AAPL.US", &format!("q{n}")).await;
        let on_a = expect(&mut ann_ws, &format!("quote {n} on A"), is_quote).await;
        let on_b = expect(&mut bob_ws, &format!("quote {n} on B"), is_quote).await;
        assert_eq!(on_a, on_b, "the same stored reply on both instances");
        assert_eq!(on_a["content"], quote);
        assert_eq!(on_a["username"], "StockBot");
        seen.push(on_a);
    }
    for ws in [&mut ann_ws, &mut bob_ws] {
        ws.assert_quiet(Duration::from_millis(500)).await;
    }

    let stored = cluster
        .a
        .db
        .query_strings("SELECT id::text FROM messages WHERE is_bot ORDER BY created_at, id")
        .await;
    assert_eq!(stored.into_iter().flatten().collect::<Vec<_>>(), ids(&seen), "each stored once");
    let asked: Vec<usize> = bots.iter().map(|bot| bot.stooq.requests()).collect();
    assert_eq!(asked.iter().sum::<usize>(), quotes, "each command served by one bot: {asked:?}");
}

#[tokio::test]
async fn clients_of_a_killed_instance_resume_on_another_and_miss_nothing() {
    let b = TestServer::start().await;
    let mut a = b.sibling_process().await;
    let host = b.user("host").await;
    let room = host.create_room("General").await;
    let ann = b.user("ann").await;
    let bob = b.user("bob").await;
    for member in [&ann, &bob] {
        member.join(&room).await;
    }
    let mut ann_ws = live(&ann.at(&a.base), &room).await;
    let bob_ws = live(&bob, &room).await;

    let sent = 60;
    let bob_sends = send_in_background(bob_ws, "m", sent, Duration::from_millis(20));
    let mut seen = messages(&mut ann_ws, "ann on A gets bob's messages from B", 10).await;
    a.kill();
    let (_, last_frames) = ann_ws.closed().await;
    seen.extend(last_frames.into_iter().filter(|f| f["type"] == "chat_message"));

    // Bob is still sending while ann comes back through B.
    let last = seen.last().unwrap()["id"].as_str().unwrap().to_owned();
    let mut ann_ws = ann.connect(&room, &format!("?after={last}")).await;
    let acks = bob_sends.await.unwrap();
    assert_eq!(acks.len(), sent);
    let missed = sent.saturating_sub(seen.len());
    assert!(missed > 0, "the kill came after bob finished: nothing was left to resume");
    println!("ann saw {} messages on A and resumed {missed} on B", seen.len());
    seen.extend(messages(&mut ann_ws, "ann on B gets what she missed", missed).await);
    ann_ws.assert_quiet(Duration::from_millis(300)).await;

    let stored = stored_order(&b.db, &room).await;
    assert_eq!(stored.len(), sent);
    assert_eq!(ids(&seen), stored, "every message once, in the room's order");
}

#[tokio::test]
async fn concurrent_senders_on_both_instances_are_seen_in_one_order_everywhere() {
    let cluster = Cluster::start().await;
    let (a, b, room) = (&cluster.a.base(), &cluster.b.base(), &cluster.room);
    let observer = cluster.member("eve", a).await;
    let mut watchers = [live(&observer, room).await, live(&observer.at(b), room).await];

    let mut sockets = Vec::new();
    for (name, base) in [("ann", a), ("bob", a), ("cat", b), ("dan", b)] {
        sockets.push((name, live(&cluster.member(name, base).await, room).await));
    }
    // All connected first, so that all four send at once.
    let per_sender = 100;
    let senders: Vec<_> = sockets
        .into_iter()
        .map(|(name, ws)| send_in_background(ws, name, per_sender, Duration::ZERO))
        .collect();
    let total = per_sender * senders.len();
    let [on_a, on_b] = &mut watchers;
    let (seen_on_a, seen_on_b) = tokio::join!(
        messages(on_a, "the observer on A", total),
        messages(on_b, "the observer on B", total),
    );
    for sender in senders {
        assert_eq!(sender.await.unwrap().len(), per_sender);
    }
    for ws in &mut watchers {
        ws.assert_quiet(Duration::from_millis(300)).await;
    }

    let stored = stored_order(&cluster.a.db, room).await;
    assert_eq!(stored.len(), total);
    assert_eq!(ids(&seen_on_a), ids(&seen_on_b), "both instances deliver in one order");
    assert_eq!(ids(&seen_on_a), stored, "that order is the database's");
}
