//! The browser page, the API reference page and the API documents, embedded
//! in the binary. The reference page's renderer is fetched by `build.rs`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::error::ApiError;
use crate::response::Body;

/// One of the page's JavaScript modules in `www/assets/`.
macro_rules! page_module {
    ($file:literal) => {
        (
            $file,
            "text/javascript; charset=utf-8",
            include_bytes!(concat!("../../../www/assets/", $file)),
        )
    };
}

/// Files under `www/assets/`, with their content types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    page_module!("app.js"),
    page_module!("state.js"),
    page_module!("dom.js"),
    page_module!("api.js"),
    page_module!("auth.js"),
    page_module!("rooms.js"),
    page_module!("sockets.js"),
    page_module!("history.js"),
    page_module!("messages.js"),
    page_module!("reactions.js"),
    page_module!("files.js"),
    page_module!("notifications.js"),
    page_module!("composer.js"),
    page_module!("presence.js"),
    page_module!("members.js"),
    page_module!("edits.js"),
    page_module!("search.js"),
    page_module!("crypto.js"),
    page_module!("keystore.js"),
    page_module!("encryption.js"),
    page_module!("lightbox.js"),
    page_module!("picker.js"),
    page_module!("outbox.js"),
    page_module!("autocomplete.js"),
    page_module!("idb.js"),
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

/// The page's slot for the largest upload this server takes.
const UPLOAD_LIMIT_SLOT: &str = r#"<meta name="max-upload-bytes" content="">"#;

/// `GET /`: the chat page, told the largest upload this server takes
/// (`MAX_UPLOAD_BYTES`), so it refuses a larger file before sending it.
pub(super) fn index(max_upload_bytes: u64) -> Response<Body> {
    let page = include_str!("../../../www/index.html").replacen(
        UPLOAD_LIMIT_SLOT,
        &format!(r#"<meta name="max-upload-bytes" content="{max_upload_bytes}">"#),
        1,
    );
    let mut response = Response::new(crate::response::full(Bytes::from(page)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each module the page imports is served: a file added to `www/assets/`
    /// without its line in [`ASSETS`] would leave the page blank.
    #[test]
    fn every_module_the_page_imports_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|(name, _, _)| *name).collect();
        let mut pending = vec!["app.js"];
        let mut seen = Vec::new();
        while let Some(name) = pending.pop() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let (_, kind, bytes) = ASSETS
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is imported but not served; served: {served:?}"));
            assert!(kind.starts_with("text/javascript"), "{name}: {kind}");
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            for line in text.lines().filter(|l| l.starts_with("import ") || l.starts_with("} from"))
            {
                let from = line.split_once("from './").and_then(|(_, rest)| rest.split_once('\''));
                pending.extend(from.map(|(file, _)| file));
            }
        }
        for (name, kind, _) in ASSETS {
            if kind.starts_with("text/javascript")
                && !["api-docs.js", "swagger-ui-bundle.js"].contains(name)
            {
                assert!(seen.contains(name), "{name} is served but nothing imports it");
            }
        }
        for (_, _, bytes) in ASSETS.iter().filter(|(n, _, _)| seen.contains(n)) {
            assert!(bytes.split(|b| *b == b'\n').count() <= 400 + 1, "a module over 400 lines");
        }
    }
}
