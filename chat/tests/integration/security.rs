//! The security matrix: every endpoint and the WebSocket, as each kind of
//! caller, with the status each must get.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, TestServer};

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoSession,
    LoggedOut,
    Expired,
    NonMember,
    ForeignOrigin,
    Member,
}

struct Endpoint {
    method: Method,
    path: &'static str,
    body: Option<Value>,
}

fn endpoints() -> Vec<Endpoint> {
    let e = |method, path, body| Endpoint { method, path, body };
    vec![
        e(Method::GET, "/api/v1/auth/me", None),
        e(Method::GET, "/api/v1/chatrooms", None),
        e(Method::POST, "/api/v1/chatrooms", Some(json!({"name": "fresh"}))),
        e(Method::GET, "/api/v1/chatrooms/{room}/messages", None),
        e(Method::GET, "/ws/chat/{room}", None),
        e(Method::POST, "/api/v1/chatrooms/{room}/join", Some(json!({}))),
        e(Method::POST, "/api/v1/auth/logout", Some(json!({}))),
    ]
}

/// The expected status of each endpoint, in order, for `caller` (101: the
/// WebSocket handshake succeeded).
fn expected(caller: Caller) -> [u16; 7] {
    match caller {
        Caller::NoSession | Caller::LoggedOut | Caller::Expired => [401; 7],
        Caller::NonMember => [200, 200, 201, 403, 403, 200, 200],
        Caller::ForeignOrigin => [200, 200, 403, 200, 403, 403, 403],
        Caller::Member => [200, 200, 201, 200, 101, 200, 200],
    }
}

async fn caller(server: &TestServer, kind: Caller, name: &str, room: &str) -> Client {
    let mut client = server.client();
    if kind == Caller::NoSession {
        return client;
    }
    client.register(name).await;
    client.login(name).await;
    match kind {
        Caller::LoggedOut => {
            let mut twin = client.clone();
            twin.post("/api/v1/auth/logout", json!({})).await;
            twin.cookie = None;
        }
        Caller::Expired => {
            server
                .db
                .query_strings("UPDATE sessions SET expires_at = now() - interval '1 second'")
                .await;
        }
        Caller::ForeignOrigin | Caller::Member => {
            client.join(room).await;
            if kind == Caller::ForeignOrigin {
                client.origin = Some("https://evil.example".into());
            }
        }
        Caller::NoSession | Caller::NonMember => {}
    }
    client
}

#[tokio::test]
async fn every_endpoint_refuses_whoever_it_must() {
    let callers = [
        Caller::NoSession,
        Caller::LoggedOut,
        Caller::Expired,
        Caller::NonMember,
        Caller::ForeignOrigin,
        Caller::Member,
    ];
    for kind in callers {
        // A server per caller: an expired session expires everything of its database.
        let server = TestServer::start().await;
        let owner = server.user("owner").await;
        let room = owner.create_room("General").await;
        let client = caller(&server, kind, "caller", &room).await;
        let mut seen = Vec::new();
        for endpoint in endpoints() {
            if endpoint.path.starts_with("/ws/") {
                seen.push(
                    client.try_connect(&room, "").await.map_or_else(|status| status, |_| 101),
                );
                continue;
            }
            let path = endpoint.path.replace("{room}", &room);
            let reply = client.send(endpoint.method.clone(), &path, endpoint.body.clone()).await;
            assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
            seen.push(reply.status.as_u16());
        }
        assert_eq!(
            seen,
            expected(kind),
            "{kind:?}: {:?}",
            endpoints().iter().map(|e| e.path).collect::<Vec<_>>()
        );
    }
}

/// A socket outlives neither its session's logout nor its expiry: sockets
/// opened with a session that expires close with 1008 when it does, on
/// every instance they are open on.
#[tokio::test]
async fn open_sockets_close_when_their_session_expires_on_every_instance() {
    let server = TestServer::start().await;
    let sibling = server.sibling().await;
    let owner = server.user("owner").await;
    let room = owner.create_room("General").await;
    let mut bob = server.client();
    bob.register("bob").await;
    bob.login("bob").await;
    // Behind the API, so nothing looks bob's session up (and caches its
    // expiry) before the sockets do: it expires in two seconds, he is a member.
    server
        .db
        .query_strings(&format!(
            "UPDATE sessions SET expires_at = now() + interval '2 seconds';
             INSERT INTO chatroom_members (chatroom_id, user_id)
             SELECT '{room}', id FROM users WHERE username = 'bob'"
        ))
        .await;
    let mut here = bob.connect(&room, "").await;
    let mut there = bob.at(&sibling.base()).connect(&room, "").await;
    for ws in [&mut here, &mut there] {
        let (code, _) = ws.closed().await;
        assert_eq!(code, Some(CloseCode::Policy));
    }
    assert_eq!(bob.try_connect(&room, "").await.err(), Some(401));
}
