//! The write path: lock, compare, encode, size check, fenced multi-op, apply.
//!
//! An update holds the handle's async mutex, then the ZooKeeper lock. It runs the caller's
//! closure on a clone of the local copy, and writes with one multi-op that deletes the lock
//! node and sets the payload at the version the closure saw. Because the lock node's
//! deletion is part of the write, a write whose reply was lost can be retried safely: if
//! the first attempt was applied, the lock node is gone and the retry fails as a whole.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use zookeeper_client::{Client, Error as ZkError, MultiWriteError, MultiWriteResult};

use crate::codec;
use crate::error::{Error, Result};
use crate::events::{ChangeSet, Origin};
use crate::lock::{self, LockNode};
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

    /// Waits until no local write is in flight.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.in_flight.load(Ordering::Acquire) {
                return;
            }
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

/// Runs `change` on the latest value under both locks and writes the result.
pub(crate) async fn update<T, F>(context: &Context<T>, change: F) -> Result<ChangeSet<T>>
where
    T: ZkShared,
    F: FnOnce(&mut T),
{
    let _writer = context.writer.lock().await;
    let client = context.session.current().client;
    let acquired = lock::acquire(
        &client,
        &context.paths.lock,
        &context.paths.payload,
        context.options.lock_timeout,
    )
    .await?;
    let mut node = acquired.node;

    match prepare(context, &client, acquired.payload, change).await {
        Ok(Prepared::Write {
            base,
            bytes,
            value,
            changes,
        }) => {
            Write {
                context,
                base,
                bytes,
                node,
            }
            .commit(&client, value, changes)
            .await
        }
        Ok(Prepared::Unchanged(base)) => {
            release(&client, &mut node).await;
            Ok(ChangeSet::new(Vec::new(), Origin::Local, base))
        }
        Err(error) => {
            release(&client, &mut node).await;
            Err(error)
        }
    }
}

/// An update computed under the lock.
enum Prepared<T: ZkShared> {
    Write {
        base: Snapshot<T>,
        bytes: Vec<u8>,
        value: T,
        changes: Vec<T::Change>,
    },
    Unchanged(Snapshot<T>),
}

/// Checks the local copy against the payload read under the lock, runs the closure and
/// encodes its result.
async fn prepare<T, F>(
    context: &Context<T>,
    client: &Client,
    read: Option<Result<(Vec<u8>, zookeeper_client::Stat), ZkError>>,
    change: F,
) -> Result<Prepared<T>>
where
    T: ZkShared,
    F: FnOnce(&mut T),
{
    let path = &context.paths.payload;
    let read = match read {
        Some(read) => read,
        None => client.get_data(path).await,
    };
    let (data, stat) = match read {
        Ok(read) => read,
        Err(ZkError::NoNode) => return Err(Error::PayloadMissing { path: path.clone() }),
        Err(error) => return Err(Error::zookeeper("get_data", path, error)),
    };

    // The local copy must be the version ZooKeeper holds. If it is behind, take the newer
    // version in, so a retry starts from it, and reject this update.
    let base = context.state.snapshot();
    let remote = Version::from_stat(&stat);
    if remote != base.version() {
        if let Some(error) = apply_remote(context, &data, remote) {
            return Err(invalid_payload::<T>(context, remote, &error));
        }
        return Err(Error::StaleWrite {
            path: path.clone(),
            local: base.version(),
            remote,
        });
    }

    let mut value = T::clone(&base);
    change(&mut value);
    let changes = T::changes(&base, &value);
    if changes.is_empty() {
        return Ok(Prepared::Unchanged(base));
    }

    let bytes = codec::encode(&value, base.unknown_fields()).map_err(|source| Error::Encode {
        path: path.clone(),
        type_name: std::any::type_name::<T>(),
        source: Arc::new(source),
    })?;
    if bytes.len() > context.options.max_payload_bytes {
        return Err(Error::TooLarge {
            path: path.clone(),
            size: bytes.len(),
            limit: context.options.max_payload_bytes,
        });
    }
    Ok(Prepared::Write {
        base,
        bytes,
        value,
        changes,
    })
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

/// Deletes a lock node that no write consumed. If that fails, dropping the node deletes
/// it in the background.
async fn release(client: &Client, node: &mut LockNode) {
    if let Ok(()) | Err(ZkError::NoNode) = client.delete(node.path(), None).await {
        node.forget();
    }
}

/// One encoded update, ready to be written under the lock.
struct Write<'a, T: ZkShared> {
    context: &'a Context<T>,
    base: Snapshot<T>,
    bytes: Vec<u8>,
    node: LockNode,
}

/// What one attempt at the multi-op found.
enum Attempt {
    Written(zookeeper_client::Stat),
    /// The lock node was already gone: deleted by an earlier attempt, or by someone else.
    LockGone,
    /// The reply was lost with the connection.
    ReplyLost,
    Failed(Error),
}

impl<T: ZkShared> Write<'_, T> {
    async fn commit(mut self, client: &Client, value: T, changes: Vec<T::Change>) -> Result<ChangeSet<T>> {
        let context = self.context;
        let path = &context.paths.payload;
        let mut retried = false;
        loop {
            match self.attempt(client).await {
                Attempt::Written(stat) => {
                    let version = Version::from_stat(&stat);
                    tracing::debug!(%path, %version, changes = changes.len(), "update written");
                    let base_version = self.base.version();
                    let unknown = self.base.unknown_fields().clone();
                    self.node.forget();
                    let loaded = Loaded {
                        value,
                        version,
                        unknown,
                    };
                    let applied =
                        context
                            .state
                            .apply(loaded, Origin::Local, Some((base_version, changes.clone())));
                    return Ok(applied.unwrap_or_else(|| {
                        ChangeSet::new(changes, Origin::Local, context.state.snapshot())
                    }));
                }
                Attempt::LockGone if !retried => {
                    let lock = self.node.path().to_owned();
                    self.node.forget();
                    return Err(Error::LockLost {
                        path: path.clone(),
                        lock,
                    });
                }
                Attempt::LockGone => {
                    // An earlier attempt whose reply was lost may have been applied.
                    self.node.forget();
                    return self.resolve(client, value, changes).await;
                }
                Attempt::ReplyLost => {
                    let deadline = Instant::now() + client.session_timeout() * 2;
                    match lock::wait_connected(client, deadline, path).await {
                        // The session lives, so its lock node tells whether the write was
                        // applied: try again, and the retry sorts it out.
                        Ok(()) => retried = true,
                        Err(_) => {
                            self.node.forget();
                            let fresh = self.new_session_client(deadline).await?;
                            return self.resolve(&fresh, value, changes).await;
                        }
                    }
                }
                Attempt::Failed(error) => {
                    release(client, &mut self.node).await;
                    return Err(error);
                }
            }
        }
    }

    /// Sends the multi-op once: delete the lock node, then set the payload.
    async fn attempt(&self, client: &Client) -> Attempt {
        let context = self.context;
        let path = &context.paths.payload;
        let mut multi = client.new_multi_writer();
        let staged = multi
            .add_delete(self.node.path(), None)
            .and_then(|()| multi.add_set_data(path, &self.bytes, Some(self.base.version().version())));
        if let Err(error) = staged {
            return Attempt::Failed(Error::zookeeper("multi", path, error));
        }

        let result = {
            let _gate = context.gate.open();
            multi.commit().await
        };
        match result {
            Ok(results) => match results.into_iter().nth(1) {
                Some(MultiWriteResult::SetData { stat }) => Attempt::Written(stat),
                other => Attempt::Failed(Error::ZooKeeper {
                    operation: "multi",
                    path: path.clone(),
                    source: ZkError::UnexpectedError(format!("expected a set_data result, got {other:?}")),
                }),
            },
            Err(MultiWriteError::OperationFailed {
                index: 0,
                source: ZkError::NoNode,
            }) => Attempt::LockGone,
            Err(MultiWriteError::OperationFailed {
                index: 1,
                source: ZkError::BadVersion,
            }) => {
                // Someone wrote without taking the lock. Take their version in and refuse.
                let remote = match client.get_data(path).await {
                    Ok((data, stat)) => {
                        let remote = Version::from_stat(&stat);
                        apply_remote(context, &data, remote);
                        remote
                    }
                    Err(_) => self.base.version(),
                };
                Attempt::Failed(Error::StaleWrite {
                    path: path.clone(),
                    local: self.base.version(),
                    remote,
                })
            }
            Err(MultiWriteError::OperationFailed {
                index: 1,
                source: ZkError::NoNode,
            }) => Attempt::Failed(Error::PayloadMissing { path: path.clone() }),
            Err(MultiWriteError::OperationFailed { index, source }) => {
                let operation = if index == 0 { "delete" } else { "set_data" };
                let node = if index == 0 { self.node.path() } else { path };
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

    /// Waits for the session that replaces an ended one.
    async fn new_session_client(&self, deadline: Instant) -> Result<Client> {
        let path = &self.context.paths.payload;
        let mut generations = self.context.session.generations();
        loop {
            let client = generations.borrow_and_update().client.clone();
            if !client.state().is_terminated() {
                return Ok(client);
            }
            match tokio::time::timeout_at(deadline, generations.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(Error::OutcomeUnknown { path: path.clone() }),
            }
        }
    }

    /// Finds out whether a write whose reply was lost was applied, by reading the payload.
    ///
    /// A payload at the next version of the same node, holding exactly the bytes written,
    /// is this write. The base version unchanged means nothing was written. Anything else
    /// cannot be told apart.
    async fn resolve(self, client: &Client, value: T, changes: Vec<T::Change>) -> Result<ChangeSet<T>> {
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
        let base = self.base.version();
        match read {
            Ok((data, stat)) => {
                let version = Version::from_stat(&stat);
                if version == base {
                    return Err(Error::LockLost {
                        path: path.clone(),
                        lock: self.node.path().to_owned(),
                    });
                }
                if version.czxid() == base.czxid()
                    && version.version() == base.version() + 1
                    && data == self.bytes
                {
                    tracing::info!(%path, %version, "a write whose reply was lost was applied");
                    let unknown = self.base.unknown_fields().clone();
                    let loaded = Loaded {
                        value,
                        version,
                        unknown,
                    };
                    let applied = context
                        .state
                        .apply(loaded, Origin::Local, Some((base, changes.clone())));
                    return Ok(applied.unwrap_or_else(|| {
                        ChangeSet::new(changes, Origin::Local, context.state.snapshot())
                    }));
                }
                apply_remote(context, &data, version);
                Err(Error::OutcomeUnknown { path: path.clone() })
            }
            Err(ZkError::NoNode) => Err(Error::PayloadMissing { path: path.clone() }),
            Err(_) => Err(Error::OutcomeUnknown { path: path.clone() }),
        }
    }
}

/// Compares the local copy with ZooKeeper's version and reads the payload if it is behind.
pub(crate) async fn read_consistent<T: ZkShared>(context: &Context<T>) -> Result<Snapshot<T>> {
    let client = context.session.current().client;
    let path = &context.paths.payload;

    // A sync makes the server catch up with the leader; the exists that follows it on the
    // same session then sees every write committed before the sync.
    let synced = client.sync(path);
    let stat = client.check_stat(path);
    let (synced, stat) = tokio::join!(synced, stat);
    synced.map_err(|error| Error::zookeeper("sync", path, error))?;
    let stat = stat.map_err(|error| Error::zookeeper("exists", path, error))?;
    let Some(stat) = stat else {
        return Err(Error::PayloadMissing { path: path.clone() });
    };

    if Version::from_stat(&stat).is_newer_than(&context.state.snapshot().version()) {
        let (data, stat) = client
            .get_data(path)
            .await
            .map_err(|error| Error::zookeeper("get_data", path, error))?;
        if let Some(error) = apply_remote(context, &data, Version::from_stat(&stat)) {
            return Err(error);
        }
    }
    context.state.freshness.mark_verified();
    Ok(context.state.snapshot())
}
