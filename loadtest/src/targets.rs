//! The targets of a run: the chat server (after the REST setup) and,
//! with `--compare-baseline`, a baseline child process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use reqwest::Url;

use crate::baseline::BaselineProcess;
use crate::cli::TargetArgs;
use crate::probe;
use crate::runner::{Endpoint, Target};
use crate::setup::{self, SetupPlan};
use crate::workload::Workload;

/// Longest content the server accepts.
const MAX_PAYLOAD: usize = 1000;

/// The targets, ready to connect to.
pub(crate) struct Targets {
    /// The chat server.
    pub(crate) server: Target,
    /// The baseline and its process, kept alive (and killed when dropped).
    pub(crate) baseline: Option<(Target, BaselineProcess)>,
}

/// Checks the arguments that every workload shares.
pub(crate) fn workload(args: &TargetArgs, rate: f64, duration: f64) -> anyhow::Result<Workload> {
    ensure!(args.users >= 1 && args.rooms >= 1, "--users and --rooms must be at least 1");
    ensure!(args.rooms <= args.users, "--rooms must not exceed --users");
    ensure!(rate > 0.0 && duration > 0.0, "rates and durations must be positive");
    ensure!(args.payload <= MAX_PAYLOAD, "--payload is at most {MAX_PAYLOAD} bytes");
    ensure!(args.drain >= 0.0, "--drain must not be negative");
    ensure!(
        !args.prefix.is_empty()
            && args.prefix.len() <= 16
            && args.prefix.bytes().all(|b| b.is_ascii_alphanumeric()),
        "--prefix must be 1-16 letters or digits"
    );
    Ok(Workload {
        url: args.url.clone(),
        also_urls: args.also_urls.clone(),
        users: args.users,
        rooms: args.rooms,
        rate_msgs_per_s: rate,
        duration_s: duration,
        payload_bytes: args.payload,
        drain_s: args.drain,
        durable_baseline: args.durable_baseline,
        join_storm: args.join_storm,
        encrypted: args.encrypted,
    })
}

/// Logs the users in (through `--url`), creates and joins the rooms, starts the baseline.
pub(crate) async fn prepare(args: &TargetArgs) -> anyhow::Result<Targets> {
    let (base, first) = resolve("--url", &args.url).await?;
    let mut endpoints = vec![first];
    for url in &args.also_urls {
        endpoints.push(resolve("--also-url", url).await?.1);
    }
    check_pids(&args.server_pids, endpoints.len())?;

    let plan = SetupPlan {
        cache: args
            .session_cache
            .clone()
            .unwrap_or_else(|| setup::default_cache(&base, &args.prefix)),
        base,
        prefix: args.prefix.clone(),
        users: args.users,
        rooms: args.rooms,
        concurrency: args.setup_concurrency,
        encrypted: args.encrypted,
    };
    let prepared = setup::prepare(&plan).await?;
    let room_ids: Arc<[_]> = prepared.room_ids.into();
    let server = Target {
        label: "server",
        endpoints: endpoints.into(),
        cookies: Some(prepared.cookies.into()),
        room_ids: Arc::clone(&room_ids),
        pids: args.server_pids.as_slice().into(),
        database_url: args.database_url.clone(),
    };
    let baseline = if args.compare_baseline {
        // One process, whatever the number of server instances.
        let durable = args.durable_baseline.then_some(args.database_url.as_deref()).flatten();
        let process = BaselineProcess::spawn(durable).await?;
        let target = Target {
            label: "baseline",
            endpoints: [Endpoint::at(process.addr)].into(),
            cookies: None,
            room_ids,
            pids: process.pid().into_iter().collect(),
            database_url: None,
        };
        Some((target, process))
    } else {
        None
    };
    Ok(Targets { server, baseline })
}

/// Checks that `url` (given as `flag`) is an http:// URL whose host
/// resolves; returns it and the instance's WebSocket endpoint.
async fn resolve(flag: &str, url: &str) -> anyhow::Result<(Url, Endpoint)> {
    let base = Url::parse(url).with_context(|| format!("{flag} {url}"))?;
    ensure!(base.scheme() == "http", "{flag} {url}: must be http:// (the tool speaks plain ws://)");
    let host = base.host_str().with_context(|| format!("{flag} {url} has no host"))?.to_owned();
    let port = base.port_or_known_default().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("{flag} {url}: resolving {host}"))?
        .next()
        .with_context(|| format!("{host} does not resolve"))?;
    Ok((base, Endpoint { addr, ws_base: format!("ws://{host}:{port}") }))
}

/// Checks that every `--server-pid` is a running process and says which
/// are measured (and if their number differs from the instances').
fn check_pids(pids: &[u32], instances: usize) -> anyhow::Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    let named = pids
        .iter()
        .map(|&pid| {
            let name = probe::command_name(pid)
                .with_context(|| format!("--server-pid {pid}: no such process"))?;
            Ok(format!("{pid} ({name})"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let what = if named.len() == 1 { "process" } else { "processes (summed)" };
    eprintln!("measuring server {what} {}", named.join(", "));
    if pids.len() != instances {
        eprintln!("note: {} --server-pid for {instances} instance(s)", pids.len());
    }
    Ok(())
}

/// A rest between two measured runs, so one's tail does not spill into the next.
pub(crate) async fn rest(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
}
