//! Delivery of changes to subscribers and handlers.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::diff::Diff;
use crate::error::Error;
use crate::session::ConnectionState;
use crate::state::{Snapshot, Version};

/// The place a change was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// An update made through this handle.
    Local,
    /// A write by another instance or another ZooKeeper client.
    Remote,
}

/// The changes of one committed payload version, field by field.
///
/// It dereferences to the slice of changes, so it can be indexed, iterated and matched
/// directly. Unchanged fields are not in it.
pub struct ChangeSet<T: Diff> {
    changes: Vec<T::Change>,
    origin: Origin,
    snapshot: Snapshot<T>,
}

impl<T: Diff> ChangeSet<T> {
    pub(crate) fn new(changes: Vec<T::Change>, origin: Origin, snapshot: Snapshot<T>) -> Self {
        ChangeSet { changes, origin, snapshot }
    }

    /// Returns the changes, in the order [`Diff::apply`] replays them.
    pub fn changes(&self) -> &[T::Change] {
        &self.changes
    }

    /// Takes the changes out.
    pub fn into_changes(self) -> Vec<T::Change> {
        self.changes
    }

    /// Returns whether the change was made here or elsewhere.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Returns the payload version these changes produced.
    pub fn version(&self) -> Version {
        self.snapshot.version()
    }

    /// Returns the whole value after these changes.
    pub fn snapshot(&self) -> &Snapshot<T> {
        &self.snapshot
    }
}

impl<T: Diff> std::ops::Deref for ChangeSet<T> {
    type Target = [T::Change];

    fn deref(&self) -> &Self::Target {
        &self.changes
    }
}

impl<T: Diff> IntoIterator for ChangeSet<T> {
    type Item = T::Change;
    type IntoIter = std::vec::IntoIter<T::Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.changes.into_iter()
    }
}

impl<'a, T: Diff> IntoIterator for &'a ChangeSet<T> {
    type Item = &'a T::Change;
    type IntoIter = std::slice::Iter<'a, T::Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.changes.iter()
    }
}

impl<T: Diff> Clone for ChangeSet<T> {
    fn clone(&self) -> Self {
        ChangeSet { changes: self.changes.clone(), origin: self.origin, snapshot: self.snapshot.clone() }
    }
}

impl<T: Diff> fmt::Debug for ChangeSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeSet")
            .field("version", &self.version())
            .field("origin", &self.origin)
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

/// An item of a [`Subscription`].
#[non_exhaustive]
pub enum Event<T: Diff> {
    /// A new payload version was committed; here is what changed in it.
    Changed(ChangeSet<T>),
    /// The payload became unusable: it does not decode, or it was deleted. The last good
    /// state stays readable, and the next valid version arrives as [`Event::Changed`].
    Failed(Error),
    /// This subscriber fell behind and missed this many events. The local copy is
    /// current; read it to catch up.
    Lagged(u64),
}

impl<T: Diff> Clone for Event<T> {
    fn clone(&self) -> Self {
        match self {
            Event::Changed(changes) => Event::Changed(changes.clone()),
            Event::Failed(error) => Event::Failed(error.clone()),
            Event::Lagged(missed) => Event::Lagged(*missed),
        }
    }
}

impl<T: Diff> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Changed(changes) => f.debug_tuple("Changed").field(changes).finish(),
            Event::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            Event::Lagged(missed) => f.debug_tuple("Lagged").field(missed).finish(),
        }
    }
}

/// A notice sent once and shared by every subscriber.
pub(crate) enum Notice<T: Diff> {
    Changed(ChangeSet<T>),
    Failed(Error),
}

pub(crate) type Sender<T> = broadcast::Sender<Arc<Notice<T>>>;

/// A stream of [`Event`]s for one shared value, from the moment it was created.
///
/// Every subscriber gets every event in commit order. A subscriber that falls more than
/// the event capacity behind receives [`Event::Lagged`] in place of the events it missed.
/// The stream ends when the handle is closed or dropped.
///
/// An event is sent just before the handle's local copy is replaced, so a `read` right
/// after receiving it may still return the previous version. [`ChangeSet::snapshot`] is
/// the value the event describes.
pub struct Subscription<T: Diff> {
    stream: BroadcastStream<Arc<Notice<T>>>,
    /// The dir of the handle, for metrics.
    dir: Arc<str>,
}

impl<T: Diff + Send + Sync + 'static> Subscription<T> {
    pub(crate) fn new(receiver: broadcast::Receiver<Arc<Notice<T>>>, dir: Arc<str>) -> Self {
        Subscription { stream: BroadcastStream::new(receiver), dir }
    }

    /// Waits for the next event; returns `None` once the handle is closed.
    pub async fn recv(&mut self) -> Option<Event<T>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T: Diff + Send + Sync + 'static> Stream for Subscription<T> {
    type Item = Event<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(Pin::new(&mut self.stream).poll_next(cx));
        Poll::Ready(item.map(|item| match item {
            Ok(notice) => match &*notice {
                Notice::Changed(changes) => Event::Changed(changes.clone()),
                Notice::Failed(error) => Event::Failed(error.clone()),
            },
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                crate::metrics::subscriber_lagged(&self.dir, missed);
                Event::Lagged(missed)
            }
        }))
    }
}

/// The changes to one field, or to any part selected from the change enum, within one
/// committed version.
pub struct FieldChanges<C> {
    changes: Vec<C>,
    origin: Origin,
    version: Version,
}

impl<C> FieldChanges<C> {
    /// Returns the selected changes, in the order [`Diff::apply`] replays them.
    pub fn changes(&self) -> &[C] {
        &self.changes
    }

    /// Takes the changes out.
    pub fn into_changes(self) -> Vec<C> {
        self.changes
    }

    /// Returns whether the change was made here or elsewhere.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Returns the payload version these changes produced.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl<C> std::ops::Deref for FieldChanges<C> {
    type Target = [C];

    fn deref(&self) -> &Self::Target {
        &self.changes
    }
}

impl<C> IntoIterator for FieldChanges<C> {
    type Item = C;
    type IntoIter = std::vec::IntoIter<C>;

    fn into_iter(self) -> Self::IntoIter {
        self.changes.into_iter()
    }
}

impl<C: fmt::Debug> fmt::Debug for FieldChanges<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldChanges")
            .field("version", &self.version)
            .field("origin", &self.origin)
            .field("changes", &self.changes)
            .finish()
    }
}

/// An item of a [`FieldSubscription`].
#[derive(Debug)]
#[non_exhaustive]
pub enum FieldEvent<C> {
    /// A committed version changed the selected part; here are its changes.
    Changed(FieldChanges<C>),
    /// The payload became unusable, as in [`Event::Failed`].
    Failed(Error),
    /// This subscriber fell behind and missed this many versions, as in [`Event::Lagged`].
    Lagged(u64),
}

type Selector<T, C> = Box<dyn Fn(<T as Diff>::Change) -> Option<C> + Send + Sync>;

/// A [`Subscription`] narrowed to one field, or to any part of the change enum that a
/// selector picks.
///
/// Versions that leave the selected part unchanged are skipped.
pub struct FieldSubscription<T: Diff, C> {
    subscription: Subscription<T>,
    select: Selector<T, C>,
}

impl<T, C> FieldSubscription<T, C>
where
    T: Diff + Send + Sync + 'static,
{
    pub(crate) fn new(subscription: Subscription<T>, select: Selector<T, C>) -> Self {
        FieldSubscription { subscription, select }
    }

    /// Waits for the next event; returns `None` once the handle is closed.
    pub async fn recv(&mut self) -> Option<FieldEvent<C>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<FieldEvent<C>>> {
        loop {
            let event = std::task::ready!(Pin::new(&mut self.subscription).poll_next(cx));
            let event = match event {
                None => return Poll::Ready(None),
                Some(Event::Changed(change_set)) => {
                    let origin = change_set.origin();
                    let version = change_set.version();
                    let changes: Vec<C> =
                        change_set.into_changes().into_iter().filter_map(&self.select).collect();
                    if changes.is_empty() {
                        continue;
                    }
                    FieldEvent::Changed(FieldChanges { changes, origin, version })
                }
                Some(Event::Failed(error)) => FieldEvent::Failed(error),
                Some(Event::Lagged(missed)) => FieldEvent::Lagged(missed),
            };
            return Poll::Ready(Some(event));
        }
    }
}

impl<T, C> Stream for FieldSubscription<T, C>
where
    T: Diff + Send + Sync + 'static,
{
    type Item = FieldEvent<C>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

/// A stream of the [`ConnectionState`]s of a handle, from the moment it was created.
///
/// A subscriber that falls more than 64 states behind skips the oldest ones. The stream
/// ends when the handle is dropped.
pub struct ConnectionStates {
    stream: BroadcastStream<ConnectionState>,
}

impl ConnectionStates {
    pub(crate) fn new(receiver: broadcast::Receiver<ConnectionState>) -> Self {
        ConnectionStates { stream: BroadcastStream::new(receiver) }
    }

    /// Waits for the next state; returns `None` once the handle is dropped.
    pub async fn recv(&mut self) -> Option<ConnectionState> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for ConnectionStates {
    type Item = ConnectionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match std::task::ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                Some(Ok(state)) => return Poll::Ready(Some(state)),
                Some(Err(BroadcastStreamRecvError::Lagged(_))) => continue,
                None => return Poll::Ready(None),
            }
        }
    }
}

impl fmt::Debug for ConnectionStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionStates").finish_non_exhaustive()
    }
}

/// Stops its handler when dropped.
///
/// Returned by `Shared::on_change`. Keep it as long as the handler should run, or call
/// [`HandlerGuard::detach`] to let the handler run until the handle closes.
#[must_use = "the handler stops when the guard is dropped"]
pub struct HandlerGuard {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HandlerGuard {
    pub(crate) fn new(task: tokio::task::JoinHandle<()>) -> Self {
        HandlerGuard { task: Some(task) }
    }

    /// Lets the handler run until the handle is closed or dropped.
    pub fn detach(mut self) {
        self.task.take();
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for HandlerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerGuard").field("attached", &self.task.is_some()).finish()
    }
}
