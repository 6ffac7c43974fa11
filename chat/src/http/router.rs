//! The route table, once: which handler serves a path, with which methods,
//! under which metric label.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::{Api, assets, attachments, auth, health, messages, request, rooms};
use crate::error::ApiError;
use crate::response::Body;

/// A path the server serves, with the segments it names.
pub(super) enum Route {
    Index,
    ApiDocs,
    Asset(String),
    Health,
    Ready,
    Metrics,
    OpenApi,
    AsyncApi,
    Register,
    Login,
    Logout,
    Me,
    Rooms,
    Join(String),
    Messages(String),
    Upload(String),
    Read(String),
    Attachment(String),
    Chat(String),
    Notifications,
}

impl Route {
    /// The route of `path`, if any.
    pub(super) fn of(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let owned = |segment: &&str| (*segment).to_owned();
        Some(match segments.as_slice() {
            [""] => Self::Index,
            ["assets", file] => Self::Asset(owned(file)),
            ["api", "docs"] => Self::ApiDocs,
            ["health"] => Self::Health,
            ["health", "ready"] => Self::Ready,
            ["metrics"] => Self::Metrics,
            ["ws", "chat", room] => Self::Chat(owned(room)),
            ["ws", "notifications"] => Self::Notifications,
            ["api", "v1", rest @ ..] => match rest {
                ["openapi.yaml"] => Self::OpenApi,
                ["asyncapi.yaml"] => Self::AsyncApi,
                ["auth", "register"] => Self::Register,
                ["auth", "login"] => Self::Login,
                ["auth", "logout"] => Self::Logout,
                ["auth", "me"] => Self::Me,
                ["chatrooms"] => Self::Rooms,
                ["chatrooms", room, "join"] => Self::Join(owned(room)),
                ["chatrooms", room, "messages"] => Self::Messages(owned(room)),
                ["chatrooms", room, "attachments"] => Self::Upload(owned(room)),
                ["chatrooms", room, "read"] => Self::Read(owned(room)),
                ["attachments", id] => Self::Attachment(owned(id)),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The route's template, for metric labels (never the raw path).
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Index => "/",
            Self::ApiDocs => "/api/docs",
            Self::Asset(_) => "/assets/{file}",
            Self::Health => "/health",
            Self::Ready => "/health/ready",
            Self::Metrics => "/metrics",
            Self::OpenApi => "/api/v1/openapi.yaml",
            Self::AsyncApi => "/api/v1/asyncapi.yaml",
            Self::Register => "/api/v1/auth/register",
            Self::Login => "/api/v1/auth/login",
            Self::Logout => "/api/v1/auth/logout",
            Self::Me => "/api/v1/auth/me",
            Self::Rooms => "/api/v1/chatrooms",
            Self::Join(_) => "/api/v1/chatrooms/{id}/join",
            Self::Messages(_) => "/api/v1/chatrooms/{id}/messages",
            Self::Upload(_) => "/api/v1/chatrooms/{id}/attachments",
            Self::Read(_) => "/api/v1/chatrooms/{id}/read",
            Self::Attachment(_) => "/api/v1/attachments/{id}",
            Self::Chat(_) => "/ws/chat/{id}",
            Self::Notifications => "/ws/notifications",
        }
    }

    /// The methods the route answers (the `Allow` header of a 405).
    fn methods(&self) -> &'static str {
        match self {
            Self::Register
            | Self::Login
            | Self::Logout
            | Self::Join(_)
            | Self::Upload(_)
            | Self::Read(_) => "POST",
            Self::Rooms => "GET, POST",
            _ => "GET",
        }
    }
}

/// Runs the handler of `route` (`None`: no such route).
pub(super) async fn handle(
    api: Arc<Api>,
    route: Option<Route>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let method = request.method().clone();
    if !method.is_safe() {
        request::check_csrf(&api.origins, request.headers())?;
    }
    let route = route.ok_or(ApiError::NotFound("route"))?;
    let allowed = route.methods();
    if !allowed.split(", ").any(|m| m == method.as_str()) {
        return Err(ApiError::MethodNotAllowed(allowed));
    }
    match route {
        Route::Index => Ok(assets::index()),
        Route::ApiDocs => Ok(assets::api_docs()),
        Route::Asset(file) => assets::file(&file),
        Route::Health => Ok(health::live()),
        Route::Ready => Ok(health::ready(&api.store, api.stock.as_ref(), &api.stopping).await),
        Route::Metrics if api.metrics_here => Ok(health::metrics()),
        Route::Metrics => Err(ApiError::NotFound("route")),
        Route::OpenApi => Ok(assets::openapi()),
        Route::AsyncApi => Ok(assets::asyncapi()),
        Route::Register => auth::register(&api, request).await,
        Route::Login => auth::login(&api, request).await,
        Route::Logout => auth::logout(&api, request).await,
        Route::Me => auth::me(&api, request).await,
        Route::Rooms if method == Method::POST => rooms::create(&api, request).await,
        Route::Rooms => rooms::list(&api, request).await,
        Route::Join(room) => rooms::join(&api, request, &room).await,
        Route::Messages(room) => messages::page(&api, request, &room).await,
        Route::Upload(room) => attachments::upload(&api, request, &room).await,
        Route::Read(room) => rooms::read(&api, request, &room).await,
        Route::Attachment(id) => attachments::download(&api, request, &id).await,
        Route::Chat(room) => crate::ws::upgrade(Arc::clone(&api.chat), request, &room).await,
        Route::Notifications => {
            crate::ws::notifications::upgrade(Arc::clone(&api.chat), request).await
        }
    }
}
