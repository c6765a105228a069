//! The process monitor without an async runtime: the blocking API runs the ZooKeeper work on
//! a thread of its own.
//!
//! ```text
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example blocking_monitor
//! ```
//!
//! Environment: `ZOOKEEPER_SERVERS` (default `127.0.0.1:2181`), `ZKSTRUCT_DIR` (default
//! `/zkstruct/process-monitor`) and `ZKSTRUCT_SCANS` (number of scans, default unlimited).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::{Event, Shared, ZkShared};

/// The same state as the async process monitor, so both can share a dir.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct MonitorState {
    patterns: Vec<String>,
    interval_ms: u64,
}

fn main() {
    if let Err(error) = run() {
        eprintln!("blocking_monitor: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), zkstruct::Error> {
    let servers = std::env::var("ZOOKEEPER_SERVERS").unwrap_or_else(|_| "127.0.0.1:2181".to_owned());
    let dir = std::env::var("ZKSTRUCT_DIR").unwrap_or_else(|_| "/zkstruct/process-monitor".to_owned());
    let scans: Option<u64> = std::env::var("ZKSTRUCT_SCANS").ok().and_then(|scans| scans.parse().ok());

    let initial = MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 };
    let state = Shared::builder(&servers, &dir).create_or_open_blocking(initial)?;
    println!("instance {}, watching {:?}", state.instance_id(), state.read()?.patterns);

    // Changes arrive on the handle's own thread while this one scans.
    let _handler = state.on_change(|event| match event {
        Event::Changed(changes) => changes.iter().for_each(|change| println!("change: {change:?}")),
        Event::Failed(error) => println!("payload unusable: {error}"),
        _ => {}
    });

    let mut done = 0;
    while scans.is_none_or(|scans| done < scans) {
        let current = match state.read() {
            Ok(current) => current,
            Err(error) => {
                println!("scan skipped: {error}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let matching = count_matching(&current.patterns);
        println!("scan: {matching} processes match {:?}", current.patterns);
        done += 1;
        std::thread::sleep(Duration::from_millis(current.interval_ms.max(1)));
    }
    state.close()
}

/// Counts the processes whose name matches one of the globs.
fn count_matching(patterns: &[String]) -> usize {
    let patterns: Vec<glob::Pattern> =
        patterns.iter().filter_map(|pattern| glob::Pattern::new(pattern).ok()).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| patterns.iter().any(|pattern| pattern.matches(name.trim_end())))
        .count()
}
