//! Feature flags kept in ZooKeeper: every instance receives a flag flip as a typed change.
//!
//! ```text
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example feature_flags -- watch
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example feature_flags -- set new-checkout on 25
//! ZOOKEEPER_SERVERS=127.0.0.1:2181 cargo run --example feature_flags -- kill-switch on
//! ```
//!
//! Environment: `ZOOKEEPER_SERVERS` (default `127.0.0.1:2181`) and `ZKSTRUCT_DIR` (default
//! `/zkstruct/feature-flags`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zkstruct::{Event, MapChange, Modified, Shared, ZkShared};

/// One flag: whether it is on, and for what share of users.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Flag {
    enabled: bool,
    #[serde(default = "all_users")]
    rollout_percent: u8,
}

fn all_users() -> u8 {
    100
}

/// Every flag by name, and a switch that turns all of them off.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Flags {
    flags: BTreeMap<String, Flag>,
    #[serde(default)]
    kill_switch: bool,
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("feature_flags: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let servers = std::env::var("ZOOKEEPER_SERVERS").unwrap_or_else(|_| "127.0.0.1:2181".to_owned());
    let dir = std::env::var("ZKSTRUCT_DIR").unwrap_or_else(|_| "/zkstruct/feature-flags".to_owned());
    let state = Shared::builder(&servers, &dir)
        .create_or_open(Flags { flags: BTreeMap::new(), kill_switch: false })
        .await?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["set", name, state_word, rest @ ..] => {
            let enabled = *state_word == "on";
            let rollout_percent = rest.first().map(|percent| percent.parse()).transpose()?.unwrap_or(100);
            let name = name.to_string();
            let changes = state
                .update(move |flags| {
                    flags.flags.insert(name, Flag { enabled, rollout_percent });
                })
                .await?;
            changes.iter().for_each(|change| println!("{}", describe(change)));
        }
        ["kill-switch", state_word] => {
            let changes = state.set_kill_switch(*state_word == "on").await?;
            changes.iter().for_each(|change| println!("{}", describe(change)));
        }
        ["watch"] | [] => {
            println!("flags: {:?}", state.read()?.flags);
            let mut events = state.subscribe();
            while let Some(event) = events.recv().await {
                match event {
                    Event::Changed(changes) => {
                        changes.iter().for_each(|change| println!("{}", describe(change)))
                    }
                    Event::Failed(error) => println!("flags unusable, keeping the last good ones: {error}"),
                    Event::Lagged(missed) => {
                        println!("missed {missed} updates; now {:?}", state.read()?.flags)
                    }
                    _ => {}
                }
            }
        }
        _ => {
            return Err("usage: feature_flags [watch | set NAME on|off [PERCENT] | kill-switch on|off]".into())
        }
    }
    state.close().await?;
    Ok(())
}

/// Describes one typed change in words.
fn describe(change: &FlagsChange) -> String {
    match change {
        FlagsChange::Flags(MapChange::Added { key, value }) => {
            format!("flag {key} added: {} for {}%", on_off(value.enabled), value.rollout_percent)
        }
        FlagsChange::Flags(MapChange::Removed { key, .. }) => format!("flag {key} removed"),
        FlagsChange::Flags(MapChange::Modified {
            key,
            change: FlagChange::Enabled(Modified { new, .. }),
        }) => {
            format!("flag {key} turned {}", on_off(*new))
        }
        FlagsChange::Flags(MapChange::Modified {
            key,
            change: FlagChange::RolloutPercent(Modified { old, new }),
        }) => {
            format!("flag {key} rollout {old}% -> {new}%")
        }
        FlagsChange::KillSwitch(Modified { new, .. }) => format!("kill switch {}", on_off(*new)),
    }
}

fn on_off(enabled: bool) -> &'static str {
    if enabled {
        "on"
    } else {
        "off"
    }
}
