use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[zk(rename_all = "camelCase")]
pub struct Settings {
    name: String,
}

fn main() {}
