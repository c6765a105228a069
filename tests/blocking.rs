//! The blocking API, from threads without an async runtime.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::ZkServer;
use zkstruct::{Error, Event, Modified, Shared, ZkShared};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    pub level: u32,
    pub name: String,
}

/// Starts a server with a runtime of its own, which the test then leaves.
fn start_server() -> (tokio::runtime::Runtime, ZkServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ZkServer::start()).unwrap();
    (runtime, server)
}

#[test]
fn blocking_handles_share_state() {
    init_tracing();
    let (_runtime, server) = start_server();
    let dir = unique_dir("blocking");
    let first = Shared::builder(server.connect_string(), &dir)
        .instance_id("first")
        .create_or_open_blocking(Settings { level: 1, name: "a".into() })
        .unwrap();
    let second = Shared::<Settings>::builder(server.connect_string(), &dir)
        .instance_id("second")
        .open_blocking(EVENT_TIMEOUT)
        .unwrap();
    let mut events = second.subscribe();
    let (handled, handled_events) = mpsc::channel();
    let _handler = second.on_change(move |event| {
        let _ = handled.send(event);
    });

    let written = first.update(|settings| settings.level = 2).unwrap();
    assert_eq!(written.changes(), [SettingsChange::Level(Modified { old: 1, new: 2 })]);
    assert_eq!(first.read().unwrap().level, 2);

    let Some(Event::Changed(seen)) = events.recv_timeout(EVENT_TIMEOUT).unwrap() else {
        panic!("expected changes")
    };
    assert_eq!(seen.changes(), written.changes());
    let Event::Changed(handled) = handled_events.recv_timeout(EVENT_TIMEOUT).unwrap() else {
        panic!("expected changes")
    };
    assert_eq!(handled.changes(), written.changes());
    assert_eq!(second.read_consistent().unwrap().level, 2);
    assert_eq!(first.instances().unwrap(), ["first", "second"]);

    drop(first);
    assert_eq!(second.instances().unwrap(), ["second"], "dropping the last clone closes the handle");
    second.close().unwrap();
    assert!(events.next().is_none(), "the subscription ends with the handle");
}

#[tokio::test]
async fn blocking_call_inside_runtime_fails() {
    let result = Shared::builder("127.0.0.1:1", "/app")
        .create_or_open_blocking(Settings { level: 1, name: "a".into() });
    assert!(matches!(result, Err(Error::BlockingInAsyncContext)), "{result:?}");
}

#[test]
fn subscription_drops_inside_runtime() {
    init_tracing();
    let (runtime, server) = start_server();
    let state = Shared::builder(server.connect_string(), unique_dir("blocking-drop"))
        .create_or_open_blocking(Settings { level: 1, name: "a".into() })
        .unwrap();
    let subscription = state.subscribe();
    drop(state);

    // The subscription now holds the handle's runtime alone; dropping it inside another
    // runtime stops that runtime without blocking.
    runtime.block_on(async move { drop(subscription) });
}
