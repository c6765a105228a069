use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    max_size: u32,
    #[serde(rename = "maxSize")]
    max__size: u32,
}

fn main() {}
