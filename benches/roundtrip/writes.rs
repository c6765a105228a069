//! Round trips to the server: consistent reads, updates, propagation, contending writers
//! and a large payload, each sampled in alternation with its raw floor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zkstruct::Shared;
use zookeeper_client::Client;

use crate::library::{self, Pair, Receiver};
use crate::raw::{self, LockedNode, VersionedNode, WatchedNode};
use crate::report::{Bound, Figure, Report, Row, Target};
use crate::state::BenchState;
use crate::stats::{paired, Samples};
use crate::{memory, Bench};

/// Size of the large payload row.
const LARGE_PAYLOAD_BYTES: usize = 512 << 10;

/// The floors that the peers are compared with.
pub struct PeerFloors {
    pub watch_to_data: Samples,
    pub raw_set: Samples,
}

/// Measures the round trips of one handle that no other task writes to: `read_consistent`
/// and `update`.
pub async fn measure_round_trips(bench: &Bench, shared: &Shared<BenchState>, report: &mut Report) -> Samples {
    let (plan, writer) = (&bench.plan, &bench.writer);
    let data = BenchState::small().encode();
    let read_path = format!("{}/raw/read", bench.root);
    raw::put_node(writer, &read_path, &data).await;

    let (get, exists) = paired(
        plan.warmup,
        plan.round_trips,
        async || raw::get(writer, &read_path).await,
        async || raw::exists(writer, &read_path).await,
    )
    .await;
    report.floors.push(("raw get".into(), Figure::latency(&get)));
    report.floors.push(("raw exists".into(), Figure::latency(&exists)));

    let (sync_get, sync_exists) = paired(
        plan.warmup,
        plan.round_trips,
        async || raw::sync_get(writer, &read_path).await,
        async || raw::sync_exists(writer, &read_path).await,
    )
    .await;
    report
        .floors
        .push(("raw sync + get, pipelined (paired with sync + exists)".into(), Figure::latency(&sync_get)));
    report.floors.push(("raw sync + exists, pipelined".into(), Figure::latency(&sync_exists)));

    let (sync_get, consistent) = paired(
        plan.warmup,
        plan.round_trips,
        async || raw::sync_get(writer, &read_path).await,
        async || library::timed_consistent_read(shared).await,
    )
    .await;
    report.floors.push(("raw sync + get, pipelined".into(), Figure::latency(&sync_get)));
    report.rows.push(Row::new(
        "`read_consistent()`, nothing changed",
        &consistent,
        "raw sync + get, pipelined",
        &sync_get,
        Some(Target::median(Bound::AtMost(1.2))),
    ));

    let mut node = VersionedNode::create(writer, format!("{}/raw/set", bench.root), &data).await;
    let (set, update) = paired(
        plan.warmup,
        plan.round_trips,
        async || node.set(writer, &data).await,
        async || library::timed_update(shared).await,
    )
    .await;
    report.floors.push(("raw set with version".into(), Figure::latency(&set)));
    report.rows.push(Row::new(
        "`update()`",
        &update,
        "raw set with version",
        &set,
        Some(Target::median_and_p99(Bound::AtMost(2.2), Bound::AtMost(3.0))),
    ));

    let locked = LockedNode::create(writer, &format!("{}/raw/locked", bench.root), &data).await;
    let (lock_set, update_again) = paired(
        plan.warmup,
        plan.round_trips,
        async || {
            let start = Instant::now();
            locked.locked_set(writer, |_| data.clone()).await;
            start.elapsed()
        },
        async || library::timed_update(shared).await,
    )
    .await;
    report.floors.push(("raw lock + multi(delete, set)".into(), Figure::latency(&lock_set)));
    report.rows.push(Row::new(
        "`update()` (second sample)",
        &update_again,
        "raw lock + multi(delete, set)",
        &lock_set,
        None,
    ));
    set
}

/// Measures how fast a change reaches another session's handle: from a commit, and from
/// the `update()` call. Returns the raw floor of the first.
pub async fn measure_propagation(bench: &Bench, report: &mut Report) -> Samples {
    let (plan, writer, root) = (&bench.plan, &bench.writer, &bench.root);
    let small = BenchState::small();
    let data = small.encode();
    let mut watched =
        WatchedNode::create(writer, bench.reader.clone(), format!("{root}/raw/watched"), &data).await;
    let floor_name = "raw set on A → B's watch fires → B's get returns";

    let mut receiver =
        Receiver::open(&bench.servers, &format!("{root}/propagation-commit"), small.clone()).await;
    let (watch_to_data, commit) = paired(
        plan.warmup,
        plan.propagations,
        async || watched.watch_to_data(writer, &data).await,
        async || receiver.commit_to_event(writer).await,
    )
    .await;
    report.floors.push(("raw set → watch → get (second session)".into(), Figure::latency(&watch_to_data)));
    report.rows.push(Row::new(
        "propagation: commit on A → typed event on B",
        &commit,
        floor_name,
        &watch_to_data,
        Some(Target::median_and_p99(Bound::AtMost(1.1), Bound::AtMost(2.0))),
    ));
    close(&receiver.shared).await;

    let mut pair = Pair::open(&bench.servers, &format!("{root}/propagation-update"), small).await;
    let (watch_to_data_again, update_to_event) = paired(
        plan.warmup,
        plan.propagations,
        async || watched.watch_to_data(writer, &data).await,
        async || pair.update_to_event().await,
    )
    .await;
    report.rows.push(Row::new(
        "propagation: `update()` called on A → typed event on B",
        &update_to_event,
        floor_name,
        &watch_to_data_again,
        Some(Target::median(Bound::AtMost(2.0))),
    ));
    pair.close().await;
    watch_to_data
}

/// Measures the throughput of writers that contend for one dir, against the same number of
/// raw lock-plus-set writers, and checks that no update was lost.
pub async fn measure_contention(bench: &Bench, report: &mut Report) {
    let plan = &bench.plan;
    let writers = plan.writers;
    let dir = format!("{}/contention", bench.root);
    let mut instances = vec![library::open(&bench.servers, &dir, BenchState::small()).await];
    for _ in 1..writers {
        instances.push(library::join(&bench.servers, &dir).await);
    }
    let mut clients = Vec::new();
    for _ in 0..writers {
        clients.push(raw::connect(&bench.servers).await);
    }
    let locked = Arc::new(
        LockedNode::create(
            &bench.writer,
            &format!("{}/raw/contention", bench.root),
            &BenchState::small().encode(),
        )
        .await,
    );

    let total = (writers * plan.updates_per_writer) as f64;
    let (mut raw_rates, mut library_rates) = (Samples::default(), Samples::default());
    let (mut waits, mut retries) = (0, 0);
    for _ in 0..plan.contention_rounds {
        let (elapsed, round_waits) =
            raw_contention_round(&bench.writer, &clients, &locked, plan.updates_per_writer).await;
        raw_rates.push_nanos(total / elapsed.as_secs_f64());
        waits += round_waits;
        let (elapsed, round_retries) = library_contention_round(&instances, plan.updates_per_writer).await;
        library_rates.push_nanos(total / elapsed.as_secs_f64());
        retries += round_retries;
    }

    report.rows.push(Row::new_figures(
        &format!("{writers} writers contending, updates/s"),
        Figure::rate(&library_rates),
        &format!("raw lock + set loop, {writers} writers"),
        Figure::rate(&raw_rates),
        Some(Target::median(Bound::AtLeast(0.8))),
    ));
    report.notes.push(format!(
        "Contention: {} rounds of {writers} writers × {} updates each, for zkstruct and for the raw loop. \
         No update was lost in either (the final counter was checked after every round). zkstruct's writers \
         retried {retries} times after `Error::StaleWrite`; the raw writers waited for a contender ahead \
         {waits} times.",
        plan.contention_rounds, plan.updates_per_writer
    ));
    for shared in &instances {
        close(shared).await;
    }
}

/// Runs `per_writer` lock-plus-set increments on every client at once. Returns the wall
/// time and how often a writer waited for the lock.
async fn raw_contention_round(
    observer: &Client,
    clients: &[Client],
    locked: &Arc<LockedNode>,
    per_writer: usize,
) -> (Duration, u64) {
    let read_counter = async || {
        let (data, _) = observer.get_data(&locked.payload).await.expect("the raw payload is readable");
        BenchState::decode(&data).counter
    };
    let before = read_counter().await;
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, locked) = (client.clone(), locked.clone());
            tokio::spawn(async move {
                let mut waits = 0;
                for _ in 0..per_writer {
                    let increment = |data: &[u8]| {
                        let mut state = BenchState::decode(data);
                        state.counter += 1;
                        state.encode()
                    };
                    waits += u64::from(locked.locked_set(&client, increment).await);
                }
                waits
            })
        })
        .collect();
    let mut waits = 0;
    for task in tasks {
        waits += task.await.expect("a raw writer does not panic");
    }
    let elapsed = start.elapsed();
    let after = read_counter().await;
    assert_eq!(after - before, (clients.len() * per_writer) as u64, "raw writers lost updates");
    (elapsed, waits)
}

/// Runs `per_writer` increments on every handle at once. Returns the wall time and the
/// number of retries after `Error::StaleWrite`.
async fn library_contention_round(instances: &[Shared<BenchState>], per_writer: usize) -> (Duration, u64) {
    let read_counter = async || {
        let snapshot = instances[0].read_consistent().await.expect("the payload is readable");
        snapshot.counter
    };
    let before = read_counter().await;
    let start = Instant::now();
    let tasks: Vec<_> = instances
        .iter()
        .map(|shared| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut retries = 0;
                for _ in 0..per_writer {
                    retries += library::increment(&shared).await;
                }
                retries
            })
        })
        .collect();
    let mut retries = 0;
    for task in tasks {
        retries += task.await.expect("a writer does not panic");
    }
    let elapsed = start.elapsed();
    let after = read_counter().await;
    assert_eq!(after - before, (instances.len() * per_writer) as u64, "zkstruct writers lost updates");
    (elapsed, retries)
}

/// Measures updates of a 512 KiB payload, and the peak heap of one handle that makes them.
pub async fn measure_large_payload(bench: &Bench, report: &mut Report) {
    let (plan, writer, root) = (&bench.plan, &bench.writer, &bench.root);
    let state = BenchState::sized(LARGE_PAYLOAD_BYTES);
    let data = state.encode();
    let shared = library::open(&bench.servers, &format!("{root}/large"), state).await;
    let mut node = VersionedNode::create(writer, format!("{root}/raw/large"), &data).await;
    let size = data.len();
    let (set, update) = paired(
        plan.warmup.min(20),
        plan.large_updates,
        async || {
            let elapsed = node.set(writer, &data).await;
            bench.dilute_commit_log(size).await;
            elapsed
        },
        async || {
            let elapsed = library::timed_update(&shared).await;
            bench.dilute_commit_log(size).await;
            elapsed
        },
    )
    .await;
    close(&shared).await;
    report.rows.push(Row::new(
        &format!("`update()`, {} KiB payload", size >> 10),
        &update,
        "raw set with version, same bytes",
        &set,
        Some(Target::median(Bound::AtMost(1.3))),
    ));

    // A handle of its own, on a dir no other handle follows, so the peak holds only what
    // this handle allocates: its session, its copy, and what its updates and the watcher's
    // echo reads allocate.
    let dir = format!("{root}/large-memory");
    raw::put_node(writer, &format!("{dir}/payload"), &data).await;
    let base = memory::reset_peak();
    let instance = library::join(&bench.servers, &dir).await;
    for _ in 0..plan.memory_updates {
        library::increment(&instance).await;
        bench.dilute_commit_log(size).await;
    }
    let instance_peak = memory::peak() - base;
    close(&instance).await;
    drop(instance);

    // The same writes from a new raw client, whose buffers are allocated inside the window.
    let base = memory::reset_peak();
    let client = raw::connect(&bench.servers).await;
    for _ in 0..plan.memory_updates {
        node.set(&client, &data).await;
        bench.dilute_commit_log(size).await;
    }
    let raw_peak = memory::peak() - base;
    drop(client);

    report.rows.push(Row::new_figures(
        &format!("peak heap of one handle, open + {} updates of {} KiB", plan.memory_updates, size >> 10),
        Figure::bytes(instance_peak as f64),
        "payload size",
        Figure::bytes(size as f64),
        Some(Target::median(Bound::AtMost(4.0))),
    ));
    report.rows.push(Row::new_figures(
        "peak heap of a raw client, connect + the same sets",
        Figure::bytes(raw_peak as f64),
        "payload size",
        Figure::bytes(size as f64),
        None,
    ));
}

pub async fn close(shared: &Shared<BenchState>) {
    shared.close().await.unwrap_or_else(|error| panic!("closing {} failed: {error}", shared.dir()));
}
