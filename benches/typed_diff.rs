//! The typed diff against a diff of two `serde_json::Value` documents, on a state shaped like
//! the process monitor's: 1,000 patterns, a 100-entry map of structs and a few scalars, where
//! one pattern and one map entry change.
//!
//! Run with `cargo bench -p zkstruct --bench typed_diff`. Besides criterion's report, it
//! prints the ratio of the two medians measured in this run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::Criterion;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zkstruct::{Diff, ZkShared};

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HostSettings {
    pub port: u16,
    pub max_connections: u32,
    pub tags: Vec<String>,
    pub enabled: bool,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub hosts: BTreeMap<String, HostSettings>,
    pub interval_ms: u64,
    pub owner: String,
    pub paused: bool,
}

fn states() -> (MonitorState, MonitorState) {
    let patterns = (0..1000).map(|index| format!("process-{index:04}*")).collect();
    let hosts = (0..100)
        .map(|index| {
            let settings = HostSettings {
                port: 8000 + index,
                max_connections: 100,
                tags: vec!["prod".into(), format!("rack-{}", index % 8)],
                enabled: true,
            };
            (format!("host-{index:03}"), settings)
        })
        .collect();
    let old = MonitorState { patterns, hosts, interval_ms: 1000, owner: "sre".into(), paused: false };
    let mut new = old.clone();
    new.patterns[500] = "firefox*".into();
    new.hosts.get_mut("host-042").unwrap().port = 9042;
    (old, new)
}

/// Lists the JSON Pointers at which two documents differ, as a JSON-based diff would.
fn json_diff(old: &Value, new: &Value, pointer: &mut String, changed: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, old_value) in old {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(key);
                match new.get(key) {
                    Some(new_value) => json_diff(old_value, new_value, pointer, changed),
                    None => changed.push(pointer.clone()),
                }
                pointer.truncate(length);
            }
            for key in new.keys().filter(|key| !old.contains_key(*key)) {
                changed.push(format!("{pointer}/{key}"));
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for index in 0..old.len().max(new.len()) {
                let length = pointer.len();
                pointer.push_str(&format!("/{index}"));
                match (old.get(index), new.get(index)) {
                    (Some(old), Some(new)) => json_diff(old, new, pointer, changed),
                    _ => changed.push(pointer.clone()),
                }
                pointer.truncate(length);
            }
        }
        (old, new) if old != new => changed.push(pointer.clone()),
        _ => {}
    }
}

fn json_changes(old: &MonitorState, new: &MonitorState) -> Vec<String> {
    let old = serde_json::to_value(old).unwrap();
    let new = serde_json::to_value(new).unwrap();
    let mut changed = Vec::new();
    json_diff(&old, &new, &mut String::new(), &mut changed);
    changed
}

fn median_nanos(directory: &Path, group: &str, name: &str) -> Option<f64> {
    let path = directory.join(group).join(name).join("new").join("estimates.json");
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn main() {
    let (old, new) = states();
    assert_eq!(MonitorState::changes(&old, &new).len(), 2);
    assert_eq!(json_changes(&old, &new), ["/hosts/host-042/port", "/patterns/500"]);

    let directory = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    let mut criterion = Criterion::default().output_directory(&directory).configure_from_args();
    let mut group = criterion.benchmark_group("diff");
    group.bench_function("typed", |bencher| {
        bencher.iter(|| MonitorState::changes(black_box(&old), black_box(&new)))
    });
    group.bench_function("json", |bencher| bencher.iter(|| json_changes(black_box(&old), black_box(&new))));
    group.finish();
    criterion.final_summary();

    if let (Some(typed), Some(json)) =
        (median_nanos(&directory, "diff", "typed"), median_nanos(&directory, "diff", "json"))
    {
        println!(
            "typed diff median {:.1} µs, JSON diff median {:.1} µs: the typed diff is {:.1} times faster",
            typed / 1000.0,
            json / 1000.0,
            json / typed
        );
    }
}
