//! PostgreSQL's share of a run (`--database-url`): the CPU time of the
//! backends serving the chat's database per stored message, and the floor to
//! hold it against (`db-floor`): the simplest durable group commit, one
//! statement inserting a batch into a table with one primary key, at the
//! same batch size and rate, on the same server.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio::time::Instant;
use tokio_postgres::{Client, NoTls};

use crate::probe;

/// The scratch table of the floor, created and dropped by each measurement.
const FLOOR_TABLE: &str = "loadtest_floor";
/// The writer's batch-size histogram in the chat's `/metrics`.
const BATCH_METRIC: &str = "room_writer_batch_size";

/// Connects to `url` (no TLS: the tool measures a local server).
pub(crate) async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// CPU ticks of every other client backend connected to this database, with
/// the name it gave (`application_name`).
async fn backend_ticks(client: &Client) -> anyhow::Result<HashMap<i32, (String, u64)>> {
    let rows = client
        .query(
            "SELECT pid, application_name FROM pg_stat_activity
             WHERE datname = current_database() AND backend_type = 'client backend'
               AND pid <> pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let pid: i32 = row.get(0);
            let name: String = row.get(1);
            Some((pid, (name, probe::cpu_ticks_of(u32::try_from(pid).ok()?)?)))
        })
        .collect())
}

/// CPU seconds of a database's backends over a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackendCpu {
    /// All of them.
    pub(crate) total_s: f64,
    /// By the name each connection gave (`application_name`; "" for none).
    pub(crate) by_name: BTreeMap<String, f64>,
}

/// Watches the backends that serve the chat's database over a run.
pub(crate) struct Backends {
    client: Client,
    at_start: HashMap<i32, (String, u64)>,
}

impl Backends {
    /// Connects and takes the starting CPU time of each backend.
    pub(crate) async fn start(url: &str) -> anyhow::Result<Self> {
        let client = connect(url).await?;
        let at_start = backend_ticks(&client).await?;
        anyhow::ensure!(
            !at_start.is_empty(),
            "no other connection to {url}: is the chat server using this database?"
        );
        Ok(Self { client, at_start })
    }

    /// CPU seconds the backends used since [`Backends::start`] (a backend
    /// opened since counts from zero).
    pub(crate) async fn finish(self) -> anyhow::Result<BackendCpu> {
        let at_end = backend_ticks(&self.client).await?;
        let mut cpu = BackendCpu::default();
        for (pid, (name, end)) in at_end {
            let start = self.at_start.get(&pid).map_or(0, |(_, ticks)| *ticks);
            let seconds = end.saturating_sub(start) as f64 / probe::CLOCK_TICKS_PER_S;
            cpu.total_s += seconds;
            *cpu.by_name.entry(name).or_default() += seconds;
        }
        Ok(cpu)
    }
}

/// Group commits the chat's writers made, summed over `urls`: (rows, inserts),
/// from each instance's `room_writer_batch_size` histogram.
pub(crate) async fn writer_batches(urls: &[String]) -> anyhow::Result<(f64, f64)> {
    let http = reqwest::Client::new();
    let mut totals = (0.0, 0.0);
    for url in urls {
        let metrics_url = format!("{}/metrics", url.trim_end_matches('/'));
        let text = http
            .get(&metrics_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("reading {metrics_url}"))?
            .text()
            .await?;
        let (rows, inserts) = batch_totals(&text);
        totals = (totals.0 + rows, totals.1 + inserts);
    }
    Ok(totals)
}

/// `(sum, count)` of the batch-size histogram in a Prometheus text body
/// (zero when the server has stored nothing yet).
fn batch_totals(metrics: &str) -> (f64, f64) {
    let value = |name: String| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name.as_str())?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    };
    (value(format!("{BATCH_METRIC}_sum")), value(format!("{BATCH_METRIC}_count")))
}

/// PostgreSQL's figures of one run against the chat.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseFigures {
    /// CPU seconds of the backends serving the chat's database, from the
    /// first send to the end of the drain.
    pub backend_cpu_s: f64,
    /// Messages the run stored (acknowledged).
    pub stored_messages: u64,
    /// `backend_cpu_s` per stored message, µs.
    pub cpu_us_per_message: Option<f64>,
    /// `backend_cpu_s` by the name each connection gave (`application_name`).
    pub backend_cpu_s_by_name: BTreeMap<String, f64>,
    /// Group-commit inserts the writers made over the run.
    pub inserts: f64,
    /// Rows per insert over the run.
    pub batch_mean: Option<f64>,
    /// The floor at the same batch size and rate (`--db-floor`).
    pub floor: Option<Floor>,
    /// `cpu_us_per_message` over the floor's µs per row.
    pub ratio_to_floor: Option<f64>,
}

/// What the floor is asked to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloorSpec {
    /// Mean rows per transaction (fractional means mix two sizes).
    pub(crate) batch: f64,
    /// Rows per second.
    pub(crate) rate: f64,
    /// Seconds of inserting.
    pub(crate) duration_s: f64,
    /// Rooms the rows are spread over, in turn.
    pub(crate) rooms: u32,
    /// Bytes of text per row.
    pub(crate) payload: usize,
}

/// The floor's figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Floor {
    /// Rows inserted.
    pub rows: u64,
    /// Transactions (one statement each).
    pub transactions: u64,
    /// Rows per transaction.
    pub batch_mean: f64,
    /// Rows per second achieved.
    pub rows_per_s: f64,
    /// CPU seconds of the floor's backend.
    pub backend_cpu_s: f64,
    /// `backend_cpu_s` per row, µs.
    pub cpu_us_per_row: f64,
}

impl std::fmt::Display for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "floor: {} rows in {} transactions of {:.1}, {:.0} rows/s, {:.2} s CPU: {:.1} µs per row",
            self.rows,
            self.transactions,
            self.batch_mean,
            self.rows_per_s,
            self.backend_cpu_s,
            self.cpu_us_per_row
        )
    }
}

/// Sizes of successive batches whose mean is `mean` (at least one row each).
fn batch_sizes(mean: f64) -> impl Iterator<Item = usize> {
    let mean = mean.max(1.0);
    let mut owed = 0.0;
    std::iter::repeat_with(move || {
        owed += mean;
        let size = owed.floor().max(1.0);
        owed -= size;
        size as usize
    })
}

/// Measures the floor: `(room int, seq bigint, body text)` with primary key
/// `(room, seq)`, each batch one `INSERT … SELECT FROM unnest(…)` committed
/// on its own (synchronously, as the server's are), paced to `spec.rate`.
pub(crate) async fn floor(url: &str, spec: FloorSpec) -> anyhow::Result<Floor> {
    anyhow::ensure!(spec.rate > 0.0 && spec.duration_s > 0.0, "rate and duration must be positive");
    let client = connect(url).await?;
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {FLOOR_TABLE};
             CREATE TABLE {FLOOR_TABLE} (room int, seq bigint, body text, PRIMARY KEY (room, seq));
             CHECKPOINT"
        ))
        .await
        .context("creating the floor's table")?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO {FLOOR_TABLE} SELECT * FROM unnest($1::int4[], $2::int8[], $3::text[])"
        ))
        .await?;
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let pid = u32::try_from(pid).context("backend pid")?;
    let body = "x".repeat(spec.payload);
    let rooms = spec.rooms.max(1);
    let mut next_seq = vec![0i64; rooms as usize];
    let (mut rows, mut transactions) = (0u64, 0u64);
    let ticks_at_start = probe::cpu_ticks_of(pid).context("reading the backend's CPU time")?;
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(spec.duration_s);
    for size in batch_sizes(spec.batch) {
        let due = started + Duration::from_secs_f64(rows as f64 / spec.rate);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let (mut room_ids, mut seqs, mut bodies) = (vec![], vec![], vec![]);
        for row in rows..rows + size as u64 {
            let room = (row % u64::from(rooms)) as usize;
            next_seq[room] += 1;
            room_ids.push(room as i32);
            seqs.push(next_seq[room]);
            bodies.push(body.as_str());
        }
        client.execute(&insert, &[&room_ids, &seqs, &bodies]).await?;
        rows += size as u64;
        transactions += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = probe::cpu_ticks_of(pid).context("reading the backend's CPU time")?;
    client.batch_execute(&format!("DROP TABLE {FLOOR_TABLE}")).await?;
    let backend_cpu_s = ticks.saturating_sub(ticks_at_start) as f64 / probe::CLOCK_TICKS_PER_S;
    Ok(Floor {
        rows,
        transactions,
        batch_mean: rows as f64 / transactions.max(1) as f64,
        rows_per_s: rows as f64 / elapsed,
        backend_cpu_s,
        cpu_us_per_row: backend_cpu_s * 1e6 / rows.max(1) as f64,
    })
}

/// The lines printed under `run`'s table.
pub(crate) fn describe(figures: &DatabaseFigures) -> String {
    let mut out = format!(
        "PostgreSQL: backends {:.2} s CPU for {} stored messages",
        figures.backend_cpu_s, figures.stored_messages
    );
    if let Some(us) = figures.cpu_us_per_message {
        out += &format!(": {us:.1} µs per message");
    }
    if figures.backend_cpu_s_by_name.len() > 1 && figures.stored_messages > 0 {
        let parts: Vec<String> = figures
            .backend_cpu_s_by_name
            .iter()
            .map(|(name, seconds)| {
                let us = seconds * 1e6 / figures.stored_messages as f64;
                format!("{} {us:.1}", if name.is_empty() { "(unnamed)" } else { name })
            })
            .collect();
        out += &format!(" ({} µs)", parts.join(", "));
    }
    if let Some(batch) = figures.batch_mean {
        out += &format!(", {:.0} inserts of {batch:.1} rows", figures.inserts);
    }
    if let Some(floor) = &figures.floor {
        out += &format!("\n{floor}");
    }
    if let Some(ratio) = figures.ratio_to_floor {
        out += &format!("\nPostgreSQL CPU per message / floor: {ratio:.2}×");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_keep_a_fractional_mean() {
        let sizes: Vec<usize> = batch_sizes(2.5).take(4).collect();
        assert_eq!(sizes, [2, 3, 2, 3]);
        assert!(batch_sizes(0.2).take(5).all(|size| size == 1));
    }

    #[test]
    fn reads_the_batch_histogram_from_prometheus_text() {
        let text = "# TYPE room_writer_batch_size histogram\n\
                    room_writer_batch_size_bucket{le=\"1\"} 3\n\
                    room_writer_batch_size_sum 42\n\
                    room_writer_batch_size_count 10\n\
                    room_writer_batch_size_summary 7\n";
        assert_eq!(batch_totals(text), (42.0, 10.0));
        assert_eq!(batch_totals("up 1\n"), (0.0, 0.0));
    }

    #[tokio::test]
    async fn the_floor_inserts_what_it_reports_and_cleans_up() {
        let database = testkit::database::TestDatabase::new();
        database.create().await;
        let spec = FloorSpec { batch: 2.5, rate: 500.0, duration_s: 0.2, rooms: 3, payload: 10 };
        let floor = floor(&database.url(), spec).await.unwrap();
        assert!(floor.rows > 0 && floor.transactions > 0, "{floor:?}");
        assert!((floor.batch_mean - 2.5).abs() < 0.5, "{floor:?}");
        let client = connect(&database.url()).await.unwrap();
        let left = client
            .query_one("SELECT count(*) FROM pg_tables WHERE tablename = $1", &[&FLOOR_TABLE])
            .await
            .unwrap();
        assert_eq!(left.get::<_, i64>(0), 0);
    }

    #[tokio::test]
    async fn counts_the_cpu_of_other_backends_of_the_database() {
        let database = testkit::database::TestDatabase::new();
        database.create().await;
        let busy = connect(&database.url()).await.unwrap();
        let backends = Backends::start(&database.url()).await.unwrap();
        busy.batch_execute("SELECT count(*) FROM generate_series(1, 3000000)").await.unwrap();
        let cpu = backends.finish().await.unwrap();
        assert!(cpu.total_s > 0.0, "{cpu:?}");
        assert!((cpu.by_name.values().sum::<f64>() - cpu.total_s).abs() < 1e-9, "{cpu:?}");
    }
}
