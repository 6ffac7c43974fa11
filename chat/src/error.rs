//! Every refusal a request or a frame can get, turned into a response (or
//! an error frame's code) in one place.

use http::{HeaderValue, Response, StatusCode, header};
use protocol::ErrorCode;

use crate::store::StoreError;

/// A refused or failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The input breaks a documented rule.
    #[error("{0}")]
    Validation(String),
    /// A message's text is empty or too long: 400 `VALIDATION_ERROR`, or
    /// the error frame's own code.
    #[error("{1}")]
    Content(ErrorCode, &'static str),
    /// The request body is over the limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// An upload over the uploader's storage quota (`MAX_USER_STORAGE_BYTES`).
    #[error("storing this file would exceed your storage quota of {0} bytes")]
    StorageQuotaExceeded(u64),
    /// An upload without `Content-Length`.
    #[error("Content-Length is required")]
    LengthRequired,
    /// A `Range` outside the file.
    #[error("the range is outside the file")]
    RangeNotSatisfiable(u64),
    /// Wrong username or password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// No valid session.
    #[error("authentication required")]
    Unauthorized,
    /// A write from a foreign site.
    #[error("cross-site request refused")]
    CsrfRejected,
    /// A WebSocket handshake from an origin that is not allowed.
    #[error("origin not allowed")]
    OriginRejected,
    /// Allowed to others, not to this user.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A count that may not grow any further.
    #[error("{0}")]
    LimitReached(&'static str),
    /// No user has the name given.
    #[error("no user has that name")]
    UserNotFound,
    /// The user has an identity key already (replace it with `?reset=true`).
    #[error("you have an identity key already")]
    KeyExists,
    /// The user has no identity key yet.
    #[error("no identity key")]
    NoIdentityKey,
    /// Creating an encrypted room, or being added to one, needs an identity
    /// key: the sentence says whose is missing.
    #[error("{0}")]
    IdentityKeyNeeded(String),
    /// Plain text in an encrypted room.
    #[error("this room is encrypted: send the message sealed (only /stock= goes in the clear)")]
    EncryptionRequired,
    /// Sealed under a key that is not the room's current one (or the room
    /// waits for a new one): read the room's keys again.
    #[error("{0}")]
    StaleEpoch(&'static str),
    /// A rotation that leaves members without the new key: who.
    #[error("a new key must reach every member; missing: {}", .0.join(", "))]
    EnvelopesIncomplete(Vec<String>),
    /// A direct room's members are fixed.
    #[error("the members of a direct room cannot change")]
    DirectRoom,
    /// The user has not joined the room.
    #[error("you are not a member of this chatroom")]
    NotAMember,
    /// No such thing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// The username is in use (any case).
    #[error("username is already taken")]
    UsernameTaken,
    /// The room name is in use (any case).
    #[error("a chatroom with this name already exists")]
    ChatroomExists,
    /// A WebSocket path was asked for without a WebSocket handshake.
    #[error("this path needs a WebSocket handshake")]
    UpgradeRequired,
    /// Over a rate limit; retry after the duration.
    #[error("too many requests; retry later")]
    RateLimited(std::time::Duration),
    /// The client took too long to send its body.
    #[error("the request body took too long to arrive")]
    RequestTimeout,
    /// A dependency is down; retrying later may work.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// A dependency is down, and this says what it means for the request.
    #[error("{0}")]
    UnavailableBecause(&'static str),
    /// A bug or an unexpected failure; details are in the log, not the response.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A request refused by the limit `name` (counted in `/metrics`): 429
    /// with `Retry-After` of `wait`.
    pub(crate) fn limited(name: &'static str, wait: std::time::Duration) -> Self {
        crate::limits::count_refusal(name);
        ApiError::RateLimited(wait)
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation(_) | ApiError::Content(..) => {
                (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::StorageQuotaExceeded(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "STORAGE_QUOTA_EXCEEDED")
            }
            ApiError::LengthRequired => (StatusCode::LENGTH_REQUIRED, "LENGTH_REQUIRED"),
            ApiError::RangeNotSatisfiable(_) => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_NOT_SATISFIABLE")
            }
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::CsrfRejected => (StatusCode::FORBIDDEN, "CSRF_REJECTED"),
            ApiError::OriginRejected => (StatusCode::FORBIDDEN, "ORIGIN_REJECTED"),
            ApiError::NotAMember => (StatusCode::FORBIDDEN, "NOT_A_MEMBER"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::UserNotFound => (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
            ApiError::KeyExists => (StatusCode::CONFLICT, "KEY_EXISTS"),
            ApiError::NoIdentityKey => (StatusCode::NOT_FOUND, "NO_IDENTITY_KEY"),
            ApiError::IdentityKeyNeeded(_) => (StatusCode::CONFLICT, "NO_IDENTITY_KEY"),
            ApiError::EncryptionRequired => (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"),
            ApiError::StaleEpoch(_) => (StatusCode::CONFLICT, "STALE_EPOCH"),
            ApiError::EnvelopesIncomplete(_) => (StatusCode::BAD_REQUEST, "ENVELOPES_INCOMPLETE"),
            ApiError::DirectRoom => (StatusCode::CONFLICT, "DIRECT_ROOM"),
            ApiError::LimitReached(_) => (StatusCode::CONFLICT, "LIMIT_REACHED"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::UsernameTaken => (StatusCode::CONFLICT, "USERNAME_TAKEN"),
            ApiError::ChatroomExists => (StatusCode::CONFLICT, "CHATROOM_EXISTS"),
            ApiError::UpgradeRequired => (StatusCode::UPGRADE_REQUIRED, "UPGRADE_REQUIRED"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT"),
            ApiError::Unavailable | ApiError::UnavailableBecause(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
            }
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }

    /// The error frame's code and text of a refused client frame.
    pub(crate) fn frame(&self) -> (ErrorCode, String) {
        let code = match self {
            ApiError::Validation(_) => ErrorCode::InvalidFrame,
            ApiError::Content(code, _) => *code,
            ApiError::RateLimited(wait) => {
                let seconds = crate::limits::retry_after_secs(*wait);
                return (
                    ErrorCode::RateLimited,
                    format!("too many requests; retry in {seconds} s"),
                );
            }
            ApiError::NotFound(_) | ApiError::UserNotFound => ErrorCode::NotFound,
            ApiError::Forbidden(_) | ApiError::NotAMember => ErrorCode::Forbidden,
            ApiError::LimitReached(_) => ErrorCode::LimitReached,
            ApiError::EncryptionRequired => ErrorCode::EncryptionRequired,
            ApiError::StaleEpoch(_) => ErrorCode::StaleEpoch,
            _ => ErrorCode::Unavailable,
        };
        (code, self.to_string())
    }

    /// The response: the documented status and `{"error", "code"}` body.
    pub(crate) fn into_response(self) -> Response<crate::response::Body> {
        let (status, code) = self.status_and_code();
        let body = serde_json::json!({ "error": self.to_string(), "code": code });
        let mut response = crate::response::json_response(status, &body);
        match self {
            ApiError::MethodNotAllowed(allow) => {
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            ApiError::Unavailable | ApiError::UnavailableBecause(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RangeNotSatisfiable(size) => {
                let range = format!("bytes */{size}");
                if let Ok(value) = HeaderValue::from_str(&range) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
            }
            ApiError::RateLimited(wait) => {
                let seconds = crate::limits::retry_after_secs(wait);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            ApiError::Unavailable
        } else {
            tracing::error!(%error, "database error");
            ApiError::Internal
        }
    }
}
