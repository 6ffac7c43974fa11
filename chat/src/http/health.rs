//! `/health` (alive) and `/health/ready` (dependencies answer).

use http::{Response, StatusCode};

use crate::response::{Body, json_response};
use crate::stock::StockDesk;
use crate::store::Store;

/// `GET /metrics`: Prometheus text.
pub(super) fn metrics() -> Response<Body> {
    let text = crate::metrics::handle().render();
    let mut response = Response::new(http_body_util::Full::new(bytes::Bytes::from(text)));
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

/// Readiness: 200 when PostgreSQL and RabbitMQ answer, else 503 naming the failing part.
pub(super) async fn ready(store: &Store, stock: &dyn StockDesk) -> Response<Body> {
    let database = store.ping().await.is_ok();
    let rabbitmq = stock.is_connected();
    let word = |ok: bool| if ok { "connected" } else { "disconnected" };
    let (status, label) = if database && rabbitmq {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    json_response(
        status,
        &serde_json::json!({ "status": label, "database": word(database), "rabbitmq": word(rabbitmq) }),
    )
}
