//! `protocol::amqp` against the machine's real RabbitMQ, a vhost per test.

use chat_protocol::amqp::lapin::options::{BasicGetOptions, ConfirmSelectOptions};
use chat_protocol::amqp::{self, Backoff, PublishError, Unroutable};
use chat_protocol::broker::{
    COMMANDS_EXCHANGE, COMMANDS_QUEUE, EVENTS_EXCHANGE, RESPONSES_EXCHANGE, RESPONSES_QUEUE,
    STOCK_ROUTING_KEY,
};
use serde_json::json;
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
