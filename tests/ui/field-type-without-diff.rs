use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Mode {
    Watch,
    Ignore,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    mode: Mode,
}

fn main() {}
