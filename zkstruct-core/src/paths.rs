//! The node layout under `/<dir>`, and validation of the names that go into it.

use crate::error::{Error, Result};

/// The nodes of one shared value.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    /// `/<dir>`: the parent of the other nodes.
    pub(crate) dir: String,
    /// `/<dir>/payload`: the value as JSON.
    pub(crate) payload: String,
    /// `/<dir>/lock`: the write lock's container node.
    pub(crate) lock: String,
    /// `/<dir>/listeners`: one ephemeral node per live instance.
    pub(crate) listeners: String,
    /// `/<dir>/listeners/<instance id>`: this instance's node.
    pub(crate) listener: String,
}

impl Paths {
    pub(crate) fn new(dir: &str, instance_id: &str) -> Result<Paths> {
        validate_dir(dir)?;
        validate_instance_id(instance_id)?;
        Ok(Paths {
            dir: dir.to_owned(),
            payload: format!("{dir}/payload"),
            lock: format!("{dir}/lock"),
            listeners: format!("{dir}/listeners"),
            listener: format!("{dir}/listeners/{instance_id}"),
        })
    }
}

/// Checks a dir path against ZooKeeper's path rules, before any request is sent.
pub(crate) fn validate_dir(dir: &str) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidPath {
            path: dir.to_owned(),
            reason,
        })
    };
    if !dir.starts_with('/') {
        return invalid("it must start with '/'");
    }
    if dir == "/" {
        return invalid("the root node cannot hold a shared value");
    }
    if dir.ends_with('/') {
        return invalid("it must not end with '/'");
    }
    for segment in dir[1..].split('/') {
        if let Err(reason) = check_name(segment) {
            return invalid(reason);
        }
    }
    if dir == "/zookeeper" || dir.starts_with("/zookeeper/") {
        return invalid("/zookeeper is reserved by the server");
    }
    Ok(())
}

/// Checks an instance id, which names a node under `/<dir>/listeners`.
pub(crate) fn validate_instance_id(id: &str) -> Result<()> {
    if id.contains('/') {
        return Err(Error::InvalidInstanceId {
            id: id.to_owned(),
            reason: "it must not contain '/'",
        });
    }
    check_name(id).map_err(|reason| Error::InvalidInstanceId {
        id: id.to_owned(),
        reason,
    })
}

/// Checks one node name against the characters ZooKeeper rejects.
fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("it contains an empty segment");
    }
    if name == "." || name == ".." {
        return Err("'.' and '..' are not allowed as names");
    }
    let rejected = |c: char| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{f000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}');
    if name.chars().any(rejected) {
        return Err("it contains a control or reserved character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dirs_pass() {
        for dir in ["/a", "/zkstruct/process-monitor", "/a.b/c..d/é", "/zookeeperish"] {
            assert!(validate_dir(dir).is_ok(), "{dir}");
        }
    }

    #[test]
    fn invalid_dirs_fail_with_the_path() {
        for dir in [
            "",
            "a/b",
            "/",
            "/a/",
            "//a",
            "/a//b",
            "/a/./b",
            "/a/..",
            "/a\n",
            "/zookeeper/x",
            "/a\u{f8ff}",
        ] {
            match validate_dir(dir) {
                Err(Error::InvalidPath { path, .. }) => assert_eq!(path, dir),
                other => panic!("{dir:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn instance_ids_are_node_names() {
        assert!(validate_instance_id("host-1.pid-42").is_ok());
        for id in ["", ".", "..", "a/b", "tab\t"] {
            assert!(validate_instance_id(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn layout_is_under_the_dir() {
        let paths = Paths::new("/app/state", "i-1").unwrap();
        assert_eq!(paths.payload, "/app/state/payload");
        assert_eq!(paths.lock, "/app/state/lock");
        assert_eq!(paths.listener, "/app/state/listeners/i-1");
    }
}
