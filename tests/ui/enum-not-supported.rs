use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Mode {
    Watch,
    Ignore,
}

// Code that names the generated items compiles against the fallback output, so the
// derive's error is the only one.
fn changes(old: &Mode, new: &Mode) -> Vec<ModeChange> {
    zkstruct::Diff::changes(old, new)
}

fn main() {
    let _ = changes(&Mode::Watch, &Mode::Ignore);
}
