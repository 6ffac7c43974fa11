//! Prometheus metrics, rendered at `GET /metrics`.
//!
//! The `metrics` facade records; one process-wide Prometheus recorder
//! (installed on first use) aggregates and renders.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests served, by method, route and status.
pub(crate) const HTTP_REQUESTS: &str = "http_requests_total";
/// Request latency, by method and route.
pub(crate) const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Open WebSocket connections.
pub(crate) const WS_ACTIVE: &str = "websocket_connections_active";
/// Messages stored and broadcast (user and bot).
pub(crate) const MESSAGES_SENT: &str = "messages_sent_total";
/// Stock commands, by outcome (`sent`, `unavailable`).
pub(crate) const STOCK_REQUESTS: &str = "stock_requests_total";
/// From a stock command to its stored reply.
pub(crate) const STOCK_DURATION: &str = "stock_request_duration_seconds";
/// Rows per group-commit insert.
pub(crate) const WRITER_BATCH: &str = "room_writer_batch_size";
/// How long a message waits in the room writer's queue before its insert starts.
pub(crate) const WRITER_WAIT: &str = "room_writer_wait_seconds";
/// How long one group-commit insert takes.
pub(crate) const WRITER_INSERT: &str = "room_writer_insert_seconds";
/// Requests and frames refused by a rate limit, by limit.
pub(crate) const RATE_LIMITED: &str = "rate_limited_total";
/// Events to and from the other chat instances, by direction and outcome.
pub(crate) const CLUSTER_EVENTS: &str = "cluster_events_total";
/// Messages a room read back from PostgreSQL because their event was late or lost.
pub(crate) const GAP_FILLED: &str = "room_gap_filled_messages_total";

const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The process's recorder; installed by the first caller.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(WRITER_BATCH.into()), BATCH_BUCKETS)
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        // Fails only if another recorder is installed (then that one records).
        let _ = metrics::set_global_recorder(recorder);
        describe();
        service::describe_process_metrics("chat", env!("CARGO_PKG_VERSION"));
        handle
    })
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests served");
    metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP request latency");
    metrics::describe_gauge!(WS_ACTIVE, "Open WebSocket connections");
    metrics::describe_counter!(MESSAGES_SENT, "Messages stored and broadcast");
    metrics::describe_counter!(STOCK_REQUESTS, "Stock commands received");
    metrics::describe_histogram!(
        STOCK_DURATION,
        metrics::Unit::Seconds,
        "Stock command to stored reply"
    );
    metrics::describe_histogram!(WRITER_BATCH, "Messages per group-commit insert");
    metrics::describe_histogram!(
        WRITER_WAIT,
        metrics::Unit::Seconds,
        "Time a message waits in the room writer's queue before its insert starts"
    );
    metrics::describe_histogram!(
        WRITER_INSERT,
        metrics::Unit::Seconds,
        "Duration of one group-commit insert"
    );
    metrics::describe_counter!(RATE_LIMITED, "Requests and frames refused by a rate limit");
    metrics::describe_counter!(CLUSTER_EVENTS, "Events to and from the other chat instances");
    metrics::describe_counter!(GAP_FILLED, "Messages read back because their event was late");
}

/// The age of a UUIDv7 (its embedded millisecond timestamp), if it has one.
pub(crate) fn age_of_v7(id: uuid::Uuid) -> Option<Duration> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    let created = std::time::UNIX_EPOCH + Duration::new(seconds, nanos);
    std::time::SystemTime::now().duration_since(created).ok()
}
