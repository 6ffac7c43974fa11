//! The route table, once: each row is a method, a path template and its
//! handler. The template is also the metric label (never the raw path) and
//! the rows sharing a template make a 405's `Allow` header.

use std::future::ready;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::{
    Api, assets, attachments, auth, edits, health, keys, members, messages, request, room_keys,
    rooms, search,
};
use crate::error::ApiError;
use crate::response::Body;

type Reply = Result<Response<Body>, ApiError>;

/// Serves one request; the strings are the segments the template's `{…}`
/// matched, as sent, in order.
type Handler = fn(Arc<Api>, Request<Incoming>, Params) -> BoxFuture<'static, Reply>;

/// The segments a template's `{…}` matched.
pub(super) struct Params(Vec<String>);

impl Params {
    /// The `n`th (from 0), or `""` when the template has fewer.
    fn get(&self, n: usize) -> &str {
        self.0.get(n).map_or("", String::as_str)
    }
}

struct Route {
    method: Method,
    template: &'static str,
    handler: Handler,
}

const fn route(method: Method, template: &'static str, handler: Handler) -> Route {
    Route { method, template, handler }
}

/// Every route the server serves. A template segment in braces matches any
/// one segment.
static ROUTES: &[Route] = &[
    route(Method::GET, "/", |api, _, _| Box::pin(ready(Ok(assets::index(api.uploads.max_bytes))))),
    route(Method::GET, "/api/docs", |_, _, _| Box::pin(ready(Ok(assets::api_docs())))),
    route(Method::GET, "/assets/{file}", |_, _, p| Box::pin(ready(assets::file(p.get(0))))),
    route(Method::GET, "/health", |_, _, _| Box::pin(ready(Ok(health::live())))),
    route(Method::GET, "/health/ready", |api, _, _| {
        Box::pin(
            async move { Ok(health::ready(&api.store, api.stock.as_ref(), &api.stopping).await) },
        )
    }),
    route(Method::GET, "/metrics", |api, _, _| {
        let served = if api.metrics_here { Ok(health::metrics()) } else { Err(not_found()) };
        Box::pin(ready(served))
    }),
    route(Method::GET, "/api/v1/openapi.yaml", |_, _, _| Box::pin(ready(Ok(assets::openapi())))),
    route(Method::GET, "/api/v1/asyncapi.yaml", |_, _, _| Box::pin(ready(Ok(assets::asyncapi())))),
    route(Method::POST, "/api/v1/auth/register", |api, request, _| {
        Box::pin(async move { auth::register(&api, request).await })
    }),
    route(Method::POST, "/api/v1/auth/login", |api, request, _| {
        Box::pin(async move { auth::login(&api, request).await })
    }),
    route(Method::POST, "/api/v1/auth/logout", |api, request, _| {
        Box::pin(async move { auth::logout(&api, request).await })
    }),
    route(Method::GET, "/api/v1/auth/me", |api, request, _| {
        Box::pin(async move { auth::me(&api, request).await })
    }),
    route(Method::GET, "/api/v1/chatrooms", |api, request, _| {
        Box::pin(async move { rooms::list(&api, request).await })
    }),
    route(Method::POST, "/api/v1/chatrooms", |api, request, _| {
        Box::pin(async move { rooms::create(&api, request).await })
    }),
    route(Method::POST, "/api/v1/chatrooms/{id}/join", |api, request, p| {
        Box::pin(async move { rooms::join(&api, request, p.get(0)).await })
    }),
    route(Method::GET, "/api/v1/chatrooms/{id}/messages", |api, request, p| {
        Box::pin(async move { messages::page(&api, request, p.get(0)).await })
    }),
    route(Method::PATCH, "/api/v1/chatrooms/{id}/messages/{message_id}", |api, request, p| {
        Box::pin(async move { edits::edit(&api, request, p.get(0), p.get(1)).await })
    }),
    route(Method::DELETE, "/api/v1/chatrooms/{id}/messages/{message_id}", |api, request, p| {
        Box::pin(async move { edits::delete(&api, request, p.get(0), p.get(1)).await })
    }),
    route(Method::GET, "/api/v1/search", |api, request, _| {
        Box::pin(async move { search::search(&api, request).await })
    }),
    route(Method::POST, "/api/v1/chatrooms/{id}/attachments", |api, request, p| {
        Box::pin(async move { attachments::upload(&api, request, p.get(0)).await })
    }),
    route(Method::POST, "/api/v1/chatrooms/{id}/read", |api, request, p| {
        Box::pin(async move { rooms::read(&api, request, p.get(0)).await })
    }),
    route(Method::GET, "/api/v1/chatrooms/{id}/members", |api, request, p| {
        Box::pin(async move { members::list(&api, request, p.get(0)).await })
    }),
    route(Method::POST, "/api/v1/chatrooms/{id}/members", |api, request, p| {
        Box::pin(async move { members::add(&api, request, p.get(0)).await })
    }),
    route(Method::DELETE, "/api/v1/chatrooms/{id}/members/{username}", |api, request, p| {
        Box::pin(async move { members::remove(&api, request, p.get(0), p.get(1)).await })
    }),
    route(Method::GET, "/api/v1/chatrooms/{id}/keys", |api, request, p| {
        Box::pin(async move { room_keys::list(&api, request, p.get(0)).await })
    }),
    route(Method::POST, "/api/v1/chatrooms/{id}/keys", |api, request, p| {
        Box::pin(async move { room_keys::share(&api, request, p.get(0)).await })
    }),
    route(Method::PUT, "/api/v1/keys", |api, request, _| {
        Box::pin(async move { keys::put(&api, request).await })
    }),
    route(Method::GET, "/api/v1/keys/me", |api, request, _| {
        Box::pin(async move { keys::mine(&api, request).await })
    }),
    route(Method::GET, "/api/v1/users/{username}/key", |api, request, p| {
        Box::pin(async move { keys::of(&api, request, p.get(0)).await })
    }),
    route(Method::POST, "/api/v1/direct", |api, request, _| {
        Box::pin(async move { members::direct(&api, request).await })
    }),
    route(Method::GET, "/api/v1/attachments/{id}", |api, request, p| {
        Box::pin(async move { attachments::download(&api, request, p.get(0)).await })
    }),
    route(Method::GET, "/ws/chat/{id}", |api, request, p| {
        Box::pin(async move { crate::ws::upgrade(Arc::clone(&api.chat), request, p.get(0)).await })
    }),
    route(Method::GET, "/ws/notifications", |api, request, _| {
        Box::pin(
            async move { crate::ws::notifications::upgrade(Arc::clone(&api.chat), request).await },
        )
    }),
];

fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// Where a path led: the template it matched and the segments its braces name.
pub(super) struct Matched {
    template: &'static str,
    params: Params,
}

impl Matched {
    /// The template `path` matches, if any.
    pub(super) fn of(path: &str) -> Option<Self> {
        ROUTES.iter().find_map(|route| {
            let params = match_template(route.template, path)?;
            let params = Params(params.into_iter().map(str::to_owned).collect());
            Some(Self { template: route.template, params })
        })
    }

    /// The route's template, for metric labels.
    pub(super) fn label(&self) -> &'static str {
        self.template
    }
}

/// The segments `template`'s braces match in `path`, in order, or `None`
/// when `path` does not fit `template`.
fn match_template<'p>(template: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(want), Some(segment)) if want.starts_with('{') => params.push(segment),
            (Some(want), Some(segment)) if want == segment => {}
            _ => return None,
        }
    }
}

/// Runs the handler of the route `matched` for the request's method.
pub(super) async fn handle(
    api: Arc<Api>,
    matched: Option<Matched>,
    request: Request<Incoming>,
) -> Reply {
    let method = request.method().clone();
    if !method.is_safe() {
        request::check_csrf(&api.origins, request.headers())?;
    }
    let Matched { template, params } = matched.ok_or_else(not_found)?;
    let mut rows = ROUTES.iter().filter(|route| route.template == template);
    let Some(route) = rows.clone().find(|route| route.method == method) else {
        let allowed: Vec<&str> = rows.by_ref().map(|route| route.method.as_str()).collect();
        return Err(ApiError::MethodNotAllowed(allowed.join(", ")));
    };
    (route.handler)(api, request, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments_and_name_their_parameter() {
        let none: Vec<&str> = Vec::new();
        assert_eq!(match_template("/", "/"), Some(none.clone()));
        assert_eq!(match_template("/health", "/health"), Some(none));
        assert_eq!(match_template("/health", "/health/ready"), None);
        assert_eq!(match_template("/health/ready", "/health"), None);
        assert_eq!(match_template("/ws/chat/{id}", "/ws/chat/abc"), Some(vec!["abc"]));
        assert_eq!(match_template("/ws/chat/{id}", "/ws/chat/abc/"), None);
        let join = "/api/v1/chatrooms/{id}/join";
        assert_eq!(match_template(join, "/api/v1/chatrooms/r1/join"), Some(vec!["r1"]));
        assert_eq!(match_template(join, "/api/v1/chatrooms/r1/leave"), None);
        let member = "/api/v1/chatrooms/{id}/members/{username}";
        let path = "/api/v1/chatrooms/r1/members/ann";
        assert_eq!(match_template(member, path), Some(vec!["r1", "ann"]));
    }

    #[test]
    fn every_path_finds_its_own_template() {
        for route in ROUTES {
            let path = route.template.replace("{", "").replace("}", "");
            let matched = Matched::of(&path).map(|m| m.label());
            assert_eq!(matched, Some(route.template), "{path}");
        }
        assert!(Matched::of("/api/v1/nothing").is_none());
    }
}
