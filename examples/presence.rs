//! Presence: which instances are live on a dir, with the metadata each one wrote.
//!
//! Run it in several terminals, then stop some of them:
//!
//! ```text
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example presence
//! ```
//!
//! Environment: `ZOOKEEPER_SERVERS` (default `127.0.0.1:2181`) and `ZKSTRUCT_DIR` (default
//! `/zkstruct/presence`).

use serde::{Deserialize, Serialize};
use zkstruct::{PresenceEvent, Shared, ZkShared};

/// The shared value: this example only needs the presence that comes with it.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Cluster {
    name: String,
}

/// The metadata each instance writes into its listener node.
#[derive(Serialize, Deserialize, Debug)]
struct Metadata {
    host: String,
    pid: u32,
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("presence: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), zkstruct::Error> {
    let servers = std::env::var("ZOOKEEPER_SERVERS").unwrap_or_else(|_| "127.0.0.1:2181".to_owned());
    let dir = std::env::var("ZKSTRUCT_DIR").unwrap_or_else(|_| "/zkstruct/presence".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
    let state = Shared::builder(&servers, &dir)
        .instance_metadata(Metadata { host, pid: std::process::id() })
        .create_or_open(Cluster { name: "example".into() })
        .await?;
    println!("this instance: {}", state.instance_id());

    let mut events = state.presence_events();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Some(PresenceEvent::Joined(id)) => {
                    let members = state.members().await?;
                    let metadata = members.get(&id).and_then(|member| member.metadata_as::<Metadata>().ok());
                    match metadata {
                        Some(metadata) => println!("joined: {id} (host {}, pid {})", metadata.host, metadata.pid),
                        None => println!("joined: {id}"),
                    }
                }
                Some(PresenceEvent::Left(id)) => println!("left: {id}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    state.close().await
}
