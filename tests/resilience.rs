//! What real ZooKeeper deployments do to a shared value: restarts, expired sessions,
//! failover, foreign writers, deleted nodes, dead lock holders, lost replies, silent links
//! and shutdowns. Each test starts its own servers and asserts the outcome exactly.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::{FaultProxy, ProxyMode, ZkEnsemble, ZkServer};
use zkstruct::{
    ConnectionState, ConnectionStates, Diff, Error, Event, Modified, Origin, Shared, VecChange, ZkShared,
};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub interval_ms: u64,
}

fn seed() -> MonitorState {
    MonitorState { patterns: vec!["systemd*".into(), "rsync*".into()], interval_ms: 1000 }
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Counter {
    pub count: u64,
}

/// Increments the counter once, retrying every failure that proves nothing was written.
async fn increment(shared: &Shared<Counter>) -> u32 {
    let mut retries = 0;
    loop {
        match shared.update(|counter| counter.count += 1).await {
            Ok(_) => return retries,
            Err(error @ Error::OutcomeUnknown { .. }) => {
                panic!("an increment had an unknown outcome: {error}")
            }
            Err(_) => retries += 1,
        }
    }
}

/// Waits for the connection state `expected`, failing the test after `timeout`.
async fn wait_for_state(states: &mut ConnectionStates, expected: ConnectionState, timeout: Duration) {
    let waited = tokio::time::timeout(timeout, async {
        while let Some(state) = states.recv().await {
            if state == expected {
                return;
            }
        }
        panic!("the connection state stream ended before {expected:?}");
    })
    .await;
    assert!(waited.is_ok(), "no {expected:?} within {timeout:?}");
}

fn socket(server: &ZkServer) -> std::net::SocketAddr {
    format!("127.0.0.1:{}", server.port()).parse().unwrap()
}

/// Returns the stat of `path` as kazoo reads it: `czxid ephemeral_owner version`.
fn kazoo_stat(servers: &str, path: &str) -> String {
    kazoo(servers, &format!("s = zk.exists({path:?})\nprint(s.czxid, s.ephemeralOwner, s.version)"))
}

/// 1. A server restart shorter than the session timeout keeps the session. No change is
/// lost or delivered twice, and reads stay fresh within the freshness limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_within_session_timeout() {
    init_tracing();
    let mut server = ZkServer::start().await.unwrap();
    let dir = unique_dir("restart");
    let open =
        |dir: &str| Shared::builder(server.connect_string(), dir).session_timeout(Duration::from_secs(20));
    let writer = open(&dir).create_or_open(seed()).await.unwrap();
    let reader = open(&dir).create_or_open(seed()).await.unwrap();
    let sessions = (writer.session_id(), reader.session_id());
    let mut events = reader.subscribe();
    let mut states = writer.connection_states();

    writer.set_interval_ms(1).await.unwrap();
    server.stop().await.unwrap();
    assert!(writer.read().is_ok(), "an outage shorter than the freshness limit keeps reads fresh");
    server.start_again().await.unwrap();
    wait_for_state(&mut states, ConnectionState::Reconnected, EVENT_TIMEOUT).await;

    // Version 1 reaches the reader through its watch, or through the check it makes after
    // reconnecting. Writing version 2 before that would let the reader coalesce both.
    let mut seen = vec![next_changes(&mut events, EVENT_TIMEOUT).await.version().version()];
    writer.set_interval_ms(2).await.unwrap();
    seen.push(next_changes(&mut events, EVENT_TIMEOUT).await.version().version());
    assert_eq!(seen, [1, 2], "each version is delivered once, in order");
    assert_eq!((writer.session_id(), reader.session_id()), sessions);
    // An event is sent before the local copy is replaced, so read() catches up just after.
    wait_until(EVENT_TIMEOUT, "the reader's copy to reach version 2", || async {
        reader.read().is_ok_and(|snapshot| snapshot.interval_ms == 2)
    })
    .await;
}

/// 2. An expired session is replaced: the listener node comes back, the changes made while
/// away arrive as typed events, and an update waiting when the session died fails without
/// writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_opens_a_new_session() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let proxy = FaultProxy::start(socket(&server)).await.unwrap();
    let dir = unique_dir("expiry");
    let away = Shared::builder(proxy.connect_string(), &dir)
        .instance_id("away")
        .session_timeout(Duration::from_secs(2))
        .lock_timeout(Duration::from_secs(60))
        .create_or_open(seed())
        .await
        .unwrap();
    let other = Shared::builder(&servers, &dir).instance_id("other").create_or_open(seed()).await.unwrap();
    let mut events = away.subscribe();
    let mut states = away.connection_states();
    let first_session = away.session_id();

    // Hold the lock elsewhere, so the update waits for it when the session dies.
    let lock_dir = format!("{dir}/lock");
    let holder = ForeignNode::create(&servers, &format!("{lock_dir}/_c_holder-lock-"));
    let waiting = tokio::spawn({
        let away = away.clone();
        async move { away.update(|s| s.interval_ms = 99).await }
    });
    wait_until(EVENT_TIMEOUT, "the waiting update's lock node", || async {
        kazoo_children(&servers, &lock_dir).len() == 2
    })
    .await;

    proxy.set_mode(ProxyMode::Cut);
    wait_for_state(&mut states, ConnectionState::Expired, EVENT_TIMEOUT).await;
    holder.release();
    other.update(|s| s.patterns.push("while-away*".into())).await.unwrap();
    proxy.set_mode(ProxyMode::Forward);
    wait_for_state(&mut states, ConnectionState::NewSession, EVENT_TIMEOUT).await;

    let failed = tokio::time::timeout(EVENT_TIMEOUT, waiting).await.unwrap().unwrap();
    assert!(failed.is_err(), "the update waiting on the dead session must fail: {failed:?}");
    let missed = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        missed.changes(),
        [MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "while-away*".into() })]
    );
    assert_ne!(away.session_id(), first_session);
    wait_until(EVENT_TIMEOUT, "the listener node to come back", || async {
        away.instances().await.is_ok_and(|ids| ids == ["away", "other"])
    })
    .await;

    // The watch is armed on the new session.
    other.set_interval_ms(7).await.unwrap();
    let after = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(after.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 7 })]);
    assert_eq!(other.read_consistent().await.unwrap().interval_ms, 7, "the dead session wrote nothing");
    away.update(|s| s.interval_ms = 8).await.unwrap();
}

/// 3. Two writers increment a counter 500 times each on a three-member ensemble while the
/// leader is killed once and another member is paused and resumed: the result is exactly
/// 1000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_failover_loses_no_increment() {
    const INCREMENTS: u64 = 500;
    init_tracing();
    let mut ensemble = ZkEnsemble::start(3).await.unwrap();
    let servers = ensemble.connect_string();
    let dir = unique_dir("failover");
    let mut writers = Vec::new();
    for _ in 0..2 {
        let writer = Shared::builder(&servers, &dir)
            .session_timeout(Duration::from_secs(20))
            .lock_timeout(Duration::from_secs(60))
            .create_or_open(Counter { count: 0 })
            .await
            .unwrap();
        writers.push(writer);
    }
    let observer = writers[0].clone();

    let mut tasks = tokio::task::JoinSet::new();
    for writer in writers {
        tasks.spawn(async move {
            let mut retries = 0;
            for _ in 0..INCREMENTS {
                retries += increment(&writer).await;
            }
            retries
        });
    }

    let reached = |count: u64| {
        let observer = observer.clone();
        move || {
            let observer = observer.clone();
            async move { observer.read_dirty().count >= count }
        }
    };
    // A three-member ensemble keeps its quorum with one member down, so the faults come
    // one at a time.
    let long = Duration::from_secs(120);
    wait_until(long, "200 increments", reached(200)).await;
    let leader = ensemble.leader().await.expect("the ensemble has a leader");
    ensemble.member_mut(leader).kill().unwrap();
    wait_until(long, "400 increments", reached(400)).await;
    ensemble.member_mut(leader).start_again().await.unwrap();
    wait_until(long, "600 increments", reached(600)).await;
    let paused = (leader + 1) % 3;
    ensemble.member(paused).pause().unwrap();
    wait_until(long, "800 increments", reached(800)).await;
    ensemble.member(paused).resume().unwrap();

    let retries: u32 = tasks.join_all().await.into_iter().sum();
    tracing::info!(retries, "increments retried after failures that wrote nothing");
    assert_eq!(observer.read_consistent().await.unwrap().count, 2 * INCREMENTS);
}

/// 4. A thousand back-to-back updates: a second instance ends on the final value, and the
/// changes it received rebuild that value from the one it started with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_writes_replay_to_the_final_value() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("rapid");
    let writer = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    let reader = Shared::<MonitorState>::builder(server.connect_string(), &dir)
        .event_capacity(4096)
        .open(EVENT_TIMEOUT)
        .await
        .unwrap();
    let start = reader.read().unwrap();
    let mut events = reader.subscribe();

    for step in 0..1000_u64 {
        writer
            .update(|s| match step % 3 {
                0 => s.patterns.push(format!("p{step}*")),
                1 => s.interval_ms = step,
                _ => {
                    s.patterns.remove(0);
                }
            })
            .await
            .unwrap();
    }
    let last = writer.read().unwrap();

    // Versions may be coalesced, but the changes received must rebuild the final value.
    let mut replayed: MonitorState = (*start).clone();
    while replayed != *last {
        match next_event(&mut events, EVENT_TIMEOUT).await {
            Event::Changed(changes) => {
                for change in changes {
                    replayed.apply(change).unwrap();
                }
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    wait_until(EVENT_TIMEOUT, "the reader's copy to reach the last version", || async {
        reader.read().is_ok_and(|snapshot| *snapshot == *last)
    })
    .await;
}

/// 5. A foreign client deletes the payload, or the whole dir, and creates it again: the
/// version restarts at 0, the instance takes the new node, and keeps or restores its
/// listener node.
#[tokio::test]
async fn deleted_and_recreated_payload_is_a_new_node() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("recreate");
    let state = Shared::builder(&servers, &dir).instance_id("agent").create_or_open(seed()).await.unwrap();
    state.set_interval_ms(5).await.unwrap();
    let listener = format!("{dir}/listeners/agent");
    let listener_stat = kazoo_stat(&servers, &listener);
    let mut events = state.subscribe();
    let payload = state.payload_path().to_owned();

    kazoo(&servers, &format!("zk.delete({payload:?})"));
    assert!(matches!(
        next_event(&mut events, EVENT_TIMEOUT).await,
        Event::Failed(Error::PayloadMissing { .. })
    ));
    kazoo(&servers, &format!("zk.create({payload:?}, b'{{\"patterns\": [], \"interval_ms\": 5}}')"));
    let resynced = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(resynced.version().version(), 0);
    assert_eq!(resynced.len(), 2, "both patterns removed: {resynced:?}");
    assert_eq!(kazoo_stat(&servers, &listener), listener_stat, "the listener node was kept");
    state.set_interval_ms(6).await.unwrap();
    assert_eq!(state.read().unwrap().version().version(), 1);
    assert_eq!(next_changes(&mut events, EVENT_TIMEOUT).await.origin(), Origin::Local);

    kazoo(&servers, &format!("zk.delete({dir:?}, recursive=True)"));
    let event = next_event(&mut events, EVENT_TIMEOUT).await;
    assert!(matches!(event, Event::Failed(Error::PayloadMissing { .. })), "{event:?}");
    kazoo(
        &servers,
        &format!("zk.create({payload:?}, b'{{\"patterns\": [\"new\"], \"interval_ms\": 6}}', makepath=True)"),
    );
    let recreated = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        recreated.changes(),
        [MonitorStateChange::Patterns(VecChange::Added { index: 0, value: "new".into() })]
    );
    wait_until(EVENT_TIMEOUT, "the listener node to come back", || async {
        kazoo_children(&servers, &format!("{dir}/listeners")) == ["agent"]
    })
    .await;
    state.set_interval_ms(7).await.unwrap();
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OlderSettings {
    pub name: String,
    #[serde(default)]
    pub retries: u32,
}

/// 7. A key written by a newer version survives an older instance's write, and a field
/// missing from the payload takes its serde default.
#[tokio::test]
async fn schema_evolution_keeps_unknown_keys() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("schema");
    kazoo(
        &servers,
        &format!("zk.create('{dir}/payload', b'{{\"name\": \"a\", \"added_later\": {{\"x\": [1, 2]}}}}', makepath=True)"),
    );

    let older = Shared::<OlderSettings>::builder(&servers, &dir).open(EVENT_TIMEOUT).await.unwrap();
    assert_eq!(*older.read().unwrap(), OlderSettings { name: "a".into(), retries: 0 });
    older.set_name("b".into()).await.unwrap();

    let stored: serde_json::Value = serde_json::from_str(&kazoo_get(&servers, older.payload_path())).unwrap();
    assert_eq!(stored, serde_json::json!({"name": "b", "retries": 0, "added_later": {"x": [1, 2]}}));
}

/// 9. A process that holds the lock is killed with SIGKILL: a writer whose lock timeout is
/// shorter than the session timeout fails with a lock timeout, and a patient one proceeds
/// once the dead session expires.
#[tokio::test]
async fn killed_lock_holder_releases_at_expiry() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("killed");
    let state = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_millis(300))
        .create_or_open(seed())
        .await
        .unwrap();
    let lock_dir = format!("{dir}/lock");
    let holder = ForeignNode::create_with_session_timeout(
        &servers,
        &format!("{lock_dir}/_c_dead-lock-"),
        Duration::from_secs(2),
    );
    let holder_path = holder.path.clone();
    holder.kill();

    let impatient = state.update(|s| s.interval_ms = 1).await;
    let Err(Error::LockTimeout { holder, .. }) = impatient else {
        panic!("expected LockTimeout, got {impatient:?}")
    };
    assert_eq!(holder, holder_path);

    let patient = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_secs(30))
        .create_or_open(seed())
        .await
        .unwrap();
    patient.set_interval_ms(2).await.unwrap();
    assert!(kazoo_children(&servers, &lock_dir).is_empty());
}

/// 10. Fifty instances in this process and four in other processes converge on the final
/// value of 200 mixed updates. Every live instance is listed, and a closed one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_instances_converge() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("fanout");
    let mut instances = Vec::new();
    for index in 0..50 {
        let instance = Shared::builder(&servers, &dir)
            .instance_id(format!("local-{index:02}"))
            .lock_timeout(Duration::from_secs(60))
            .create_or_open(seed())
            .await
            .unwrap();
        instances.push(instance);
    }
    let mut monitors = Vec::new();
    for _ in 0..4 {
        monitors.push(MonitorProcess::start(&servers, &dir));
    }
    wait_until(EVENT_TIMEOUT, "54 listener nodes", || async {
        instances[0].instances().await.is_ok_and(|ids| ids.len() == 54)
    })
    .await;

    let mut tasks = tokio::task::JoinSet::new();
    for (writer_index, writer) in instances.iter().take(5).enumerate() {
        let writer = writer.clone();
        tasks.spawn(async move {
            for step in 0..40_u64 {
                loop {
                    let result = writer
                        .update(|s| match step % 2 {
                            0 => s.patterns.push(format!("w{writer_index}-{step}")),
                            _ => s.interval_ms += 1,
                        })
                        .await;
                    match result {
                        Ok(_) => break,
                        Err(Error::StaleWrite { .. }) => continue,
                        Err(error) => panic!("update failed: {error}"),
                    }
                }
            }
        });
    }
    tasks.join_all().await;
    let last = instances[0].read_consistent().await.unwrap();
    assert_eq!(last.version().version(), 200);
    assert_eq!(last.patterns.len(), 2 + 100);
    assert_eq!(last.interval_ms, 1000 + 100);

    for instance in &instances {
        wait_until(EVENT_TIMEOUT, "every instance to reach version 200", || async {
            instance.read_dirty().version() == last.version()
        })
        .await;
        assert_eq!(*instance.read().unwrap(), *last);
    }
    for monitor in &monitors {
        wait_until(EVENT_TIMEOUT, "every monitor process to reach version 200", || async {
            monitor.output().contains(", version 200)")
        })
        .await;
    }

    instances[7].close().await.unwrap();
    let ids = instances[0].instances().await.unwrap();
    assert_eq!(ids.len(), 53);
    assert!(!ids.contains(&"local-07".to_owned()));
}

/// The process monitor example running in its own process, killed on drop.
struct MonitorProcess {
    child: std::process::Child,
    output: Arc<Mutex<String>>,
}

impl MonitorProcess {
    fn start(servers: &str, dir: &str) -> MonitorProcess {
        let binary = example_binary("process_monitor");
        let mut child = std::process::Command::new(binary)
            .env("ZOOKEEPER_SERVERS", servers)
            .env("ZKSTRUCT_DIR", dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the process monitor starts");
        let stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let collected = output.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut output = collected.lock().unwrap();
                output.push_str(&line);
                output.push('\n');
            }
        });
        MonitorProcess { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for MonitorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the path of an example of this package, building it if needed.
fn example_binary(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_owned();
    let binary = deps.parent().unwrap().join("examples").join(name);
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name, "-p", "zkstruct"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the {name} example failed");
    binary
}

/// 11. The reply to a write is lost and the connection drops, but the session survives:
/// the write is found applied once and reported Ok. When the session expires instead and
/// others write meanwhile, the outcome cannot be proven. The error reports that, and the
/// local copy counts as stale until it is verified again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_is_resolved() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let proxy = Arc::new(FaultProxy::start(socket(&server)).await.unwrap());
    let dir = unique_dir("lost-reply");
    let writer = Shared::builder(proxy.connect_string(), &dir)
        .session_timeout(Duration::from_secs(4))
        .create_or_open(Counter { count: 0 })
        .await
        .unwrap();
    let watcher = Shared::<Counter>::builder(&servers, &dir).open(EVENT_TIMEOUT).await.unwrap();
    let mut events = watcher.subscribe();
    let session = writer.session_id();

    // Drop the replies once the closure has run; cut the link once the write is applied.
    let written = writer
        .update(|counter| {
            counter.count += 1;
            proxy.set_mode(ProxyMode::DropReplies);
            tokio::spawn(cut_after_write(
                proxy.clone(),
                servers.clone(),
                watcher.payload_path().to_owned(),
                1,
            ));
        })
        .await
        .unwrap();

    assert_eq!(written.changes(), [CounterChange::Count(Modified { old: 0, new: 1 })]);
    assert_eq!(writer.session_id(), session);
    assert_eq!(watcher.read_consistent().await.unwrap().count, 1, "applied once");
    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(seen.version().version(), 1);

    // Now the session dies with the reply, and two other writes follow.
    let writer_handle = writer.clone();
    let unknown = writer
        .update(|counter| {
            counter.count += 1;
            proxy.set_mode(ProxyMode::DropReplies);
            let (proxy, servers, writer) = (proxy.clone(), servers.clone(), writer_handle.clone());
            let path = watcher.payload_path().to_owned();
            tokio::spawn(async move {
                wait_for_version(&servers, &path, 2).await;
                proxy.set_mode(ProxyMode::Cut);
                let writes = "import json\nfor _ in range(2):\n    data, stat = zk.get(PATH)\n    \
                              zk.set(PATH, json.dumps({'count': json.loads(data)['count'] + 10}).encode(), stat.version)";
                kazoo(&servers, &format!("PATH = {path:?}\n{writes}"));
                wait_until(EVENT_TIMEOUT, "the writer's session to expire", || async {
                    writer.connection_state() == ConnectionState::Expired
                })
                .await;
                proxy.set_mode(ProxyMode::Forward);
            });
        })
        .await;
    assert!(matches!(unknown, Err(Error::OutcomeUnknown { .. })), "{unknown:?}");
    assert!(matches!(writer.read(), Err(Error::Stale { age: None, .. })), "{:?}", writer.read());
    assert_eq!(writer.read_consistent().await.unwrap().count, 22);
    assert!(writer.read().is_ok());
}

/// Waits until the payload has version `version`, then cuts the proxy.
async fn cut_after_write(proxy: Arc<FaultProxy>, servers: String, path: String, version: i32) {
    wait_for_version(&servers, &path, version).await;
    proxy.set_mode(ProxyMode::Cut);
    wait_until(EVENT_TIMEOUT, "the cut connection to close", || async { proxy.connections() == 0 }).await;
    proxy.set_mode(ProxyMode::Forward);
}

async fn wait_for_version(servers: &str, path: &str, version: i32) {
    let client = zookeeper_client::Client::connect(servers).await.unwrap();
    wait_until(EVENT_TIMEOUT, "the write to be applied", || async {
        client.check_stat(path).await.ok().flatten().is_some_and(|stat| stat.version >= version)
    })
    .await;
}

/// 12. A short disconnect that keeps the session, with a move to another ensemble member:
/// the watch is re-armed, the change made in the gap is delivered, and the listener node
/// is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_to_another_member_keeps_session() {
    init_tracing();
    let ensemble = ZkEnsemble::start(3).await.unwrap();
    let mut proxies = Vec::new();
    for index in 0..3 {
        proxies.push(FaultProxy::start(socket(ensemble.member(index))).await.unwrap());
    }
    let through_proxies: Vec<String> = proxies.iter().map(FaultProxy::connect_string).collect();
    let dir = unique_dir("move");
    // A long freshness limit makes the periodic check rare, so changes must come through
    // the watch, which has to survive the move.
    let moving = Shared::builder(through_proxies.join(","), &dir)
        .instance_id("moving")
        .session_timeout(Duration::from_secs(20))
        .freshness_limit(Duration::from_secs(3600))
        .create_or_open(seed())
        .await
        .unwrap();
    let writer = Shared::builder(ensemble.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    let listener = format!("{dir}/listeners/moving");
    let listener_stat = kazoo_stat(&ensemble.connect_string(), &listener);
    let session = moving.session_id();
    let mut events = moving.subscribe();
    let mut states = moving.connection_states();

    let original =
        proxies.iter().position(|proxy| proxy.connections() == 1).expect("one proxy carries the session");
    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Cut);
    }
    wait_for_state(&mut states, ConnectionState::Suspended, EVENT_TIMEOUT).await;
    writer.update(|s| s.patterns.push("in-the-gap*".into())).await.unwrap();
    let other = (original + 1) % 3;
    proxies[other].set_mode(ProxyMode::Forward);
    wait_for_state(&mut states, ConnectionState::Reconnected, EVENT_TIMEOUT).await;

    let gap = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        gap.changes(),
        [MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "in-the-gap*".into() })]
    );
    assert_eq!(proxies[other].connections(), 1, "the session moved to another member");
    assert_eq!(moving.session_id(), session);
    assert_eq!(kazoo_stat(&ensemble.connect_string(), &listener), listener_stat);

    writer.set_interval_ms(3).await.unwrap();
    let after = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(after.changes(), [MonitorStateChange::IntervalMs(Modified { old: 1000, new: 3 })]);
}

/// 13. A writer whose session expires while it holds the lock never commits. Its write goes
/// out with the lock node's deletion in one multi-op, which the dead session cannot run.
/// The new session does not take the old lock node for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_lock_holder_cannot_commit() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let proxy = Arc::new(FaultProxy::start(socket(&server)).await.unwrap());
    let dir = unique_dir("fencing");
    let fenced = Shared::builder(proxy.connect_string(), &dir)
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await
        .unwrap();
    let other = Shared::builder(&servers, &dir)
        .lock_timeout(Duration::from_secs(30))
        .create_or_open(seed())
        .await
        .unwrap();

    // While the closure holds the lock, cut the link. Once the session has expired, the
    // other writer gets the lock and writes, and then the link comes back.
    let other_wrote = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let (fenced, other, other_wrote) = (fenced.clone(), other.clone(), other_wrote.clone());
        let proxy = proxy.clone();
        async move {
            wait_until(EVENT_TIMEOUT, "the session to expire", || async {
                fenced.connection_state() == ConnectionState::Expired
            })
            .await;
            other.set_interval_ms(5).await.unwrap();
            other_wrote.store(true, Ordering::Release);
            proxy.set_mode(ProxyMode::Forward);
        }
    });
    let result = fenced
        .update(|s| {
            proxy.set_mode(ProxyMode::Cut);
            let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
            while !other_wrote.load(Ordering::Acquire) {
                assert!(std::time::Instant::now() < deadline, "the other writer did not write");
                std::thread::sleep(Duration::from_millis(20));
            }
            s.interval_ms = 77;
        })
        .await;

    assert!(matches!(result, Err(Error::LockLost { .. })), "{result:?}");
    assert_eq!(other.read_consistent().await.unwrap().interval_ms, 5);
    fenced.update(|s| s.interval_ms = 6).await.ok();
    wait_until(EVENT_TIMEOUT, "no lock node to remain", || async {
        kazoo_children(&servers, &format!("{dir}/lock")).is_empty()
    })
    .await;
}

/// 14. With the link blackholed (no reset, no client event yet), `read` turns stale once
/// the freshness limit has passed since the server's last response, before the client
/// notices the connection loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_link_turns_reads_stale() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let proxy = FaultProxy::start(socket(&server)).await.unwrap();
    let state = Shared::builder(proxy.connect_string(), unique_dir("blackhole"))
        .freshness_limit(Duration::from_millis(500))
        .session_timeout(Duration::from_secs(30))
        .create_or_open(seed())
        .await
        .unwrap();
    assert!(state.read().is_ok());

    proxy.set_mode(ProxyMode::Blackhole);
    wait_until(EVENT_TIMEOUT, "read() to turn stale", || async {
        matches!(state.read(), Err(Error::Stale { .. }))
    })
    .await;
    assert_eq!(
        state.connection_state(),
        ConnectionState::Connected,
        "the client has not noticed the loss yet"
    );
    let Err(Error::Stale { age: Some(age), .. }) = state.read() else { panic!("expected Stale with an age") };
    assert!(age > Duration::from_millis(500));

    proxy.set_mode(ProxyMode::Forward);
    wait_until(Duration::from_secs(60), "read() to be fresh again", || async { state.read().is_ok() }).await;
}

/// 15. Handlers of one value never run at the same time, and versions never go down. Each
/// field's old value is the previous new value. A writer reads its own write at once, and
/// its own write echoed by the watch is not delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_ordered_and_not_repeated() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("ordering");
    let own = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();
    let other = Shared::builder(server.connect_string(), &dir).create_or_open(seed()).await.unwrap();

    let running = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _handler = own.on_change({
        let (running, overlaps, seen) = (running.clone(), overlaps.clone(), seen.clone());
        move |event| {
            if running.swap(true, Ordering::AcqRel) {
                overlaps.fetch_add(1, Ordering::AcqRel);
            }
            if let Event::Changed(changes) = event {
                seen.lock().unwrap().push(changes);
            }
            running.store(false, Ordering::Release);
        }
    });

    let foreign = tokio::spawn({
        let other = other.clone();
        async move {
            for step in 0..50 {
                loop {
                    match other.update(|s| s.patterns.push(format!("o{step}"))).await {
                        Ok(_) => break,
                        Err(Error::StaleWrite { .. }) => continue,
                        Err(error) => panic!("{error}"),
                    }
                }
            }
        }
    });
    for step in 1..=50 {
        loop {
            match own.update(|s| s.interval_ms = step).await {
                Ok(_) => break,
                Err(Error::StaleWrite { .. }) => continue,
                Err(error) => panic!("{error}"),
            }
        }
        assert_eq!(own.read().unwrap().interval_ms, step, "a writer reads its own write at once");
    }
    foreign.await.unwrap();
    let last = own.read_consistent().await.unwrap().version();
    wait_until(EVENT_TIMEOUT, "the handler to see the last version", || async {
        seen.lock().unwrap().last().is_some_and(|changes| changes.version() == last)
    })
    .await;

    let seen = seen.lock().unwrap();
    assert_eq!(overlaps.load(Ordering::Acquire), 0);
    let versions: Vec<i32> = seen.iter().map(|changes| changes.version().version()).collect();
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]), "{versions:?}");
    let local = seen.iter().filter(|changes| changes.origin() == Origin::Local).count();
    assert_eq!(local, 50, "each own write is delivered once");
    let mut interval = 1000;
    for change in seen.iter().flat_map(|changes| changes.changes()) {
        if let MonitorStateChange::IntervalMs(Modified { old, new }) = change {
            assert_eq!(*old, interval);
            interval = *new;
        }
    }
    assert_eq!(interval, 50);
}

/// 16. Dropping or closing a handle releases its lock, deletes its listener node, stops its
/// tasks and closes its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_nothing_behind() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let proxy = FaultProxy::start(socket(&server)).await.unwrap();
    let dir = unique_dir("shutdown");
    let lock_dir = format!("{dir}/lock");
    let keeper = Shared::builder(&servers, &dir).instance_id("keeper").create_or_open(seed()).await.unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();

    for close in [false, true] {
        let leaving = Shared::builder(proxy.connect_string(), &dir)
            .instance_id("leaving")
            .lock_timeout(Duration::from_secs(60))
            .create_or_open(seed())
            .await
            .unwrap();
        assert_eq!(keeper.instances().await.unwrap(), ["keeper", "leaving"]);

        // An update waiting for the lock when the handle goes away.
        let holder = ForeignNode::create(&servers, &format!("{lock_dir}/_c_holder-lock-"));
        let waiting = tokio::spawn({
            let leaving = leaving.clone();
            async move { leaving.update(|s| s.interval_ms = 1).await }
        });
        wait_until(EVENT_TIMEOUT, "the waiting lock node", || async {
            kazoo_children(&servers, &lock_dir).len() == 2
        })
        .await;
        waiting.abort();
        if close {
            leaving.close().await.unwrap();
        }
        drop(leaving);
        holder.release();

        wait_until(EVENT_TIMEOUT, "the lock nodes to go", || async {
            kazoo_children(&servers, &lock_dir).is_empty()
        })
        .await;
        wait_until(EVENT_TIMEOUT, "the listener node to go", || async {
            keeper.instances().await.is_ok_and(|ids| ids == ["keeper"])
        })
        .await;
        wait_until(EVENT_TIMEOUT, "the connection to close", || async { proxy.connections() == 0 }).await;
        wait_until(EVENT_TIMEOUT, "the handle's tasks to stop", || async {
            metrics.num_alive_tasks() <= baseline
        })
        .await;
    }
    assert_eq!(*keeper.read().unwrap(), seed());
}
