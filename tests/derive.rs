use serde::{Deserialize, Serialize};
use zkstruct::{ChangePath, Diff, Modified, VecChange, ZkShared};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Fast,
    Slow,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitorState {
    patterns: Vec<String>,
    #[serde(rename = "interval")]
    interval_ms: u64,
    #[zk(opaque)]
    mode: Mode,
    #[serde(skip)]
    local_only: u32,
}

#[test]
fn seed() {
    let old = MonitorState {
        patterns: vec!["a".into()],
        interval_ms: 1,
        mode: Mode::Fast,
        local_only: 0,
    };
    let mut new = old.clone();
    new.patterns.push("b".into());
    new.mode = Mode::Slow;
    let changes = MonitorState::changes(&old, &new);
    assert_eq!(
        changes[0],
        MonitorStateChange::Patterns(VecChange::Added {
            index: 1,
            value: "b".into()
        })
    );
    assert_eq!(
        changes[1],
        MonitorStateChange::Mode(Modified {
            old: Mode::Fast,
            new: Mode::Slow
        })
    );
    assert_eq!(changes[0].key_path().to_string(), "$.patterns[1]");
    assert_eq!(
        <MonitorState as ZkShared>::JSON_KEYS,
        &["patterns", "interval", "mode"]
    );
}
