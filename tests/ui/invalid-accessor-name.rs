use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    #[zk(accessor = "display name")]
    name: String,
}

fn main() {}
