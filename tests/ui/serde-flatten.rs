use serde::{Deserialize, Serialize};
use zkstruct::ZkShared;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Limits {
    cpu: u32,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    name: String,
    #[serde(flatten)]
    limits: Limits,
}

// Code that uses the generated items compiles against the fallback output, so the
// derive's error is the only one.
fn names(changes: &[SettingsChange]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for change in changes {
        match change {
            SettingsChange::Name(_) => names.push("name"),
            SettingsChange::Limits(_) => names.push("limits"),
        }
    }
    names
}

async fn rename(shared: &zkstruct::Shared<Settings>) -> Result<String, zkstruct::Error> {
    shared.set_name("new".to_string()).await?;
    shared.name()
}

fn main() {
    let _ = names(&[]);
    let _ = rename;
}
