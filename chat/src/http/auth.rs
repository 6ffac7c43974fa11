//! `/api/v1/auth/*`: register, login, logout, me.

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;
use time::OffsetDateTime;

use super::request::{authenticate, check_login_limit, read_json};
use super::{Body, json_response};
use crate::ApiError;
use crate::auth::{
    SESSION_TTL, SessionToken, validate_email, validate_password, validate_username,
};
use crate::state::App;

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
    app: &App,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body: RegisterBody = read_json(request).await?;
    validate_username(&body.username).map_err(|e| ApiError::Validation(e.into()))?;
    validate_password(&body.password).map_err(|e| ApiError::Validation(e.into()))?;
    if let Some(email) = &body.email {
        validate_email(email).map_err(|e| ApiError::Validation(e.into()))?;
    }
    let hash = app.passwords.hash(body.password).await.ok_or(ApiError::Internal)?;
    let user =
        app.store.create_user(&body.username, body.email.as_deref(), &hash).await.map_err(|e| {
            if e.is_unique_violation() { ApiError::UsernameTaken } else { e.into() }
        })?;
    tracing::info!(user_id = %user.id, "registered");
    Ok(json_response(StatusCode::CREATED, &user))
}

/// `POST /auth/login`: 200 with the user and the session cookie.
pub(super) async fn login(
    app: &App,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    check_login_limit(app, &request)?;
    let body: LoginBody = read_json(request).await?;
    let found = app.store.find_credentials(&body.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Unknown users cost one hash check too, so timing tells nothing.
    let matches = app.passwords.verify(body.password, hash).await;
    let user = user.filter(|_| matches).ok_or(ApiError::InvalidCredentials)?;
    let token = SessionToken::generate().ok_or(ApiError::Internal)?;
    let expires_at = OffsetDateTime::now_utc() + SESSION_TTL;
    app.store.create_session(&token.hash(), user.id, expires_at).await?;
    tracing::info!(user_id = %user.id, "logged in");
    let mut response =
        json_response(StatusCode::OK, &serde_json::json!({ "success": true, "user": user }));
    set_cookie(&mut response, app, token.as_str(), SESSION_TTL.as_secs());
    Ok(response)
}

/// `POST /auth/logout`: ends the session and closes its WebSockets (1008).
pub(super) async fn logout(
    app: &App,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, token) = authenticate(app, request.headers()).await?;
    let hash = token.hash();
    app.sessions.end(&hash).await?;
    app.sockets.log_out(&hash);
    tracing::info!(user_id = %user.id, "logged out");
    let mut response = json_response(StatusCode::OK, &serde_json::json!({ "success": true }));
    set_cookie(&mut response, app, "", 0);
    Ok(response)
}

/// `GET /auth/me`: the session's user.
pub(super) async fn me(app: &App, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(app, request.headers()).await?;
    Ok(json_response(StatusCode::OK, &user))
}

fn set_cookie(response: &mut Response<Body>, app: &App, value: &str, max_age: u64) {
    let secure = if app.config.cookie_secure { "; Secure" } else { "" };
    let cookie =
        format!("session_id={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
}
