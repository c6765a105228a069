//! Presence: the live instances under `/<dir>/listeners` as a set, their metadata, and the
//! stream of instances that join and leave.

mod common;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::{FaultProxy, ProxyMode, ZkServer};
use zkstruct::{PresenceEvent, PresenceEvents, Shared, ZkShared};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Config {
    pub enabled: bool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Metadata {
    host: String,
    pid: u32,
}

async fn next_presence(events: &mut PresenceEvents) -> PresenceEvent {
    tokio::time::timeout(EVENT_TIMEOUT, events.recv())
        .await
        .expect("a presence event in time")
        .expect("the stream is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_join_and_leave() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap()).await.unwrap();
    let dir = unique_dir("presence");
    let open = |servers: String, id: &'static str| {
        let dir = dir.clone();
        async move {
            Shared::builder(servers, &dir)
                .instance_id(id)
                .instance_metadata(Metadata { host: format!("{id}.example"), pid: 42 })
                .session_timeout(Duration::from_secs(2))
                .create_or_open(Config { enabled: true })
                .await
                .unwrap()
        }
    };

    let watcher = open(servers.clone(), "a").await;
    let mut events = watcher.presence_events();
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Joined("a".into()));

    let joiner = open(servers.clone(), "b").await;
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Joined("b".into()));
    let members = watcher.members().await.unwrap();
    assert_eq!(members.keys().collect::<Vec<_>>(), ["a", "b"]);
    let metadata: Metadata = members["b"].metadata_as().unwrap();
    assert_eq!(metadata, Metadata { host: "b.example".into(), pid: 42 });

    joiner.close().await.unwrap();
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Left("b".into()));

    // An instance whose session expires leaves, and joins again on its new session.
    let flaky = open(proxy.connect_string(), "c").await;
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Joined("c".into()));
    proxy.set_mode(ProxyMode::Cut);
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Left("c".into()));
    proxy.set_mode(ProxyMode::Forward);
    assert_eq!(next_presence(&mut events).await, PresenceEvent::Joined("c".into()));
    assert_eq!(flaky.instances().await.unwrap(), ["a", "c"]);

    watcher.close().await.unwrap();
    assert!(
        tokio::time::timeout(EVENT_TIMEOUT, events.recv()).await.unwrap().is_none(),
        "the stream ends on close"
    );
}

#[tokio::test]
async fn unencodable_metadata_is_rejected() {
    struct Unencodable;
    impl Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no JSON form"))
        }
    }

    let result = Shared::builder("127.0.0.1:1", "/app")
        .instance_metadata(Unencodable)
        .create_or_open(Config { enabled: true })
        .await;
    assert!(
        matches!(result, Err(zkstruct::Error::InvalidOption { option: "instance_metadata", .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn oversized_metadata_is_rejected() {
    let result = Shared::builder("127.0.0.1:1", "/app")
        .max_payload_bytes(64)
        .instance_metadata("x".repeat(100))
        .create_or_open(Config { enabled: true })
        .await;
    assert!(
        matches!(result, Err(zkstruct::Error::InvalidOption { option: "instance_metadata", .. })),
        "{result:?}"
    );
}
