// serde_derive also warns about the duplicate key, as an unreachable pattern.
#![allow(unreachable_patterns)]

use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    #[serde(alias = "name")]
    title: String,
}

fn main() {}
