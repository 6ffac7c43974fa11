//! A latency-by-percentile plot as plain SVG (no plotting crate).
//!
//! The x axis counts nines (0 → 0%, 1 → 90%, 2 → 99%, … 5 → 99.999%), so
//! the tail gets as much room as the median, as HdrHistogram plots do; the y
//! axis is milliseconds, linear from 0.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// The rightmost percentile shown: 99.999%.
const MAX_NINES: f64 = 5.0;

/// One line of the plot.
pub(crate) struct Curve<'a> {
    /// The legend text.
    pub(crate) label: &'a str,
    /// An SVG color.
    pub(crate) color: &'a str,
    /// Drawn dashed (acknowledgements), so the delivery line under it shows.
    pub(crate) dashed: bool,
    /// µs samples.
    pub(crate) histogram: &'a Histogram<u64>,
}

/// `(nines, ms)` points of a histogram's percentile curve.
fn points(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<(f64, f64)> = histogram
        .iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let nines = if q >= 1.0 { MAX_NINES } else { (-(1.0 - q).log10()).min(MAX_NINES) };
            (nines, v.value_iterated_to() as f64 / 1000.0)
        })
        .collect();
    points.push((MAX_NINES, histogram.max() as f64 / 1000.0));
    points
}

/// A round axis top at or above `max`.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&top| top >= max)
        .unwrap_or(10.0 * magnitude)
}

/// The SVG document.
pub(crate) fn svg(title: &str, curves: &[Curve<'_>]) -> String {
    let lines: Vec<Vec<(f64, f64)>> = curves.iter().map(|c| points(c.histogram)).collect();
    let y_max = nice_ceiling(lines.iter().flatten().map(|&(_, ms)| ms).fold(0.0, f64::max));
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |nines: f64| LEFT + nines / MAX_NINES * plot_w;
    let y = |ms: f64| TOP + plot_h - ms / y_max * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"].iter().enumerate() {
        let px = x(i as f64);
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            out,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            TOP + plot_h + 18.0
        );
    }
    for i in 0..=5 {
        let ms = y_max * f64::from(i) / 5.0;
        let py = y(ms);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{ms}</text>"#,
            LEFT - 6.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">latency, ms</text>"#,
        TOP + plot_h / 2.0
    );
    for (i, (curve, line)) in curves.iter().zip(&lines).enumerate() {
        let dash = if curve.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let mut path = String::new();
        for &(nines, ms) in line {
            let _ = write!(path, "{:.1},{:.1} ", x(nines), y(ms));
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            curve.color,
            path.trim_end()
        );
        let ly = TOP + 16.0 + 18.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"{dash}/>"#,
            LEFT + 12.0,
            LEFT + 36.0,
            curve.color
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + 42.0,
            ly + 4.0,
            escape(curve.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::latency_histogram;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(230.0), 250.0);
    }

    #[test]
    fn curve_rises_to_the_max_at_the_right_edge() {
        let mut histogram = latency_histogram();
        for us in 1..=10_000 {
            histogram.record(us).unwrap();
        }
        let points = points(&histogram);
        assert!(points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(points.last().copied(), Some((MAX_NINES, histogram.max() as f64 / 1000.0)));
    }

    #[test]
    fn svg_has_one_polyline_per_curve_and_escapes_text() {
        let mut histogram = latency_histogram();
        histogram.record(1500).unwrap();
        let empty = latency_histogram();
        let curves = [
            Curve { label: "a<b", color: "red", dashed: false, histogram: &histogram },
            Curve { label: "empty", color: "blue", dashed: true, histogram: &empty },
        ];
        let svg = svg("t & t", &curves);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b") && svg.contains("t &amp; t"));
    }
}
