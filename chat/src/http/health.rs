//! `/health` (alive) and `/health/ready` (dependencies answer).

use http::{Response, StatusCode};

use crate::response::{Body, json_response};
use crate::stock::StockDesk;
use crate::store::Store;
use tokio_util::sync::CancellationToken;

/// `GET /metrics`: Prometheus text.
pub(super) fn metrics() -> Response<Body> {
    service::collect_process_metrics();
    let text = crate::metrics::handle().render();
    let mut response = Response::new(crate::response::full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Liveness: the process serves requests.
pub(super) fn live() -> Response<Body> {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Readiness: 200 when PostgreSQL and RabbitMQ answer, else 503 naming the
/// failing part; 503 with `"shutting_down": true` once the server is stopping.
pub(super) async fn ready(
    store: &Store,
    stock: &dyn StockDesk,
    stopping: &CancellationToken,
) -> Response<Body> {
    let database = store.ping().await.is_ok();
    let rabbitmq = stock.is_connected();
    let shutting_down = stopping.is_cancelled();
    let word = |ok: bool| if ok { "connected" } else { "disconnected" };
    let (status, label) = if database && rabbitmq && !shutting_down {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let mut body = serde_json::json!({
        "status": label, "database": word(database), "rabbitmq": word(rabbitmq),
    });
    if shutting_down {
        body["shutting_down"] = true.into();
    }
    json_response(status, &body)
}
