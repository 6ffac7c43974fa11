//! The browser page, the API reference page and the API documents, embedded
//! in the binary. The reference page's renderer is fetched by `build.rs`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::error::ApiError;
use crate::response::Body;

/// Files under `www/assets/`, with their content types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../../www/assets/app.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../../www/assets/style.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../../www/assets/favicon.svg")),
    (
        "api-docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../www/assets/api-docs.js"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/api-docs/swagger-ui-bundle.js")),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/api-docs/swagger-ui.css")),
    ),
];

/// `GET /`: the chat page.
pub(super) fn index() -> Response<Body> {
    static_response(
        include_bytes!("../../../www/index.html"),
        "text/html; charset=utf-8",
        "no-cache",
    )
}

/// `GET /api/docs`: the API reference, rendered from the OpenAPI document.
pub(super) fn api_docs() -> Response<Body> {
    static_response(include_bytes!("../../../www/api.html"), "text/html; charset=utf-8", "no-cache")
}

/// `GET /assets/{file}`.
pub(super) fn file(name: &str) -> Result<Response<Body>, ApiError> {
    ASSETS
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, content_type, bytes)| static_response(bytes, content_type, "no-cache"))
        .ok_or(ApiError::NotFound("asset"))
}

/// `GET /api/v1/openapi.yaml`: the API's description.
pub(super) fn openapi() -> Response<Body> {
    static_response(include_bytes!("../../openapi.yaml"), "application/yaml", "no-cache")
}

/// `GET /api/v1/asyncapi.yaml`: the WebSocket frames and broker messages.
pub(super) fn asyncapi() -> Response<Body> {
    static_response(include_bytes!("../../asyncapi.yaml"), "application/yaml", "no-cache")
}

fn static_response(
    bytes: &'static [u8],
    content_type: &'static str,
    cache: &'static str,
) -> Response<Body> {
    let mut response = Response::new(crate::response::full(Bytes::from_static(bytes)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
