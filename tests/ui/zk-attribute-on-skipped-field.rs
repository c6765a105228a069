use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    #[serde(skip)]
    #[zk(opaque)]
    cache: Vec<u8>,
}

fn main() {}
