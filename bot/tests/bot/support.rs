//! The harness: a vhost, a fake Stooq and a client of the broker per test,
//! and the bot run in-process or as the real `bot` binary.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bot::quotes::QuoteSource;
use bot::{Config, LogFormat};
use futures_util::StreamExt;
use protocol::broker::{
    COMMANDS_EXCHANGE, COMMANDS_QUEUE, RESPONSES_QUEUE, STOCK_ROUTING_KEY, StockCommand, StockReply,
};
use service::amqp::lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use service::amqp::lapin::types::FieldTable;
use service::amqp::lapin::{Channel, Connection, Consumer};
use service::amqp::{self, Unroutable};
use testkit::rabbit::TestVhost;
use testkit::stooq::FakeStooq;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Generous: a reply is due within 5 s; this only stops a broken test.
pub(crate) const REPLY_WAIT: Duration = Duration::from_secs(20);
/// Generous bound for a bot to stop after SIGTERM or its shutdown signal.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// Everything one test talks to.
pub(crate) struct Harness {
    /// The fake upstream the bot asks.
    pub(crate) stooq: FakeStooq,
    /// The test's side of the broker, playing the chat server.
    chat: ChatSide,
    /// The test's own vhost; declared last so that it is deleted last.
    pub(crate) vhost: TestVhost,
}

/// The test's broker connection: publishes commands, reads replies.
struct ChatSide {
    /// Kept open for the channels below.
    _connection: Connection,
    /// In confirm mode, for commands.
    publisher: Channel,
    /// Consumes `stock.responses` with automatic acks.
    replies: Consumer,
}

impl ChatSide {
    async fn connect(vhost: &TestVhost) -> Self {
        let url = vhost.url();
        let connection = amqp::connect(&url, "bot-test").await.expect("connect to the test vhost");
        let channel = connection.create_channel().await.expect("channel");
        amqp::declare_topology(&channel).await.expect("declare topology");
        let publisher = amqp::confirm_channel(&connection).await.expect("confirm channel");
        let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
        let replies = channel
            .basic_consume(RESPONSES_QUEUE.into(), "".into(), no_ack, FieldTable::default())
            .await
            .expect("consume replies");
        Self { _connection: connection, publisher, replies }
    }
}

impl Harness {
    /// A new vhost with the topology declared, a fake Stooq serving quotes.
    pub(crate) async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info,bot=debug,lapin=warn")
            .try_init();
        let vhost = TestVhost::new();
        let stooq = FakeStooq::start().await;
        let chat = ChatSide::connect(&vhost).await;
        Self { stooq, chat, vhost }
    }

    /// The bot's configuration for this test.
    pub(crate) fn config(&self) -> Config {
        Config {
            rabbitmq_url: self.vhost.url(),
            stooq_api_url: self.stooq.url(),
            stooq_api_key: None,
            // Tests that scrape bind their own listener: see `InProcessBot::spawn_with_metrics`.
            metrics_addr: None,
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
        }
    }

    /// Runs the bot library in this process with [`Harness::config`].
    pub(crate) fn spawn_bot(&self) -> InProcessBot {
        InProcessBot::spawn(self.config())
    }

    /// Replaces the test's broker connection, e.g. after the broker closed it.
    pub(crate) async fn reconnect(&mut self) {
        self.chat = ChatSide::connect(&self.vhost).await;
    }

    /// Publishes `/stock=<code>` as the chat server does, and returns the command.
    pub(crate) async fn ask(&self, code: &str) -> StockCommand {
        let command = StockCommand {
            command_id: Uuid::new_v4(),
            chatroom_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            code: code.into(),
        };
        self.publish(&command).await;
        command
    }

    /// Publishes any JSON value as a command.
    pub(crate) async fn publish<T: serde::Serialize + ?Sized>(&self, body: &T) {
        let (exchange, key) = (COMMANDS_EXCHANGE, STOCK_ROUTING_KEY);
        amqp::publish_json(&self.chat.publisher, exchange, key, body, Unroutable::Fail)
            .await
            .expect("publish a command");
    }

    /// The next reply; panics when none comes within [`REPLY_WAIT`].
    pub(crate) async fn reply(&mut self) -> StockReply {
        let delivery = tokio::time::timeout(REPLY_WAIT, self.chat.replies.next())
            .await
            .expect("a reply within the wait")
            .expect("the replies consumer is open")
            .expect("a delivery");
        assert_eq!(
            delivery.properties.content_type().as_ref().map(|t| t.as_str()),
            Some("application/json")
        );
        assert_eq!(*delivery.properties.delivery_mode(), Some(2), "persistent");
        serde_json::from_slice(&delivery.data).expect("a StockReply")
    }

    /// The reply to `command`, checking that it answers that command.
    pub(crate) async fn reply_to(&mut self, command: &StockCommand) -> String {
        let reply = self.reply().await;
        assert_eq!(reply.command_id, command.command_id);
        assert_eq!(reply.chatroom_id, command.chatroom_id);
        reply.content
    }

    /// Asserts that no reply arrives within `wait`.
    pub(crate) async fn assert_no_reply_for(&mut self, wait: Duration) {
        if let Ok(Some(delivery)) = tokio::time::timeout(wait, self.chat.replies.next()).await {
            let body = delivery.map(|d| String::from_utf8_lossy(&d.data).into_owned());
            panic!("unexpected reply: {body:?}");
        }
    }

    /// Commands ready in `stock.commands` (unacked ones are not counted: stop
    /// the bots first to count what they did not ack).
    pub(crate) async fn commands_waiting(&self) -> u32 {
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let queue = self
            .chat
            .publisher
            .queue_declare(COMMANDS_QUEUE.into(), passive, FieldTable::default())
            .await
            .expect("stock.commands exists");
        queue.message_count()
    }

    /// Waits (at most [`REPLY_WAIT`]) until the fake Stooq has seen `count` requests.
    pub(crate) async fn wait_for_requests(&self, count: usize) {
        let waited = tokio::time::timeout(REPLY_WAIT, async {
            while self.stooq.requests() < count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "Stooq saw {} requests, expected {count}", self.stooq.requests());
    }
}

/// The bot library running on the test's runtime.
pub(crate) struct InProcessBot {
    /// Completes the bot's shutdown future.
    stop: oneshot::Sender<()>,
    /// The running `bot::run`.
    task: JoinHandle<Result<(), bot::Error>>,
}

impl InProcessBot {
    pub(crate) fn spawn(config: Config) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bot::run(config, async {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    /// Runs the bot asking `quotes` instead of Stooq.
    pub(crate) fn spawn_with_source(config: Config, quotes: Arc<dyn QuoteSource>) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bot::run_with_source(config, quotes, None, async {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    /// Runs the bot serving its metrics on `listener` (bound by the test on port 0).
    pub(crate) fn spawn_with_metrics(config: Config, listener: TcpListener) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bot::run_with_metrics(config, Some(listener), async {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    /// Asks the bot to shut down gracefully and waits until it has.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(STOP_WAIT, self.task).await;
        result.expect("the bot stops in time").expect("the bot task").expect("the bot ran");
    }
}

/// The real `bot` binary, killed when dropped.
pub(crate) struct BotProcess {
    /// `None` once waited for.
    child: Option<Child>,
}

impl BotProcess {
    /// Starts `bot` against the harness's vhost and fake Stooq.
    pub(crate) fn spawn(harness: &Harness) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_bot"))
            .env("RABBITMQ_URL", harness.vhost.url())
            .env("STOOQ_API_URL", harness.stooq.url())
            .env_remove("STOOQ_API_KEY")
            // Any free port: several bots run at once.
            .env("BOT_METRICS_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the bot binary");
        Self { child: Some(child) }
    }

    /// SIGKILL: the process gets no chance to ack, publish or close anything.
    pub(crate) fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the bot");
            child.wait().expect("reap the bot");
        }
    }

    /// SIGTERM, then waits (generously) for the process to exit.
    pub(crate) async fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "SIGTERM the bot");
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("poll the bot") {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the bot did not exit after SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
