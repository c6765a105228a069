//! The struct every measurement shares, shaped like the process monitor's state.

use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

/// The shared struct. Every write the bench makes increments `counter`, so each write is a
/// one-field change and the final count shows whether a write was lost.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BenchState {
    /// Globs of process names; padded with more entries to reach a payload size.
    pub patterns: Vec<String>,
    pub interval_ms: u64,
    pub counter: u64,
}

impl BenchState {
    /// Returns the state of a small deployment: eight patterns, about 120 bytes of JSON.
    pub fn small() -> Self {
        let patterns = ["systemd*", "rsync*", "sshd*", "nginx*", "postgres*", "redis*", "cron*", "dockerd*"];
        BenchState { patterns: patterns.map(String::from).to_vec(), interval_ms: 1000, counter: 0 }
    }

    /// Returns a state whose JSON encoding is `bytes` long, give or take one pattern
    /// (about 60 bytes).
    pub fn sized(bytes: usize) -> Self {
        let mut state = BenchState::small();
        let pattern = |index: usize| format!("process-{index:07}-{}*", "x".repeat(40));
        // Each pattern adds its length plus two quotes and a comma.
        let per_pattern = pattern(0).len() + 3;
        let missing = bytes.saturating_sub(state.encode().len());
        state.patterns.extend((0..missing / per_pattern).map(pattern));
        state
    }

    /// Encodes the state as the payload JSON that zkstruct writes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the bench state encodes as JSON")
    }

    /// Decodes a payload written by [`BenchState::encode`] or by zkstruct.
    pub fn decode(data: &[u8]) -> Self {
        serde_json::from_slice(data).expect("the payload decodes as the bench state")
    }
}
