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

/// The names of the nodes a shared value keeps under its dir. No dir may pass through them,
/// or its nodes would land inside another shared value's payload, lock or listeners.
const RESERVED_NAMES: [&str; 3] = ["payload", "lock", "listeners"];

/// Checks a dir path against ZooKeeper's path rules, before any request is sent.
pub(crate) fn validate_dir(dir: &str) -> Result<()> {
    let invalid = |reason: &str| Err(Error::InvalidPath { path: dir.to_owned(), reason: reason.to_owned() });
    if !dir.starts_with('/') {
        return invalid("it must start with '/'");
    }
    if dir == "/" {
        return invalid("the root node cannot hold a shared value");
    }
    if dir.ends_with('/') {
        return invalid("it must not end with '/'");
    }
    for (index, segment) in dir[1..].split('/').enumerate() {
        if segment.is_empty() {
            return invalid("it contains an empty segment");
        }
        if let Err(reason) = check_name(segment) {
            return Err(Error::InvalidPath { path: dir.to_owned(), reason });
        }
        if index > 0 && RESERVED_NAMES.contains(&segment) {
            return Err(Error::InvalidPath {
                path: dir.to_owned(),
                reason: format!(
                    "'{segment}' is reserved: a shared value keeps its payload, lock and listeners \
                     nodes under these names, so rename this segment"
                ),
            });
        }
    }
    if dir == "/zookeeper" || dir.starts_with("/zookeeper/") {
        return invalid("/zookeeper is reserved by the server");
    }
    Ok(())
}

/// Checks an instance id, which names a node under `/<dir>/listeners`.
pub(crate) fn validate_instance_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidInstanceId { id: id.to_owned(), reason: "it is empty".to_owned() });
    }
    if id.contains('/') {
        return Err(Error::InvalidInstanceId {
            id: id.to_owned(),
            reason: "it must not contain '/'".to_owned(),
        });
    }
    check_name(id).map_err(|reason| Error::InvalidInstanceId { id: id.to_owned(), reason })
}

/// Checks one non-empty node name against the names and characters ZooKeeper rejects.
///
/// ZooKeeper 3.8 (`PathUtils.validatePath`) rejects control characters, the UTF-16 code
/// units U+D800 to U+F8FF (surrogates, so every character above U+FFFF, and the private
/// use area), and U+FFF0 to U+FFFF.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name == "." || name == ".." {
        return Err("'.' and '..' are not allowed as names".to_owned());
    }
    let rejected = |c: &char| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..);
    if let Some(character) = name.chars().find(rejected) {
        let code = u32::from(character);
        return Err(format!("it contains U+{code:04X}, a character ZooKeeper rejects in paths"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dirs_pass() {
        for dir in ["/a", "/zkstruct/process-monitor", "/a.b/c..d/é", "/zookeeperish", "/lock", "/a/locks"] {
            assert!(validate_dir(dir).is_ok(), "{dir}");
        }
    }

    #[test]
    fn invalid_dirs_fail_with_the_path() {
        let rejected =
            ["", "a/b", "/", "/a/", "//a", "/a//b", "/a/./b", "/a/..", "/a\n", "/zookeeper/x", "/a\u{f8ff}"];
        let characters = ["/a\u{e000}b", "/a\u{1f600}b", "/a\u{fff0}", "/\u{9f}"];
        let reserved = ["/a/payload", "/a/lock", "/a/listeners/b", "/a/b/lock/c"];
        for dir in rejected.into_iter().chain(characters).chain(reserved) {
            match validate_dir(dir) {
                Err(Error::InvalidPath { path, .. }) => assert_eq!(path, dir),
                other => panic!("{dir:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn instance_ids_are_node_names() {
        assert!(validate_instance_id("host-1.pid-42").is_ok());
        for id in ["", ".", "..", "a/b", "tab\t", "\u{e000}"] {
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
