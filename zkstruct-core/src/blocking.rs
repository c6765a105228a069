//! A blocking API, for programs without an async runtime.
//!
//! [`Shared`] here wraps the async [`crate::Shared`] together with a small Tokio runtime of
//! its own (one worker thread), which runs the session, the watcher and the handlers. Each
//! call blocks the calling thread until the async call completes, with the same guarantees.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use zkstruct_core::diff::{apply_whole, diff_whole, ApplyError, Diff, Modified};
//! use zkstruct_core::{Event, ZkShared};
//!
//! # #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
//! # struct Settings { level: u32 }
//! # impl Diff for Settings {
//! #     type Change = Modified<Settings>;
//! #     fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) { diff_whole(old, new, emit) }
//! #     fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> { apply_whole(self, change) }
//! # }
//! # impl ZkShared for Settings { const JSON_KEYS: &'static [&'static str] = &["level"]; }
//! # fn main() -> Result<(), zkstruct_core::Error> {
//! let state = zkstruct_core::Shared::builder("127.0.0.1:2181", "/app/settings")
//!     .create_or_open_blocking(Settings { level: 1 })?;
//!
//! state.update(|settings| settings.level += 1)?;
//! println!("level {}", state.read()?.level);
//!
//! for event in state.subscribe() {
//!     if let Event::Changed(changes) = event {
//!         println!("{:?}", changes.changes());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Calls must not be made from inside an async runtime, where blocking would stall it;
//! they fail there with [`Error::BlockingInAsyncContext`]. That includes handlers given to
//! [`Shared::on_change`], which run on the handle's runtime thread: hand work that blocks
//! to another thread, or use the async handle from [`Shared::as_async`] there.
//!
//! The derive's field getters do not block, so call them on [`Shared::as_async`]. Its field
//! setters, field subscriptions, presence events and connection-state streams are async.
//! In blocking code, set a field with [`Shared::update`] and filter the events of
//! [`Shared::subscribe`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::events::{ChangeSet, Event, HandlerGuard};
use crate::options::SharedBuilder;
use crate::presence::Instance;
use crate::session::ConnectionState;
use crate::state::Snapshot;
use crate::ZkShared;

/// How long dropping the last clone of a handle waits for its listener node to be
/// deleted.
const CLOSE_ON_DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// Fails when called inside a Tokio runtime.
fn check_context() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInAsyncContext);
    }
    Ok(())
}

fn new_runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("zkstruct")
        .enable_all()
        .build()
        .map_err(|error| Error::Runtime { reason: error.to_string() })
}

impl<T: ZkShared> SharedBuilder<T> {
    /// Opens the shared value like [`SharedBuilder::create_or_open`], and returns a
    /// blocking handle with its own runtime.
    ///
    /// # Errors
    ///
    /// Fails like [`SharedBuilder::create_or_open`], and with
    /// [`Error::BlockingInAsyncContext`] inside an async runtime.
    pub fn create_or_open_blocking(self, initial: T) -> Result<Shared<T>> {
        check_context()?;
        let runtime = new_runtime()?;
        let shared = runtime.block_on(self.create_or_open(initial))?;
        Ok(Shared::new(shared, runtime))
    }

    /// Opens a shared value that another instance creates, like [`SharedBuilder::open`],
    /// and returns a blocking handle with its own runtime.
    ///
    /// # Errors
    ///
    /// Fails like [`SharedBuilder::open`], and with [`Error::BlockingInAsyncContext`]
    /// inside an async runtime.
    pub fn open_blocking(self, wait: Duration) -> Result<Shared<T>> {
        check_context()?;
        let runtime = new_runtime()?;
        let shared = runtime.block_on(self.open(wait))?;
        Ok(Shared::new(shared, runtime))
    }
}

/// A blocking handle on one struct kept in ZooKeeper; see [`crate::Shared`] for what each
/// call guarantees.
///
/// Clones share one handle and one runtime. Dropping the last clone closes the handle,
/// deleting its listener node, and stops the runtime.
pub struct Shared<T: ZkShared> {
    inner: Arc<Inner<T>>,
}

struct Inner<T: ZkShared> {
    shared: crate::Shared<T>,
    runtime: Arc<OwnedRuntime>,
}

impl<T: ZkShared> Inner<T> {
    fn runtime(&self) -> &Runtime {
        self.runtime.get()
    }
}

impl<T: ZkShared> Drop for Inner<T> {
    fn drop(&mut self) {
        if check_context().is_ok() {
            // A timer must be created inside the runtime.
            let _ = self
                .runtime()
                .block_on(async { tokio::time::timeout(CLOSE_ON_DROP_TIMEOUT, self.shared.close()).await });
        }
    }
}

/// The runtime of a blocking handle, shared by the handle and its subscriptions.
///
/// Whichever drops last stops it without waiting, so a drop inside an async context (a
/// subscription dropped in a handler, say) does not panic as dropping a `Runtime` there
/// would.
struct OwnedRuntime(Option<Runtime>);

impl OwnedRuntime {
    fn get(&self) -> &Runtime {
        self.0.as_ref().expect("the runtime is taken only in drop")
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl<T: ZkShared> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { inner: self.inner.clone() }
    }
}

impl<T: ZkShared> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Shared").field(&self.inner.shared).finish()
    }
}

impl<T: ZkShared> Shared<T> {
    fn new(shared: crate::Shared<T>, runtime: Runtime) -> Self {
        let inner = Inner { shared, runtime: Arc::new(OwnedRuntime(Some(runtime))) };
        Shared { inner: Arc::new(inner) }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> Result<F::Output> {
        check_context()?;
        Ok(self.inner.runtime().block_on(future))
    }

    /// Returns the async handle, for code that runs on this handle's runtime.
    pub fn as_async(&self) -> &crate::Shared<T> {
        &self.inner.shared
    }

    /// Returns the local copy if it is fresh, like [`crate::Shared::read`].
    ///
    /// # Errors
    ///
    /// See [`crate::Shared::read`]. This call does not block, so it also works inside an
    /// async runtime.
    pub fn read(&self) -> Result<Snapshot<T>> {
        self.inner.shared.read()
    }

    /// Returns the local copy, however old it is.
    pub fn read_dirty(&self) -> Snapshot<T> {
        self.inner.shared.read_dirty()
    }

    /// Returns the value ZooKeeper stores now, like [`crate::Shared::read_consistent`].
    ///
    /// # Errors
    ///
    /// See [`crate::Shared::read_consistent`].
    pub fn read_consistent(&self) -> Result<Snapshot<T>> {
        self.block_on(self.inner.shared.read_consistent())?
    }

    /// Changes the value with `change`, like [`crate::Shared::update`].
    ///
    /// # Errors
    ///
    /// See [`crate::Shared::update`].
    pub fn update<F>(&self, change: F) -> Result<ChangeSet<T>>
    where
        F: FnOnce(&mut T) + Send,
    {
        self.block_on(self.inner.shared.update(change))?
    }

    /// Replaces a payload that does not decode, like [`crate::Shared::overwrite_invalid`].
    ///
    /// # Errors
    ///
    /// See [`crate::Shared::overwrite_invalid`].
    pub fn overwrite_invalid(&self, value: T) -> Result<ChangeSet<T>> {
        self.block_on(self.inner.shared.overwrite_invalid(value))?
    }

    /// Subscribes to the changes committed from now on.
    ///
    /// The subscription is an iterator that blocks for each event and ends when the handle
    /// closes.
    pub fn subscribe(&self) -> Subscription<T> {
        Subscription { inner: self.inner.shared.subscribe(), runtime: Arc::clone(&self.inner.runtime) }
    }

    /// Runs `handler` on this handle's runtime thread for every event from now on, in
    /// order, like [`crate::Shared::on_change`].
    pub fn on_change<F>(&self, handler: F) -> HandlerGuard
    where
        F: FnMut(Event<T>) + Send + 'static,
    {
        let _runtime = self.inner.runtime().enter();
        self.inner.shared.on_change(handler)
    }

    /// Lists the ids of the live instances, sorted.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be reached.
    pub fn instances(&self) -> Result<Vec<String>> {
        self.block_on(self.inner.shared.instances())?
    }

    /// Reads every live instance with its metadata.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be reached.
    pub fn members(&self) -> Result<BTreeMap<String, Instance>> {
        self.block_on(self.inner.shared.members())?
    }

    /// Returns this instance's id.
    pub fn instance_id(&self) -> &str {
        self.inner.shared.instance_id()
    }

    /// Returns the latest state of the connection to ZooKeeper.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.shared.connection_state()
    }

    /// Returns the path of the payload node.
    pub fn payload_path(&self) -> &str {
        self.inner.shared.payload_path()
    }

    /// Closes the handle for every clone, like [`crate::Shared::close`].
    ///
    /// # Errors
    ///
    /// See [`crate::Shared::close`].
    pub fn close(&self) -> Result<()> {
        self.block_on(self.inner.shared.close())?
    }
}

/// The events of a blocking handle; an iterator that blocks for each one.
pub struct Subscription<T: ZkShared> {
    inner: crate::Subscription<T>,
    runtime: Arc<OwnedRuntime>,
}

impl<T: ZkShared> Subscription<T> {
    /// Blocks until the next event; returns `None` once the handle is closed.
    ///
    /// # Panics
    ///
    /// Panics when called inside an async runtime.
    pub fn recv(&mut self) -> Option<Event<T>> {
        check_context().expect("a blocking subscription was read inside an async runtime");
        self.runtime.get().block_on(self.inner.recv())
    }

    /// Blocks until the next event or until `timeout` passes; returns `Ok(None)` once the
    /// handle is closed.
    ///
    /// # Errors
    ///
    /// Returns [`Error::BlockingInAsyncContext`] inside an async runtime, and `Err` with
    /// the timeout's duration in [`Error::RecvTimeout`] when no event arrived in time.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Event<T>>> {
        check_context()?;
        let inner = &mut self.inner;
        self.runtime
            .get()
            .block_on(async { tokio::time::timeout(timeout, inner.recv()).await })
            .map_err(|_| Error::RecvTimeout { timeout })
    }
}

impl<T: ZkShared> Iterator for Subscription<T> {
    type Item = Event<T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

impl<T: ZkShared> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Subscription").finish_non_exhaustive()
    }
}
