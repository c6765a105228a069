//! Update and propagation latency as the payload grows, and as more handles follow one dir.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zkstruct::{Event, Shared};

use crate::library::{self, Receiver};
use crate::raw::{VersionedNode, WatchedNode};
use crate::state::BenchState;
use crate::stats::{paired, Samples};
use crate::writes::close;
use crate::Bench;

/// Maximum wait for every handle to receive a change before the bench fails.
const FAN_OUT_TIMEOUT: Duration = Duration::from_secs(60);

/// Latencies at one payload size.
pub struct PayloadPoint {
    /// Encoded payload size in bytes.
    pub bytes: usize,
    pub raw_set: Samples,
    pub update: Samples,
    pub watch_to_data: Samples,
    pub commit_to_event: Samples,
}

/// Latencies with one number of handles on a dir.
pub struct InstancePoint {
    pub count: usize,
    pub raw_set: Samples,
    /// `update()` on the first handle while the others follow the dir.
    pub update: Samples,
    /// From a commit until the first handle has the typed change.
    pub first: Samples,
    /// From the same commit until the last handle has it.
    pub all: Samples,
    /// Retries after `Error::StaleWrite` of the first handle's updates.
    pub retries: u64,
}

pub async fn measure_payloads(bench: &Bench) -> Vec<PayloadPoint> {
    let (plan, writer, root) = (&bench.plan, &bench.writer, &bench.root);
    let mut points = Vec::new();
    for &target in &plan.payload_sizes {
        let state = BenchState::sized(target);
        let data = state.encode();
        let warmup = plan.warmup.min(10);

        let shared =
            library::open(&bench.servers, &format!("{root}/size-{target}/update"), state.clone()).await;
        let mut node = VersionedNode::create(writer, format!("{root}/raw/size-{target}/set"), &data).await;
        let (raw_set, update) = paired(
            warmup,
            plan.payload_round_trips,
            async || {
                let elapsed = node.set(writer, &data).await;
                bench.dilute_commit_log(data.len()).await;
                elapsed
            },
            async || {
                let elapsed = library::timed_update(&shared).await;
                bench.dilute_commit_log(data.len()).await;
                elapsed
            },
        )
        .await;
        close(&shared).await;

        let path = format!("{root}/raw/size-{target}/watched");
        let mut watched = WatchedNode::create(writer, bench.reader.clone(), path, &data).await;
        let mut receiver =
            Receiver::open(&bench.servers, &format!("{root}/size-{target}/propagation"), state).await;
        let (watch_to_data, commit_to_event) = paired(
            warmup,
            plan.payload_round_trips,
            async || {
                let elapsed = watched.watch_to_data(writer, &data).await;
                bench.dilute_commit_log(data.len()).await;
                elapsed
            },
            async || {
                let elapsed = receiver.commit_to_event(writer).await;
                bench.dilute_commit_log(data.len()).await;
                elapsed
            },
        )
        .await;
        close(&receiver.shared).await;

        println!("  payload {} bytes: update median {:.0} µs", data.len(), update.median() / 1e3);
        points.push(PayloadPoint { bytes: data.len(), raw_set, update, watch_to_data, commit_to_event });
    }
    points
}

pub async fn measure_instances(bench: &Bench) -> Vec<InstancePoint> {
    let mut points = Vec::new();
    for &count in &bench.plan.instance_counts {
        let point = measure_instance_count(bench, count).await;
        println!(
            "  {count} handles: first has a commit after {:.0} µs, all after {:.0} µs (medians)",
            point.first.median() / 1e3,
            point.all.median() / 1e3
        );
        points.push(point);
    }
    points
}

async fn measure_instance_count(bench: &Bench, count: usize) -> InstancePoint {
    let (plan, writer) = (&bench.plan, &bench.writer);
    let dir = format!("{}/instances-{count}", bench.root);
    let instances = open_many(&bench.servers, &dir, count).await;

    // Each handle's subscription reports the counter of every change and when it arrived.
    let (arrivals_sender, mut arrivals) = mpsc::unbounded_channel();
    let listeners: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(index, shared)| {
            let mut subscription = shared.subscribe();
            let sender = arrivals_sender.clone();
            tokio::spawn(async move {
                while let Some(event) = subscription.recv().await {
                    if let Event::Changed(changes) = event {
                        let _ = sender.send(Arrival {
                            index,
                            counter: changes.snapshot().counter,
                            at: Instant::now(),
                        });
                    }
                }
            })
        })
        .collect();

    let data = BenchState::small().encode();
    let mut node = VersionedNode::create(writer, format!("{}/raw/instances-set", bench.root), &data).await;
    let mut state = BenchState::clone(&instances[0].read_dirty());
    let mut point = InstancePoint {
        count,
        raw_set: Samples::default(),
        update: Samples::default(),
        first: Samples::default(),
        all: Samples::default(),
        retries: 0,
    };
    let warmup = plan.warmup.min(5);
    for round in 0..warmup + plan.instance_rounds {
        let measured = round >= warmup;
        let raw_set = node.set(writer, &data).await;

        state.counter += 1;
        let commit = state.encode();
        let start = Instant::now();
        writer.set_data(instances[0].payload_path(), &commit, None).await.expect("the payload is writable");
        let (first, last) = wait_for_all(&mut arrivals, count, state.counter).await;

        state.counter += 1;
        let update_start = Instant::now();
        let retries = library::increment(&instances[0]).await;
        let update = update_start.elapsed();
        wait_for_all(&mut arrivals, count, state.counter).await;

        if measured {
            point.raw_set.push(raw_set);
            point.first.push(first - start);
            point.all.push(last - start);
            point.update.push(update);
            point.retries += retries;
        }
    }

    for shared in &instances {
        close(shared).await;
    }
    for listener in listeners {
        listener.await.expect("a listener does not panic");
    }
    point
}

/// One handle's receipt of a typed change.
struct Arrival {
    index: usize,
    counter: u64,
    at: Instant,
}

/// Waits until each of `count` handles received the change to `counter`, and returns the
/// first and the last arrival.
async fn wait_for_all(
    arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
    count: usize,
    counter: u64,
) -> (Instant, Instant) {
    let mut seen = vec![None; count];
    let mut missing = count;
    let deadline = tokio::time::Instant::now() + FAN_OUT_TIMEOUT;
    while missing > 0 {
        let arrival = tokio::time::timeout_at(deadline, arrivals.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("{missing} of {count} handles lack counter {counter} after {FAN_OUT_TIMEOUT:?}")
            })
            .expect("the listeners run until the handles close");
        if arrival.counter == counter && seen[arrival.index].is_none() {
            seen[arrival.index] = Some(arrival.at);
            missing -= 1;
        }
    }
    let times = seen.into_iter().flatten();
    let first = times.clone().min().expect("at least one handle");
    let last = times.max().expect("at least one handle");
    (first, last)
}

/// Opens `count` handles on `dir` with one session each, all but the first concurrently.
async fn open_many(servers: &str, dir: &str, count: usize) -> Vec<Shared<BenchState>> {
    let mut instances = vec![library::open(servers, dir, BenchState::small()).await];
    let mut opening = tokio::task::JoinSet::new();
    for _ in 1..count {
        let (servers, dir) = (servers.to_owned(), dir.to_owned());
        opening.spawn(async move { library::join(&servers, &dir).await });
    }
    while let Some(opened) = opening.join_next().await {
        instances.push(opened.expect("opening a handle does not panic"));
    }
    instances
}
