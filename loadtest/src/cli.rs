//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Simulated WebSocket users against a running `chat`: open-loop sends,
/// latency histograms, and a check of every delivery.
///
/// Start the server with its rate limits off:
/// RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_MESSAGES=off RATE_LIMIT_STOCK=off
/// RATE_LIMIT_ROOMS=off RATE_LIMIT_HANDSHAKES=off MAX_CONNECTIONS_PER_IP=off
/// MAX_SOCKETS_PER_USER=off target/release/chat
#[derive(Debug, Parser)]
#[command(name = "loadtest", version)]
pub struct Cli {
    /// Worker threads of the tool's one tokio runtime (default: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Offer one workload and report latency, throughput and delivery checks.
    Run(RunArgs),
    /// Raise the offered rate step by step: the highest rate at which
    /// everything is delivered and p99 send→delivery stays within the SLO.
    Capacity(CapacityArgs),
    /// The floor of PostgreSQL's cost per stored message: a minimal durable
    /// group commit (one table, one primary key) at a given batch size and rate.
    DbFloor(DbFloorArgs),
    /// A bare tokio-tungstenite fan-out server speaking the chat's frames
    /// (no auth, storage or limits): the ceiling of this stack.
    ServeBaseline(BaselineArgs),
}

/// Where to run and with whom: shared by `run` and `capacity`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The chat server's base URL: the first instance, and the one the
    /// setup (sessions, rooms, joins) goes through.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Another instance of the same chat (same database, same broker);
    /// repeat for more. Users are spread over `--url` and these, so the
    /// members of each room sit on different instances.
    #[arg(long = "also-url", value_name = "URL")]
    pub also_urls: Vec<String>,
    /// Simulated users, one WebSocket each.
    #[arg(long, default_value_t = 100)]
    pub users: u32,
    /// Rooms; user n is in room n % rooms.
    #[arg(long, default_value_t = 10)]
    pub rooms: u32,
    /// Bytes of content per message (at least the ~30-byte stamp; at most 1000).
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// The chat server's process id, to report its peak RSS and CPU time;
    /// repeat it, one per instance, and the figures are the sums over them.
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pids: Vec<u32>,
    /// Also run the identical workload against a baseline started by the tool.
    #[arg(long)]
    pub compare_baseline: bool,
    /// Make the baseline durable: it commits each batch of messages to
    /// `--database-url` (a scratch table with one primary key) before fanning
    /// it out, the floor of the server's promise to store before it delivers.
    #[arg(long, requires_all = ["compare_baseline", "database_url"])]
    pub durable_baseline: bool,
    /// Every user opens their WebSocket at once (a join storm: a big room
    /// whose people all come back together), instead of 64 at a time.
    #[arg(long)]
    pub join_storm: bool,
    /// Encrypted rooms: every user publishes an identity key, the rooms are
    /// made encrypted (members added, a key envelope each), and messages are
    /// sent sealed. The tool only mimics the scheme's shapes (the server
    /// opens nothing either): the stamp travels as the ciphertext's bytes.
    /// Use a prefix of its own: encrypted rooms are private.
    #[arg(long, conflicts_with = "compare_baseline")]
    pub encrypted: bool,
    /// Write the figures here as JSON, and the latency plot beside it (.svg).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Names users `lt_<prefix>_<n>` and rooms `lt_<prefix>_room_<r>`; reused across runs.
    #[arg(long, default_value = "a")]
    pub prefix: String,
    /// Logins/registrations in flight at once (each costs the server an Argon2 hash).
    #[arg(long, default_value_t = 4)]
    pub setup_concurrency: usize,
    /// Where session cookies are kept between runs (default: in the temp directory).
    #[arg(long)]
    pub session_cache: Option<PathBuf>,
    /// Longest wait for the last deliveries after sending stops (seconds,
    /// or a duration such as 10s).
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub drain: f64,
    /// The chat's `DATABASE_URL`: report the CPU time of PostgreSQL's
    /// backends serving it per stored message (and, with `--db-floor`, the floor).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// `loadtest run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Who, where, and what to write.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Messages per second offered, over all users.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long to send: seconds, or a duration such as 30s or 2m.
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub duration: f64,
    /// Exit with status 3 when the server's delivery p99 exceeds this many
    /// milliseconds.
    #[arg(long)]
    pub slo_p99_ms: Option<f64>,
    /// Exit with status 3 when more deliveries than this are lost (or any
    /// is duplicated or reordered).
    #[arg(long)]
    pub max_lost: Option<u64>,
    /// After the run, measure the floor (`db-floor`) at the writers' mean
    /// batch size, the same rate and duration, on the same PostgreSQL, and
    /// report the ratio. Needs `--database-url`.
    #[arg(long, requires = "database_url")]
    pub db_floor: bool,
}

/// `loadtest db-floor`.
#[derive(Debug, Clone, Args)]
pub struct DbFloorArgs {
    /// The database to measure in (a scratch table is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/chat")]
    pub database_url: String,
    /// Mean rows per transaction (a fraction mixes the two sizes around it).
    #[arg(long, default_value_t = 4.0)]
    pub batch: f64,
    /// Rows per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// How long to insert: seconds, or a duration such as 30s or 2m.
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub duration: f64,
    /// Rooms the rows are spread over, in turn.
    #[arg(long, default_value_t = 10)]
    pub rooms: u32,
    /// Bytes of text per row.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Write the figures here as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `loadtest capacity`.
#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// Who, where, and what to write.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The p99 send→delivery bound, milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub slo_p99_ms: f64,
    /// The first rate tried, messages per second.
    #[arg(long, default_value_t = 100.0)]
    pub start_rate: f64,
    /// Each passing step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Never offer more than this.
    #[arg(long, default_value_t = 100_000.0)]
    pub max_rate: f64,
    /// Bisection steps between the last passing and the first failing rate.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,
    /// Sending per step (seconds, or a duration such as 10s).
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub step_duration: f64,
    /// Rest between steps (seconds, or a duration such as 2s).
    #[arg(long, default_value = "2", value_parser = seconds)]
    pub pause: f64,
}

/// A duration on the command line: plain seconds (`30`, `0.5`) or with
/// units (`30s`, `2m`, `1h30m`, `500ms`), as seconds.
fn seconds(text: &str) -> Result<f64, String> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return if seconds.is_finite() && seconds >= 0.0 {
            Ok(seconds)
        } else {
            Err("a duration is a non-negative number of seconds".into())
        };
    }
    humantime::parse_duration(text.trim())
        .map(|duration| duration.as_secs_f64())
        .map_err(|error| format!("{error}: give seconds, or a duration such as 30s or 2m"))
}

/// `loadtest serve-baseline`.
#[derive(Debug, Clone, Args)]
pub struct BaselineArgs {
    /// Where to listen (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub addr: SocketAddr,
    /// Commit each batch of messages to this PostgreSQL database (a scratch
    /// table, dropped and created at start) before fanning it out.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn durations_take_seconds_or_units() {
        assert_eq!(seconds("30"), Ok(30.0));
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert_eq!(seconds("30s"), Ok(30.0));
        assert_eq!(seconds("2m"), Ok(120.0));
        assert_eq!(seconds("1m30s"), Ok(90.0));
        assert_eq!(seconds("250ms"), Ok(0.25));
        for bad in ["", "-1", "ten", "5 parsecs", "NaN"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_is_consistent_and_parses_the_documented_form() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "loadtest",
            "run",
            "--url",
            "http://127.0.0.1:8080",
            "--also-url",
            "http://127.0.0.1:8081",
            "--also-url",
            "http://127.0.0.1:8082",
            "--users",
            "1000",
            "--rooms",
            "10",
            "--rate",
            "1000",
            "--duration",
            "30",
            "--payload",
            "64",
            "--server-pid",
            "42",
            "--server-pid",
            "43",
            "--compare-baseline",
            "--json",
            "out.json",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert_eq!(
            (run.target.users, run.target.rooms, run.rate, run.duration),
            (1000, 10, 1000.0, 30.0)
        );
        assert_eq!(run.target.payload, 64);
        assert_eq!(run.target.also_urls, ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]);
        assert_eq!(run.target.server_pids, [42, 43]);
        assert!(run.target.compare_baseline);
        assert!(!run.db_floor && run.target.database_url.is_none());
        assert!(Cli::try_parse_from(["loadtest", "run", "--db-floor"]).is_err());
        let cli = Cli::try_parse_from(["loadtest", "db-floor", "--batch", "9.5"]).unwrap();
        let Command::DbFloor(floor) = cli.command else { panic!("not db-floor") };
        assert_eq!((floor.batch, floor.rooms), (9.5, 10));
        let cli = Cli::try_parse_from(["loadtest", "capacity", "--slo-p99-ms", "50"]).unwrap();
        let Command::Capacity(capacity) = cli.command else { panic!("not capacity") };
        assert_eq!(capacity.slo_p99_ms, 50.0);
        assert!(capacity.target.also_urls.is_empty() && capacity.target.server_pids.is_empty());
    }
}
