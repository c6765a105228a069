//! The shared struct against a real ZooKeeper server: two instances, foreign writers,
//! stale copies, freshness, consistency and concurrent updaters.

mod common;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::ZkServer;
use zkstruct::{ChangePath, ConflictPolicy, Error, Event, Modified, Origin, Shared, VecChange, ZkShared};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub interval_ms: u64,
}

fn seed() -> MonitorState {
    MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 }
}

async fn open_pair(server: &ZkServer, dir: &str) -> (Shared<MonitorState>, Shared<MonitorState>) {
    let first =
        Shared::builder(server.connect_string(), dir).create_or_open(seed()).await.expect("first opens");
    let second = Shared::<MonitorState>::builder(server.connect_string(), dir)
        .open(Duration::from_secs(10))
        .await
        .expect("second opens");
    (first, second)
}

#[tokio::test]
async fn seed_example_yields_one_typed_change() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let state =
        Shared::builder(server.connect_string(), unique_dir("seed")).create_or_open(seed()).await.unwrap();

    let changes = state.update(|s| s.patterns.push("firefox*".into())).await.unwrap();

    assert_eq!(
        changes.changes(),
        [MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "firefox*".into() })]
    );
    assert_eq!(changes[0].key_path().to_string(), "$.patterns[2]");
    assert_eq!(changes.origin(), Origin::Local);
    assert_eq!(changes.version().version(), 1);
    assert_eq!(state.read().unwrap().patterns, ["systemd*", "rsync*", "firefox*"]);
}

#[tokio::test]
async fn two_instances_see_each_others_changes() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let (first, second) = open_pair(&server, &unique_dir("pair")).await;
    let mut first_events = first.subscribe();
    let mut second_events = second.subscribe();

    first.set_interval_ms(500).await.unwrap();
    let seen = next_changes(&mut second_events, EVENT_TIMEOUT).await;
    assert_eq!(seen.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 500 })]);
    assert_eq!(seen.origin(), Origin::Remote);
    let own = next_changes(&mut first_events, EVENT_TIMEOUT).await;
    assert_eq!(own.origin(), Origin::Local);
    assert_eq!(own.changes(), seen.changes());

    second.update(|s| s.patterns.retain(|p| p != "rsync*")).await.unwrap();
    let seen = next_changes(&mut first_events, EVENT_TIMEOUT).await;
    assert_eq!(
        seen.changes(),
        [MonitorStateChange::Patterns(VecChange::Removed { index: 1, value: "rsync*".into() })]
    );
    assert_eq!(seen.snapshot().patterns, ["systemd*"]);
    assert_eq!(second.interval_ms().unwrap(), 500);
}

#[tokio::test]
async fn kazoo_write_reaches_subscribers() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("kazoo");
    let state = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    let mut events = state.subscribe();

    kazoo_set(
        &server.connect_string(),
        state.payload_path(),
        r#"{"patterns": ["systemd*", "rsync*", "firefox*"], "interval_ms": 250}"#,
    );

    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        seen.changes(),
        [
            MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "firefox*".into() }),
            MonitorStateChange::IntervalMs(Modified { old: 1000, new: 250 }),
        ]
    );
    assert_eq!(seen.origin(), Origin::Remote);
}

#[tokio::test]
async fn zkcli_write_reaches_handler() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let state =
        Shared::builder(server.connect_string(), unique_dir("zkcli")).create_or_open(seed()).await.unwrap();
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let _handler = state.on_change(move |event| {
        let _ = sender.send(event);
    });

    zkcli(
        &server.connect_string(),
        &["set", state.payload_path(), r#"{"patterns":["cron*"],"interval_ms":1000}"#],
    );

    let event = tokio::time::timeout(EVENT_TIMEOUT, received.recv()).await.unwrap().unwrap();
    let Event::Changed(seen) = event else { panic!("expected a change set, got {event:?}") };
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
}

#[tokio::test]
async fn unlocked_foreign_write_is_stale_write() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("stale")).create_or_open(seed()).await.unwrap();
    let payload = state.payload_path().to_owned();

    // The foreign client ignores the lock and writes while the update computes its value,
    // so the local copy the closure saw is behind when the write is sent.
    let result = state
        .update(|s| {
            kazoo_set(&servers, &payload, r#"{"patterns": ["foreign*"], "interval_ms": 7}"#);
            s.interval_ms = 99;
        })
        .await;

    let Err(Error::StaleWrite { local, remote, .. }) = result else {
        panic!("expected StaleWrite, got {result:?}")
    };
    assert_eq!(local.version(), 0);
    assert_eq!(remote.version(), 1);
    let stored: serde_json::Value = serde_json::from_str(&kazoo_get(&servers, &payload)).unwrap();
    assert_eq!(stored, serde_json::json!({"patterns": ["foreign*"], "interval_ms": 7}));
    assert_eq!(state.read().unwrap().interval_ms, 7, "the stale write brought the local copy up to date");

    let retried = state.update(|s| s.interval_ms = 99).await.unwrap();
    assert_eq!(retried.changes(), [MonitorStateChange::IntervalMs(Modified { old: 7, new: 99 })]);
    assert_eq!(state.read_consistent().await.unwrap().patterns, ["foreign*"]);
}

#[tokio::test]
async fn read_is_stale_while_server_is_down() {
    init_tracing();
    let mut server = ZkServer::start().await.unwrap();
    let state = Shared::builder(server.connect_string(), unique_dir("fresh"))
        .freshness_limit(Duration::from_millis(500))
        .session_timeout(Duration::from_secs(20))
        .create_or_open(seed())
        .await
        .unwrap();
    assert!(state.read().is_ok());

    server.stop().await.unwrap();
    wait_until(Duration::from_secs(30), "read() to report a stale copy", || async {
        matches!(state.read(), Err(Error::Stale { .. }))
    })
    .await;
    let Err(error) = state.read() else { unreachable!() };
    assert!(error.to_string().contains("freshness limit of 500ms"), "{error}");
    assert_eq!(state.read_dirty().interval_ms, 1000);

    server.start_again().await.unwrap();
    wait_until(Duration::from_secs(30), "read() to succeed after the restart", || async {
        state.read().is_ok()
    })
    .await;
    state.set_interval_ms(10).await.unwrap();
}

#[tokio::test]
async fn read_consistent_returns_foreign_write_at_once() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("consistent")).create_or_open(seed()).await.unwrap();

    kazoo_set(&servers, state.payload_path(), r#"{"patterns": [], "interval_ms": 42}"#);
    let snapshot = state.read_consistent().await.unwrap();

    assert_eq!(snapshot.interval_ms, 42);
    assert_eq!(snapshot.version().version(), 1);
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Counter {
    pub count: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updaters_count_exactly() {
    const INSTANCES: usize = 3;
    const TASKS: usize = 4;
    const INCREMENTS: u64 = 25;
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("counter");
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        let instance = Shared::builder(server.connect_string(), &dir)
            .lock_timeout(Duration::from_secs(60))
            .create_or_open(Counter { count: 0 })
            .await
            .unwrap();
        instances.push(instance);
    }

    let mut tasks = tokio::task::JoinSet::new();
    for instance in &instances {
        for _ in 0..TASKS {
            let instance = instance.clone();
            tasks.spawn(async move {
                let mut stale_writes = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        match instance.update(|counter| counter.count += 1).await {
                            Ok(_) => break,
                            Err(Error::StaleWrite { .. }) => stale_writes += 1,
                            Err(error) => panic!("update failed: {error}"),
                        }
                    }
                }
                stale_writes
            });
        }
    }
    let stale_writes: u32 = tasks.join_all().await.into_iter().sum();

    let expected = (INSTANCES * TASKS) as u64 * INCREMENTS;
    for instance in &instances {
        assert_eq!(instance.read_consistent().await.unwrap().count, expected);
    }
    tracing::info!(stale_writes, "updates retried after a stale write");
    let lock_dir = format!("{dir}/lock");
    assert!(kazoo_children(&server.connect_string(), &lock_dir).is_empty(), "lock nodes were left behind");
}

#[tokio::test]
async fn invalid_payload_keeps_last_good_state() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("invalid")).create_or_open(seed()).await.unwrap();
    let mut events = state.subscribe();

    for (payload, expected) in [
        ("not json", "expected ident"),
        (r#"{"patterns": "wrong type", "interval_ms": 1}"#, "invalid type"),
        (r#"{"patterns": []}"#, "missing field `interval_ms`"),
    ] {
        kazoo_set(&servers, state.payload_path(), payload);
        let event = next_event(&mut events, EVENT_TIMEOUT).await;
        let Event::Failed(Error::Decode { path, version, source, .. }) = &event else {
            panic!("expected a decode failure, got {event:?}")
        };
        assert_eq!(path, state.payload_path());
        assert!(version.version() > 0);
        assert!(source.to_string().contains(expected), "{source}");
        assert_eq!(*state.read().unwrap(), seed());
    }

    let rejected = state.update(|s| s.interval_ms = 1).await;
    assert!(matches!(rejected, Err(Error::InvalidPayload { .. })), "{rejected:?}");
    assert_eq!(kazoo_get(&servers, state.payload_path()), r#"{"patterns": []}"#);

    // Putting the last good content back is reported, though nothing changed.
    kazoo_set(&servers, state.payload_path(), r#"{"patterns": ["systemd*", "rsync*"], "interval_ms": 1000}"#);
    let recovered = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert!(recovered.is_empty(), "{recovered:?}");
    assert_eq!(recovered.version().version(), 4);
}

#[tokio::test]
async fn overwrite_invalid_replaces_only_a_bad_payload() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("overwrite")).create_or_open(seed()).await.unwrap();
    let mut events = state.subscribe();

    let valid = state.overwrite_invalid(seed()).await;
    assert!(matches!(valid, Err(Error::PayloadValid { .. })), "{valid:?}");

    kazoo_set(&servers, state.payload_path(), "{broken");
    assert!(matches!(next_event(&mut events, EVENT_TIMEOUT).await, Event::Failed(Error::Decode { .. })));
    let replacement = MonitorState { patterns: vec!["systemd*".into()], interval_ms: 1000 };
    let written = state.overwrite_invalid(replacement.clone()).await.unwrap();

    let expected = [MonitorStateChange::Patterns(VecChange::Removed { index: 1, value: "rsync*".into() })];
    assert_eq!(written.changes(), expected);
    assert_eq!(next_changes(&mut events, EVENT_TIMEOUT).await.changes(), expected);
    let stored: MonitorState = serde_json::from_str(&kazoo_get(&servers, state.payload_path())).unwrap();
    assert_eq!(stored, replacement);
}

#[tokio::test]
async fn merge_policy_replays_changes_on_a_newer_version() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("merge"))
        .conflict_policy(ConflictPolicy::Merge)
        .create_or_open(seed())
        .await
        .unwrap();
    let payload = state.payload_path().to_owned();

    // A writer that ignores the lock changes another field while the closure runs.
    let merged = state
        .update(|s| {
            kazoo_set(&servers, &payload, r#"{"patterns": ["foreign*"], "interval_ms": 1000}"#);
            s.interval_ms = 99;
        })
        .await
        .unwrap();
    assert_eq!(merged.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 99 })]);
    let stored: MonitorState = serde_json::from_str(&kazoo_get(&servers, &payload)).unwrap();
    assert_eq!(stored, MonitorState { patterns: vec!["foreign*".into()], interval_ms: 99 });

    // The same field changed on both sides is a conflict, and nothing is written.
    let conflict = state
        .update(|s| {
            kazoo_set(&servers, &payload, r#"{"patterns": ["foreign*"], "interval_ms": 5}"#);
            s.interval_ms = 6;
        })
        .await;
    let Err(Error::Conflict { key_path, .. }) = &conflict else {
        panic!("expected Conflict, got {conflict:?}")
    };
    assert_eq!(key_path, "$.interval_ms");
    assert_eq!(state.read_consistent().await.unwrap().interval_ms, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_policy_never_merges() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("fail-policy")).create_or_open(seed()).await.unwrap();
    let payload = state.payload_path().to_owned();
    let foreign = r#"{"patterns": ["foreign*"], "interval_ms": 1000}"#;

    // A writer that ignores the lock writes while the closure runs, and the watcher takes
    // its version in before the closure returns.
    let result = state
        .update(|s| {
            kazoo_set(&servers, &payload, foreign);
            let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
            while state.read().unwrap().version().version() != 1 {
                assert!(std::time::Instant::now() < deadline, "the watcher did not take in version 1");
                std::thread::yield_now();
            }
            s.interval_ms = 99;
        })
        .await;

    assert!(matches!(result, Err(Error::StaleWrite { .. })), "{result:?}");
    let stored: serde_json::Value = serde_json::from_str(&kazoo_get(&servers, &payload)).unwrap();
    assert_eq!(stored, serde_json::from_str::<serde_json::Value>(foreign).unwrap());
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Gauge {
    pub level: f64,
}

#[tokio::test]
async fn nan_float_is_never_written() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();

    let rejected =
        Shared::builder(&servers, unique_dir("nan-initial")).create_or_open(Gauge { level: f64::NAN }).await;
    let Err(error @ Error::NotDecodable { .. }) = &rejected else {
        panic!("expected NotDecodable, got {rejected:?}")
    };
    assert!(error.to_string().contains("keep floats finite"), "{error}");

    let state = Shared::builder(&servers, unique_dir("nan-update"))
        .create_or_open(Gauge { level: 0.5 })
        .await
        .unwrap();
    let rejected = state.update(|g| g.level = f64::INFINITY).await;
    assert!(matches!(rejected, Err(Error::NotDecodable { .. })), "{rejected:?}");
    assert_eq!(kazoo_get(&servers, state.payload_path()), r#"{"level":0.5}"#);
    assert_eq!(state.read_consistent().await.unwrap().level, 0.5);
    state.update(|g| g.level = 0.75).await.unwrap();
}

#[tokio::test]
async fn extreme_durations_are_rejected() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("durations");
    let builder = || Shared::<MonitorState>::builder(&servers, &dir);

    let rejected = builder().lock_timeout(Duration::MAX).create_or_open(seed()).await;
    assert!(matches!(rejected, Err(Error::InvalidOption { option: "lock_timeout", .. })), "{rejected:?}");
    let rejected = builder().session_timeout(Duration::MAX).create_or_open(seed()).await;
    assert!(matches!(rejected, Err(Error::InvalidOption { option: "session_timeout", .. })), "{rejected:?}");
    let rejected = builder().freshness_limit(Duration::MAX).create_or_open(seed()).await;
    assert!(matches!(rejected, Err(Error::InvalidOption { option: "freshness_limit", .. })), "{rejected:?}");

    // The longest accepted values work, and an open that may wait forever is fine.
    let state = builder()
        .lock_timeout(Duration::from_secs(86_400))
        .freshness_limit(Duration::from_secs(365 * 86_400))
        .create_or_open(seed())
        .await
        .unwrap();
    state.update(|s| s.interval_ms = 5).await.unwrap();
    let follower = builder().open(Duration::MAX).await.unwrap();
    assert_eq!(follower.read().unwrap().interval_ms, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_covers_handle_wait() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let state = Shared::builder(server.connect_string(), unique_dir("handle-wait"))
        .lock_timeout(Duration::from_millis(300))
        .create_or_open(seed())
        .await
        .unwrap();

    // The first update holds both locks until the second has given up.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let first = tokio::spawn({
        let state = state.clone();
        async move {
            state
                .update(move |s| {
                    entered_tx.send(()).unwrap();
                    release_rx.recv_timeout(EVENT_TIMEOUT).expect("the test releases the first update");
                    s.interval_ms = 1;
                })
                .await
        }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(EVENT_TIMEOUT)).await.unwrap().unwrap();

    let second = state.update(|s| s.interval_ms = 2).await;
    let Err(error @ Error::LockTimeout { holder, .. }) = &second else {
        panic!("expected LockTimeout, got {second:?}")
    };
    assert_eq!(holder, "another update of this handle", "{error}");

    release_tx.send(()).unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(state.read_consistent().await.unwrap().interval_ms, 1);
}

#[tokio::test]
async fn persistent_listener_squatter_is_kept() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("squatter");
    let state = Shared::builder(&servers, &dir).instance_id("agent-1").create_or_open(seed()).await.unwrap();
    let listener = format!("{dir}/listeners/agent-1");

    // Another client swaps the listener node for a persistent one of its own.
    kazoo(
        &servers,
        &format!(
            "t = zk.transaction()\nt.delete({listener:?})\nt.create({listener:?}, b'squatter')\nt.commit()"
        ),
    );
    state.close().await.unwrap();
    assert_eq!(kazoo_get(&servers, &listener), "squatter", "close deleted a node it does not own");

    let rejected = Shared::builder(&servers, &dir).instance_id("agent-1").create_or_open(seed()).await;
    let Err(error @ Error::InstanceIdInUse { owner: 0, .. }) = &rejected else {
        panic!("expected InstanceIdInUse, got {rejected:?}")
    };
    assert!(error.to_string().contains("persistent node"), "{error}");
}

#[tokio::test]
async fn close_ends_subscriptions() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let state =
        Shared::builder(server.connect_string(), unique_dir("close")).create_or_open(seed()).await.unwrap();
    let mut before = state.subscribe();
    let mut field = state.subscribe_patterns();

    state.close().await.unwrap();

    let ended = tokio::time::timeout(EVENT_TIMEOUT, before.recv()).await.unwrap();
    assert!(ended.is_none());
    assert!(tokio::time::timeout(EVENT_TIMEOUT, field.recv()).await.unwrap().is_none());
    assert!(tokio::time::timeout(EVENT_TIMEOUT, state.subscribe().recv()).await.unwrap().is_none());
    assert!(matches!(state.update(|s| s.interval_ms = 1).await, Err(Error::Closed { .. })));
}

#[tokio::test]
async fn deleted_listener_node_is_created_again() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("relist");
    let state = Shared::builder(&servers, &dir).instance_id("agent-1").create_or_open(seed()).await.unwrap();

    kazoo(&servers, &format!("zk.delete('{dir}/listeners/agent-1')"));

    wait_until(EVENT_TIMEOUT, "the listener node to come back", || async {
        kazoo_children(&servers, &format!("{dir}/listeners")) == ["agent-1"]
    })
    .await;
    assert_eq!(state.instances().await.unwrap(), ["agent-1"]);
}

#[tokio::test]
async fn missing_chroot_is_named() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = format!("{}/no/such/chroot", server.connect_string());

    let result = Shared::builder(&servers, "/app").create_or_open(seed()).await;

    let Err(Error::ChrootMissing { path }) = &result else {
        panic!("expected ChrootMissing, got {result:?}")
    };
    assert_eq!(path, "/no/such/chroot");
}

#[tokio::test]
async fn open_waits_for_the_payload() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("wait");

    let missing =
        Shared::<MonitorState>::builder(server.connect_string(), &dir).open(Duration::from_millis(300)).await;
    assert!(matches!(missing, Err(Error::OpenTimeout { .. })), "{missing:?}");

    let servers = server.connect_string();
    let waiting = tokio::spawn({
        let dir = dir.clone();
        async move { Shared::<MonitorState>::builder(servers, dir).open(Duration::from_secs(20)).await }
    });
    let creator = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    let opened = waiting.await.unwrap().unwrap();
    assert_eq!(*opened.read().unwrap(), seed());
    assert_eq!(creator.read().unwrap().version(), opened.read().unwrap().version());
}

#[tokio::test]
async fn create_or_open_adopts_existing_payload() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("adopt");
    let first = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    first.set_interval_ms(5).await.unwrap();

    let other = MonitorState { patterns: vec!["never*".into()], interval_ms: 1 };
    let second = Shared::builder(server.connect_string(), &dir).create_or_open(other).await.unwrap();

    assert_eq!(second.read().unwrap().patterns, seed().patterns);
    assert_eq!(second.read().unwrap().interval_ms, 5);
}

#[tokio::test]
async fn listener_nodes_follow_instances() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("listeners");
    let first = Shared::builder(server.connect_string(), &dir)
        .instance_id("agent-1")
        .create_or_open(seed())
        .await
        .unwrap();
    let second = Shared::builder(server.connect_string(), &dir)
        .instance_id("agent-2")
        .create_or_open(seed())
        .await
        .unwrap();
    assert_eq!(first.instance_id(), "agent-1");
    assert_eq!(first.instances().await.unwrap(), ["agent-1", "agent-2"]);

    let duplicate =
        Shared::builder(server.connect_string(), &dir).instance_id("agent-2").create_or_open(seed()).await;
    assert!(matches!(duplicate, Err(Error::InstanceIdInUse { .. })), "{duplicate:?}");

    second.close().await.unwrap();
    assert_eq!(first.instances().await.unwrap(), ["agent-1"]);
    assert!(matches!(second.read(), Err(Error::Closed { .. })));

    let third = Shared::builder(server.connect_string(), &dir)
        .instance_id("agent-3")
        .create_or_open(seed())
        .await
        .unwrap();
    drop(third);
    wait_until(Duration::from_secs(10), "the dropped instance's node to vanish", || async {
        first.instances().await.unwrap() == ["agent-1"]
    })
    .await;
}

#[tokio::test]
async fn lock_timeout_leaves_no_lock_node() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("lock-timeout");
    let state = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_millis(300))
        .create_or_open(seed())
        .await
        .unwrap();
    let lock_dir = format!("{dir}/lock");
    let holder = ForeignNode::create(&servers, &format!("{lock_dir}/_c_foreign-lock-"));

    let result = state.update(|s| s.interval_ms = 1).await;
    let Err(Error::LockTimeout { holder: reported, .. }) = &result else {
        panic!("expected LockTimeout, got {result:?}")
    };
    assert_eq!(reported, &holder.path);

    // An update cancelled while it waits for the lock leaves nothing behind either.
    let cancelled =
        tokio::time::timeout(Duration::from_millis(100), state.update(|s| s.interval_ms = 2)).await;
    assert!(cancelled.is_err());
    let holder_name = holder.path.rsplit('/').next().unwrap().to_owned();
    wait_until(Duration::from_secs(10), "only the foreign lock node to remain", || async {
        kazoo_children(&servers, &lock_dir) == [holder_name.clone()]
    })
    .await;

    holder.release();
    state.update(|s| s.interval_ms = 3).await.unwrap();
    assert_eq!(state.read().unwrap().interval_ms, 3);
    assert!(kazoo_children(&servers, &lock_dir).is_empty());
}

#[tokio::test]
async fn invalid_dir_fails_before_connecting() {
    for dir in ["relative", "/trailing/", "/a//b", "/a/../b", "/", "/app/payload", "/app/lock/x"] {
        // Nothing listens on port 1, so an attempt to connect would fail differently.
        let result = Shared::builder("127.0.0.1:1", dir).create_or_open(seed()).await;
        match result {
            Err(Error::InvalidPath { path, .. }) => assert_eq!(path, dir),
            other => panic!("{dir:?}: expected InvalidPath, got {other:?}"),
        }
    }
    let result = Shared::builder("127.0.0.1:1/zookeeper/app", "/state").create_or_open(seed()).await;
    assert!(matches!(result, Err(Error::InvalidServers { .. })), "{result:?}");
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Blob {
    pub data: String,
}

#[tokio::test]
async fn oversized_payload_is_rejected_before_sending() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("large");
    let state = Shared::builder(&servers, &dir).create_or_open(Blob { data: "small".into() }).await.unwrap();
    let large = "x".repeat(1_100_000);

    let rejected = state.update(|blob| blob.data = large.clone()).await;

    let Err(Error::TooLarge { size, limit, .. }) = rejected else {
        panic!("expected TooLarge, got {rejected:?}")
    };
    assert_eq!(size, 1_100_000 + r#"{"data":""}"#.len());
    assert_eq!(limit, zkstruct::DEFAULT_MAX_PAYLOAD_BYTES);
    assert_eq!(state.read_consistent().await.unwrap().data, "small");
    assert_eq!(state.read().unwrap().version().version(), 0);
    assert!(kazoo_children(&servers, &format!("{dir}/lock")).is_empty());

    let initial =
        Shared::builder(&servers, unique_dir("large-initial")).create_or_open(Blob { data: large }).await;
    assert!(matches!(initial, Err(Error::TooLarge { .. })), "{initial:?}");
}

#[tokio::test]
async fn payload_above_server_limit_is_reported() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("jute");
    let state = Shared::builder(&servers, &dir)
        .max_payload_bytes(4_000_000)
        .create_or_open(Blob { data: "small".into() })
        .await
        .unwrap();

    // The server's jute.maxbuffer (1,048,575 bytes by default) is below the client's limit.
    let result = state.update(|blob| blob.data = "x".repeat(1_100_000)).await;

    assert!(matches!(result, Err(Error::ConnectionLostOnWrite { .. })), "{result:?}");
    assert_eq!(state.read_consistent().await.unwrap().data, "small");
    wait_until(EVENT_TIMEOUT, "the lock node to be released", || async {
        kazoo_children(&servers, &format!("{dir}/lock")).is_empty()
    })
    .await;
}

#[tokio::test]
async fn raised_server_limit_takes_larger_payloads() {
    init_tracing();
    let server = ZkServer::builder().property("jute.maxbuffer", "4194304").start().await.unwrap();
    let state = Shared::builder(server.connect_string(), unique_dir("jute-raised"))
        .max_payload_bytes(4_000_000)
        .create_or_open(Blob { data: "small".into() })
        .await
        .unwrap();

    let written = state.update(|blob| blob.data = "x".repeat(2_000_000)).await.unwrap();

    assert_eq!(written.len(), 1);
    assert_eq!(state.read_consistent().await.unwrap().data.len(), 2_000_000);
}
