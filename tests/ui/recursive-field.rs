use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Node {
    label: String,
    children: Vec<Node>,
}

fn main() {}
