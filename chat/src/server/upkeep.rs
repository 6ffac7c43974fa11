//! Background upkeep: histogram buckets, idle rate-limit keys, expired
//! sessions, files whose message never came, big rooms' presence diffs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::limits::Limits;
use crate::rooms::Rooms;
use crate::store::Store;

/// How often histogram samples are folded into buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// How often idle rate-limit keys are forgotten.
const LIMITS_SWEEP: Duration = Duration::from_secs(30);
/// How often a big room hears who came and went.
const PRESENCE_DIFF: Duration = Duration::from_secs(1);
/// How often files whose message was never stored are looked for.
const FILE_SWEEP: Duration = Duration::from_secs(60);
/// How old such a file must be: far longer than any message waits for the
/// room writer.
const UNLINKED_FILE_AGE: Duration = Duration::from_secs(600);
/// How often expired sessions are deleted.
const SESSION_SWEEP: Duration = Duration::from_secs(3600);

/// Folds recorded histogram samples into their buckets: without it they pile
/// up between scrapes (or forever, when nobody scrapes).
pub(super) async fn metrics_upkeep(shutdown: CancellationToken) {
    let handle = crate::metrics::handle();
    loop {
        tokio::select! {
            () = tokio::time::sleep(METRICS_UPKEEP) => handle.run_upkeep(),
            () = shutdown.cancelled() => return,
        }
    }
}

/// Forgets rate-limit state of quiet keys, so limiter memory stays bounded.
pub(super) async fn sweep_limits(limits: Limits, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LIMITS_SWEEP) => limits.forget_idle(),
            () = shutdown.cancelled() => return,
        }
    }
}

pub(super) async fn sweep_sessions(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(SESSION_SWEEP) => {}
            () = shutdown.cancelled() => return,
        }
        match store.delete_expired_sessions().await {
            Ok(count) => tracing::info!(count, "deleted expired sessions"),
            Err(error) => tracing::warn!(%error, "deleting expired sessions failed"),
        }
    }
}

/// Deletes the files whose message was never stored (their instance died
/// between storing the file and its message).
pub(super) async fn sweep_unlinked_files(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(FILE_SWEEP) => {}
            () = shutdown.cancelled() => return,
        }
        match store.sweep_unlinked_files(UNLINKED_FILE_AGE).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "deleted files whose message never came"),
            Err(error) => tracing::warn!(%error, "sweeping unlinked files failed"),
        }
    }
}

/// Sends big rooms' presence changes, at most one diff a second per room.
pub(super) async fn presence_diffs(rooms: std::sync::Arc<Rooms>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(PRESENCE_DIFF);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => rooms.flush_presence(),
            () = shutdown.cancelled() => return,
        }
    }
}
