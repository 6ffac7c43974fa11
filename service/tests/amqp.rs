//! `service::amqp` against the machine's real RabbitMQ, a vhost per test.

use protocol::broker::{
    COMMANDS_EXCHANGE, COMMANDS_QUEUE, EVENTS_EXCHANGE, RESPONSES_EXCHANGE, RESPONSES_QUEUE,
    STOCK_ROUTING_KEY,
};
use serde_json::json;
use service::amqp::lapin::options::{BasicGetOptions, ConfirmSelectOptions};
use service::amqp::{self, PublishError, Unroutable};
use service::backoff::Backoff;
use testkit::rabbit::TestVhost;

#[tokio::test]
async fn the_topology_routes_commands_and_replies_as_persistent_json() {
    let vhost = TestVhost::new();
    let connection =
        amqp::connect_with_retry(&vhost.url(), "protocol-test", Backoff::RECONNECT).await;
    let connection = connection.expect("connected");
    let channel = amqp::confirm_channel(&connection).await.expect("confirm channel");
    amqp::declare_topology(&channel).await.expect("declaring again is harmless");

    let command = json!({"code": "AAPL.US"});
    amqp::publish_json(&channel, COMMANDS_EXCHANGE, STOCK_ROUTING_KEY, &command, Unroutable::Fail)
        .await
        .expect("a command is routed to stock.commands");
    let reply = json!({"content": "hi"});
    amqp::publish_json(&channel, RESPONSES_EXCHANGE, "", &reply, Unroutable::Fail)
        .await
        .expect("a reply is routed to stock.responses");

    for (queue, body) in [(COMMANDS_QUEUE, command), (RESPONSES_QUEUE, reply)] {
        let message = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
            .expect("one message");
        let properties = &message.delivery.properties;
        let content_type = properties.content_type().as_ref().map(|t| t.as_str());
        assert_eq!(content_type, Some("application/json"));
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        let got: serde_json::Value = serde_json::from_slice(&message.delivery.data).expect("JSON");
        assert_eq!(got, body);
    }
}

#[tokio::test]
async fn unroutable_messages_fail_only_when_asked_to() {
    let vhost = TestVhost::new();
    let connection = amqp::connect_with_retry(&vhost.url(), "protocol-test", Backoff::RECONNECT)
        .await
        .expect("connected");
    let channel = amqp::confirm_channel(&connection).await.expect("confirm channel");

    let body = json!({});
    let lost =
        amqp::publish_json(&channel, COMMANDS_EXCHANGE, "nobody", &body, Unroutable::Fail).await;
    assert!(matches!(lost, Err(PublishError::Returned { reply_code: 312, .. })), "{lost:?}");
    // chat.events has no queue here: an event nobody listens to is fine.
    amqp::publish_json(&channel, EVENTS_EXCHANGE, "", &body, Unroutable::Drop)
        .await
        .expect("dropped silently");
}

#[tokio::test]
async fn publishing_needs_a_confirm_channel() {
    let vhost = TestVhost::new();
    let connection = amqp::connect(&vhost.url(), "protocol-test").await.expect("connected");
    let channel = connection.create_channel().await.expect("channel");
    amqp::declare_topology(&channel).await.expect("topology");
    let body = json!({});
    let sent = amqp::publish_json(&channel, RESPONSES_EXCHANGE, "", &body, Unroutable::Fail).await;
    assert!(matches!(sent, Err(PublishError::NotConfirmMode)), "{sent:?}");

    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirm mode");
    channel.close(200, "done".into()).await.expect("close");
    let closed =
        amqp::publish_json(&channel, RESPONSES_EXCHANGE, "", &body, Unroutable::Fail).await;
    assert!(matches!(closed, Err(PublishError::Broker(_))), "{closed:?}");
}

#[tokio::test]
async fn an_invalid_url_fails_at_once() {
    let connected = amqp::connect_with_retry("http://nope", "protocol-test", Backoff::RECONNECT);
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), connected).await;
    assert!(result.expect("no retrying").is_err());
}

/// `amqps://` with a private CA: a TLS listener (the broker's certificate,
/// signed by a CA made for this test) forwards to the local RabbitMQ, which
/// serves no TLS itself. The CA is trusted only through `cacertfile`.
#[tokio::test]
async fn amqps_connects_through_tls_trusting_the_ca_file_it_names() {
    let vhost = TestVhost::new();
    let tls = TlsListener::start().await;
    let dir = std::env::temp_dir().join(format!("amqps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test setup");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem).expect("test setup");

    let plain = vhost.url();
    let secure = plain.replacen("amqp://", "amqps://", 1).replacen(
        "127.0.0.1:5672",
        &format!("localhost:{}", tls.port),
        1,
    );
    assert_ne!(secure, plain, "the URL was rewritten: {plain}");
    let with_ca = format!("{secure}?cacertfile={}", ca_file.display());
    amqp::check_url(&with_ca).expect("a readable CA file");
    let connection = amqp::connect(&with_ca, "amqps-test").await.expect("TLS connection");
    let channel = amqp::confirm_channel(&connection).await.expect("a channel over TLS");
    amqp::declare_topology(&channel).await.expect("the topology, over TLS");
    assert!(tls.sessions() >= 1, "the connection went through the TLS listener");

    // Without the CA file the certificate is not trusted.
    assert!(amqp::connect(&secure, "amqps-test").await.is_err(), "unknown CA refused");
    // A CA file that is missing or holds no certificate stops at the check.
    assert!(amqp::check_url(&format!("{secure}?cacertfile=/nonexistent.pem")).is_err());
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello").expect("test setup");
    assert!(amqp::check_url(&format!("{secure}?cacertfile={}", not_pem.display())).is_err());
    std::fs::remove_dir_all(&dir).expect("test setup");
}

/// A TLS listener on a free port whose sessions are forwarded to the local
/// RabbitMQ's plain port.
struct TlsListener {
    port: u16,
    ca_pem: String,
    sessions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TlsListener {
    async fn start() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("test setup");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("test setup"))
            .expect("test setup");
        let key = KeyPair::generate().expect("test setup");
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("test setup")
            .signed_by(&key, &ca)
            .expect("test setup");
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("test setup")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key_der)
        .expect("test setup");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("test setup");
        let port = listener.local_addr().expect("test setup").port();
        let sessions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&sessions);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counted = std::sync::Arc::clone(&counted);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else { return };
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Ok(mut broker) = tokio::net::TcpStream::connect("127.0.0.1:5672").await
                    else {
                        return;
                    };
                    let _closed = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                });
            }
        });
        Self { port, ca_pem: ca.pem(), sessions }
    }

    fn sessions(&self) -> usize {
        self.sessions.load(std::sync::atomic::Ordering::SeqCst)
    }
}
