//! Nested typed changes against a real ZooKeeper server: a foreign client edits one entry of
//! a nested map, and per-field subscriptions see only their field.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::ZkServer;
use zkstruct::{
    ChangePath, FieldEvent, MapChange, Modified, OptionChange, Origin, Shared, VecChange, ZkShared,
};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostSettings {
    pub port: u16,
    pub max_connections: u32,
    pub tags: Vec<String>,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Fleet {
    pub hosts: BTreeMap<String, HostSettings>,
    pub owner: Option<String>,
    pub interval_ms: u64,
}

fn fleet() -> Fleet {
    let host = |port| HostSettings { port, max_connections: 100, tags: vec!["prod".into()] };
    Fleet {
        hosts: [("web-1".to_owned(), host(8080)), ("web-2".to_owned(), host(8081))].into(),
        owner: None,
        interval_ms: 1000,
    }
}

#[tokio::test]
async fn foreign_map_edit_is_one_change() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("nested")).create_or_open(fleet()).await.unwrap();
    let mut events = state.subscribe();

    // kazoo reads the JSON, changes one port, and writes it back, as an operator would.
    let path = state.payload_path();
    kazoo(
        &servers,
        &format!(
            "import json\ndata, _ = zk.get({path:?})\ndoc = json.loads(data)\n\
             doc['hosts']['web-2']['port'] = 9090\nzk.set({path:?}, json.dumps(doc).encode())"
        ),
    );

    let seen = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(
        seen.changes(),
        [FleetChange::Hosts(MapChange::Modified {
            key: "web-2".into(),
            change: HostSettingsChange::Port(Modified { old: 8081, new: 9090 }),
        })]
    );
    assert_eq!(seen[0].key_path().to_string(), r#"$.hosts["web-2"].port"#);
    assert_eq!(seen[0].key_path().to_json_pointer(), "/hosts/web-2/port");
    assert_eq!(seen.origin(), Origin::Remote);
    assert_eq!(seen.snapshot().hosts["web-2"].port, 9090);
}

#[tokio::test]
async fn nested_changes_can_be_matched_at_any_depth() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let state =
        Shared::builder(server.connect_string(), unique_dir("deep")).create_or_open(fleet()).await.unwrap();

    let changes = state
        .update(|fleet| {
            fleet.hosts.get_mut("web-1").unwrap().tags.push("canary".into());
            fleet.hosts.remove("web-2");
            fleet.owner = Some("sre".into());
        })
        .await
        .unwrap();

    let mut described = Vec::new();
    for change in &changes {
        let text = match change {
            FleetChange::Hosts(MapChange::Modified {
                key,
                change: HostSettingsChange::Tags(VecChange::Added { value, .. }),
            }) => format!("{key} tagged {value}"),
            FleetChange::Hosts(MapChange::Removed { key, value }) => {
                format!("{key} removed (port {})", value.port)
            }
            FleetChange::Owner(OptionChange::Added(owner)) => format!("owner set to {owner}"),
            other => panic!("unexpected change {other:?}"),
        };
        described.push((text, change.key_path().to_string()));
    }
    assert_eq!(
        described,
        [
            ("web-1 tagged canary".to_owned(), r#"$.hosts["web-1"].tags[1]"#.to_owned()),
            ("web-2 removed (port 8081)".to_owned(), r#"$.hosts["web-2"]"#.to_owned()),
            ("owner set to sre".to_owned(), "$.owner".to_owned()),
        ]
    );
}

#[tokio::test]
async fn field_subscription_sees_only_its_field() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let dir = unique_dir("field");
    let writer = Shared::builder(server.connect_string(), &dir).create_or_open(fleet()).await.unwrap();
    let reader = Shared::<Fleet>::builder(server.connect_string(), &dir).open(EVENT_TIMEOUT).await.unwrap();
    let mut intervals = reader.subscribe_interval_ms();
    let mut hosts = reader.subscribe_hosts();

    writer.update(|fleet| fleet.owner = Some("sre".into())).await.unwrap();
    writer.set_interval_ms(250).await.unwrap();

    let event = tokio::time::timeout(EVENT_TIMEOUT, intervals.recv()).await.unwrap().unwrap();
    let FieldEvent::Changed(interval_changes) = event else { panic!("expected changes, got {event:?}") };
    assert_eq!(interval_changes.changes(), [Modified { old: 1000, new: 250 }]);
    assert_eq!(
        interval_changes.version().version(),
        2,
        "the version that changed only the owner was skipped"
    );

    writer.update(|fleet| fleet.hosts.get_mut("web-1").unwrap().max_connections = 5).await.unwrap();
    let event = tokio::time::timeout(EVENT_TIMEOUT, hosts.recv()).await.unwrap().unwrap();
    let FieldEvent::Changed(host_changes) = event else { panic!("expected changes, got {event:?}") };
    assert_eq!(
        host_changes.changes(),
        [MapChange::Modified {
            key: "web-1".into(),
            change: HostSettingsChange::MaxConnections(Modified { old: 100, new: 5 }),
        }]
    );
    assert_eq!(host_changes.version().version(), 3);
}
