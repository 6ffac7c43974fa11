//! `run`, `capacity` and `serve-baseline`.

use serde::Serialize;
use tokio::net::TcpListener;

use crate::baseline::{self, LISTENING};
use crate::cli::{BaselineArgs, CapacityArgs, RunArgs};
use crate::report::{self, RunOutput};
use crate::runner::{self, Target};
use crate::stats::Report;
use crate::targets::{self, rest};
use crate::workload::Workload;

/// Rest between the server's run and the baseline's, seconds.
const BETWEEN_TARGETS_S: f64 = 2.0;

/// `loadtest run`: the workload against the server, then the baseline.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let workload = targets::workload(&args.target, args.rate, args.duration)?;
    let targets = targets::prepare(&args.target).await?;
    let server = runner::measure(&targets.server, &workload).await?;
    let baseline = match &targets.baseline {
        Some((target, _process)) => {
            rest(BETWEEN_TARGETS_S).await;
            Some(runner::measure(target, &workload).await?)
        }
        None => None,
    };
    let baseline_report = baseline.as_ref().map(|b| &b.report);
    println!("{}", report::table(&workload, &server.report, baseline_report));
    if let Some(path) = &args.target.json {
        let output =
            RunOutput { workload: &workload, server: &server.report, baseline: baseline_report };
        report::write_json(path, &output)?;
        let svg = report::svg_path(path);
        report::write_svg(&svg, &workload, &server, baseline.as_ref())?;
        println!("wrote {} and {}", path.display(), svg.display());
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
        "capacity at p99 ≤ {} ms, {} users in {} rooms: server {}",
        args.slo_p99_ms,
        workload.users,
        workload.rooms,
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

/// Raises the rate by `--factor` while steps pass, then bisects between the
/// last pass and the first failure.
async fn search(
    target: &Target,
    workload: &Workload,
    args: &CapacityArgs,
) -> anyhow::Result<Capacity> {
    let mut steps = Vec::new();
    let (mut passed, mut failed) = (None::<f64>, None::<f64>);
    let mut rate = args.start_rate.min(args.max_rate);
    loop {
        let ok = step(target, workload, rate, args, &mut steps).await?;
        if !ok {
            failed = Some(rate);
            break;
        }
        passed = Some(rate);
        if rate >= args.max_rate {
            break;
        }
        rate = (rate * args.factor).round().min(args.max_rate);
    }
    if let (Some(mut low), Some(mut high)) = (passed, failed) {
        for _ in 0..args.refine {
            let mid = ((low + high) / 2.0).round();
            if mid <= low || mid >= high {
                break;
            }
            if step(target, workload, mid, args, &mut steps).await? {
                low = mid;
            } else {
                high = mid;
            }
        }
        passed = Some(low);
    }
    Ok(Capacity { capacity_msgs_per_s: passed, steps })
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
    baseline::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
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
        }
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
}
