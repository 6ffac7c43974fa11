//! Files: `POST /api/v1/chatrooms/{id}/attachments` posts one as a message
//! (in an encrypted room, `?encrypted=true` stores the client's ciphertext
//! for a sealed message to show), `GET /api/v1/attachments/{id}` serves it
//! to the room's members.
//!
//! Both stream: an upload is written to PostgreSQL a chunk at a time as it
//! arrives, a download read a chunk at a time as the client takes it. Only
//! the four image formats browsers show safely are served as themselves, and
//! only when their bytes are that format; everything else is a download.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, BodyStream, StreamBody};
use hyper::body::{Frame, Incoming};
use protocol::frames::MAX_CLIENT_ID_CHARS;
use protocol::message::MAX_CONTENT_CHARS;
use protocol::text::{check_storable, check_visible_name};
use uuid::Uuid;

use super::Api;
use super::range::{Range, parse_range};
use super::request::member_of_room;
use crate::access::{authenticate, query_param, require_member};
use crate::actions::{Actor, FileUpload, Posted};
use crate::error::ApiError;
use crate::limits::Tally;
use crate::response::{Body, json_response};
use crate::store::{CHUNK_BYTES, Sealing, Store, StoredFile};

/// An upload that sends nothing for this long is abandoned.
const BODY_IDLE: Duration = Duration::from_secs(30);
/// Uploads one user may have in progress at once: each holds a database
/// connection while its body arrives, so one account must not hold them all.
pub(crate) const MAX_UPLOADS_PER_USER: usize = 2;
/// When a user over [`MAX_UPLOADS_PER_USER`] is told to retry.
const RETRY_UPLOAD: Duration = Duration::from_secs(5);
/// The longest file name, in characters.
const MAX_FILENAME_CHARS: usize = 255;
/// Shown as themselves, when the bytes agree.
const INLINE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/// A file served with this can run nothing, even opened directly.
const FILE_CSP: &str = "sandbox; default-src 'none'";

/// The limits of uploads.
pub(crate) struct Uploads {
    /// `MAX_UPLOAD_BYTES`.
    pub(crate) max_bytes: u64,
    /// `MAX_CONCURRENT_UPLOADS` permits. Each upload holds a pooled
    /// PostgreSQL connection for as long as its body takes to arrive, so
    /// slow uploads must not be able to take the whole pool.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// Uploads in progress per user, at most [`MAX_UPLOADS_PER_USER`].
    pub(crate) per_user: Arc<Tally<Uuid>>,
    /// `UPLOAD_TIMEOUT`: the most one body may take, however it trickles in.
    pub(crate) deadline: Duration,
}

/// `POST /api/v1/chatrooms/{id}/attachments?filename=&caption=&client_id=`,
/// or `?encrypted=true` (no name, no caption) in an encrypted room.
pub(super) async fn upload(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, sealing) = member_of_room(api, request.headers(), room).await?;
    let query = request.uri().query();
    let sealed = match query_param(query, "encrypted").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::Validation("encrypted must be true or false".into())),
    };
    match (sealing, sealed) {
        (Sealing::Encrypted, false) => return Err(ApiError::EncryptionRequired),
        (Sealing::Plain, true) => {
            let reason = "encrypted=true is for encrypted rooms only";
            return Err(ApiError::Validation(reason.into()));
        }
        _ => {}
    }
    if sealed
        && (query_param(query, "filename").is_some() || query_param(query, "caption").is_some())
    {
        let reason =
            "an encrypted upload has no filename or caption: they go in the sealed message";
        return Err(ApiError::Validation(reason.into()));
    }
    let filename =
        if sealed { String::new() } else { check_filename(query_param(query, "filename"))? };
    let caption = query_param(query, "caption").unwrap_or_default().trim().to_owned();
    if caption.chars().count() > MAX_CONTENT_CHARS {
        let reason = format!("caption is longer than {MAX_CONTENT_CHARS} characters");
        return Err(ApiError::Validation(reason));
    }
    check_storable(&caption).map_err(|e| ApiError::Validation(e.describe("caption")))?;
    let client_id = query_param(query, "client_id").filter(|key| !key.is_empty());
    if let Some(key) = &client_id {
        if key.chars().count() > MAX_CLIENT_ID_CHARS {
            let reason = format!("client_id is longer than {MAX_CLIENT_ID_CHARS} characters");
            return Err(ApiError::Validation(reason));
        }
        check_storable(key).map_err(|e| ApiError::Validation(e.describe("client_id")))?;
    }
    let size = declared_length(request.headers())?;
    let uploads = &api.uploads;
    if size > uploads.max_bytes {
        return Err(ApiError::PayloadTooLarge(usize::try_from(uploads.max_bytes).unwrap_or(0)));
    }
    let _mine = uploads
        .per_user
        .open(user.id)
        .ok_or_else(|| ApiError::limited("uploads_in_progress", RETRY_UPLOAD))?;
    let Ok(_slot) = Arc::clone(&uploads.slots).try_acquire_owned() else {
        return Err(ApiError::Unavailable);
    };
    let deadline = tokio::time::Instant::now() + uploads.deadline;
    let claimed = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let frames = BodyStream::new(request.into_body()).filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame.into_data().ok().map(Ok),
            Err(error) => Some(Err(error)),
        }
    });
    let body = timed(frames, BODY_IDLE, deadline);
    let actor = Actor::from(&user);
    if sealed {
        return match api.actions.upload_sealed(actor, room, size, body).await {
            Ok(file) => Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({ "id": file.id, "size": file.size, "url": file.url }),
            )),
            Err(ApiError::Validation(_)) if tokio::time::Instant::now() >= deadline => {
                Err(ApiError::RequestTimeout)
            }
            Err(error) => Err(error),
        };
    }
    let upload = FileUpload { filename, caption, client_id, size };
    let served_as = |head: &[u8]| served_type(head, &claimed);
    match api.actions.upload(actor, room, upload, body, served_as).await {
        Ok(Posted::Created(message)) => Ok(json_response(StatusCode::CREATED, &message)),
        Ok(Posted::Repeat(message)) => Ok(json_response(StatusCode::OK, &message)),
        Err(ApiError::Validation(_)) if tokio::time::Instant::now() >= deadline => {
            Err(ApiError::RequestTimeout)
        }
        Err(error) => Err(error),
    }
}

/// `GET /api/v1/attachments/{id}`: the file, to members of its room.
pub(super) async fn download(
    api: &Api,
    request: Request<Incoming>,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("attachment"))?;
    let file = api.store.stored_file(id).await?.ok_or(ApiError::NotFound("attachment"))?;
    require_member(&api.store, file.room, user.id).await?;

    let etag = format!("\"{}\"", hex(&file.sha256));
    let headers = request.headers();
    let mut response = if matches_etag(headers.get(header::IF_NONE_MATCH), &etag) {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        // A Range is honoured only while the file is the one it was asked of.
        let range = match headers.get(header::IF_RANGE) {
            Some(tag) if tag.as_bytes() != etag.as_bytes() => None,
            _ => headers.get(header::RANGE),
        };
        let range = range.and_then(|value| value.to_str().ok());
        let (status, start, end) = match range.map(|value| parse_range(value, file.size)) {
            None | Some(Range::Ignored) => (StatusCode::OK, 0, file.size),
            Some(Range::Unsatisfiable) => return Err(ApiError::RangeNotSatisfiable(file.size)),
            Some(Range::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        };
        let mut response = Response::new(stream_file(api.store.clone(), id, start, end));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
        if status == StatusCode::PARTIAL_CONTENT {
            let range = format!("bytes {start}-{}/{}", end - 1, file.size);
            headers.insert(header::CONTENT_RANGE, header_value(&range));
        }
        response
    };
    describe(response.headers_mut(), &file, &etag);
    Ok(response)
}

/// The headers every answer about a file carries.
fn describe(headers: &mut HeaderMap, file: &StoredFile, etag: &str) {
    let inline = INLINE_TYPES.contains(&file.content_type.as_str());
    let (content_type, disposition) = if inline {
        (file.content_type.as_str(), "inline")
    } else {
        ("application/octet-stream", "attachment")
    };
    headers.insert(header::CONTENT_TYPE, header_value(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&disposition_of(disposition, &file.filename)),
    );
    headers.insert(header::ETAG, header_value(etag));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// Bytes `start..end` of file `id`, read a chunk at a time as the client
/// takes them.
fn stream_file(store: Store, id: Uuid, start: u64, end: u64) -> Body {
    let chunk = CHUNK_BYTES as u64;
    let state = (store, start);
    let chunks = futures_util::stream::unfold(state, move |(store, at)| async move {
        if at >= end {
            return None;
        }
        let seq = i32::try_from(at / chunk).unwrap_or(i32::MAX);
        let from = usize::try_from(at % chunk).unwrap_or(0);
        let to = usize::try_from((end - (at - at % chunk)).min(chunk)).unwrap_or(0);
        let read = match store.file_chunk(id, seq, from, to).await {
            Ok(Some(bytes)) if !bytes.is_empty() => Ok(bytes),
            Ok(_) => Err(std::io::Error::other("the file's chunk is missing")),
            Err(error) => Err(std::io::Error::other(error)),
        };
        let next = match &read {
            Ok(bytes) => at + bytes.len() as u64,
            Err(_) => end,
        };
        Some((read.map(Frame::data), (store, next)))
    });
    StreamBody::new(chunks).boxed_unsync()
}

/// `Content-Length`, which an upload must send.
fn declared_length(headers: &HeaderMap) -> Result<u64, ApiError> {
    let value = headers.get(header::CONTENT_LENGTH).ok_or(ApiError::LengthRequired)?;
    value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| ApiError::Validation("Content-Length is not a number".into()))
}

/// A file name without directories, control characters or surprises.
fn check_filename(name: Option<String>) -> Result<String, ApiError> {
    let refuse = |why: &str| Err(ApiError::Validation(format!("filename {why}")));
    let Some(name) = name else { return refuse("is required") };
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        return refuse("is required");
    }
    if name.chars().count() > MAX_FILENAME_CHARS {
        return refuse(&format!("is longer than {MAX_FILENAME_CHARS} characters"));
    }
    if name.contains(['/', '\\']) {
        return refuse("must not contain / or \\");
    }
    check_visible_name(name).map_err(|e| ApiError::Validation(e.describe("filename")))?;
    Ok(name.to_owned())
}

/// What a file whose first bytes are `head` is served as: one of
/// [`INLINE_TYPES`] when the bytes are that format, otherwise the type the
/// uploader claimed, unless it claimed an image (an image that is not one is
/// just bytes).
fn served_type(head: &[u8], claimed: &str) -> String {
    if let Some(kind) = infer::get(head)
        && INLINE_TYPES.contains(&kind.mime_type())
    {
        return kind.mime_type().to_owned();
    }
    let claimed = claimed.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let well_formed = claimed.split_once('/').is_some_and(|(kind, sub)| {
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        token(kind) && token(sub)
    });
    if !well_formed || claimed.starts_with("image/") {
        return "application/octet-stream".to_owned();
    }
    claimed
}

fn matches_etag(header: Option<&HeaderValue>, etag: &str) -> bool {
    header.and_then(|v| v.to_str().ok()).is_some_and(|tags| {
        tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
    })
}

/// `attachment; filename="…"; filename*=UTF-8''…`: the quoted form in ASCII
/// for old clients, the encoded one exact. An encrypted upload has no name
/// (it is in the sealed message): just the kind.
fn disposition_of(kind: &str, filename: &str) -> String {
    if filename.is_empty() {
        return kind.to_owned();
    }
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `stream`, failing (`Err(None)`) when nothing arrives for `idle` or
/// `deadline` passes.
fn timed<S, T, E>(
    stream: S,
    idle: Duration,
    deadline: tokio::time::Instant,
) -> impl futures_util::Stream<Item = Result<T, Option<E>>>
where
    S: futures_util::Stream<Item = Result<T, E>>,
{
    futures_util::stream::unfold(Box::pin(stream), move |mut stream| async move {
        let until = deadline.min(tokio::time::Instant::now() + idle);
        match tokio::time::timeout_at(until, stream.next()).await {
            Ok(Some(item)) => Some((item.map_err(Some), stream)),
            Ok(None) => None,
            Err(_) => Some((Err(None), stream)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_images_are_served_as_images() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(served_type(png, "application/octet-stream"), "image/png");
        let html = b"<html><script>alert(1)</script></html>";
        assert_eq!(served_type(html, "image/png"), "application/octet-stream");
        assert_eq!(
            served_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
            "application/octet-stream"
        );
        assert_eq!(served_type(b"%PDF-1.7", "application/pdf"), "application/pdf");
        assert_eq!(served_type(b"hello", "text/plain; charset=utf-8"), "text/plain");
        assert_eq!(served_type(b"hello", "not a type"), "application/octet-stream");
    }

    #[test]
    fn file_names_keep_to_one_plain_name() {
        assert_eq!(check_filename(Some(" cat.png ".into())).unwrap(), "cat.png");
        assert_eq!(check_filename(Some("résumé 2026.pdf".into())).unwrap(), "résumé 2026.pdf");
        for bad in [
            "",
            " ",
            ".",
            "..",
            "../etc/passwd",
            "a\\b",
            "a\nb",
            "a\u{0}b",
            "evil\u{202e}gpj.exe",
            "a\u{200b}.png",
            "\u{feff}x",
        ] {
            assert!(check_filename(Some(bad.into())).is_err(), "{bad:?}");
        }
        assert!(check_filename(Some("x".repeat(256))).is_err());
        assert!(check_filename(None).is_err());
    }

    #[test]
    fn dispositions_name_the_file_safely() {
        assert_eq!(
            disposition_of("attachment", "a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt"
        );
        assert!(header_value(&disposition_of("inline", "ünï.png")).to_str().is_ok());
        assert_eq!(disposition_of("attachment", ""), "attachment", "an encrypted upload");
    }
}
