//! `run`, `capacity` and `serve-baseline`.

use serde::Serialize;
use tokio::net::TcpListener;

use crate::baseline::{self, LISTENING};
use crate::cli::{BaselineArgs, CapacityArgs, DbFloorArgs, RunArgs};
use crate::database::{self, FloorSpec};
use crate::report::{self, RunOutput};
use crate::runner::{self, Target};
use crate::stats::Report;
use crate::targets::{self, rest};
use crate::workload::Workload;

/// The lowest rate `capacity` tries, messages per second.
const MIN_RATE: f64 = 1.0;
/// Rest between the server's run and the baseline's, seconds.
const BETWEEN_TARGETS_S: f64 = 2.0;

/// `loadtest run`: the workload against the server, then the baseline.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let workload = targets::workload(&args.target, args.rate, args.duration)?;
    let targets = targets::prepare(&args.target).await?;
    let mut server = runner::measure(&targets.server, &workload).await?;
    if let (true, Some(url), Some(figures)) =
        (args.db_floor, &args.target.database_url, server.database.as_mut())
    {
        rest(BETWEEN_TARGETS_S).await;
        let spec = FloorSpec {
            batch: figures.batch_mean.unwrap_or(1.0),
            rate: args.rate,
            duration_s: args.duration,
            rooms: args.target.rooms,
            payload: args.target.payload,
        };
        eprintln!(
            "floor: batches of {:.1} at {} rows/s for {} s",
            spec.batch, spec.rate, spec.duration_s
        );
        let floor = database::floor(url, spec).await?;
        figures.ratio_to_floor = figures.cpu_us_per_message.map(|us| us / floor.cpu_us_per_row);
        figures.floor = Some(floor);
    }
    let baseline = match &targets.baseline {
        Some((target, _process)) => {
            rest(BETWEEN_TARGETS_S).await;
            Some(runner::measure(target, &workload).await?)
        }
        None => None,
    };
    let baseline_report = baseline.as_ref().map(|b| &b.report);
    println!("{}", report::table(&workload, &server.report, baseline_report));
    for (label, measured) in [("server", Some(&server)), ("baseline", baseline.as_ref())] {
        if let Some(measured) = measured {
            println!("{}", report::footer(label, measured));
        }
    }
    if let Some(figures) = &server.database {
        println!("{}", database::describe(figures));
    }
    if let Some(path) = &args.target.json {
        let output = RunOutput {
            workload: &workload,
            server: &server.report,
            baseline: baseline_report,
            database: server.database.as_ref(),
        };
        report::write_json(path, &output)?;
        let svg = report::svg_path(path);
        report::write_svg(&svg, &workload, &server, baseline.as_ref())?;
        println!("wrote {} and {}", path.display(), svg.display());
    }
    let mut missed = missed_thresholds(&server.report, args.slo_p99_ms, args.max_lost);
    for (label, report) in [("server", Some(&server.report)), ("baseline", baseline_report)] {
        if let Some(refused) = report.and_then(|r| unconnected(label, r)) {
            eprintln!("{}", report::alarm(&refused));
            missed.push(refused);
        }
    }
    if missed.is_empty() { Ok(()) } else { Err(ThresholdMissed(missed).into()) }
}

/// Users of `report` that never connected, in words: every figure of such a
/// run is of fewer users than asked for, so the run fails whatever else it
/// shows.
fn unconnected(label: &str, report: &Report) -> Option<String> {
    (report.connect_failures > 0).then(|| {
        let asked = report.connected + report.connect_failures;
        format!(
            "{label}: {} of {asked} users could not connect; the figures are of the {} that did",
            report.connect_failures, report.connected
        )
    })
}

/// A run that missed a threshold given on the command line (`--slo-p99-ms`,
/// `--max-lost`), or in which users could not connect: the binary exits
/// with status 3.
#[derive(Debug)]
pub struct ThresholdMissed(pub Vec<String>);

impl std::fmt::Display for ThresholdMissed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "missed: {}", self.0.join("; "))
    }
}

impl std::error::Error for ThresholdMissed {}

/// What of `report` misses the thresholds, in words (empty: all met).
fn missed_thresholds(
    report: &Report,
    slo_p99_ms: Option<f64>,
    max_lost: Option<u64>,
) -> Vec<String> {
    let mut missed = Vec::new();
    if let Some(slo) = slo_p99_ms {
        match report.delivery_ms {
            Some(delivery) if delivery.p99 <= slo => {}
            Some(delivery) => {
                missed.push(format!("delivery p99 {:.2} ms > {slo} ms", delivery.p99))
            }
            None => missed.push("nothing was delivered".to_owned()),
        }
    }
    if let Some(max_lost) = max_lost {
        if report.lost > max_lost {
            missed.push(format!("{} deliveries lost > {max_lost}", report.lost));
        }
        if report.duplicated + report.reordered > 0 {
            missed.push(format!(
                "{} duplicated and {} reordered deliveries",
                report.duplicated, report.reordered
            ));
        }
    }
    missed
}

/// `loadtest db-floor`: the floor alone.
pub(crate) async fn db_floor(args: DbFloorArgs) -> anyhow::Result<()> {
    let spec = FloorSpec {
        batch: args.batch,
        rate: args.rate,
        duration_s: args.duration,
        rooms: args.rooms,
        payload: args.payload,
    };
    let floor = database::floor(&args.database_url, spec).await?;
    println!("{floor}");
    if let Some(path) = &args.json {
        report::write_json(path, &floor)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// One rate tried by `capacity`.
#[derive(Debug, Serialize)]
struct Step {
    rate_msgs_per_s: f64,
    passed: bool,
    result: Report,
}

/// What `capacity` found for one target.
#[derive(Debug, Serialize)]
struct Capacity {
    /// The highest passing rate, if any passed.
    capacity_msgs_per_s: Option<f64>,
    steps: Vec<Step>,
}

/// The JSON of `loadtest capacity`.
#[derive(Debug, Serialize)]
struct CapacityOutput<'a> {
    /// The workload of every step (its rate is the first step's).
    workload: &'a Workload,
    slo_p99_ms: f64,
    server: Capacity,
    baseline: Option<Capacity>,
}

/// Whether a step meets the bar: everything delivered once, in order, no
/// error, and p99 send→delivery within the SLO.
fn passes(report: &Report, slo_p99_ms: f64) -> bool {
    report.is_clean() && report.delivery_ms.is_some_and(|p| p.p99 <= slo_p99_ms)
}

/// `loadtest capacity`: the search, for the server then the baseline.
pub(crate) async fn capacity(args: CapacityArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.factor > 1.0, "--factor must be above 1");
    let workload = targets::workload(&args.target, args.start_rate, args.step_duration)?;
    let targets = targets::prepare(&args.target).await?;
    let server = search(&targets.server, &workload, &args).await?;
    let baseline = match &targets.baseline {
        Some((target, _process)) => {
            rest(args.pause.max(BETWEEN_TARGETS_S)).await;
            Some(search(target, &workload, &args).await?)
        }
        None => None,
    };
    let show = |c: &Capacity| {
        c.capacity_msgs_per_s.map_or("none passed".into(), |r| format!("{r:.0} msg/s"))
    };
    print!(
        "capacity at p99 ≤ {} ms, {} users in {} rooms on {}: server {}",
        args.slo_p99_ms,
        workload.users,
        workload.rooms,
        report::instances(&workload),
        show(&server)
    );
    match &baseline {
        Some(b) => {
            print!(", baseline {}", show(b));
            if let (Some(s), Some(b)) = (server.capacity_msgs_per_s, b.capacity_msgs_per_s) {
                print!(", ratio {:.2}×", s / b);
            }
            println!();
        }
        None => println!(),
    }
    if let Some(path) = &args.target.json {
        let output =
            CapacityOutput { workload: &workload, slo_p99_ms: args.slo_p99_ms, server, baseline };
        report::write_json(path, &output)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The capacity search for one target: every step is a measured run.
async fn search(
    target: &Target,
    workload: &Workload,
    args: &CapacityArgs,
) -> anyhow::Result<Capacity> {
    let mut steps = Vec::new();
    let capacity =
        highest_passing(args, async |rate| step(target, workload, rate, args, &mut steps).await)
            .await?;
    Ok(Capacity { capacity_msgs_per_s: capacity, steps })
}

/// Raises the rate by `--factor` while steps pass (or, if the first step
/// fails, lowers it until one passes), then bisects `--refine` times between
/// the highest pass and the lowest failure. Returns the highest pass.
async fn highest_passing(
    args: &CapacityArgs,
    mut passes_at: impl AsyncFnMut(f64) -> anyhow::Result<bool>,
) -> anyhow::Result<Option<f64>> {
    let (mut passed, mut failed) = (None::<f64>, None::<f64>);
    let mut rate = args.start_rate.min(args.max_rate);
    loop {
        if passes_at(rate).await? {
            passed = Some(rate);
            if rate >= args.max_rate || failed.is_some() {
                break;
            }
            rate = (rate * args.factor).round().min(args.max_rate);
        } else {
            failed = Some(rate);
            if passed.is_some() || rate <= MIN_RATE {
                break;
            }
            rate = (rate / args.factor).round().max(MIN_RATE);
        }
    }
    if let (Some(mut low), Some(mut high)) = (passed, failed) {
        for _ in 0..args.refine {
            let mid = ((low + high) / 2.0).round();
            if mid <= low || mid >= high {
                break;
            }
            if passes_at(mid).await? {
                low = mid;
            } else {
                high = mid;
            }
        }
        passed = Some(low);
    }
    Ok(passed)
}

/// Runs one step at `rate`, prints it, and records it.
async fn step(
    target: &Target,
    workload: &Workload,
    rate: f64,
    args: &CapacityArgs,
    steps: &mut Vec<Step>,
) -> anyhow::Result<bool> {
    if !steps.is_empty() {
        rest(args.pause).await;
    }
    let workload = Workload { rate_msgs_per_s: rate, ..workload.clone() };
    let result = runner::measure(target, &workload).await?.report;
    let passed = passes(&result, args.slo_p99_ms);
    let p99 = result.delivery_ms.map_or("-".into(), |p| format!("{:.2}", p.p99));
    println!(
        "{:<8} {rate:>8.0} msg/s: delivered {}/{}, lost {}, errors {}, p99 {p99} ms, {:.0} deliveries/s → {}",
        target.label,
        result.delivered,
        result.expected_deliveries,
        result.lost,
        result.errors,
        result.deliveries_per_s,
        if passed { "pass" } else { "FAIL" }
    );
    steps.push(Step { rate_msgs_per_s: rate, passed, result });
    Ok(passed)
}

/// `loadtest serve-baseline`: serves until Ctrl-C.
pub(crate) async fn serve_baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr).await?;
    // The parent (with --compare-baseline) reads this line for the address.
    println!("{LISTENING}{}", listener.local_addr()?);
    baseline::serve(listener, args.database_url.as_deref(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::stats::Percentiles;

    fn report(p99: f64, lost: u64) -> Report {
        let p = Percentiles { p50: 1.0, p90: 2.0, p99, p999: p99, max: p99 };
        Report {
            connected: 2,
            connect_failures: 0,
            sent: 10,
            acked: 10,
            expected_deliveries: 20,
            delivered: 20 - lost,
            lost,
            duplicated: 0,
            reordered: 0,
            errors: 0,
            sent_per_s: 1.0,
            deliveries_per_s: 2.0,
            server_rss_bytes: None,
            server_cpu_s: None,
            connect_ms: Some(p),
            ack_ms: Some(p),
            delivery_ms: Some(p),
            delivery_hgrm: None,
        }
    }

    fn search_args(start_rate: f64, refine: u32) -> CapacityArgs {
        let cli = crate::Cli::try_parse_from(["loadtest", "capacity"]).unwrap();
        let crate::cli::Command::Capacity(args) = cli.command else { unreachable!() };
        CapacityArgs { start_rate, factor: 2.0, max_rate: 10_000.0, refine, ..args }
    }

    /// Runs the search against a server that holds up to `limit`; returns
    /// the capacity found and the rates tried.
    async fn search_with_limit(args: &CapacityArgs, limit: f64) -> (Option<f64>, Vec<f64>) {
        let mut tried = Vec::new();
        let found = highest_passing(args, async |rate| {
            tried.push(rate);
            Ok(rate <= limit)
        })
        .await
        .unwrap();
        (found, tried)
    }

    #[tokio::test]
    async fn search_climbs_then_bisects() {
        let (found, tried) = search_with_limit(&search_args(100.0, 3), 1000.0).await;
        assert_eq!(tried, [100.0, 200.0, 400.0, 800.0, 1600.0, 1200.0, 1000.0, 1100.0]);
        assert_eq!(found, Some(1000.0));
    }

    #[tokio::test]
    async fn search_descends_when_the_first_step_fails() {
        let (found, tried) = search_with_limit(&search_args(1000.0, 2), 300.0).await;
        assert_eq!(tried, [1000.0, 500.0, 250.0, 375.0, 313.0]);
        assert_eq!(found, Some(250.0));
    }

    #[tokio::test]
    async fn search_stops_at_the_bounds() {
        let (found, tried) = search_with_limit(&search_args(4000.0, 3), 1e9).await;
        assert_eq!((found, tried), (Some(10_000.0), vec![4000.0, 8000.0, 10_000.0]));
        let (found, tried) = search_with_limit(&search_args(4.0, 3), 0.5).await;
        assert_eq!((found, tried), (None, vec![4.0, 2.0, 1.0]));
    }

    #[test]
    fn a_step_passes_only_clean_and_within_the_slo() {
        assert!(passes(&report(99.0, 0), 100.0));
        assert!(passes(&report(100.0, 0), 100.0));
        assert!(!passes(&report(100.1, 0), 100.0));
        assert!(!passes(&report(5.0, 1), 100.0));
        let mut reordered = report(5.0, 0);
        reordered.reordered = 1;
        assert!(!passes(&reordered, 100.0));
        let mut unacked = report(5.0, 0);
        unacked.acked = 9;
        assert!(!passes(&unacked, 100.0));
    }

    #[test]
    fn users_that_could_not_connect_fail_the_run() {
        assert_eq!(unconnected("server", &report(5.0, 0)), None);
        let mut refused = report(5.0, 0);
        refused.connect_failures = 970;
        refused.connected = 30;
        let said = unconnected("server", &refused).expect("a failure");
        assert_eq!(
            said,
            "server: 970 of 1000 users could not connect; the figures are of the 30 that did"
        );
        assert!(!passes(&refused, 100.0), "a capacity step fails too");
    }

    #[test]
    fn thresholds_are_met_or_named() {
        assert!(missed_thresholds(&report(40.0, 0), None, None).is_empty());
        assert!(missed_thresholds(&report(40.0, 0), Some(50.0), Some(0)).is_empty());
        let missed = missed_thresholds(&report(60.0, 3), Some(50.0), Some(0));
        assert_eq!(missed, ["delivery p99 60.00 ms > 50 ms", "3 deliveries lost > 0"]);
        let mut reordered = report(10.0, 0);
        reordered.reordered = 1;
        assert_eq!(missed_thresholds(&reordered, None, Some(5)).len(), 1);
    }
}
