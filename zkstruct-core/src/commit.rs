//! The write path: lock, compare, encode, size check, fenced multi-op, apply.
//!
//! An update holds the handle's async mutex, then the ZooKeeper lock. It runs the caller's
//! closure on a clone of the local copy, and writes with one multi-op that deletes the lock
//! node and sets the payload at the version the closure saw. Because the lock node's
//! deletion is part of the write, a write whose reply was lost can be retried safely: if
//! the first attempt was applied, the lock node is gone and the retry fails as a whole.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use zookeeper_client::{Client, Error as ZkError, MultiWriteError, MultiWriteResult};

use crate::codec::{self, UnknownFields};
use crate::error::{Error, Result};
use crate::events::{ChangeSet, Origin};
use crate::lock::{self, LockNode};
use crate::metrics;
use crate::options::{ConflictPolicy, LARGE_WRITE_BYTES};
use crate::shared::Context;
use crate::state::{Loaded, Snapshot, Version};
use crate::watcher::apply_remote;
use crate::ZkShared;

/// Marks a local write in flight, so the watcher reads the payload only after the write
/// has been applied, and treats its own write as an echo instead of a remote change.
#[derive(Default)]
pub(crate) struct CommitGate {
    in_flight: AtomicBool,
    idle: Notify,
}

impl CommitGate {
    fn open(&self) -> GateGuard<'_> {
        self.in_flight.store(true, Ordering::Release);
        GateGuard { gate: self }
    }

    /// Waits until no local write is in flight. Returns `true` if one was.
    pub(crate) async fn wait_idle(&self) -> bool {
        let mut waited = false;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.in_flight.load(Ordering::Acquire) {
                return waited;
            }
            waited = true;
            notified.await;
        }
    }
}

struct GateGuard<'a> {
    gate: &'a CommitGate,
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.gate.in_flight.store(false, Ordering::Release);
        self.gate.idle.notify_waiters();
    }
}

/// How many times an update re-reads and merges after concurrent writes before it gives up.
const MAX_MERGE_ATTEMPTS: usize = 5;
/// How long an update waits for the watcher to take in a version that ZooKeeper already
/// stores, before it fails with a stale write. The watcher usually needs well under a
/// millisecond; the wait covers a busy runtime.
const CATCH_UP_WAIT: Duration = Duration::from_millis(250);
/// How many lost replies in a row an update retries before it gives up.
const MAX_LOST_REPLIES: usize = 3;

/// Runs `change` under both locks and writes the result, following the conflict policy.
pub(crate) async fn update<T, F>(context: &Context<T>, change: F) -> Result<ChangeSet<T>>
where
    T: ZkShared,
    F: FnOnce(&mut T),
{
    let waiting = std::time::Instant::now();
    let (_writer, client, acquired) = lock_both(context).await?;
    let dir = &context.paths.dir;
    metrics::lock_waited(dir, waiting.elapsed());
    let _hold_timer = metrics::HoldTimer::start(dir);
    let mut node = acquired.node;
    let result = update_locked(context, &client, &mut node, acquired.payload, change).await;
    release(&client, &mut node).await;
    match &result {
        Err(Error::StaleWrite { .. }) => metrics::stale_write(dir),
        Err(Error::Conflict { .. }) => metrics::conflict(dir),
        _ => {}
    }
    result
}

/// Replaces a payload that does not decode with `value`, under both locks.
pub(crate) async fn overwrite_invalid<T: ZkShared>(context: &Context<T>, value: T) -> Result<ChangeSet<T>> {
    let (_writer, client, acquired) = lock_both(context).await?;
    let mut node = acquired.node;
    let result = overwrite_locked(context, &client, &mut node, acquired.payload, value).await;
    release(&client, &mut node).await;
    result
}

/// Takes the in-process writer lock, then the ZooKeeper lock, within one lock timeout.
async fn lock_both<T: ZkShared>(
    context: &Context<T>,
) -> Result<(tokio::sync::MutexGuard<'_, ()>, Client, lock::Acquired)> {
    let timeout = context.options.lock_timeout;
    let deadline = crate::deadline_after(timeout);
    let Ok(writer) = tokio::time::timeout_at(deadline, context.writer.lock()).await else {
        return Err(Error::LockTimeout {
            path: context.paths.lock.clone(),
            timeout,
            holder: "another update of this handle".to_owned(),
        });
    };
    let client = context.session.current().client;
    let acls = context.options.security.acl.acls();
    let acquired =
        lock::acquire(&client, &context.paths.lock, &context.paths.payload, deadline, timeout, acls).await?;
    Ok((writer, client, acquired))
}

type Read = std::result::Result<(Vec<u8>, zookeeper_client::Stat), ZkError>;
type Checked = std::result::Result<Option<zookeeper_client::Stat>, ZkError>;

/// Returns the payload's version, from the check the lock made in its first round trip or
/// from a new one.
async fn check_payload(
    context: &Context<impl ZkShared>,
    client: &Client,
    checked: Option<Checked>,
) -> Result<Version> {
    let path = &context.paths.payload;
    let checked = match checked {
        Some(checked) => checked,
        None => client.check_stat(path).await,
    };
    match checked {
        Ok(Some(stat)) => Ok(Version::from_stat(&stat)),
        Ok(None) => Err(Error::PayloadMissing { path: path.clone() }),
        Err(error) => Err(Error::zookeeper("exists", path, error)),
    }
}

/// Reads the payload, or takes a read made already.
async fn read_payload(
    context: &Context<impl ZkShared>,
    client: &Client,
    read: Option<Read>,
) -> Result<(Vec<u8>, Version)> {
    let path = &context.paths.payload;
    let read = match read {
        Some(read) => read,
        None => client.get_data(path).await,
    };
    match read {
        Ok((data, stat)) => Ok((data, Version::from_stat(&stat))),
        Err(ZkError::NoNode) => Err(Error::PayloadMissing { path: path.clone() }),
        Err(error) => Err(Error::zookeeper("get_data", path, error)),
    }
}

async fn update_locked<T, F>(
    context: &Context<T>,
    client: &Client,
    node: &mut LockNode,
    checked: Option<Checked>,
    change: F,
) -> Result<ChangeSet<T>>
where
    T: ZkShared,
    F: FnOnce(&mut T),
{
    let path = &context.paths.payload;
    let mut remote = check_payload(context, client, checked).await?;

    // The closure runs once, on the local copy. When ZooKeeper already stores a newer
    // version, its watch event reached this handle before the lock did, so the watcher is
    // taking it in: wait for that, briefly, rather than fail.
    let mut seen = context.state.snapshot();
    if remote.is_newer_than(&seen.version()) {
        if let Some(current) = context.state.wait_for(remote, CATCH_UP_WAIT).await {
            seen = current;
            remote = seen.version();
        }
    }
    if remote != seen.version() {
        let (data, version) = read_payload(context, client, None).await?;
        remote = version;
        // ZooKeeper stores a version this copy has not taken in. Take it in, so that
        // subscribers see it before this update and a retry starts from it.
        if let Some(error) = apply_remote(context, &data, remote) {
            return Err(invalid_payload::<T>(context, remote, &error));
        }
        if context.options.conflict_policy == ConflictPolicy::Fail {
            return Err(Error::StaleWrite { path: path.clone(), local: seen.version(), remote });
        }
    }
    let mut intended = T::clone(&seen);
    change(&mut intended);
    let intended_changes = T::changes(&seen, &intended);
    let mut intended = Some(intended);

    let mut next_read = None;
    for _ in 0..MAX_MERGE_ATTEMPTS {
        let base = match next_read.take() {
            Some(read) => {
                let (data, remote) = read_payload(context, client, Some(read)).await?;
                if let Some(error) = apply_remote(context, &data, remote) {
                    return Err(invalid_payload::<T>(context, remote, &error));
                }
                context.state.snapshot()
            }
            // The first write is based on the version the closure saw, even when the watcher
            // has taken in a newer one since: the compare-and-set then fails, and only the
            // merge policy goes on to merge.
            None => seen.clone(),
        };

        // On the version the closure saw, its result is the value. On a newer one, replay
        // the closure's changes: a change whose old value no longer matches means that the
        // same part changed remotely.
        let (value, changes) = match intended.take() {
            Some(value) if base.version() == seen.version() => (value, intended_changes.clone()),
            _ => {
                let mut merged = T::clone(&base);
                for change in intended_changes.iter().cloned() {
                    merged.apply(change).map_err(|error| Error::Conflict {
                        path: path.clone(),
                        key_path: error.path().to_string(),
                        local: seen.version(),
                        remote: base.version(),
                    })?;
                }
                let changes = T::changes(&base, &merged);
                (merged, changes)
            }
        };
        if changes.is_empty() {
            return Ok(ChangeSet::new(changes, Origin::Local, base));
        }

        let bytes = encode(context, &value, base.unknown_fields())?;
        let expected = base.version();
        match (Write { context, base, expected, bytes, node }.commit(client, value, changes).await) {
            Err(Error::StaleWrite { .. }) if context.options.conflict_policy == ConflictPolicy::Merge => {
                // A writer that ignores the lock got in first; merge onto its version.
                next_read = Some(client.get_data(path).await);
            }
            result => return result,
        }
    }
    let remote = context.state.snapshot().version();
    Err(Error::StaleWrite { path: path.clone(), local: seen.version(), remote })
}

async fn overwrite_locked<T: ZkShared>(
    context: &Context<T>,
    client: &Client,
    node: &mut LockNode,
    checked: Option<Checked>,
    value: T,
) -> Result<ChangeSet<T>> {
    check_payload(context, client, checked).await?;
    let (data, remote) = read_payload(context, client, None).await?;
    if codec::decode::<T>(&data).is_ok() {
        apply_remote(context, &data, remote);
        return Err(Error::PayloadValid { path: context.paths.payload.clone(), version: remote });
    }

    // The changes run from the last good version to the new value.
    let base = context.state.snapshot();
    let changes = T::changes(&base, &value);
    let bytes = encode(context, &value, &Vec::new())?;
    tracing::warn!(path = %context.paths.payload, version = %remote, "overwriting a payload that does not decode");
    Write { context, base, expected: remote, bytes, node }.commit(client, value, changes).await
}

/// Encodes a value with the payload's unknown keys, and checks the size limit.
fn encode<T: ZkShared>(context: &Context<T>, value: &T, unknown: &UnknownFields) -> Result<Vec<u8>> {
    codec::encode_payload(&context.paths.payload, value, unknown, context.options.max_payload_bytes)
}

fn invalid_payload<T>(context: &Context<impl ZkShared>, version: Version, error: &Error) -> Error {
    let reason = match error {
        Error::Decode { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    Error::InvalidPayload {
        path: context.paths.payload.clone(),
        version,
        type_name: std::any::type_name::<T>(),
        reason,
    }
}

/// Marks the local copy unverified, because a write may have changed the payload, and
/// returns [`Error::OutcomeUnknown`].
fn outcome_unknown<T: ZkShared>(context: &Context<T>) -> Error {
    context.state.freshness.mark_unverified();
    Error::OutcomeUnknown { path: context.paths.payload.clone() }
}

/// Deletes a lock node that no write consumed. If that fails, dropping the node deletes
/// it in the background.
async fn release(client: &Client, node: &mut LockNode) {
    if node.is_released() {
        return;
    }
    if let Ok(()) | Err(ZkError::NoNode) = client.delete(node.path(), None).await {
        node.forget();
    }
}

/// One encoded update, ready to be written under the lock.
struct Write<'a, 'n, T: ZkShared> {
    context: &'a Context<T>,
    /// The version the changes were computed against, and whose unknown keys are kept.
    base: Snapshot<T>,
    /// The version the payload must still have: the compare-and-set.
    expected: Version,
    bytes: Vec<u8>,
    node: &'n mut LockNode,
}

/// The facts known about a write whose reply was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Evidence {
    /// The lock node vanished while the session lived: only this write's multi-op, which
    /// deletes it, can have done that, barring another client deleting it by hand.
    LockGoneOnLiveSession,
    /// The session ended, which deletes the lock node whether or not the write applied.
    SessionEnded,
}

/// The result of one attempt at the multi-op.
enum Attempt {
    Written(zookeeper_client::Stat),
    /// The lock node was already gone: deleted by an earlier attempt, or by someone else.
    LockGone,
    /// The reply was lost with the connection.
    ReplyLost,
    Failed(Error),
}

impl<T: ZkShared> Write<'_, '_, T> {
    async fn commit(self, client: &Client, value: T, changes: Vec<T::Change>) -> Result<ChangeSet<T>> {
        let context = self.context;
        let path = &context.paths.payload;
        let mut retried = false;
        let mut lost_replies = 0;
        loop {
            match self.attempt(client, retried).await {
                Attempt::Written(stat) => {
                    let version = Version::from_stat(&stat);
                    metrics::payload_size(&context.paths.dir, self.bytes.len());
                    tracing::debug!(%path, %version, changes = changes.len(), "update written");
                    let base_version = self.base.version();
                    let unknown = self.base.unknown_fields().clone();
                    self.node.forget();
                    let loaded = Loaded { value, version, unknown };
                    let applied =
                        context.state.apply(loaded, Origin::Local, Some((base_version, changes.clone())));
                    return Ok(applied.unwrap_or_else(|| {
                        ChangeSet::new(changes, Origin::Local, context.state.snapshot())
                    }));
                }
                Attempt::LockGone if !retried => {
                    let lock = self.node.path().to_owned();
                    self.node.forget();
                    return Err(Error::LockLost { path: path.clone(), lock });
                }
                Attempt::LockGone => {
                    // The session is the same, so only an earlier attempt, whose reply was
                    // lost, can have deleted the lock node.
                    self.node.forget();
                    return self.resolve(client, value, changes, Evidence::LockGoneOnLiveSession).await;
                }
                Attempt::ReplyLost => {
                    lost_replies += 1;
                    let deadline = Instant::now() + client.session_timeout() * 2;
                    match lock::wait_connected(client, deadline, path).await {
                        Ok(()) if lost_replies >= MAX_LOST_REPLIES => {
                            return self.give_up(client, value, changes).await
                        }
                        // The session is alive, so its lock node shows whether the write was
                        // applied. The retry finds that out.
                        Ok(()) => retried = true,
                        Err(_) => {
                            self.node.forget();
                            let fresh = self.new_session_client(deadline).await?;
                            return self.resolve(&fresh, value, changes, Evidence::SessionEnded).await;
                        }
                    }
                }
                Attempt::Failed(error) => return Err(error),
            }
        }
    }

    /// Sends the multi-op once: set the payload and delete the lock node.
    ///
    /// A first attempt sets the payload first, so that followers get the payload's change
    /// event before the lock node's: a writer waiting for the lock then finds its copy
    /// current sooner. A retry deletes the lock node first, so that a retry of an attempt
    /// that was applied fails on the missing lock node, which proves the earlier attempt.
    async fn attempt(&self, client: &Client, retry: bool) -> Attempt {
        let context = self.context;
        let path = &context.paths.payload;
        let (set_index, delete_index) = if retry { (1, 0) } else { (0, 1) };
        let mut multi = client.new_multi_writer();
        let set = |multi: &mut zookeeper_client::MultiWriter<'_>| {
            multi.add_set_data(path, &self.bytes, Some(self.expected.version()))
        };
        let staged = if retry {
            multi.add_delete(self.node.path(), None).and_then(|()| set(&mut multi))
        } else {
            set(&mut multi).and_then(|()| multi.add_delete(self.node.path(), None))
        };
        if let Err(error) = staged {
            return Attempt::Failed(Error::zookeeper("multi", path, error));
        }

        let result = {
            let _gate = context.gate.open();
            multi.commit().await
        };
        match result {
            Ok(results) => match results.into_iter().nth(set_index) {
                Some(MultiWriteResult::SetData { stat }) => Attempt::Written(stat),
                other => Attempt::Failed(Error::ZooKeeper {
                    operation: "multi",
                    path: path.clone(),
                    source: ZkError::UnexpectedError(format!("expected a set_data result, got {other:?}")),
                }),
            },
            Err(MultiWriteError::OperationFailed { index, source: ZkError::NoNode })
                if index == delete_index =>
            {
                Attempt::LockGone
            }
            Err(MultiWriteError::OperationFailed { index, source: ZkError::BadVersion })
                if index == set_index =>
            {
                // Someone wrote without taking the lock. Take their version in and refuse.
                let remote = match client.get_data(path).await {
                    Ok((data, stat)) => {
                        let remote = Version::from_stat(&stat);
                        apply_remote(context, &data, remote);
                        remote
                    }
                    Err(_) => self.expected,
                };
                Attempt::Failed(Error::StaleWrite { path: path.clone(), local: self.expected, remote })
            }
            Err(MultiWriteError::OperationFailed { index, source: ZkError::NoNode })
                if index == set_index =>
            {
                Attempt::Failed(Error::PayloadMissing { path: path.clone() })
            }
            Err(MultiWriteError::OperationFailed { index, source }) => {
                let (operation, node) = if index == delete_index {
                    ("delete", self.node.path())
                } else {
                    ("set_data", path.as_str())
                };
                Attempt::Failed(Error::zookeeper(operation, node, source))
            }
            Err(MultiWriteError::RequestFailed {
                source: ZkError::ConnectionLoss | ZkError::SessionExpired,
            }) => Attempt::ReplyLost,
            Err(MultiWriteError::RequestFailed { source }) => {
                Attempt::Failed(Error::zookeeper("multi", path, source))
            }
        }
    }

    /// Stops retrying a write whose replies keep getting lost, and finds out whether one of
    /// the attempts was applied: while the lock node exists, none was.
    async fn give_up(self, client: &Client, value: T, changes: Vec<T::Change>) -> Result<ChangeSet<T>> {
        let path = &self.context.paths.payload;
        match client.check_stat(self.node.path()).await {
            Ok(Some(_)) if self.bytes.len() > LARGE_WRITE_BYTES => {
                Err(Error::ConnectionLostOnWrite { path: path.clone(), size: self.bytes.len() })
            }
            Ok(Some(_)) => Err(Error::zookeeper("multi", path, ZkError::ConnectionLoss)),
            Ok(None) => {
                self.node.forget();
                self.resolve(client, value, changes, Evidence::LockGoneOnLiveSession).await
            }
            Err(_) => Err(outcome_unknown(self.context)),
        }
    }

    /// Waits for the session that replaces an ended one.
    async fn new_session_client(&self, deadline: Instant) -> Result<Client> {
        let mut generations = self.context.session.generations();
        loop {
            let client = generations.borrow_and_update().client.clone();
            if !client.state().is_terminated() {
                return Ok(client);
            }
            match tokio::time::timeout_at(deadline, generations.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(outcome_unknown(self.context)),
            }
        }
    }

    /// Finds out whether a write whose reply was lost was applied, by reading the payload.
    ///
    /// A payload at the next version of the same node, containing exactly the bytes written,
    /// is this write, and the expected version unchanged means nothing was written. With
    /// the lock node gone while the session lived, the write was applied even if others
    /// wrote after it. Any other state leaves the outcome unknown.
    async fn resolve(
        self,
        client: &Client,
        value: T,
        changes: Vec<T::Change>,
        evidence: Evidence,
    ) -> Result<ChangeSet<T>> {
        let context = self.context;
        let path = &context.paths.payload;
        let deadline = Instant::now() + Duration::from_secs(30);
        let read = loop {
            let synced = client.sync(path);
            let read = client.get_data(path);
            let (synced, read) = tokio::join!(synced, read);
            match synced.and(read) {
                Err(ZkError::ConnectionLoss) if Instant::now() < deadline => {
                    lock::wait_connected(client, deadline, path).await?;
                }
                result => break result,
            }
        };
        let expected = self.expected;
        match read {
            Ok((data, stat)) => {
                let version = Version::from_stat(&stat);
                let next = version.czxid() == expected.czxid() && version.version() == expected.version() + 1;
                // The version this write expected is still there, or the next version is
                // another writer's: this write was not applied, because it could only have
                // taken the next version.
                if version == expected || (next && data != self.bytes) {
                    apply_remote(context, &data, version);
                    return Err(Error::LockLost { path: path.clone(), lock: self.node.path().to_owned() });
                }
                if next && data == self.bytes {
                    tracing::info!(%path, %version, "a write whose reply was lost was applied");
                    let unknown = self.base.unknown_fields().clone();
                    let loaded = Loaded { value, version, unknown };
                    let computed = Some((self.base.version(), changes.clone()));
                    let applied = context.state.apply(loaded, Origin::Local, computed);
                    return Ok(applied.unwrap_or_else(|| {
                        ChangeSet::new(changes, Origin::Local, context.state.snapshot())
                    }));
                }
                apply_remote(context, &data, version);
                let applied_since =
                    version.czxid() == expected.czxid() && version.version() > expected.version();
                if evidence == Evidence::LockGoneOnLiveSession && applied_since {
                    // Others wrote after it, so the local copy took their version in.
                    tracing::info!(%path, %version, "a write whose reply was lost was applied, and others wrote since");
                    return Ok(ChangeSet::new(changes, Origin::Local, context.state.snapshot()));
                }
                Err(outcome_unknown(context))
            }
            Err(ZkError::NoNode) => Err(Error::PayloadMissing { path: path.clone() }),
            Err(_) => Err(outcome_unknown(context)),
        }
    }
}

/// Compares the local copy with ZooKeeper's version and reads the payload if it is behind.
pub(crate) async fn read_consistent<T: ZkShared>(context: &Context<T>) -> Result<Snapshot<T>> {
    let client = context.session.current().client;
    let path = &context.paths.payload;

    // A sync makes the server catch up with the leader. The exists that follows it on the
    // same session then reflects every write committed before the sync.
    let sent = crate::state::coarse_now();
    let synced = client.sync(path);
    let stat = client.check_stat(path);
    let (synced, stat) = tokio::join!(synced, stat);
    synced.map_err(|error| Error::zookeeper("sync", path, error))?;
    let stat = stat.map_err(|error| Error::zookeeper("exists", path, error))?;
    let Some(stat) = stat else {
        return Err(Error::PayloadMissing { path: path.clone() });
    };

    if Version::from_stat(&stat).is_newer_than(&context.state.snapshot().version()) {
        let (data, stat) =
            client.get_data(path).await.map_err(|error| Error::zookeeper("get_data", path, error))?;
        if let Some(error) = apply_remote(context, &data, Version::from_stat(&stat)) {
            return Err(error);
        }
    }
    context.state.freshness.mark_verified(sent);
    Ok(context.state.snapshot())
}
