use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Interval(u64, u64);

fn main() {}
