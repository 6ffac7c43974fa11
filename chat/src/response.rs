//! The response body every handler, refusal and handshake answers with.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// Every response body: most are small and buffered ([`full`]); a file
/// download is streamed a chunk at a time.
pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A buffered body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"success": true}` with `status`: what a write with nothing else to say answers.
pub(crate) fn success(status: StatusCode) -> Response<Body> {
    json_response(status, &serde_json::json!({ "success": true }))
}
