//! The harness: a server per test, an HTTP client that keeps its session, a
//! WebSocket client that reads JSON frames.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use chat::Configuration as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::database::TestDatabase;
use testkit::rabbit::TestVhost;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for anything before failing (not a performance bound).
pub const PATIENCE: Duration = Duration::from_secs(15);

pub const PASSWORD: &str = "correct horse battery";

/// A running chat server with its own database and vhost.
///
/// Siblings ([`TestServer::sibling`]) share the database and the vhost, which
/// are deleted when the last server holding them is dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Arc<TestDatabase>,
    pub vhost: Arc<TestVhost>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with_env(&[]).await
    }

    /// A server on a new database and vhost, with `vars` over the test defaults.
    pub async fn start_with_env(vars: &[(&str, &str)]) -> Self {
        Self::start_with(TestDatabase::new(), TestVhost::new(), vars).await
    }

    pub async fn start_with(db: TestDatabase, vhost: TestVhost, extra: &[(&str, &str)]) -> Self {
        Self::launch(Arc::new(db), Arc::new(vhost), extra).await
    }

    /// Another chat instance, on its own port, sharing this one's database and
    /// vhost: the two form a cluster. Stopping or dropping either leaves the
    /// shared database and vhost to the other.
    pub async fn sibling(&self) -> Self {
        Self::launch(Arc::clone(&self.db), Arc::clone(&self.vhost), &[]).await
    }

    /// Another chat instance sharing this one's database and vhost, run as a
    /// child process of the `chat` binary so that a test can SIGKILL it.
    pub async fn sibling_process(&self) -> ChatProcess {
        ChatProcess::spawn(&self.db, &self.vhost).await
    }

    async fn launch(db: Arc<TestDatabase>, vhost: Arc<TestVhost>, extra: &[(&str, &str)]) -> Self {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), db.url()),
            ("RABBITMQ_URL".into(), vhost.url()),
            ("COOKIE_SECURE".into(), "false".into()),
            ("CHAT_ADDR".into(), "127.0.0.1:0".into()),
            // Tests log in and post far faster than people; limits have their own tests.
            ("RATE_LIMIT_LOGIN".into(), "off".into()),
            ("RATE_LIMIT_MESSAGES".into(), "off".into()),
            ("RATE_LIMIT_STOCK".into(), "off".into()),
            ("RATE_LIMIT_REGISTER".into(), "off".into()),
            ("RATE_LIMIT_ROOMS".into(), "off".into()),
            ("RATE_LIMIT_HANDSHAKES".into(), "off".into()),
            ("RATE_LIMIT_UPLOADS".into(), "off".into()),
            // Tests stop servers often; the shutdown test sets its own grace.
            ("SHUTDOWN_GRACE".into(), "0".into()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config =
            chat::Config::from_lookup(|name| vars.get(name).cloned()).expect("valid config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            chat::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let server = Self { addr, db, vhost, stop: Some(stop), task: Some(task) };
        wait_until_ready(&server.base(), || false).await;
        server
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        Self::launch(Arc::clone(&self.db), Arc::clone(&self.vhost), &[]).await
    }

    /// Sends the stop signal (as SIGTERM would) without waiting for the server.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task).await.expect("server stops in time").unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://host:port`, for [`Client::at`].
    pub fn base(&self) -> String {
        self.url("")
    }

    pub fn client(&self) -> Client {
        Client { http: reqwest::Client::new(), base: self.url(""), cookie: None, origin: None }
    }

    /// A registered, logged-in user.
    pub async fn user(&self, name: &str) -> Client {
        let mut client = self.client();
        client.register(name).await;
        client.login(name).await;
        client
    }
}

/// Waits for `{base}/health/ready` (database and broker) to answer 200;
/// fails at once when `exited` says the server is gone.
async fn wait_until_ready(base: &str, mut exited: impl FnMut() -> bool) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await
            && response.status() == StatusCode::OK
        {
            return;
        }
        assert!(!exited(), "server at {base} exited before it was ready");
        assert!(tokio::time::Instant::now() < deadline, "server at {base} never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `chat` binary running as a child process against a test's database
/// and vhost; killed (SIGKILL) by [`ChatProcess::kill`] or when dropped.
pub struct ChatProcess {
    /// `http://127.0.0.1:port`, for [`Client::at`].
    pub base: String,
    child: Child,
}

impl ChatProcess {
    pub async fn spawn(db: &TestDatabase, vhost: &TestVhost) -> Self {
        Self::spawn_with(db, vhost, "warn", Stdio::null, Stdio::null).await
    }

    /// A process that logs everything it would log at `debug` to `log`.
    pub async fn spawn_logging(
        db: &TestDatabase,
        vhost: &TestVhost,
        log: &std::path::Path,
    ) -> Self {
        let file = std::fs::File::create(log).unwrap();
        let err = file.try_clone().unwrap();
        Self::spawn_with(db, vhost, "debug", move || file.into(), move || err.into()).await
    }

    async fn spawn_with(
        db: &TestDatabase,
        vhost: &TestVhost,
        rust_log: &str,
        stdout: impl FnOnce() -> Stdio,
        stderr: impl FnOnce() -> Stdio,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_chat"))
            .env("CHAT_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", db.url())
            .env("RABBITMQ_URL", vhost.url())
            .env("COOKIE_SECURE", "false")
            .env("RATE_LIMIT_LOGIN", "off")
            .env("RATE_LIMIT_MESSAGES", "off")
            .env("RATE_LIMIT_STOCK", "off")
            .env("RATE_LIMIT_REGISTER", "off")
            .env("RATE_LIMIT_ROOMS", "off")
            .env("RATE_LIMIT_HANDSHAKES", "off")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(stdout())
            .stderr(stderr())
            .spawn()
            .expect("the chat binary starts");
        let mut process = Self { base: format!("http://127.0.0.1:{port}"), child };
        let base = process.base.clone();
        let child = &mut process.child;
        wait_until_ready(&base, || child.try_wait().is_ok_and(|status| status.is_some())).await;
        process
    }

    /// SIGKILL: the process gets no chance to close anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two members of one room, each with an open socket: the usual cast.
pub struct Pair {
    pub ann: Client,
    pub bob: Client,
    pub room: String,
    pub ann_ws: Ws,
    pub bob_ws: Ws,
}

impl TestServer {
    /// Registers ann and bob, puts both in room "General" and connects both.
    pub async fn two_in_a_room(&self) -> Pair {
        let ann = self.user("ann").await;
        let bob = self.user("bob").await;
        let room = ann.create_room("General").await;
        bob.join(&room).await;
        let ann_ws = ann.connect(&room, "").await;
        let bob_ws = bob.connect(&room, "").await;
        Pair { ann, bob, room, ann_ws, bob_ws }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A stock bot running in-process against a server's vhost and a fake Stooq.
pub struct TestBot {
    pub stooq: testkit::stooq::FakeStooq,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestBot {
    pub async fn start(server: &TestServer) -> Self {
        let stooq = testkit::stooq::FakeStooq::start().await;
        let vars: HashMap<&str, String> =
            HashMap::from([("RABBITMQ_URL", server.vhost.url()), ("STOOQ_API_URL", stooq.url())]);
        let config = bot::Config::from_lookup(|name| vars.get(name).cloned()).expect("bot config");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bot::run(config, async {
                let _ = stopped.await;
            })
            .await
            .expect("bot runs");
        });
        Self { stooq, stop: Some(stop), task: Some(task) }
    }

    /// Sends the stop signal (as SIGTERM would) without waiting for the server.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task).await.expect("bot stops in time").unwrap();
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An HTTP client holding one session cookie.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub origin: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts an error reply with `status` and `code`.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(self.body["error"].as_str().is_some_and(|e| !e.is_empty()), "body: {}", self.body);
    }
}

impl Client {
    /// The same session talking to another instance (sessions live in the
    /// shared database): `base` is [`TestServer::base`] or [`ChatProcess::base`].
    pub fn at(&self, base: &str) -> Client {
        Client { base: base.to_owned(), ..self.clone() }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("session_id={cookie}"));
        }
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    /// Uploads `body` to `room`'s attachments with `query`; the status and
    /// the JSON answer (`null` when there is none).
    pub async fn upload(
        &self,
        room: &str,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let url = format!("{}/api/v1/chatrooms/{room}/attachments?{query}", self.base);
        let response = self
            .http
            .post(url)
            .header("cookie", format!("session_id={}", self.cookie.as_deref().unwrap_or_default()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn register(&self, name: &str) -> Reply {
        let reply = self
            .post("/api/v1/auth/register", json!({"username": name, "password": PASSWORD}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "register {name}: {}", reply.body);
        reply
    }

    pub async fn login(&mut self, name: &str) -> Reply {
        let reply =
            self.post("/api/v1/auth/login", json!({"username": name, "password": PASSWORD})).await;
        assert_eq!(reply.status, StatusCode::OK, "login {name}: {}", reply.body);
        let cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
        let token = cookie.strip_prefix("session_id=").unwrap().split(';').next().unwrap();
        self.cookie = Some(token.to_owned());
        reply
    }

    /// Creates a room and returns its id.
    pub async fn create_room(&self, name: &str) -> String {
        let reply = self.post("/api/v1/chatrooms", json!({"name": name})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn join(&self, room: &str) {
        let reply = self.post(&format!("/api/v1/chatrooms/{room}/join"), json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    pub async fn history(&self, room: &str, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/api/v1/chatrooms/{room}/messages{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["messages"].as_array().unwrap().clone()
    }

    /// Opens the room's WebSocket; panics unless the handshake succeeds.
    pub async fn connect(&self, room: &str, query: &str) -> Ws {
        self.try_connect(room, query).await.expect("handshake accepted")
    }

    /// Opens the room's WebSocket, or returns the HTTP status of the refusal.
    pub async fn try_connect(&self, room: &str, query: &str) -> Result<Ws, u16> {
        self.try_socket(&format!("/ws/chat/{room}{query}")).await
    }

    /// Opens the WebSocket at `path`, or returns the HTTP status of the refusal.
    pub async fn try_socket(&self, path: &str) -> Result<Ws, u16> {
        let url = format!("{}{path}", self.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(&format!("session_id={cookie}")).unwrap());
        }
        if let Some(origin) = &self.origin {
            request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("handshake failed: {other}"),
        }
    }
}

/// A WebSocket client reading JSON frames.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::Text(frame.to_string().into())).await.unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.unwrap();
    }

    /// Sends a chat message with a client id.
    pub async fn say(&mut self, content: &str, client_id: &str) {
        self.send(json!({"type": "chat_message", "content": content, "client_id": client_id}))
            .await;
    }

    /// The next JSON frame; panics on close or after [`PATIENCE`].
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("socket open")
                .expect("frame readable");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next JSON frame if one arrives before `deadline`; panics on close.
    pub async fn next_before(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?
                .expect("socket open")
                .expect("frame readable");
            match message {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"));
                }
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame of `kind`, skipping presence and typing noise.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
            let noise = ["presence", "user_joined", "user_left", "typing"];
            assert!(
                noise.contains(&frame["type"].as_str().unwrap_or("")),
                "expected {kind}, got {frame}"
            );
        }
    }

    /// Reads until the server closes; returns the close code and the frames before it.
    pub async fn closed(&mut self) -> (Option<CloseCode>, Vec<Value>) {
        let mut frames = Vec::new();
        loop {
            let next =
                tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("close in time");
            match next {
                Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => return (frame.map(|f| f.code), frames),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (None, frames),
            }
        }
    }

    /// Like [`Ws::closed`], but `None` when the socket is still open after `wait`.
    pub async fn closed_within(
        &mut self,
        wait: Duration,
    ) -> Option<(Option<CloseCode>, Vec<Value>)> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await.ok()? {
                Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => return Some((frame.map(|f| f.code), frames)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Some((None, frames)),
            }
        }
    }

    /// Asserts that nothing but presence noise arrives for a short while.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(next) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let Some(Ok(Message::Text(text))) = next {
                let frame: Value = serde_json::from_str(&text).unwrap();
                let noise = ["presence", "user_joined", "user_left", "typing"];
                assert!(
                    noise.contains(&frame["type"].as_str().unwrap_or("")),
                    "unexpected frame {frame}"
                );
            }
        }
    }
}
