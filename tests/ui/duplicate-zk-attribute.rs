use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    #[zk(accessor = "label")]
    #[zk(accessor = "title")]
    name: String,
}

fn main() {}
