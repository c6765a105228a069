//! The write lock: Apache Curator's `InterProcessMutex` recipe on `/<dir>/lock`.
//!
//! A contender creates an ephemeral sequential node `/<dir>/lock/_c_<uuid>-lock-<sequence>`
//! (Curator's "protected" naming: the UUID lets a contender find its own node after a
//! connection loss). The contender whose node has the lowest sequence holds the lock; the
//! others each watch the node just ahead of theirs. Sequences are compared on the digits
//! after `lock-`, as Curator does, so Curator's `InterProcessMutex` on the same path and
//! zkstruct exclude each other. Like Curator, the lock dir is a container node, which the
//! server deletes once it has no children; it is created again when missing.
//!
//! Every lock node is deleted on every exit path: by the commit's multi-op, by an explicit
//! release, or by the `Drop` of [`LockNode`], which deletes in the background with the
//! node's full path and retries until the session ends.

use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError, Stat};

use crate::error::{Error, Result};

/// The name part that marks a node as a lock contender, as Curator writes it.
const LOCK_NAME: &str = "lock-";

/// A lock node this process created, deleted when dropped unless released first.
pub(crate) struct LockNode {
    client: Client,
    lock_dir: String,
    protection: String,
    path: Option<String>,
}

impl LockNode {
    fn new(client: Client, lock_dir: &str) -> Self {
        let protection = format!("_c_{}-", uuid::Uuid::new_v4());
        LockNode { client, lock_dir: lock_dir.to_owned(), protection, path: None }
    }

    /// Returns the full path of the node, or the lock dir while the path is unknown.
    pub(crate) fn path(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.lock_dir)
    }

    /// Returns `true` once the node is known to be gone.
    pub(crate) fn is_released(&self) -> bool {
        self.protection.is_empty()
    }

    /// Records that the node is gone, so dropping it deletes nothing. The path stays
    /// available for error messages.
    pub(crate) fn forget(&mut self) {
        self.protection.clear();
    }
}

impl Drop for LockNode {
    fn drop(&mut self) {
        if self.protection.is_empty() {
            return;
        }
        let client = self.client.clone();
        let lock_dir = std::mem::take(&mut self.lock_dir);
        let protection = std::mem::take(&mut self.protection);
        let path = self.path.take();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%lock_dir, "no runtime to delete the lock node; it stays until the session ends");
            return;
        };
        runtime.spawn(delete_lock_node(client, lock_dir, protection, path));
    }
}

/// Deletes a lock node, finding it by its protection prefix when its sequence is unknown.
///
/// Retries after connection losses. Ends when the node is gone, or when the session ended,
/// which removed the ephemeral node with it.
async fn delete_lock_node(client: Client, lock_dir: String, protection: String, mut path: Option<String>) {
    let mut delay = Duration::from_millis(50);
    loop {
        let result = match &path {
            Some(path) => client.delete(path, None).await,
            None => match client.list_children(&lock_dir).await {
                Ok(children) => match children.into_iter().find(|child| child.starts_with(&protection)) {
                    Some(child) => {
                        path = Some(format!("{lock_dir}/{child}"));
                        continue;
                    }
                    None => Ok(()),
                },
                Err(error) => Err(error),
            },
        };
        match result {
            Ok(()) | Err(ZkError::NoNode) => {
                tracing::debug!(%lock_dir, node = ?path, "lock node released");
                return;
            }
            Err(ZkError::SessionExpired | ZkError::ClientClosed) => return,
            Err(error) => {
                tracing::debug!(%lock_dir, %error, "releasing the lock node failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// A held lock, with the payload's stat read right after the lock node was created, when
/// this contender was first in line at once (the read then reflects every earlier holder's
/// write). Only the stat is read, so a large payload is not fetched when the local copy is
/// current.
pub(crate) struct Acquired {
    pub(crate) node: LockNode,
    pub(crate) payload: Option<Result<Option<Stat>, ZkError>>,
}

/// Returns the key a child of the lock dir sorts by, as Curator's
/// `StandardLockInternalsDriver.fixForSorting` computes it: the text after the last `lock-`,
/// or the whole name when it has none.
///
/// Every child takes part, as in Curator, so a stray child that sorts first makes every
/// contender wait. The keys are compared as text, which orders ZooKeeper's zero-padded
/// sequence numbers numerically.
fn sort_key(child: &str) -> &str {
    match child.rfind(LOCK_NAME) {
        Some(at) => &child[at + LOCK_NAME.len()..],
        None => child,
    }
}

/// Acquires the lock under `lock_dir`, reading the stat of `payload_path` in the same round
/// trip.
///
/// Fails with [`Error::LockTimeout`] at `deadline`, which ends the configured `timeout`, even
/// while a request is in flight. The lock node is deleted on every error and on cancellation.
pub(crate) async fn acquire(
    client: &Client,
    lock_dir: &str,
    payload_path: &str,
    deadline: Instant,
    timeout: Duration,
    acls: Acls<'_>,
) -> Result<Acquired> {
    let span = tracing::debug_span!("lock", dir = %lock_dir, session = %client.session_id());
    let acquiring = acquire_inner(client, lock_dir, payload_path, deadline, timeout, acls).instrument(span);
    match tokio::time::timeout_at(deadline, acquiring).await {
        Ok(result) => result,
        // Dropping the attempt dropped its node, which deletes it in the background.
        Err(_elapsed) => Err(Error::LockTimeout {
            path: lock_dir.to_owned(),
            timeout,
            holder: "unknown (ZooKeeper had not replied)".to_owned(),
        }),
    }
}

async fn acquire_inner(
    client: &Client,
    lock_dir: &str,
    payload_path: &str,
    deadline: Instant,
    timeout: Duration,
    acls: Acls<'_>,
) -> Result<Acquired> {
    let mut node = LockNode::new(client.clone(), lock_dir);
    let prefix = format!("{lock_dir}/{}{LOCK_NAME}", node.protection);
    let create_options = CreateMode::EphemeralSequential.with_acls(acls);

    // Create the node, list the contenders and check the payload in one round trip: the
    // server runs a session's requests in order, so the listing includes the new node.
    let (mut children, mut payload) = loop {
        let created = client.create(&prefix, &[], &create_options);
        let listed = client.list_children(lock_dir);
        let read = client.check_stat(payload_path);
        let (created, listed, read) = tokio::join!(created, listed, read);
        match created {
            Ok((_stat, sequence)) => {
                node.path = Some(format!("{prefix}{sequence}"));
                match listed {
                    Ok(children) => break (children, Some(read)),
                    Err(error) => return Err(Error::zookeeper("list_children", lock_dir, error)),
                }
            }
            Err(ZkError::NoNode) => create_lock_dir(client, lock_dir, payload_path, acls).await?,
            Err(ZkError::ConnectionLoss) => {
                // The create may have happened. Look for the node by its protection prefix.
                wait_connected(client, deadline, lock_dir).await?;
                let children = list_children(client, lock_dir).await?;
                if let Some(child) = children.iter().find(|child| child.starts_with(&node.protection)) {
                    node.path = Some(format!("{lock_dir}/{child}"));
                    break (children, None);
                }
            }
            Err(error) => return Err(Error::zookeeper("create", &prefix, error)),
        }
    };

    let own_name = node.path().rsplit('/').next().unwrap_or_default().to_owned();
    loop {
        // A stable sort keeps the listing's order for equal keys, as Java's sort does.
        let mut contenders: Vec<(&str, &str)> =
            children.iter().map(|child| (sort_key(child), child.as_str())).collect();
        contenders.sort_by(|left, right| left.0.cmp(right.0));
        let Some(position) = contenders.iter().position(|(_, child)| *child == own_name) else {
            return Err(Error::LockLost { path: payload_path.to_owned(), lock: node.path().to_owned() });
        };
        if position == 0 {
            tracing::debug!(node = %node.path(), "lock acquired");
            return Ok(Acquired { node, payload: payload.take() });
        }
        let ahead = format!("{lock_dir}/{}", contenders[position - 1].1);
        let holder = format!("{lock_dir}/{}", contenders[0].1);
        payload = None;

        let (exists, watcher) = match client.check_and_watch_stat(&ahead).await {
            Ok(result) => result,
            Err(ZkError::ConnectionLoss) => {
                wait_connected(client, deadline, lock_dir).await?;
                children = list_children(client, lock_dir).await?;
                continue;
            }
            Err(error) => return Err(Error::zookeeper("exists", &ahead, error)),
        };
        if exists.is_some() {
            tracing::debug!(lock = %node.path(), %ahead, "waiting for the lock");
            if tokio::time::timeout_at(deadline, watcher.changed()).await.is_err() {
                return Err(Error::LockTimeout { path: lock_dir.to_owned(), timeout, holder });
            }
        }
        // List again and check the payload in one round trip, as on the first one.
        let listed = client.list_children(lock_dir);
        let read = client.check_stat(payload_path);
        let (listed, read) = tokio::join!(listed, read);
        children = listed.map_err(|error| Error::zookeeper("list_children", lock_dir, error))?;
        payload = Some(read);
    }
}

async fn list_children(client: &Client, lock_dir: &str) -> Result<Vec<String>> {
    client.list_children(lock_dir).await.map_err(|error| Error::zookeeper("list_children", lock_dir, error))
}

/// Creates the lock dir as a container node, as Curator does.
async fn create_lock_dir(client: &Client, lock_dir: &str, payload_path: &str, acls: Acls<'_>) -> Result<()> {
    let options = CreateMode::Container.with_acls(acls);
    match client.create(lock_dir, &[], &options).await {
        Ok(_) | Err(ZkError::NodeExists) => Ok(()),
        Err(ZkError::NoNode) => Err(Error::PayloadMissing { path: payload_path.to_owned() }),
        Err(error) => Err(Error::zookeeper("create", lock_dir, error)),
    }
}

/// Waits until the client is connected again, or fails at the deadline or when the session
/// has ended.
pub(crate) async fn wait_connected(client: &Client, deadline: Instant, path: &str) -> Result<()> {
    let mut states = client.state_watcher();
    loop {
        let state = states.state();
        if crate::session::is_connected(state) {
            return Ok(());
        }
        if state.is_terminated() {
            return Err(Error::SessionLost { path: path.to_owned(), reason: format!("session {state}") });
        }
        if tokio::time::timeout_at(deadline, states.changed()).await.is_err() {
            return Err(Error::SessionLost {
                path: path.to_owned(),
                reason: "timed out waiting to reconnect".to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_key_follows_curator() {
        assert_eq!(sort_key("_c_0f8e4c1a-8f7e-4f55-9d4b-4d7e9c0c1a2b-lock-0000000012"), "0000000012");
        assert_eq!(sort_key("lock-0000000003"), "0000000003");
        assert_eq!(sort_key("leases"), "leases");
        assert_eq!(sort_key("lock-"), "");
        let mut names = ["zzz", "x-lock-0000000002", "lock-", "_c_a-lock-0000000001"];
        names.sort_by_key(|name| sort_key(name));
        assert_eq!(names, ["lock-", "_c_a-lock-0000000001", "x-lock-0000000002", "zzz"]);
    }
}
