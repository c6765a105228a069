//! Other clients' recipes for the same jobs, run as child processes against the same
//! server: kazoo (Python) and Apache Curator (Java, compiled with javac into the target
//! dir). Each peer times itself and prints `{"recipe": ..., "nanos": [...]}`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::report::{Figure, Report, Row};
use crate::stats::Samples;
use crate::writes::PeerFloors;
use crate::Bench;

/// Python with kazoo, from Debian's `python3-kazoo`.
const PYTHON: &str = "/usr/bin/python3";
/// Debian's Curator jars (`libcurator-*-java`); their manifests name ZooKeeper and Guava.
const CURATOR_JARS: [&str; 3] = [
    "/usr/share/java/curator-recipes.jar",
    "/usr/share/java/curator-framework.jar",
    "/usr/share/java/curator-client.jar",
];
/// Silences Curator's logging when present (Debian's `libslf4j-java`).
const SLF4J_NOP: &str = "/usr/share/java/slf4j-nop.jar";

#[derive(Deserialize)]
struct PeerOutput {
    nanos: Vec<f64>,
}

pub fn measure(bench: &Bench, floors: &PeerFloors, report: &mut Report) {
    let peers_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/peers");
    let payload_bytes = crate::state::BenchState::small().encode().len();
    let arguments = |recipe: &str| {
        vec![
            bench.servers.clone(),
            format!("{}/peers/{recipe}", bench.root),
            recipe.to_owned(),
            bench.plan.warmup.to_string(),
            bench.plan.peer_iterations.to_string(),
            payload_bytes.to_string(),
        ]
    };
    let watch_floor = ("raw set on A → B's watch fires → B's get returns", &floors.watch_to_data);
    let set_floor = ("raw set with version", &floors.raw_set);

    match kazoo_missing() {
        Some(reason) => skip(report, "kazoo", &reason),
        None => {
            let script = peers_dir.join("kazoo_peer.py");
            for (recipe, label, floor) in [
                ("datawatch", "kazoo `DataWatch`: set on A → callback with data on B", watch_floor),
                ("lock", "kazoo `Lock` + set", set_floor),
            ] {
                let mut command = Command::new(PYTHON);
                command.arg(&script).args(arguments(recipe));
                run_peer(report, command, label, floor);
            }
        }
    }

    match compile_curator_peer(&peers_dir) {
        Err(reason) => skip(report, "Curator", &reason),
        Ok(classpath) => {
            for (recipe, label, floor) in [
                ("sharedvalue", "Curator `SharedValue`: set on A → listener on B", watch_floor),
                ("mutex", "Curator `InterProcessMutex` + set", set_floor),
            ] {
                let mut command = Command::new("java");
                command.arg("-cp").arg(&classpath).arg("CuratorPeer").args(arguments(recipe));
                run_peer(report, command, label, floor);
            }
        }
    }
}

fn skip(report: &mut Report, peer: &str, reason: &str) {
    let message = format!("{peer} peers skipped: {reason}");
    println!("{message}");
    report.notes.push(message);
}

/// Runs one peer and adds its row, or a note saying why it has none.
fn run_peer(report: &mut Report, mut command: Command, label: &str, (floor_name, floor): (&str, &Samples)) {
    println!("  running {label}");
    let output = match command.output() {
        Ok(output) => output,
        Err(error) => return skip(report, label, &format!("{command:?} did not start: {error}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let reason = format!(
            "{command:?} failed with {}: {}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
        return skip(report, label, &reason);
    }
    let parsed: PeerOutput = match serde_json::from_slice::<PeerOutput>(&output.stdout) {
        Ok(parsed) if parsed.nanos.is_empty() => return skip(report, label, "it printed no samples"),
        Ok(parsed) => parsed,
        Err(error) => return skip(report, label, &format!("its output is not the expected JSON: {error}")),
    };
    let samples = Samples::from_nanos(parsed.nanos);
    report.rows.push(Row::new_figures(
        &format!("{label} ({} samples)", samples.len()),
        Figure::latency(&samples),
        floor_name,
        Figure::latency(floor),
        None,
    ));
}

/// Returns why kazoo cannot run, or `None` when it can.
fn kazoo_missing() -> Option<String> {
    match Command::new(PYTHON).args(["-c", "import kazoo"]).output() {
        Ok(output) if output.status.success() => None,
        Ok(_) => Some(format!("{PYTHON} cannot import kazoo; install Debian's python3-kazoo")),
        Err(error) => Some(format!("{PYTHON} did not start ({error}); install Debian's python3-kazoo")),
    }
}

/// Compiles `CuratorPeer.java` into `target/bench-peers`, and returns the class path that
/// runs it.
fn compile_curator_peer(peers_dir: &Path) -> Result<String, String> {
    if let Some(missing) = CURATOR_JARS.iter().find(|jar| !Path::new(jar).exists()) {
        return Err(format!(
            "{missing} not found; install Debian's libcurator-recipes-java, libcurator-framework-java and \
             libcurator-client-java"
        ));
    }
    let classes = crate::target_dir().join("bench-peers");
    std::fs::create_dir_all(&classes)
        .map_err(|error| format!("cannot create {}: {error}", classes.display()))?;
    let mut classpath: Vec<PathBuf> = CURATOR_JARS.iter().map(PathBuf::from).collect();
    if Path::new(SLF4J_NOP).exists() {
        classpath.push(PathBuf::from(SLF4J_NOP));
    }
    let jars = std::env::join_paths(&classpath)
        .map_err(|error| error.to_string())?
        .into_string()
        .unwrap_or_default();
    let output = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(&jars)
        .arg(peers_dir.join("CuratorPeer.java"))
        .output()
        .map_err(|error| format!("javac did not start ({error}); install a JDK"))?;
    if !output.status.success() {
        return Err(format!("javac failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(format!("{}:{jars}", classes.display()))
}
