//! Accounts, sessions and rooms, over REST, before any WebSocket opens.
//!
//! Users are `lt_<prefix>_<n>` with one fixed password, reused across runs:
//! a cached session cookie is checked with `GET /auth/me` (cheap), else the
//! user logs in, and registers only if that fails, because every login and
//! registration costs the server an Argon2 hash. Rooms are
//! `lt_<prefix>_room_<r>`, created once; every user joins its room (idempotent).
//!
//! Encrypted rooms (`--encrypted`) are private: every user publishes an
//! identity key, user 0 creates the rooms encrypted, adds each room's users
//! and gives each of them an envelope of epoch 1. The keys have the
//! scheme's shapes (the server checks those) but hold nothing: the server
//! never opens them, and the tool does not need to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use uuid::Uuid;

use crate::progress;

/// The password of every load-test user.
const PASSWORD: &str = "loadtest-password";
/// Joins in flight at once (each is one cheap request).
const JOIN_CONCURRENCY: usize = 32;
/// Longest `Retry-After` worth waiting for; beyond it the limit must be turned off.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What the WebSockets need: a session per user and the rooms' ids.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// `session_id=…`, per user index.
    pub(crate) cookies: Vec<String>,
    /// Room ids, per room index.
    pub(crate) room_ids: Vec<Uuid>,
}

/// Where and how many.
#[derive(Debug, Clone)]
pub(crate) struct SetupPlan {
    /// The server's base URL.
    pub(crate) base: Url,
    /// Names users and rooms: `lt_<prefix>_…`.
    pub(crate) prefix: String,
    /// How many users.
    pub(crate) users: u32,
    /// How many rooms.
    pub(crate) rooms: u32,
    /// Logins/registrations in flight at once.
    pub(crate) concurrency: usize,
    /// Where session cookies are kept between runs.
    pub(crate) cache: PathBuf,
    /// Encrypted rooms, members added rather than joined.
    pub(crate) encrypted: bool,
}

/// A P-256 point every load-test user publishes as its identity key (the
/// server checks it is on the curve).
const IDENTITY_POINT: &str =
    "BGD-1LolWp0xyWHrdMY1bWjASbiSO2H6bOZpYi5g8p-2eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk";

impl SetupPlan {
    fn username(&self, user: u32) -> String {
        format!("lt_{}_{user}", self.prefix)
    }

    fn room_name(&self, room: u32) -> String {
        format!("lt_{}_room_{room}", self.prefix)
    }
}

/// The default cache file for a server and prefix, in the temp directory.
pub(crate) fn default_cache(base: &Url, prefix: &str) -> PathBuf {
    let host =
        base.host_str().unwrap_or("server").replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let port = base.port_or_known_default().unwrap_or(0);
    std::env::temp_dir().join(format!("loadtest-sessions-{host}-{port}-{prefix}.json"))
}

/// Logs every user in (registering as needed), creates and joins the rooms.
pub(crate) async fn prepare(plan: &SetupPlan) -> anyhow::Result<Prepared> {
    let api = Api::new(plan.base.clone(), plan.concurrency)?;
    let cache = load_cache(&plan.cache);
    let bar = progress::counter("sessions", u64::from(plan.users));
    let cookies: Vec<String> = stream::iter(0..plan.users)
        .map(|user| {
            let (api, bar) = (&api, &bar);
            let username = plan.username(user);
            let cached = cache.get(&username).cloned();
            async move {
                let cookie = api
                    .session(&username, cached)
                    .await
                    .with_context(|| format!("user {username}"))?;
                bar.inc(1);
                anyhow::Ok(cookie)
            }
        })
        .buffered(plan.concurrency.max(1))
        .try_collect()
        .await?;
    bar.finish_and_clear();
    let names = (0..plan.users).map(|u| plan.username(u));
    save_cache(&plan.cache, names.zip(cookies.iter().cloned()).collect());

    if plan.encrypted {
        publish_keys(&api, &cookies).await?;
    }
    let room_ids = rooms(&api, plan, &cookies[0]).await?;
    if plan.encrypted {
        add_members(&api, plan, &cookies[0], &room_ids).await?;
        return Ok(Prepared { cookies, room_ids });
    }
    each("joining", cookies.iter().enumerate(), |(user, cookie)| {
        api.join(cookie, room_ids[user % room_ids.len()])
    })
    .await?;
    Ok(Prepared { cookies, room_ids })
}

/// Runs `work` on each of `items`, [`JOIN_CONCURRENCY`] at a time, counted
/// on a progress bar named `label`.
async fn each<T, F, Fut>(
    label: &'static str,
    items: impl ExactSizeIterator<Item = T>,
    work: F,
) -> anyhow::Result<()>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let bar = progress::counter(label, items.len() as u64);
    stream::iter(items)
        .map(|item| {
            let (done, bar) = (work(item), &bar);
            async move {
                done.await?;
                bar.inc(1);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(JOIN_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    bar.finish_and_clear();
    Ok(())
}

/// Every user's identity key (kept from an earlier run when there is one).
async fn publish_keys(api: &Api, cookies: &[String]) -> anyhow::Result<()> {
    each("identity keys", cookies.iter(), |cookie| api.publish_key(cookie)).await
}

/// User 0 adds each room's users to it and gives each an envelope of epoch 1.
async fn add_members(
    api: &Api,
    plan: &SetupPlan,
    owner: &str,
    room_ids: &[Uuid],
) -> anyhow::Result<()> {
    let names: Vec<(String, Uuid)> = (0..plan.users)
        .map(|user| (plan.username(user), room_ids[user as usize % room_ids.len()]))
        .collect();
    each("adding members", names.iter(), |(name, room)| api.add_member(owner, *room, name)).await?;
    for (index, room) in room_ids.iter().enumerate() {
        let members: Vec<String> = (0..plan.users)
            .filter(|user| *user as usize % room_ids.len() == index)
            .chain((index != 0).then_some(0))
            .map(|user| plan.username(user))
            .collect();
        api.share_key(owner, *room, &members).await?;
    }
    Ok(())
}

/// Finds or creates every room, as user 0 (who becomes a member of those it creates).
async fn rooms(api: &Api, plan: &SetupPlan, cookie: &str) -> anyhow::Result<Vec<Uuid>> {
    let mut known = api.rooms(cookie).await?;
    let mut ids = Vec::with_capacity(plan.rooms as usize);
    for room in 0..plan.rooms {
        let name = plan.room_name(room);
        let id = match known.get(&name.to_lowercase()) {
            Some(id) => *id,
            None => match api.create_room(cookie, &name, plan.encrypted).await? {
                Some(id) => id,
                None => {
                    // Created meanwhile by someone else: look again.
                    known = api.rooms(cookie).await?;
                    *known.get(&name.to_lowercase()).context("room exists but is not listed")?
                }
            },
        };
        ids.push(id);
    }
    Ok(ids)
}

/// A chatroom as `GET /chatrooms` lists it (only what is used here).
#[derive(Deserialize)]
struct Chatroom {
    id: Uuid,
    name: String,
}

#[derive(Deserialize)]
struct Chatrooms {
    chatrooms: Vec<Chatroom>,
}

/// The REST calls the setup needs.
struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    fn new(base: Url, concurrency: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency.max(JOIN_CONCURRENCY))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> anyhow::Result<Url> {
        Ok(self.base.join(path)?)
    }

    /// A valid session cookie for `username`: the cached one if it still
    /// works, else a login, registering first if the user does not exist.
    async fn session(&self, username: &str, cached: Option<String>) -> anyhow::Result<String> {
        if let Some(cookie) = cached
            && self.is_valid(&cookie).await?
        {
            return Ok(cookie);
        }
        if let Some(cookie) = self.login(username).await? {
            return Ok(cookie);
        }
        self.register(username).await?;
        self.login(username).await?.context("login refused right after registering")
    }

    async fn is_valid(&self, cookie: &str) -> anyhow::Result<bool> {
        let response =
            self.http.get(self.url("/api/v1/auth/me")?).header(COOKIE, cookie).send().await?;
        Ok(response.status().is_success())
    }

    /// `Some(cookie)`, or `None` when the credentials are refused.
    async fn login(&self, username: &str) -> anyhow::Result<Option<String>> {
        let body = serde_json::json!({ "username": username, "password": PASSWORD });
        loop {
            let response =
                self.http.post(self.url("/api/v1/auth/login")?).json(&body).send().await?;
            match response.status() {
                StatusCode::OK => {
                    let cookie = response
                        .headers()
                        .get_all(SET_COOKIE)
                        .iter()
                        .filter_map(|value| value.to_str().ok())
                        .find_map(session_cookie)
                        .context("login answered without a session_id cookie")?;
                    return Ok(Some(cookie));
                }
                StatusCode::UNAUTHORIZED => return Ok(None),
                StatusCode::TOO_MANY_REQUESTS => {
                    wait_retry_after(&response, "RATE_LIMIT_LOGIN").await?
                }
                status => {
                    bail!("login answered {status}: {}", response.text().await.unwrap_or_default())
                }
            }
        }
    }

    async fn register(&self, username: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "username": username, "password": PASSWORD });
        loop {
            let response =
                self.http.post(self.url("/api/v1/auth/register")?).json(&body).send().await?;
            match response.status() {
                // 409: taken meanwhile; the login that follows tells whether it is ours.
                StatusCode::CREATED | StatusCode::CONFLICT => return Ok(()),
                StatusCode::TOO_MANY_REQUESTS => {
                    wait_retry_after(&response, "RATE_LIMIT_REGISTER").await?
                }
                // The server's password hashing is full: retry when it says.
                StatusCode::SERVICE_UNAVAILABLE => {
                    wait_retry_after(&response, "RATE_LIMIT_REGISTER").await?
                }
                status => bail!(
                    "register answered {status}: {}",
                    response.text().await.unwrap_or_default()
                ),
            }
        }
    }

    /// Every room, by lower-cased name.
    async fn rooms(&self, cookie: &str) -> anyhow::Result<HashMap<String, Uuid>> {
        let response =
            self.http.get(self.url("/api/v1/chatrooms")?).header(COOKIE, cookie).send().await?;
        let list: Chatrooms = response.error_for_status()?.json().await?;
        Ok(list.chatrooms.into_iter().map(|room| (room.name.to_lowercase(), room.id)).collect())
    }

    /// The new room's id, or `None` if the name is taken.
    async fn create_room(
        &self,
        cookie: &str,
        name: &str,
        encrypted: bool,
    ) -> anyhow::Result<Option<Uuid>> {
        let response = self
            .http
            .post(self.url("/api/v1/chatrooms")?)
            .header(COOKIE, cookie)
            .json(&serde_json::json!({ "name": name, "encrypted": encrypted }))
            .send()
            .await?;
        match response.status() {
            StatusCode::CREATED => Ok(Some(response.json::<Chatroom>().await?.id)),
            StatusCode::CONFLICT => Ok(None),
            StatusCode::TOO_MANY_REQUESTS => {
                bail!(
                    "creating room {name} was rate limited: start the server with RATE_LIMIT_ROOMS=off for load tests"
                )
            }
            status => bail!("creating room {name} answered {status}"),
        }
    }

    /// `PUT /keys`, unless the user has one.
    async fn publish_key(&self, cookie: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "public_key": IDENTITY_POINT,
            "backup": {
                "salt": "AAAAAAAAAAAAAAAAAAAAAA",
                "iterations": 310_000,
                "iv": "AAAAAAAAAAAAAAAA",
                "ciphertext": "A".repeat(64),
            },
        });
        let response = self
            .http
            .put(self.url("/api/v1/keys")?)
            .header(COOKIE, cookie)
            .json(&body)
            .send()
            .await?;
        match response.status() {
            StatusCode::CREATED | StatusCode::CONFLICT => Ok(()),
            status => bail!("publishing an identity key answered {status}"),
        }
    }

    /// Adds `username` to `room` (already a member: fine).
    async fn add_member(&self, cookie: &str, room: Uuid, username: &str) -> anyhow::Result<()> {
        let url = self.url(&format!("/api/v1/chatrooms/{room}/members"))?;
        let body = serde_json::json!({ "username": username });
        let response = self.http.post(url).header(COOKIE, cookie).json(&body).send().await?;
        response.error_for_status().with_context(|| format!("adding {username} to {room}"))?;
        Ok(())
    }

    /// An envelope of epoch 1 for each of `members` (those who hold one keep it).
    async fn share_key(&self, cookie: &str, room: Uuid, members: &[String]) -> anyhow::Result<()> {
        let envelopes: Vec<serde_json::Value> = members
            .iter()
            .map(|name| {
                serde_json::json!({
                    "recipient": name,
                    "ephemeral_public_key": IDENTITY_POINT,
                    "wrapped_key": "A".repeat(54),
                })
            })
            .collect();
        let url = self.url(&format!("/api/v1/chatrooms/{room}/keys"))?;
        let body = serde_json::json!({ "epoch": 1, "envelopes": envelopes });
        let response = self.http.post(url).header(COOKIE, cookie).json(&body).send().await?;
        match response.status() {
            // 409: every member holds one from an earlier run.
            status if status.is_success() || status == StatusCode::CONFLICT => Ok(()),
            status => bail!("sharing the key of room {room} answered {status}"),
        }
    }

    async fn join(&self, cookie: &str, room: Uuid) -> anyhow::Result<()> {
        let url = self.url(&format!("/api/v1/chatrooms/{room}/join"))?;
        let response = self.http.post(url).header(COOKIE, cookie).send().await?;
        response.error_for_status().with_context(|| format!("joining room {room}"))?;
        Ok(())
    }
}

/// `session_id=<token>` out of one `Set-Cookie` value.
fn session_cookie(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let token = pair.strip_prefix("session_id=")?;
    (!token.is_empty()).then(|| pair.to_owned())
}

/// Sleeps for a short `Retry-After`; a long one means the limit is on: fail, saying which.
async fn wait_retry_after(response: &reqwest::Response, variable: &str) -> anyhow::Result<()> {
    let wait = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::MAX);
    if wait > MAX_RETRY_AFTER {
        bail!("rate limited by the server: start it with {variable}=off for load tests");
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

fn load_cache(path: &Path) -> HashMap<String, String> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Best effort: a cache that cannot be written only costs logins next time.
fn save_cache(path: &Path, sessions: HashMap<String, String>) {
    let mut all = load_cache(path);
    all.extend(sessions);
    if let Ok(json) = serde_json::to_vec(&all) {
        let _ = std::fs::write(path, json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_the_first_pair_of_set_cookie() {
        assert_eq!(
            session_cookie("session_id=abc_DEF-1; HttpOnly; SameSite=Strict; Path=/").as_deref(),
            Some("session_id=abc_DEF-1")
        );
        assert_eq!(session_cookie("other=1; Path=/"), None);
        assert_eq!(session_cookie("session_id=; Max-Age=0"), None);
    }

    #[test]
    fn names_are_deterministic_and_valid_usernames() {
        let plan = SetupPlan {
            base: Url::parse("http://127.0.0.1:8080").unwrap(),
            prefix: "a1".into(),
            users: 10,
            rooms: 2,
            concurrency: 4,
            cache: PathBuf::new(),
            encrypted: false,
        };
        assert_eq!(plan.username(7), "lt_a1_7");
        assert_eq!(plan.room_name(1), "lt_a1_room_1");
        let long = plan.username(u32::MAX);
        assert!(long.len() <= 50 && long.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert!(
            default_cache(&plan.base, "a1").ends_with("loadtest-sessions-127-0-0-1-8080-a1.json")
        );
    }
}
