use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    #[serde(rename(serialize = "maxSize", deserialize = "max_size"))]
    max_size: u32,
}

fn main() {}
