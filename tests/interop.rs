//! zkstruct next to other ZooKeeper clients that follow its node layout: Apache Curator 5.4
//! (`InterProcessMutex`, `CuratorCache`, `setData`) and kazoo (`DataWatch`, `set`), both
//! from Debian's packages, on a real server.
//!
//! Each test ends by checking that no lock node is left under `/<dir>/lock`.

mod common;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;
use zkstruct::testing::ZkServer;
use zkstruct::{Error, Modified, Origin, Shared, VecChange, ZkShared};

use common::curator::curator;
use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a child JVM or Python process may take to start and print a result, with
/// several test servers and peers sharing the machine.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to delete an empty container node. The test server checks
/// containers every 500 ms (`znode.container.checkIntervalMs`).
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub interval_ms: u64,
}

fn seed() -> MonitorState {
    MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 }
}

/// Waits until `/<dir>/lock` has no children, or does not exist, and fails the test if that
/// takes longer than `EVENT_TIMEOUT`.
async fn assert_no_lock_nodes(servers: &str, dir: &str) {
    let lock_dir = format!("{dir}/lock");
    wait_until(EVENT_TIMEOUT, "no lock node to remain", || async {
        kazoo_children(servers, &lock_dir).is_empty()
    })
    .await;
}

async fn wait_lock_dir_deleted(servers: &str, lock_dir: &str) {
    wait_until(CONTAINER_TIMEOUT, "the empty lock container to be deleted", || async {
        !kazoo_exists(servers, lock_dir)
    })
    .await;
}

fn node_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn curator_lock_blocks_our_update() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("curator-holds");
    let lock_dir = format!("{dir}/lock");
    let quick = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_millis(500))
        .create_or_open(seed())
        .await
        .unwrap();
    let patient = Shared::<MonitorState>::builder(&servers, &dir)
        .lock_timeout(Duration::from_secs(60))
        .open(EVENT_TIMEOUT)
        .await
        .unwrap();

    let mut holder = curator(&servers, "hold", &[&lock_dir]);
    let acquired = holder.expect_line("acquired ", PEER_TIMEOUT).await;
    let curator_node = acquired["acquired ".len()..].to_owned();
    assert!(curator_node.starts_with(&format!("{lock_dir}/_c_")), "{curator_node}");
    assert!(curator_node.contains("-lock-"), "{curator_node}");

    let result = quick.update(|s| s.interval_ms = 1).await;
    let Err(Error::LockTimeout { holder: reported, .. }) = &result else {
        panic!("expected LockTimeout, got {result:?}")
    };
    assert_eq!(reported, &curator_node);
    wait_until(EVENT_TIMEOUT, "only Curator's lock node to remain", || async {
        kazoo_children(&servers, &lock_dir) == [node_name(&curator_node)]
    })
    .await;

    let waiting = tokio::spawn({
        let patient = patient.clone();
        async move { patient.update(|s| s.interval_ms = 2).await }
    });
    wait_until(EVENT_TIMEOUT, "our update to queue behind Curator", || async {
        kazoo_children(&servers, &lock_dir).len() == 2
    })
    .await;
    assert!(!waiting.is_finished(), "our update completed while Curator held the lock");

    assert_eq!(holder.finish(PEER_TIMEOUT).await, ["released"]);
    let written = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .expect("our update completes once Curator releases the lock")
        .unwrap()
        .unwrap();
    assert_eq!(written.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 2 })]);
    let stored: MonitorState = serde_json::from_str(&kazoo_get(&servers, quick.payload_path())).unwrap();
    assert_eq!(stored.interval_ms, 2);
    assert_no_lock_nodes(&servers, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_lock_blocks_curator() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("ours-holds");
    let lock_dir = format!("{dir}/lock");
    let state = Shared::builder(&servers, &dir).create_or_open(seed()).await.unwrap();

    // The closure runs under the lock, so the lock stays held until the test resumes it.
    // `block_in_place` lets the runtime's other tasks, the ZooKeeper client's among them,
    // run on another thread meanwhile.
    let (entered, entered_signal) = tokio::sync::oneshot::channel();
    let (resume, resume_signal) = std::sync::mpsc::channel::<()>();
    let update = tokio::spawn({
        let state = state.clone();
        async move {
            state
                .update(move |s| {
                    entered.send(()).expect("the test waits for the closure");
                    tokio::task::block_in_place(|| resume_signal.recv())
                        .expect("the test resumes the closure");
                    s.interval_ms = 7;
                })
                .await
        }
    });
    tokio::time::timeout(EVENT_TIMEOUT, entered_signal).await.expect("the update's closure runs").unwrap();
    let ours = kazoo_children(&servers, &lock_dir);
    assert_eq!(ours.len(), 1, "{ours:?}");

    let mut timed = curator(&servers, "try-acquire", &[&lock_dir, "1000"]);
    assert_eq!(timed.next_line(PEER_TIMEOUT).await, "timeout");
    assert!(timed.finish(PEER_TIMEOUT).await.is_empty());
    assert_eq!(kazoo_children(&servers, &lock_dir), ours, "Curator left its node behind after the timeout");

    let mut waiter = curator(&servers, "try-acquire", &[&lock_dir, "60000"]);
    wait_until(PEER_TIMEOUT, "Curator to queue behind our lock", || async {
        kazoo_children(&servers, &lock_dir).len() == 2
    })
    .await;
    assert_eq!(waiter.printed_line(), None, "Curator acquired the lock while ours was held");

    resume.send(()).unwrap();
    let written =
        tokio::time::timeout(EVENT_TIMEOUT, update).await.expect("the update completes").unwrap().unwrap();
    assert_eq!(written.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 7 })]);
    waiter.expect_line("acquired ", EVENT_TIMEOUT).await;
    assert_eq!(waiter.finish(PEER_TIMEOUT).await, ["released"]);
    assert_no_lock_nodes(&servers, &dir).await;
}

#[tokio::test]
async fn foreign_watchers_see_our_writes() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("watchers");
    let state = Shared::builder(&servers, &dir).create_or_open(seed()).await.unwrap();
    let payload = state.payload_path();

    let mut kazoo_watcher = kazoo_watch(&servers, payload);
    let mut curator_watcher = curator(&servers, "watch", &[payload]);
    let initial = serde_json::to_value(seed()).unwrap();
    assert_eq!(parse_data_line(&kazoo_watcher.next_line(PEER_TIMEOUT).await), (0, initial.clone()));
    assert_eq!(parse_data_line(&curator_watcher.next_line(PEER_TIMEOUT).await), (0, initial));
    assert_eq!(curator_watcher.next_line(PEER_TIMEOUT).await, "ready");

    for interval_ms in [250, 500, 750] {
        let written = state
            .update(|s| {
                s.interval_ms = interval_ms;
                s.patterns.push(format!("worker-{interval_ms}*"));
            })
            .await
            .unwrap();
        let version = written.version().version();
        let expected = serde_json::to_value(&*state.read().unwrap()).unwrap();
        assert_eq!(expected["interval_ms"], interval_ms);

        let seen_by_kazoo = parse_data_line(&kazoo_watcher.next_line(EVENT_TIMEOUT).await);
        assert_eq!(seen_by_kazoo, (version, expected.clone()), "kazoo's DataWatch");
        let seen_by_curator = parse_data_line(&curator_watcher.next_line(EVENT_TIMEOUT).await);
        assert_eq!(seen_by_curator, (version, expected), "Curator's CuratorCache");
    }

    assert!(kazoo_watcher.finish(PEER_TIMEOUT).await.is_empty(), "kazoo saw more changes");
    assert!(curator_watcher.finish(PEER_TIMEOUT).await.is_empty(), "Curator saw more changes");
    assert_no_lock_nodes(&servers, &dir).await;
}

#[tokio::test]
async fn foreign_writes_reach_subscribers() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("foreign-writes");
    let lock_dir = format!("{dir}/lock");
    let state = Shared::builder(&servers, &dir).create_or_open(seed()).await.unwrap();
    let payload = state.payload_path().to_owned();
    let mut events = state.subscribe();

    kazoo_set(&servers, &payload, r#"{"patterns": ["cron*"], "interval_ms": 1000}"#);
    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        seen.changes(),
        [
            MonitorStateChange::Patterns(VecChange::Modified {
                index: 0,
                change: Modified { old: "systemd*".into(), new: "cron*".into() }
            }),
            MonitorStateChange::Patterns(VecChange::Removed { index: 1, value: "rsync*".into() }),
        ]
    );
    assert_eq!(seen.origin(), Origin::Remote);
    assert_eq!(seen.version().version(), 1);

    let mut setter = curator(&servers, "set", &[&payload, r#"{"patterns":["cron*"],"interval_ms":250}"#]);
    assert_eq!(setter.next_line(PEER_TIMEOUT).await, "set 2");
    assert!(setter.finish(PEER_TIMEOUT).await.is_empty());
    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(seen.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 250 })]);
    assert_eq!(seen.origin(), Origin::Remote);
    assert_eq!(seen.version().version(), 2);

    // A writer that follows the protocol: the mutex, then a compare-and-set on the version.
    // It also adds a top-level key that the struct does not have.
    let content = r#"{"patterns":["cron*","sshd*"],"interval_ms":250,"owner":"curator"}"#;
    let mut locked = curator(&servers, "locked-set", &[&lock_dir, &payload, content]);
    assert_eq!(locked.next_line(PEER_TIMEOUT).await, "set 3");
    assert!(locked.finish(PEER_TIMEOUT).await.is_empty());
    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        seen.changes(),
        [MonitorStateChange::Patterns(VecChange::Added { index: 1, value: "sshd*".into() })]
    );
    assert_eq!(seen.version().version(), 3);

    // Our next update starts from Curator's version and keeps the key it added.
    let written = state.update(|s| s.interval_ms = 100).await.unwrap();
    assert_eq!(written.changes(), [MonitorStateChange::IntervalMs(Modified { old: 250, new: 100 })]);
    let stored: serde_json::Value = serde_json::from_str(&kazoo_get(&servers, &payload)).unwrap();
    assert_eq!(stored, json!({"patterns": ["cron*", "sshd*"], "interval_ms": 100, "owner": "curator"}));
    assert_no_lock_nodes(&servers, &dir).await;
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Counter {
    pub count: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_with_curator_count_exactly() {
    const CURATOR_INCREMENTS: u64 = 40;
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("curator-counter");
    let lock_dir = format!("{dir}/lock");
    let state = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_secs(60))
        .create_or_open(Counter { count: 0 })
        .await
        .unwrap();

    // Curator writes without a version check, so an increment of ours that slipped between
    // its read and its write would be lost: only the lock keeps the count exact. Our updates
    // keep running until Curator is done, so the two contend for the whole run.
    let times = CURATOR_INCREMENTS.to_string();
    let mut peer = curator(&servers, "increment", &[&lock_dir, state.payload_path(), "count", &times]);
    let deadline = Instant::now() + PEER_TIMEOUT;
    let mut ours = 0u64;
    let mut stale_writes = 0u32;
    while !peer.has_exited() {
        assert!(Instant::now() < deadline, "Curator did not finish within {PEER_TIMEOUT:?}");
        match state.update(|counter| counter.count += 1).await {
            Ok(_) => ours += 1,
            // Curator's last write had not reached the local copy yet.
            Err(Error::StaleWrite { .. }) => stale_writes += 1,
            Err(error) => panic!("update failed: {error}"),
        }
    }
    assert_eq!(peer.finish(PEER_TIMEOUT).await, [format!("incremented {CURATOR_INCREMENTS}")]);

    tracing::info!(ours, stale_writes, "increments next to Curator's");
    assert!(ours > 0);
    assert_eq!(state.read_consistent().await.unwrap().count, ours + CURATOR_INCREMENTS);
    assert_no_lock_nodes(&servers, &dir).await;
}

#[tokio::test]
async fn update_after_curator_container_is_deleted() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("curator-container");
    let lock_dir = format!("{dir}/lock");
    let state = Shared::builder(&servers, &dir).create_or_open(seed()).await.unwrap();
    assert!(!kazoo_exists(&servers, &lock_dir), "opening the handle created the lock dir");

    // Curator creates the lock dir as a container, which the server deletes once empty.
    let mut peer = curator(&servers, "try-acquire", &[&lock_dir, "30000"]);
    peer.expect_line("acquired ", PEER_TIMEOUT).await;
    assert_eq!(peer.finish(PEER_TIMEOUT).await, ["released"]);
    wait_lock_dir_deleted(&servers, &lock_dir).await;

    let written = state.update(|s| s.interval_ms = 5).await.unwrap();
    assert_eq!(written.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 5 })]);
    let stored: MonitorState = serde_json::from_str(&kazoo_get(&servers, state.payload_path())).unwrap();
    assert_eq!(stored.interval_ms, 5);
    assert_no_lock_nodes(&servers, &dir).await;
}

#[tokio::test]
async fn curator_after_our_container_is_deleted() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("our-container");
    let lock_dir = format!("{dir}/lock");
    let state = Shared::builder(&servers, &dir).create_or_open(seed()).await.unwrap();

    // Our lock creates the lock dir as a container too, so it goes once the update is done.
    state.update(|s| s.interval_ms = 5).await.unwrap();
    wait_lock_dir_deleted(&servers, &lock_dir).await;

    let mut peer = curator(&servers, "try-acquire", &[&lock_dir, "30000"]);
    peer.expect_line("acquired ", PEER_TIMEOUT).await;
    assert_eq!(peer.finish(PEER_TIMEOUT).await, ["released"]);

    // And the other way round once more, after Curator's container went.
    wait_lock_dir_deleted(&servers, &lock_dir).await;
    state.update(|s| s.interval_ms = 6).await.unwrap();
    assert_eq!(state.read_consistent().await.unwrap().interval_ms, 6);
    assert_no_lock_nodes(&servers, &dir).await;
}
