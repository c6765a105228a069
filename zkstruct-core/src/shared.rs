//! The public handle: open, read, read_consistent, update, subscribe.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use zookeeper_client::{AddWatchMode, Client, CreateMode, Error as ZkError};

use crate::codec;
use crate::commit::{self, CommitGate};
use crate::diff::Diff;
use crate::error::{Error, Result};
use crate::events::{ChangeSet, ConnectionStates, Event, FieldSubscription, HandlerGuard, Subscription};
#[cfg(doc)]
use crate::options::ConflictPolicy;
use crate::options::{Options, SharedBuilder, LARGE_WRITE_BYTES};
use crate::paths::Paths;
use crate::presence::{self, Instance, PresenceEvents};
use crate::session::{ConnectionState, Session, SessionConfig};
use crate::state::{Loaded, Snapshot, State, Version};
use crate::watcher;

/// A struct that can be kept in ZooKeeper as shared state.
///
/// Implemented by `#[derive(ZkShared)]`, which also generates the typed change enum
/// ([`Diff::Change`]) and the per-field accessors.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be shared through ZooKeeper",
    label = "add `#[derive(ZkShared)]` to `{Self}`"
)]
pub trait ZkShared: Diff + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// The top-level JSON keys the type reads, aliases included. Other keys in a payload
    /// are kept as they are when this instance writes.
    const JSON_KEYS: &'static [&'static str];

    /// Copies the local-only fields (`#[serde(skip)]`) from `old` into `new`, so a remote
    /// change does not reset them to their defaults.
    fn keep_local_fields(new: &mut Self, old: &Self) {
        let _ = (new, old);
    }
}

/// The state and settings that the handle's tasks share.
pub(crate) struct Context<T: ZkShared> {
    pub(crate) paths: Paths,
    pub(crate) instance_id: String,
    pub(crate) session: Session,
    pub(crate) state: State<T>,
    pub(crate) options: Options,
    /// Lets one update at a time through this handle. Only the write path takes it.
    pub(crate) writer: tokio::sync::Mutex<()>,
    pub(crate) gate: CommitGate,
}

/// A handle on one struct kept in ZooKeeper under `/<dir>`.
///
/// Reads serve a local copy that a background task keeps current through a persistent
/// watch on `/<dir>/payload`. Updates take an in-process mutex and a Curator-compatible
/// ZooKeeper lock, then write with a compare-and-set on the payload version. Every change,
/// local or remote, reaches subscribers as typed [`Diff::Change`] values.
///
/// Clones share one handle. The handle closes when [`Shared::close`] is called or the
/// last clone is dropped; its listener node under `/<dir>/listeners` goes with it.
///
/// # Node layout
///
/// | node | kind | content |
/// | --- | --- | --- |
/// | `/<dir>` | persistent | empty |
/// | `/<dir>/payload` | persistent | the struct as plain JSON (serde_json) |
/// | `/<dir>/listeners/<instance id>` | ephemeral | empty |
/// | `/<dir>/lock/_c_<uuid>-lock-<sequence>` | ephemeral sequential, under a container | empty |
pub struct Shared<T: ZkShared> {
    inner: Arc<Inner<T>>,
}

struct Inner<T: ZkShared> {
    context: Arc<Context<T>>,
    stop: CancellationToken,
    closed: AtomicBool,
}

impl<T: ZkShared> Drop for Inner<T> {
    fn drop(&mut self) {
        self.stop.cancel();
        self.context.state.close_events();
    }
}

impl<T: ZkShared> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { inner: self.inner.clone() }
    }
}

impl<T: ZkShared> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let context = &self.inner.context;
        f.debug_struct("Shared")
            .field("dir", &context.paths.dir)
            .field("instance_id", &context.instance_id)
            .field("version", &context.state.snapshot().version())
            .field("session", &context.session)
            .finish_non_exhaustive()
    }
}

impl<T: ZkShared> Shared<T> {
    /// Starts building a handle on the value under `dir`, on the ensemble given by the
    /// connect string `servers` (such as `"10.0.0.1:2181,10.0.0.2:2181"`, optionally with a
    /// chroot suffix like `"/apps"`). A server given without a port uses port 2181.
    ///
    /// `dir` is an absolute ZooKeeper path, outside `/zookeeper`, none of whose segments
    /// after the first is `payload`, `lock` or `listeners`: those name the nodes a shared
    /// value keeps under its dir. Opening fails with [`Error::InvalidPath`] otherwise, and
    /// with [`Error::InvalidServers`] for a chroot under `/zookeeper`, before connecting.
    pub fn builder(servers: impl Into<String>, dir: impl Into<String>) -> SharedBuilder<T> {
        SharedBuilder::new(servers.into(), dir.into())
    }

    pub(crate) async fn open_with(
        servers: String,
        dir: String,
        options: Options,
        initial: Option<T>,
        wait: Duration,
    ) -> Result<Self> {
        let instance_id = options.instance_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let paths = Paths::new(&dir, &instance_id)?;
        validate_servers(&servers)?;

        let config = SessionConfig {
            servers,
            session_timeout: options.session_timeout,
            security: options.security.clone(),
        };
        let session = Session::connect(config).await?;
        let generation = session.current();
        let client = &generation.client;
        match initial {
            Some(initial) => create_payload(client, &paths, &options, &initial).await?,
            None => wait_for_payload(client, &paths, wait).await?,
        }
        match presence::register(client, &paths, &options).await {
            Ok(()) => {}
            // An instance that may only read opens without a listener node.
            Err(error @ Error::NotAuthorized { .. }) => {
                tracing::warn!(path = %paths.listener, %error, "opening without a listener node; this instance is not listed");
            }
            Err(error) => return Err(error),
        }

        // Arm the watch before the first read, so no change can fall between the two.
        let payload_watcher = client
            .watch(&paths.payload, AddWatchMode::Persistent)
            .await
            .map_err(|error| Error::zookeeper("add_watch", &paths.payload, error))?;
        let listener_watcher = client
            .watch(&paths.listener, AddWatchMode::Persistent)
            .await
            .map_err(|error| Error::zookeeper("add_watch", &paths.listener, error))?;
        let (data, stat) = client.get_data(&paths.payload).await.map_err(|error| match error {
            ZkError::NoNode => Error::PayloadMissing { path: paths.payload.clone() },
            error => Error::zookeeper("get_data", &paths.payload, error),
        })?;
        let version = Version::from_stat(&stat);
        let (value, unknown) = codec::decode::<T>(&data).map_err(|source| Error::Decode {
            path: paths.payload.clone(),
            version,
            type_name: std::any::type_name::<T>(),
            source: Arc::new(source),
        })?;
        tracing::info!(path = %paths.payload, %version, instance = %instance_id, "shared value opened");

        let state =
            State::new(paths.payload.clone(), Loaded { value, version, unknown }, options.event_capacity);
        let context = Arc::new(Context {
            paths,
            instance_id,
            session,
            state,
            options,
            writer: tokio::sync::Mutex::new(()),
            gate: CommitGate::default(),
        });
        let stop = CancellationToken::new();
        let watches = (payload_watcher, listener_watcher);
        tokio::spawn(watcher::run(context.clone(), generation, watches, stop.clone()));
        Ok(Shared { inner: Arc::new(Inner { context, stop, closed: AtomicBool::new(false) }) })
    }

    fn context(&self) -> Result<&Context<T>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed { path: self.inner.context.paths.dir.clone() });
        }
        Ok(&self.inner.context)
    }

    /// Returns the local copy, if it was verified against ZooKeeper within the freshness
    /// limit.
    ///
    /// The local copy is the newest version that decoded. When ZooKeeper stores a payload
    /// that does not decode, or none, `read` keeps returning the last good version while
    /// subscribers receive [`Event::Failed`]; [`Shared::read_consistent`] returns the error.
    ///
    /// This takes no lock and does no I/O. While the session is connected, the payload
    /// watch keeps the copy verified. After a disconnection, the copy ages from the last
    /// moment the server was known to respond.
    ///
    /// # Errors
    ///
    /// [`Error::Stale`] once the copy is older than the freshness limit, and
    /// [`Error::Closed`] after [`Shared::close`].
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// match shared.read() {
    ///     Ok(snapshot) => println!("version {}: {:?}", snapshot.version(), *snapshot),
    ///     Err(Error::Stale { .. }) => println!("not verified lately: {:?}", *shared.read_dirty()),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn read(&self) -> Result<Snapshot<T>> {
        let context = self.context()?;
        let age = context.state.freshness.age();
        let limit = context.options.freshness_limit;
        if age.is_none_or(|age| age > limit) {
            let snapshot = context.state.snapshot();
            return Err(Error::Stale {
                path: context.paths.payload.clone(),
                version: snapshot.version(),
                age,
                limit,
            });
        }
        Ok(context.state.snapshot())
    }

    /// Returns the local copy, however old it is.
    pub fn read_dirty(&self) -> Snapshot<T> {
        self.inner.context.state.snapshot()
    }

    /// Returns the value that ZooKeeper stores now.
    ///
    /// Compares the local version with the server's after a `sync`, and reads the payload
    /// only when the local copy is behind. Subscribers receive the changes it catches up on.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be reached, and when the payload is missing. Fails with
    /// [`Error::Decode`] when the newer payload does not decode, and the local copy then
    /// keeps the last good version.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// let latest = shared.read_consistent().await?;
    /// println!("ZooKeeper stores version {}", latest.version().version());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_consistent(&self) -> Result<Snapshot<T>> {
        commit::read_consistent(self.context()?).await
    }

    /// Changes the value with `change`, and returns what changed.
    ///
    /// `change` runs at most once, on a clone of the local copy, while this handle's mutex
    /// and the ZooKeeper write lock are held. The result is written only if ZooKeeper still
    /// stores the version it was computed on, so no other writer's change is overwritten. A
    /// closure that changes nothing writes nothing.
    ///
    /// When the lock is taken, ZooKeeper may already store a newer version than the local
    /// copy, written by the lock's previous holder. Its change event is then already on the
    /// way, and the update waits up to 250 ms for the handle to take it in, so the closure
    /// runs on the current version. If the copy is still behind, the conflict policy
    /// decides. [`ConflictPolicy::Fail`], the default, takes the newer version into the
    /// local copy and fails with [`Error::StaleWrite`] without running the closure, so a
    /// retry sees the newer version:
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Shared, ZkShared};
    /// # async fn demo<T: ZkShared>(shared: &Shared<T>, change: impl Fn(&mut T) + Send + Sync) -> Result<(), Error> {
    /// let changes = loop {
    ///     match shared.update(&change).await {
    ///         Err(Error::StaleWrite { .. }) => continue,
    ///         result => break result?,
    ///     }
    /// };
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`ConflictPolicy::Merge`] replays the closure's changes on the newer version instead.
    ///
    /// # Errors
    ///
    /// - [`Error::StaleWrite`] when the local copy was behind ZooKeeper and the policy is
    ///   to fail, or when a writer that ignores the lock wrote meanwhile. The local copy is
    ///   brought up to date before the error returns, so retrying is safe.
    /// - [`Error::Conflict`] when merging found the same part changed on both sides.
    /// - [`Error::LockTimeout`] when the lock was not acquired within the lock timeout.
    /// - [`Error::TooLarge`] when the encoded value exceeds the payload limit, and
    ///   [`Error::NotDecodable`] when it encodes to JSON that does not decode again (a NaN
    ///   float, say); nothing is sent.
    /// - [`Error::InvalidPayload`] when ZooKeeper stores a payload that does not decode.
    /// - [`Error::LockLost`], [`Error::OutcomeUnknown`] and [`Error::ZooKeeper`] when the
    ///   session or the connection failed during the write.
    ///
    /// On every error the local copy and the subscribers see only committed versions.
    pub async fn update<F>(&self, change: F) -> Result<ChangeSet<T>>
    where
        F: FnOnce(&mut T) + Send,
    {
        let context = self.context()?;
        let span = tracing::info_span!(
            "update",
            dir = %context.paths.dir,
            instance = %context.instance_id,
            version = tracing::field::Empty,
        );
        let result = commit::update(context, change).instrument(span.clone()).await;
        match &result {
            Ok(changes) => {
                span.record("version", changes.version().version());
                span.in_scope(|| tracing::debug!(changes = changes.len(), "update committed"));
            }
            Err(error) => span.in_scope(|| tracing::debug!(%error, "update failed")),
        }
        result
    }

    /// Replaces a payload that does not decode with `value`.
    ///
    /// An update refuses to overwrite a payload it cannot decode, because another writer
    /// put it there. This call is the deliberate way to replace it. It takes the same locks
    /// as an update and writes only if the payload still does not decode. Subscribers
    /// receive the changes from the last good version to `value`. Top-level keys of the
    /// replaced payload are not kept.
    ///
    /// # Errors
    ///
    /// [`Error::PayloadValid`] when the payload decodes (use [`Shared::update`]), and the
    /// lock and write errors of [`Shared::update`].
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// let mut events = shared.subscribe();
    /// if let Some(Event::Failed(Error::Decode { .. })) = events.recv().await {
    ///     // Another client broke the payload: put the last good value back.
    ///     let last_good = T::clone(&shared.read_dirty());
    ///     shared.overwrite_invalid(last_good).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn overwrite_invalid(&self, value: T) -> Result<ChangeSet<T>> {
        commit::overwrite_invalid(self.context()?, value).await
    }

    /// Subscribes to the changes committed from now on, local and remote.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// let mut events = shared.subscribe();
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         Event::Changed(changes) => println!("version {}: {:?}", changes.version(), changes.changes()),
    ///         Event::Failed(error) => eprintln!("keeping the last good state: {error}"),
    ///         Event::Lagged(missed) => eprintln!("missed {missed} events"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(&self) -> Subscription<T> {
        self.inner.context.state.subscribe()
    }

    /// Subscribes to the changes of one field, or of any part of the value, from now on.
    ///
    /// `select` maps each change of the struct to the change it wants, or to `None`. The
    /// generated `subscribe_<field>` accessors call it with a selector for their field.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Shared, ZkShared};
    /// # async fn demo<T: ZkShared>(shared: Shared<T>) {
    /// // Every change of the struct, unchanged: the same as subscribe(), one version at a time.
    /// let mut all = shared.subscribe_field(Some);
    /// # }
    /// ```
    pub fn subscribe_field<C, S>(&self, select: S) -> FieldSubscription<T, C>
    where
        S: Fn(T::Change) -> Option<C> + Send + Sync + 'static,
    {
        FieldSubscription::new(self.subscribe(), Box::new(select))
    }

    /// Runs `handler` on a task for every event committed from now on, in order.
    ///
    /// The handler stops when the returned guard is dropped or the handle is closed.
    ///
    /// # Panics
    ///
    /// Panics when called outside a Tokio runtime.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// let handler = shared.on_change(|event| {
    ///     if let Event::Changed(changes) = event {
    ///         println!("{} fields changed", changes.len());
    ///     }
    /// });
    /// // The handler runs until the guard is dropped, or for as long as the handle lives:
    /// handler.detach();
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_change<F>(&self, mut handler: F) -> HandlerGuard
    where
        F: FnMut(Event<T>) + Send + 'static,
    {
        let mut subscription = self.subscribe();
        HandlerGuard::new(tokio::spawn(async move {
            while let Some(event) = subscription.recv().await {
                handler(event);
            }
        }))
    }

    /// Returns the latest state of the connection to ZooKeeper.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Shared, ZkShared};
    /// # fn demo<T: ZkShared>(shared: &Shared<T>) {
    /// use zkstruct_core::ConnectionState;
    ///
    /// if shared.connection_state() == ConnectionState::Suspended {
    ///     eprintln!("connection suspended; reads stay fresh until the freshness limit");
    /// }
    /// # }
    /// ```
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.context.session.state()
    }

    /// Subscribes to the connection states from now on: suspended, reconnected, expired,
    /// new session, closed.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Shared, ZkShared};
    /// # async fn demo<T: ZkShared>(shared: Shared<T>) {
    /// use zkstruct_core::ConnectionState;
    ///
    /// let mut states = shared.connection_states();
    /// while let Some(state) = states.recv().await {
    ///     if state == ConnectionState::Expired {
    ///         eprintln!("session expired; the handle opens a new one");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn connection_states(&self) -> ConnectionStates {
        ConnectionStates::new(self.inner.context.session.subscribe_states())
    }

    /// Returns this instance's id, which names its node under `/<dir>/listeners`.
    pub fn instance_id(&self) -> &str {
        &self.inner.context.instance_id
    }

    /// Lists the ids of the live instances on this dir, sorted.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be reached.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// let instances = shared.instances().await?;
    /// println!("{} live instances: {instances:?}", instances.len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn instances(&self) -> Result<Vec<String>> {
        let context = self.context()?;
        presence::instances(&context.session.current().client, &context.paths).await
    }

    /// Reads every live instance on this dir with the metadata it wrote.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be reached.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// for (id, instance) in shared.members().await? {
    ///     println!("{id}: {}", String::from_utf8_lossy(instance.metadata()));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn members(&self) -> Result<BTreeMap<String, Instance>> {
        let context = self.context()?;
        presence::members(&context.session.current().client, &context.paths).await
    }

    /// Follows the instances that join and leave this dir, starting with a `Joined` for
    /// each live one.
    ///
    /// # Panics
    ///
    /// Panics when called outside a Tokio runtime.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// use zkstruct_core::PresenceEvent;
    ///
    /// let mut presence = shared.presence_events();
    /// while let Some(event) = presence.recv().await {
    ///     match event {
    ///         PresenceEvent::Joined(id) => println!("{id} joined"),
    ///         PresenceEvent::Left(id) => println!("{id} left"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn presence_events(&self) -> PresenceEvents {
        let context = &self.inner.context;
        PresenceEvents::start(context.session.clone(), context.paths.clone(), self.inner.stop.child_token())
    }

    /// Returns the id of the current ZooKeeper session, in hex.
    pub fn session_id(&self) -> String {
        self.inner.context.session.current().client.session_id().to_string()
    }

    /// Returns the dir that contains the value.
    pub fn dir(&self) -> &str {
        &self.inner.context.paths.dir
    }

    /// Returns the path of the payload node, `/<dir>/payload`.
    pub fn payload_path(&self) -> &str {
        &self.inner.context.paths.payload
    }

    /// Closes the handle for every clone: stops following the payload and deletes this
    /// instance's listener node.
    ///
    /// Subscriptions end once they have delivered the events committed before the close.
    ///
    /// # Errors
    ///
    /// Fails when the listener node could not be deleted; the server still deletes it when
    /// the session ends.
    ///
    /// ```no_run
    /// # use zkstruct_core::{Error, Event, Shared, ZkShared};
    /// # async fn demo<T: ZkShared + std::fmt::Debug>(shared: Shared<T>) -> Result<(), Error> {
    /// shared.close().await?;
    /// assert!(matches!(shared.read(), Err(Error::Closed { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.stop.cancel();
        let context = &self.inner.context;
        context.state.close_events();
        context.session.report_closed();
        let _writer = context.writer.lock().await;
        presence::unregister(&context.session.current().client, &context.paths).await
    }
}

/// Returns a connect string's entry without its `tcp://` or `tcp+tls://` scheme.
fn strip_scheme(entry: &str) -> &str {
    let entry = entry.strip_prefix("tcp://").unwrap_or(entry);
    entry.strip_prefix("tcp+tls://").unwrap_or(entry)
}

/// Rejects connect strings that cannot name servers, before trying to connect.
fn validate_servers(servers: &str) -> Result<()> {
    let invalid = |reason: &'static str| Err(Error::InvalidServers { servers: servers.to_owned(), reason });
    if servers.is_empty() {
        return invalid("it is empty");
    }
    if servers.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it contains whitespace or control characters");
    }
    let mut entries: Vec<&str> = servers.split(',').map(strip_scheme).collect();
    // The chroot follows the last server, from its first '/'.
    if let Some(last) = entries.last_mut() {
        if let Some(at) = last.find('/') {
            let chroot = &last[at..];
            if chroot == "/zookeeper" || chroot.starts_with("/zookeeper/") {
                return invalid("its chroot is under /zookeeper, which the server reserves");
            }
            *last = &last[..at];
        }
    }
    for entry in entries {
        if entry.is_empty() {
            return invalid("it has an empty server entry, such as after a trailing comma");
        }
        let port = match entry.strip_prefix('[') {
            Some(bracketed) => bracketed.split_once("]:").map(|(_, port)| port),
            None if entry.matches(':').count() == 1 => entry.split_once(':').map(|(_, port)| port),
            None => None,
        };
        if port.is_some_and(|port| !matches!(port.parse::<u16>(), Ok(1..))) {
            return invalid("a port is not a number from 1 to 65535");
        }
    }
    Ok(())
}

/// Creates `/<dir>` and its payload from `initial`, unless the payload exists.
async fn create_payload<T: ZkShared>(
    client: &Client,
    paths: &Paths,
    options: &Options,
    initial: &T,
) -> Result<()> {
    let exists = client
        .check_stat(&paths.payload)
        .await
        .map_err(|error| Error::zookeeper("exists", &paths.payload, error))?;
    if exists.is_some() {
        tracing::info!(path = %paths.payload, "payload exists; adopting it");
        return Ok(());
    }

    let bytes = codec::encode_payload(&paths.payload, initial, &Vec::new(), options.max_payload_bytes)?;

    let persistent = CreateMode::Persistent.with_acls(options.security.acl.acls());
    match client.mkdir(&paths.dir, &persistent).await {
        Ok(()) => {}
        // `mkdir` fails with NoNode only when the chroot of the connect string is missing.
        Err(ZkError::NoNode) => return Err(Error::ChrootMissing { path: client.path().to_owned() }),
        Err(error) => return Err(Error::zookeeper("create", &paths.dir, error)),
    }
    match client.create(&paths.payload, &bytes, &persistent).await {
        Ok(_) => {
            tracing::info!(path = %paths.payload, "payload created");
            Ok(())
        }
        Err(ZkError::NodeExists) => {
            tracing::info!(path = %paths.payload, "payload exists; adopting it");
            Ok(())
        }
        Err(ZkError::ConnectionLoss) if bytes.len() > LARGE_WRITE_BYTES => {
            Err(Error::ConnectionLostOnWrite { path: paths.payload.clone(), size: bytes.len() })
        }
        Err(error) => Err(Error::zookeeper("create", &paths.payload, error)),
    }
}

/// Waits until the payload exists.
async fn wait_for_payload(client: &Client, paths: &Paths, wait: Duration) -> Result<()> {
    let deadline = crate::deadline_after(wait);
    loop {
        let (stat, watcher) = client
            .check_and_watch_stat(&paths.payload)
            .await
            .map_err(|error| Error::zookeeper("exists", &paths.payload, error))?;
        if stat.is_some() {
            return Ok(());
        }
        tracing::debug!(path = %paths.payload, "waiting for the payload to be created");
        if tokio::time::timeout_at(deadline, watcher.changed()).await.is_err() {
            return Err(Error::OpenTimeout { path: paths.payload.clone(), timeout: wait });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<F: Send>(_: F) {}

    #[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
    fn futures_are_send<T: ZkShared>(shared: &Shared<T>) {
        assert_send(shared.read_consistent());
        assert_send(shared.update(|_| {}));
        assert_send(shared.instances());
        assert_send(shared.close());
    }

    #[test]
    fn connect_strings_are_checked() {
        let accepted = [
            "127.0.0.1:2181",
            "zk1:2181,zk2:2181,zk3:2181/apps/monitor",
            "zk1,zk2",
            "[::1]:2181,[::1]",
            "tcp://zk1:2181,tcp+tls://zk2:2281/apps",
            "localhost:2181/zookeeperish",
        ];
        for servers in accepted {
            assert!(validate_servers(servers).is_ok(), "{servers}");
        }
        let rejected = [
            "",
            "zk1:2181,",
            ",zk1:2181",
            "zk1:99999",
            "zk1:0",
            "zk1:port",
            "[::1]:x",
            "zk1:2181/zookeeper",
            "tcp://zk1:2181/zookeeper/x",
            "zk1 :2181",
        ];
        for servers in rejected {
            assert!(validate_servers(servers).is_err(), "{servers}");
        }
    }
}
