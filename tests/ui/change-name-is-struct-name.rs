use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[zk(change = "Settings")]
pub struct Settings {
    name: String,
}

fn main() {}
