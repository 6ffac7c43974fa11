//! `/api/v1/auth/*`: register, login, logout, me.

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;
use time::OffsetDateTime;

use super::Api;
use super::request::{check_client_limit, read_json};
use crate::access::authenticate;
use crate::auth::{
    HashError, SESSION_TTL, SessionToken, validate_credentials, validate_email, validate_password,
    validate_username,
};
use crate::error::ApiError;
use crate::response::{Body, json_response, success};

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// `POST /auth/register`: 201 with the new user.
pub(super) async fn register(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    // Before anything is read or hashed: a refused registration costs nothing.
    check_client_limit("register", &api.register_limit, &request)?;
    let body: RegisterBody = read_json(request).await?;
    validate_username(&body.username).map_err(|e| ApiError::Validation(e.into()))?;
    validate_password(&body.password).map_err(|e| ApiError::Validation(e.into()))?;
    if let Some(email) = &body.email {
        validate_email(email).map_err(|e| ApiError::Validation(e.into()))?;
    }
    let hash = api.passwords.hash(body.password).await.map_err(hashing_refused)?;
    let user =
        api.store.create_user(&body.username, body.email.as_deref(), &hash).await.map_err(|e| {
            if e.is_unique_violation() { ApiError::UsernameTaken } else { e.into() }
        })?;
    tracing::info!(user_id = %user.id, "registered");
    Ok(json_response(StatusCode::CREATED, &user))
}

/// `POST /auth/login`: 200 with the user and the session cookie.
pub(super) async fn login(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    check_client_limit("login", &api.login_limit, &request)?;
    let body: LoginBody = read_json(request).await?;
    validate_credentials(&body.username, &body.password)
        .map_err(|e| ApiError::Validation(e.into()))?;
    let found = api.store.find_credentials(&body.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Unknown users cost one hash check too, so timing tells nothing.
    let matches = api.passwords.verify(body.password, hash).await.map_err(hashing_refused)?;
    let user = user.filter(|_| matches).ok_or(ApiError::InvalidCredentials)?;
    let token = SessionToken::generate().ok_or(ApiError::Internal)?;
    let expires_at = OffsetDateTime::now_utc() + SESSION_TTL;
    api.store.create_session(&token.hash(), user.id, expires_at).await?;
    tracing::info!(user_id = %user.id, "logged in");
    let mut response =
        json_response(StatusCode::OK, &serde_json::json!({ "success": true, "user": user }));
    set_cookie(&mut response, api.cookie_secure, token.as_str(), SESSION_TTL.as_secs());
    Ok(response)
}

/// `POST /auth/logout`: ends the session and closes its WebSockets (1008).
pub(super) async fn logout(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, token) = authenticate(&api.sessions, request.headers()).await?;
    let hash = token.hash();
    api.sessions.end(&hash).await?;
    api.sockets.log_out(&hash);
    tracing::info!(user_id = %user.id, "logged out");
    let mut response = success(StatusCode::OK);
    set_cookie(&mut response, api.cookie_secure, "", 0);
    Ok(response)
}

/// `GET /auth/me`: the session's user.
pub(super) async fn me(api: &Api, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    Ok(json_response(StatusCode::OK, &user))
}

/// 503 `UNAVAILABLE` (retry shortly) when too many hashes wait already.
fn hashing_refused(error: HashError) -> ApiError {
    match error {
        HashError::Busy => {
            crate::limits::count_refusal("password_hashing");
            ApiError::Unavailable
        }
        HashError::Failed => ApiError::Internal,
    }
}

fn set_cookie(response: &mut Response<Body>, secure: bool, value: &str, max_age: u64) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("session_id={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
}
