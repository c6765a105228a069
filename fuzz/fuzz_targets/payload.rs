//! Decodes arbitrary bytes as the payload of a monitor-shaped state, then diffs it against a
//! fixed state. Checks that decoding never panics, that a decoded payload encodes and decodes
//! to the same value, and that the typed changes replay to the decoded value.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use zkstruct::{ChangePath, Diff, ZkShared};

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostSettings {
    pub port: u16,
    pub tags: Vec<String>,
    pub weight: Option<f64>,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub interval_ms: u64,
    #[serde(default)]
    pub hosts: BTreeMap<String, HostSettings>,
    #[serde(default)]
    pub owner: Option<String>,
}

fn seed() -> MonitorState {
    let host = HostSettings { port: 8080, tags: vec!["prod".into()], weight: Some(1.5) };
    MonitorState {
        patterns: vec!["systemd*".into(), "rsync*".into()],
        interval_ms: 1000,
        hosts: [("web-1".to_owned(), host)].into(),
        owner: None,
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((value, encoded)) = zkstruct::__fuzz::round_trip::<MonitorState>(bytes) else { return };

    let (decoded_again, encoded_again) =
        zkstruct::__fuzz::round_trip::<MonitorState>(&encoded).expect("an encoded payload decodes");
    assert_eq!(decoded_again, value);
    assert_eq!(encoded_again, encoded);

    let old = seed();
    let mut replayed = old.clone();
    for change in MonitorState::changes(&old, &value) {
        let _ = change.key_path().to_string();
        replayed.apply(change).expect("a change from diff applies");
    }
    // JSON has no NaN, so every decoded value equals itself.
    assert_eq!(replayed, value);
});
