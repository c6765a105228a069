use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    #[serde(skip_serializing)]
    secret: String,
}

fn main() {}
