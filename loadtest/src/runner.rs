//! One measured run of a workload against one target: connect everyone,
//! send on the open-loop schedule, drain, and add it all up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use indicatif::ProgressBar;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{self, Dial, Member, Outcome, Shared, Socket};
use crate::database::{self, Backends, DatabaseFigures};
use crate::delivery::Tally;
use crate::probe::{self, Probe, Usage};
use crate::progress;
use crate::stats::{Latencies, Percentiles, Recorder, Report};
use crate::workload::Workload;

/// Handshakes in flight at once.
const CONNECT_CONCURRENCY: usize = 64;
/// Scheduled sends a connection may have queued before the generator skips
/// its next ones (counted as errors): only a stuck connection gets there.
const JOB_QUEUE: usize = 1024;
/// Time between the start signal and the first intended send, so every task is running.
const LEAD: Duration = Duration::from_millis(100);
/// How often the drain checks whether everything arrived.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One server instance's WebSocket address.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Where to connect.
    pub(crate) addr: SocketAddr,
    /// `ws://host:port`, without a path.
    pub(crate) ws_base: String,
}

impl Endpoint {
    /// The endpoint at `addr`, named by it.
    pub(crate) fn at(addr: SocketAddr) -> Self {
        Self { addr, ws_base: format!("ws://{addr}") }
    }
}

/// What a run is aimed at.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `server` or `baseline`, for the progress bars.
    pub(crate) label: &'static str,
    /// The instances, at least one; user `u` connects to
    /// [`Workload::instance_of`] of them.
    pub(crate) endpoints: Arc<[Endpoint]>,
    /// Session cookies per user (the chat server); `None` for the baseline,
    /// which is told the username in the query instead.
    pub(crate) cookies: Option<Arc<[String]>>,
    /// Room ids, per room index.
    pub(crate) room_ids: Arc<[Uuid]>,
    /// Whose memory and CPU to report (summed over them).
    pub(crate) pids: Arc<[u32]>,
    /// The server's `DATABASE_URL`, to report PostgreSQL's CPU per message.
    pub(crate) database_url: Option<String>,
}

impl Target {
    fn dial(&self, workload: &Workload, user: u32) -> Dial {
        let endpoint = &self.endpoints[workload.instance_of(user, self.endpoints.len())];
        let room = self.room_ids[workload.room_of(user) as usize];
        let path = format!("{}/ws/chat/{room}", endpoint.ws_base);
        match &self.cookies {
            Some(cookies) => Dial {
                addr: endpoint.addr,
                url: path,
                cookie: Some(cookies[user as usize].clone()),
            },
            None => Dial { addr: endpoint.addr, url: format!("{path}?user=u{user}"), cookie: None },
        }
    }
}

/// A run's report and the histograms behind it (for the plot).
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    /// The figures.
    pub(crate) report: Report,
    /// The full latency distributions.
    pub(crate) latencies: Latencies,
    /// CPU seconds the generator itself used from the first send to the
    /// end of the drain: if it nears the cores it has, it is the bottleneck.
    pub(crate) generator_cpu_s: Option<f64>,
    /// Frames other than messages the connections received, and their bytes.
    pub(crate) other: (u64, u64),
    /// The server's resident size before the connections opened, bytes:
    /// with the peak, what each connection costs.
    pub(crate) rss_before_bytes: Option<u64>,
    /// PostgreSQL's CPU over the run, when the target names its database.
    pub(crate) database: Option<DatabaseFigures>,
}

/// Runs `workload` against `target` once.
pub(crate) async fn measure(target: &Target, workload: &Workload) -> anyhow::Result<Measured> {
    let mut probe = Probe::spawn(&target.pids)?;
    let recorder = Arc::new(Recorder::new(16));
    let (sockets, connect_failures) = connect_all(target, workload, &recorder).await;
    let mut connected_per_room = vec![0u64; workload.rooms as usize];
    for user in (0..workload.users).filter(|&u| sockets[u as usize].is_some()) {
        connected_per_room[workload.room_of(user) as usize] += 1;
    }

    let shared = Arc::new(Shared {
        nonce: rand::random(),
        payload: workload.payload_bytes,
        users: workload.users,
        rooms: workload.rooms,
        sealed: workload.encrypted,
        epoch: Instant::now() + LEAD,
        recorder: Arc::clone(&recorder),
        stop: CancellationToken::new(),
    });
    let mut tasks = JoinSet::new();
    let mut senders: Vec<Option<mpsc::Sender<u64>>> = Vec::with_capacity(sockets.len());
    for (user, socket) in (0..workload.users).zip(sockets) {
        let Some(socket) = socket else {
            senders.push(None);
            continue;
        };
        let room = workload.room_of(user);
        let member = Member {
            user,
            room,
            room_size: workload.room_size(room),
            room_connected: connected_per_room[room as usize],
        };
        let (tx, rx) = mpsc::channel(JOB_QUEUE);
        senders.push(Some(tx));
        tasks.spawn(client::drive(socket, member, Arc::clone(&shared), rx));
    }
    let database = match &target.database_url {
        Some(url) => Some(DatabaseWatch::start(url, workload).await?),
        None => None,
    };
    if let Some(probe) = &mut probe {
        probe.start_cpu();
    }
    let own_cpu_at_start = probe::own_cpu_s();

    let skipped = offer(target, workload, &shared, senders).await;
    let drain_started = Instant::now();
    drain(target, workload, &shared, skipped).await;
    let drain_s = drain_started.elapsed().as_secs_f64();
    let usage = probe.map(Probe::finish);
    let database_cpu = match database {
        Some(watch) => Some(watch.finish().await?),
        None => None,
    };
    let generator_cpu_s = probe::own_cpu_s().zip(own_cpu_at_start).map(|(end, start)| end - start);
    shared.stop.cancel();
    let mut outcomes = Vec::with_capacity(workload.users as usize);
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done?);
    }
    let totals = Totals::of(workload, &outcomes, connect_failures, skipped);
    let latencies = recorder.latencies();
    let report = totals.report(workload, &recorder, &latencies, usage);
    if drain_s >= workload.drain_s {
        eprintln!("{}: drain timed out after {drain_s:.1}s", target.label);
    }
    let rss_before_bytes = usage.map(|u| u.rss_at_start_bytes);
    let database = database_cpu.map(|(cpu, (rows, inserts))| DatabaseFigures {
        backend_cpu_s: cpu.total_s,
        backend_cpu_s_by_name: cpu.by_name,
        stored_messages: report.acked,
        cpu_us_per_message: (report.acked > 0).then(|| cpu.total_s * 1e6 / report.acked as f64),
        inserts,
        batch_mean: (inserts > 0.0).then(|| rows / inserts),
        floor: None,
        ratio_to_floor: None,
    });
    let other = outcomes.iter().fold((0, 0), |(n, b), o| (n + o.other.0, b + o.other.1));
    Ok(Measured { report, latencies, generator_cpu_s, rss_before_bytes, database, other })
}

/// PostgreSQL's backends and the writers' batch counts, from the first send.
struct DatabaseWatch {
    backends: Backends,
    metrics_urls: Vec<String>,
    batches_at_start: (f64, f64),
}

impl DatabaseWatch {
    async fn start(url: &str, workload: &Workload) -> anyhow::Result<Self> {
        let metrics_urls: Vec<String> =
            std::iter::once(&workload.url).chain(&workload.also_urls).cloned().collect();
        let batches_at_start = database::writer_batches(&metrics_urls).await?;
        Ok(Self { backends: Backends::start(url).await?, metrics_urls, batches_at_start })
    }

    /// CPU seconds, and (rows, inserts) of the writers since the start.
    async fn finish(self) -> anyhow::Result<(database::BackendCpu, (f64, f64))> {
        let cpu_s = self.backends.finish().await?;
        let (rows, inserts) = database::writer_batches(&self.metrics_urls).await?;
        let (rows_before, inserts_before) = self.batches_at_start;
        Ok((cpu_s, (rows - rows_before, inserts - inserts_before)))
    }
}

/// Opens every user's WebSocket, a bounded number at a time (all at once in
/// a join storm); records the connect times. Returns the sockets by user (`None`: failed) and the failures.
async fn connect_all(
    target: &Target,
    workload: &Workload,
    recorder: &Recorder,
) -> (Vec<Option<Socket>>, u64) {
    let bar = progress::counter(&format!("{} connect", target.label), u64::from(workload.users));
    let mut sockets: Vec<Option<Socket>> = (0..workload.users).map(|_| None).collect();
    let mut samples = crate::stats::Samples::default();
    let mut failures = 0;
    let mut first_error = None;
    let mut attempts = stream::iter(0..workload.users)
        .map(|user| {
            let dial = target.dial(workload, user);
            async move { (user, client::connect(&dial).await) }
        })
        .buffer_unordered(if workload.join_storm {
            workload.users.max(1) as usize
        } else {
            CONNECT_CONCURRENCY
        });
    while let Some((user, result)) = attempts.next().await {
        match result {
            Ok((socket, took)) => {
                samples.connect.push(took.as_micros() as u64);
                sockets[user as usize] = Some(socket);
            }
            Err(error) => {
                failures += 1;
                first_error.get_or_insert(error);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    recorder.record(0, &mut samples);
    if let Some(error) = first_error {
        eprintln!("{}: {failures} connections failed; the first: {error:#}", target.label);
    }
    (sockets, failures)
}

/// Hands every scheduled message to its sender's connection at its intended
/// time (open loop: a late send keeps its intended time). Returns how many
/// could not be handed over (the connection was gone or stuck).
async fn offer(
    target: &Target,
    workload: &Workload,
    shared: &Shared,
    senders: Vec<Option<mpsc::Sender<u64>>>,
) -> u64 {
    let total = workload.total_messages();
    let bar = progress::timer(&format!("{} run", target.label), workload.duration_s.ceil() as u64);
    let mut skipped = 0;
    let mut next = 0;
    let mut shown = Instant::now();
    while next < total {
        let (_, intended_us) = workload.schedule(next);
        tokio::time::sleep_until(shared.epoch + Duration::from_micros(intended_us)).await;
        let due = workload.due_by(shared.epoch.elapsed().as_micros() as u64);
        while next < due {
            let (user, intended_us) = workload.schedule(next);
            let handed =
                senders[user as usize].as_ref().is_some_and(|tx| tx.try_send(intended_us).is_ok());
            skipped += u64::from(!handed);
            next += 1;
        }
        if shown.elapsed() >= PROGRESS_EVERY {
            shown = Instant::now();
            show(&bar, shared.epoch.elapsed(), shared);
        }
    }
    bar.finish_and_clear();
    skipped
}

fn show(bar: &ProgressBar, elapsed: Duration, shared: &Shared) {
    let recorder = &shared.recorder;
    bar.set_position(elapsed.as_secs());
    bar.set_message(format!(
        "sent {}  delivered {}/{}",
        Recorder::get(&recorder.sent),
        Recorder::get(&recorder.delivered),
        Recorder::get(&recorder.expected)
    ));
}

/// Waits until every handed-over message was sent, acknowledged and
/// delivered everywhere, or until the drain time is up.
async fn drain(target: &Target, workload: &Workload, shared: &Shared, skipped: u64) {
    let recorder = &shared.recorder;
    let bar = progress::timer(&format!("{} drain", target.label), workload.drain_s.ceil() as u64);
    let drain_started = Instant::now();
    let deadline = drain_started + Duration::from_secs_f64(workload.drain_s);
    let offered = workload.total_messages() - skipped;
    while Instant::now() < deadline {
        let sent = Recorder::get(&recorder.sent);
        if sent >= offered
            && Recorder::get(&recorder.acked) >= sent
            && Recorder::get(&recorder.delivered) >= Recorder::get(&recorder.expected)
        {
            break;
        }
        show(&bar, drain_started.elapsed(), shared);
        tokio::time::sleep(DRAIN_POLL).await;
    }
    bar.finish_and_clear();
}

/// The run's totals, from what every connection returned.
struct Totals {
    tally: Tally,
    connected: u64,
    connect_failures: u64,
    sent: u64,
    errors: u64,
    last_delivery_us: u64,
}

impl Totals {
    fn of(workload: &Workload, outcomes: &[Outcome], connect_failures: u64, skipped: u64) -> Self {
        let mut sent_by_user = vec![0u32; workload.users as usize];
        for outcome in outcomes {
            sent_by_user[outcome.user as usize] = outcome.sent;
        }
        let mut room_sent = vec![0u64; workload.rooms as usize];
        for (user, sent) in (0..).zip(&sent_by_user) {
            room_sent[workload.room_of(user) as usize] += u64::from(*sent);
        }
        let mut tally = Tally::default();
        for outcome in outcomes {
            let room = workload.room_of(outcome.user);
            let mut unheard = room_sent[room as usize];
            for (member, stream) in &outcome.streams {
                let sent = sent_by_user[workload.member(room, *member) as usize];
                unheard = unheard.saturating_sub(u64::from(sent));
                tally += stream.tally(sent);
            }
            // What the senders it never heard from sent is lost to it.
            tally += Tally { expected: unheard, lost: unheard, ..Tally::default() };
        }
        Self {
            tally,
            connected: outcomes.len() as u64,
            connect_failures,
            sent: sent_by_user.iter().map(|&s| u64::from(s)).sum(),
            errors: outcomes.iter().map(|o| o.errors).sum::<u64>() + skipped + tally.unexpected,
            last_delivery_us: outcomes.iter().map(|o| o.last_delivery_us).max().unwrap_or(0),
        }
    }

    fn report(
        &self,
        workload: &Workload,
        recorder: &Recorder,
        latencies: &Latencies,
        usage: Option<Usage>,
    ) -> Report {
        let delivering_s = self.last_delivery_us as f64 / 1e6;
        Report {
            connected: self.connected,
            connect_failures: self.connect_failures,
            sent: self.sent,
            acked: Recorder::get(&recorder.acked),
            expected_deliveries: self.tally.expected,
            delivered: self.tally.delivered,
            lost: self.tally.lost,
            duplicated: self.tally.duplicated,
            reordered: self.tally.reordered,
            errors: self.errors,
            sent_per_s: self.sent as f64 / workload.duration_s,
            deliveries_per_s: if delivering_s > 0.0 {
                self.tally.delivered as f64 / delivering_s
            } else {
                0.0
            },
            server_rss_bytes: usage.and_then(|u| u.peak_rss_bytes),
            server_cpu_s: usage.and_then(|u| u.cpu_s),
            connect_ms: Percentiles::of(&latencies.connect),
            ack_ms: Percentiles::of(&latencies.ack),
            delivery_ms: Percentiles::of(&latencies.delivery),
            delivery_hgrm: crate::stats::hgrm(&latencies.delivery),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Stream;

    fn workload() -> Workload {
        Workload {
            url: String::new(),
            also_urls: Vec::new(),
            users: 4,
            rooms: 2,
            rate_msgs_per_s: 10.0,
            duration_s: 1.0,
            payload_bytes: 64,
            drain_s: 1.0,
            durable_baseline: false,
            join_storm: false,
            encrypted: false,
        }
    }

    fn outcome(user: u32, sent: u32, seen: &[&[u32]]) -> Outcome {
        // As in a run, a sender never heard from has no stream.
        let streams = (0..)
            .zip(seen)
            .filter(|(_, seqs)| !seqs.is_empty())
            .map(|(member, seqs)| {
                let mut stream = Stream::default();
                for &seq in *seqs {
                    stream.observe(seq);
                }
                (member, stream)
            })
            .collect();
        Outcome { user, sent, errors: 0, streams, last_delivery_us: 1_000_000, other: (0, 0) }
    }

    #[test]
    fn totals_match_each_receiver_to_its_senders() {
        // Room 0: users 0 and 2 (members 0 and 1). Room 1: users 1 and 3.
        let outcomes = [
            outcome(0, 2, &[&[0, 1], &[0, 1, 2]]),
            outcome(2, 3, &[&[0, 1], &[0, 2, 1, 2]]),
            outcome(1, 1, &[&[0], &[]]),
            outcome(3, 1, &[&[0], &[0]]),
        ];
        let totals = Totals::of(&workload(), &outcomes, 0, 0);
        // Room 0 sent 5, to 2 receivers: 10; room 1 sent 2, to 2: 4.
        assert_eq!(totals.tally.expected, 14);
        assert_eq!(totals.tally.lost, 1);
        assert_eq!(totals.tally.delivered, 13);
        assert_eq!(totals.tally.duplicated, 1);
        assert_eq!(totals.tally.reordered, 1);
        assert_eq!(totals.sent, 7);
        assert_eq!(totals.connected, 4);
    }

    #[test]
    fn each_user_dials_its_instance() {
        let endpoints: Arc<[Endpoint]> =
            (1..=2).map(|port| Endpoint::at(SocketAddr::from(([127, 0, 0, 1], port)))).collect();
        let target = Target {
            label: "server",
            endpoints,
            cookies: Some((0..4).map(|u| format!("session_id={u}")).collect()),
            room_ids: (0..2).map(Uuid::from_u128).collect(),
            pids: [].into(),
            database_url: None,
        };
        // Rooms 0 and 1 each have a member on either instance.
        let ports: Vec<u16> = (0..4).map(|u| target.dial(&workload(), u).addr.port()).collect();
        assert_eq!(ports, [1, 1, 2, 2]);
        let dial = target.dial(&workload(), 3);
        assert_eq!(dial.url, format!("ws://127.0.0.1:2/ws/chat/{}", Uuid::from_u128(1)));
        assert_eq!(dial.cookie.as_deref(), Some("session_id=3"));
    }

    /// Runs a small workload against an in-process baseline (durable when
    /// `database_url` is given) and checks every delivery.
    async fn run_against_the_baseline(database_url: Option<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            crate::baseline::serve(listener, database_url.as_deref(), std::future::pending()).await
        });
        let target = Target {
            label: "baseline",
            endpoints: [Endpoint::at(addr)].into(),
            cookies: None,
            room_ids: (0..3).map(Uuid::from_u128).collect(),
            pids: [std::process::id()].into(),
            database_url: None,
        };
        let workload = Workload {
            users: 12,
            rooms: 3,
            rate_msgs_per_s: 200.0,
            duration_s: 0.5,
            drain_s: 5.0,
            ..workload()
        };
        let report = measure(&target, &workload).await.unwrap().report;
        assert_eq!(report.connected, 12);
        assert_eq!(report.sent, 100);
        assert_eq!(report.acked, 100);
        assert_eq!(report.expected_deliveries, 400);
        assert_eq!(report.delivered, 400);
        assert!(report.is_clean(), "{report:#?}");
        assert!(report.server_rss_bytes.is_some() && report.server_cpu_s.is_some());
        let delivery = report.delivery_ms.unwrap();
        assert!(delivery.p50 <= delivery.p99 && delivery.p99 <= delivery.max);
    }

    /// End to end against the in-process baseline: every message reaches
    /// every member of its room once, in order, and the figures add up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_against_the_baseline_is_clean() {
        run_against_the_baseline(None).await;
    }

    /// The durable baseline delivers the same, and only what it stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_durable_baseline_stores_every_message_it_delivers() {
        let database = testkit::database::TestDatabase::new();
        database.create().await;
        run_against_the_baseline(Some(database.url())).await;
        let client = crate::database::connect(&database.url()).await.unwrap();
        let stored: i64 =
            client.query_one("SELECT count(*) FROM loadtest_baseline", &[]).await.unwrap().get(0);
        assert_eq!(stored, 100);
    }

    #[test]
    fn a_failed_connection_neither_sends_nor_is_expected_to_receive() {
        let outcomes =
            [outcome(0, 1, &[&[0], &[]]), outcome(1, 0, &[&[], &[]]), outcome(3, 0, &[&[], &[]])];
        let totals = Totals::of(&workload(), &outcomes, 1, 3);
        assert_eq!(totals.tally.expected, 1);
        assert_eq!(totals.tally.lost, 0);
        assert_eq!(totals.errors, 3);
        assert_eq!(totals.connected, 3);
    }
}
