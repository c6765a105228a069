//! A process monitor whose watch list lives in ZooKeeper.
//!
//! Every `interval_ms` it scans `/proc` and prints the processes whose names match any
//! glob in `patterns`. Any instance of this program, or any other ZooKeeper client, can
//! change the list while it runs. Each change arrives as a typed event and is printed.
//!
//! ```text
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example process_monitor
//! zkCli.sh -server 127.0.0.1:2181 set /zkstruct/process-monitor/payload \
//!     '{"patterns":["systemd*","rsync*","firefox*"],"interval_ms":500}'
//! ```
//!
//! Environment: `ZOOKEEPER_SERVERS` (connect string, default `127.0.0.1:2181`),
//! `ZKSTRUCT_DIR` (default `/zkstruct/process-monitor`) and `RUST_LOG` (log filter).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::{Event, Modified, Shared, VecChange, ZkShared};

/// The monitor's shared state. Its payload is `{"patterns": [...], "interval_ms": ...}`.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct MonitorState {
    /// Globs of process names to watch.
    patterns: Vec<String>,
    /// Time between two scans of `/proc`, in milliseconds.
    interval_ms: u64,
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("process_monitor: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), zkstruct::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "zkstruct_core=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let servers = std::env::var("ZOOKEEPER_SERVERS").unwrap_or_else(|_| "127.0.0.1:2181".to_owned());
    let dir = std::env::var("ZKSTRUCT_DIR").unwrap_or_else(|_| "/zkstruct/process-monitor".to_owned());

    let initial = MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 };
    let state = Shared::builder(&servers, &dir).create_or_open(initial).await?;
    let mut changes = state.subscribe();
    let current = state.read()?;
    println!(
        "instance {}, dir {dir} on {servers}, payload version {}",
        state.instance_id(),
        current.version().version()
    );
    println!("watching {:?} every {} ms", current.patterns, current.interval_ms);

    let mut ticker = tokio::time::interval(Duration::from_millis(current.interval_ms.max(1)));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = ticker.tick() => scan(&state),
            event = changes.recv() => match event {
                Some(Event::Changed(change_set)) => {
                    if change_set.is_empty() {
                        println!("payload usable again at version {}", change_set.version().version());
                    }
                    for change in &change_set {
                        println!("change ({:?}, version {}): {}", change_set.origin(), change_set.version().version(), describe(change));
                        if let MonitorStateChange::IntervalMs(Modified { new, .. }) = change {
                            ticker = tokio::time::interval(Duration::from_millis((*new).max(1)));
                        }
                    }
                }
                Some(Event::Failed(error)) => println!("payload unusable, keeping the last good state: {error}"),
                Some(Event::Lagged(missed)) => println!("missed {missed} events; the local copy is current"),
                Some(_) => {}
                None => break,
            },
        }
    }
    state.close().await?;
    Ok(())
}

/// Describes one typed change in words.
fn describe(change: &MonitorStateChange) -> String {
    match change {
        MonitorStateChange::Patterns(VecChange::Added { index, value }) => {
            format!("pattern {value:?} added at index {index}")
        }
        MonitorStateChange::Patterns(VecChange::Removed { index, value }) => {
            format!("pattern {value:?} removed from index {index}")
        }
        MonitorStateChange::Patterns(VecChange::Modified { index, change: Modified { old, new } }) => {
            format!("pattern at index {index} changed from {old:?} to {new:?}")
        }
        MonitorStateChange::IntervalMs(Modified { old, new }) => {
            format!("interval changed from {old} ms to {new} ms")
        }
    }
}

/// Prints the processes whose names match the current patterns.
fn scan(state: &Shared<MonitorState>) {
    let current = match state.read() {
        Ok(current) => current,
        Err(error) => {
            println!("scan skipped: {error}");
            return;
        }
    };
    let patterns: Vec<glob::Pattern> = current
        .patterns
        .iter()
        .filter_map(|pattern| match glob::Pattern::new(pattern) {
            Ok(pattern) => Some(pattern),
            Err(error) => {
                println!("pattern {pattern:?} ignored: {error}");
                None
            }
        })
        .collect();

    let mut matches = Vec::new();
    for (pid, name) in processes() {
        if patterns.iter().any(|pattern| pattern.matches(&name)) {
            matches.push(format!("{name}({pid})"));
        }
    }
    println!("scan: {} matching: {}", matches.len(), matches.join(" "));
}

/// Lists `(pid, name)` of the running processes, from `/proc/<pid>/comm`.
fn processes() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut processes: Vec<(u32, String)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            Some((pid, name.trim_end().to_owned()))
        })
        .collect();
    processes.sort_unstable();
    processes
}
