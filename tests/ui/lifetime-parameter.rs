use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Borrowed<'a> {
    name: &'a str,
}

fn main() {}
