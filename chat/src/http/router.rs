//! Maps a method and path to its handler.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::{Body, assets, auth, health, messages, request, rooms};
use crate::ApiError;
use crate::state::App;

/// Finds and runs the handler of `request`.
pub(super) async fn route(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = request.method().clone();
    if !(method.is_safe()) {
        request::check_csrf(&app, request.headers())?;
    }
    match segments.as_slice() {
        [""] => allow(&method, "GET").map(|()| assets::index()),
        ["assets", file] => {
            allow(&method, "GET")?;
            assets::file(file)
        }
        ["health"] => allow(&method, "GET").map(|()| health::live()),
        ["metrics"] => allow(&method, "GET").map(|()| health::metrics()),
        ["health", "ready"] => {
            allow(&method, "GET")?;
            Ok(health::ready(&app).await)
        }
        ["api", "v1", rest @ ..] => api(app, request, &method, rest).await,
        ["ws", "chat", room] => {
            allow(&method, "GET")?;
            crate::ws::upgrade(app, request, room).await
        }
        _ => Err(ApiError::NotFound("route")),
    }
}

async fn api(
    app: Arc<App>,
    request: Request<Incoming>,
    method: &Method,
    segments: &[&str],
) -> Result<Response<Body>, ApiError> {
    match segments {
        ["openapi.yaml"] => allow(method, "GET").map(|()| assets::openapi()),
        ["auth", "register"] => {
            allow(method, "POST")?;
            auth::register(&app, request).await
        }
        ["auth", "login"] => {
            allow(method, "POST")?;
            auth::login(&app, request).await
        }
        ["auth", "logout"] => {
            allow(method, "POST")?;
            auth::logout(&app, request).await
        }
        ["auth", "me"] => {
            allow(method, "GET")?;
            auth::me(&app, request).await
        }
        ["chatrooms"] => match *method {
            Method::GET => rooms::list(&app, request).await,
            Method::POST => rooms::create(&app, request).await,
            _ => Err(ApiError::MethodNotAllowed("GET, POST")),
        },
        ["chatrooms", room, "join"] => {
            allow(method, "POST")?;
            rooms::join(&app, request, room).await
        }
        ["chatrooms", room, "messages"] => {
            allow(method, "GET")?;
            messages::page(&app, request, room).await
        }
        _ => Err(ApiError::NotFound("route")),
    }
}

/// The route template of `path`, for metric labels (never the raw path).
pub(super) fn route_label(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        [""] => "/",
        ["assets", _] => "/assets/{file}",
        ["health"] => "/health",
        ["health", "ready"] => "/health/ready",
        ["metrics"] => "/metrics",
        ["api", "v1", "openapi.yaml"] => "/api/v1/openapi.yaml",
        ["api", "v1", "auth", "register"] => "/api/v1/auth/register",
        ["api", "v1", "auth", "login"] => "/api/v1/auth/login",
        ["api", "v1", "auth", "logout"] => "/api/v1/auth/logout",
        ["api", "v1", "auth", "me"] => "/api/v1/auth/me",
        ["api", "v1", "chatrooms"] => "/api/v1/chatrooms",
        ["api", "v1", "chatrooms", _, "join"] => "/api/v1/chatrooms/{id}/join",
        ["api", "v1", "chatrooms", _, "messages"] => "/api/v1/chatrooms/{id}/messages",
        ["ws", "chat", _] => "/ws/chat/{id}",
        _ => "other",
    }
}

fn allow(method: &Method, allowed: &'static str) -> Result<(), ApiError> {
    if allowed.split(", ").any(|m| m == method.as_str()) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}
