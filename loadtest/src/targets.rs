//! The targets of a run: the chat server (after the REST setup) and,
//! with `--compare-baseline`, a baseline child process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use reqwest::Url;

use crate::baseline::BaselineProcess;
use crate::cli::TargetArgs;
use crate::runner::Target;
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
        users: args.users,
        rooms: args.rooms,
        rate_msgs_per_s: rate,
        duration_s: duration,
        payload_bytes: args.payload,
        drain_s: args.drain,
    })
}

/// Logs the users in, creates and joins the rooms, starts the baseline.
pub(crate) async fn prepare(args: &TargetArgs) -> anyhow::Result<Targets> {
    let base = Url::parse(&args.url).with_context(|| format!("--url {}", args.url))?;
    if base.scheme() != "http" {
        bail!("--url must be http:// (the tool speaks plain ws://)");
    }
    let host = base.host_str().context("--url has no host")?.to_owned();
    let port = base.port_or_known_default().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .with_context(|| format!("{host} does not resolve"))?;

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
    };
    if let Some(pid) = args.server_pid {
        let name = crate::probe::command_name(pid)
            .with_context(|| format!("--server-pid {pid}: no such process"))?;
        eprintln!("measuring server process {pid} ({name})");
    }
    let prepared = setup::prepare(&plan).await?;
    let room_ids: Arc<[_]> = prepared.room_ids.into();
    let server = Target {
        label: "server",
        addr,
        ws_base: format!("ws://{host}:{port}"),
        cookies: Some(prepared.cookies.into()),
        room_ids: Arc::clone(&room_ids),
        pid: args.server_pid,
    };
    let baseline = if args.compare_baseline {
        let process = BaselineProcess::spawn().await?;
        let target = Target {
            label: "baseline",
            addr: process.addr,
            ws_base: format!("ws://{}", process.addr),
            cookies: None,
            room_ids,
            pid: process.pid(),
        };
        Some((target, process))
    } else {
        None
    };
    Ok(Targets { server, baseline })
}

/// A rest between two measured runs, so one's tail does not spill into the next.
pub(crate) async fn rest(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
}
