use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    #[zk(accessor = "name")]
    title: String,
}

fn main() {}
