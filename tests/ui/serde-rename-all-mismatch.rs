use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all(serialize = "camelCase", deserialize = "snake_case"))]
pub struct Settings {
    max_size: u32,
}

fn main() {}
