//! zkstruct's operations against the raw ZooKeeper calls they need at minimum, in one run
//! against a ZooKeeper server that the bench starts on loopback.
//!
//! Run with `cargo bench -p zkstruct --bench roundtrip`; set `ZKSTRUCT_BENCH_QUICK=1` for
//! a run with a tenth of the iterations. It prints a table of medians and p99s with each
//! figure's ratio to its floor, and writes it with a plot to `target/bench-report/`
//! (`table.md`, `scaling.svg`). BENCHMARKS.md describes what each row measures.
//!
//! `ZKSTRUCT_BENCH_ONLY` runs only the named sections, comma-separated (see [`SECTIONS`]),
//! and writes nothing; it serves profiling.
//!
//! Under `cargo test` (no `--bench` argument) it runs every measurement a few times as a
//! smoke test, skips the peers and writes nothing.

mod library;
mod memory;
mod peers;
mod raw;
mod reads;
mod report;
mod scaling;
mod state;
mod stats;
mod svg;
mod writes;

use std::path::PathBuf;
use std::time::Instant;

use zkstruct::testing::ZkServer;
use zookeeper_client::Client;

use crate::report::Report;
use crate::state::BenchState;
use crate::stats::Batches;
use crate::writes::PeerFloors;

#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

/// The server's `jute.maxbuffer`: room for the largest payload plus the request around it.
const JUTE_MAX_BUFFER: usize = 4 << 20;
/// The dir under which the bench keeps every node.
const ROOT: &str = "/zkstruct-bench";

/// The sections of a run, in the order they run.
const SECTIONS: [&str; 8] =
    ["reads", "round-trips", "propagation", "contention", "large", "instances", "payloads", "peers"];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Full,
    Quick,
    /// A few iterations of everything, under `cargo test`.
    Smoke,
}

/// Iteration counts of one run.
pub struct Plan {
    pub mode: Mode,
    /// Untimed rounds before each paired measurement.
    pub warmup: usize,
    pub round_trips: usize,
    pub propagations: usize,
    pub batches: Batches,
    pub writers: usize,
    pub updates_per_writer: usize,
    pub contention_rounds: usize,
    pub large_updates: usize,
    pub memory_updates: usize,
    /// Target payload sizes in bytes.
    pub payload_sizes: Vec<usize>,
    pub payload_round_trips: usize,
    pub instance_counts: Vec<usize>,
    pub instance_rounds: usize,
    pub peer_iterations: usize,
    /// The sections to run, from `ZKSTRUCT_BENCH_ONLY`; `None` runs all of them.
    pub only: Option<Vec<String>>,
}

impl Plan {
    fn new(mode: Mode) -> Self {
        const KIB: usize = 1024;
        let payload_sizes = vec![KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 512 * KIB, 900 * KIB];
        let instance_counts = vec![1, 2, 5, 10, 20, 50, 100];
        match mode {
            Mode::Full => Plan {
                mode,
                warmup: 300,
                round_trips: 5000,
                propagations: 3000,
                batches: Batches { count: 2000, calls: 1000 },
                writers: 8,
                updates_per_writer: 250,
                contention_rounds: 5,
                large_updates: 500,
                memory_updates: 20,
                payload_sizes,
                payload_round_trips: 200,
                instance_counts,
                instance_rounds: 200,
                peer_iterations: 2000,
                only: None,
            },
            Mode::Quick => Plan {
                mode,
                warmup: 50,
                round_trips: 500,
                propagations: 300,
                batches: Batches { count: 200, calls: 1000 },
                writers: 8,
                updates_per_writer: 25,
                contention_rounds: 2,
                large_updates: 50,
                memory_updates: 5,
                payload_sizes,
                payload_round_trips: 20,
                instance_counts,
                instance_rounds: 20,
                peer_iterations: 200,
                only: None,
            },
            Mode::Smoke => Plan {
                mode,
                warmup: 1,
                round_trips: 3,
                propagations: 3,
                batches: Batches { count: 3, calls: 100 },
                writers: 8,
                updates_per_writer: 2,
                contention_rounds: 1,
                large_updates: 2,
                memory_updates: 1,
                payload_sizes: vec![KIB, 64 * KIB],
                payload_round_trips: 2,
                instance_counts: vec![1, 3],
                instance_rounds: 2,
                peer_iterations: 0,
                only: None,
            },
        }
    }

    /// Picks the mode: `cargo bench` passes `--bench`, `cargo test` does not.
    fn from_environment() -> Self {
        let benching = std::env::args().any(|argument| argument == "--bench");
        let quick =
            std::env::var("ZKSTRUCT_BENCH_QUICK").is_ok_and(|value| !value.is_empty() && value != "0");
        let mut plan = Plan::new(match (benching, quick) {
            (false, _) => Mode::Smoke,
            (true, true) => Mode::Quick,
            (true, false) => Mode::Full,
        });
        if let Ok(only) = std::env::var("ZKSTRUCT_BENCH_ONLY") {
            let names: Vec<String> = only.split(',').map(|name| name.trim().to_owned()).collect();
            if let Some(unknown) = names.iter().find(|name| !SECTIONS.contains(&name.as_str())) {
                panic!(
                    "ZKSTRUCT_BENCH_ONLY names the unknown section {unknown:?}; valid names: {}",
                    SECTIONS.join(", ")
                );
            }
            plan.only = Some(names);
        }
        plan
    }

    /// Returns `true` if the run includes the section `name`.
    fn runs(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|section| section == name))
    }
}

/// The state every measurement shares: the server, two raw sessions and the plan.
pub struct Bench {
    pub servers: String,
    pub root: String,
    /// The raw session that writes: session A of the floors.
    pub writer: Client,
    /// A second raw session, which follows what `writer` writes.
    pub reader: Client,
    pub plan: Plan,
    /// An empty node that [`Bench::dilute_commit_log`] writes to.
    filler: String,
}

impl Bench {
    /// Writes the filler node enough times after a write of `payload_bytes` that the
    /// server's in-memory log of committed requests stays within its heap.
    ///
    /// A ZooKeeper 3.8 server keeps its last 500 committed requests in memory, payloads
    /// included (`zookeeper.commitLogCount`, which it raises to 500 when set lower). The
    /// test launcher starts the JVM with `-Xmx256m`, so 500 writes of 512 KiB exhaust the
    /// heap and the server stops serving. These writes are not timed.
    pub async fn dilute_commit_log(&self, payload_bytes: usize) {
        const COMMIT_LOG_COUNT: usize = 500;
        // NOTE: the budget is an estimate. Each request in that log keeps a few copies of its
        // payload, such as the request and its serialized transaction. With this budget the
        // old generation of a quick run stayed below 140 MiB.
        const BUDGET_BYTES: usize = 24 << 20;
        let fillers = (COMMIT_LOG_COUNT * payload_bytes).div_ceil(BUDGET_BYTES).saturating_sub(1);
        for _ in 0..fillers {
            let written = self.writer.set_data(&self.filler, &[], None).await;
            written.unwrap_or_else(|error| panic!("set_data {} failed: {error}", self.filler));
        }
    }
}

/// Returns the Cargo target dir: `CARGO_TARGET_DIR`, or `target/` of the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn main() {
    // `RUST_LOG` sends the logs of zkstruct and zookeeper-client to standard error.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let plan = Plan::from_environment();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime starts");
    let started = Instant::now();
    runtime.block_on(run(plan));
    println!("\nfinished in {:.0} s", started.elapsed().as_secs_f64());
}

async fn run(plan: Plan) {
    let mode = plan.mode;
    println!("roundtrip bench, {mode:?} mode: starting ZooKeeper on loopback");
    let server = ZkServer::builder()
        .property("jute.maxbuffer", JUTE_MAX_BUFFER.to_string())
        .start()
        .await
        .unwrap_or_else(|error| panic!("ZooKeeper did not start: {error}"));
    let servers = server.connect_string();
    let writer = raw::connect(&servers).await;
    let filler = format!("{ROOT}/filler");
    raw::put_node(&writer, &filler, &[]).await;
    let bench =
        Bench { writer, filler, reader: raw::connect(&servers).await, servers, root: ROOT.to_owned(), plan };
    let mut report = Report::default();

    warm_up(&bench).await;

    let plan = &bench.plan;
    let (mut raw_set, mut watch_to_data) = (None, None);
    if plan.runs("reads") || plan.runs("round-trips") {
        println!("local reads and round trips");
        let shared = library::open(&bench.servers, &format!("{ROOT}/update"), BenchState::small()).await;
        if plan.runs("reads") {
            reads::measure(&shared, plan.batches, &mut report).await;
        }
        if plan.runs("round-trips") {
            raw_set = Some(writes::measure_round_trips(&bench, &shared, &mut report).await);
        }
        writes::close(&shared).await;
    }
    if plan.runs("propagation") {
        println!("propagation");
        watch_to_data = Some(writes::measure_propagation(&bench, &mut report).await);
    }
    if plan.runs("contention") {
        println!("{} contending writers", plan.writers);
        writes::measure_contention(&bench, &mut report).await;
    }
    if plan.runs("large") {
        println!("large payload");
        writes::measure_large_payload(&bench, &mut report).await;
    }
    if plan.runs("instances") {
        println!("scaling by number of handles");
        report.instances = scaling::measure_instances(&bench).await;
        add_fan_out_row(&mut report);
    }
    if plan.runs("payloads") {
        println!("scaling by payload size");
        report.payloads = scaling::measure_payloads(&bench).await;
    }
    if plan.runs("peers") {
        match (mode, raw_set, watch_to_data) {
            (Mode::Smoke, ..) => report.notes.push("Peers skipped in the smoke run.".to_owned()),
            (_, Some(raw_set), Some(watch_to_data)) => {
                println!("peers");
                peers::measure(&bench, &PeerFloors { watch_to_data, raw_set }, &mut report);
            }
            _ => report
                .notes
                .push("Peers skipped: they need the round-trips and propagation floors.".to_owned()),
        }
    }

    let heading = format!(
        "Run of {} ({mode:?} mode) on {}; ZooKeeper {} standalone on loopback.",
        utc_date(),
        describe_machine(),
        zookeeper_version()
    );
    let table = report.to_markdown(&heading);
    let plot = svg::render(&report);
    println!("\n{table}");
    if mode != Mode::Smoke && bench.plan.only.is_none() {
        let directory = target_dir().join("bench-report");
        std::fs::create_dir_all(&directory).expect("the report dir can be created");
        std::fs::write(directory.join("table.md"), &table).expect("table.md can be written");
        std::fs::write(directory.join("scaling.svg"), &plot).expect("scaling.svg can be written");
        println!("wrote {} and scaling.svg", directory.join("table.md").display());
    }
    let missed = report.rows.iter().filter(|row| row.is_missed()).count();
    println!("{missed} targets missed");
    drop(server);
}

/// Runs untimed reads and writes, so the server's JIT compiles its request path first.
async fn warm_up(bench: &Bench) {
    let path = format!("{}/warm-up", bench.root);
    let data = BenchState::small().encode();
    let mut node = raw::VersionedNode::create(&bench.writer, path.clone(), &data).await;
    for _ in 0..bench.plan.warmup * 4 {
        node.set(&bench.writer, &data).await;
        raw::get(&bench.writer, &path).await;
    }
}

/// Adds the row of the largest number of handles: time until all have a change against
/// the time until the first has it.
fn add_fan_out_row(report: &mut Report) {
    let Some(point) = report.instances.iter().max_by_key(|point| point.count) else { return };
    let row = report::Row::new(
        &format!("{} handles on one dir: commit → all have the typed change", point.count),
        &point.all,
        "commit → first handle has it",
        &point.first,
        Some(report::Target::median(report::Bound::AtMost(2.0))),
    );
    report.rows.push(row);
    let retries: u64 = report.instances.iter().map(|point| point.retries).sum();
    report.notes.push(format!(
        "Scaling by handles: the first handle's updates retried {retries} times after `Error::StaleWrite` in total."
    ));
}

/// Returns today's date in UTC as YYYY-MM-DD.
fn utc_date() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    // Converts days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras
    // of 146,097 days that start on March 1.
    let days = (seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Describes the CPU, its cores and the memory, from `/proc`.
fn describe_machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
    format!("{model}, {cores} cores, {memory_gib:.0} GiB")
}

/// Returns the version of Debian's ZooKeeper jar, from the name of its versioned link in
/// `/usr/share/java`.
fn zookeeper_version() -> String {
    let entries = std::fs::read_dir("/usr/share/java").into_iter().flatten().flatten();
    entries
        .filter_map(|entry| entry.file_name().into_string().ok())
        .find_map(|name| {
            let version = name.strip_prefix("zookeeper-")?.strip_suffix(".jar")?;
            version.starts_with(|c: char| c.is_ascii_digit()).then(|| version.to_owned())
        })
        .unwrap_or_else(|| "(unknown version)".to_owned())
}
