//! The result table: each figure, its floor, their ratio, and the target.

use std::fmt::Write as _;

use crate::scaling::{InstancePoint, PayloadPoint};
use crate::stats::Samples;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    Nanos,
    PerSecond,
    Bytes,
}

/// A measured figure: a latency's median and p99, or a single value.
#[derive(Clone, Copy, Debug)]
pub struct Figure {
    pub median: f64,
    pub p99: Option<f64>,
    pub unit: Unit,
}

impl Figure {
    pub fn latency(samples: &Samples) -> Self {
        Figure { median: samples.median(), p99: Some(samples.p99()), unit: Unit::Nanos }
    }

    /// Returns the median of rates, one per round.
    pub fn rate(rates: &Samples) -> Self {
        Figure { median: rates.median(), p99: None, unit: Unit::PerSecond }
    }

    pub fn bytes(bytes: f64) -> Self {
        Figure { median: bytes, p99: None, unit: Unit::Bytes }
    }
}

/// A limit on a ratio against the floor.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
}

impl Bound {
    fn holds(self, ratio: f64) -> bool {
        match self {
            Bound::AtMost(limit) => ratio <= limit,
            Bound::AtLeast(limit) => ratio >= limit,
        }
    }

    fn describe(self) -> String {
        match self {
            Bound::AtMost(limit) => format!("≤ {limit}×"),
            Bound::AtLeast(limit) => format!("≥ {limit}×"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub median: Bound,
    pub p99: Option<Bound>,
}

impl Target {
    pub fn median(bound: Bound) -> Self {
        Target { median: bound, p99: None }
    }

    pub fn median_and_p99(median: Bound, p99: Bound) -> Self {
        Target { median, p99: Some(p99) }
    }
}

/// One measure against its floor.
pub struct Row {
    pub measure: String,
    pub value: Figure,
    pub floor_name: String,
    pub floor: Figure,
    pub target: Option<Target>,
}

impl Row {
    pub fn new(
        measure: &str,
        value: &Samples,
        floor_name: &str,
        floor: &Samples,
        target: Option<Target>,
    ) -> Self {
        Row::new_figures(measure, Figure::latency(value), floor_name, Figure::latency(floor), target)
    }

    pub fn new_figures(
        measure: &str,
        value: Figure,
        floor_name: &str,
        floor: Figure,
        target: Option<Target>,
    ) -> Self {
        Row { measure: measure.to_owned(), value, floor_name: floor_name.to_owned(), floor, target }
    }

    fn median_ratio(&self) -> f64 {
        self.value.median / self.floor.median
    }

    fn p99_ratio(&self) -> Option<f64> {
        Some(self.value.p99? / self.floor.p99?)
    }

    /// Returns "met" or "missed" with the figures that decide it, or "—" without a target.
    fn verdict(&self) -> String {
        let Some(target) = self.target else { return "—".to_owned() };
        let mut met = target.median.holds(self.median_ratio());
        if let (Some(bound), Some(ratio)) = (target.p99, self.p99_ratio()) {
            met &= bound.holds(ratio);
        }
        if met { "met" } else { "**missed**" }.to_owned()
    }

    fn target_text(&self) -> String {
        match self.target {
            None => "—".to_owned(),
            Some(Target { median, p99: None }) => format!("median {}", median.describe()),
            Some(Target { median, p99: Some(p99) }) => {
                format!("median {}, p99 {}", median.describe(), p99.describe())
            }
        }
    }

    pub fn is_missed(&self) -> bool {
        self.verdict().contains("missed")
    }
}

/// Everything one run measured.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub floors: Vec<(String, Figure)>,
    pub payloads: Vec<PayloadPoint>,
    pub instances: Vec<InstancePoint>,
    pub notes: Vec<String>,
}

impl Report {
    /// Renders the report as Markdown, under a heading that names the run.
    pub fn to_markdown(&self, heading: &str) -> String {
        let mut text = format!("{heading}\n\n");
        text.push_str("| measure | median | p99 | floor | floor median | floor p99 | ratio median | ratio p99 | target | result |\n");
        text.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for row in &self.rows {
            let ratio_p99 = row.p99_ratio().map_or("—".to_owned(), format_ratio);
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.measure,
                format_value(row.value.median, row.value.unit),
                row.value.p99.map_or("—".to_owned(), |p99| format_value(p99, row.value.unit)),
                row.floor_name,
                format_value(row.floor.median, row.floor.unit),
                row.floor.p99.map_or("—".to_owned(), |p99| format_value(p99, row.floor.unit)),
                format_ratio(row.median_ratio()),
                ratio_p99,
                row.target_text(),
                row.verdict(),
            );
        }

        text.push_str("\nFloors measured in this run:\n\n| floor | median | p99 |\n| --- | --- | --- |\n");
        for (name, figure) in &self.floors {
            let p99 = figure.p99.map_or("—".to_owned(), |p99| format_value(p99, figure.unit));
            let _ = writeln!(text, "| {name} | {} | {p99} |", format_value(figure.median, figure.unit));
        }

        if !self.payloads.is_empty() {
            text.push_str(
                "\nBy payload size (medians, p99 in brackets):\n\n\
                 | payload | `update()` | raw set | ratio | commit → typed event | raw set → watch → get | ratio |\n\
                 | --- | --- | --- | --- | --- | --- | --- |\n",
            );
            for point in &self.payloads {
                let _ = writeln!(
                    text,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    format_value(point.bytes as f64, Unit::Bytes),
                    format_latency(&point.update),
                    format_latency(&point.raw_set),
                    format_ratio(point.update.median() / point.raw_set.median()),
                    format_latency(&point.commit_to_event),
                    format_latency(&point.watch_to_data),
                    format_ratio(point.commit_to_event.median() / point.watch_to_data.median()),
                );
            }
        }

        if !self.instances.is_empty() {
            text.push_str(
                "\nBy number of handles on one dir (medians, p99 in brackets):\n\n\
                 | handles | `update()` | raw set | commit → first has it | commit → all have it | all / first |\n\
                 | --- | --- | --- | --- | --- | --- |\n",
            );
            for point in &self.instances {
                let _ = writeln!(
                    text,
                    "| {} | {} | {} | {} | {} | {} |",
                    point.count,
                    format_latency(&point.update),
                    format_latency(&point.raw_set),
                    format_latency(&point.first),
                    format_latency(&point.all),
                    format_ratio(point.all.median() / point.first.median()),
                );
            }
        }

        if !self.notes.is_empty() {
            text.push('\n');
            for note in &self.notes {
                let _ = writeln!(text, "- {note}");
            }
        }
        text
    }
}

fn format_ratio(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

fn format_latency(samples: &Samples) -> String {
    format!("{} ({})", format_value(samples.median(), Unit::Nanos), format_value(samples.p99(), Unit::Nanos))
}

pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Nanos if value < 1e3 => format!("{value:.1} ns"),
        Unit::Nanos if value < 1e6 => format!("{:.1} µs", value / 1e3),
        Unit::Nanos => format!("{:.2} ms", value / 1e6),
        Unit::PerSecond => format!("{value:.0}/s"),
        Unit::Bytes if value < 1024.0 => format!("{value:.0} B"),
        Unit::Bytes if value < 1024.0 * 1024.0 => format!("{:.1} KiB", value / 1024.0),
        Unit::Bytes => format!("{:.2} MiB", value / (1024.0 * 1024.0)),
    }
}
