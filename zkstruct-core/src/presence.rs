//! `/<dir>/listeners`: one ephemeral node per live instance, named by its instance id and
//! holding the metadata that instance wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zookeeper_client::{
    AddWatchMode, Client, CreateMode, Error as ZkError, EventType, MultiReadResult, SessionState,
};

use crate::error::{Error, Result};
use crate::options::Options;
use crate::paths::Paths;
use crate::session::{is_connected, Session};

/// Creates this instance's listener node on the client's session, with its metadata, and
/// `/<dir>/listeners` when that is missing.
///
/// The node is ephemeral, so the server deletes it when the session ends. A node with this
/// id that belongs to this session (a retry after a connection loss) is kept. One that
/// belongs to another session, or a persistent one, fails with [`Error::InstanceIdInUse`].
pub(crate) async fn register(client: &Client, paths: &Paths, options: &Options) -> Result<()> {
    let acls = options.security.acl.acls();
    let ephemeral = CreateMode::Ephemeral.with_acls(acls);
    loop {
        match client.create(&paths.listener, &options.instance_metadata, &ephemeral).await {
            Ok(_) => return Ok(()),
            Err(ZkError::NoNode) => {
                let persistent = CreateMode::Persistent.with_acls(acls);
                match client.create(&paths.listeners, &[], &persistent).await {
                    Ok(_) | Err(ZkError::NodeExists) => continue,
                    Err(error) => return Err(Error::zookeeper("create", &paths.listeners, error)),
                }
            }
            Err(ZkError::NodeExists) => match client.check_stat(&paths.listener).await {
                Ok(Some(stat)) if stat.ephemeral_owner == client.session_id().0 => return Ok(()),
                Ok(Some(stat)) => {
                    return Err(Error::InstanceIdInUse {
                        path: paths.listener.clone(),
                        owner: stat.ephemeral_owner,
                    })
                }
                // Deleted between the two requests: its session just ended, so try again.
                Ok(None) => continue,
                Err(error) => return Err(Error::zookeeper("exists", &paths.listener, error)),
            },
            Err(error) => return Err(Error::zookeeper("create", &paths.listener, error)),
        }
    }
}

/// Deletes this instance's listener node, if this session still owns it: after a session
/// expiry, another instance may have taken the same id.
pub(crate) async fn unregister(client: &Client, paths: &Paths) -> Result<()> {
    let stat = match client.check_stat(&paths.listener).await {
        Ok(Some(stat)) => stat,
        Ok(None) => return Ok(()),
        Err(error) => return Err(Error::zookeeper("exists", &paths.listener, error)),
    };
    if stat.ephemeral_owner != client.session_id().0 {
        tracing::debug!(path = %paths.listener, owner = stat.ephemeral_owner, "listener node belongs to another session; leaving it");
        return Ok(());
    }
    match client.delete(&paths.listener, Some(stat.version)).await {
        Ok(()) | Err(ZkError::NoNode) => Ok(()),
        Err(error) => Err(Error::zookeeper("delete", &paths.listener, error)),
    }
}

/// Lists the ids of the live instances, sorted.
pub(crate) async fn instances(client: &Client, paths: &Paths) -> Result<Vec<String>> {
    match client.list_children(&paths.listeners).await {
        Ok(mut ids) => {
            ids.sort_unstable();
            Ok(ids)
        }
        Err(ZkError::NoNode) => Ok(Vec::new()),
        Err(error) => Err(Error::zookeeper("list_children", &paths.listeners, error)),
    }
}

/// A live instance: the id that names its listener node, and the metadata it wrote there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    id: String,
    metadata: Vec<u8>,
}

impl Instance {
    /// Returns the instance id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Returns the metadata as written, empty when the instance wrote none.
    pub fn metadata(&self) -> &[u8] {
        &self.metadata
    }

    /// Decodes the metadata as JSON, as `SharedBuilder::instance_metadata` writes it.
    ///
    /// # Errors
    ///
    /// Returns serde_json's error when the metadata is not JSON of type `M`.
    pub fn metadata_as<M: serde::de::DeserializeOwned>(&self) -> std::result::Result<M, serde_json::Error> {
        serde_json::from_slice(&self.metadata)
    }
}

/// Reads every live instance with its metadata, in one round trip after the listing.
pub(crate) async fn members(client: &Client, paths: &Paths) -> Result<BTreeMap<String, Instance>> {
    let ids = instances(client, paths).await?;
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut reader = client.new_multi_reader();
    for id in &ids {
        let path = format!("{}/{id}", paths.listeners);
        reader.add_get_data(&path).map_err(|error| Error::zookeeper("get_data", &path, error))?;
    }
    let results =
        reader.commit().await.map_err(|error| Error::zookeeper("multi", &paths.listeners, error))?;
    let mut members = BTreeMap::new();
    for (id, result) in ids.into_iter().zip(results) {
        // An instance that left between the listing and the read is skipped.
        if let MultiReadResult::Data { data, .. } = result {
            members.insert(id.clone(), Instance { id, metadata: data });
        }
    }
    Ok(members)
}

/// A change in the set of live instances.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// An instance joined: its listener node appeared.
    Joined(String),
    /// An instance left: it closed, or its session ended.
    Left(String),
}

/// A stream of [`PresenceEvent`]s: first a `Joined` for each instance live when the stream
/// starts, then every change.
///
/// It follows the listeners across reconnections and new sessions, comparing the listing
/// with the last one it saw, so no change is missed. It ends when the handle closes.
pub struct PresenceEvents {
    receiver: mpsc::UnboundedReceiver<PresenceEvent>,
}

impl PresenceEvents {
    pub(crate) fn start(session: Session, paths: Paths, stop: CancellationToken) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(follow(session, Arc::new(paths), sender, stop));
        PresenceEvents { receiver }
    }

    /// Waits for the next event; returns `None` once the handle is closed.
    pub async fn recv(&mut self) -> Option<PresenceEvent> {
        self.receiver.recv().await
    }
}

impl Stream for PresenceEvents {
    type Item = PresenceEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl fmt::Debug for PresenceEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceEvents").finish_non_exhaustive()
    }
}

/// Watches the listeners dir and sends the differences between successive listings.
async fn follow(
    session: Session,
    paths: Arc<Paths>,
    sender: mpsc::UnboundedSender<PresenceEvent>,
    stop: CancellationToken,
) {
    let mut known = BTreeSet::new();
    let mut generations = session.generations();
    loop {
        let client = generations.borrow_and_update().client.clone();
        let watched = tokio::select! {
            _ = stop.cancelled() => return,
            _ = sender.closed() => return,
            watched = client.watch(&paths.listeners, AddWatchMode::Persistent) => watched,
        };
        if let Ok(mut watcher) = watched {
            if !publish(&client, &paths, &mut known, &sender).await {
                return;
            }
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = sender.closed() => return,
                    event = watcher.changed() => event,
                };
                match (event.event_type, event.session_state) {
                    (EventType::Session, state) if state.is_terminated() => break,
                    (EventType::Session, SessionState::Disconnected) => continue,
                    (EventType::Session, _) => {
                        // zookeeper-client 0.11.2 does not register persistent watches again
                        // on a new connection, so add it anew before the old one is dropped.
                        match client.watch(&paths.listeners, AddWatchMode::Persistent).await {
                            Ok(rearmed) => watcher = rearmed,
                            Err(_) => break,
                        }
                        // Changes during the disconnection may not be delivered, so list again.
                        if !publish(&client, &paths, &mut known, &sender).await {
                            return;
                        }
                    }
                    _ => {
                        if !publish(&client, &paths, &mut known, &sender).await {
                            return;
                        }
                    }
                }
            }
        }
        // The session ended, or the watch could not be armed: wait for the next session
        // or for the connection to come back.
        let mut states = client.state_watcher();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sender.closed() => return,
            _ = generations.changed() => {}
            _ = async {
                while !is_connected(states.changed().await) {}
            }, if !client.state().is_terminated() => {}
        }
    }
}

/// Lists the listeners and sends the differences from `known`. Returns `false` once the
/// receiver is gone.
async fn publish(
    client: &Client,
    paths: &Paths,
    known: &mut BTreeSet<String>,
    sender: &mpsc::UnboundedSender<PresenceEvent>,
) -> bool {
    let Ok(ids) = instances(client, paths).await else { return true };
    let current: BTreeSet<String> = ids.into_iter().collect();
    let left = known.difference(&current).cloned().map(PresenceEvent::Left);
    let joined = current.difference(known).cloned().map(PresenceEvent::Joined);
    for event in left.chain(joined).collect::<Vec<_>>() {
        if sender.send(event).is_err() {
            return false;
        }
    }
    *known = current;
    true
}
