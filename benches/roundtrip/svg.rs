//! A plain SVG line chart with logarithmic axes, one panel per scaling dimension.

use std::fmt::Write as _;

use crate::report::Report;

const PANEL_WIDTH: f64 = 540.0;
const PANEL_HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

struct Series {
    label: &'static str,
    color: &'static str,
    dashed: bool,
    /// (x, latency in nanoseconds)
    points: Vec<(f64, f64)>,
}

struct Panel {
    title: &'static str,
    x_label: &'static str,
    /// Tick positions and their labels.
    x_ticks: Vec<(f64, String)>,
    series: Vec<Series>,
}

/// Renders the scaling results of `report` as an SVG document: median latencies by payload
/// size, and by number of handles on one dir.
pub fn render(report: &Report) -> String {
    let payload = &report.payloads;
    let instances = &report.instances;
    let by_bytes = |select: fn(&crate::scaling::PayloadPoint) -> f64| {
        payload.iter().map(|point| (point.bytes as f64, select(point))).collect()
    };
    let by_count = |select: fn(&crate::scaling::InstancePoint) -> f64| {
        instances.iter().map(|point| (point.count as f64, select(point))).collect()
    };
    let panels = [
        Panel {
            title: "Median latency by payload size",
            x_label: "encoded payload (log scale)",
            x_ticks: payload.iter().map(|point| (point.bytes as f64, format_kib(point.bytes))).collect(),
            series: vec![
                Series {
                    label: "update()",
                    color: "#1f77b4",
                    dashed: false,
                    points: by_bytes(|p| p.update.median()),
                },
                Series {
                    label: "raw set with version",
                    color: "#1f77b4",
                    dashed: true,
                    points: by_bytes(|p| p.raw_set.median()),
                },
                Series {
                    label: "commit → typed event",
                    color: "#d62728",
                    dashed: false,
                    points: by_bytes(|p| p.commit_to_event.median()),
                },
                Series {
                    label: "raw set → watch → get",
                    color: "#d62728",
                    dashed: true,
                    points: by_bytes(|p| p.watch_to_data.median()),
                },
            ],
        },
        Panel {
            title: "Median latency by handles on one dir",
            x_label: "handles, one session each (log scale)",
            x_ticks: instances.iter().map(|point| (point.count as f64, point.count.to_string())).collect(),
            series: vec![
                Series {
                    label: "update()",
                    color: "#1f77b4",
                    dashed: false,
                    points: by_count(|p| p.update.median()),
                },
                Series {
                    label: "raw set with version",
                    color: "#1f77b4",
                    dashed: true,
                    points: by_count(|p| p.raw_set.median()),
                },
                Series {
                    label: "commit → first handle",
                    color: "#2ca02c",
                    dashed: false,
                    points: by_count(|p| p.first.median()),
                },
                Series {
                    label: "commit → all handles",
                    color: "#d62728",
                    dashed: false,
                    points: by_count(|p| p.all.median()),
                },
            ],
        },
    ];

    let width = PANEL_WIDTH * panels.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{PANEL_HEIGHT}\" \
         viewBox=\"0 0 {width} {PANEL_HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (index, panel) in panels.iter().enumerate() {
        render_panel(&mut svg, panel, index as f64 * PANEL_WIDTH);
    }
    svg.push_str("</svg>\n");
    svg
}

/// Maps values onto pixels on a logarithmic scale.
struct LogScale {
    low: f64,
    high: f64,
    start: f64,
    end: f64,
}

impl LogScale {
    fn position(&self, value: f64) -> f64 {
        let fraction = (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10());
        self.start + fraction * (self.end - self.start)
    }
}

fn render_panel(svg: &mut String, panel: &Panel, offset: f64) {
    let values = || panel.series.iter().flat_map(|series| series.points.iter()).filter(|(_, y)| *y > 0.0);
    let Some(x_low) = values().map(|(x, _)| *x).reduce(f64::min) else { return };
    let x_high = values().map(|(x, _)| *x).fold(x_low, f64::max);
    let y_low = values().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
    let y_high = values().map(|(_, y)| *y).fold(y_low, f64::max);
    let y_ticks = decade_ticks(y_low, y_high);
    let (plot_left, plot_right) = (offset + LEFT, offset + PANEL_WIDTH - RIGHT);
    let (plot_top, plot_bottom) = (TOP, PANEL_HEIGHT - BOTTOM);
    let x_scale = LogScale { low: x_low / 1.2, high: x_high * 1.2, start: plot_left, end: plot_right };
    let y_scale = LogScale {
        low: y_ticks.first().copied().unwrap_or(y_low),
        high: y_ticks.last().copied().unwrap_or(y_high),
        start: plot_bottom,
        end: plot_top,
    };

    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
        (plot_left + plot_right) / 2.0,
        escape(panel.title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{plot_left}\" y=\"{plot_top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>",
        plot_right - plot_left,
        plot_bottom - plot_top
    );
    for &tick in &y_ticks {
        let y = y_scale.position(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{plot_left}\" y1=\"{y:.1}\" x2=\"{plot_right}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            plot_left - 6.0,
            y + 4.0,
            escape(&format_tick(tick))
        );
    }
    let mut last_label_x = f64::NEG_INFINITY;
    for (tick, label) in &panel.x_ticks {
        let x = x_scale.position(*tick);
        // A label closer than this to the previous one would overlap it.
        if x - last_label_x < 45.0 {
            continue;
        }
        last_label_x = x;
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{plot_top}\" x2=\"{x:.1}\" y2=\"{plot_bottom}\" stroke=\"#eee\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            plot_bottom + 16.0,
            escape(label)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (plot_left + plot_right) / 2.0,
        PANEL_HEIGHT - 18.0,
        escape(panel.x_label)
    );
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 {x:.1} {y:.1})\">latency (log scale)</text>",
        x = offset + 16.0,
        y = (plot_top + plot_bottom) / 2.0
    );

    for (index, series) in panel.series.iter().enumerate() {
        let points: Vec<String> = series
            .points
            .iter()
            .filter(|(_, y)| *y > 0.0)
            .map(|(x, y)| format!("{:.1},{:.1}", x_scale.position(*x), y_scale.position(*y)))
            .collect();
        let dash = if series.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
            points.join(" "),
            series.color
        );
        for point in &points {
            let (x, y) = point.split_once(',').unwrap_or_default();
            let _ = writeln!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{}\"/>", series.color);
        }
        let legend_y = plot_top + 16.0 + index as f64 * 16.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{legend_y:.1}\" x2=\"{:.1}\" y2=\"{legend_y:.1}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            plot_left + 10.0,
            plot_left + 36.0,
            series.color,
            plot_left + 42.0,
            legend_y + 4.0,
            escape(series.label)
        );
    }
}

/// Returns the ticks at 1, 2 and 5 times the powers of ten, from the last one at or below
/// `low` to the first one at or above `high`.
fn decade_ticks(low: f64, high: f64) -> Vec<f64> {
    let mut candidates = Vec::new();
    let mut decade = 10f64.powf(low.log10().floor());
    while decade <= high * 10.0 {
        candidates.extend([1.0, 2.0, 5.0].map(|step| decade * step));
        decade *= 10.0;
    }
    let first = candidates.iter().rposition(|tick| *tick <= low).unwrap_or(0);
    let last = candidates.iter().position(|tick| *tick >= high).unwrap_or(candidates.len() - 1);
    candidates[first..=last].to_vec()
}

/// Formats a payload size in whole KiB, as the sizes the bench aims for.
fn format_kib(bytes: usize) -> String {
    format!("{} KiB", (bytes as f64 / 1024.0).round())
}

/// Formats a latency tick without trailing zeros, such as `500 µs` or `2 ms`.
fn format_tick(nanos: f64) -> String {
    let (value, unit) = match nanos {
        n if n >= 1e6 => (n / 1e6, "ms"),
        n if n >= 1e3 => (n / 1e3, "µs"),
        n => (n, "ns"),
    };
    format!("{} {unit}", (value * 100.0).round() / 100.0)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
