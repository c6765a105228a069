use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Wire {
    port: u16,
}

impl From<Wire> for Port {
    fn from(wire: Wire) -> Self {
        Port { port: wire.port }
    }
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(from = "Wire")]
pub struct Port {
    port: u16,
}

fn main() {}
