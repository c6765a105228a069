use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(transparent)]
pub struct Name {
    value: String,
}

fn main() {}
