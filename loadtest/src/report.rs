//! What a run leaves behind: the table on stdout, the JSON other tools read,
//! and the SVG plot beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::database::DatabaseFigures;
use crate::plot::{self, Curve};
use crate::runner::Measured;
use crate::stats::{Percentiles, Report};
use crate::workload::Workload;

/// The JSON of `loadtest run`: `{"workload": …, "server": R, "baseline": R or null,
/// "database": D or null}`.
#[derive(Debug, Serialize)]
pub struct RunOutput<'a> {
    /// What was offered.
    pub workload: &'a Workload,
    /// The chat server's figures.
    pub server: &'a Report,
    /// The baseline's, when `--compare-baseline` ran it.
    pub baseline: Option<&'a Report>,
    /// PostgreSQL's CPU per stored message and its floor (`--database-url`).
    pub database: Option<&'a DatabaseFigures>,
}

/// Writes `value` as pretty JSON to `path`.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_vec_pretty(value)?;
    std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
}

/// The plot's path: the JSON's, with `.svg`.
pub(crate) fn svg_path(json: &Path) -> PathBuf {
    json.with_extension("svg")
}

/// Writes the latency-percentile plot of a run (and its baseline).
pub(crate) fn write_svg(
    path: &Path,
    workload: &Workload,
    server: &Measured,
    baseline: Option<&Measured>,
) -> anyhow::Result<()> {
    let mut curves = Vec::new();
    for (target, measured, colors) in [
        ("server", Some(server), ["#d62728", "#ff9896"]),
        ("baseline", baseline, ["#1f77b4", "#aec7e8"]),
    ] {
        let Some(measured) = measured else { continue };
        let latencies = &measured.latencies;
        curves.push((format!("{target} send→delivery"), colors[0], false, &latencies.delivery));
        curves.push((format!("{target} send→ack"), colors[1], true, &latencies.ack));
    }
    let curves: Vec<Curve<'_>> = curves
        .iter()
        .map(|(label, color, dashed, histogram)| Curve { label, color, dashed: *dashed, histogram })
        .collect();
    let title = format!(
        "{} users, {} rooms, {} msg/s, {} s, {} B",
        workload.users,
        workload.rooms,
        workload.rate_msgs_per_s,
        workload.duration_s,
        workload.payload_bytes
    );
    std::fs::write(path, plot::svg(&title, &curves))
        .with_context(|| format!("writing {}", path.display()))
}

/// A row of the table: a label, the server's cell, the baseline's, the ratio.
struct Row {
    label: &'static str,
    server: String,
    baseline: String,
    ratio: String,
}

/// How one line of the table shows a report, and the figure whose
/// server/baseline ratio it prints (for the lines where a ratio means something).
struct Line {
    label: &'static str,
    show: fn(&Report) -> String,
    ratio: Option<fn(&Report) -> Option<f64>>,
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

const LINES: &[Line] = &[
    Line {
        label: "connected",
        show: |r| format!("{}/{}", r.connected, r.connected + r.connect_failures),
        ratio: None,
    },
    Line { label: "sent", show: |r| r.sent.to_string(), ratio: None },
    Line { label: "acked", show: |r| r.acked.to_string(), ratio: None },
    Line {
        label: "delivered",
        show: |r| format!("{}/{}", r.delivered, r.expected_deliveries),
        ratio: None,
    },
    Line { label: "lost", show: |r| r.lost.to_string(), ratio: None },
    Line { label: "duplicated", show: |r| r.duplicated.to_string(), ratio: None },
    Line { label: "reordered", show: |r| r.reordered.to_string(), ratio: None },
    Line { label: "errors", show: |r| r.errors.to_string(), ratio: None },
    Line { label: "sent/s", show: |r| format!("{:.1}", r.sent_per_s), ratio: None },
    Line {
        label: "deliveries/s",
        show: |r| format!("{:.1}", r.deliveries_per_s),
        ratio: Some(|r| Some(r.deliveries_per_s)),
    },
    Line { label: "connect ms p50", show: |r| ms(r.connect_ms.map(|p| p.p50)), ratio: None },
    Line { label: "connect ms p99", show: |r| ms(r.connect_ms.map(|p| p.p99)), ratio: None },
    Line {
        label: "ack ms p50",
        show: |r| ms(r.ack_ms.map(|p| p.p50)),
        ratio: Some(|r| r.ack_ms.map(|p| p.p50)),
    },
    Line {
        label: "ack ms p99",
        show: |r| ms(r.ack_ms.map(|p| p.p99)),
        ratio: Some(|r| r.ack_ms.map(|p| p.p99)),
    },
    Line { label: "ack ms max", show: |r| ms(r.ack_ms.map(|p| p.max)), ratio: None },
    Line {
        label: "delivery ms p50",
        show: |r| ms(r.delivery_ms.map(|p| p.p50)),
        ratio: Some(|r| r.delivery_ms.map(|p| p.p50)),
    },
    Line {
        label: "delivery ms p90",
        show: |r| ms(r.delivery_ms.map(|p| p.p90)),
        ratio: Some(|r| r.delivery_ms.map(|p| p.p90)),
    },
    Line {
        label: "delivery ms p99",
        show: |r| ms(r.delivery_ms.map(|p| p.p99)),
        ratio: Some(|r| r.delivery_ms.map(|p| p.p99)),
    },
    Line {
        label: "delivery ms p99.9",
        show: |r| ms(r.delivery_ms.map(|p| p.p999)),
        ratio: Some(|r| r.delivery_ms.map(|p| p.p999)),
    },
    Line { label: "delivery ms max", show: |r| ms(r.delivery_ms.map(|p| p.max)), ratio: None },
    Line {
        label: "server RSS MiB (peak)",
        show: |r| {
            r.server_rss_bytes
                .map_or_else(|| "-".into(), |b| format!("{:.1}", b as f64 / 1048576.0))
        },
        ratio: Some(|r| r.server_rss_bytes.map(|b| b as f64)),
    },
    Line { label: "server CPU s", show: |r| ms(r.server_cpu_s), ratio: Some(|r| r.server_cpu_s) },
    Line {
        label: "server CPU µs/delivery",
        show: |r| ms(r.cpu_us_per_delivery()),
        ratio: Some(Report::cpu_us_per_delivery),
    },
];

fn ratio(server: Option<f64>, baseline: Option<f64>) -> String {
    match (server, baseline) {
        (Some(s), Some(b)) if b > 0.0 => format!("{:.2}×", s / b),
        _ => String::new(),
    }
}

/// The table printed at the end of `loadtest run`.
pub fn table(workload: &Workload, server: &Report, baseline: Option<&Report>) -> String {
    let rows: Vec<Row> = LINES
        .iter()
        .map(|line| Row {
            label: line.label,
            server: (line.show)(server),
            baseline: baseline.map(line.show).unwrap_or_default(),
            ratio: line.ratio.map(|f| ratio(f(server), baseline.and_then(f))).unwrap_or_default(),
        })
        .collect();
    render(workload, &rows, baseline.is_some())
}

/// `text` as a warning on stderr: red when stderr is a terminal.
pub(crate) fn alarm(text: &str) -> String {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        format!("\x1b[1;31mloadtest: {text}\x1b[0m")
    } else {
        format!("loadtest: {text}")
    }
}

/// Lines under the table, per target: what each connection cost the
/// server's memory, and the generator's own CPU time and lateness (which are
/// inside the latencies above: if they are large, the generator is the limit).
pub(crate) fn footer(label: &str, measured: &Measured) -> String {
    let mut out = String::new();
    let report = &measured.report;
    if let (Some(before), Some(peak)) = (measured.rss_before_bytes, report.server_rss_bytes)
        && report.connected > 0
    {
        let per_connection = peak.saturating_sub(before) as f64 / report.connected as f64 / 1024.0;
        let _ = writeln!(
            out,
            "{label}: RSS {:.1} MiB before connecting, {:.1} MiB peak: {per_connection:.1} KiB per connection",
            before as f64 / 1048576.0,
            peak as f64 / 1048576.0,
        );
    }
    let lag = Percentiles::of(&measured.latencies.send_lag).map_or_else(
        || "-".into(),
        |p| format!("p50 {:.2} / p99 {:.2} / max {:.2} ms", p.p50, p.p99, p.max),
    );
    let cpu = measured.generator_cpu_s.map_or_else(|| "-".into(), |s| format!("{s:.2} s"));
    let _ = writeln!(out, "{label}: generator CPU {cpu}, send lag {lag}");
    let (frames, bytes) = measured.other;
    let _ = write!(
        out,
        "{label}: other frames received (presence, diffs, typing): {frames}, {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    out
}

/// `1 server instance`, `3 server instances`.
pub(crate) fn instances(workload: &Workload) -> String {
    match workload.instances() {
        1 => "1 server instance".into(),
        n => format!("{n} server instances"),
    }
}

fn render(workload: &Workload, rows: &[Row], with_baseline: bool) -> String {
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0).max(title.chars().count())
    };
    let (w0, w1) = (width(|r| r.label, ""), width(|r| &r.server, "server"));
    let (w2, w3) = (width(|r| &r.baseline, "baseline"), width(|r| &r.ratio, "ratio"));
    let mut out = format!(
        "{} users in {} rooms on {}, {} msg/s offered for {} s, {} B messages\n\n",
        workload.users,
        workload.rooms,
        instances(workload),
        workload.rate_msgs_per_s,
        workload.duration_s,
        workload.payload_bytes
    );
    if workload.join_storm {
        out.insert_str(out.len() - 1, "every user connects at once (a join storm)\n");
    }
    if with_baseline && workload.durable_baseline {
        out.insert_str(
            out.len() - 1,
            "the baseline commits each batch to PostgreSQL before fan-out\n",
        );
    }
    let line = |out: &mut String, a: &str, b: &str, c: &str, d: &str| {
        let _ = write!(out, "{a:<w0$}  {b:>w1$}");
        if with_baseline {
            let _ = write!(out, "  {c:>w2$}  {d:>w3$}");
        }
        out.push('\n');
    };
    line(&mut out, "", "server", "baseline", "ratio");
    for row in rows {
        line(&mut out, row.label, &row.server, &row.baseline, &row.ratio);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(p99: f64) -> Report {
        let p = Percentiles { p50: 1.0, p90: 2.0, p99, p999: 4.0, max: 5.0 };
        Report {
            connected: 10,
            connect_failures: 0,
            sent: 100,
            acked: 100,
            expected_deliveries: 500,
            delivered: 500,
            lost: 0,
            duplicated: 0,
            reordered: 0,
            errors: 0,
            sent_per_s: 10.0,
            deliveries_per_s: 50.0,
            server_rss_bytes: Some(1 << 20),
            server_cpu_s: Some(0.5),
            connect_ms: Some(p),
            ack_ms: Some(p),
            delivery_ms: Some(p),
            delivery_hgrm: None,
        }
    }

    fn workload() -> Workload {
        Workload {
            url: "http://127.0.0.1:8080".into(),
            also_urls: Vec::new(),
            users: 10,
            rooms: 2,
            rate_msgs_per_s: 10.0,
            duration_s: 10.0,
            payload_bytes: 100,
            drain_s: 5.0,
            durable_baseline: false,
            join_storm: false,
            encrypted: false,
        }
    }

    #[test]
    fn json_has_exactly_the_documented_shape() {
        let (w, server) = (workload(), report(3.0));
        let json = serde_json::to_value(RunOutput {
            workload: &w,
            server: &server,
            baseline: None,
            database: None,
        })
        .unwrap();
        let top: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(top, ["baseline", "database", "server", "workload"]);
        assert!(json["baseline"].is_null());
        let mut fields: Vec<&str> =
            json["server"].as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut documented = vec![
            "connected",
            "connect_failures",
            "sent",
            "acked",
            "expected_deliveries",
            "delivered",
            "lost",
            "duplicated",
            "reordered",
            "errors",
            "sent_per_s",
            "deliveries_per_s",
            "server_rss_bytes",
            "server_cpu_s",
            "connect_ms",
            "ack_ms",
            "delivery_ms",
        ];
        documented.sort_unstable();
        assert_eq!(fields, documented);
        let mut percentiles: Vec<&str> =
            json["server"]["delivery_ms"].as_object().unwrap().keys().map(String::as_str).collect();
        percentiles.sort_unstable();
        assert_eq!(percentiles, ["max", "p50", "p90", "p99", "p999"]);
        assert_eq!(json["server"]["delivery_ms"]["p99"], 3.0);
        assert_eq!(json["server"]["server_rss_bytes"], 1 << 20);
    }

    #[test]
    fn json_carries_the_baseline_and_nulls_for_unknowns() {
        let (w, server, mut baseline) = (workload(), report(3.0), report(2.0));
        baseline.server_cpu_s = None;
        baseline.ack_ms = None;
        let json = serde_json::to_value(RunOutput {
            workload: &w,
            server: &server,
            baseline: Some(&baseline),
            database: None,
        })
        .unwrap();
        assert_eq!(json["baseline"]["delivery_ms"]["p99"], 2.0);
        assert!(json["baseline"]["server_cpu_s"].is_null());
        assert!(json["baseline"]["ack_ms"].is_null());
        assert_eq!(json["workload"]["users"], 10);
        assert_eq!(json["workload"]["url"], "http://127.0.0.1:8080");
        assert_eq!(json["workload"]["also_urls"], serde_json::json!([]));
    }

    #[test]
    fn table_shows_ratios_against_the_baseline() {
        let text = table(&workload(), &report(3.0), Some(&report(2.0)));
        let p99 = text.lines().find(|l| l.starts_with("delivery ms p99 ")).unwrap();
        assert!(p99.ends_with("1.50×"), "{p99}");
        assert!(text.contains("baseline"));
        assert!(text.starts_with("10 users in 2 rooms on 1 server instance, "), "{text}");
        let alone = table(&workload(), &report(3.0), None);
        assert!(!alone.contains("baseline") && !alone.contains('×'));
        let w = Workload { also_urls: vec!["http://127.0.0.1:8081".into()], ..workload() };
        let two = table(&w, &report(3.0), None);
        assert!(two.starts_with("10 users in 2 rooms on 2 server instances, "), "{two}");
    }
}
